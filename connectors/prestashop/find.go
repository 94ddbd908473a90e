package prestashop

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

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
			a, err := c.writeAddress(ctx, rec, addr)
			if rec["address"], err = c.retryAddress(ctx, rec, addr, a, err); err != nil {
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
