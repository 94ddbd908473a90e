package accounting

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/synk-etl/synk/transforms"
	"github.com/synk-etl/synk/transforms/internal/decimal"
)

// This file turns a PrestaShop order into Fiken invoice lines whose sum is
// the order's total to the øre. Every amount is integer arithmetic on the
// decimal values the shop sent (micro-NOK for 6-decimal unit prices, øre
// for totals): floats would make "exact to the øre" a matter of luck.

// Defaults of invoice_lines' settings object.
const (
	defaultIncomeAccount = "3000"
	defaultExemptAccount = "3100"
	defaultZeroVatType   = "EXEMPT"
	defaultShippingText  = "Frakt"
	defaultDiscountText  = "Rabatt"
	defaultWrappingText  = "Gaveinnpakning"
	defaultRoundingText  = "Øreavrunding"
	defaultFeeText       = "Fakturagebyr"
	defaultFeeVat        = 25
	defaultProductText   = "Vare"
	// maxDescription is Fiken's limit on a line's description.
	maxDescription = 200
)

// Defaults for orders delivered abroad and in other currencies. Goods
// delivered abroad are export (utførsel, VAT return post 52); Svalbard and
// Jan Mayen are outside the Norwegian VAT area (post 6), and Fiken allows
// OUTSIDE only on 32xx accounts, not on the 31xx exempt ones.
const (
	defaultExportVatType  = "EXEMPT_IMPORT_EXPORT"
	defaultOutsideVatType = "OUTSIDE"
	defaultOutsideAccount = "3200"
	defaultCurrency       = "NOK"
)

// PrestaShop's round_type values (Order::ROUND_*).
const (
	roundItem  = 1
	roundLine  = 2
	roundTotal = 3
)

// PrestaShop's round_mode values (PS_ROUND_*).
const (
	roundModeUp       = 0 // ceil
	roundModeDown     = 1 // floor
	roundModeHalfUp   = 2 // half away from zero, the default
	roundModeHalfDown = 3
	roundModeHalfEven = 4
	roundModeHalfOdd  = 5
)

// salesRates are the Norwegian sales VAT rates in hundredths of a percent,
// highest first; a derived rate snaps to one of them.
func salesRates() [5]int64 { return [...]int64{2500, 1500, 1200, 1111, 0} }

func isSalesRate(r int64) bool {
	rates := salesRates()
	return slices.Contains(rates[:], r)
}

// defaultHomeCountries and defaultOutsideCountries are ISO 3166 alpha-2
// codes: deliveries to Norway are domestic, to Svalbard and Jan Mayen (SJ)
// outside the VAT area, anywhere else export.
func defaultHomeCountries() []string { return []string{"NO"} }

func defaultOutsideCountries() []string { return []string{"SJ"} }

// invoiceLine is one Fiken invoice line before it becomes a map: amounts
// in øre, rate in hundredths of a percent.
type invoiceLine struct {
	productID   any // int64, or nil for a line without a Fiken product
	description string
	quantity    int64
	unitPrice   int64
	net, vat    int64
	vatType     string
	rate        int64
	account     string // "" for product lines: the product's account applies
	// unsure is set on a row whose prices fit more than one rate (a few
	// øre): a linked product's own vatType is the better guess.
	unsure bool
}

func (l invoiceLine) gross() int64 { return l.net + l.vat }

// fitVat keeps the line's VAT where it is within 1 øre of net × rate and
// otherwise sets it to net × rate rounded (an auditor checks each line,
// not the shop's rounding of it). It returns how much the gross changed,
// which the øreavrunding line gives back.
func (l *invoiceLine) fitVat(mode int64) int64 {
	if lo, hi := vatWindow(l.net, l.rate); l.vat >= lo && l.vat <= hi {
		return 0
	}
	old := l.vat
	l.vat = vatAt(l.net, l.rate, mode)
	return l.vat - old
}

// fiken is the line as Fiken's invoiceLineRequest: net, vat and gross are
// sent explicitly so Fiken books the shop's amounts instead of
// recomputing VAT per line (which would drift from the shop's own VAT by
// an øre here and there).
func (l invoiceLine) fiken() map[string]any {
	m := make(map[string]any, 9)
	m["description"] = l.description
	m["quantity"] = float64(l.quantity)
	m["unitPrice"] = l.unitPrice
	m["net"] = l.net
	m["vat"] = l.vat
	m["gross"] = l.gross()
	if l.vatType != "" {
		m["vatType"] = l.vatType
	}
	if l.productID != nil {
		m["productId"] = l.productID
	}
	if l.account != "" {
		m["incomeAccount"] = l.account
	}
	return m
}

// InvoiceLines is invoice_lines for Go callers: the Fiken invoice lines of
// a PrestaShop order (see the function table for the arguments). The
// gross of the lines is InvoiceTotal(order, payment).
func InvoiceLines(order map[string]any, productIDs any, settings, payment map[string]any) ([]map[string]any, error) {
	lines, err := invoiceLines(order, productIDs, settings, payment)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(lines))
	for i, l := range lines {
		out[i] = l.fiken()
	}
	return out, nil
}

// InvoiceTotal is invoice_total for Go callers: the gross in øre of the
// invoice InvoiceLines makes, the order's total_paid_tax_incl plus the
// payment module's fee (the shop's total does not include the fee) when
// the order is in the fee's currency.
func InvoiceTotal(order, payment map[string]any) (int64, error) {
	total, err := requiredOre(order, "total_paid_tax_incl")
	if err != nil {
		return 0, err
	}
	p, err := parsePayment(payment)
	if err != nil {
		return 0, err
	}
	fee, err := p.feeFor(order)
	if err != nil {
		return 0, err
	}
	return total + fee, nil
}

func fnInvoiceLines(args ...any) (any, error) {
	order, err := objectArg("order", args[0])
	if err != nil {
		return nil, fmt.Errorf("invoice_lines: %w", err)
	}
	if order == nil {
		return nil, errors.New("invoice_lines: order is nil")
	}
	settings, err := objectArg("settings", args[2])
	if err != nil {
		return nil, fmt.Errorf("invoice_lines: %w", err)
	}
	payment, err := objectArg("payment", args[3])
	if err != nil {
		return nil, fmt.Errorf("invoice_lines: %w", err)
	}
	lines, err := invoiceLines(order, args[1], settings, payment)
	if err != nil {
		return nil, fmt.Errorf("invoice_lines: %w", err)
	}
	out := make([]any, len(lines))
	for i, l := range lines {
		out[i] = l.fiken()
	}
	return out, nil
}

func fnInvoiceTotal(args ...any) (any, error) {
	order, err := objectArg("order", args[0])
	if err != nil {
		return nil, fmt.Errorf("invoice_total: %w", err)
	}
	if order == nil {
		return nil, nil
	}
	payment, err := objectArg("payment", args[1])
	if err != nil {
		return nil, fmt.Errorf("invoice_total: %w", err)
	}
	total, err := InvoiceTotal(order, payment)
	if err != nil {
		return nil, fmt.Errorf("invoice_total: %w", err)
	}
	return total, nil
}

func fnVatOf(args ...any) (any, error) {
	if args[0] == nil || args[1] == nil {
		return nil, nil
	}
	incl, err := decimal.Scaled(args[0], 6)
	if err != nil {
		return nil, fmt.Errorf("vat_of incl %s: %w", transforms.Show(args[0]), err)
	}
	excl, err := decimal.Scaled(args[1], 6)
	if err != nil {
		return nil, fmt.Errorf("vat_of excl %s: %w", transforms.Show(args[1]), err)
	}
	if incl == 0 && excl == 0 {
		return nil, nil
	}
	rate, ok := snapRate(incl, excl)
	if !ok {
		return nil, fmt.Errorf("vat_of(%s, %s): %s", transforms.Show(args[0]), transforms.Show(args[1]), noRate(incl, excl))
	}
	return float64(rate) / 100, nil
}

// objectArg accepts a map with string keys (a record, a vars object) or
// nil.
func objectArg(name string, v any) (map[string]any, error) {
	switch m := v.(type) {
	case nil:
		return nil, nil
	case map[string]any:
		return m, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, fmt.Errorf("%s: want an object, got %s", name, transforms.ValueType(v))
	}
	m := make(map[string]any, rv.Len())
	it := rv.MapRange()
	for it.Next() {
		m[it.Key().String()] = it.Value().Interface()
	}
	return m, nil
}

// listArg accepts any list, or nil as an empty one.
func listArg(name string, v any) ([]any, error) {
	switch l := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return l, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, fmt.Errorf("%s: want a list, got %s", name, transforms.ValueType(v))
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, nil
}

const (
	domestic destination = iota
	export
	outside // Svalbard, Jan Mayen: outside the VAT area
)

// requiredOre reads an order amount in øre; nil is an error naming it.
func requiredOre(order map[string]any, field string) (int64, error) {
	v := order[field]
	if v == nil {
		return 0, fmt.Errorf("order field %s is missing", field)
	}
	n, err := decimal.Scaled(v, 2)
	if err != nil {
		return 0, fmt.Errorf("order field %s %s: %w", field, transforms.Show(v), err)
	}
	return n, nil
}

// pairOre reads an amount with and without VAT: both nil is zero, one of
// them nil is an error.
func pairOre(order map[string]any, incl, excl string) (in, ex int64, err error) {
	if order[incl] == nil && order[excl] == nil {
		return 0, 0, nil
	}
	if in, err = requiredOre(order, incl); err != nil {
		return 0, 0, err
	}
	if ex, err = requiredOre(order, excl); err != nil {
		return 0, 0, err
	}
	return in, ex, nil
}

func intField(m map[string]any, field string, def int64) (int64, error) {
	v := m[field]
	if v == nil {
		return def, nil
	}
	n, err := transforms.ToInt(v)
	if err != nil {
		return 0, fmt.Errorf("order field %s %s: %w", field, transforms.Show(v), err)
	}
	return n, nil
}

// checkVat refuses an incl./excl. pair that does not fit its stated rate.
func checkVat(field string, gross, net, rate int64) error {
	if gross == 0 && net == 0 {
		return nil
	}
	if _, ok := rateOff(gross*10_000, net*10_000, rate); !ok {
		return fmt.Errorf("%s: %s incl. / %s excl. VAT do not fit its VAT rate %s %%", field, formatOre(gross), formatOre(net), formatRate(rate))
	}
	return nil
}

func truncateText(s string) string {
	if utf8.RuneCountInString(s) <= maxDescription {
		return s
	}
	r := []rune(s)
	return string(r[:maxDescription])
}

// invoiceLines builds the lines: one per order row, shipping, wrapping,
// the discount split per VAT rate, a rounding line when the shop's own
// rounding leaves a difference, and the payment module's fee.
func invoiceLines(order map[string]any, productIDs any, settingsArg, paymentArg map[string]any) ([]invoiceLine, error) {
	settings, err := parseSettings(settingsArg)
	if err != nil {
		return nil, err
	}
	payment, err := parsePayment(paymentArg)
	if err != nil {
		return nil, err
	}
	if payment.account == "" {
		payment.account = settings.incomeAccount
	}
	dest, err := settings.orderDestination(order)
	if err != nil {
		return nil, err
	}
	settings = settings.to(dest)
	fee, err := payment.feeFor(order)
	if err != nil {
		return nil, err
	}
	total, err := requiredOre(order, "total_paid_tax_incl")
	if err != nil {
		return nil, err
	}
	roundType, err := intField(order, "round_type", roundLine)
	if err != nil {
		return nil, err
	}
	roundMode, err := intField(order, "round_mode", roundModeHalfUp)
	if err != nil {
		return nil, err
	}
	if roundType < roundItem || roundType > roundTotal {
		return nil, fmt.Errorf("order field round_type %d: want 1 (item), 2 (line) or 3 (total)", roundType)
	}
	if roundMode < roundModeUp || roundMode > roundModeHalfOdd {
		return nil, fmt.Errorf("order field round_mode %d: want 0 to 5", roundMode)
	}
	rows, err := listArg("order_rows", order["order_rows"])
	if err != nil {
		return nil, fmt.Errorf("order field %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("order field order_rows is empty")
	}
	ids, err := listArg("products", productIDs)
	if err != nil {
		return nil, err
	}
	if productIDs != nil && len(ids) != len(rows) {
		return nil, fmt.Errorf("products: %d product ids for %d order rows (map them over order_rows)", len(ids), len(rows))
	}

	var lines []invoiceLine
	var split []int // the lines of the discount split per rate
	// Per rate: the products' net and VAT, which the discount is split by.
	type rateSum struct{ net, vat int64 }
	sums := map[int64]*rateSum{}
	var rateOrder []int64
	for i, rv := range rows {
		row, err := objectArg(fmt.Sprintf("order_rows[%d]", i), rv)
		if err != nil {
			return nil, err
		}
		l, err := rowLine(i, row, roundType, roundMode, settings)
		if err != nil {
			return nil, err
		}
		if ids != nil && ids[i] != nil {
			id, err := transforms.ToInt(ids[i])
			if err != nil || id <= 0 {
				return nil, fmt.Errorf("products[%d] %s: not a Fiken productId", i, transforms.Show(ids[i]))
			}
			l.productID = id
			// A 0 % row delivered abroad is export (or outside the VAT
			// area): the product's vatType and account are the domestic
			// ones, and that account may not allow the export vatType,
			// so the line keeps both.
			abroad := dest != domestic && l.rate == 0 && (l.net != 0 || l.vat != 0)
			if !abroad {
				l.account = "" // the product's income account applies
				if (l.net == 0 && l.vat == 0) || l.unsure {
					l.vatType = "" // so does its vatType: the row's prices do not tell the rate
				}
			}
		}
		lines = append(lines, l)
		if _, ok := sums[l.rate]; !ok {
			sums[l.rate] = &rateSum{}
			rateOrder = append(rateOrder, l.rate)
		}
		sums[l.rate].net += l.net
		sums[l.rate].vat += l.vat
	}
	slices.SortFunc(rateOrder, func(a, b int64) int { return int(b - a) })

	shipIn, shipEx, err := pairOre(order, "total_shipping_tax_incl", "total_shipping_tax_excl")
	if err != nil {
		return nil, err
	}
	shipRate := int64(-1)
	if shipIn != 0 || shipEx != 0 {
		var rate int64
		if v := order["carrier_tax_rate"]; v != nil {
			r, err := decimal.Scaled(v, 2)
			if err != nil || !isSalesRate(r) {
				return nil, fmt.Errorf("order field carrier_tax_rate %s: not a Norwegian sales VAT rate (25, 15, 12, 11.11, 0)", transforms.Show(v))
			}
			rate = r
		} else {
			r, ok := snapRate(shipIn*10_000, shipEx*10_000)
			if !ok {
				return nil, fmt.Errorf("order field total_shipping_tax_incl: %s", noRate(shipIn*10_000, shipEx*10_000))
			}
			rate = r
		}
		if err := checkVat("order field total_shipping_tax_incl", shipIn, shipEx, rate); err != nil {
			return nil, err
		}
		lines = append(lines, settings.amountLine(settings.shippingText, shipEx, shipIn-shipEx, rate))
		shipRate = rate
	}

	wrapIn, wrapEx, err := pairOre(order, "total_wrapping_tax_incl", "total_wrapping_tax_excl")
	if err != nil {
		return nil, err
	}
	if wrapIn != 0 || wrapEx != 0 {
		rate, ok := snapRate(wrapIn*10_000, wrapEx*10_000)
		if !ok {
			return nil, fmt.Errorf("order field total_wrapping_tax_incl: %s", noRate(wrapIn*10_000, wrapEx*10_000))
		}
		lines = append(lines, settings.amountLine(settings.wrappingText, wrapEx, wrapIn-wrapEx, rate))
	}

	discIn, discEx, err := pairOre(order, "total_discounts_tax_incl", "total_discounts_tax_excl")
	if err != nil {
		return nil, err
	}
	switch {
	case discIn == 0 && discEx == 0:
	case shipRate >= 0 && discIn == shipIn && discEx == shipEx:
		// A free-shipping voucher: PrestaShop counts the shipping it
		// waives as discount. It takes the shipping's VAT back, not the
		// products'.
		lines = append(lines, settings.amountLine(settings.discountText+" ("+strings.ToLower(settings.shippingText)+")", -shipEx, -(shipIn-shipEx), shipRate))
	default:
		// Net is split by each rate's share of the products' net, VAT by
		// its share of their VAT: so a 0 % rate gets no discount VAT and
		// each rate's discount keeps that rate.
		nets := make([]int64, len(rateOrder))
		vats := make([]int64, len(rateOrder))
		for i, r := range rateOrder {
			nets[i], vats[i] = sums[r].net, sums[r].vat
		}
		// A cut of the products takes their VAT in proportion to their
		// net, give or take the shop's rounding; a discount that does not
		// (a voucher on shipping and products together) would book VAT
		// the shop never charged at these rates.
		var sumNet, sumVat int64
		for i := range nets {
			sumNet, sumVat = sumNet+nets[i], sumVat+vats[i]
		}
		if sumNet != 0 {
			// |discount VAT − discEx × sumVat / sumNet| ≤ k, in integers:
			// want = q + r/sumNet with 0 ≤ r < sumNet.
			k := 2 + int64(len(rows))
			q, r, ok := mulDivFloor(discEx, sumVat, sumNet)
			d := (discIn - discEx) - q
			if !ok || d > k || d < -k || (d == -k && r > 0) {
				if 2*r >= sumNet {
					q++ // shown rounded
				}
				return nil, fmt.Errorf("order field total_discounts_tax_incl %s / excl %s: its VAT %s is not the products' VAT rates applied to its net (%s); a voucher on more than the products?",
					formatOre(discIn), formatOre(discEx), formatOre(discIn-discEx), formatOre(q))
			}
		}
		netShare, ok := allocate(discEx, nets)
		if !ok {
			return nil, fmt.Errorf("order field total_discounts_tax_excl %s: no product net to split it over", formatOre(discEx))
		}
		vatShare, ok := allocate(discIn-discEx, vats)
		if !ok {
			return nil, fmt.Errorf("order field total_discounts_tax_incl %s: discount VAT %s but the products carry no VAT", formatOre(discIn), formatOre(discIn-discEx))
		}
		n := 0
		for i := range rateOrder {
			if netShare[i] != 0 || vatShare[i] != 0 {
				n++
			}
		}
		for i, r := range rateOrder {
			if netShare[i] == 0 && vatShare[i] == 0 {
				continue
			}
			text := settings.discountText
			if n > 1 {
				text = fmt.Sprintf("%s %s %% mva", text, formatRate(r))
			}
			split = append(split, len(lines))
			lines = append(lines, settings.amountLine(text, -netShare[i], -vatShare[i], r))
		}
	}

	var gross, net int64
	for _, l := range lines {
		gross += l.gross()
		net += l.net
	}
	maxRound := settings.maxRounding
	if maxRound < 0 {
		maxRound = max(2, int64(len(lines)))
	}
	// The guards compare the shop's totals with its own rows and amounts,
	// as it rounded them: a difference beyond rounding is a wrong order.
	diff := total - gross
	if diff > maxRound || diff < -maxRound {
		return nil, fmt.Errorf("order field total_paid_tax_incl %s is %s off the sum of its rows, shipping, wrapping and discounts (%s): more than rounding (at most %s)",
			formatOre(total), formatOre(diff), formatOre(gross), formatOre(maxRound))
	}
	if order["total_paid_tax_excl"] != nil {
		totalEx, err := requiredOre(order, "total_paid_tax_excl")
		if err != nil {
			return nil, err
		}
		// The shop's VAT total and the lines' may differ by its own
		// rounding (round_type 3 rounds VAT on the total); more is a
		// wrong order, not rounding.
		shopVat, linesVat := total-totalEx, gross-net
		if d := shopVat - linesVat; d > maxRound || d < -maxRound {
			return nil, fmt.Errorf("order field total_paid_tax_excl %s: the order's VAT %s is %s off the VAT of its rows, shipping, wrapping and discounts (%s): more than rounding (at most %s)",
				formatOre(totalEx), formatOre(shopVat), formatOre(d), formatOre(linesVat), formatOre(maxRound))
		}
	}
	// Each line's VAT within 1 øre of its net × rate, as an auditor
	// checks it: where the shop's rounding (per item, or VAT on an
	// øre-rounded total) put more, the line takes net × rate and the
	// øreavrunding line the difference, so the gross stays the shop's.
	// The net is the shop's, so the invoice net stays the order's.
	diff -= balanceVat(lines, split)
	for i := range lines {
		diff -= lines[i].fitVat(roundMode)
	}
	if diff != 0 {
		// Øreavrunding carries no VAT; NONE is valid on every sales account.
		lines = append(lines, invoiceLine{description: settings.roundingText, quantity: 1, unitPrice: diff, net: diff,
			vatType: "NONE", account: settings.roundingAccount})
	}

	if fee != 0 {
		feeEx := divRound(fee*10_000, 10_000+payment.feeVat, roundModeHalfUp)
		l := settings.amountLine(payment.feeText, feeEx, fee-feeEx, payment.feeVat)
		if payment.feeVat != 0 {
			l.account = payment.account
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// rowLine prices one order row the way the shop's round_type did.
func rowLine(i int, row map[string]any, roundType, roundMode int64, s invoiceSettings) (invoiceLine, error) {
	where := func() string { return rowWhere(i, row) }
	micro := func(field string) (int64, error) {
		v := row[field]
		if v == nil {
			return 0, fmt.Errorf("%s: %s is missing", where(), field)
		}
		n, err := decimal.Scaled(v, 6)
		if err != nil {
			return 0, fmt.Errorf("%s: %s %s: %w", where(), field, transforms.Show(v), err)
		}
		return n, nil
	}
	incl, err := micro("unit_price_tax_incl")
	if err != nil {
		return invoiceLine{}, err
	}
	excl, err := micro("unit_price_tax_excl")
	if err != nil {
		return invoiceLine{}, err
	}
	qv := row["product_quantity"]
	if qv == nil {
		return invoiceLine{}, fmt.Errorf("%s: product_quantity is missing", where())
	}
	qty, err := transforms.ToInt(qv)
	if err != nil || qty <= 0 {
		return invoiceLine{}, fmt.Errorf("%s: product_quantity %s: want a positive whole number", where(), transforms.Show(qv))
	}
	if qty > 1e9 {
		return invoiceLine{}, fmt.Errorf("%s: product_quantity %d is out of range", where(), qty)
	}
	if excl < 0 || incl < 0 {
		return invoiceLine{}, fmt.Errorf("%s: negative unit price", where())
	}
	// A free row has no rate to derive; it carries no VAT either way.
	rate, unsure := int64(2500), false
	if incl != 0 || excl != 0 {
		r, ok := snapRate(incl, excl)
		if !ok {
			return invoiceLine{}, fmt.Errorf("%s: %s", where(), noRate(incl, excl))
		}
		rate = r
		for _, other := range salesRates() {
			if _, fits := rateOff(incl, excl, other); fits && other != r {
				unsure = true
			}
		}
	}
	if excl > (1<<62)/qty || incl > (1<<62)/qty {
		return invoiceLine{}, fmt.Errorf("%s: amount out of range", where())
	}
	var net, gross int64
	switch roundType {
	case roundItem:
		net = roundMicro(excl, roundMode) * qty
		gross = roundMicro(incl, roundMode) * qty
	default:
		net = roundMicro(excl*qty, roundMode)
		gross = roundMicro(incl*qty, roundMode)
	}
	vt, acct := s.vatTypeOf(rate)
	text := rowName(row)
	if text == "" {
		text = defaultProductText
	}
	return invoiceLine{
		description: truncateText(text), quantity: qty, unitPrice: roundMicro(excl, roundMode),
		net: net, vat: gross - net, vatType: vt, rate: rate, account: acct, unsure: unsure,
	}, nil
}

// rowName is what names a row: its product name, else its reference.
func rowName(row map[string]any) string {
	if n, ok := row["product_name"].(string); ok && n != "" {
		return n
	}
	if r, ok := row["product_reference"].(string); ok && r != "" {
		return r
	}
	return ""
}

// rowWhere names row i in an error.
func rowWhere(i int, row map[string]any) string {
	if n := rowName(row); n != "" {
		return fmt.Sprintf("order_rows[%d] (%s)", i, n)
	}
	return fmt.Sprintf("order_rows[%d]", i)
}

// balanceVat moves øre between the lines of a discount's VAT split (idx)
// so each is within 1 øre of its net × rate (none at 0 %), keeping their
// sum where the windows allow; splitting net and VAT each by its own
// weights can leave a rate more than an øre off. Lines already within are
// not touched. It returns the change of the lines' gross: what the windows
// cannot hold, which the øreavrunding line gives back.
func balanceVat(lines []invoiceLine, idx []int) int64 {
	lo, hi := make([]int64, len(idx)), make([]int64, len(idx))
	var left int64
	for k, i := range idx {
		l := &lines[i]
		lo[k], hi[k] = vatWindow(l.net, l.rate)
		c := min(max(l.vat, lo[k]), hi[k])
		left += l.vat - c
		l.vat = c
	}
	for k, i := range idx {
		l := &lines[i]
		switch {
		case left > 0:
			d := min(left, hi[k]-l.vat)
			l.vat, left = l.vat+d, left-d
		case left < 0:
			d := max(left, lo[k]-l.vat)
			l.vat, left = l.vat+d, left-d
		}
	}
	return -left
}
