package fiken

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// APIError is a refusal from Fiken: status, the request's method and path
// (never the token), Fiken's messages and, for the known cases, a hint.
type APIError struct {
	Status int
	Method string
	Path   string
	// Body is Fiken's answer, shortened.
	Body string
	// Messages are the messages parsed from Body.
	Messages []string
	// Hint says how to fix a known problem; empty otherwise.
	Hint string
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fiken %s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	switch {
	case len(e.Messages) > 0:
		b.WriteString(": " + strings.Join(e.Messages, "; "))
	case e.Body != "":
		b.WriteString(": " + e.Body)
	}
	if e.Hint != "" {
		b.WriteString(" (hint: " + e.Hint + ")")
	}
	return b.String()
}

// Retryable reports whether the same request may succeed later: rate
// limiting and server errors. Validation errors never do.
func (e *APIError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || (e.Status >= 500 && e.Status != http.StatusNotImplemented)
}

// validation reports a refusal of the record itself, which the engine
// rejects without failing the run.
func (e *APIError) validation() bool {
	return e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity || e.Status == http.StatusConflict
}

const maxErrorBody = 2000

// newAPIError builds an APIError from an answer, parsing the shapes Fiken
// uses: [{"logref","message"}], {"message"}, {"error","error_description"},
// {"errors":[...]}, or plain text.
func newAPIError(method, path string, status int, body []byte) *APIError {
	e := &APIError{Status: status, Method: method, Path: path}
	text := strings.TrimSpace(string(body))
	if len(text) > maxErrorBody {
		text = text[:maxErrorBody] + "…"
	}
	e.Body = text
	e.Messages = parseErrorMessages(body)
	e.Hint = hintFor(status, strings.ToLower(text))
	return e
}

func parseErrorMessages(body []byte) []string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil
	}
	var out []string
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > 4 || len(out) >= 20 {
			return
		}
		switch x := v.(type) {
		case []any:
			for _, el := range x {
				walk(el, depth+1)
			}
		case map[string]any:
			found := false
			for _, k := range []string{"message", "error_description", "errorMessage", "detail", "title"} {
				if s, ok := x[k].(string); ok && s != "" {
					out = append(out, s)
					found = true
					break
				}
			}
			if !found {
				if s, ok := x["error"].(string); ok && s != "" {
					out = append(out, s)
					found = true
				}
			}
			if errs, ok := x["errors"]; ok {
				walk(errs, depth+1)
			}
		case string:
			if x != "" {
				out = append(out, x)
			}
		}
	}
	walk(v, 0)
	return out
}

// hintFor recognises the refusals integrators meet first.
func hintFor(status int, lower string) string {
	switch {
	case strings.Contains(lower, "counter") && (strings.Contains(lower, "invoice") || strings.Contains(lower, "faktura")):
		return "the company's invoice counter is not initialised: create it once with POST /companies/{slug}/invoices/counter " +
			"(fiken.Client.CreateInvoiceCounter, start 10000 gives invoice 10001) or by making the first invoice in Fiken; `synk check` reports it"
	case strings.Contains(lower, "counter") && (strings.Contains(lower, "credit") || strings.Contains(lower, "kreditnota")):
		return "the credit note counter is not initialised: create it once with POST /companies/{slug}/creditNotes/counter (fiken.Client.CreateCreditNoteCounter)"
	case status == http.StatusForbidden && (strings.Contains(lower, "module") || strings.Contains(lower, "modul")):
		return "the company has not activated Fiken's API module: in Fiken, Innstillinger → Moduler → API (a paid module)"
	case (strings.Contains(lower, "vat") || strings.Contains(lower, "mva")) && (strings.Contains(lower, "account") || strings.Contains(lower, "konto")):
		return "the VAT type is not valid for the income account: 3000 takes HIGH/MEDIUM/LOW, 3100 EXEMPT, 3200 OUTSIDE; fix the vatType or incomeAccount mapping"
	case status == http.StatusUnauthorized:
		return "the token is invalid, revoked or expired; create a new API token or run `synk auth fiken`"
	case status == http.StatusForbidden:
		return "the token has no access to this company: check the company slug (GET /companies lists those the token can use)"
	}
	return ""
}
