package prestashoptest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/synk-etl/synk/connectors/prestashop"
)

const xmlHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// viewIndex holds, for one list request, the child rows views look up per
// row (a product's stock rows and combinations, an order's details), so a
// list of n products costs O(n), not O(n × stock rows).
type viewIndex struct {
	children map[string]map[string][]int64 // table → parent id → child ids, in order
}

// newViewIndex indexes the children a list of resource needs; nil when its
// views need none.
func (s *Server) newViewIndex(resource string) *viewIndex {
	var by map[string]string // child table → parent field
	switch resource {
	case "products":
		by = map[string]string{"stock_availables": "id_product", "combinations": "id_product"}
	case "orders":
		by = map[string]string{"order_details": "id_order"}
	default:
		return nil
	}
	idx := &viewIndex{children: map[string]map[string][]int64{}}
	for table, field := range by {
		m := map[string][]int64{}
		t := s.tables[table]
		for _, id := range t.ids() {
			p := t.rows[id].Fields[field]
			m[p] = append(m[p], id)
		}
		idx.children[table] = m
	}
	return idx
}

// childIDs are the ids of table's rows whose field equals parent, in id
// order: from the index when there is one, else by a scan.
func (s *Server) childIDs(idx *viewIndex, table, field, parent string) []int64 {
	if idx != nil {
		return idx.children[table][parent]
	}
	var out []int64
	t := s.tables[table]
	for _, id := range t.ids() {
		if t.rows[id].Fields[field] == parent {
			out = append(out, id)
		}
	}
	return out
}

// view returns a row as the webservice shows it: a copy with the virtual
// fields and computed associations filled in.
func (s *Server) view(resource string, row prestashop.Object) prestashop.Object {
	return s.viewWith(resource, row, nil)
}

func (s *Server) viewWith(resource string, row prestashop.Object, idx *viewIndex) prestashop.Object {
	v := prestashop.NewObject()
	for k, x := range row.Fields {
		v.Fields[k] = x
	}
	for k, langs := range row.I18n {
		m := make(map[string]string, len(langs))
		for id, x := range langs {
			m[id] = x
		}
		v.I18n[k] = m
	}
	for k, items := range row.Assoc {
		v.Assoc[k] = items
	}
	id := row.Fields["id"]
	switch resource {
	case "products":
		v.Fields["quantity"] = "0"
		var stocks, combos []map[string]string
		for _, sid := range s.childIDs(idx, "stock_availables", "id_product", id) {
			st := s.tables["stock_availables"].rows[sid]
			stocks = append(stocks, map[string]string{"id": st.Fields["id"], "id_product_attribute": st.Fields["id_product_attribute"]})
			if st.Fields["id_product_attribute"] == "0" {
				v.Fields["quantity"] = st.Fields["quantity"]
			}
		}
		v.Fields["id_default_combination"] = "0"
		for _, cid := range s.childIDs(idx, "combinations", "id_product", id) {
			c := s.tables["combinations"].rows[cid]
			combos = append(combos, map[string]string{"id": c.Fields["id"]})
			if c.Fields["default_on"] == "1" {
				v.Fields["id_default_combination"] = c.Fields["id"]
			}
		}
		v.Assoc["stock_availables"] = stocks
		v.Assoc["combinations"] = combos
		v.Fields["manufacturer_name"] = ""
		v.Fields["id_default_image"] = ""
		v.Fields["position_in_category"] = "0"
		v.Fields["type"] = "simple"
		if len(combos) > 0 {
			v.Fields["type"] = "combinations"
		}
	case "orders":
		var rows []map[string]string
		for _, did := range s.childIDs(idx, "order_details", "id_order", id) {
			d := s.tables["order_details"].rows[did]
			rows = append(rows, map[string]string{
				"id": d.Fields["id"], "product_id": d.Fields["product_id"], "product_attribute_id": d.Fields["product_attribute_id"],
				"product_quantity": d.Fields["product_quantity"], "product_name": d.Fields["product_name"],
				"product_reference": d.Fields["product_reference"], "product_ean13": d.Fields["product_ean13"],
				"product_isbn": d.Fields["product_isbn"], "product_upc": d.Fields["product_upc"],
				"product_price": d.Fields["product_price"], "id_customization": d.Fields["id_customization"],
				"unit_price_tax_incl": d.Fields["unit_price_tax_incl"], "unit_price_tax_excl": d.Fields["unit_price_tax_excl"],
			})
		}
		v.Assoc["order_rows"] = rows
		v.Fields["shipping_number"] = ""
	}
	return v
}

type outField struct {
	name  string
	value string
	langs [][2]string // id, value
	i18n  bool
}

type outAssoc struct {
	name, item string
	fields     []string
	items      []map[string]string
	virtual    bool
}

func (s *Server) outFields(fact prestashop.ResourceFact, o prestashop.Object, d display, lang string) ([]outField, []outAssoc) {
	var fields []outField
	for _, f := range fact.Fields {
		if f.Hidden || (!d.has(f.Name) && f.Name != "id") {
			continue
		}
		if f.I18n {
			of := outField{name: f.Name, i18n: true}
			langs := o.I18n[f.Name]
			for _, lid := range s.tables["languages"].ids() {
				ls := strconv.FormatInt(lid, 10)
				if lang != "" && ls != lang {
					continue
				}
				of.langs = append(of.langs, [2]string{ls, langs[ls]})
			}
			fields = append(fields, of)
			continue
		}
		fields = append(fields, outField{name: f.Name, value: o.Fields[f.Name]})
	}
	var assocs []outAssoc
	if d.has("associations") {
		for _, a := range fact.Associations {
			if !d.full && !d.fields[a.Name] {
				continue
			}
			items, ok := o.Assoc[a.Name]
			if !ok {
				continue
			}
			names := make([]string, 0, len(a.Fields))
			for _, af := range a.Fields {
				names = append(names, af.Name)
			}
			assocs = append(assocs, outAssoc{name: a.Name, item: a.ItemNode, fields: names, items: items, virtual: a.Virtual})
		}
	}
	return fields, assocs
}

func (s *Server) renderOne(fact prestashop.ResourceFact, o prestashop.Object, d display, lang string, jsonOut bool, status int) response {
	fields, assocs := s.outFields(fact, o, d, lang)
	if jsonOut {
		var b strings.Builder
		b.WriteString("{" + jsonString(fact.Node) + ":")
		writeJSONObject(&b, fields, assocs, true)
		b.WriteString("}")
		return response{status: status, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(b.String())}
	}
	var b strings.Builder
	b.WriteString(xmlHeader + "<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n")
	s.writeXMLObject(&b, fact, fields, assocs)
	b.WriteString("</prestashop>\n")
	return response{status: status, header: http.Header{"Content-Type": {"text/xml;charset=utf-8"}}, body: []byte(b.String())}
}

func (s *Server) renderList(fact prestashop.ResourceFact, rows []prestashop.Object, d display, lang string, jsonOut bool) response {
	if jsonOut {
		if len(rows) == 0 {
			return response{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: []byte("[]")}
		}
		var b strings.Builder
		b.WriteString("{" + jsonString(fact.ListNode) + ":[")
		for i, o := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			if d.ids {
				fmt.Fprintf(&b, `{"id":%s}`, o.Fields["id"])
				continue
			}
			fields, assocs := s.outFields(fact, o, d, lang)
			writeJSONObject(&b, fields, assocs, false)
		}
		b.WriteString("]}")
		return response{status: http.StatusOK, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(b.String())}
	}
	var b strings.Builder
	b.WriteString(xmlHeader + "<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<" + fact.ListNode + ">\n")
	for _, o := range rows {
		if d.ids {
			fmt.Fprintf(&b, "\t<%s id=\"%s\" xlink:href=\"%s/api/%s/%s\"/>\n", fact.Node, o.Fields["id"], s.url, fact.Name, o.Fields["id"])
			continue
		}
		fields, assocs := s.outFields(fact, o, d, lang)
		s.writeXMLObject(&b, fact, fields, assocs)
	}
	b.WriteString("</" + fact.ListNode + ">\n</prestashop>\n")
	return response{status: http.StatusOK, header: http.Header{"Content-Type": {"text/xml;charset=utf-8"}}, body: []byte(b.String())}
}

func (s *Server) writeXMLObject(b *strings.Builder, fact prestashop.ResourceFact, fields []outField, assocs []outAssoc) {
	b.WriteString("<" + fact.Node + ">\n")
	for _, f := range fields {
		if f.i18n {
			b.WriteString("\t<" + f.name + ">")
			for _, l := range f.langs {
				fmt.Fprintf(b, "<language id=\"%s\" xlink:href=\"%s/api/languages/%s\">%s</language>", l[0], s.url, l[0], cdata(l[1]))
			}
			b.WriteString("</" + f.name + ">\n")
			continue
		}
		b.WriteString("\t<" + f.name + ">" + cdata(f.value) + "</" + f.name + ">\n")
	}
	if len(assocs) > 0 {
		b.WriteString("<associations>\n")
		for _, a := range assocs {
			if a.virtual {
				fmt.Fprintf(b, "<%s nodeType=\"%s\" virtualEntity=\"true\">\n", a.name, a.item)
			} else {
				fmt.Fprintf(b, "<%s nodeType=\"%s\" api=\"%s\">\n", a.name, a.item, a.name)
			}
			for _, it := range a.items {
				b.WriteString("\t<" + a.item + ">\n")
				for _, fn := range a.fields {
					if v, ok := it[fn]; ok {
						b.WriteString("\t\t<" + fn + ">" + cdata(v) + "</" + fn + ">\n")
					}
				}
				b.WriteString("\t</" + a.item + ">\n")
			}
			b.WriteString("</" + a.name + ">\n")
		}
		b.WriteString("</associations>\n")
	}
	b.WriteString("</" + fact.Node + ">\n")
}

// writeJSONObject writes one object like PrestaShop's JSON output: values
// as strings (id as a number), a multilingual field as [{id,value}] or a
// plain string when one language is output. With dropFalsy, "", "0" and
// empty values are left out, as array_filter does for single objects.
func writeJSONObject(b *strings.Builder, fields []outField, assocs []outAssoc, dropFalsy bool) {
	b.WriteByte('{')
	n := 0
	sep := func() {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
	}
	for _, f := range fields {
		if f.name == "id" {
			sep()
			b.WriteString(`"id":` + jsonNumberOrString(f.value))
			continue
		}
		if f.i18n {
			if len(f.langs) == 1 {
				if dropFalsy && falsy(f.langs[0][1]) {
					continue
				}
				sep()
				b.WriteString(jsonString(f.name) + ":" + jsonString(f.langs[0][1]))
				continue
			}
			sep()
			b.WriteString(jsonString(f.name) + ":[")
			for i, l := range f.langs {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(b, `{"id":%s,"value":%s}`, jsonString(l[0]), jsonString(l[1]))
			}
			b.WriteByte(']')
			continue
		}
		if dropFalsy && falsy(f.value) {
			continue
		}
		sep()
		b.WriteString(jsonString(f.name) + ":" + jsonString(f.value))
	}
	if len(assocs) > 0 {
		sep()
		b.WriteString(`"associations":{`)
		for i, a := range assocs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(jsonString(a.name) + ":[")
			for j, it := range a.items {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('{')
				k := 0
				for _, fn := range a.fields {
					v, ok := it[fn]
					if !ok {
						continue
					}
					if k > 0 {
						b.WriteByte(',')
					}
					k++
					b.WriteString(jsonString(fn) + ":" + jsonString(v))
				}
				b.WriteByte('}')
			}
			b.WriteByte(']')
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
}

func falsy(v string) bool { return v == "" || v == "0" }

func jsonNumberOrString(v string) string {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return v
	}
	return jsonString(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
