package main

import "github.com/spf13/cobra"

// newEmulateFikenCmd is owned by the Fiken connector work (issue 3).
func newEmulateFikenCmd() *cobra.Command {
	return &cobra.Command{Use: "fiken", Short: "Serve the Fiken API v2 emulator (not built yet)"}
}
