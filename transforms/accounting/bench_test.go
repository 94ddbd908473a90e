package accounting

import (
	"fmt"
	"testing"

	"github.com/synk-etl/synk/transforms"
)

// productEnv is the prototype of a PrestaShop product or order as the
// engine builds it, with the fields the benchmarks read.
func productEnv() map[string]any {
	return map[string]any{
		"reference": "", "name": "", "price": 0.0, "tax_rate": 0.0, "active": false,
		"order_rows": []any{map[string]any{"product_reference": "", "product_quantity": int64(0), "unit_price": 0.0}},
	}
}

// BenchmarkRunMap evaluates the products mapping of DESIGN.md, six fields,
// once per op: what the engine does per record and flow.
func BenchmarkRunMap(b *testing.B) {
	mapping := []struct{ field, src string }{
		{"productNumber", "reference"},
		{"name", "trim(name)"},
		{"unitPrice", "ore(price)"},
		{"vatType", "vat_type(tax_rate)"},
		{"incomeAccount", `"3000"`},
		{"active", "active"},
	}
	progs := make([]*transforms.Program, len(mapping))
	for i, m := range mapping {
		p, err := compile(m.src, productEnv())
		if err != nil {
			b.Fatal(err)
		}
		progs[i] = p
	}
	recs := make([]map[string]any, 1024)
	for i := range recs {
		recs[i] = map[string]any{
			"reference": fmt.Sprintf("P-%d", i), "name": " Ullgenser ", "price": 199.2 + float64(i),
			"tax_rate": 25.0, "active": i%2 == 0,
		}
	}
	out := make(map[string]any, len(mapping))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rec := recs[i%len(recs)]
		for j, p := range progs {
			v, err := p.Run(rec)
			if err != nil {
				b.Fatal(err)
			}
			out[mapping[j].field] = v
		}
	}
	if out["vatType"] != "HIGH" {
		b.Fatalf("vatType = %v", out["vatType"])
	}
}

// BenchmarkRunLines is the order lines mapping with links: a list of two
// rows mapped to objects, per op.
func BenchmarkRunLines(b *testing.B) {
	p, err := compile(`map(order_rows, {productId: link("products", .product_reference), quantity: .product_quantity, unitPrice: ore(.unit_price)})`, productEnv())
	if err != nil {
		b.Fatal(err)
	}
	rec := map[string]any{
		"order_rows": []any{
			map[string]any{"product_reference": "A", "product_quantity": int64(2), "unit_price": 10.0},
			map[string]any{"product_reference": "B", "product_quantity": int64(1), "unit_price": 5.5},
		},
		"link": transforms.Link(func(_ string, key any) (any, error) { return key, nil }),
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := p.Run(rec); err != nil {
			b.Fatal(err)
		}
	}
}
