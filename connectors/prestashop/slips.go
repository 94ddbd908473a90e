package prestashop

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/sourcegraph/conc/pool"

	"github.com/synk-etl/synk/pipeline"
)

// Credit slips: the shop's refunds of units and/or shipping of an order,
// read-only. The webservice resource is order_slip (singular, unlike every
// other resource); synk names it order_slips. A slip says which order
// detail it refunds but not which product, and its order by id only: the
// record adds the order's reference and each detail's product, so a
// pipeline can find the order's invoice and link the Fiken products.

// SlipsResource is the pipeline name of the credit slips.
const SlipsResource = "order_slips"

// slipAPI is the webservice resource behind SlipsResource.
const slipAPI = "order_slip"

// slipDetailFields are the element fields of order_slips.order_slip_details:
// the slip detail's own (amount_tax_excl/incl are the row's refund) and,
// from the order detail it refunds, the product. The item's id is left out:
// the webservice gives every detail the slip's id.
func slipDetailFields() []pipeline.Field {
	return []pipeline.Field{
		{Name: "id_order_detail", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_quantity", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "amount_tax_excl", Type: pipeline.TypeFloat, ReadOnly: true},
		{Name: "amount_tax_incl", Type: pipeline.TypeFloat, ReadOnly: true},
		{Name: "product_id", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_attribute_id", Type: pipeline.TypeInt, ReadOnly: true},
		{Name: "product_reference", Type: pipeline.TypeString, ReadOnly: true},
		{Name: "product_name", Type: pipeline.TypeString, ReadOnly: true},
	}
}

// slipOrderDetailFields are the order detail fields a slip detail takes.
var slipOrderDetailFields = []string{"product_id", "product_attribute_id", "product_reference", "product_name"}

// slipResource declares order_slips: every slip field, the order's
// reference and the details, all read-only.
func slipResource() pipeline.Resource {
	r := pipeline.Resource{Name: SlipsResource, Key: "id", Incremental: true,
		ModifiedField: "date_upd", ModifiedZone: DefaultTimezone}
	for _, f := range Facts()[slipAPI].Fields {
		r.Fields = append(r.Fields, pipeline.Field{Name: f.Name, Type: f.PipelineType(), ReadOnly: true})
	}
	r.Fields = append(r.Fields,
		pipeline.Field{Name: "order_reference", Type: pipeline.TypeString, ReadOnly: true},
		// The order's currency (ISO 4217): the slip's amounts are in it.
		pipeline.Field{Name: "currency", Type: pipeline.TypeString, ReadOnly: true},
		pipeline.Field{Name: "order_slip_details", Type: pipeline.TypeList, ReadOnly: true, Fields: slipDetailFields()})
	return r
}

// slipContext is what a page of slips needs from other resources: the
// orders' references and the refunded order details, by id.
type slipContext struct {
	references map[int64]string
	currencies map[int64]string // order id → ISO code
	details    map[int64]Object
}

// readSlips reads order_slips page by page, sorted by id; with q.Since,
// what changed since then. Each page costs one narrow list of its orders
// and one of its order details, the two concurrently.
func (c *Connector) readSlips(ctx context.Context, q pipeline.ReadQuery, out pipeline.Emitter) error {
	fact := c.facts[slipAPI]
	lq := ListQuery{Display: "full", Sort: "[id_ASC]"}
	if !q.Since.IsZero() {
		lq.Date = true
		lq.Filters = map[string]string{"date_upd": "[" + c.s.since(q.Since) + ",9999-12-31 23:59:59]"}
	}
	emit := func(page []Object, extra any) error {
		sc, _ := extra.(slipContext)
		for _, o := range page {
			if err := c.emitSlip(out, fact, o, sc); err != nil {
				return err
			}
		}
		return nil
	}
	if err := c.listPages(ctx, slipAPI, lq, c.s.PageSize, c.slipContext, emit); err != nil {
		return fmt.Errorf("read %s: %w", SlipsResource, err)
	}
	return nil
}

// emitSlip emits a slip's record, or rejects the slip naming why.
func (c *Connector) emitSlip(out pipeline.Emitter, fact ResourceFact, o Object, sc slipContext) error {
	rec, err := c.slipRecord(fact, o, sc)
	if err != nil {
		return out.Reject(o.Fields["id"], o.Raw, err)
	}
	return out.Emit(rec)
}

// slipContext lists the orders and order details a page of slips refers to.
func (c *Connector) slipContext(ctx context.Context, page []Object) (any, error) {
	var orders, details []int64
	seenO, seenD := map[int64]bool{}, map[int64]bool{}
	for _, o := range page {
		if id := mustInt(o.Fields["id_order"]); id > 0 && !seenO[id] {
			seenO[id] = true
			orders = append(orders, id)
		}
		for _, it := range o.Assoc["order_slip_details"] {
			if id := mustInt(it["id_order_detail"]); id > 0 && !seenD[id] {
				seenD[id] = true
				details = append(details, id)
			}
		}
	}
	sc := slipContext{references: map[int64]string{}, currencies: map[int64]string{}, details: map[int64]Object{}}
	codes, err := c.codes(ctx, "currencies", &c.currencyCodes)
	if err != nil {
		return nil, fmt.Errorf("read the slips' currencies: %w", err)
	}
	p := pool.New().WithErrors().WithContext(ctx).WithCancelOnError()
	p.Go(func(ctx context.Context) error {
		return c.listIDs(ctx, "orders", "[id,reference,id_currency]", orders, func(o Object) {
			id := mustInt(o.Fields["id"])
			sc.references[id] = o.Fields["reference"]
			sc.currencies[id] = codes[mustInt(o.Fields["id_currency"])]
		})
	})
	p.Go(func(ctx context.Context) error {
		display := "[id," + strings.Join(slipOrderDetailFields, ",") + "]"
		return c.listIDs(ctx, "order_details", display, details, func(o Object) {
			sc.details[mustInt(o.Fields["id"])] = o
		})
	})
	if err := p.Wait(); err != nil {
		return nil, fmt.Errorf("read the slips' orders: %w", err)
	}
	return sc, nil
}

// listIDs lists the objects of resource with the given ids, display
// fields each, a bounded number of ids per request.
func (c *Connector) listIDs(ctx context.Context, resource, display string, ids []int64, fn func(Object)) error {
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), addressIDsPerRequest)]
		ids = ids[len(chunk):]
		parts := make([]string, len(chunk))
		for i, id := range chunk {
			parts[i] = strconv.FormatInt(id, 10)
		}
		lq := ListQuery{Display: display, Sort: "[id_ASC]", Filters: map[string]string{"id": "[" + strings.Join(parts, "|") + "]"}}
		err := c.listPages(ctx, resource, lq, c.widePageSize(), nil, func(page []Object, _ any) error {
			for _, o := range page {
				fn(o)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// slipRecord types a slip: its fields, its order's reference (nil when the
// order is gone) and its details with their products (nil likewise).
func (c *Connector) slipRecord(fact ResourceFact, o Object, sc slipContext) (pipeline.Record, error) {
	rec, err := c.record(slipAPI, fact, o, nil)
	if err != nil {
		return nil, err
	}
	rec["order_reference"], rec["currency"] = nil, nil
	if ref, ok := sc.references[mustInt(o.Fields["id_order"])]; ok {
		rec["order_reference"] = ref
	}
	if cur := sc.currencies[mustInt(o.Fields["id_order"])]; cur != "" {
		rec["currency"] = cur
	}
	details := []any{}
	for i, it := range o.Assoc["order_slip_details"] {
		row, err := typedItem(slipDetailFields(), it, sc.details[mustInt(it["id_order_detail"])].Fields)
		if err != nil {
			return nil, fmt.Errorf("order_slip_details[%d].%w", i, err)
		}
		details = append(details, row)
	}
	rec["order_slip_details"] = details
	return rec, nil
}

// typedItem types an association item as fields declares them, taking a
// field the item lacks from more (nil for none); absent fields are nil. An
// error names the field.
func typedItem(fields []pipeline.Field, item, more map[string]string) (map[string]any, error) {
	row := make(map[string]any, len(fields))
	for _, f := range fields {
		s, ok := item[f.Name]
		if !ok {
			s, ok = more[f.Name]
		}
		if !ok {
			row[f.Name] = nil
			continue
		}
		v, err := typedValue(FieldFact{Name: f.Name, Kind: kindOf(f.Type)}, s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		row[f.Name] = v
	}
	return row, nil
}
