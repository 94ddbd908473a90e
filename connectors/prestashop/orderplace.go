package prestashop

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// An order's money and destination, as the books need them: PrestaShop
// stores an order's amounts in the customer's currency (id_currency, with
// the conversion_rate to the shop's default at the time), and where the
// goods went only through the delivery address's country. Orders get two
// fields synk adds: currency (ISO 4217 code) and delivery_country (ISO
// 3166 alpha-2 code), read for each page of orders that has any.

// orderPlaces is what one page of orders needs: the shop's currency and
// country codes and the page's delivery addresses' countries.
type orderPlaces struct {
	currencies map[int64]string // currency id → ISO 4217
	delivery   map[int64]string // address id → country ISO code
}

// readOrderPlaces reads the codes for a page of orders. The currency and
// country lists are read once per connection; the addresses per page.
func (c *Connector) readOrderPlaces(ctx context.Context, page []Object) (*orderPlaces, error) {
	currencies, err := c.codes(ctx, "currencies", &c.currencyCodes)
	if err != nil {
		return nil, err
	}
	countries, err := c.codes(ctx, "countries", &c.countryCodes)
	if err != nil {
		return nil, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, o := range page {
		if id := strings.TrimSpace(o.Fields["id_address_delivery"]); id != "" && id != "0" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	places := &orderPlaces{currencies: currencies, delivery: map[int64]string{}}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), addressIDsPerRequest)]
		ids = ids[len(chunk):]
		lq := ListQuery{Display: "[id,id_country]", Sort: "[id_ASC]", Filters: map[string]string{"id": "[" + strings.Join(chunk, "|") + "]"}}
		err := c.listPages(ctx, "addresses", lq, c.widePageSize(), nil, func(page []Object, _ any) error {
			for _, a := range page {
				id, err1 := strconv.ParseInt(strings.TrimSpace(a.Fields["id"]), 10, 64)
				country, err2 := strconv.ParseInt(strings.TrimSpace(a.Fields["id_country"]), 10, 64)
				if err1 == nil && err2 == nil {
					places.delivery[id] = countries[country]
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read orders' delivery addresses: %w", err)
		}
	}
	return places, nil
}

// codes lists resource's id → iso_code once per connection into *cache.
func (c *Connector) codes(ctx context.Context, resource string, cache *map[int64]string) (map[int64]string, error) {
	c.mu.Lock()
	if *cache != nil {
		defer c.mu.Unlock()
		return *cache, nil
	}
	c.mu.Unlock()
	out := map[int64]string{}
	err := c.listAll(ctx, resource, ListQuery{Display: "[id,iso_code]", Sort: "[id_ASC]"}, func(o Object) error {
		id, err := strconv.ParseInt(strings.TrimSpace(o.Fields["id"]), 10, 64)
		if err != nil {
			return fmt.Errorf("%s id %q", resource, o.Fields["id"])
		}
		out[id] = strings.ToUpper(strings.TrimSpace(o.Fields["iso_code"]))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", resource, err)
	}
	c.mu.Lock()
	*cache = out
	c.mu.Unlock()
	return out, nil
}

// place sets an order record's currency and delivery_country.
func (p *orderPlaces) place(rec map[string]any) {
	rec["currency"], rec["delivery_country"] = nil, nil
	if p == nil {
		return
	}
	if id, ok := rec["id_currency"].(int64); ok && p.currencies[id] != "" {
		rec["currency"] = p.currencies[id]
	}
	if id, ok := rec["id_address_delivery"].(int64); ok && p.delivery[id] != "" {
		rec["delivery_country"] = p.delivery[id]
	}
}

// Currencies returns the ISO codes of the shop's active currencies, the
// ones its orders can be in (for `synk check`).
func (c *Connector) Currencies(ctx context.Context) ([]string, error) {
	var codes []string
	err := c.listAll(ctx, "currencies", ListQuery{Display: "[id,iso_code,active,deleted]", Sort: "[id_ASC]"}, func(o Object) error {
		if strings.TrimSpace(o.Fields["active"]) == "1" && strings.TrimSpace(o.Fields["deleted"]) != "1" {
			codes = append(codes, strings.ToUpper(strings.TrimSpace(o.Fields["iso_code"])))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list currencies: %w", err)
	}
	return codes, nil
}
