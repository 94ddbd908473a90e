package spec

import (
	"cmp"
	"slices"
	"strings"
)

// Redact replaces every secret value in s with "[redacted]".
func (p *Pipeline) Redact(s string) string { return redactAll(s, p.Secrets) }

// RedactError returns err with every secret value in its message replaced
// by "[redacted]". Unlike errors.New(p.Redact(err.Error())) it keeps the
// chain, so callers can still tell a stop, a timeout or a connector's
// typed error apart with errors.Is and errors.As. Only its own message is
// redacted: print an error found in the chain through Redact again. A nil
// err stays nil.
func (p *Pipeline) RedactError(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: p.Redact(err.Error()), err: err}
}

// redactedError is an error whose message has its secrets replaced.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

func (e *redactedError) Unwrap() error { return e.err }

// redactAll replaces every secret value in s with "[redacted]", longest
// first so a secret that contains another is hidden whole. Values shorter
// than four characters are left alone: replacing them would shred ordinary
// words and numbers in the message without hiding anything worth hiding.
func redactAll(s string, secrets []string) string {
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
