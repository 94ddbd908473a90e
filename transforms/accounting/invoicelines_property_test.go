package accounting

import (
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
)

// This file checks invoice_lines' promises (issue 11 point 6) on random
// orders computed the way PrestaShop computes them: 6-decimal unit
// prices, row and order totals rounded per round_type and round_mode,
// cart discounts, free-shipping vouchers, shipping, wrapping, payment
// fees, currencies and delivery countries. The reference arithmetic is
// exact fractions (math/big), independent of the package's integer
// helpers.

var propertyCases = flag.Int("invoicelines.cases", 5_000, "random orders TestInvoiceLinesProperties checks")

// psCase is a random order with what the shop charged.
type psCase struct {
	name                     string
	order, settings, payment map[string]any
	products                 []any
	// rates are the rows' VAT rates (hundredths of a percent), as the
	// shop's tax rules set them.
	rates []int64
	// gross is what the invoice must add up to: total_paid_tax_incl,
	// plus the fee when the order is in the fee's currency.
	gross int64
	// zeroType and zeroAccount are the vatType and account every 0 %
	// line must carry (the account where the line has one).
	zeroType, zeroAccount string
	// charged is the gross the shop charged per VAT rate (rows as its
	// order_details, shipping, wrapping, the fee, less the discount's
	// exact share); slack how far the invoice may be from it at that
	// rate: what the per-line VAT rule may move where the shop's VAT was
	// more than an øre off, and the discount's split. shopDiff is the
	// total less the shop's own rounded amounts (round_type 3).
	charged, slack map[int64]*big.Rat
	shopDiff       int64
}

// ratRound rounds x to a whole number the way PrestaShop's round mode
// says, on exact fractions.
func ratRound(x *big.Rat, mode int64) int64 {
	neg := x.Sign() < 0
	a := new(big.Rat).Abs(x)
	q := new(big.Int).Quo(a.Num(), a.Denom()) // floor of |x|
	rem := new(big.Rat).Sub(a, new(big.Rat).SetInt(q))
	half := rem.Cmp(big.NewRat(1, 2))
	odd := q.Bit(0) == 1
	var up bool
	switch mode {
	case roundModeUp:
		up = rem.Sign() > 0 && !neg
	case roundModeDown:
		up = rem.Sign() > 0 && neg
	case roundModeHalfDown:
		up = half > 0
	case roundModeHalfEven:
		up = half > 0 || (half == 0 && odd)
	case roundModeHalfOdd:
		up = half > 0 || (half == 0 && !odd)
	default:
		up = half >= 0
	}
	n := q.Int64()
	if up {
		n++
	}
	if neg {
		return -n
	}
	return n
}

func ratOf(n, d int64) *big.Rat { return big.NewRat(n, d) }

// addAt adds x to m's amount at rate.
func addAt(m map[int64]*big.Rat, rate int64, x *big.Rat) {
	if m[rate] == nil {
		m[rate] = new(big.Rat)
	}
	m[rate].Add(m[rate], x)
}

// vatExcess is how much the per-line VAT rule may move an amount the shop
// charged vat on net at rate: nothing where vat is within an øre of net ×
// rate, else up to the distance plus the rounding of net × rate (under an
// øre in round_mode up and down).
func vatExcess(net, vat, rate int64) *big.Rat {
	t := ratOf(net*rate, 10_000)
	e := new(big.Rat).Sub(ratOf(vat, 1), t)
	e.Abs(e)
	if e.Cmp(ratOf(1, 1)) <= 0 {
		return new(big.Rat)
	}
	return e.Add(e, ratOf(1, 1))
}

// nok formats øre as the connector sends amounts: a float, or a decimal
// string now and then.
func nok(rnd *rand.Rand, ore int64) any {
	if rnd.IntN(4) == 0 {
		return formatOre(ore)
	}
	return float64(ore) / 100
}

// micros formats micro-NOK as a 6-decimal unit price.
func micros(rnd *rand.Rand, m int64) any {
	if rnd.IntN(4) == 0 {
		return new(big.Rat).SetFrac64(m, 1_000_000).FloatString(6)
	}
	f, _ := strconv.ParseFloat(new(big.Rat).SetFrac64(m, 1_000_000).FloatString(6), 64)
	return f
}

// psOrder makes a random order as PrestaShop computes it.
func psOrder(rnd *rand.Rand) psCase {
	pick := func(xs ...int64) int64 { return xs[rnd.IntN(len(xs))] }
	roundType := 1 + rnd.Int64N(3)
	mode := pick(roundModeHalfUp, roundModeHalfUp, roundModeHalfUp, roundModeUp, roundModeDown, roundModeHalfDown, roundModeHalfEven, roundModeHalfOdd)
	c := psCase{charged: map[int64]*big.Rat{}, slack: map[int64]*big.Rat{}, zeroType: "EXEMPT", zeroAccount: "3100"}
	o := map[string]any{"id": int64(1), "round_type": roundType, "round_mode": mode}

	countries := []any{nil, "NO", "no", "", "SE", "DE", "US", "SJ", "sj"}
	country := countries[rnd.IntN(len(countries))]
	o["delivery_country"] = country
	abroad := true
	switch country {
	case nil, "NO", "no", "":
		abroad = false
	case "SJ", "sj":
		c.zeroType = "OUTSIDE"
	default:
		c.zeroType = "EXEMPT_IMPORT_EXPORT"
	}
	currencies := []any{nil, "NOK", "NOK", "EUR", "SEK", "sek"}
	currency := currencies[rnd.IntN(len(currencies))]
	o["currency"] = currency

	// Rows: a shop charging VAT abroad is unusual but allowed.
	nrows := 1 + rnd.IntN(8)
	var rows []any
	var productsEx, productsIn int64
	exactEx, exactIn := new(big.Rat), new(big.Rat)
	rowsEx, rowsVat, rowErr := map[int64]int64{}, map[int64]int64{}, map[int64]*big.Rat{}
	for range nrows {
		rate := pick(2500, 2500, 1500, 1200, 0, 1111)
		if abroad && rnd.IntN(3) != 0 {
			rate = 0
		}
		decimals := []int{0, 2, 2, 3, 6}[rnd.IntN(5)]
		unit := int64(1)
		for range 6 - decimals {
			unit *= 10
		}
		ex := (rnd.Int64N(1_500_000_000)/unit + 1) * unit // micro-NOK, 0.01 to 1500 NOK
		if rnd.IntN(30) == 0 {
			ex = 0 // a free gift
		}
		in := ratRound(ratOf(ex*(10_000+rate), 10_000), roundModeHalfUp) // the webservice's 6 decimals
		q := 1 + rnd.Int64N(5)
		if rnd.IntN(8) == 0 {
			q = 1 + rnd.Int64N(200)
		}
		var rowEx, rowIn int64
		switch roundType {
		case roundItem:
			rowEx = ratRound(ratOf(ex, 10_000), mode) * q
			rowIn = ratRound(ratOf(in, 10_000), mode) * q
		default: // per line; round_type 3's order_details are per line too
			rowEx = ratRound(ratOf(ex*q, 10_000), mode)
			rowIn = ratRound(ratOf(in*q, 10_000), mode)
		}
		exactEx.Add(exactEx, ratOf(ex*q, 10_000))
		exactIn.Add(exactIn, ratOf(in*q, 10_000))
		productsEx, productsIn = productsEx+rowEx, productsIn+rowIn
		rows = append(rows, map[string]any{"product_name": fmt.Sprintf("P%d", len(rows)), "product_quantity": q,
			"unit_price_tax_excl": micros(rnd, ex), "unit_price_tax_incl": micros(rnd, in)})
		c.rates = append(c.rates, rate)
		// A linked product's own vatType is the domestic one for its rate.
		if rnd.IntN(3) == 0 {
			c.products = append(c.products, int64(100+len(rows)))
		} else {
			c.products = append(c.products, nil)
		}
		addAt(c.charged, rate, ratOf(rowIn, 1))
		addAt(c.slack, rate, vatExcess(rowEx, rowIn-rowEx, rate))
		rowsEx[rate] += rowEx
		rowsVat[rate] += rowIn - rowEx
		if rowErr[rate] == nil {
			rowErr[rate] = new(big.Rat)
		}
		e := new(big.Rat).Sub(ratOf(rowIn-rowEx, 1), ratOf(rowEx*rate, 10_000))
		rowErr[rate].Add(rowErr[rate], e.Abs(e))
	}
	o["order_rows"] = rows
	if rnd.IntN(2) == 0 {
		c.products = nil
	}
	if roundType == roundTotal {
		// The order's totals are rounded once, on the sums.
		c.shopDiff = ratRound(exactIn, mode) - productsIn
		productsEx, productsIn = ratRound(exactEx, mode), ratRound(exactIn, mode)
	}

	// Shipping: at 25 %, or 0 % abroad; now and then without
	// carrier_tax_rate (the rate is then derived).
	var shipIn, shipEx int64
	shipRate := int64(2500)
	if rnd.IntN(3) != 0 {
		shipIn = 100 + rnd.Int64N(30_000) // from 1 NOK: an øre or two fit several rates
		if abroad && rnd.IntN(2) == 0 {
			shipRate = 0
		}
		shipEx = ratRound(ratOf(shipIn*10_000, 10_000+shipRate), mode)
		addAt(c.charged, shipRate, ratOf(shipIn, 1))
		addAt(c.slack, shipRate, vatExcess(shipEx, shipIn-shipEx, shipRate))
	}
	o["total_shipping_tax_incl"], o["total_shipping_tax_excl"] = nok(rnd, shipIn), nok(rnd, shipEx)
	if rnd.IntN(5) != 0 {
		o["carrier_tax_rate"] = float64(shipRate) / 100
	}

	var wrapIn, wrapEx int64
	if rnd.IntN(5) == 0 {
		wrapRate := pick(2500, 0)
		wrapIn = 100 + rnd.Int64N(5_000) // its rate is derived: from 1 NOK
		wrapEx = ratRound(ratOf(wrapIn*10_000, 10_000+wrapRate), mode)
		addAt(c.charged, wrapRate, ratOf(wrapIn, 1))
		addAt(c.slack, wrapRate, vatExcess(wrapEx, wrapIn-wrapEx, wrapRate))
	}
	o["total_wrapping_tax_incl"], o["total_wrapping_tax_excl"] = nok(rnd, wrapIn), nok(rnd, wrapEx)

	var discIn, discEx int64
	switch rnd.IntN(6) {
	case 0, 1:
		// A cart rule of pct off the products, rounded on the total (as
		// the PrestaShop emulator does). Each rate's share is pct of its
		// rows; the split gives it within 2 øre of net (the total's
		// rounding and the share's), more for round_type 3 whose
		// products total is not the rows' sum, and VAT within an øre of
		// that net at the rate, plus pct of the rows' own VAT error.
		pct := []*big.Rat{ratOf(5, 100), ratOf(10, 100), ratOf(125, 1000), ratOf(1, 3), ratOf(333333, 1_000_000), ratOf(1, 2)}[rnd.IntN(6)]
		discEx = ratRound(new(big.Rat).Mul(pct, ratOf(productsEx, 1)), mode)
		discIn = ratRound(new(big.Rat).Mul(pct, ratOf(productsIn, 1)), mode)
		for rate, net := range rowsEx {
			share := new(big.Rat).Mul(pct, ratOf(net+rowsVat[rate], 1))
			addAt(c.charged, rate, share.Neg(share))
			netSlack := ratOf(2, 1)
			if roundType == roundTotal {
				netSlack.Add(netSlack, new(big.Rat).Mul(pct, ratOf(int64(nrows), 2)))
			}
			s := new(big.Rat).Mul(netSlack, ratOf(10_000+rate, 10_000))
			s.Add(s, ratOf(1, 1))
			s.Add(s, new(big.Rat).Mul(pct, rowErr[rate]))
			addAt(c.slack, rate, s)
		}
	case 2:
		if shipIn != 0 {
			// A free-shipping voucher: the shipping back, at its rate.
			discIn, discEx = shipIn, shipEx
			addAt(c.charged, shipRate, ratOf(-shipIn, 1))
			addAt(c.slack, shipRate, vatExcess(shipEx, shipIn-shipEx, shipRate))
		}
	}
	o["total_discounts_tax_incl"], o["total_discounts_tax_excl"] = nok(rnd, discIn), nok(rnd, discEx)
	total := productsIn + shipIn + wrapIn - discIn
	o["total_paid_tax_incl"] = nok(rnd, total)
	o["total_paid_tax_excl"] = nok(rnd, productsEx+shipEx+wrapEx-discEx)
	c.gross = total

	// The payment module's fee is in NOK unless said otherwise.
	if rnd.IntN(2) == 0 {
		fee := 1 + rnd.Int64N(9_900)
		feeRate := pick(2500, 2500, 1500, 0)
		c.payment = map[string]any{"fee": nok(rnd, fee), "paid": false}
		if feeRate != 2500 || rnd.IntN(2) == 0 {
			c.payment["fee_vat"] = float64(feeRate) / 100
		}
		feeCur := "NOK"
		switch rnd.IntN(4) {
		case 0:
			c.payment["fee_currency"] = "NOK"
		case 1:
			feeCur = "EUR"
			c.payment["fee_currency"] = feeCur
		}
		orderCur := "NOK"
		if s, ok := currency.(string); ok {
			orderCur, _ = currencyCode(s)
		}
		if orderCur == feeCur {
			c.gross += fee
			addAt(c.charged, feeRate, ratOf(fee, 1))
		}
	}
	if rnd.IntN(4) == 0 {
		c.settings = map[string]any{"export_account": "3110", "outside_account": 3210}
	}
	switch c.zeroType {
	case "EXEMPT_IMPORT_EXPORT":
		c.zeroAccount = map[bool]string{false: "3100", true: "3110"}[c.settings != nil]
	case "OUTSIDE":
		c.zeroAccount = map[bool]string{false: "3200", true: "3210"}[c.settings != nil]
	}
	c.order = o
	return c
}

// salesVatTypes are Fiken's sales vatTypes (fiken-openapi.yaml).
var salesVatTypes = map[string]int64{
	"NONE": 0, "HIGH": 2500, "MEDIUM": 1500, "RAW_FISH": 1111, "LOW": 1200,
	"EXEMPT_IMPORT_EXPORT": 0, "EXEMPT": 0, "OUTSIDE": 0, "EXEMPT_REVERSE": 0,
}

// checkInvoiceCase asserts the properties on one case.
func checkInvoiceCase(t *testing.T, c psCase) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: %s\norder %v\nproducts %v\nsettings %v\npayment %v", c.name, fmt.Sprintf(format, args...), c.order, c.products, c.settings, c.payment)
	}
	var products any
	if c.products != nil {
		products = c.products
	}
	lines, err := InvoiceLines(c.order, products, c.settings, c.payment)
	if err != nil {
		fail("invoice_lines: %v", err)
	}
	total, err := InvoiceTotal(c.order, c.payment)
	if err != nil || total != c.gross {
		fail("invoice_total %d, %v; want %d", total, err, c.gross)
	}
	var gross, rounding int64
	got := map[int64]int64{}
	for i, l := range lines {
		net, vat := l["net"].(int64), l["vat"].(int64)
		if l["gross"].(int64) != net+vat {
			fail("line %d %v: gross is not net + vat", i, l)
		}
		gross += net + vat
		vt, _ := l["vatType"].(string)
		rate, ok := salesVatTypes[vt]
		switch {
		case vt == "" && i < len(c.rates) && l["productId"] != nil:
			rate = c.rates[i] // the linked product's own vatType applies
		case !ok:
			fail("line %d %v: vatType %q is not a Fiken sales vat type", i, l, vt)
		case vt == "NONE":
			if l["description"] != defaultRoundingText || vat != 0 {
				fail("line %d %v: NONE on a line other than øreavrunding", i, l)
			}
			rounding += net
			continue
		case rate == 0 && vt != c.zeroType:
			fail("line %d %v: a 0 %% line to %v is %s, want %s", i, l, c.order["delivery_country"], vt, c.zeroType)
		}
		if acct, ok := l["incomeAccount"]; ok && rate == 0 && acct != c.zeroAccount {
			fail("line %d %v: a 0 %% line to %v on account %v, want %s", i, l, c.order["delivery_country"], acct, c.zeroAccount)
		}
		if d := vat*10_000 - net*rate; d > 10_000 || d < -10_000 || (rate == 0 && vat != 0) {
			fail("line %d %v: vat %d is more than an øre off %s %% of %d", i, l, vat, formatRate(rate), net)
		}
		got[rate] += net + vat
	}
	if gross != c.gross {
		fail("lines add up to %d, want %d (total_paid_tax_incl %v)", gross, c.gross, c.order["total_paid_tax_incl"])
	}
	// Per rate, what the invoice books is what the shop charged, but for
	// what the VAT rule moved to the rounding line and the discount's
	// split; nothing at all where neither applies.
	budget := ratOf(c.shopDiff, 1)
	budget.Abs(budget)
	for rate, want := range c.charged {
		d := new(big.Rat).Sub(ratOf(got[rate], 1), want)
		d.Abs(d)
		s := new(big.Rat)
		if c.slack[rate] != nil {
			s = c.slack[rate]
		}
		if d.Cmp(s) > 0 {
			fail("at %s %%: lines' gross %d, the shop charged %s (allowed %s off)\nlines %v", formatRate(rate), got[rate], want.FloatString(2), s.FloatString(2), lines)
		}
		budget.Add(budget, s)
	}
	for rate, g := range got {
		if c.charged[rate] == nil && g != 0 {
			fail("lines at %s %% add up to %d, the shop charged nothing at that rate", formatRate(rate), g)
		}
	}
	if r := ratOf(rounding, 1); new(big.Rat).Abs(r).Cmp(budget) > 0 {
		fail("rounding line %d øre, more than the shop's own rounding %d and the VAT moved (%s)", rounding, c.shopDiff, budget.FloatString(2))
	}
	// Where nothing was to move, the rounding line is the shop's own.
	if budget.Cmp(new(big.Rat).Abs(ratOf(c.shopDiff, 1))) == 0 && rounding != c.shopDiff {
		fail("rounding line %d øre, the shop's own rounding is %d and no VAT was to move", rounding, c.shopDiff)
	}
}

// TestInvoiceLinesProperties runs checkInvoiceCase on many seeded random
// orders.
func TestInvoiceLinesProperties(t *testing.T) {
	n := *propertyCases
	if testing.Short() {
		n = 1_000
	}
	rnd := rand.New(rand.NewPCG(11, 12))
	corrected, rounded := 0, 0
	for i := range n {
		c := psOrder(rnd)
		c.name = fmt.Sprintf("case %d", i)
		checkInvoiceCase(t, c)
		for _, s := range c.slack {
			if s.Sign() != 0 {
				corrected++
				break
			}
		}
		if c.shopDiff != 0 {
			rounded++
		}
	}
	// The cases must reach what they test.
	t.Logf("%d cases: %d with VAT to correct or a discount split, %d with the shop's own rounding", n, corrected, rounded)
	if corrected < n/20 || rounded < n/50 || corrected > n*3/4 {
		t.Errorf("%d of %d cases with VAT to correct or a discount split, %d with the shop's own rounding", corrected, n, rounded)
	}
}
