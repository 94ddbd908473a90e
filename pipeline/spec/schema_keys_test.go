package spec

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
)

// TestSchemaKeysAgreeWithTheLoader: the grammar's keys are written twice,
// in the loader's key lists (what a file may say) and in the JSON Schema
// (what editors offer); they must name the same keys.
func TestSchemaKeysAgreeWithTheLoader(t *testing.T) {
	reg := pipeline.NewRegistry()
	reg.Register(pipeline.ConnectorType{Name: "bare"})
	b, err := Schema(reg)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	props := func(m any, path ...string) []string {
		t.Helper()
		for _, p := range path {
			next, ok := m.(map[string]any)[p]
			if !ok {
				t.Fatalf("schema has no %v", path)
			}
			m = next
		}
		var keys []string
		for k := range m.(map[string]any)["properties"].(map[string]any) {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	entity := doc["properties"].(map[string]any)["entities"].(map[string]any)["additionalProperties"]
	flow := entity.(map[string]any)["properties"].(map[string]any)["flows"].(map[string]any)["items"]
	conn := doc["properties"].(map[string]any)["connections"].(map[string]any)["additionalProperties"].(map[string]any)["oneOf"].([]any)[0]
	for _, c := range []struct {
		what       string
		loader     []string
		schemaKeys []string
	}{
		{"top level", topKeys, props(doc)},
		{"entity", entityKeys, props(entity)},
		{"counter", counterKeys, props(entity, "properties", "counter")},
		{"flow", flowKeys, props(flow)},
		{"connection", connectionKeys, props(conn)},
	} {
		if diff := cmp.Diff(sorted(c.loader), c.schemaKeys); diff != "" {
			t.Errorf("%s keys (-loader +schema):\n%s", c.what, diff)
		}
	}
}
