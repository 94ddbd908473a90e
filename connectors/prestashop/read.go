package prestashop

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sourcegraph/conc/pool"

	"github.com/synk-etl/synk/pipeline"
)

// Read reads a resource page by page, sorted by id. With q.Since and an
// incremental resource it reads what changed since then, less the overlap.
// Stock rows get their reference from one extra narrow list of products
// and of combinations per read; customers get their newest address from
// one addresses list per page of customers.
func (c *Connector) Read(ctx context.Context, resource string, q pipeline.ReadQuery, out pipeline.Emitter) error {
	if resource == SlipsResource {
		return c.readSlips(ctx, q, out)
	}
	sp, fact, err := c.lookup(resource)
	if err != nil {
		return err
	}
	lq := ListQuery{Display: "full", Sort: "[id_ASC]"}
	size := c.s.PageSize
	if sp.since != "" && !q.Since.IsZero() {
		lq.Date = true
		lq.Filters = map[string]string{sp.since: "[" + c.s.since(q.Since) + ",9999-12-31 23:59:59]"}
	}
	var (
		rates  map[int64]float64
		refs   stockRefs
		prep   func(context.Context, []Object) (any, error)
		states map[int64]string
	)
	switch resource {
	case "orders":
		if states, err = c.orderStates(ctx); err != nil {
			return fmt.Errorf("read orders: %w", err)
		}
		prep = func(ctx context.Context, page []Object) (any, error) {
			return c.readOrderPlaces(ctx, page)
		}
	case "products":
		if rates, err = c.TaxRates(ctx); err != nil {
			return fmt.Errorf("read products: %w", err)
		}
	case "stock_availables":
		// Read in full every run (it has no modification date), in
		// narrow pages: the record's own fields, many rows a request.
		lq.Display, size = displayOf(fact), c.narrowPageSize()
		if refs, err = c.stockReferences(ctx); err != nil {
			return fmt.Errorf("read stock_availables: %w", err)
		}
	case "customers":
		prep = func(ctx context.Context, page []Object) (any, error) {
			return c.newestAddresses(ctx, objectIDs(page))
		}
	}
	seen := map[int64]bool{}
	emit := func(page []Object, extra any) error {
		addrs, _ := extra.(map[int64]Object)
		for _, o := range page {
			rec, err := c.record(resource, fact, o, rates)
			if id, ok := rec["id"].(int64); ok && resource == "customers" {
				if seen[id] {
					continue
				}
				seen[id] = true
			}
			if err == nil {
				switch resource {
				case "stock_availables":
					rec["reference"] = refs.of(rec)
				case "orders":
					if id, ok := rec["current_state"].(int64); ok && states[id] != "" {
						rec["state_name"] = states[id]
					} else {
						rec["state_name"] = nil
					}
					places, _ := extra.(*orderPlaces)
					places.place(rec)
				case "customers":
					if a, ok := addrs[rec["id"].(int64)]; ok {
						if rec["address"], err = c.addressObject(a); err != nil {
							err = fmt.Errorf("address %s: %w", a.Fields["id"], err)
						}
					}
				}
			}
			if err != nil {
				if err := out.Reject(o.Fields["id"], o.Raw, err); err != nil {
					return err
				}
				continue
			}
			if err := out.Emit(rec); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.listPages(ctx, resource, lq, size, prep, emit); err != nil {
		return err
	}
	if resource == "customers" && lq.Date {
		return c.readReaddressed(ctx, lq.Filters[sp.since], seen, prep, emit)
	}
	return nil
}

// readReaddressed reads, after an incremental read of customers, the
// customers whose addresses changed in the same window: a customer's own
// date_upd does not move when only an address does. That costs one narrow
// addresses list, plus the customers it finds, by id.
func (c *Connector) readReaddressed(ctx context.Context, window string, seen map[int64]bool,
	prep func(context.Context, []Object) (any, error), emit func([]Object, any) error) error {
	var ids []string
	lq := ListQuery{Display: "[id,id_customer]", Sort: "[id_ASC]", Date: true, Filters: map[string]string{"date_upd": window}}
	want := map[int64]bool{}
	err := c.listPages(ctx, "addresses", lq, c.narrowPageSize(), nil, func(page []Object, _ any) error {
		for _, a := range page {
			// Addresses of manufacturers and suppliers have id_customer 0.
			id, err := strconv.ParseInt(strings.TrimSpace(a.Fields["id_customer"]), 10, 64)
			if err == nil && id > 0 && !seen[id] && !want[id] {
				want[id] = true
				ids = append(ids, strconv.FormatInt(id, 10))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read customers whose address changed: %w", err)
	}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), addressIDsPerRequest)]
		ids = ids[len(chunk):]
		lq := ListQuery{Display: "full", Sort: "[id_ASC]", Filters: map[string]string{"id": "[" + strings.Join(chunk, "|") + "]"}}
		if err := c.listPages(ctx, "customers", lq, c.s.PageSize, prep, emit); err != nil {
			return fmt.Errorf("read customers whose address changed: %w", err)
		}
	}
	return nil
}

// listAll pages through a list: one page first, so a small or unchanged
// resource costs one request, then pages in parallel.
func (c *Connector) listAll(ctx context.Context, resource string, lq ListQuery, fn func(Object) error) error {
	return c.listPages(ctx, resource, lq, c.s.PageSize, nil, func(page []Object, _ any) error {
		for _, o := range page {
			if err := fn(o); err != nil {
				return err
			}
		}
		return nil
	})
}

// listPages is listAll a page at a time, size records a page, with an
// optional per-page step (see Client.listPagesFrom).
func (c *Connector) listPages(ctx context.Context, resource string, lq ListQuery, size int,
	prep func(context.Context, []Object) (any, error), fn func([]Object, any) error) error {
	lq.Offset, lq.Limit = 0, size
	first, err := c.client.List(ctx, resource, lq)
	if err != nil {
		return fmt.Errorf("list %s page 0: %w", resource, err)
	}
	if len(first) > 0 {
		var extra any
		if prep != nil {
			if extra, err = prep(ctx, first); err != nil {
				return fmt.Errorf("list %s page 0: %w", resource, err)
			}
		}
		if err := fn(first, extra); err != nil {
			return err
		}
	}
	if len(first) < size {
		return nil
	}
	return c.client.listPagesFrom(ctx, resource, lq, size, size, c.parallel, prep, fn)
}

// widePageSize is the page size of the follow-up lists of a read: a page
// of customers' addresses, about one per customer, so that each is usually
// one request.
func (c *Connector) widePageSize() int { return 10 * c.s.PageSize }

// narrowPageSize is the page size of lists whose rows are a few small
// fields (stock rows, the [id,reference] lists behind their references):
// 50 times the page size, at most MaxPageSize, so that with the default a
// shop's 5,000 stock rows are one request.
func (c *Connector) narrowPageSize() int { return min(MaxPageSize, 50*c.s.PageSize) }

// displayOf is the display of a resource's own fields, without the
// associations that display=full adds.
func displayOf(fact ResourceFact) string {
	names := make([]string, 0, len(fact.Fields))
	for _, f := range fact.Fields {
		names = append(names, f.Name)
	}
	return "[" + strings.Join(names, ",") + "]"
}

// stockRefs resolves a stock row's reference: the combination's for a row
// with id_product_attribute != 0, else the product's.
type stockRefs struct {
	products, combinations map[int64]string
}

func (r stockRefs) of(rec pipeline.Record) any {
	p, _ := rec["id_product"].(int64)
	a, _ := rec["id_product_attribute"].(int64)
	ref, ok := r.products[p]
	if a != 0 {
		ref, ok = r.combinations[a]
	}
	if !ok {
		return nil
	}
	return ref
}

// stockReferences lists every product's and combination's reference, the
// two lists concurrently. Empty references are left out, so their rows
// read nil.
func (c *Connector) stockReferences(ctx context.Context) (stockRefs, error) {
	refs := stockRefs{products: map[int64]string{}, combinations: map[int64]string{}}
	p := pool.New().WithErrors().WithContext(ctx).WithCancelOnError()
	for _, res := range []string{"products", "combinations"} {
		m := refs.products
		if res == "combinations" {
			m = refs.combinations
		}
		p.Go(func(ctx context.Context) error {
			lq := ListQuery{Display: "[id,reference]", Sort: "[id_ASC]"}
			return c.listPages(ctx, res, lq, c.narrowPageSize(), nil, func(page []Object, _ any) error {
				for _, o := range page {
					id, err := strconv.ParseInt(strings.TrimSpace(o.Fields["id"]), 10, 64)
					if err != nil {
						return fmt.Errorf("%s id %q is not a number", res, o.Fields["id"])
					}
					if ref := o.Fields["reference"]; strings.TrimSpace(ref) != "" {
						m[id] = ref
					}
				}
				return nil
			})
		})
	}
	if err := p.Wait(); err != nil {
		return stockRefs{}, fmt.Errorf("resolve references: %w", err)
	}
	return refs, nil
}

// objectIDs are the valid ids of a page of objects.
func objectIDs(page []Object) []int64 {
	ids := make([]int64, 0, len(page))
	for _, o := range page {
		if id, err := strconv.ParseInt(strings.TrimSpace(o.Fields["id"]), 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// addressIDsPerRequest bounds the ids in one filter[id_customer]=[a|b|…],
// so the URL stays well under the 8 KiB request lines servers accept; a
// default page of 100 customers is one request.
const addressIDsPerRequest = 200

// newestAddresses returns each customer's newest (highest id) address that
// is not deleted. PrestaShop soft-deletes addresses that orders use, so a
// customer's old addresses stay in the table.
func (c *Connector) newestAddresses(ctx context.Context, customers []int64) (map[int64]Object, error) {
	newest := map[int64]Object{}
	newestID := map[int64]int64{}
	for len(customers) > 0 {
		chunk := customers[:min(len(customers), addressIDsPerRequest)]
		customers = customers[len(chunk):]
		ids := make([]string, len(chunk))
		for i, id := range chunk {
			ids[i] = strconv.FormatInt(id, 10)
		}
		lq := ListQuery{Display: "full", Sort: "[id_ASC]", Filters: map[string]string{
			"id_customer": "[" + strings.Join(ids, "|") + "]", "deleted": "[0]"}}
		err := c.listPages(ctx, "addresses", lq, c.widePageSize(), nil, func(page []Object, _ any) error {
			for _, a := range page {
				if strings.TrimSpace(a.Fields["deleted"]) == "1" {
					continue
				}
				cust, err1 := strconv.ParseInt(strings.TrimSpace(a.Fields["id_customer"]), 10, 64)
				id, err2 := strconv.ParseInt(strings.TrimSpace(a.Fields["id"]), 10, 64)
				if err1 != nil || err2 != nil {
					continue
				}
				if id > newestID[cust] {
					newest[cust], newestID[cust] = a, id
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read customers' addresses: %w", err)
		}
	}
	return newest, nil
}

// addressObject is a customers.address value: exactly the address fields
// (addressFields), nil where the shop has none.
func (c *Connector) addressObject(a Object) (map[string]any, error) {
	m, err := Typed(c.facts["addresses"], a, c.s.lang, false)
	if err != nil {
		return nil, err
	}
	return c.shapeAddress(m), nil
}

func (c *Connector) shapeAddress(m map[string]any) map[string]any {
	out := map[string]any{}
	for _, f := range addressFacts(c.facts["addresses"]) {
		out[f.Name] = m[f.Name]
	}
	return out
}

// record types an object for the pipeline: every declared field present
// (nil when the shop did not send it), multilingual fields for the
// configured language plus name_i18n, secrets dropped.
func (c *Connector) record(resource string, fact ResourceFact, o Object, rates map[int64]float64) (pipeline.Record, error) {
	m, err := Typed(fact, o, c.s.lang, false)
	if err != nil {
		return nil, err
	}
	rec := pipeline.Record(m)
	for _, f := range fact.Fields {
		if f.Hidden || hiddenField(resource, f.Name) {
			delete(rec, f.Name)
			continue
		}
		if _, ok := rec[f.Name]; !ok {
			rec[f.Name] = nil
			if f.I18n {
				rec[f.Name+"_i18n"] = nil
			}
		}
	}
	switch resource {
	case "products":
		rec["tax_rate"] = nil
		if g, ok := rec["id_tax_rules_group"].(int64); ok {
			if r, ok := rates[g]; ok {
				rec["tax_rate"] = r
			} else if g == 0 {
				rec["tax_rate"] = 0.0
			}
		}
	case "customers":
		rec["address"] = nil
	case "stock_availables":
		rec["reference"] = nil
	case "orders":
		rows := []any{}
		for i, it := range o.Assoc["order_rows"] {
			row, err := typedItem(orderRowFields(), it, nil)
			if err != nil {
				return nil, fmt.Errorf("order_rows[%d].%w", i, err)
			}
			rows = append(rows, row)
		}
		rec["order_rows"] = rows
	}
	if id, ok := rec["id"].(int64); !ok || id <= 0 {
		return nil, errors.New("record without a valid id")
	}
	return rec, nil
}

// TaxRates maps tax rules groups to the VAT rate that applies in the
// configured country, read once per connection.
func (c *Connector) TaxRates(ctx context.Context) (map[int64]float64, error) {
	c.mu.Lock()
	if c.taxRates != nil {
		defer c.mu.Unlock()
		return c.taxRates, nil
	}
	c.mu.Unlock()
	countries, err := c.client.List(ctx, "countries", ListQuery{Display: "[id,iso_code]", Filters: map[string]string{"iso_code": "[" + c.s.Country + "]"}})
	if err != nil {
		return nil, fmt.Errorf("resolve country %s: %w", c.s.Country, err)
	}
	if len(countries) == 0 {
		return nil, fmt.Errorf("resolve country %s: not in the shop", c.s.Country)
	}
	country := countries[0].Fields["id"]
	taxes := map[string]float64{}
	if err := c.listAll(ctx, "taxes", ListQuery{Display: "[id,rate]", Sort: "[id_ASC]"}, func(o Object) error {
		r, err := strconv.ParseFloat(strings.TrimSpace(o.Fields["rate"]), 64)
		if err != nil {
			return fmt.Errorf("tax %s rate %q: %w", o.Fields["id"], o.Fields["rate"], err)
		}
		taxes[o.Fields["id"]] = r
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read taxes: %w", err)
	}
	// A rule for the whole country (no state, no postcode range) wins
	// over narrower ones; the shop's own address rarely needs those.
	rates := map[int64]float64{}
	whole := map[int64]bool{}
	if err := c.listAll(ctx, "tax_rules", ListQuery{Display: "full", Sort: "[id_ASC]", Filters: map[string]string{"id_country": "[" + country + "]"}}, func(o Object) error {
		g, err := strconv.ParseInt(strings.TrimSpace(o.Fields["id_tax_rules_group"]), 10, 64)
		if err != nil {
			return fmt.Errorf("tax rule %s: bad group %q", o.Fields["id"], o.Fields["id_tax_rules_group"])
		}
		isWhole := mustZero(o.Fields["id_state"]) && mustZero(o.Fields["zipcode_from"])
		if _, seen := rates[g]; seen && (whole[g] || !isWhole) {
			return nil
		}
		rates[g] = taxes[o.Fields["id_tax"]]
		whole[g] = isWhole
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read tax rules: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.taxRates = rates
	return rates, nil
}

func mustZero(s string) bool { return strings.TrimSpace(s) == "" || strings.TrimSpace(s) == "0" }

// Languages returns the shop's language ids, read once; without
// permission on languages it falls back to the configured language.
func (c *Connector) Languages(ctx context.Context) []string {
	c.mu.Lock()
	if c.languages != nil {
		defer c.mu.Unlock()
		return c.languages
	}
	c.mu.Unlock()
	langs := []string{c.s.lang}
	objs, err := c.client.List(ctx, "languages", ListQuery{Display: "[id,active]", Sort: "[id_ASC]"})
	if err != nil {
		c.log.Warn("prestashop: cannot list languages; writing the configured language only", "error", err)
	} else {
		langs = nil
		for _, o := range objs {
			langs = append(langs, o.Fields["id"])
		}
		if len(langs) == 0 {
			langs = []string{c.s.lang}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.languages = langs
	return langs
}
