package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipelines"
)

// The settings synk init fills in, as the flagship pipeline writes them.
const (
	shopURLRef = "url: ${env:PRESTASHOP_URL}"
	companyRef = "company: ${env:FIKEN_COMPANY}"
)

// envRefRe finds ${env:NAME} and ${env:NAME:-default} references.
func envRefRe() *regexp.Regexp {
	return regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)
}

// envDocRe finds "#   NAME  what it is" lines in a pipeline's header.
func envDocRe() *regexp.Regexp { return regexp.MustCompile(`(?m)^#\s+([A-Z][A-Z0-9_]*)\s{2,}(\S.*)$`) }

func newInitCmd(g *globals) *cobra.Command {
	var shopURL, company string
	var yes, force bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a starter PrestaShop ⇄ Fiken pipeline, its schema and a .env.example, and validate it",
		Long: `Writes DIR/pipeline.yaml (a copy of pipelines/prestashop-fiken.yaml with the shop URL and the
Fiken company filled in), DIR/pipeline.schema.json (for editor completion) and DIR/.env.example
(the environment variables the pipeline reads: the secrets never go in the file).

On a terminal it asks for the settings not given as flags; with --yes, or without a terminal,
it asks nothing and a setting not given stays an environment reference (PRESTASHOP_URL,
FIKEN_COMPANY). Existing files are kept unless --force.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			out := cmd.OutOrStdout()
			if !yes && isTerminal(cmd.InOrStdin()) {
				in := bufio.NewReader(cmd.InOrStdin())
				var err error
				if shopURL == "" {
					if shopURL, err = ask(in, out, "PrestaShop shop URL (https://…; empty: read PRESTASHOP_URL from the environment): ", checkShopURL); err != nil {
						return err
					}
				}
				if company == "" {
					if company, err = ask(in, out, "Fiken company slug (e.g. my-company-as; empty: read FIKEN_COMPANY from the environment): ", checkCompany); err != nil {
						return err
					}
				}
			}
			for _, c := range []struct {
				flag, v string
				check   func(string) error
			}{{"--shop-url", shopURL, checkShopURL}, {"--fiken-company", company, checkCompany}} {
				if c.v == "" {
					continue
				}
				if err := c.check(c.v); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%s: %w", c.flag, err)}
				}
			}
			return writeStarter(cmd, g, dir, shopURL, company, force)
		},
	}
	cmd.Flags().StringVar(&shopURL, "shop-url", "", "the shop's root URL, e.g. https://shop.example.no (default: ${env:PRESTASHOP_URL})")
	cmd.Flags().StringVar(&company, "fiken-company", "", "the Fiken company slug (default: ${env:FIKEN_COMPANY})")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "ask nothing; settings not given stay environment references")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// ask prompts until the answer is empty or passes check.
func ask(in *bufio.Reader, out io.Writer, prompt string, check func(string) error) (string, error) {
	for {
		fmt.Fprint(out, prompt)
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		eof := err != nil
		v := strings.TrimSpace(line)
		if v == "" {
			if eof {
				fmt.Fprintln(out)
			}
			return "", nil
		}
		if cerr := check(v); cerr != nil {
			fmt.Fprintf(out, "  %v\n", cerr)
			if eof {
				return "", &exitError{code: 2, err: cerr}
			}
			continue
		}
		return v, nil
	}
}

func checkShopURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("%q is not an http(s) URL like https://shop.example.no", s)
	case u.User != nil:
		return errors.New("the URL must not carry credentials: the webservice key goes in PRESTASHOP_KEY")
	case strings.Contains(s, "${") || strings.ContainsAny(s, " \t\"\\"):
		return fmt.Errorf("%q: unexpected characters in the URL", s)
	}
	return nil
}

func checkCompany(s string) error {
	if !regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`).MatchString(s) {
		return fmt.Errorf("%q is not a Fiken company slug (lower-case letters, digits and -, as in the Fiken URL)", s)
	}
	return nil
}

// renderStarter is the flagship pipeline with the given settings written
// in; an empty one stays an environment reference.
func renderStarter(src, shopURL, company string) (string, error) {
	for _, r := range []struct{ ref, v string }{{shopURLRef, shopURL}, {companyRef, company}} {
		if strings.Count(src, r.ref) != 1 {
			return "", fmt.Errorf("the flagship pipeline has %d %q; synk init needs exactly one", strings.Count(src, r.ref), r.ref)
		}
		if r.v != "" {
			key, _, _ := strings.Cut(r.ref, ":")
			src = strings.Replace(src, r.ref, key+": "+strconv.Quote(r.v), 1)
		}
	}
	head, rest, _ := strings.Cut(src, "\n")
	return head + "\n# Written by `synk init` from pipelines/prestashop-fiken.yaml (synk " + version + ").\n" + rest, nil
}

// envExample lists the environment variables a pipeline reads, described
// from its header where it describes them; ones with a default are
// commented out.
func envExample(src, file string) string {
	docs := map[string]string{}
	for _, m := range envDocRe().FindAllStringSubmatch(src, -1) {
		docs[m[1]] = strings.TrimSpace(m[2])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Environment for %s: copy to .env, fill in, keep .env out of version control.\n", file)
	b.WriteString("# Load it before synk runs, e.g. `set -a; . ./.env; set +a`, or systemd's EnvironmentFile=.\n")
	seen := map[string]bool{}
	for _, m := range envRefRe().FindAllStringSubmatch(src, -1) {
		name, def := m[1], m[2]
		if seen[name] {
			continue
		}
		seen[name] = true
		b.WriteString("\n")
		if d := docs[name]; d != "" {
			fmt.Fprintf(&b, "# %s\n", d)
		}
		if def != "" {
			fmt.Fprintf(&b, "# %s=%s\n", name, def)
		} else {
			fmt.Fprintf(&b, "%s=\n", name)
		}
	}
	return b.String()
}

// placeholderEnv stands in for variables that are not set, so a starter
// can be validated before its secrets exist: each value passes the
// connectors' offline checks for that kind of setting.
func placeholderEnv(name string) (string, bool) {
	if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	switch {
	case strings.HasSuffix(name, "_URL"):
		return "https://example.invalid", true
	case strings.HasSuffix(name, "_KEY"):
		return strings.Repeat("X", 32), true
	case strings.HasSuffix(name, "_COMPANY"):
		return "example-company", true
	}
	return "placeholder", true
}

func writeStarter(cmd *cobra.Command, g *globals, dir, shopURL, company string, force bool) error {
	text, err := renderStarter(pipelines.PrestashopFiken(), shopURL, company)
	if err != nil {
		return err
	}
	pipePath := filepath.Join(dir, "pipeline.yaml")
	// Validate before writing anything: a starter that does not load is
	// not worth leaving behind.
	if _, err := spec.Parse(pipePath, []byte(text), g.reg, spec.Options{Getenv: placeholderEnv, Functions: g.fns}); err != nil {
		var errs spec.Errors
		if errors.As(err, &errs) {
			fmt.Fprintln(cmd.ErrOrStderr(), errs.Pretty())
		}
		return &exitError{code: 2, err: fmt.Errorf("the starter pipeline does not validate: %w", err)}
	}
	schema, err := spec.Schema(g.reg)
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"pipeline.yaml", []byte(text)},
		{"pipeline.schema.json", append(schema, '\n')},
		{".env.example", []byte(envExample(text, "pipeline.yaml"))},
	}
	if !force {
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f.name)); err == nil {
				return &exitError{code: 2, err: fmt.Errorf("%s exists; use --force to overwrite", filepath.Join(dir, f.name))}
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "wrote %s\n", p)
	}
	var fromEnv []string
	if shopURL == "" {
		fromEnv = append(fromEnv, "PRESTASHOP_URL")
	}
	if company == "" {
		fromEnv = append(fromEnv, "FIKEN_COMPANY")
	}
	fmt.Fprintf(out, "%s: ok (validated offline", pipePath)
	if len(fromEnv) > 0 {
		fmt.Fprintf(out, "; %s from the environment", strings.Join(fromEnv, " and "))
	}
	fmt.Fprintln(out, ")")
	envPath := filepath.Join(dir, ".env")
	fill := "the PrestaShop webservice key and the Fiken token"
	if len(fromEnv) > 0 {
		fill += " (and " + strings.Join(fromEnv, ", ") + ")"
	}
	fmt.Fprintf(out, `
Next:
  1. cp %[1]s.example %[1]s, and fill in %[3]s
  2. edit the vars in %[2]s (order states, payment modules, accounts) to match the shop
  3. set -a; . %[1]s; set +a
  4. synk check %[2]s   (credentials, company, accounts, order states, payment modules)
  5. synk plan %[2]s    (what apply would do; writes nothing)
`, envPath, pipePath, fill)
	return nil
}
