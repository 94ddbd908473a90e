package prestashop

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

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
