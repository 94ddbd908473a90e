package file

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
	"github.com/invopop/jsonschema"

	"github.com/synk-etl/synk/pipeline"
)

func TestConfigDecodeKeepsFieldOrder(t *testing.T) {
	src := `
dir: ./data/crm
resources:
  customers:
    path: customers.csv
    key: id
    fields: {id: int, name: string, email: string, price: float, active: bool, updated: time, born: date}
    generate_key: true
  events:
    path: events.log
    format: jsonl
    key: uuid
    fields:
      uuid: string
      payload: object
      at: time
`
	var c Config
	if err := yaml.UnmarshalWithOptions([]byte(src), &c, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	got, err := resources(&c)
	if err != nil {
		t.Fatal(err)
	}
	want := []pipeline.Resource{
		{
			Name: "customers", Key: "id", Create: true, Update: true, Delete: true,
			Fields: []pipeline.Field{
				{Name: "id", Type: pipeline.TypeInt}, {Name: "name", Type: pipeline.TypeString},
				{Name: "email", Type: pipeline.TypeString}, {Name: "price", Type: pipeline.TypeFloat},
				{Name: "active", Type: pipeline.TypeBool}, {Name: "updated", Type: pipeline.TypeTime},
				{Name: "born", Type: pipeline.TypeDate},
			},
		},
		{
			Name: "events", Key: "uuid", Create: true, Update: true, Delete: true,
			Fields: []pipeline.Field{
				{Name: "uuid", Type: pipeline.TypeString}, {Name: "payload", Type: pipeline.TypeObject},
				{Name: "at", Type: pipeline.TypeTime},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if !c.Resources["customers"].GenerateKey || c.Dir != "./data/crm" {
		t.Errorf("settings not decoded: %+v", c)
	}
}

func TestConfigDecodeStrict(t *testing.T) {
	src := "resources:\n  c:\n    path: c.csv\n    key: id\n    fields: {id: int}\n    genrate_key: true\n"
	var c Config
	err := yaml.UnmarshalWithOptions([]byte(src), &c, yaml.Strict())
	if err == nil || !strings.Contains(err.Error(), "genrate_key") {
		t.Fatalf("unknown key error = %v, want one naming genrate_key", err)
	}
}

func TestFieldsJSON(t *testing.T) {
	in := fields("b", "int", "a", "string", "c", "date")
	b, err := in.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"b":"int","a":"string","c":"date"}`; got != want {
		t.Errorf("MarshalJSON = %s, want %s", got, want)
	}
	var out Fields
	if err := out.UnmarshalJSON(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("UnmarshalJSON (-want +got):\n%s", diff)
	}
	if err := out.UnmarshalJSON([]byte(`{"a":1}`)); err == nil {
		t.Error("a non-string type decoded without error")
	}
	if err := out.UnmarshalJSON([]byte(`["a"]`)); err == nil {
		t.Error("an array decoded as fields")
	}
}

func TestConfigErrors(t *testing.T) {
	ok := ResourceConfig{Path: "c.csv", Key: "id", Fields: fields("id", "int")}
	tests := []struct {
		name string
		res  map[string]ResourceConfig
		want []string // every one must be in the error
	}{
		{"no resources", nil, []string{"declares no resources"}},
		{
			"unknown type",
			map[string]ResourceConfig{"customers": {Path: "c.csv", Key: "id", Fields: fields("id", "int", "price", "flaot")}},
			[]string{`resource "customers"`, `field "price"`, `unknown type "flaot"`, "string, int, float, bool, date, time, list, object, any", "did you mean float?"},
		},
		{
			"unknown type far from any",
			map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int", "x", "decimal")}},
			[]string{`unknown type "decimal"`},
		},
		{"no path", map[string]ResourceConfig{"c": {Key: "id", Fields: fields("id", "int")}}, []string{`resource "c": path is required`}},
		{"no key", map[string]ResourceConfig{"c": {Path: "c.csv", Fields: fields("id", "int")}}, []string{"key is required"}},
		{"key not declared", map[string]ResourceConfig{"c": {Path: "c.csv", Key: "code", Fields: fields("id", "int")}}, []string{`key "code" is not a declared field`}},
		{"float key", map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "float")}}, []string{"a key must be int or string"}},
		{"no fields", map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id"}}, []string{"at least the key field"}},
		{"field twice", map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int", "id", "string")}}, []string{`field "id" is declared twice`}},
		{"bad format", map[string]ResourceConfig{"c": {Path: "c.csv", Format: "xlsx", Key: "id", Fields: fields("id", "int")}}, []string{`unknown format "xlsx"`}},
		{"unknown extension", map[string]ResourceConfig{"c": {Path: "c.txt", Key: "id", Fields: fields("id", "int")}}, []string{"set format: csv"}},
		{"same path twice", map[string]ResourceConfig{"a": ok, "b": {Path: "./c.csv", Key: "id", Fields: fields("id", "int")}}, []string{`resource "b": path "./c.csv" is also used by resource "a"`}},
		{
			"every problem reported",
			map[string]ResourceConfig{"a": {Path: "a.csv", Key: "id", Fields: fields("id", "nt")}, "b": {Path: "b.csv", Fields: fields("id", "int")}},
			[]string{`resource "a"`, `did you mean int?`, `resource "b": key is required`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Resources: tt.res}
			errV := c.Validate()
			_, errR := resources(c)
			for _, err := range []error{errV, errR} {
				if err == nil {
					t.Fatal("no error")
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
			}
		})
	}
}

func TestConfigFormatByExtension(t *testing.T) {
	tests := []struct{ path, format, want string }{
		{"a.csv", "", formatCSV},
		{"a.CSV", "", formatCSV},
		{"a.jsonl", "", formatJSONL},
		{"a.ndjson", "", formatJSONL},
		{"a.txt", "csv", formatCSV},
		{"a.csv", "jsonl", formatJSONL},
	}
	for _, tt := range tests {
		t.Run(tt.path+"/"+tt.format, func(t *testing.T) {
			s := mustSpec(t, "r", ResourceConfig{Path: tt.path, Format: tt.format, Key: "id", Fields: fields("id", "int")})
			if s.format != tt.want {
				t.Errorf("format = %s, want %s", s.format, tt.want)
			}
		})
	}
}

func TestRegister(t *testing.T) {
	reg := pipeline.NewRegistry()
	Register(reg)
	ct, ok := reg.Lookup("file")
	if !ok {
		t.Fatal("file type not registered")
	}
	if ct.DefaultLimits != (pipeline.Limits{MaxInFlight: 1}) {
		t.Errorf("DefaultLimits = %+v", ct.DefaultLimits)
	}
	cfg, ok := ct.NewConfig().(*Config)
	if !ok {
		t.Fatalf("NewConfig returned %T", ct.NewConfig())
	}
	cfg.Resources = map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int")}}
	res, err := ct.Resources(cfg)
	if err != nil || len(res) != 1 || res[0].Name != "c" {
		t.Fatalf("Resources = %+v, %v", res, err)
	}
	conn, err := ct.Open(t.Context(), pipeline.Env{BaseDir: t.TempDir()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, ok := range map[string]bool{
		"Source": is[pipeline.Source](conn), "Sink": is[pipeline.Sink](conn),
		"Finder": is[pipeline.Finder](conn), "Closer": is[interface{ Close() error }](conn),
	} {
		if !ok {
			t.Errorf("connector is not a %s", name)
		}
	}
	if _, err := ct.Open(t.Context(), pipeline.Env{}, struct{}{}); err == nil {
		t.Error("Open accepted a foreign config type")
	}
}

func is[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// TestSchema reflects the config the way `synk schema` does: optional
// settings must not be required, and fields must offer the type names.
func TestSchema(t *testing.T) {
	r := &jsonschema.Reflector{FieldNameTag: "yaml", DoNotReference: true, ExpandedStruct: true, Anonymous: true}
	b, err := json.Marshal(r.ReflectFromType(reflect.TypeOf(&Config{})))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Required   []string `json:"required"`
		Properties struct {
			Resources struct {
				AdditionalProperties struct {
					Required   []string `json:"required"`
					Properties map[string]struct {
						Description          string `json:"description"`
						AdditionalProperties struct {
							Enum []string `json:"enum"`
						} `json:"additionalProperties"`
					} `json:"properties"`
				} `json:"additionalProperties"`
			} `json:"resources"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	res := s.Properties.Resources.AdditionalProperties
	if diff := cmp.Diff([]string{"resources"}, s.Required); diff != "" {
		t.Errorf("connection required (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"path", "key", "fields"}, res.Required); diff != "" {
		t.Errorf("resource required (-want +got):\n%s", diff)
	}
	if got := res.Properties["fields"].AdditionalProperties.Enum; len(got) != len(validTypes()) {
		t.Errorf("fields offers types %v", got)
	}
	if d := res.Properties["generate_key"].Description; !strings.Contains(d, "int keys, a UUID for string keys") {
		t.Errorf("generate_key description cut short: %q", d)
	}
}
