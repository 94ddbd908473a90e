package spec

import (
	"encoding/json"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/synk-etl/synk/pipeline"
)

// SchemaID is the $id of the pipeline JSON Schema.
const SchemaID = "https://github.com/synk-etl/synk/pipelines/pipeline.schema.json"

// Schema returns the JSON Schema of pipeline YAML files for the connector
// types in reg, for editors (yaml-language-server) and `synk schema`.
func Schema(reg *pipeline.Registry) ([]byte, error) {
	str := map[string]any{"type": "string"}
	boolOrExpr := map[string]any{"type": "boolean"}
	expr := map[string]any{"type": []string{"string", "number", "boolean"}, "description": "an expr-lang expression over the source record's fields, vars and synk's functions"}
	side := map[string]any{"type": "string", "pattern": `^[A-Za-z0-9_-]+\.[A-Za-z0-9_]+$`, "description": "connection.resource"}
	rule := map[string]any{"oneOf": []any{
		map[string]any{"enum": []string{OverwriteAlways, OverwriteWhenChanged, OverwriteIfEmpty, OverwriteNever}},
		map[string]any{"type": "object", "additionalProperties": false, "required": []string{"when"},
			"properties": map[string]any{"when": expr}},
	}}
	flow := map[string]any{
		"type": "object", "additionalProperties": false, "required": []string{"from", "to"},
		"properties": map[string]any{
			"from": side, "to": side, "where": expr,
			"create": boolOrExpr, "update": boolOrExpr,
			"delete":    map[string]any{"enum": []any{true, false, DeleteDeactivate}},
			"map":       map[string]any{"type": "object", "additionalProperties": expr},
			"overwrite": map[string]any{"type": "object", "additionalProperties": rule},
			"lookup": map[string]any{"type": "array", "items": str, "minItems": 1,
				"description": "mapped target fields to look an unlinked record up by in the target system before matching or creating"},
		},
	}
	matchRule := map[string]any{"type": "object", "minProperties": 2, "maxProperties": 2, "additionalProperties": expr}
	entity := map[string]any{
		"type": "object", "additionalProperties": false, "required": []string{"flows"},
		"properties": map[string]any{
			"key":      matchRule,
			"match":    map[string]any{"type": "array", "items": matchRule},
			"conflict": str,
			"tie":      map[string]any{"type": "string", "description": "who wins a conflict: newest cannot settle (same Fiken day): a connection name or skip"},
			"needs":    map[string]any{"type": "array", "items": str},
			"flows":    map[string]any{"type": "array", "minItems": 1, "items": flow},
			"counter": map[string]any{"type": "object", "additionalProperties": false, "required": []string{"fields"},
				"description": "two-way counter (stock): each side's change since the last sync is added up",
				"properties": map[string]any{
					"fields":  map[string]any{"type": "object", "minProperties": 2, "maxProperties": 2, "additionalProperties": str},
					"initial": str,
					"offsets": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string", "description": "SQL returning (key, units)"}},
				}},
		},
	}
	var conns []any
	for _, name := range reg.Names() {
		ct, _ := reg.Lookup(name)
		props := map[string]any{}
		if ct.NewConfig != nil {
			r := &jsonschema.Reflector{FieldNameTag: "yaml", DoNotReference: true, ExpandedStruct: true, Anonymous: true}
			s := r.ReflectFromType(reflect.TypeOf(ct.NewConfig()))
			b, err := json.Marshal(s)
			if err != nil {
				return nil, err
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, err
			}
			if p, ok := m["properties"].(map[string]any); ok {
				props = p
			}
		}
		props["type"] = map[string]any{"const": name}
		props["concurrency"] = map[string]any{"type": "integer", "minimum": 1}
		props["rate"] = map[string]any{"type": "number", "minimum": 0}
		props["full_every"] = map[string]any{"type": "integer", "minimum": 0}
		conns = append(conns, map[string]any{"type": "object", "additionalProperties": false, "required": []string{"type"}, "properties": props})
	}
	doc := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     SchemaID,
		"title":   "synk pipeline",
		"type":    "object", "additionalProperties": false,
		"required": []string{"version", "name", "connections", "entities"},
		"properties": map[string]any{
			"version":     map[string]any{"const": 1},
			"name":        str,
			"schedule":    map[string]any{"type": "string", "description": "cron expression or @every 30s"},
			"state":       str,
			"vars":        map[string]any{"type": "object"},
			"views":       map[string]any{"type": "object", "description": "SQL views created in the state file after every snapshot (default schema recon)", "additionalProperties": str},
			"connections": map[string]any{"type": "object", "additionalProperties": map[string]any{"oneOf": conns}},
			"entities":    map[string]any{"type": "object", "additionalProperties": entity},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}
