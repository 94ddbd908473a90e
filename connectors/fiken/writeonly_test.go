package fiken

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteOnlyFieldsFollowTheSpec derives, from Fiken's spec (the reduced
// copy the emulator serves), which of each resource's fields Fiken never
// returns, and compares it with what Resources declares WriteOnly.
func TestWriteOnlyFieldsFollowTheSpec(t *testing.T) {
	b, err := os.ReadFile("fikentest/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					WriteOnly bool `json:"writeOnly"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	// The schema each resource's records are read as.
	schemaOf := map[string]string{ResProducts: "product", ResContacts: "contact", ResInvoices: "invoiceResult",
		ResSales: "saleResult", ResCreditNotes: "creditNoteResult"}
	for _, res := range Resources() {
		name, ok := schemaOf[res.Name]
		if !ok {
			continue
		}
		schema, ok := spec.Components.Schemas[name]
		if !ok {
			t.Fatalf("spec has no schema %s", name)
		}
		var want, got []string
		for _, f := range res.Fields {
			if p, ok := schema.Properties[f.Name]; ok && p.WriteOnly {
				want = append(want, f.Name)
			}
			if f.WriteOnly {
				got = append(got, f.Name)
			}
		}
		for prop, p := range schema.Properties {
			if _, declared := res.Field(prop); p.WriteOnly && !declared && res.Name == ResContacts {
				t.Errorf("%s: the spec's write-only %s is not a field; a PUT of a contact must be able to carry it", res.Name, prop)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: write-only fields (-spec +declared):\n%s", res.Name, diff)
		}
	}
}
