package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/synk-etl/synk/connectors/fiken"
)

// newAuthFikenCmd runs Fiken's OAuth2 authorization-code flow with a
// loopback redirect and stores (or prints) the refresh token.
func newAuthFikenCmd() *cobra.Command {
	var (
		a         fiken.LoopbackAuth
		tokenFile string
		timeout   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "fiken",
		Short: "Authorise synk for Fiken (OAuth2) and store the refresh token",
		Long: "Runs Fiken's OAuth2 authorization-code flow: open the printed URL, log in to Fiken and accept;\n" +
			"Fiken redirects to a loopback address synk listens on, and synk trades the code for tokens.\n" +
			"Register http://<listen>/callback as a redirect URL of your Fiken app first.\n" +
			"The client secret comes from --client-secret or FIKEN_CLIENT_SECRET.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.ClientSecret == "" {
				a.ClientSecret = os.Getenv("FIKEN_CLIENT_SECRET")
			}
			if a.ClientID == "" {
				a.ClientID = os.Getenv("FIKEN_CLIENT_ID")
			}
			if a.ClientID == "" || a.ClientSecret == "" {
				return errors.New("--client-id and --client-secret (or FIKEN_CLIENT_ID / FIKEN_CLIENT_SECRET) are required")
			}
			out := cmd.OutOrStdout()
			a.HTTP = &http.Client{Timeout: 30 * time.Second}
			a.Open = func(u string) error {
				fmt.Fprintf(out, "Open this URL in a browser and accept:\n\n  %s\n\nWaiting for Fiken to redirect to http://%s/callback ...\n", u, a.Listen)
				return nil
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel func()
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			ts, err := a.Run(ctx)
			if err != nil {
				return fmt.Errorf("auth fiken: %w", err)
			}
			if ts.RefreshToken == "" {
				return errors.New("auth fiken: Fiken returned no refresh token")
			}
			if tokenFile != "" {
				if err := fiken.WriteTokenFile(tokenFile, ts.RefreshToken); err != nil {
					return fmt.Errorf("auth fiken: %w", err)
				}
				fmt.Fprintf(out, "Refresh token stored in %s (mode 0600). Point oauth.token_file at it.\n", tokenFile)
				return nil
			}
			fmt.Fprintf(out, "Refresh token (keep it secret; set it as oauth.refresh_token via ${env:...}):\n%s\n", ts.RefreshToken)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&a.ClientID, "client-id", "", "OAuth client id of your Fiken app (or FIKEN_CLIENT_ID)")
	f.StringVar(&a.ClientSecret, "client-secret", "", "OAuth client secret (prefer FIKEN_CLIENT_SECRET)")
	f.StringVar(&a.AuthorizeURL, "authorize-url", fiken.DefaultAuthorizeURL, "authorization endpoint")
	f.StringVar(&a.TokenURL, "token-url", fiken.DefaultTokenURL, "token endpoint")
	f.StringVar(&a.Listen, "listen", "127.0.0.1:8976", "loopback address for the redirect")
	f.StringVar(&tokenFile, "token-file", "", "store the refresh token in this file (0600) instead of printing it")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	return cmd
}
