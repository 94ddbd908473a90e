package prestashop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

func parseID(resource, key string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(key), 10, 64)
	if err != nil || id <= 0 {
		return 0, &pipeline.RecordError{Resource: resource, Key: key, Err: fmt.Errorf("key %q is not a PrestaShop id", key)}
	}
	return id, nil
}

// recordErr turns refusals a retry cannot fix into a RecordError.
func recordErr(resource, key string, err error) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.Status == http.StatusBadRequest, apiErr.Status == http.StatusNotFound,
			apiErr.Status == http.StatusMethodNotAllowed, apiErr.Code == 133, apiErr.Code == 127:
			return &pipeline.RecordError{Resource: resource, Key: key, Err: err}
		}
	}
	return err
}

// buildObject turns a Set into webservice fields: unknown fields are an
// error, read-only and server-set ones are dropped (never sent), a
// multilingual value goes to the configured language.
func (c *Connector) buildObject(sp resSpec, fact ResourceFact, set pipeline.Record) (Object, error) {
	o := NewObject()
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := set[k]
		name, all := strings.CutSuffix(k, "_i18n")
		f, ok := fact.Field(name)
		if !ok || (all && !f.I18n) {
			if computedField(sp.name, k) {
				continue
			}
			return Object{}, fmt.Errorf("%s has no field %q", sp.name, k)
		}
		if !sp.writableField(f) {
			c.log.Debug("prestashop: not writing a read-only field", "resource", sp.name, "field", k)
			continue
		}
		if f.I18n {
			langs := o.I18n[name]
			if langs == nil {
				langs = map[string]string{}
				o.I18n[name] = langs
			}
			if all {
				m, ok := v.(map[string]any)
				if !ok && v != nil {
					return Object{}, fmt.Errorf("%s: want an object of language id → text, got %T", k, v)
				}
				for id, x := range m {
					s, err := FormatValue(x)
					if err != nil {
						return Object{}, fmt.Errorf("%s[%s]: %w", k, id, err)
					}
					if _, set := langs[id]; !set || id != c.s.lang {
						langs[id] = s
					}
				}
				continue
			}
			s, err := FormatValue(v)
			if err != nil {
				return Object{}, fmt.Errorf("%s: %w", k, err)
			}
			langs[c.s.lang] = s
			continue
		}
		s, err := FormatValue(v)
		if err != nil {
			return Object{}, fmt.Errorf("%s: %w", k, err)
		}
		o.Fields[name] = s
	}
	return o, nil
}

func fieldNames(fact ResourceFact) []string {
	names := make([]string, len(fact.Fields))
	for i, f := range fact.Fields {
		names[i] = f.Name
	}
	return names
}

// Create creates a record. Products get every shop language filled from
// the written one and a link_rewrite; customers get a random password
// (never kept) and, with an "address" object, their first address.
func (c *Connector) Create(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	sp, fact, err := c.lookup(w.Resource)
	if err != nil {
		return nil, err
	}
	if !sp.create {
		return nil, &pipeline.RecordError{Resource: w.Resource, Err: fmt.Errorf("synk does not create %s in PrestaShop", w.Resource)}
	}
	o, err := c.buildObject(sp, fact, w.Set)
	if err != nil {
		return nil, &pipeline.RecordError{Resource: w.Resource, Key: w.IdempotencyKey, Err: err}
	}
	addr, err := c.addressSet(w.Resource, w.Set)
	if err != nil {
		return nil, &pipeline.RecordError{Resource: w.Resource, Key: w.IdempotencyKey, Err: err}
	}
	if len(o.I18n) > 0 {
		langs := c.Languages(ctx)
		for _, m := range o.I18n {
			v := m[c.s.lang]
			for _, id := range langs {
				if _, ok := m[id]; !ok {
					m[id] = v
				}
			}
		}
	}
	switch w.Resource {
	case "products":
		if _, ok := o.I18n["link_rewrite"]; !ok {
			if names, ok := o.I18n["name"]; ok {
				lr := map[string]string{}
				for id, n := range names {
					lr[id] = Slug(n)
				}
				o.I18n["link_rewrite"] = lr
			}
		}
	case "customers":
		if _, ok := o.Fields["active"]; !ok {
			o.Fields["active"] = "1"
		}
		o.Fields["passwd"] = randomPassword()
	}
	saved, err := c.client.Create(ctx, w.Resource, fact.Node, o, fieldNames(fact))
	if err != nil {
		return nil, recordErr(w.Resource, w.IdempotencyKey, fmt.Errorf("create %s: %w", w.Resource, err))
	}
	rec, err := c.record(w.Resource, fact, saved, nil)
	if err != nil {
		return nil, fmt.Errorf("create %s: decode answer: %w", w.Resource, err)
	}
	if w.Resource == "products" {
		c.fillTaxRate(ctx, rec)
	}
	if addr != nil {
		a, err := c.createAddress(ctx, rec, addr)
		if a, err = c.retryAddress(ctx, rec, addr, a, err); err != nil {
			// The customer exists; the address can be created through the
			// addresses resource. Failing here would make a retry look for
			// a customer that is already there.
			c.log.Warn("prestashop: customer created without its address", "customer", rec["id"], "error", err)
		} else {
			rec["address"] = a
		}
	}
	return rec, nil
}

func (c *Connector) fillTaxRate(ctx context.Context, rec pipeline.Record) {
	rates, err := c.TaxRates(ctx)
	if err != nil {
		return
	}
	if g, ok := rec["id_tax_rules_group"].(int64); ok {
		if r, ok := rates[g]; ok {
			rec["tax_rate"] = r
		}
	}
}

// addressSet is the customers.address a write sets, checked before any
// request: nil when it sets none (or sets it to nil), an error for a value
// that is not an object or names a field addresses lack. Its id and
// id_customer are synk's to keep, so they are dropped.
func (c *Connector) addressSet(resource string, set pipeline.Record) (pipeline.Record, error) {
	v, ok := set["address"]
	if resource != "customers" || !ok || v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("address: want an object of address fields, got %T", v)
	}
	out := pipeline.Record{}
	for k, x := range m {
		if k != "id" && k != "id_customer" {
			out[k] = x
		}
	}
	if _, err := c.buildObject(c.specs["addresses"], c.facts["addresses"], out); err != nil {
		return nil, fmt.Errorf("address: %w", err)
	}
	return out, nil
}

// createAddress creates a customer's address, with the customer's names
// and the alias "Min adresse" unless addr sets them, and returns it as a
// customers.address value.
func (c *Connector) createAddress(ctx context.Context, customer pipeline.Record, addr pipeline.Record) (map[string]any, error) {
	set := pipeline.Record{}
	for k, v := range addr {
		set[k] = v
	}
	set["id_customer"] = customer["id"]
	for _, k := range []string{"firstname", "lastname"} {
		if _, ok := set[k]; !ok {
			set[k] = customer[k]
		}
	}
	if _, ok := set["alias"]; !ok {
		set["alias"] = "Min adresse"
	}
	rec, err := c.Create(ctx, pipeline.Write{Resource: "addresses", Set: set})
	if err != nil {
		return nil, err
	}
	return c.shapeAddress(rec), nil
}

// retryAddress tries a customer's address again, twice at most, when a
// first attempt (which gave a, err) failed on a cut connection: the
// address may exist all the same, so writeAddress looks before it creates.
func (c *Connector) retryAddress(ctx context.Context, customer, addr pipeline.Record, a map[string]any, err error) (map[string]any, error) {
	var re *pipeline.RecordError
	for attempt := 0; err != nil && !errors.As(err, &re) && ctx.Err() == nil && attempt < 2; attempt++ {
		a, err = c.writeAddress(ctx, customer, addr)
	}
	return a, err
}

// writeAddress makes a customer's newest address say addr: it PATCHes (PUTs
// on 1.7) only the fields that differ, writes nothing when none do, and
// creates the address when the customer has none.
func (c *Connector) writeAddress(ctx context.Context, customer pipeline.Record, addr pipeline.Record) (map[string]any, error) {
	id, _ := customer["id"].(int64)
	found, err := c.newestAddresses(ctx, []int64{id})
	if err != nil {
		return nil, err
	}
	live, ok := found[id]
	if !ok {
		return c.createAddress(ctx, customer, addr)
	}
	fact := c.facts["addresses"]
	diff := pipeline.Record{}
	for k, v := range addr {
		f, _ := fact.Field(k)
		s, err := FormatValue(v)
		if err != nil {
			return nil, &pipeline.RecordError{Resource: "addresses", Key: live.Fields["id"], Err: fmt.Errorf("%s: %w", k, err)}
		}
		if !sameText(f, s, live.Fields[k]) {
			diff[k] = v
		}
	}
	if len(diff) == 0 {
		return c.addressObject(live)
	}
	addrID, err := parseID("addresses", live.Fields["id"])
	if err != nil {
		return nil, err
	}
	saved, err := c.updateFields(ctx, c.specs["addresses"], fact, addrID, diff)
	if err != nil {
		return nil, err
	}
	return c.addressObject(saved)
}

// sameText compares a value to write with the stored text: numbers and
// flags by value (an empty int is 0), text exactly.
func sameText(f FieldFact, a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	switch f.Kind {
	case KindInt, KindFloat, KindBool:
		if a == "" {
			a = "0"
		}
		if b == "" {
			b = "0"
		}
		x, errA := strconv.ParseFloat(a, 64)
		y, errB := strconv.ParseFloat(b, 64)
		if errA == nil && errB == nil {
			return x == y
		}
	}
	return a == b
}

// randomPassword is a customer's first password: random, sent once, never
// stored or logged; customers set their own through "forgot password".
func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Slug makes a link_rewrite from a name.
func Slug(s string) string {
	r := strings.NewReplacer("æ", "ae", "ø", "o", "å", "a", "Æ", "ae", "Ø", "o", "Å", "a", "ä", "a", "ö", "o", "ü", "u", "é", "e")
	s = strings.ToLower(r.Replace(s))
	var b strings.Builder
	dash := false
	for _, ch := range s {
		if ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' {
			b.WriteRune(ch)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimSuffix(b.String(), "-")
	if len(out) > 128 {
		out = strings.TrimSuffix(out[:128], "-")
	}
	return out
}

// Update writes the changed fields: PATCH on 8.x; on 1.7 a full PUT of
// the live record (read again first) with the changes merged in. Stock is
// refused while it depends on stock; an order's current_state goes
// through order_histories, and only when it differs from the live order.
func (c *Connector) Update(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	sp, fact, err := c.lookup(w.Resource)
	if err != nil {
		return nil, err
	}
	if !sp.update {
		return nil, &pipeline.RecordError{Resource: w.Resource, Key: w.Key, Err: fmt.Errorf("synk does not update %s in PrestaShop", w.Resource)}
	}
	id, err := parseID(w.Resource, w.Key)
	if err != nil {
		return nil, err
	}
	set := pipeline.Record{}
	for k, v := range w.Set {
		set[k] = v
	}
	switch w.Resource {
	case "orders":
		for _, f := range []string{"current_state", "state_name"} {
			st, ok := set[f]
			if !ok {
				continue
			}
			delete(set, f)
			if err := c.SetOrderState(ctx, id, st); err != nil {
				return nil, recordErr(w.Resource, w.Key, err)
			}
		}
	case "stock_availables":
		live, found, err := c.client.Get(ctx, w.Resource, id)
		if err != nil {
			return nil, fmt.Errorf("update stock %d: %w", id, err)
		}
		if !found {
			return nil, &pipeline.RecordError{Resource: w.Resource, Key: w.Key, Err: errors.New("stock row not found")}
		}
		if strings.TrimSpace(live.Fields["depends_on_stock"]) == "1" {
			return nil, &pipeline.RecordError{Resource: w.Resource, Key: w.Key, Err: fmt.Errorf(
				"stock of product %s is managed by advanced stock management (depends_on_stock=1); PrestaShop refuses quantity changes through the webservice",
				live.Fields["id_product"])}
		}
	case "customers":
		delete(set, "address")
	}
	addr, err := c.addressSet(w.Resource, w.Set)
	if err != nil {
		return nil, &pipeline.RecordError{Resource: w.Resource, Key: w.Key, Err: err}
	}
	var rec pipeline.Record
	if cur := w.Current; addr != nil && len(set) == 0 && cur != nil && cur["id"] == id {
		// Only the address changes: the customer as the engine just read
		// it is enough, which saves reading it again.
		rec = maps.Clone(cur)
	} else {
		saved, err := c.updateFields(ctx, sp, fact, id, set)
		if err != nil {
			return nil, recordErr(w.Resource, w.Key, err)
		}
		if rec, err = c.record(w.Resource, fact, saved, nil); err != nil {
			return nil, fmt.Errorf("update %s %d: decode answer: %w", w.Resource, id, err)
		}
	}
	switch w.Resource {
	case "products":
		c.fillTaxRate(ctx, rec)
	case "stock_availables":
		// A write never changes what the row counts, so its reference is
		// the one the engine read.
		rec["reference"] = w.Current["reference"]
	}
	if addr != nil {
		// After the customer, so a new address gets its current names.
		a, err := c.writeAddress(ctx, rec, addr)
		if err != nil {
			return nil, recordErr(w.Resource, w.Key, fmt.Errorf("update customer %d address: %w", id, err))
		}
		rec["address"] = a
	}
	return rec, nil
}

// updateFields writes set to the record id and returns it as saved; with
// nothing writable in set it only reads the record.
func (c *Connector) updateFields(ctx context.Context, sp resSpec, fact ResourceFact, id int64, set pipeline.Record) (Object, error) {
	o, err := c.buildObject(sp, fact, set)
	if err != nil {
		return Object{}, &pipeline.RecordError{Resource: sp.name, Key: strconv.FormatInt(id, 10), Err: err}
	}
	if len(o.Fields) == 0 && len(o.I18n) == 0 {
		live, found, err := c.client.Get(ctx, sp.name, id)
		if err != nil {
			return Object{}, err
		}
		if !found {
			return Object{}, &APIError{Status: http.StatusNotFound, Method: http.MethodGet, Path: fmt.Sprintf("/api/%s/%d", sp.name, id)}
		}
		return live, nil
	}
	patch, err := c.client.SupportsPatch(ctx)
	if err != nil {
		return Object{}, err
	}
	o.Fields["id"] = strconv.FormatInt(id, 10)
	if patch {
		saved, err := c.client.Patch(ctx, sp.name, fact.Node, o, fieldNames(fact))
		if err != nil {
			return Object{}, fmt.Errorf("update %s %d: %w", sp.name, id, err)
		}
		return saved, nil
	}
	live, found, err := c.client.Get(ctx, sp.name, id)
	if err != nil {
		return Object{}, fmt.Errorf("update %s %d: read before PUT: %w", sp.name, id, err)
	}
	if !found {
		return Object{}, &APIError{Status: http.StatusNotFound, Method: http.MethodGet, Path: fmt.Sprintf("/api/%s/%d", sp.name, id)}
	}
	full := putBody(fact, live)
	for k, v := range o.Fields {
		full.Fields[k] = v
	}
	for k, langs := range o.I18n {
		m := full.I18n[k]
		if m == nil {
			m = map[string]string{}
			full.I18n[k] = m
		}
		for id, v := range langs {
			m[id] = v
		}
	}
	saved, err := c.client.Put(ctx, sp.name, fact.Node, full, fieldNames(fact))
	if err != nil {
		return Object{}, fmt.Errorf("update %s %d: %w", sp.name, id, err)
	}
	return saved, nil
}

// putBody keeps what a full PUT may carry from a live record: the id and
// every writable stored field, all languages; read-only, virtual, hidden
// and server-set fields are left out.
func putBody(fact ResourceFact, live Object) Object {
	o := NewObject()
	o.Fields["id"] = live.Fields["id"]
	for _, f := range fact.Fields {
		if f.Name == "id" || !f.Writable() || f.Kind == KindVirtual {
			continue
		}
		if f.I18n {
			if langs, ok := live.I18n[f.Name]; ok {
				m := make(map[string]string, len(langs))
				for id, v := range langs {
					m[id] = v
				}
				o.I18n[f.Name] = m
			}
			continue
		}
		if v, ok := live.Fields[f.Name]; ok {
			o.Fields[f.Name] = v
		}
	}
	return o
}

// Delete deletes a record; one already gone counts as deleted.
func (c *Connector) Delete(ctx context.Context, w pipeline.Write) error {
	sp, _, err := c.lookup(w.Resource)
	if err != nil {
		return err
	}
	if !sp.delete {
		return &pipeline.RecordError{Resource: w.Resource, Key: w.Key, Err: fmt.Errorf("synk does not delete %s in PrestaShop", w.Resource)}
	}
	id, err := parseID(w.Resource, w.Key)
	if err != nil {
		return err
	}
	err = c.client.Delete(ctx, w.Resource, id)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return nil
	}
	if err != nil {
		return recordErr(w.Resource, w.Key, fmt.Errorf("delete %s %d: %w", w.Resource, id, err))
	}
	return nil
}
