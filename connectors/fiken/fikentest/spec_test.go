package fikentest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite openapi.json and golden files")

// officialSpec is Fiken's spec as kept in the shared folder of the work tree;
// it is absent in a plain checkout of the repository, and the test then skips.
const officialSpec = "../../../../shared/specs/fiken/fiken-openapi.yaml"

func TestReducedSpecMatchesOfficial(t *testing.T) {
	src, err := os.ReadFile(officialSpec)
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("%s not present", officialSpec)
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := reduceSpec(src)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("openapi.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, specJSON) {
		var a, b any
		_ = json.Unmarshal(specJSON, &a)
		_ = json.Unmarshal(got, &b)
		t.Fatalf("openapi.json is stale; run go test -run TestReducedSpec -update (diff -embedded +official):\n%s", cmp.Diff(a, b))
	}
}

// reduceSpec keeps the facts of the spec (paths, parameters, schemas, enums,
// required, formats) and drops prose. Two deliberate changes make the
// emulator as strict as Fiken is documented to be ("400 when ... unexpected
// fields"): allOf compositions of objects are flattened into one object, and
// every object schema with properties gets additionalProperties: false, so an
// unknown or misspelt field is a 400. Flattening first is needed because
// additionalProperties: false on each allOf branch would reject the other
// branch's fields.
func reduceSpec(src []byte) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("parse spec: %w", err)
	}
	if info, ok := doc["info"].(map[string]any); ok {
		delete(info, "description")
	}
	delete(doc, "tags")
	delete(doc, "externalDocs")
	strip(doc, plain)
	schemas := lookupMap(doc, "components", "schemas")
	if schemas == nil {
		return nil, errors.New("spec has no components.schemas")
	}
	names := make([]string, 0, len(schemas))
	for n := range schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s, _ := schemas[n].(map[string]any)
		if err := flattenAllOf(s, schemas); err != nil {
			return nil, fmt.Errorf("schema %s: %w", n, err)
		}
	}
	closeObjects(doc, false)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func lookupMap(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

// isProse reports keys that are documentation only.
func isProse(k string) bool {
	switch k {
	case "description", "summary", "example", "examples", "tags", "externalDocs":
		return true
	}
	return false
}

// stripMode says what the map being walked is: a schema's properties (whose
// keys are field names, never prose), a responses map (whose values keep
// their one-line description, which OpenAPI requires), or anything else.
type stripMode int

const (
	plain stripMode = iota
	propertiesMap
	responsesMap
	responseObject
)

func strip(v any, mode stripMode) {
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			if mode != propertiesMap && isProse(k) && !(mode == responseObject && k == "description") {
				delete(x, k)
				continue
			}
			next := plain
			switch {
			case mode == responsesMap:
				next = responseObject
			case mode != propertiesMap && k == "properties":
				next = propertiesMap
			case mode != propertiesMap && k == "responses":
				next = responsesMap
			}
			strip(child, next)
		}
	case []any:
		for _, child := range x {
			strip(child, plain)
		}
	}
}

func flattenAllOf(s map[string]any, schemas map[string]any) error {
	parts, ok := s["allOf"].([]any)
	if !ok {
		return nil
	}
	props := map[string]any{}
	var required []any
	for _, p := range parts {
		pm, _ := p.(map[string]any)
		if ref, ok := pm["$ref"].(string); ok {
			name := filepath.Base(ref)
			target, ok := schemas[name].(map[string]any)
			if !ok {
				return fmt.Errorf("allOf ref %s not found", ref)
			}
			if err := flattenAllOf(target, schemas); err != nil {
				return err
			}
			pm = target
		}
		if pp, ok := pm["properties"].(map[string]any); ok {
			for k, v := range pp {
				props[k] = v
			}
		}
		if r, ok := pm["required"].([]any); ok {
			required = append(required, r...)
		}
	}
	delete(s, "allOf")
	s["type"] = "object"
	s["properties"] = props
	if len(required) > 0 {
		s["required"] = required
	}
	return nil
}

func closeObjects(v any, inProperties bool) {
	switch x := v.(type) {
	case map[string]any:
		if !inProperties {
			if _, hasProps := x["properties"].(map[string]any); hasProps {
				if _, set := x["additionalProperties"]; !set {
					x["additionalProperties"] = false
				}
			}
		}
		for k, child := range x {
			closeObjects(child, !inProperties && k == "properties")
		}
	case []any:
		for _, child := range x {
			closeObjects(child, false)
		}
	}
}
