package prestashop

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Object is one resource object as the webservice carries it: every scalar
// is text, multilingual fields hold one text per language id, and
// associations are lists of items of text fields. It is the common form of
// XML and JSON documents, before typing against the field facts.
type Object struct {
	// Fields holds scalar fields, including empty ones (an empty element).
	Fields map[string]string
	// I18n holds multilingual fields: field → language id → value.
	I18n map[string]map[string]string
	// Assoc holds associations: name → items.
	Assoc map[string][]map[string]string
	// Raw is the object's bytes in the document it came from.
	Raw []byte
}

// NewObject returns an empty object ready for filling.
func NewObject() Object {
	return Object{Fields: map[string]string{}, I18n: map[string]map[string]string{}, Assoc: map[string][]map[string]string{}}
}

// Has reports whether the object carries the field, scalar or multilingual.
func (o Object) Has(name string) bool {
	if _, ok := o.Fields[name]; ok {
		return true
	}
	_, ok := o.I18n[name]
	return ok
}

// ErrorItem is one <error> of an error document.
type ErrorItem struct {
	Code    int
	Message string
}

// Document is a decoded webservice response or request body.
type Document struct {
	// Node is the element under <prestashop>: a list node ("products"),
	// an object node ("product") or "errors".
	Node string
	// List is true when Node is a list of objects.
	List    bool
	Objects []Object
	Errors  []ErrorItem
}

// maxDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxDepth = 32

type xnode struct {
	name     string
	attrs    map[string]string
	text     strings.Builder
	children []*xnode
	start    int64
	end      int64
}

func (n *xnode) child(name string) *xnode {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func parseXMLTree(data []byte) (*xnode, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var stack []*xnode
	var root *xnode
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, errors.New("parse xml: nesting too deep")
			}
			n := &xnode{name: t.Name.Local, start: off}
			for _, a := range t.Attr {
				if n.attrs == nil {
					n.attrs = map[string]string{}
				}
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("parse xml: more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack[len(stack)-1].end = dec.InputOffset()
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("parse xml: text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errors.New("parse xml: no root element")
	}
	return root, nil
}

// DecodeXML decodes a webservice XML document: a list, one object or errors.
// A body may be sent with an "xml=" prefix, which the webservice strips.
func DecodeXML(data []byte) (Document, error) {
	data = bytes.TrimPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("xml="))
	root, err := parseXMLTree(data)
	if err != nil {
		return Document{}, err
	}
	if root.name != "prestashop" {
		return Document{}, fmt.Errorf("decode xml: root element is <%s>, want <prestashop>", root.name)
	}
	if len(root.children) != 1 {
		return Document{}, fmt.Errorf("decode xml: <prestashop> has %d elements, want 1", len(root.children))
	}
	top := root.children[0]
	doc := Document{Node: top.name}
	if top.name == "errors" {
		for _, e := range top.children {
			code, _ := strconv.Atoi(strings.TrimSpace(textOf(e.child("code"))))
			doc.Errors = append(doc.Errors, ErrorItem{Code: code, Message: strings.TrimSpace(textOf(e.child("message")))})
		}
		return doc, nil
	}
	if isListNode(top) {
		doc.List = true
		for _, item := range top.children {
			o, err := objectFromXML(item, data)
			if err != nil {
				return Document{}, err
			}
			doc.Objects = append(doc.Objects, o)
		}
		return doc, nil
	}
	o, err := objectFromXML(top, data)
	if err != nil {
		return Document{}, err
	}
	doc.Objects = []Object{o}
	return doc, nil
}

func textOf(n *xnode) string {
	if n == nil {
		return ""
	}
	return n.text.String()
}

// isListNode tells a list (<products><product .../>...</products>) from one
// object (<product><id>..</id>...</product>): list children all share one
// name and carry an id attribute or an <id> child, while an object's
// children are its fields. An empty element is an empty list.
func isListNode(n *xnode) bool {
	if len(n.children) == 0 {
		return strings.TrimSpace(n.text.String()) == ""
	}
	first := n.children[0].name
	for _, c := range n.children {
		if c.name != first {
			return false
		}
		if _, ok := c.attrs["id"]; !ok && c.child("id") == nil {
			return false
		}
	}
	// One child called like a field ("id") is an object with one field.
	return first != "id"
}

func objectFromXML(n *xnode, data []byte) (Object, error) {
	o := NewObject()
	if n.start >= 0 && n.end <= int64(len(data)) && n.start <= n.end {
		o.Raw = data[n.start:n.end]
	}
	if id, ok := n.attrs["id"]; ok && len(n.children) == 0 {
		o.Fields["id"] = id
		return o, nil
	}
	for _, c := range n.children {
		switch {
		case c.name == "associations":
			for _, a := range c.children {
				items := []map[string]string{}
				for _, it := range a.children {
					m := map[string]string{}
					for _, f := range it.children {
						m[f.name] = f.text.String()
					}
					if id, ok := it.attrs["id"]; ok && len(it.children) == 0 {
						m["id"] = id
					}
					items = append(items, m)
				}
				o.Assoc[a.name] = items
			}
		case len(c.children) > 0 && c.children[0].name == "language":
			langs := map[string]string{}
			for _, l := range c.children {
				if l.name != "language" {
					return Object{}, fmt.Errorf("decode xml: field %q mixes <%s> with languages", c.name, l.name)
				}
				id, ok := l.attrs["id"]
				if !ok {
					return Object{}, fmt.Errorf("decode xml: field %q has a language without id", c.name)
				}
				langs[id] = l.text.String()
			}
			o.I18n[c.name] = langs
		case len(c.children) > 0:
			return Object{}, fmt.Errorf("decode xml: field %q has unexpected child <%s>", c.name, c.children[0].name)
		default:
			if _, dup := o.Fields[c.name]; dup {
				return Object{}, fmt.Errorf("decode xml: field %q appears twice", c.name)
			}
			o.Fields[c.name] = c.text.String()
		}
	}
	return o, nil
}

// EncodeXML writes one object as a request body:
// <prestashop><node>fields…</node></prestashop>. Fields come in the order
// of order (unknown ones after, sorted), multilingual fields with one
// <language> per id, associations last.
func EncodeXML(node string, o Object, order []string) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<prestashop xmlns:xlink="http://www.w3.org/1999/xlink"><` + node + `>`)
	for _, name := range fieldOrder(o, order) {
		if langs, ok := o.I18n[name]; ok {
			b.WriteString("<" + name + ">")
			for _, id := range sortedLangs(langs) {
				b.WriteString(`<language id="`)
				xml.EscapeText(&b, []byte(id))
				b.WriteString(`">`)
				xml.EscapeText(&b, []byte(langs[id]))
				b.WriteString(`</language>`)
			}
			b.WriteString("</" + name + ">")
			continue
		}
		b.WriteString("<" + name + ">")
		xml.EscapeText(&b, []byte(o.Fields[name]))
		b.WriteString("</" + name + ">")
	}
	if len(o.Assoc) > 0 {
		b.WriteString("<associations>")
		names := make([]string, 0, len(o.Assoc))
		for n := range o.Assoc {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, an := range names {
			b.WriteString("<" + an + ">")
			item := assocItemNode(an)
			for _, it := range o.Assoc[an] {
				b.WriteString("<" + item + ">")
				keys := make([]string, 0, len(it))
				for k := range it {
					keys = append(keys, k)
				}
				sort.Slice(keys, func(i, j int) bool { return keys[i] == "id" || keys[j] != "id" && keys[i] < keys[j] })
				for _, k := range keys {
					b.WriteString("<" + k + ">")
					xml.EscapeText(&b, []byte(it[k]))
					b.WriteString("</" + k + ">")
				}
				b.WriteString("</" + item + ">")
			}
			b.WriteString("</" + an + ">")
		}
		b.WriteString("</associations>")
	}
	b.WriteString("</" + node + "></prestashop>\n")
	return b.Bytes()
}

// assocItemNode is the item element of an association; PrestaShop names it
// by the singular, and any name is accepted on input.
func assocItemNode(assoc string) string {
	switch {
	case assoc == "categories":
		return "category"
	case assoc == "accessories" || assoc == "product_bundle":
		return "product"
	case strings.HasSuffix(assoc, "ies"):
		return strings.TrimSuffix(assoc, "ies") + "y"
	case strings.HasSuffix(assoc, "es") && (strings.HasSuffix(assoc, "xes") || strings.HasSuffix(assoc, "sses")):
		return strings.TrimSuffix(assoc, "es")
	default:
		return strings.TrimSuffix(assoc, "s")
	}
}

func fieldOrder(o Object, order []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range order {
		if o.Has(n) && !seen[n] {
			out = append(out, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range o.Fields {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	for n := range o.I18n {
		if !seen[n] {
			if _, dup := o.Fields[n]; !dup {
				rest = append(rest, n)
			}
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func sortedLangs(m map[string]string) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		a, errA := strconv.Atoi(ids[i])
		b, errB := strconv.Atoi(ids[j])
		if errA == nil && errB == nil {
			return a < b
		}
		return ids[i] < ids[j]
	})
	return ids
}

// DecodeJSON decodes a webservice JSON document: {"products":[…]},
// {"product":{…}}, {"errors":[…]} or the bare [] an empty list comes as.
// JSON output drops falsy values ("", "0", null) from objects; Typed puts
// them back from the field facts.
func DecodeJSON(data []byte) (Document, error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("[]")) {
		return Document{List: true}, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return Document{}, fmt.Errorf("decode json: %w", err)
	}
	if len(top) != 1 {
		return Document{}, fmt.Errorf("decode json: %d top-level members, want 1", len(top))
	}
	var doc Document
	for name, raw := range top {
		doc.Node = name
		if name == "errors" {
			var errs []struct {
				Code    json.RawMessage `json:"code"`
				Message string          `json:"message"`
			}
			if err := json.Unmarshal(raw, &errs); err != nil {
				return Document{}, fmt.Errorf("decode json errors: %w", err)
			}
			for _, e := range errs {
				code, _ := strconv.Atoi(strings.Trim(string(e.Code), `"`))
				doc.Errors = append(doc.Errors, ErrorItem{Code: code, Message: e.Message})
			}
			return doc, nil
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) > 0 && raw[0] == '[' {
			doc.List = true
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return Document{}, fmt.Errorf("decode json list %q: %w", name, err)
			}
			for i, it := range items {
				o, err := objectFromJSON(it)
				if err != nil {
					return Document{}, fmt.Errorf("decode json %s[%d]: %w", name, i, err)
				}
				doc.Objects = append(doc.Objects, o)
			}
			return doc, nil
		}
		o, err := objectFromJSON(raw)
		if err != nil {
			return Document{}, fmt.Errorf("decode json %s: %w", name, err)
		}
		doc.Objects = []Object{o}
	}
	return doc, nil
}

func objectFromJSON(raw json.RawMessage) (Object, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Object{}, err
	}
	o := NewObject()
	o.Raw = raw
	for k, v := range m {
		v = bytes.TrimSpace(v)
		switch {
		case k == "associations":
			var as map[string]json.RawMessage
			if err := json.Unmarshal(v, &as); err != nil {
				// An empty associations member comes as [].
				var empty []any
				if json.Unmarshal(v, &empty) == nil && len(empty) == 0 {
					continue
				}
				return Object{}, fmt.Errorf("associations: %w", err)
			}
			for an, av := range as {
				var items []map[string]json.RawMessage
				if err := json.Unmarshal(av, &items); err != nil {
					return Object{}, fmt.Errorf("association %q: %w", an, err)
				}
				list := make([]map[string]string, 0, len(items))
				for _, it := range items {
					im := map[string]string{}
					for ik, iv := range it {
						s, err := jsonScalar(iv)
						if err != nil {
							return Object{}, fmt.Errorf("association %q field %q: %w", an, ik, err)
						}
						im[ik] = s
					}
					list = append(list, im)
				}
				o.Assoc[an] = list
			}
		case len(v) > 0 && v[0] == '[':
			var langs []struct {
				ID    json.RawMessage `json:"id"`
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(v, &langs); err != nil {
				return Object{}, fmt.Errorf("field %q: %w", k, err)
			}
			lm := map[string]string{}
			for _, l := range langs {
				id, err := jsonScalar(l.ID)
				if err != nil {
					return Object{}, fmt.Errorf("field %q language id: %w", k, err)
				}
				val, err := jsonScalar(l.Value)
				if err != nil {
					return Object{}, fmt.Errorf("field %q language %s: %w", k, id, err)
				}
				lm[id] = val
			}
			o.I18n[k] = lm
		default:
			s, err := jsonScalar(v)
			if err != nil {
				return Object{}, fmt.Errorf("field %q: %w", k, err)
			}
			o.Fields[k] = s
		}
	}
	return o, nil
}

// jsonScalar turns a JSON scalar into the text XML would carry.
func jsonScalar(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || bytes.Equal(v, []byte("null")) {
		return "", nil
	}
	switch v[0] {
	case '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", err
		}
		return s, nil
	case 't':
		return "1", nil
	case 'f':
		return "0", nil
	case '{', '[':
		return "", errors.New("not a scalar")
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

// Typed converts an object to a pipeline record with the field facts of
// its resource. Multilingual fields give the value of lang under the field
// name and every language under name+"_i18n". Scalars missing from the
// object (JSON drops falsy ones) come back as their zero value when fill is
// true, and are left out otherwise. Fields not in the facts are dropped.
func Typed(fact ResourceFact, o Object, lang string, fill bool) (map[string]any, error) {
	rec := make(map[string]any, len(fact.Fields)+4)
	for _, f := range fact.Fields {
		if f.Hidden {
			continue
		}
		if f.I18n {
			langs, ok := o.I18n[f.Name]
			if !ok {
				if s, plain := o.Fields[f.Name]; plain {
					// JSON gives a plain value when one language is output.
					langs = map[string]string{lang: s}
				} else if !fill {
					continue
				}
			}
			all := make(map[string]any, len(langs))
			for id, v := range langs {
				all[id] = v
			}
			rec[f.Name] = langs[lang]
			rec[f.Name+"_i18n"] = all
			continue
		}
		s, ok := o.Fields[f.Name]
		if !ok {
			if !fill {
				continue
			}
			s = ""
			if f.Kind == KindInt || f.Kind == KindFloat || f.Kind == KindBool || f.Virtual == "int" {
				s = "0"
			}
		}
		v, err := typedValue(f, s)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		rec[f.Name] = v
	}
	return rec, nil
}

func typedValue(f FieldFact, s string) (any, error) {
	t := strings.TrimSpace(s)
	switch f.PipelineType() {
	case "int":
		if t == "" {
			return nil, nil
		}
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("not an integer: %q", truncate(t, 40))
		}
		return n, nil
	case "float":
		if t == "" {
			return nil, nil
		}
		x, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("not a number: %q", truncate(t, 40))
		}
		return x, nil
	case "bool":
		switch t {
		case "":
			return nil, nil
		case "0", "false":
			return false, nil
		case "1", "true":
			return true, nil
		}
		return nil, fmt.Errorf("not a boolean: %q", truncate(t, 40))
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// FormatValue writes a record value as webservice text.
func FormatValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case bool:
		if x {
			return "1", nil
		}
		return "0", nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case json.Number:
		return x.String(), nil
	}
	return "", fmt.Errorf("cannot write a %T as a field value", v)
}

// DateLayout is how the webservice writes dates (shop local time).
const DateLayout = "2006-01-02 15:04:05"
