package prestashop

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestEncodeXMLGolden(t *testing.T) {
	o := NewObject()
	o.Fields["id"] = "7"
	o.Fields["price"] = "412.5"
	o.Fields["reference"] = "A&B <1>"
	o.Fields["active"] = "0"
	o.I18n["name"] = map[string]string{"2": "Chair", "1": "Stol ]]> æøå", "10": "x"}
	o.Assoc["categories"] = []map[string]string{{"id": "2"}, {"id": "5"}}
	got := EncodeXML("product", o, fieldNames(Facts()["products"]))
	golden(t, "product_body.xml", got)
	doc, err := DecodeXML(got)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(o, doc.Objects[0], cmpopts.IgnoreFields(Object{}, "Raw")); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDecodeXMLShapes(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		node  string
		list  bool
		ids   []string
		codes []int
	}{
		{"id list", `<prestashop><products><product id="1" xlink:href="x"/><product id="2"/></products></prestashop>`, "products", true, []string{"1", "2"}, nil},
		{"empty list", `<prestashop><products/></prestashop>`, "products", true, nil, nil},
		{"empty list with whitespace", "<prestashop>\n<products>\n</products>\n</prestashop>", "products", true, nil, nil},
		{"full list", `<prestashop><taxes><tax><id>1</id><rate>25</rate></tax><tax><id>2</id><rate>0</rate></tax></taxes></prestashop>`, "taxes", true, []string{"1", "2"}, nil},
		{"one object", `<prestashop><tax><id><![CDATA[3]]></id><rate>12</rate></tax></prestashop>`, "tax", false, []string{"3"}, nil},
		{"object with only id", `<prestashop><tax><id>4</id></tax></prestashop>`, "tax", false, []string{"4"}, nil},
		{"errors", `<prestashop><errors><error><code><![CDATA[93]]></code><message><![CDATA[no]]></message></error></errors></prestashop>`, "errors", false, nil, []int{93}},
		{"xml= prefix", `xml=<prestashop><tax><rate>1</rate></tax></prestashop>`, "tax", false, []string{""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := DecodeXML([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, o := range doc.Objects {
				ids = append(ids, o.Fields["id"])
			}
			var codes []int
			for _, e := range doc.Errors {
				codes = append(codes, e.Code)
			}
			if doc.Node != tc.node || doc.List != tc.list || !cmp.Equal(ids, tc.ids) || !cmp.Equal(codes, tc.codes) {
				t.Errorf("got node %q list %v ids %v codes %v", doc.Node, doc.List, ids, codes)
			}
		})
	}
	for _, bad := range []string{"", "<prestashop>", "<shop><x/></shop>", "<prestashop><a/><b/></prestashop>", "<prestashop><tax><id>1</id><id>2</id></tax></prestashop>"} {
		if _, err := DecodeXML([]byte(bad)); err == nil {
			t.Errorf("DecodeXML(%q) accepted", bad)
		}
	}
}

// TestJSONFalsyValuesComeBack decodes the same product from XML and from
// JSON (which drops "" and "0") and gets the same record.
func TestJSONFalsyValuesComeBack(t *testing.T) {
	fact := Facts()["products"]
	xmlDoc := `<prestashop><product><id>5</id><active>0</active><price>0.000000</price><reference></reference><id_manufacturer>0</id_manufacturer>
		<name><language id="1">Stol</language><language id="2"></language></name></product></prestashop>`
	jsonDoc := `{"product":{"id":5,"price":"0.000000","name":[{"id":"1","value":"Stol"},{"id":"2","value":""}]}}`
	x, err := DecodeXML([]byte(xmlDoc))
	if err != nil {
		t.Fatal(err)
	}
	j, err := DecodeJSON([]byte(jsonDoc))
	if err != nil {
		t.Fatal(err)
	}
	fromXML, err := Typed(fact, x.Objects[0], "1", true)
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := Typed(fact, j.Objects[0], "1", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "active", "price", "reference", "id_manufacturer", "name", "name_i18n"} {
		if !cmp.Equal(fromXML[k], fromJSON[k]) {
			t.Errorf("%s: xml %#v json %#v", k, fromXML[k], fromJSON[k])
		}
	}
	if fromJSON["active"] != false || fromJSON["id_manufacturer"] != int64(0) {
		t.Errorf("falsy values: active %#v id_manufacturer %#v", fromJSON["active"], fromJSON["id_manufacturer"])
	}
	empty, err := DecodeJSON([]byte(" [] "))
	if err != nil || !empty.List || len(empty.Objects) != 0 {
		t.Errorf("empty list: %+v %v", empty, err)
	}
	one, err := DecodeJSON([]byte(`{"product":{"id":1,"name":"Stol"}}`))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := Typed(fact, one.Objects[0], "1", true)
	if rec["name"] != "Stol" {
		t.Errorf("single-language JSON name: %#v", rec["name"])
	}
	errs, err := DecodeJSON([]byte(`{"errors":[{"code":93,"message":"no"}]}`))
	if err != nil || len(errs.Errors) != 1 || errs.Errors[0].Code != 93 {
		t.Errorf("json errors: %+v %v", errs, err)
	}
}

func TestTypedRejectsBadValues(t *testing.T) {
	fact := Facts()["products"]
	for _, tc := range []struct{ field, value string }{{"price", "abc"}, {"id", "1.5"}, {"active", "yes"}} {
		o := NewObject()
		o.Fields[tc.field] = tc.value
		if _, err := Typed(fact, o, "1", false); err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s=%q: err %v", tc.field, tc.value, err)
		}
	}
}

func FuzzDecodeXML(f *testing.F) {
	f.Add([]byte(`<prestashop><products><product id="1"/></products></prestashop>`))
	f.Add([]byte(`<prestashop><product><id>1</id><name><language id="1">a</language></name><associations><categories><category><id>2</id></category></categories></associations></product></prestashop>`))
	f.Add([]byte(`<prestashop><errors><error><code>1</code><message>m</message></error></errors></prestashop>`))
	f.Add([]byte(`xml=<prestashop><tax/></prestashop>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := DecodeXML(data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same fields.
		for _, o := range doc.Objects {
			if len(o.Raw) > len(data) {
				t.Fatalf("raw longer than input")
			}
			if !validNames(o) {
				continue
			}
			again, err := DecodeXML(EncodeXML("node", o, nil))
			if err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			if len(again.Objects) == 1 && !cmp.Equal(normalized(o), normalized(again.Objects[0])) {
				t.Fatalf("round trip changed %+v into %+v", o, again.Objects[0])
			}
		}
	})
}

// validNames reports whether every field and association name is a plain
// XML name EncodeXML can write back.
func validNames(o Object) bool {
	ok := func(s string) bool {
		if s == "" || s == "associations" || s == "language" {
			return false
		}
		for i, c := range s {
			if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-')) {
				return false
			}
		}
		return true
	}
	for k := range o.Fields {
		if !ok(k) || o.I18n[k] != nil {
			return false
		}
	}
	for k, langs := range o.I18n {
		if !ok(k) || len(langs) == 0 {
			return false
		}
	}
	for k, items := range o.Assoc {
		if !ok(k) {
			return false
		}
		for _, it := range items {
			if len(it) == 0 {
				return false
			}
			for f := range it {
				if !ok(f) {
					return false
				}
			}
		}
	}
	return len(o.Fields)+len(o.I18n) > 0 && (len(o.Fields) != 1 || o.Fields["id"] == "")
}

// normalized drops what XML cannot carry exactly (surrounding text in
// elements with invalid characters are replaced on encode).
func normalized(o Object) Object {
	n := NewObject()
	fix := func(s string) string { return string(bytes.ToValidUTF8([]byte(s), []byte("\uFFFD"))) }
	for k, v := range o.Fields {
		n.Fields[k] = fix(v)
	}
	for k, langs := range o.I18n {
		m := map[string]string{}
		for id, v := range langs {
			m[fix(id)] = fix(v)
		}
		n.I18n[k] = m
	}
	for k, items := range o.Assoc {
		if len(items) > 0 {
			n.Assoc[k] = items
		}
	}
	return n
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"products":[{"id":1,"name":[{"id":"1","value":"a"}],"associations":{"categories":[{"id":"2"}]}}]}`))
	f.Add([]byte(`{"product":{"id":1,"active":"1","price":"0.5","associations":[]}}`))
	f.Add([]byte(`{"errors":[{"code":"93","message":"m"}]}`))
	fact := Facts()["products"]
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := DecodeJSON(data)
		if err != nil {
			return
		}
		for _, o := range doc.Objects {
			rec, err := Typed(fact, o, "1", true)
			if err != nil {
				continue
			}
			// Filled records carry every visible field.
			for _, fd := range fact.Fields {
				if _, ok := rec[fd.Name]; !ok && !fd.Hidden {
					t.Fatalf("field %s missing after fill", fd.Name)
				}
			}
		}
	})
}
