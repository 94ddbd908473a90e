package spec

import (
	"cmp"
	"slices"
	"strings"
)

// Redact replaces every secret value in s with "[redacted]".
func (p *Pipeline) Redact(s string) string {
	secrets := slices.Clone(p.Secrets)
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
