package prestashoptest

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/synk-etl/synk/connectors/prestashop"
)

// display says which fields an answer carries. ids means the list default
// (<product id="1" xlink:href=…/>).
type display struct {
	ids    bool
	full   bool
	fields map[string]bool
}

func (d display) has(name string) bool { return d.full || d.fields[name] }

func parseDisplay(fact prestashop.ResourceFact, v string, one bool) (display, *apiError) {
	switch {
	case v == "" && one, v == "full":
		return display{full: true}, nil
	case v == "":
		return display{ids: true}, nil
	}
	if !strings.HasPrefix(v, "[") || !strings.HasSuffix(v, "]") {
		return display{}, wsErr(http.StatusBadRequest, 36, "The 'display' syntax is wrong. You can set 'full' or 'name1,name2,name3,...'. However, the 'display' syntax is wrong.")
	}
	d := display{fields: map[string]bool{}}
	for _, name := range splitTop(v[1 : len(v)-1]) {
		name = strings.TrimSpace(name)
		if i := strings.IndexByte(name, '['); i > 0 {
			// association[sub1,sub2]: the association with those fields.
			name = name[:i]
			if _, ok := fact.Association(name); ok {
				d.fields["associations"] = true
				d.fields[name] = true
				continue
			}
		}
		if _, ok := fact.Association(name); ok {
			d.fields["associations"] = true
			d.fields[name] = true
			continue
		}
		f, ok := fact.Field(name)
		if !ok || f.Hidden {
			return display{}, wsErr(http.StatusBadRequest, 35, "Unable to display this field \"%s\". However, these are available: %s", name, strings.Join(fieldNames(fact), ", "))
		}
		d.fields[name] = true
	}
	return d, nil
}

// splitTop splits on commas outside brackets.
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func fieldNames(fact prestashop.ResourceFact) []string {
	var names []string
	for _, f := range fact.Fields {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	}
	return names
}

func (s *Server) parseLanguage(v string) (string, *apiError) {
	if v == "" {
		return "", nil
	}
	v = strings.Trim(v, "[]")
	if _, err := strconv.Atoi(v); err != nil {
		return "", wsErr(http.StatusBadRequest, 79, "language value is wrong")
	}
	if _, ok := s.tables["languages"].rows[mustInt(v)]; !ok {
		return "", wsErr(http.StatusBadRequest, 81, "language is not available")
	}
	return v, nil
}

type filterOp int

const (
	opEq filterOp = iota
	opOr
	opBetween
	opGT
	opLT
	opPrefix
	opSuffix
	opContains
)

type filter struct {
	field  prestashop.FieldFact
	op     filterOp
	values []string
	not    bool
}

type sortKey struct {
	field string
	desc  bool
}

type listQuery struct {
	display display
	filters []filter
	sort    []sortKey
	offset  int
	limit   int
	lang    string
}

// isBetween reports a "a,b" filter PrestaShop reads as BETWEEN: only
// digits, dots, colons, dashes and spaces around one comma.
func isBetween(s string) bool {
	a, b, ok := strings.Cut(s, ",")
	okPart := func(p string) bool {
		if p == "" {
			return false
		}
		for _, c := range p {
			if !(c >= '0' && c <= '9' || c == '.' || c == ':' || c == '-' || c == ' ') {
				return false
			}
		}
		return true
	}
	return ok && okPart(a) && okPart(b)
}

// parseLimit reads "n" or "offset,n".
func parseLimit(v string) (offset, limit int, ok bool) {
	a, b, two := strings.Cut(v, ",")
	x, err := strconv.Atoi(strings.TrimSpace(a))
	if err != nil || x < 0 {
		return 0, 0, false
	}
	if !two {
		return 0, x, true
	}
	y, err := strconv.Atoi(strings.TrimSpace(b))
	if err != nil || y < 0 {
		return 0, 0, false
	}
	return x, y, true
}

// parseSortKey reads "field_ASC" or "field_DESC".
func parseSortKey(v string) (sortKey, bool) {
	for _, dir := range []string{"_ASC", "_DESC"} {
		if f, ok := strings.CutSuffix(v, dir); ok && f != "" {
			return sortKey{field: f, desc: dir == "_DESC"}, true
		}
	}
	return sortKey{}, false
}

func isDateField(name string) bool { return name == "date_add" || name == "date_upd" }

func (s *Server) parseListQuery(fact prestashop.ResourceFact, q url.Values) (listQuery, *apiError) {
	lq := listQuery{limit: -1}
	var apiErr *apiError
	if lq.display, apiErr = parseDisplay(fact, q.Get("display"), false); apiErr != nil {
		return lq, apiErr
	}
	if lq.lang, apiErr = s.parseLanguage(q.Get("language")); apiErr != nil {
		return lq, apiErr
	}
	dates := q.Get("date") == "1"
	available := func() []string {
		var names []string
		for _, f := range fact.Fields {
			if !f.Hidden && !f.NotFilterable && (dates || !isDateField(f.Name)) {
				names = append(names, f.Name)
			}
		}
		return names
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "filter[") || !strings.HasSuffix(k, "]") {
			continue
		}
		name := k[len("filter[") : len(k)-1]
		f, ok := fact.Field(name)
		if !ok || f.Hidden || (isDateField(name) && !dates) {
			return lq, wsErr(http.StatusBadRequest, 32, "This filter does not exist. Did you mean: \"%s\"? The full list is: \"%s\"",
				closest(name, available()), strings.Join(available(), "\", \""))
		}
		if f.NotFilterable {
			return lq, wsErr(http.StatusBadRequest, 34, "The field \"%s\" is dynamic. It is not possible to filter GET query with this field.", name)
		}
		flt, ok := parseFilter(f, q.Get(k))
		if !ok {
			return lq, wsErr(http.StatusBadRequest, 33, "The filter \"%s\" is malformed.", name)
		}
		lq.filters = append(lq.filters, flt)
	}
	if v := q.Get("sort"); v != "" {
		for _, part := range strings.Split(strings.Trim(v, "[]"), ",") {
			k, ok := parseSortKey(strings.TrimSpace(part))
			if !ok {
				return lq, wsErr(http.StatusBadRequest, 37, "The \"sort\" value has to be formed as this example: \"field_ASC\" or '[field_1_DESC,field_2_ASC,field_3_ASC,...]' (\"field\" has to be an available field)")
			}
			f, ok := fact.Field(k.field)
			if !ok || f.Hidden || f.NotFilterable || (isDateField(k.field) && !dates) {
				return lq, wsErr(http.StatusBadRequest, 37, "Unable to filter by this field. However, these are available: %s", strings.Join(available(), ", "))
			}
			lq.sort = append(lq.sort, k)
		}
	}
	if v := q.Get("limit"); v != "" {
		off, n, ok := parseLimit(v)
		if !ok {
			return lq, wsErr(http.StatusBadRequest, 39, "The \"limit\" value has to be formed as this example: \"5,25\" or \"10\"")
		}
		lq.offset, lq.limit = off, n
	}
	return lq, nil
}

func parseFilter(f prestashop.FieldFact, v string) (filter, bool) {
	flt := filter{field: f}
	if !strings.ContainsAny(v, "[]") {
		flt.values = []string{v}
		return flt, true
	}
	if strings.HasPrefix(v, "!") {
		flt.not = true
		v = v[1:]
	}
	switch {
	case strings.HasPrefix(v, ">["):
		flt.op, v = opGT, v[1:]
	case strings.HasPrefix(v, "<["):
		flt.op, v = opLT, v[1:]
	case strings.HasPrefix(v, "%[") && strings.HasSuffix(v, "]%"):
		flt.op, v = opContains, v[1:len(v)-1]
	case strings.HasPrefix(v, "%["):
		flt.op, v = opSuffix, v[1:]
	case strings.HasSuffix(v, "]%"):
		flt.op, v = opPrefix, v[:len(v)-1]
	}
	if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
		return flt, false
	}
	inner := v[1 : len(v)-1]
	if strings.ContainsAny(inner, "[]") {
		return flt, false
	}
	if flt.op != opEq {
		flt.values = []string{inner}
		return flt, true
	}
	switch {
	case strings.Contains(inner, "|"):
		flt.op, flt.values = opOr, strings.Split(inner, "|")
	case isBetween(inner):
		parts := strings.SplitN(inner, ",", 2)
		if compareValues(parts[0], parts[1]) > 0 {
			parts[0], parts[1] = parts[1], parts[0]
		}
		flt.op, flt.values = opBetween, parts
	default:
		flt.values = []string{inner}
	}
	return flt, true
}

// compareValues compares like MySQL does for our columns: numerically when
// both sides are numbers, else as case-insensitive text.
func compareValues(a, b string) int {
	x, errA := strconv.ParseFloat(strings.TrimSpace(a), 64)
	y, errB := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func (f filter) matchValue(v string) bool {
	lv := strings.ToLower(v)
	switch f.op {
	case opEq:
		return compareValues(v, f.values[0]) == 0
	case opOr:
		for _, want := range f.values {
			if compareValues(v, want) == 0 {
				return true
			}
		}
		return false
	case opBetween:
		return compareValues(v, f.values[0]) >= 0 && compareValues(v, f.values[1]) <= 0
	case opGT:
		return compareValues(v, f.values[0]) > 0
	case opLT:
		return compareValues(v, f.values[0]) < 0
	case opPrefix:
		return strings.HasPrefix(lv, strings.ToLower(f.values[0]))
	case opSuffix:
		return strings.HasSuffix(lv, strings.ToLower(f.values[0]))
	case opContains:
		return strings.Contains(lv, strings.ToLower(f.values[0]))
	}
	return false
}

func (f filter) match(o prestashop.Object) bool {
	var hit bool
	if f.field.I18n {
		for _, v := range o.I18n[f.field.Name] {
			if f.matchValue(v) {
				hit = true
				break
			}
		}
	} else {
		hit = f.matchValue(o.Fields[f.field.Name])
	}
	return hit != f.not
}

func (lq listQuery) match(o prestashop.Object) bool {
	for _, f := range lq.filters {
		if !f.match(o) {
			return false
		}
	}
	return true
}

func (lq listQuery) sortRows(rows []prestashop.Object) {
	if len(lq.sort) == 0 {
		return
	}
	value := func(o prestashop.Object, field string) string {
		if langs, ok := o.I18n[field]; ok {
			return langs["1"]
		}
		return o.Fields[field]
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for _, k := range lq.sort {
			c := compareValues(value(rows[i], k.field), value(rows[j], k.field))
			if c == 0 {
				continue
			}
			if k.desc {
				return c > 0
			}
			return c < 0
		}
		return false
	})
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}
