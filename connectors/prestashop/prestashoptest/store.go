package prestashoptest

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/synk-etl/synk/connectors/prestashop"
)

// className is the PHP class of a resource, for error messages.
func className(fact prestashop.ResourceFact) string {
	parts := strings.Split(fact.Node, "_")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

// parseBody decodes and checks a write body against the field facts, like
// the webservice does before it touches the object.
func (s *Server) parseBody(fact prestashop.ResourceFact, body []byte, method string) (prestashop.Object, *apiError) {
	doc, err := prestashop.DecodeXML(body)
	if err != nil {
		return prestashop.Object{}, wsErr(http.StatusInternalServerError, 127, "XML error : %v\nOriginal XML : %s", err, truncate(string(body), 200))
	}
	if len(doc.Objects) != 1 || doc.List || doc.Node != fact.Node {
		return prestashop.Object{}, wsErr(http.StatusBadRequest, 127, "XML error : expected one <%s> element under <prestashop>", fact.Node)
	}
	o := doc.Objects[0]
	_, hasID := o.Fields["id"]
	switch {
	case method == http.MethodPost && hasID:
		return o, wsErr(http.StatusBadRequest, 91, "id is forbidden when adding a new resource")
	case method != http.MethodPost && (!hasID || strings.TrimSpace(o.Fields["id"]) == ""):
		return o, wsErr(http.StatusBadRequest, 90, "id is required when modifying a resource")
	}
	cls := className(fact)
	var errs []prestashopError
	for _, name := range sortedKeys(o.Fields) {
		if name == "id" {
			continue
		}
		f, ok := fact.Field(name)
		if !ok || f.Hidden {
			return o, wsErr(http.StatusBadRequest, 123, "Parameter \"%s\" can't be set to the object \"%s\"", name, cls)
		}
		if f.ReadOnly {
			return o, wsErr(http.StatusBadRequest, 93, "parameter \"%s\" not writable. Please remove this attribute of this XML", name)
		}
		if f.I18n {
			return o, wsErr(http.StatusBadRequest, 84, "Validation error: \"%s->%s\" is multilingual; send one <language> per language", cls, name)
		}
		v, msg := normalize(f, o.Fields[name])
		if msg != "" {
			errs = append(errs, prestashopError{85, fmt.Sprintf("Validation error: \"Property %s->%s %s\"", cls, name, msg)})
			continue
		}
		o.Fields[name] = v
	}
	for _, name := range sortedKeys(o.I18n) {
		f, ok := fact.Field(name)
		if !ok || f.Hidden {
			return o, wsErr(http.StatusBadRequest, 123, "Parameter \"%s\" can't be set to the object \"%s\"", name, cls)
		}
		if f.ReadOnly {
			return o, wsErr(http.StatusBadRequest, 93, "parameter \"%s\" not writable. Please remove this attribute of this XML", name)
		}
		if !f.I18n {
			return o, wsErr(http.StatusBadRequest, 85, "Validation error: \"Property %s->%s is not multilingual\"", cls, name)
		}
		for lang, v := range o.I18n[name] {
			if _, ok := s.tables["languages"].rows[mustInt(lang)]; !ok {
				return o, wsErr(http.StatusBadRequest, 81, "language is not available")
			}
			if f.MaxSize > 0 && utf8.RuneCountInString(v) > f.MaxSize {
				errs = append(errs, prestashopError{84, fmt.Sprintf("Validation error: \"The field %s (%s) is too long (%d chars max).\"", name, lang, f.MaxSize)})
			}
		}
	}
	for name := range o.Assoc {
		a, ok := fact.Association(name)
		if !ok {
			return o, wsErr(http.StatusBadRequest, 86, "The association \"%s\" does not exists", name)
		}
		if !a.Writable {
			delete(o.Assoc, name)
		}
	}
	if method != http.MethodPatch {
		for _, f := range fact.Fields {
			if !f.Required || f.Name == "id" {
				continue
			}
			missing := false
			if f.I18n {
				missing = strings.TrimSpace(o.I18n[f.Name]["1"]) == ""
			} else {
				v, ok := o.Fields[f.Name]
				missing = !ok || strings.TrimSpace(v) == ""
			}
			if missing {
				return o, wsErr(http.StatusBadRequest, 41, "parameter \"%s\" required", f.Name)
			}
		}
	}
	if len(errs) > 0 {
		e := &apiError{status: http.StatusBadRequest}
		for _, x := range errs {
			e.items = append(e.items, prestashop.ErrorItem{Code: x.code, Message: x.msg})
		}
		return o, e
	}
	return o, nil
}

type prestashopError struct {
	code int
	msg  string
}

// normalize checks one value against its field and returns it as the
// shop stores it (floats with six decimals, bools as 0/1).
func normalize(f prestashop.FieldFact, v string) (string, string) {
	t := strings.TrimSpace(v)
	switch f.Kind {
	case prestashop.KindInt:
		if t == "" {
			return "0", ""
		}
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return "", "is not valid"
		}
		if f.Min != 0 || f.Max != 0 {
			if n < f.Min || n > f.Max {
				return "", fmt.Sprintf("is out of range [%d, %d]", f.Min, f.Max)
			}
		}
		return strconv.FormatInt(n, 10), ""
	case prestashop.KindFloat:
		if t == "" {
			return "0.000000", ""
		}
		x, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return "", "is not valid"
		}
		return strconv.FormatFloat(x, 'f', 6, 64), ""
	case prestashop.KindBool:
		switch strings.ToLower(t) {
		case "", "0", "false":
			return "0", ""
		case "1", "true":
			return "1", ""
		}
		return "", "is not valid"
	case prestashop.KindDate:
		if t == "" || strings.HasPrefix(t, "0000-00-00") {
			return t, ""
		}
		if _, err := time.Parse(prestashop.DateLayout, t); err == nil {
			return t, ""
		}
		if _, err := time.Parse("2006-01-02", t); err == nil {
			return t, ""
		}
		return "", "is not valid"
	}
	if f.MaxSize > 0 && utf8.RuneCountInString(v) > f.MaxSize {
		return "", fmt.Sprintf("length > %d", f.MaxSize)
	}
	if len(f.Enum) > 0 && v != "" {
		ok := false
		for _, e := range f.Enum {
			ok = ok || e == v
		}
		if !ok {
			return "", "is not valid"
		}
	}
	switch f.Name {
	case "ean13":
		if !allDigits(t) || len(t) > 13 {
			return "", "is not valid"
		}
	case "email":
		if at := strings.IndexByte(t, '@'); at < 1 || !strings.Contains(t[at:], ".") || strings.ContainsAny(t, " <>") {
			return "", "is not valid"
		}
	case "reference":
		if strings.ContainsAny(v, "<>;={}") {
			return "", "is not valid"
		}
	}
	return v, ""
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// zeroValue is what an unset field holds in a fresh object.
func zeroValue(f prestashop.FieldFact) string {
	switch f.Kind {
	case prestashop.KindInt, prestashop.KindBool:
		return "0"
	case prestashop.KindFloat:
		return "0.000000"
	case prestashop.KindDate:
		return "0000-00-00 00:00:00"
	}
	return ""
}

// blank returns a new stored object with every field at its zero value.
func (s *Server) blank(fact prestashop.ResourceFact) prestashop.Object {
	o := prestashop.NewObject()
	for _, f := range fact.Fields {
		if f.Kind == prestashop.KindVirtual || f.Name == "id" {
			continue
		}
		if f.I18n {
			langs := map[string]string{}
			for _, lid := range s.tables["languages"].ids() {
				langs[strconv.FormatInt(lid, 10)] = ""
			}
			o.I18n[f.Name] = langs
			continue
		}
		o.Fields[f.Name] = zeroValue(f)
	}
	return o
}

// apply copies written values into a stored object; virtual fields go to
// their hooks, server-set dates are ignored.
func apply(fact prestashop.ResourceFact, dst, src prestashop.Object) {
	for name, v := range src.Fields {
		f, ok := fact.Field(name)
		if !ok || name == "id" || f.ServerSets || f.Kind == prestashop.KindVirtual {
			continue
		}
		dst.Fields[name] = v
	}
	for name, langs := range src.I18n {
		f, _ := fact.Field(name)
		if f.Kind == prestashop.KindVirtual {
			continue
		}
		m := dst.I18n[name]
		if m == nil {
			m = map[string]string{}
			dst.I18n[name] = m
		}
		for id, v := range langs {
			m[id] = v
		}
	}
	for name, items := range src.Assoc {
		dst.Assoc[name] = items
	}
}

func (s *Server) create(fact prestashop.ResourceFact, body []byte, r *http.Request, jsonOut bool) (response, *apiError) {
	in, apiErr := s.parseBody(fact, body, http.MethodPost)
	if apiErr != nil {
		return response{}, apiErr
	}
	if fact.Name == "order_histories" {
		id, apiErr := s.setOrderState(mustInt(in.Fields["id_order"]), mustInt(in.Fields["id_order_state"]), mustInt(in.Fields["id_employee"]))
		if apiErr != nil {
			return response{}, apiErr
		}
		return s.renderOne(fact, s.view(fact.Name, s.tables[fact.Name].rows[id]), display{full: true}, "", jsonOut, http.StatusCreated), nil
	}
	o := s.blank(fact)
	apply(fact, o, in)
	if apiErr := s.beforeSave(fact, o, in, true); apiErr != nil {
		return response{}, apiErr
	}
	id := s.insert(fact.Name, o)
	return s.renderOne(fact, s.view(fact.Name, s.tables[fact.Name].rows[id]), display{full: true}, "", jsonOut, http.StatusCreated), nil
}

// insert stores a new object with its server-set fields and side rows.
func (s *Server) insert(resource string, o prestashop.Object) int64 {
	now := s.nowString()
	if _, ok := o.Fields["date_add"]; ok {
		o.Fields["date_add"] = now
	}
	if _, ok := o.Fields["date_upd"]; ok {
		o.Fields["date_upd"] = now
	}
	id := s.tables[resource].insert(o)
	switch resource {
	case "products":
		s.newStock(id, 0, 0)
	case "combinations":
		s.newStock(mustInt(o.Fields["id_product"]), id, 0)
	}
	return id
}

func (s *Server) newStock(product, attribute int64, qty int) int64 {
	st := s.blank(s.facts["stock_availables"])
	st.Fields["id_product"] = strconv.FormatInt(product, 10)
	st.Fields["id_product_attribute"] = strconv.FormatInt(attribute, 10)
	st.Fields["id_shop"] = "1"
	st.Fields["quantity"] = strconv.Itoa(qty)
	st.Fields["out_of_stock"] = "2"
	return s.tables["stock_availables"].insert(st)
}

// beforeSave runs the per-class hooks of an add or update.
func (s *Server) beforeSave(fact prestashop.ResourceFact, o, in prestashop.Object, adding bool) *apiError {
	switch fact.Name {
	case "customers":
		if pw, ok := in.Fields["passwd"]; ok && (adding || pw != o.Fields["passwd"]) {
			o.Fields["passwd"] = hashPassword(pw)
		}
		if adding {
			o.Fields["secure_key"] = s.randomHex(16)
			o.Fields["last_passwd_gen"] = s.nowString()
		}
	case "orders":
		if adding && o.Fields["reference"] == "" {
			o.Fields["reference"] = s.reference()
		}
	case "stock_availables":
		if o.Fields["depends_on_stock"] == "1" {
			return wsErr(http.StatusInternalServerError, 133, "You cannot update the available stock when it depends on stock.")
		}
	case "combinations":
		if _, ok := s.tables["products"].rows[mustInt(o.Fields["id_product"])]; !ok {
			return wsErr(http.StatusBadRequest, 85, "Validation error: \"Property Combination->id_product is not valid\"")
		}
	}
	return nil
}

// hashPassword stands in for PrestaShop's bcrypt; the plain password is
// never kept.
func hashPassword(pw string) string {
	sum := sha256.Sum256([]byte("prestashoptest:" + pw))
	return "$2y$10$" + hex.EncodeToString(sum[:])[:53]
}

func (s *Server) randomHex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

func (s *Server) reference() string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b strings.Builder
	for range 9 {
		b.WriteByte(letters[s.rng.IntN(len(letters))])
	}
	return b.String()
}

func (s *Server) update(fact prestashop.ResourceFact, method string, urlID int64, body []byte, r *http.Request, jsonOut bool) (response, *apiError) {
	in, apiErr := s.parseBody(fact, body, method)
	if apiErr != nil {
		return response{}, apiErr
	}
	id := mustInt(in.Fields["id"])
	cur, ok := s.tables[fact.Name].rows[id]
	if !ok || (urlID != 0 && urlID != id) {
		return response{}, wsErr(http.StatusNotFound, 92, "Invalid ID")
	}
	o := copyObject(cur)
	if method == http.MethodPut {
		// PUT replaces: writable fields missing from the body are reset.
		for _, f := range fact.Fields {
			if f.Name == "id" || !f.Writable() || f.Kind == prestashop.KindVirtual || in.Has(f.Name) {
				continue
			}
			if f.I18n {
				for lang := range o.I18n[f.Name] {
					o.I18n[f.Name][lang] = ""
				}
				continue
			}
			if f.Name == "passwd" {
				continue
			}
			o.Fields[f.Name] = zeroValue(f)
		}
	}
	apply(fact, o, in)
	if apiErr := s.beforeSave(fact, o, in, false); apiErr != nil {
		return response{}, apiErr
	}
	if fact.Name == "orders" {
		if st, ok := in.Fields["current_state"]; ok && st != cur.Fields["current_state"] {
			o.Fields["current_state"] = cur.Fields["current_state"]
			s.tables[fact.Name].rows[id] = o
			if _, apiErr := s.setOrderState(id, mustInt(st), 0); apiErr != nil {
				s.tables[fact.Name].rows[id] = cur
				return response{}, apiErr
			}
			o = s.tables[fact.Name].rows[id]
		}
	}
	if _, ok := o.Fields["date_upd"]; ok {
		o.Fields["date_upd"] = s.nowString()
	}
	s.tables[fact.Name].rows[id] = o
	return s.renderOne(fact, s.view(fact.Name, o), display{full: true}, "", jsonOut, http.StatusOK), nil
}

func copyObject(src prestashop.Object) prestashop.Object {
	o := prestashop.NewObject()
	for k, v := range src.Fields {
		o.Fields[k] = v
	}
	for k, langs := range src.I18n {
		m := make(map[string]string, len(langs))
		for id, v := range langs {
			m[id] = v
		}
		o.I18n[k] = m
	}
	for k, items := range src.Assoc {
		o.Assoc[k] = append([]map[string]string(nil), items...)
	}
	return o
}
