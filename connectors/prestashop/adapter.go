package prestashop

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sourcegraph/conc/pool"

	"github.com/synk-etl/synk/pipeline"
)

// Register adds the "prestashop" connector type.
func Register(reg *pipeline.Registry) {
	reg.Register(pipeline.ConnectorType{
		Name:      "prestashop",
		NewConfig: func() any { return &Config{} },
		Resources: func(config any) ([]pipeline.Resource, error) {
			cfg, ok := config.(*Config)
			if !ok {
				return nil, fmt.Errorf("prestashop: config is %T, want *prestashop.Config", config)
			}
			res := Resources()
			for i := range res {
				if res[i].ModifiedField != "" && cfg.Timezone != "" {
					res[i].ModifiedZone = cfg.Timezone
				}
			}
			return res, nil
		},
		Open: func(ctx context.Context, env pipeline.Env, config any) (pipeline.Connector, error) {
			cfg, ok := config.(*Config)
			if !ok {
				return nil, fmt.Errorf("prestashop: config is %T, want *prestashop.Config", config)
			}
			return Open(ctx, env, cfg)
		},
		DefaultLimits: pipeline.Limits{MaxInFlight: DefaultConcurrency},
	})
}

// resSpec is how synk uses one webservice resource.
type resSpec struct {
	name string
	// since is the date field incremental reads filter on ("" = full reads).
	since                  string
	create, update, delete bool
	active                 string
	// writable limits the fields a sink writes; nil = every field the
	// facts allow.
	writable []string
}

func specs() []resSpec {
	return []resSpec{
		{name: "products", since: "date_upd", create: true, update: true, delete: true, active: "active"},
		{name: "combinations", create: true, update: true, delete: true},
		{name: "stock_availables", update: true, writable: []string{"quantity", "out_of_stock", "location"}},
		{name: "customers", since: "date_upd", create: true, update: true, delete: true, active: "active"},
		{name: "addresses", since: "date_upd", create: true, update: true, delete: true},
		{name: "orders", since: "date_upd", update: true, writable: []string{"current_state", "note"}},
		{name: "order_details"},
		{name: "order_states", create: true, update: true},
		{name: "order_histories", since: "date_add", create: true},
		{name: "order_payments", since: "date_add"},
		{name: "currencies"},
		{name: "countries"},
		{name: "taxes"},
		{name: "tax_rules"},
		{name: "tax_rule_groups", since: "date_upd"},
	}
}

// hiddenFields are read but never exposed: password hashes and tokens.
func hiddenField(resource, field string) bool {
	switch field {
	case "passwd", "secure_key", "reset_password_token", "reset_password_validity", "last_passwd_gen":
		return resource == "customers" || resource == "orders"
	}
	return false
}

// computedField reports the fields synk adds to a resource's records;
// they are never sent as such (customers.address is written by Create and
// Update through the addresses resource).
func computedField(resource, field string) bool {
	switch resource + "." + field {
	case "products.tax_rate", "orders.order_rows", "orders.state_name", "orders.currency", "orders.delivery_country", "customers.address", "stock_availables.reference":
		return true
	}
	return false
}

// orderRowFields are the element fields of orders.order_rows.
func orderRowFields() []pipeline.Field {
	return []pipeline.Field{
		{Name: "id", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_id", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_attribute_id", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_quantity", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_name", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_reference", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_ean13", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_isbn", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_upc", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_price", Type: pipeline.TypeFloat, ReadOnly: true},
		{Name: "id_customization", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "unit_price_tax_incl", Type: pipeline.TypeFloat, ReadOnly: true},
		{Name: "unit_price_tax_excl", Type: pipeline.TypeFloat, ReadOnly: true},
	}
}

// addressFields are the members of customers.address: the address fields
// a customer's address can be written with (not its id or id_customer,
// which synk keeps).
func addressFields() []pipeline.Field {
	var out []pipeline.Field
	for _, f := range addressFacts(Facts()["addresses"]) {
		out = append(out, pipeline.Field{Name: f.Name, Type: f.PipelineType()})
	}
	return out
}

func addressFacts(fact ResourceFact) []FieldFact {
	var out []FieldFact
	for _, f := range fact.Fields {
		if f.Writable() && f.Name != "id" && f.Name != "id_customer" && f.Kind != KindVirtual {
			out = append(out, f)
		}
	}
	return out
}

// Resources declares the resources and typed fields; no I/O.
func Resources() []pipeline.Resource {
	facts := Facts()
	var out []pipeline.Resource
	for _, sp := range specs() {
		fact := facts[sp.name]
		r := pipeline.Resource{Name: sp.name, Key: "id", Incremental: sp.since != "",
			Create: sp.create, Update: sp.update, Delete: sp.delete, ActiveField: sp.active}
		if _, ok := fact.Field("date_upd"); ok {
			// The shop's local time to the second, no zone in the value:
			// the connection's timezone (default Europe/Oslo) says which.
			r.ModifiedField, r.ModifiedZone = "date_upd", DefaultTimezone
		}
		for _, f := range fact.Fields {
			if f.Hidden || hiddenField(sp.name, f.Name) {
				continue
			}
			ro := !sp.writableField(f)
			r.Fields = append(r.Fields, pipeline.Field{Name: f.Name, Type: f.PipelineType(), ReadOnly: ro})
			if f.I18n {
				r.Fields = append(r.Fields, pipeline.Field{Name: f.Name + "_i18n", Type: pipeline.TypeObject, ReadOnly: ro})
			}
		}
		switch sp.name {
		case "products":
			r.Fields = append(r.Fields, pipeline.Field{Name: "tax_rate", Type: pipeline.TypeFloat, ReadOnly: true})
		case "orders":
			r.Fields = append(r.Fields, pipeline.Field{Name: "order_rows", Type: pipeline.TypeList, ReadOnly: true, Fields: orderRowFields()},
				// The current state's name; writing a name sets the state,
				// creating it in the shop if missing (see SetOrderState).
				pipeline.Field{Name: "state_name", Type: pipeline.TypeString},
				// The order's currency (ISO 4217) and the country its goods
				// were delivered to (ISO 3166 alpha-2): see orderplace.go.
				pipeline.Field{Name: "currency", Type: pipeline.TypeString, ReadOnly: true},
				pipeline.Field{Name: "delivery_country", Type: pipeline.TypeString, ReadOnly: true})
		case "customers":
			r.Fields = append(r.Fields, pipeline.Field{Name: "address", Type: pipeline.TypeObject, Fields: addressFields()})
		case "stock_availables":
			r.Fields = append(r.Fields, pipeline.Field{Name: "reference", Type: pipeline.TypeString, ReadOnly: true})
		}
		out = append(out, r)
	}
	return append(out, slipResource())
}

func (sp resSpec) writableField(f FieldFact) bool {
	if f.Name == "id" || !f.Writable() || f.Kind == KindVirtual || !(sp.create || sp.update) {
		return false
	}
	if sp.writable == nil {
		return true
	}
	for _, w := range sp.writable {
		if w == f.Name {
			return true
		}
	}
	return false
}

// Connector is an open PrestaShop connection. It implements
// pipeline.Source, Sink, Finder, Getter and Checker.
type Connector struct {
	client   *Client
	s        settings
	facts    map[string]ResourceFact
	specs    map[string]resSpec
	log      *slog.Logger
	parallel int

	mu       sync.Mutex
	taxRates map[int64]float64
	// currencyCodes and countryCodes map the shop's ids to ISO codes,
	// read once per connection (see orderplace.go).
	currencyCodes, countryCodes map[int64]string
	languages                   []string

	stateMu sync.Mutex
	states  map[string]int64 // order state name → id, found or created
}

// Open opens a connection; it makes no request.
func Open(_ context.Context, env pipeline.Env, cfg *Config) (*Connector, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, fmt.Errorf("prestashop %s: %w", env.Connection, err)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	parallel := s.Concurrency
	if env.Limiter != nil {
		if m := env.Limiter.Limits().MaxInFlight; m > 0 {
			parallel = m
		}
	}
	c := &Connector{
		client:   NewClient(env.HTTP, s.URL, s.Key, ClientOptions{Auth: s.Auth, Shop: s.Shop}),
		s:        s,
		facts:    Facts(),
		specs:    map[string]resSpec{},
		log:      log,
		parallel: parallel,
		states:   map[string]int64{},
	}
	for _, sp := range specs() {
		c.specs[sp.name] = sp
	}
	return c, nil
}

// Client returns the connection's webservice client.
func (c *Connector) Client() *Client { return c.client }

func (c *Connector) lookup(resource string) (resSpec, ResourceFact, error) {
	sp, ok := c.specs[resource]
	if !ok {
		return resSpec{}, ResourceFact{}, fmt.Errorf("prestashop: unknown resource %q", resource)
	}
	return sp, c.facts[resource], nil
}

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

func kindOf(t pipeline.FieldType) Kind {
	switch t {
	case pipeline.TypeInt:
		return KindInt
	case pipeline.TypeFloat:
		return KindFloat
	case pipeline.TypeBool:
		return KindBool
	}
	return KindString
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
		var re *pipeline.RecordError
		for attempt := 0; err != nil && !errors.As(err, &re) && ctx.Err() == nil && attempt < 2; attempt++ {
			// A cut connection: the address may exist all the same, so
			// writeAddress looks before it creates.
			a, err = c.writeAddress(ctx, rec, addr)
		}
		if err != nil {
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

// SetOrderState moves an order to a state (an id, or an order state name,
// found or created) by POSTing order_histories, but only when the live
// order is in another state: PrestaShop accepts the same state twice and
// would add a second history row, e-mail and payment.
func (c *Connector) SetOrderState(ctx context.Context, orderID int64, state any) error {
	stateID, err := c.resolveState(ctx, state)
	if err != nil {
		return err
	}
	live, found, err := c.client.Get(ctx, "orders", orderID)
	if err != nil {
		return fmt.Errorf("read order %d: %w", orderID, err)
	}
	if !found {
		return &pipeline.RecordError{Resource: "orders", Key: strconv.FormatInt(orderID, 10), Err: errors.New("order not found")}
	}
	if strings.TrimSpace(live.Fields["current_state"]) == strconv.FormatInt(stateID, 10) {
		return nil
	}
	h := NewObject()
	h.Fields["id_order"] = strconv.FormatInt(orderID, 10)
	h.Fields["id_order_state"] = strconv.FormatInt(stateID, 10)
	fact := c.facts["order_histories"]
	if _, err := c.client.Create(ctx, "order_histories", fact.Node, h, fieldNames(fact)); err != nil {
		return fmt.Errorf("set order %d state %d: %w", orderID, stateID, err)
	}
	return nil
}

func (c *Connector) resolveState(ctx context.Context, state any) (int64, error) {
	switch v := state.(type) {
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	case float64:
		if v == float64(int64(v)) {
			return int64(v), nil
		}
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return n, nil
		}
		if strings.TrimSpace(v) != "" {
			return c.EnsureOrderState(ctx, v)
		}
	}
	return 0, &pipeline.RecordError{Resource: "orders", Err: fmt.Errorf("current_state %v: want an order state id or name", state)}
}

// FindOrderState looks an order state up by name, in any language,
// ignoring case; deleted states do not count.
func (c *Connector) FindOrderState(ctx context.Context, name string) (int64, bool, error) {
	want := strings.ToLower(strings.TrimSpace(name))
	var found int64
	err := c.listAll(ctx, "order_states", ListQuery{Display: "[id,name,deleted]", Sort: "[id_ASC]"}, func(o Object) error {
		if found != 0 || strings.TrimSpace(o.Fields["deleted"]) == "1" {
			return nil
		}
		for _, v := range o.I18n["name"] {
			if strings.ToLower(strings.TrimSpace(v)) == want {
				found, _ = strconv.ParseInt(o.Fields["id"], 10, 64)
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("find order state %q: %w", name, err)
	}
	return found, found != 0, nil
}

// EnsureOrderState returns the id of the order state with this name,
// creating it (paid, logable, invoice; no e-mail) when the shop has none.
func (c *Connector) EnsureOrderState(ctx context.Context, name string) (int64, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	// One find-or-create at a time, so concurrent orders cannot create
	// the state twice.
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if id, ok := c.states[key]; ok {
		return id, nil
	}
	id, found, err := c.FindOrderState(ctx, name)
	if err != nil {
		return 0, err
	}
	if !found {
		o := NewObject()
		for k, v := range map[string]string{"color": "#2E7D32", "paid": "1", "logable": "1", "invoice": "1", "send_email": "0",
			"hidden": "0", "unremovable": "0", "delivery": "0", "shipped": "0", "pdf_invoice": "0", "pdf_delivery": "0", "deleted": "0"} {
			o.Fields[k] = v
		}
		names, templates := map[string]string{}, map[string]string{}
		for _, l := range c.Languages(ctx) {
			names[l], templates[l] = strings.TrimSpace(name), ""
		}
		o.I18n["name"], o.I18n["template"] = names, templates
		fact := c.facts["order_states"]
		saved, err := c.client.Create(ctx, "order_states", fact.Node, o, fieldNames(fact))
		if err != nil {
			return 0, fmt.Errorf("create order state %q: %w", name, err)
		}
		id, err = strconv.ParseInt(saved.Fields["id"], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("create order state %q: bad id in answer", name)
		}
		c.log.Info("prestashop: created order state", "name", name, "id", id)
	}
	c.states[key] = id
	return id, nil
}

// SettledStateID finds or creates the settled_state_name order state.
func (c *Connector) SettledStateID(ctx context.Context) (int64, error) {
	return c.EnsureOrderState(ctx, c.s.SettledStateName)
}

// Find looks for a record an earlier create may have made: products and
// combinations by reference, customers by e-mail, addresses by
// id_customer and alias, order states by name, order histories by order
// and state (while the order is still in that state).
func (c *Connector) Find(ctx context.Context, w pipeline.Write) (pipeline.Record, bool, error) {
	_, fact, err := c.lookup(w.Resource)
	if err != nil {
		return nil, false, err
	}
	str := func(k string) string { s, _ := FormatValue(w.Set[k]); return strings.TrimSpace(s) }
	var match map[string]string
	switch w.Resource {
	case "products", "combinations":
		match = map[string]string{"reference": str("reference")}
	case "customers":
		match = map[string]string{"email": str("email"), "deleted": "0"}
	case "addresses":
		match = map[string]string{"id_customer": str("id_customer"), "alias": str("alias"), "deleted": "0"}
	case "order_histories":
		match = map[string]string{"id_order": str("id_order"), "id_order_state": str("id_order_state")}
	case "order_states":
		name := str("name")
		if name == "" {
			return nil, false, nil
		}
		id, found, err := c.FindOrderState(ctx, name)
		if err != nil || !found {
			return nil, false, err
		}
		o, found, err := c.client.Get(ctx, "order_states", id)
		if err != nil || !found {
			return nil, false, err
		}
		rec, err := c.record(w.Resource, fact, o, nil)
		return rec, err == nil, err
	default:
		return nil, false, nil
	}
	for k, v := range match {
		if v == "" && k != "deleted" {
			return nil, false, nil
		}
	}
	objs, err := c.findBy(ctx, w.Resource, match)
	if err != nil {
		return nil, false, fmt.Errorf("find %s: %w", w.Resource, err)
	}
	if len(objs) == 0 {
		return nil, false, nil
	}
	o := objs[0]
	if w.Resource == "order_histories" {
		order, found, err := c.client.Get(ctx, "orders", mustInt(match["id_order"]))
		if err != nil {
			return nil, false, fmt.Errorf("find order_histories: %w", err)
		}
		if !found || strings.TrimSpace(order.Fields["current_state"]) != match["id_order_state"] {
			return nil, false, nil
		}
		o = objs[len(objs)-1]
	}
	rec, err := c.record(w.Resource, fact, o, nil)
	if err != nil {
		return nil, false, fmt.Errorf("find %s: %w", w.Resource, err)
	}
	switch w.Resource {
	case "products":
		c.fillTaxRate(ctx, rec)
	case "customers":
		id := rec["id"].(int64)
		addrs, err := c.newestAddresses(ctx, []int64{id})
		if err != nil {
			return nil, false, fmt.Errorf("find customers: %w", err)
		}
		if a, ok := addrs[id]; ok {
			if rec["address"], err = c.addressObject(a); err != nil {
				return nil, false, fmt.Errorf("find customers: address %s: %w", a.Fields["id"], err)
			}
		} else if addr, _ := c.addressSet(w.Resource, w.Set); addr != nil {
			// A create whose answer was lost before its address was made:
			// finish it, or the address would look deleted in the shop.
			if rec["address"], err = c.writeAddress(ctx, rec, addr); err != nil {
				return nil, false, fmt.Errorf("find customers: complete the address of customer %d: %w", id, err)
			}
		}
	}
	return rec, true, nil
}

// Get implements pipeline.Getter: one record read fresh (GET
// /api/{resource}/{id}), as Read emits it without the fields Read computes
// from other resources (a stock row's reference, a customer's address). The
// stock counter reads a stock row with it just before writing its quantity.
func (c *Connector) Get(ctx context.Context, resource, key string) (pipeline.Record, bool, error) {
	_, fact, err := c.lookup(resource)
	if err != nil {
		return nil, false, err
	}
	id, err := parseID(resource, key)
	if err != nil {
		return nil, false, err
	}
	o, found, err := c.client.Get(ctx, resource, id)
	if err != nil || !found {
		return nil, false, err
	}
	rec, err := c.record(resource, fact, o, nil)
	if err != nil {
		return nil, false, fmt.Errorf("get %s %s: %w", resource, key, err)
	}
	return rec, true, nil
}

// The capabilities the engine finds by type assertion.
var (
	_ pipeline.Source  = (*Connector)(nil)
	_ pipeline.Sink    = (*Connector)(nil)
	_ pipeline.Finder  = (*Connector)(nil)
	_ pipeline.Getter  = (*Connector)(nil)
	_ pipeline.Checker = (*Connector)(nil)
)

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n
}

// findBy lists the records whose fields equal match (case-insensitive, as
// MySQL compares). Values the filter syntax cannot carry exactly are
// matched client-side over a full read.
func (c *Connector) findBy(ctx context.Context, resource string, match map[string]string) ([]Object, error) {
	lq := ListQuery{Display: "full", Sort: "[id_ASC]", Filters: map[string]string{}}
	for k, v := range match {
		if !strings.ContainsAny(v, "[]|,%<>!") && v != "" {
			lq.Filters[k] = "[" + v + "]"
		}
	}
	var out []Object
	err := c.listAll(ctx, resource, lq, func(o Object) error {
		for k, v := range match {
			got := strings.TrimSpace(o.Fields[k])
			if k == "deleted" && v == "0" && got == "" {
				continue
			}
			if !strings.EqualFold(got, v) {
				return nil
			}
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// Check reports the key, the webservice version, the order states and the
// payment modules seen in recent orders.
func (c *Connector) Check(ctx context.Context) []pipeline.CheckResult {
	var out []pipeline.CheckResult
	if err := c.client.Ping(ctx); err != nil {
		return append(out, pipeline.CheckResult{Name: "prestashop key", Detail: err.Error()})
	}
	out = append(out, pipeline.CheckResult{Name: "prestashop key", OK: true, Detail: "accepted by " + c.client.api})
	v, err := c.client.Version(ctx)
	if err != nil {
		out = append(out, pipeline.CheckResult{Name: "prestashop webservice version", Detail: err.Error()})
	} else {
		how := "updates use PATCH"
		if patch, _ := c.client.SupportsPatch(ctx); !patch {
			how = "updates use full-record PUT"
		}
		out = append(out, pipeline.CheckResult{Name: "prestashop webservice version", OK: true, Detail: v + " (" + how + ")"})
	}
	states, err := c.orderStates(ctx)
	if err != nil {
		out = append(out, pipeline.CheckResult{Name: "prestashop order states", Detail: err.Error()})
	} else {
		ids := make([]int64, 0, len(states))
		for id := range states {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		var parts []string
		settled := "missing (created on first use)"
		for _, id := range ids {
			parts = append(parts, fmt.Sprintf("%d %s", id, states[id]))
			if strings.EqualFold(states[id], c.s.SettledStateName) {
				settled = fmt.Sprintf("id %d", id)
			}
		}
		out = append(out, pipeline.CheckResult{Name: "prestashop order states", OK: len(ids) > 0,
			Detail: fmt.Sprintf("%d states: %s; %q %s", len(ids), strings.Join(parts, ", "), c.s.SettledStateName, settled)})
	}
	mods, err := c.recentModules(ctx)
	if err != nil {
		out = append(out, pipeline.CheckResult{Name: "prestashop payment modules", Detail: err.Error()})
	} else {
		out = append(out, pipeline.CheckResult{Name: "prestashop payment modules", OK: true,
			Detail: fmt.Sprintf("seen in the last %d orders: %s", recentOrders, strings.Join(mods, ", "))})
	}
	return out
}

const recentOrders = 500

func (c *Connector) orderStates(ctx context.Context) (map[int64]string, error) {
	states := map[int64]string{}
	err := c.listAll(ctx, "order_states", ListQuery{Display: "[id,name,deleted]", Sort: "[id_ASC]"}, func(o Object) error {
		if strings.TrimSpace(o.Fields["deleted"]) == "1" {
			return nil
		}
		id, err := strconv.ParseInt(o.Fields["id"], 10, 64)
		if err != nil {
			return fmt.Errorf("order state id %q", o.Fields["id"])
		}
		name := o.I18n["name"][c.s.lang]
		if name == "" {
			for _, l := range sortedLangs(o.I18n["name"]) {
				if name = o.I18n["name"][l]; name != "" {
					break
				}
			}
		}
		states[id] = name
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list order states: %w", err)
	}
	return states, nil
}

func (c *Connector) recentModules(ctx context.Context) ([]string, error) {
	objs, err := c.client.List(ctx, "orders", ListQuery{Display: "[id,module]", Sort: "[id_DESC]", Limit: recentOrders})
	if err != nil {
		return nil, fmt.Errorf("list recent orders: %w", err)
	}
	seen := map[string]bool{}
	for _, o := range objs {
		if m := strings.TrimSpace(o.Fields["module"]); m != "" {
			seen[m] = true
		}
	}
	mods := make([]string, 0, len(seen))
	for m := range seen {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	return mods, nil
}

// Interface checks.
var (
	_ pipeline.Source  = (*Connector)(nil)
	_ pipeline.Sink    = (*Connector)(nil)
	_ pipeline.Finder  = (*Connector)(nil)
	_ pipeline.Checker = (*Connector)(nil)
)
