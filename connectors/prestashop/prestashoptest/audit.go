package prestashoptest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/prestashop"
)

// audit checks one webservice exchange against the resource facts derived
// from PrestaShop's own definitions (the same facts the shop emulates): a
// request the shop refuses as malformed (400, 405) is a violation by the
// client, and an answer that outputs a field the resource does not declare,
// or one PrestaShop never outputs (hidden), is a violation by the emulator.
// A test that sees none has spoken the webservice's contract.
func (s *Server) audit(r *http.Request, method string, resp response) {
	switch {
	case resp.status == http.StatusBadRequest || resp.status == http.StatusMethodNotAllowed:
		msg := strings.Join(strings.Fields(string(resp.body)), " ")
		if doc, err := prestashop.DecodeXML(resp.body); err == nil && len(doc.Errors) > 0 {
			var parts []string
			for _, e := range doc.Errors {
				parts = append(parts, fmt.Sprintf("%d %s", e.Code, e.Message))
			}
			msg = strings.Join(parts, "; ")
		}
		s.violation("request %s %s refused: %s", method, r.URL.Path, msg)
	case resp.status < 300 && len(resp.body) > 0 && strings.Contains(resp.header.Get("Content-Type"), "xml") &&
		strings.Trim(r.URL.Path, "/") != "api" && r.URL.Query().Get("schema") == "":
		// Objects and lists; the API root and the schema documents are
		// descriptions, not records.
		doc, err := prestashop.DecodeXML(resp.body)
		if err != nil {
			s.violation("answer %s %s: not a webservice document: %v", method, r.URL.Path, err)
			return
		}
		fact, ok := s.factByNode(doc.Node)
		if !ok {
			return // the API root, the schema documents
		}
		for _, o := range doc.Objects {
			for _, names := range [][]string{mapKeys(o.Fields), mapKeys(o.I18n)} {
				for _, name := range names {
					f, declared := fact.Field(name)
					switch {
					case name == "id":
					case !declared:
						s.violation("answer %s %s: %s has no field %q", method, r.URL.Path, fact.Name, name)
					case f.Hidden:
						s.violation("answer %s %s: %s.%s is hidden and never output", method, r.URL.Path, fact.Name, name)
					}
				}
			}
		}
	}
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// factByNode finds the resource whose object or list node is name.
func (s *Server) factByNode(name string) (prestashop.ResourceFact, bool) {
	for _, f := range s.facts {
		if f.Node == name || f.ListNode == name {
			return f, true
		}
	}
	return prestashop.ResourceFact{}, false
}

func (s *Server) violation(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.mu.Lock()
	s.violations = append(s.violations, msg)
	s.mu.Unlock()
	s.opts.Logger.Warn("webservice contract violation", "violation", msg)
}

// Violations returns every exchange since the start that broke the
// webservice's contract (see audit).
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// TakeViolations returns the violations so far and forgets them, for a
// test that provokes refusals on purpose and asserts them.
func (s *Server) TakeViolations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.violations
	s.violations = nil
	return v
}

// Check fails t, when it ends, for every violation the emulator saw.
// Tests that use an emulator call it once.
func Check(t testing.TB, s *Server) {
	t.Helper()
	t.Cleanup(func() {
		for _, v := range s.Violations() {
			t.Errorf("PrestaShop webservice violation: %s", v)
		}
	})
}
