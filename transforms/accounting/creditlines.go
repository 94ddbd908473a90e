package accounting

import (
	"errors"
	"fmt"
	"slices"

	"github.com/synk-etl/synk/transforms"
	"github.com/synk-etl/synk/transforms/internal/decimal"
)

// This file turns a PrestaShop credit slip (a refund of units and/or
// shipping) into the lines of a Fiken partial credit note whose gross is
// the slip's refund to the øre. Fiken takes no amounts on a credit note
// line, only a net unit price, a quantity and a VAT type, and computes the
// VAT itself, per line, rounded half away from zero. So the lines are made
// such that unitPrice × quantity is exactly each row's net, the VAT Fiken
// will compute is predicted, and an øreavrunding line (NONE) takes up what
// that VAT and the shop's own rounding leave: the same integer arithmetic
// as invoice_lines (micro-NOK for 6-decimal amounts, øre for totals).

// CreditNoteLines is credit_note_lines for Go callers: the Fiken credit
// note lines of a PrestaShop credit slip (see the function table for the
// arguments). Their gross is CreditNoteTotal(slip).
func CreditNoteLines(slip map[string]any, productIDs any, settings map[string]any) ([]map[string]any, error) {
	lines, err := creditNoteLines(slip, productIDs, settings)
	var out []map[string]any
	for _, l := range lines {
		out = append(out, l.fiken())
	}
	return out, err
}

// CreditNoteTotal is the gross in øre of the credit note CreditNoteLines
// makes: the slip's products and shipping with VAT, each rounded to øre.
func CreditNoteTotal(slip map[string]any) (int64, error) {
	products, err := slipAmounts(slip, false, "total_products_tax_incl")
	if err != nil {
		return 0, err
	}
	shipping, _, err := slipShipping(slip)
	if err != nil {
		return 0, err
	}
	return products[0] + shipping, nil
}

func fnCreditNoteLines(args ...any) (any, error) {
	slip, err := objectArg("slip", args[0])
	if err == nil && slip == nil {
		err = errors.New("slip is nil")
	}
	var settings map[string]any
	if err == nil {
		settings, err = objectArg("settings", args[2])
	}
	var lines []map[string]any
	if err == nil {
		lines, err = CreditNoteLines(slip, args[1], settings)
	}
	if err != nil {
		return nil, fmt.Errorf("credit_note_lines: %w", err)
	}
	out := make([]any, len(lines))
	for i, l := range lines {
		out[i] = l
	}
	return out, nil
}

// slipAmounts reads slip amounts in øre. A nil one is an error naming it,
// unless the amounts are optional and all nil: then they are zero (a slip
// without shipping).
func slipAmounts(slip map[string]any, optional bool, fields ...string) ([]int64, error) {
	out := make([]int64, len(fields))
	if optional && !slices.ContainsFunc(fields, func(f string) bool { return slip[f] != nil }) {
		return out, nil
	}
	for i, f := range fields {
		if slip[f] == nil {
			return nil, fmt.Errorf("slip field %s is missing", f)
		}
		n, err := decimal.Scaled(slip[f], 2)
		if err != nil {
			return nil, fmt.Errorf("slip field %s %s: %w", f, transforms.Show(slip[f]), err)
		}
		out[i] = n
	}
	return out, nil
}

// slipShipping is the slip's shipping with and without VAT.
func slipShipping(slip map[string]any) (in, ex int64, err error) {
	a, err := slipAmounts(slip, true, "total_shipping_tax_incl", "total_shipping_tax_excl")
	if err != nil {
		return 0, 0, err
	}
	return a[0], a[1], nil
}

// fikenVat is the VAT Fiken computes on a credit note line: net × rate,
// rounded half away from zero (rate in hundredths of a percent).
func fikenVat(net, rate int64) int64 { return divRound(net*rate, 10_000, roundModeHalfUp) }

// creditNoteLines builds the lines: per slip detail one line (two when its
// net does not divide by its units: some units an øre dearer), shipping,
// and a rounding line when Fiken's VAT or the shop's rounding leaves a
// difference to the slip's total.
func creditNoteLines(slip map[string]any, productIDs any, settingsArg map[string]any) ([]invoiceLine, error) {
	settings, err := parseSettings(settingsArg)
	if err != nil {
		return nil, err
	}
	total, err := CreditNoteTotal(slip)
	if err != nil {
		return nil, err
	}
	details, err := listArg("order_slip_details", slip["order_slip_details"])
	if err != nil {
		return nil, fmt.Errorf("slip field %w", err)
	}
	ids, err := listArg("products", productIDs)
	if err != nil {
		return nil, err
	}
	if productIDs != nil && len(ids) != len(details) {
		return nil, fmt.Errorf("products: %d product ids for %d slip details (map them over order_slip_details)", len(ids), len(details))
	}
	shipIn, shipEx, err := slipShipping(slip)
	if err != nil {
		return nil, err
	}
	if len(details) == 0 && shipIn == 0 && shipEx == 0 {
		return nil, errors.New("slip has no details and no shipping: an amount refunded without rows has no VAT rate to credit it at")
	}

	var lines []invoiceLine
	// slack is the rounding a shop's slip can carry: an øre per detail,
	// plus up to 5/8 øre per unit where the shop rounds per item (its net
	// rounded per unit, then × 1.25 by Fiken's VAT), plus two for the
	// shipping and the rounding on the total.
	var rowsNet, slack int64 = 0, 2
	for i, dv := range details {
		d, err := objectArg(fmt.Sprintf("order_slip_details[%d]", i), dv)
		if err != nil {
			return nil, err
		}
		var productID any
		if ids != nil && ids[i] != nil {
			id, err := transforms.ToInt(ids[i])
			if err != nil || id <= 0 {
				return nil, fmt.Errorf("products[%d] %s: not a Fiken productId", i, transforms.Show(ids[i]))
			}
			productID = id
		}
		ls, net, err := detailLines(i, d, productID, settings)
		if err != nil {
			return nil, err
		}
		lines = append(lines, ls...)
		rowsNet += net
		for _, l := range ls {
			slack += 1 + (5*l.quantity+7)/8
		}
	}
	if shipIn != 0 || shipEx != 0 {
		rate, ok := snapRate(shipIn*10_000, shipEx*10_000)
		if !ok {
			return nil, fmt.Errorf("slip field total_shipping_tax_incl: %s", noRate(shipIn*10_000, shipEx*10_000))
		}
		lines = append(lines, settings.amountLine(settings.shippingText, shipEx, fikenVat(shipEx, rate), rate))
	}

	maxRound := settings.maxRounding
	if maxRound < 0 {
		maxRound = slack
	}
	if slip["total_products_tax_excl"] != nil {
		// The shop's net of the products and the rows' may differ by its
		// rounding on the total; more is a slip the rows do not make.
		a, err := slipAmounts(slip, false, "total_products_tax_excl")
		if err != nil {
			return nil, err
		}
		if productsEx, d := a[0], a[0]-rowsNet; d > maxRound || d < -maxRound {
			return nil, fmt.Errorf("slip field total_products_tax_excl %s is %s off its details' net (%s): more than rounding (at most %s)",
				formatOre(productsEx), formatOre(d), formatOre(rowsNet), formatOre(maxRound))
		}
	}
	var gross int64
	for _, l := range lines {
		gross += l.gross()
	}
	if diff := total - gross; diff != 0 {
		if diff > maxRound || diff < -maxRound {
			return nil, fmt.Errorf("slip total %s (products and shipping with VAT) is %s off its details and shipping at Fiken's VAT (%s): more than rounding (at most %s)",
				formatOre(total), formatOre(diff), formatOre(gross), formatOre(maxRound))
		}
		lines = append(lines, invoiceLine{description: settings.roundingText, quantity: 1, unitPrice: diff, net: diff,
			vatType: "NONE", account: settings.roundingAccount})
	}
	return lines, nil
}

// detailLines prices one slip detail: its refund excl. VAT as net, split
// over its units so that unitPrice × quantity is that net exactly, VAT as
// Fiken will compute it at the rate the refund's incl./excl. amounts show.
// It returns the lines and the detail's net.
func detailLines(i int, d map[string]any, productID any, s invoiceSettings) ([]invoiceLine, int64, error) {
	where := func() string {
		if n := rowName(d); n != "" {
			return fmt.Sprintf("order_slip_details[%d] (%s)", i, n)
		}
		return fmt.Sprintf("order_slip_details[%d]", i)
	}
	var amounts [2]int64 // incl. and excl. VAT, micro-NOK
	for k, field := range []string{"amount_tax_incl", "amount_tax_excl"} {
		if d[field] == nil {
			return nil, 0, fmt.Errorf("%s: %s is missing", where(), field)
		}
		n, err := decimal.Scaled(d[field], 6)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %s %s: %w", where(), field, transforms.Show(d[field]), err)
		}
		amounts[k] = n
	}
	incl, excl := amounts[0], amounts[1]
	if incl < 0 || excl < 0 {
		return nil, 0, fmt.Errorf("%s: negative refund", where())
	}
	qv := d["product_quantity"]
	if qv == nil {
		return nil, 0, fmt.Errorf("%s: product_quantity is missing", where())
	}
	qty, err := transforms.ToInt(qv)
	if err != nil || qty < 0 || qty > 1e9 {
		return nil, 0, fmt.Errorf("%s: product_quantity %s: want a whole number of units", where(), transforms.Show(qv))
	}
	if qty == 0 {
		qty = 1 // an amount refunded on a row without units: one line
	}
	// The rate is snapped on the amounts per unit: a shop rounding per
	// item (round_type 1) takes the VAT off each unit's price, so the
	// detail's totals drift apart by up to half an øre per unit.
	unitIn, unitEx := divRound(incl, qty, roundModeHalfUp), divRound(excl, qty, roundModeHalfUp)
	rate, unsure := int64(2500), false
	if incl != 0 || excl != 0 {
		r, ok := snapRate(unitIn, unitEx)
		if !ok {
			return nil, 0, fmt.Errorf("%s: %s", where(), noRate(incl, excl))
		}
		rate = r
		for _, other := range salesRates() {
			if _, fits := rateOff(unitIn, unitEx, other); fits && other != r {
				unsure = true
			}
		}
	}
	net := roundMicro(excl, roundModeHalfUp)
	vt, acct := s.vatTypeOf(rate)
	if productID != nil {
		acct = "" // the product's income account applies
		if net == 0 || unsure {
			vt = "" // so does its vatType: the amounts do not tell the rate
		}
	}
	text := rowName(d)
	if text == "" {
		text = defaultProductText
	}
	mk := func(units, unit int64) invoiceLine {
		n := units * unit
		return invoiceLine{productID: productID, description: truncateText(text), quantity: units, unitPrice: unit,
			net: n, vat: fikenVat(n, rate), vatType: vt, rate: rate, account: acct}
	}
	unit, rest := net/qty, net%qty
	lines := []invoiceLine{mk(qty-rest, unit)}
	if rest > 0 {
		lines = append(lines, mk(rest, unit+1))
	}
	return lines, net, nil
}
