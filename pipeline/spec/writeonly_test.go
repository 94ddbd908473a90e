package spec_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

// woRegistry has the file connector and "wo", whose contacts take a phone
// number they never return.
func woRegistry() *pipeline.Registry {
	reg := registry()
	reg.Register(pipeline.ConnectorType{
		Name: "wo",
		Resources: func(any) ([]pipeline.Resource, error) {
			return []pipeline.Resource{{Name: "contacts", Key: "cid", Create: true, Update: true, Fields: []pipeline.Field{
				{Name: "cid", Type: pipeline.TypeInt}, {Name: "email", Type: pipeline.TypeString},
				{Name: "phone", Type: pipeline.TypeString, WriteOnly: true},
			}}}, nil
		},
		Open: func(context.Context, pipeline.Env, any) (pipeline.Connector, error) {
			return nil, errors.New("not opened in tests")
		},
	})
	return reg
}

const woHead = `version: 1
name: wo
connections:
  crm:
    type: file
    resources:
      people: {path: people.csv, key: id, fields: {id: string, email: string, phone: string}}
  acct: {type: wo}
entities:
  people:
`

func TestWriteOnlyFieldsInPipelines(t *testing.T) {
	tests := []struct {
		name, entity string
		wantErr      string // "" loads
		wantWarning  string
	}{
		{"a match rule on a write-only field can never pair", `
    match: [{crm: phone, acct: phone}]
    flows:
      - {from: crm.people, to: acct.contacts, create: true, map: {email: email, phone: phone}}
`, "wo.yaml:11:32: acct.contacts never returns phone (it is write-only), so this rule can never pair records; look records up by it with lookup: on the flow that creates them", ""},
		{"reading a write-only field warns", `
    key: {crm: email, acct: email}
    flows:
      - {from: acct.contacts, to: crm.people, create: true, map: {email: email, phone: phone}}
`, "", "wo.yaml:13:88: acct.contacts never returns phone (it is write-only), so this expression always reads it as empty"},
		{"lookup by a mapped write-only field", `
    flows:
      - {from: crm.people, to: acct.contacts, create: true, lookup: [phone], map: {email: email, phone: phone}}
`, "", ""},
		{"lookup by a field the flow does not map", `
    flows:
      - {from: crm.people, to: acct.contacts, create: true, lookup: [phon], map: {email: email, phone: phone}}
`, `lookup names "phon", which this flow does not map; did you mean phone?`, ""},
		{"lookup without create", `
    flows:
      - {from: crm.people, to: acct.contacts, lookup: [phone], map: {email: email, phone: phone}}
`, "lookup finds a record instead of creating it; it needs create: true", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := woHead + strings.TrimPrefix(tc.entity, "\n")
			p, err := spec.Parse("wo.yaml", []byte(src), woRegistry(), env(nil))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse = %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var warns []string
			for _, w := range p.Warnings {
				warns = append(warns, w.Error())
			}
			switch {
			case tc.wantWarning == "" && len(warns) > 0:
				t.Fatalf("warnings %q, want none", warns)
			case tc.wantWarning != "" && (len(warns) != 1 || warns[0] != tc.wantWarning):
				t.Fatalf("warnings %q, want %q", warns, tc.wantWarning)
			}
		})
	}
}

// TestOfflineNeedsNoSecrets: commands that only read the state file load a
// pipeline whose ${env:…} and ${file:…} cannot be resolved here.
func TestOfflineNeedsNoSecrets(t *testing.T) {
	src := `version: 1
name: offline
state: ${env:STATE_DIR:-.}/s.duckdb
connections:
  crm:
    type: file
    dir: ${env:CRM_DIR}
    resources:
      people: {path: people.csv, key: id, fields: {id: string, name: string}}
  mail:
    type: file
    dir: ${file:/nonexistent/secret}
    resources:
      subs: {path: subs.csv, key: id, fields: {id: string, name: string}}
views:
  names: SELECT name FROM crm.people
entities:
  people:
    key: {crm: id, mail: id}
    flows:
      - {from: crm.people, to: mail.subs, create: true, map: {id: id, name: name}}
`
	if _, err := spec.Parse("offline.yaml", []byte(src), registry(), env(nil)); err == nil || !strings.Contains(err.Error(), "CRM_DIR is not set") {
		t.Fatalf("online load = %v, want the missing variable named", err)
	}
	opts := env(nil)
	opts.Offline = true
	p, err := spec.Parse("offline.yaml", []byte(src), registry(), opts)
	if err != nil {
		t.Fatalf("offline load: %v", err)
	}
	if len(p.Views) != 1 || len(p.Entities) != 1 {
		t.Fatalf("offline load kept %d views and %d entities, want 1 and 1", len(p.Views), len(p.Entities))
	}
}
