package prestashop

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/synk-etl/synk/pipeline"
)

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
