package pipeline

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzWellFormed: the check a read's answer passes never panics, accepts
// what the standard decoders accept, and refuses every proper prefix of a
// complete JSON or XML document (an answer cut short).
func FuzzWellFormed(f *testing.F) {
	f.Add([]byte(`[{"id":1,"name":"Ola","lines":[{"q":1.5}]}]`), uint(10), true)
	f.Add([]byte(`<prestashop><products><product id="1"><name><language id="1">a</language></name></product></products></prestashop>`), uint(40), false)
	f.Add([]byte(`{"x":"\u00e6\xff"}`), uint(3), true)
	f.Add([]byte(`<?xml version="1.0" encoding="UTF-8"?><prestashop/>`), uint(20), false)
	f.Fuzz(func(t *testing.T, body []byte, cut uint, isJSON bool) {
		ct := "text/xml; charset=utf-8"
		if isJSON {
			ct = "application/json"
		}
		err := wellFormed(ct, body)
		if isJSON && (err == nil) != json.Valid(body) {
			t.Fatalf("wellFormed = %v, json.Valid = %v for %q", err, json.Valid(body), body)
		}
		if err != nil || len(bytes.TrimSpace(body)) == 0 {
			return
		}
		trimmed := bytes.TrimRight(body, " \t\r\n")
		if n := int(cut % uint(len(trimmed))); n > 0 && len(bytes.TrimSpace(trimmed[:n])) > 0 {
			if isJSON && json.Valid(trimmed[:n]) {
				return // a prefix that is itself a whole value ("12" of "123")
			}
			if wellFormed(ct, trimmed[:n]) == nil && !isJSON {
				// An XML prefix can only be whole if it ends a root element.
				if !bytes.HasSuffix(bytes.TrimSpace(trimmed[:n]), []byte(">")) {
					t.Fatalf("cut XML %q taken as whole", trimmed[:n])
				}
			} else if isJSON && wellFormed(ct, trimmed[:n]) == nil {
				t.Fatalf("cut JSON %q taken as whole", trimmed[:n])
			}
		}
	})
}
