package accounting

import (
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// detail is a slip detail as the prestashop connector emits it.
func detail(name string, qty int64, excl, incl float64) map[string]any {
	return map[string]any{"id_order_detail": int64(3), "product_name": name, "product_reference": "REF-" + name,
		"product_quantity": qty, "amount_tax_excl": excl, "amount_tax_incl": incl}
}

// slip is an order_slips record: the products' totals are the details'
// sums unless fields say otherwise.
func slip(fields map[string]any, details ...map[string]any) map[string]any {
	s := map[string]any{"id": int64(12), "id_order": int64(7), "order_reference": "XKBKNABJK",
		"total_shipping_tax_incl": 0.0, "total_shipping_tax_excl": 0.0}
	var in, ex float64
	list := make([]any, len(details))
	for i, d := range details {
		list[i] = d
		in += d["amount_tax_incl"].(float64)
		ex += d["amount_tax_excl"].(float64)
	}
	s["order_slip_details"] = list
	s["total_products_tax_incl"], s["total_products_tax_excl"] = in, ex
	for k, v := range fields {
		s[k] = v
	}
	return s
}

func TestCreditNoteLines(t *testing.T) {
	tests := []struct {
		name     string
		slip     map[string]any
		products any
		settings map[string]any
		want     []map[string]any
	}{
		{
			name: "one unit at 25 %",
			slip: slip(nil, detail("Ullgenser", 1, 799.2, 999.0)),
			want: []map[string]any{line("Ullgenser", 1, 79920, 79920, 19980, "HIGH", "3000", nil)},
		},
		{
			name: "a net that does not divide by the units: one unit an øre dearer, Fiken's VAT rounded up to the slip",
			slip: slip(nil, detail("Lue", 3, 30.01, 37.52)),
			want: []map[string]any{
				line("Lue", 2, 1000, 2000, 500, "HIGH", "3000", nil),
				line("Lue", 1, 1001, 1001, 250, "HIGH", "3000", nil),
				line("Øreavrunding", 1, 1, 1, 0, "NONE", "3000", nil),
			},
		},
		{
			name:     "linked product and shipping",
			slip:     slip(map[string]any{"total_shipping_tax_incl": 99.0, "total_shipping_tax_excl": 79.2}, detail("Votter", 2, 158.4, 198.0)),
			products: []any{int64(17)},
			want: []map[string]any{
				line("Votter", 2, 7920, 15840, 3960, "HIGH", "", int64(17)),
				line("Frakt", 1, 7920, 7920, 1980, "HIGH", "3000", nil),
			},
		},
		{
			name:     "shipping only, settings' texts and accounts",
			slip:     slip(map[string]any{"total_shipping_tax_incl": 49.0, "total_shipping_tax_excl": 39.2}),
			settings: map[string]any{"shipping_text": "Porto", "income_account": 3001},
			want:     []map[string]any{line("Porto", 1, 3920, 3920, 980, "HIGH", "3001", nil)},
		},
		{
			name:     "0 % is exempt on the exempt account; 15 % and 12 %",
			slip:     slip(nil, detail("Bok", 2, 200, 200), detail("Brunost", 1, 86.96, 100.0), detail("Kino", 1, 89.29, 100.0)),
			settings: map[string]any{"exempt_account": "3105"},
			want: []map[string]any{
				line("Bok", 2, 10000, 20000, 0, "EXEMPT", "3105", nil),
				line("Brunost", 1, 8696, 8696, 1304, "MEDIUM", "3000", nil),
				line("Kino", 1, 8929, 8929, 1071, "LOW", "3000", nil),
			},
		},
		{
			name:     "amounts too small to tell the rate: the linked product's vatType",
			slip:     slip(nil, detail("Klistremerke", 1, 0.04, 0.05)),
			products: []any{int64(4)},
			want:     []map[string]any{line("Klistremerke", 1, 4, 4, 1, "", "", int64(4))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CreditNoteLines(tt.slip, tt.products, tt.settings)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range tt.want {
				if l["vatType"] == "" {
					delete(l, "vatType")
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if gross, total := sumGross(got), mustTotal(t, tt.slip); gross != total {
				t.Errorf("lines add up to %d, the slip to %d", gross, total)
			}
		})
	}
}

func sumGross(lines []map[string]any) (gross int64) {
	for _, l := range lines {
		gross += l["gross"].(int64)
	}
	return gross
}

func mustTotal(t *testing.T, slip map[string]any) int64 {
	t.Helper()
	total, err := CreditNoteTotal(slip)
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func TestCreditNoteLinesErrors(t *testing.T) {
	ok := func() map[string]any { return slip(nil, detail("Genser", 1, 100, 125)) }
	with := func(f func(s map[string]any)) map[string]any { s := ok(); f(s); return s }
	tests := []struct {
		name     string
		slip     map[string]any
		products any
		settings map[string]any
		want     string
	}{
		{"rate that is not Norwegian", slip(nil, detail("Genser", 1, 100, 120)), nil, nil,
			"order_slip_details[0] (Genser): prices 120 incl. / 100 excl. VAT give 20.00 %"},
		{"missing total", with(func(s map[string]any) { delete(s, "total_products_tax_incl") }), nil, nil,
			"slip field total_products_tax_incl is missing"},
		{"total off by more than rounding", with(func(s map[string]any) { s["total_products_tax_incl"] = 126.0 }), nil, nil,
			"slip total 126.00 (products and shipping with VAT) is 1.00 off"},
		{"net off by more than rounding", with(func(s map[string]any) { s["total_products_tax_excl"] = 101.0 }), nil, nil,
			"slip field total_products_tax_excl 101.00 is 1.00 off its details' net (100.00)"},
		{"ids not aligned with details", ok(), []any{int64(1), int64(2)}, nil, "products: 2 product ids for 1 slip details"},
		{"id that is not an id", ok(), []any{"abc"}, nil, `products[0] "abc": not a Fiken productId`},
		{"nothing refunded by row or shipping", slip(map[string]any{"total_products_tax_incl": 50.0}), nil, nil, "slip has no details and no shipping"},
		{"shipping not at a rate", with(func(s map[string]any) {
			s["total_shipping_tax_incl"], s["total_shipping_tax_excl"] = 99.0, 90.0
		}), nil, nil, "slip field total_shipping_tax_incl: prices 99 incl. / 90 excl. VAT give 10.00 %"},
		{"half a shipping pair", with(func(s map[string]any) { s["total_shipping_tax_excl"] = nil; s["total_shipping_tax_incl"] = 5.0 }), nil, nil,
			"slip field total_shipping_tax_excl is missing"},
		{"negative refund", slip(nil, detail("Genser", 1, -100, -125)), nil, nil, "order_slip_details[0] (Genser): negative refund"},
		{"missing amount", with(func(s map[string]any) { delete(s["order_slip_details"].([]any)[0].(map[string]any), "amount_tax_excl") }), nil, nil,
			"order_slip_details[0] (Genser): amount_tax_excl is missing"},
		{"units that are not a number", with(func(s map[string]any) { s["order_slip_details"].([]any)[0].(map[string]any)["product_quantity"] = "x" }), nil, nil,
			`product_quantity "x": want a whole number of units`},
		{"details not a list", with(func(s map[string]any) { s["order_slip_details"] = "x" }), nil, nil, "slip field order_slip_details: want a list"},
		{"zero_vat_type with VAT", ok(), nil, map[string]any{"zero_vat_type": "HIGH"}, `settings.zero_vat_type "HIGH"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CreditNoteLines(tt.slip, tt.products, tt.settings)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q (lines %v)", err, tt.want, got)
			}
		})
	}
}

// TestCreditNoteLinesExpression calls the function as the flagship
// pipeline does.
func TestCreditNoteLinesExpression(t *testing.T) {
	rec := slip(map[string]any{"total_shipping_tax_incl": 99.0, "total_shipping_tax_excl": 79.2}, detail("Ullgenser", 1, 799.2, 999.0))
	rec["order_slip_details"].([]any)[0].(map[string]any)["product_id"] = int64(4)
	env := map[string]any{"record": rec, "vars": map[string]any{"invoice": map[string]any{"shipping_text": "Porto"}}}
	tests := []struct {
		src  string
		want any
	}{
		{`sum(map(credit_note_lines(record, map(record.order_slip_details, .product_id * 10), vars.invoice), .gross))`, int64(109800)},
		{`credit_note_lines(record, map(record.order_slip_details, .product_id * 10), vars.invoice)[0].productId`, int64(40)},
		{`credit_note_lines(record, nil, vars.invoice)[1].description`, "Porto"},
	}
	for _, tt := range tests {
		if got, err := eval(t, tt.src, env, env); err != nil || !cmp.Equal(tt.want, got) {
			t.Errorf("%s = %v, %v; want %v", tt.src, got, err, tt.want)
		}
	}
	nilSlip := map[string]any{"record": nil, "vars": env["vars"]}
	if _, err := eval(t, `credit_note_lines(record, nil, nil)`, env, nilSlip); err == nil || !strings.Contains(err.Error(), "credit_note_lines: slip is nil") {
		t.Errorf("nil slip: %v", err)
	}
}

// eval compiles src against the types of env and runs it on run.
func eval(t *testing.T, src string, env, run map[string]any) (any, error) {
	t.Helper()
	p, err := compile(src, env)
	if err != nil {
		t.Fatalf("compile %s: %v", src, err)
	}
	return p.Run(run)
}

// shopSlip is a slip as PrestaShop 8 makes it on the tax-included path
// (see prestashoptest's Refund): per detail the refund incl. VAT is unit
// price incl. × units rounded, excl. VAT taken off per unit, per row or
// per rate on the total as roundType says; the products' incl. total is
// the unrounded sum. Unit prices incl. VAT have 6 decimals.
func shopSlip(rnd *rand.Rand, roundType int64) map[string]any {
	rates := []int64{2500, 1500, 1200, 1111, 0}
	half := func(r *big.Rat, scale int64) *big.Rat { // round half away from zero to 1/scale
		digits := len(strconv.FormatInt(scale, 10)) - 1
		q, _ := refScaled(r.RatString(), digits)
		return new(big.Rat).SetFrac(q, big.NewInt(scale))
	}
	f := func(r *big.Rat) float64 { x, _ := r.Float64(); return x }
	var details []any
	sumIn, sumEx := new(big.Rat), new(big.Rat)
	byRate := map[int64]*big.Rat{}
	for range 1 + rnd.IntN(6) {
		rate := rates[rnd.IntN(len(rates))]
		in := big.NewRat(rnd.Int64N(300_000_000)+1, 1_000_000)
		q := big.NewRat(1+rnd.Int64N(12), 1)
		div := big.NewRat(10_000+rate, 10_000)
		lineIn := new(big.Rat).Mul(in, q)
		ex := half(new(big.Rat).Mul(new(big.Rat).Quo(in, div), q), 100)
		if roundType == roundItem {
			ex = new(big.Rat).Mul(half(new(big.Rat).Quo(in, div), 100), q)
		}
		details = append(details, map[string]any{"product_name": "P", "product_quantity": q.Num().Int64(),
			"amount_tax_incl": f(half(lineIn, 100)), "amount_tax_excl": f(ex)})
		sumIn.Add(sumIn, lineIn)
		sumEx.Add(sumEx, ex)
		if byRate[rate] == nil {
			byRate[rate] = new(big.Rat)
		}
		byRate[rate].Add(byRate[rate], lineIn)
	}
	if roundType == roundTotal {
		sumEx = new(big.Rat)
		for rate, in := range byRate {
			sumEx.Add(sumEx, half(new(big.Rat).Quo(in, big.NewRat(10_000+rate, 10_000)), 100))
		}
	}
	shipIn := big.NewRat(rnd.Int64N(3)*rnd.Int64N(20_000), 100) // a third without shipping
	shipEx := half(new(big.Rat).Quo(shipIn, big.NewRat(5, 4)), 100)
	return map[string]any{"order_slip_details": details,
		"total_products_tax_incl": f(half(sumIn, 1_000_000)), "total_products_tax_excl": f(sumEx),
		"total_shipping_tax_incl": f(shipIn), "total_shipping_tax_excl": f(shipEx)}
}

// FuzzCreditNoteLines checks credit_note_lines' promises on slips a shop
// with each round_type would make: no error; the lines add up to the slip's
// total; each line's net is its unitPrice × quantity and its VAT what
// Fiken computes at its type's rate; each detail's units are all credited;
// a rounding line only small.
func FuzzCreditNoteLines(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42, 1 << 40} {
		for rt := range uint8(3) {
			f.Add(s, rt+1)
		}
	}
	f.Fuzz(func(t *testing.T, seed uint64, roundType uint8) {
		rt := int64(roundType%3) + 1
		s := shopSlip(rand.New(rand.NewPCG(seed, uint64(roundType))), rt)
		lines, err := CreditNoteLines(s, nil, nil)
		if err != nil {
			t.Fatalf("round_type %d: %v\n%v", rt, err, s)
		}
		total := mustTotal(t, s)
		// Rounding: an øre or so per line, and where the shop rounds per
		// item up to 5/8 øre per unit on top.
		var want, bound int64 = 0, max(2, int64(len(lines)))
		for _, d := range s["order_slip_details"].([]any) {
			q := d.(map[string]any)["product_quantity"].(int64)
			want += q
			if rt == roundItem {
				bound += 1 + (5*q+7)/8
			}
		}
		var gross, units int64
		for _, l := range lines {
			net, vat, unit, qty := l["net"].(int64), l["vat"].(int64), l["unitPrice"].(int64), l["quantity"].(float64)
			gross += l["gross"].(int64)
			if net != unit*int64(qty) || net+vat != l["gross"].(int64) {
				t.Errorf("line %v: net is not unitPrice × quantity, or net + vat is not gross", l)
			}
			rate, _ := vatRateForType(l["vatType"].(string))
			if want := fikenVat(net, int64(rate*100+0.5)); vat != want {
				t.Errorf("line %v: vat %d, Fiken computes %d", l, vat, want)
			}
			switch l["description"] {
			case defaultRoundingText:
				if net > bound || net < -bound {
					t.Errorf("round_type %d: rounding line %v bigger than %d", rt, l, bound)
				}
			case "P":
				units += int64(qty)
			}
		}
		if units != want {
			t.Errorf("lines credit %d units, the slip %d", units, want)
		}
		if gross != total {
			t.Errorf("lines add up to %d, the slip to %d", gross, total)
		}
	})
}
