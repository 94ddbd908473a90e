// Package file is synk's local connector: each resource is one CSV, JSONL
// or Parquet file in a directory, keyed by one field. It exists so pipelines (and the
// engine's own tests) can run end to end without any network system, and so
// integrators can feed synk from spreadsheet exports.
package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/invopop/jsonschema"

	"github.com/synk-etl/synk/pipeline"
)

// Config is the `type: file` connection's settings.
type Config struct {
	// Dir is the base directory of the resources' files; relative to the
	// pipeline file's directory. Empty means that directory itself.
	Dir string `yaml:"dir,omitempty" json:"dir,omitempty" jsonschema:"description=Base directory of the files; relative to the pipeline file's directory"`
	// Resources are the files, by resource name.
	Resources map[string]ResourceConfig `yaml:"resources" json:"resources" jsonschema:"description=One entry per file; the key is the resource name used in flows (conn.resource)"`
	// BatchSize is the most writes one rewrite of a file carries; 0 means
	// the default (DefaultBatchSize).
	BatchSize int `yaml:"batch_size,omitempty" json:"batch_size,omitempty" jsonschema:"minimum=0,description=The most writes one atomic rewrite of a file carries (default 50000)"`
}

// ResourceConfig describes one file.
type ResourceConfig struct {
	// Path is the file, relative to Dir (or absolute).
	Path string `yaml:"path" json:"path" jsonschema:"description=File path relative to dir; .csv\\, .jsonl or .parquet"`
	// Format is csv, jsonl or parquet; empty means "by the path's extension".
	Format string `yaml:"format,omitempty" json:"format,omitempty" jsonschema:"enum=csv,enum=jsonl,enum=parquet,description=Overrides the format the extension implies"`
	// Key is the field that identifies a record.
	Key string `yaml:"key" json:"key" jsonschema:"description=The key field (must be declared in fields; int or string)"`
	// Fields are the declared fields in column order.
	Fields Fields `yaml:"fields" json:"fields"`
	// GenerateKey lets a create without a key value get one: max(int key)+1,
	// or a random UUID for string keys.
	GenerateKey bool `yaml:"generate_key,omitempty" json:"generate_key,omitempty" jsonschema:"description=Assign a key on create when none is given: max+1 for int keys\\, a UUID for string keys"`
	// Modified names the time field that holds when a record last changed,
	// for conflict: newest.
	Modified string `yaml:"modified,omitempty" json:"modified,omitempty" jsonschema:"description=A declared time or date field holding when the record last changed (compared by conflict: newest)"`
}

// FieldDecl is one declared field: a name and a type name as written.
type FieldDecl struct {
	Name string
	Type string
}

// Fields are declared fields in the order the YAML mapping lists them. The
// order matters: it is the CSV column order and the JSONL key order on
// rewrite, so a plain Go map (random order) would not do.
type Fields []FieldDecl

// UnmarshalYAML decodes a `name: type` mapping keeping its order.
func (f *Fields) UnmarshalYAML(unmarshal func(any) error) error {
	var ms yaml.MapSlice
	if err := unmarshal(&ms); err != nil {
		return fmt.Errorf("fields must be a mapping of field name to type: %w", err)
	}
	out := make(Fields, 0, len(ms))
	for _, it := range ms {
		name, ok := it.Key.(string)
		if !ok {
			return fmt.Errorf("field name %v must be a string", it.Key)
		}
		typ, ok := it.Value.(string)
		if !ok {
			return fmt.Errorf("field %q: type must be a string (one of %s)", name, validTypeList())
		}
		out = append(out, FieldDecl{Name: name, Type: typ})
	}
	*f = out
	return nil
}

// UnmarshalJSON decodes a `{"name": "type"}` object keeping its order, for
// loaders that go through JSON.
func (f *Fields) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("fields: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("fields must be an object of field name to type")
	}
	out := Fields{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("fields: %w", err)
		}
		name, _ := tok.(string)
		var typ string
		if err := dec.Decode(&typ); err != nil {
			return fmt.Errorf("field %q: type must be a string (one of %s)", name, validTypeList())
		}
		out = append(out, FieldDecl{Name: name, Type: typ})
	}
	*f = out
	return nil
}

// MarshalJSON writes the fields back as an object in declared order.
func (f Fields) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, d := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(d.Name)
		v, _ := json.Marshal(d.Type)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// JSONSchema describes fields for `synk schema`, so editors offer the type
// names.
func (Fields) JSONSchema() *jsonschema.Schema {
	enum := make([]any, 0, len(validTypes()))
	for _, t := range validTypes() {
		enum = append(enum, string(t))
	}
	return &jsonschema.Schema{
		Type:                 "object",
		Description:          "Declared fields in column order: name: type",
		AdditionalProperties: &jsonschema.Schema{Type: "string", Enum: enum},
	}
}

// validTypes returns the field types a file resource may declare, in the
// order error messages list them.
func validTypes() []pipeline.FieldType {
	return []pipeline.FieldType{
		pipeline.TypeString, pipeline.TypeInt, pipeline.TypeFloat, pipeline.TypeBool,
		pipeline.TypeDate, pipeline.TypeTime, pipeline.TypeList, pipeline.TypeObject, pipeline.TypeAny,
	}
}

func validTypeList() string {
	names := make([]string, len(validTypes()))
	for i, t := range validTypes() {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func parseType(s string) (pipeline.FieldType, bool) {
	for _, t := range validTypes() {
		if string(t) == s {
			return t, true
		}
	}
	return "", false
}

// Format names.
const (
	formatCSV     = "csv"
	formatJSONL   = "jsonl"
	formatParquet = "parquet"
)

// spec is one resource's checked configuration.
type spec struct {
	name        string
	path        string // as configured; joined with the connection dir in Open
	format      string
	key         string
	keyIdx      int
	fields      []pipeline.Field
	generateKey bool
	modified    string
}

func (s *spec) fieldIndex(name string) int {
	for i, f := range s.fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// Validate checks the settings; the loader calls it after decoding.
func (c *Config) Validate() error {
	_, err := c.specs()
	return err
}

// specs checks the config and returns the resources sorted by name. Every
// problem is reported, not only the first, so one validate run shows them all.
func (c *Config) specs() ([]*spec, error) {
	if c == nil {
		return nil, errors.New("file connection has no settings")
	}
	if c.BatchSize < 0 {
		return nil, fmt.Errorf("batch_size %d: must be 0 (the default, %d) or more", c.BatchSize, DefaultBatchSize)
	}
	if len(c.Resources) == 0 {
		return nil, errors.New("file connection declares no resources")
	}
	names := make([]string, 0, len(c.Resources))
	for n := range c.Resources {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	specs := make([]*spec, 0, len(names))
	paths := map[string]string{}
	for _, name := range names {
		rc := c.Resources[name]
		s, err := rc.spec(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		clean := filepath.Clean(s.path)
		if other, dup := paths[clean]; dup {
			errs = append(errs, fmt.Errorf("resource %q: path %q is also used by resource %q", name, s.path, other))
			continue
		}
		paths[clean] = name
		specs = append(specs, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return specs, nil
}

func (rc ResourceConfig) spec(name string) (*spec, error) {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("resource %q: "+format, append([]any{name}, args...)...))
	}
	s := &spec{name: name, path: rc.Path, key: rc.Key, generateKey: rc.GenerateKey, keyIdx: -1}
	if rc.Path == "" {
		fail("path is required")
	}
	switch rc.Format {
	case formatCSV, formatJSONL, formatParquet:
		s.format = rc.Format
	case "":
		switch strings.ToLower(filepath.Ext(rc.Path)) {
		case ".csv":
			s.format = formatCSV
		case ".jsonl", ".ndjson":
			s.format = formatJSONL
		case ".parquet":
			s.format = formatParquet
		default:
			if rc.Path != "" {
				fail("cannot tell the format of %q from its extension; set format: csv, jsonl or parquet", rc.Path)
			}
		}
	default:
		fail("unknown format %q (valid: csv, jsonl, parquet)", rc.Format)
	}
	if len(rc.Fields) == 0 {
		fail("fields: at least the key field must be declared")
	}
	seen := map[string]bool{}
	for _, d := range rc.Fields {
		if d.Name == "" {
			fail("fields: empty field name")
			continue
		}
		if seen[d.Name] {
			fail("field %q is declared twice", d.Name)
			continue
		}
		seen[d.Name] = true
		t, ok := parseType(d.Type)
		if !ok {
			msg := fmt.Sprintf("field %q: unknown type %q (valid types: %s)", d.Name, d.Type, validTypeList())
			if near := nearestType(d.Type); near != "" {
				msg += fmt.Sprintf("; did you mean %s?", near)
			}
			fail("%s", msg)
			continue
		}
		s.fields = append(s.fields, pipeline.Field{Name: d.Name, Type: t})
	}
	switch {
	case rc.Key == "":
		fail("key is required")
	case !seen[rc.Key]:
		fail("key %q is not a declared field", rc.Key)
	default:
		s.keyIdx = s.fieldIndex(rc.Key)
		if s.keyIdx >= 0 {
			if t := s.fields[s.keyIdx].Type; t != pipeline.TypeInt && t != pipeline.TypeString {
				fail("key %q has type %s; a key must be int or string", rc.Key, t)
			}
		}
	}
	if rc.Modified != "" {
		if i := s.fieldIndex(rc.Modified); i < 0 {
			fail("modified %q is not a declared field", rc.Modified)
		} else if t := s.fields[i].Type; t != pipeline.TypeTime && t != pipeline.TypeDate {
			fail("modified %q has type %s; it must be time or date", rc.Modified, t)
		}
		s.modified = rc.Modified
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// nearestType suggests a valid type name within edit distance 2.
func nearestType(s string) string {
	best, bestD := "", 3
	for _, t := range validTypes() {
		if d := editDistance(strings.ToLower(s), string(t)); d < bestD {
			best, bestD = string(t), d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// resources is ConnectorType.Resources: no I/O, only the declared shape.
func resources(config any) ([]pipeline.Resource, error) {
	c, ok := config.(*Config)
	if !ok {
		return nil, fmt.Errorf("file connector: config is %T, want *file.Config", config)
	}
	specs, err := c.specs()
	if err != nil {
		return nil, err
	}
	out := make([]pipeline.Resource, 0, len(specs))
	for _, s := range specs {
		out = append(out, pipeline.Resource{
			Name:   s.name,
			Key:    s.key,
			Fields: append([]pipeline.Field(nil), s.fields...),
			Create: true, Update: true, Delete: true,
			ModifiedField: s.modified,
		})
	}
	return out, nil
}
