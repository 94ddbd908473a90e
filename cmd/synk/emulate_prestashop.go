package main

import "github.com/spf13/cobra"

// newEmulatePrestashopCmd is owned by the PrestaShop connector work (issue 4).
func newEmulatePrestashopCmd() *cobra.Command {
	return &cobra.Command{Use: "prestashop", Short: "Serve the PrestaShop webservice emulator (not built yet)"}
}
