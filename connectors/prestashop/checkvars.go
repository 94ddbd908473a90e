package prestashop

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

// CheckVars checks the shop settings named by the flagship pipeline's vars
// (see pipelines/prestashop-fiken.yaml), so that `synk check` catches a
// wrong order state id or a misspelt payment module before a run acts on
// it: vars.order_states and, with vars.credit_notes on, vars.credit_states
// must be order state ids of the shop; vars.settled_state is found or will
// be created on the first settlement; each key of vars.payments is a
// payment module, and one not seen in the recent orders is a warning, not
// a failure, because a new shop or a newly added payment method has no
// orders yet. A var that is missing skips its check; one of the wrong shape
// fails.
func (c *Connector) CheckVars(ctx context.Context, vars map[string]any) []pipeline.CheckResult {
	var out []pipeline.CheckResult
	// via names the var a check is for, as the result's name says it.
	via := func(rs []pipeline.CheckResult, name string) {
		for _, r := range rs {
			r.Name += " (vars." + name + ")"
			out = append(out, r)
		}
	}
	bad := func(name, want string) {
		out = append(out, pipeline.CheckResult{Name: "vars." + name, Detail: "want " + want})
	}
	if v, ok := vars["order_states"]; ok {
		if ids, ok := stateIDs(v); ok {
			via(c.CheckOrderStates(ctx, ids, nil), "order_states")
		} else {
			bad("order_states", "a list of order state ids, like [2, 3, 4, 5]")
		}
	}
	if v, ok := vars["credit_states"]; ok {
		switch ids, ok := stateIDs(v); {
		case !ok:
			bad("credit_states", "a list of order state ids, like [6, 7]")
		case vars["credit_notes"] != true:
			out = append(out, pipeline.CheckResult{Name: "vars.credit_states", Skipped: true, Detail: "vars.credit_notes is not true"})
		default:
			via(c.CheckOrderStates(ctx, ids, nil), "credit_states")
		}
	}
	if v, ok := vars["settled_state"]; ok {
		if name, ok := v.(string); ok && strings.TrimSpace(name) != "" {
			via([]pipeline.CheckResult{c.checkSettledState(ctx, name)}, "settled_state")
		} else {
			bad("settled_state", "the name of an order state, like \"Oppgjort i Fiken\"")
		}
	}
	if v, ok := vars["payments"]; ok {
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			bad("payments", "a map from payment module name to its settings")
			return out
		}
		modules := make([]string, 0, len(m))
		for k := range m {
			modules = append(modules, k)
		}
		slices.Sort(modules)
		via(c.CheckPaymentModules(ctx, modules), "payments")
	}
	return out
}

// stateIDs reads a YAML list of order state ids; numbers arrive as ints,
// unsigned ints or floats depending on the YAML, and numeric strings are
// accepted too.
func stateIDs(v any) ([]int64, bool) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, false
	}
	ids := make([]int64, 0, len(list))
	for _, x := range list {
		var id int64
		switch n := x.(type) {
		case int:
			id = int64(n)
		case int64:
			id = n
		case uint64:
			if n > math.MaxInt64 {
				return nil, false
			}
			id = int64(n)
		case float64:
			if n != math.Trunc(n) {
				return nil, false
			}
			id = int64(n)
		case string:
			p, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
			if err != nil {
				return nil, false
			}
			id = p
		default:
			return nil, false
		}
		if id <= 0 {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// CheckOrderStates reports, one line each, whether the given order state
// ids and names exist; the settled state name is fine when missing, since
// it is created on first use. For the pipeline's vars.
func (c *Connector) CheckOrderStates(ctx context.Context, ids []int64, names []string) []pipeline.CheckResult {
	states, err := c.orderStates(ctx)
	if err != nil {
		return []pipeline.CheckResult{{Name: "prestashop order states", Detail: err.Error()}}
	}
	var out []pipeline.CheckResult
	for _, id := range ids {
		name, ok := states[id]
		r := pipeline.CheckResult{Name: fmt.Sprintf("prestashop order state %d", id), OK: ok, Detail: name}
		if !ok {
			r.Detail = "no such order state in the shop"
		}
		out = append(out, r)
	}
	for _, n := range names {
		var hit int64
		for id, s := range states {
			if strings.EqualFold(strings.TrimSpace(s), strings.TrimSpace(n)) {
				hit = id
			}
		}
		r := pipeline.CheckResult{Name: fmt.Sprintf("prestashop order state %q", n), OK: hit != 0, Detail: fmt.Sprintf("id %d", hit)}
		if hit == 0 && strings.EqualFold(n, c.s.SettledStateName) {
			r.OK, r.Detail = true, "missing; created on first use"
		} else if hit == 0 {
			r.Detail = "no order state with this name"
		}
		out = append(out, r)
	}
	return out
}

// checkSettledState reports whether the order state an order moves to when
// its invoice is settled exists (by name, in any language, as
// EnsureOrderState finds it). A missing one passes: it is created on the
// first settlement.
func (c *Connector) checkSettledState(ctx context.Context, name string) pipeline.CheckResult {
	r := pipeline.CheckResult{Name: fmt.Sprintf("prestashop settled order state %q", name)}
	id, found, err := c.FindOrderState(ctx, name)
	switch {
	case err != nil:
		r.Detail = err.Error()
	case found:
		r.OK, r.Detail = true, fmt.Sprintf("id %d", id)
	default:
		r.OK, r.Detail = true, "missing; will be created on the first settlement"
	}
	return r
}

// CheckPaymentModules reports, one line each, whether the given payment
// modules appear in the shop's recent orders. A module nobody paid with
// yet is reported as not seen, a warning: that may be fine for a new shop,
// but a misspelt module name looks the same, so it is shown. When the
// orders cannot be read, it returns one failed result for them.
func (c *Connector) CheckPaymentModules(ctx context.Context, modules []string) []pipeline.CheckResult {
	mods, err := c.recentModules(ctx)
	if err != nil {
		return []pipeline.CheckResult{{Name: "prestashop payment modules", Detail: err.Error()}}
	}
	seen := map[string]bool{}
	for _, m := range mods {
		seen[m] = true
	}
	list := strings.Join(mods, ", ")
	if list == "" {
		list = "none"
	}
	var out []pipeline.CheckResult
	for _, m := range modules {
		r := pipeline.CheckResult{Name: fmt.Sprintf("prestashop payment module %q", m), OK: seen[m], Detail: "used in recent orders"}
		if !seen[m] {
			r.Warning, r.Detail = true, fmt.Sprintf("not seen in the last %d orders (seen: %s)", recentOrders, list)
		}
		out = append(out, r)
	}
	return out
}
