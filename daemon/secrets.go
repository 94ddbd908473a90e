package daemon

import (
	"slices"
	"sync"

	"github.com/synk-etl/synk/pipeline/spec"
)

// Secrets are the values the daemon's logger redacts: every secret of
// every pipeline loaded so far, kept after a reload since old values may
// still be in flight. The zero value is ready to use.
type Secrets struct {
	mu sync.RWMutex
	// all holds only Secrets: spec.Pipeline knows how to redact them.
	all spec.Pipeline
}

// Redact removes every known secret from v.
func (s *Secrets) Redact(v string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.all.Redact(v)
}

func (s *Secrets) add(secrets []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sec := range secrets {
		if !slices.Contains(s.all.Secrets, sec) {
			s.all.Secrets = append(s.all.Secrets, sec)
		}
	}
}
