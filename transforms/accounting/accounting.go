// Package accounting is the accounting function set of pipeline
// expressions: øre and NOK, Norwegian sales VAT and Fiken's vat types, and
// the Fiken invoice and credit note lines of PrestaShop orders and credit
// slips, exact to the øre. main registers it into the expression
// environment (Register); a pipeline that calls these functions without it
// fails validation with the position of the call.
package accounting

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/synk-etl/synk/transforms"
	"github.com/synk-etl/synk/transforms/internal/decimal"
)

// Register adds the accounting functions (ore, nok, vat_type, vat_rate,
// vat_of, invoice_lines, invoice_total, credit_note_lines) to fns.
func Register(fns *transforms.Functions) {
	fns.Register(functions()...)
}

// functions is the set's table, in the order the docs list it.
func functions() []transforms.Function {
	typeInt := reflect.TypeFor[int64]()
	typeFloat := reflect.TypeFor[float64]()
	typeString := reflect.TypeFor[string]()
	typeList := reflect.TypeFor[[]any]()
	param := func(name string, kind transforms.Kind) transforms.Param {
		return transforms.Param{Name: name, Kind: kind}
	}
	return []transforms.Function{
		{
			Name: "ore", Params: []transforms.Param{param("nok", transforms.Number)}, Result: typeInt,
			Doc:  "NOK to integer øre, rounding half away from zero on the decimal value (1.005 → 101, -2.675 → -268). Numeric strings are accepted at run time; nil gives nil.",
			Func: fnOre,
		},
		{
			Name: "nok", Params: []transforms.Param{param("ore", transforms.Number)}, Result: typeFloat,
			Doc:  "Øre to NOK (4550 → 45.5), the float nearest the exact quotient. nil gives nil.",
			Func: fnNok,
		},
		{
			Name: "vat_type", Params: []transforms.Param{param("rate", transforms.Number)}, Result: typeString,
			Doc:  `Norwegian sales VAT rate in percent to Fiken's vatType: 25 "HIGH", 15 "MEDIUM", 12 "LOW", 11.11 "RAW_FISH", 0 "EXEMPT". Any other rate is an error naming it. nil gives nil.`,
			Func: fnVatType,
		},
		{
			Name: "vat_rate", Params: []transforms.Param{param("type", transforms.String)}, Result: typeFloat,
			Doc:  `Fiken sales vatType to its rate in percent ("HIGH" → 25; EXEMPT, EXEMPT_IMPORT_EXPORT, EXEMPT_REVERSE, OUTSIDE and NONE → 0). An unknown type is an error. nil gives nil.`,
			Func: fnVatRate,
		},
		{
			Name: "vat_of", Params: []transforms.Param{param("incl", transforms.Number), param("excl", transforms.Number)}, Result: typeFloat,
			Doc:  `The Norwegian sales VAT rate in percent (25, 15, 12, 11.11 or 0) that made price incl from excl, snapped to the nearest rate within 1.2 øre (vat_of(99.99, 79.992) → 25). A price that fits no rate is an error naming the implied rate; nil or both 0 give nil.`,
			Func: fnVatOf,
		},
		{
			Name: "invoice_lines", Params: []transforms.Param{param("order", transforms.Any), param("products", transforms.Any), param("settings", transforms.Any), param("payment", transforms.Any)}, Result: typeList,
			Doc:  "Fiken invoice lines (øre; net, vat and gross explicit) of a PrestaShop order whose gross is invoice_total(order, payment) exactly: a line per order row (productId from products, aligned with order_rows, nil for none; vatType from the unit prices, or the linked product's when they are too small to tell; rounded by the order's round_type/round_mode), shipping, gift wrapping, the discount split per VAT rate by the products' net and VAT (a discount equal to the shipping is a free-shipping voucher, at the shipping's rate), an øreavrunding line (NONE) for the shop's own rounding, and payment.fee. Each line's VAT is within 1 øre of net × rate; where the shop's rounding put more on a line, the øreavrunding line takes the difference, so the gross stays the shop's. 0 % lines follow order.delivery_country (ISO code; missing is domestic). settings keys: income_account (3000), exempt_account (3100) and zero_vat_type (EXEMPT) for domestic 0 % lines, export_vat_type (EXEMPT_IMPORT_EXPORT) and export_account (exempt_account) for goods delivered abroad, outside_vat_type (OUTSIDE) and outside_account (3200) for outside_countries ([SJ]), home_countries ([NO]), shipping_text, wrapping_text, discount_text, rounding_text, rounding_account, max_rounding (NOK; default 1 øre per line; bounds the shop's own rounding). payment keys (payment may be nil): fee (incl. VAT), fee_currency (NOK: no fee on an order in another order.currency), fee_vat (25), fee_text, fee_account. An unknown VAT rate, a missing field or a difference beyond rounding is an error naming the field or row.",
			Func: fnInvoiceLines,
		},
		{
			Name: "invoice_total", Params: []transforms.Param{param("order", transforms.Any), param("payment", transforms.Any)}, Result: typeInt,
			Doc:  "The gross in øre (cents of the order's currency) of the invoice invoice_lines makes: ore(total_paid_tax_incl) plus payment.fee when the order is in its fee_currency, which the shop's total does not include; compare invoice totals with this, not with the shop's total. nil order gives nil.",
			Func: fnInvoiceTotal,
		},
		{
			Name: "credit_note_lines", Params: []transforms.Param{param("slip", transforms.Any), param("products", transforms.Any), param("settings", transforms.Any)}, Result: typeList,
			Doc:  "Fiken partial credit note lines (øre) of a PrestaShop credit slip (order_slips) whose gross is the slip's refund, ore(total_products_tax_incl) + ore(total_shipping_tax_incl), exactly: a line per slip detail at its refund excl. VAT (amount_tax_excl), split in two when that net does not divide by its units so that unitPrice × quantity is the net exactly (productId from products, aligned with order_slip_details, nil for none; vatType from amount_tax_incl/excl, or the linked product's when they are too small to tell), the shipping, and an øreavrunding line (NONE) for what Fiken's VAT (computed per line, half away from zero: a credit note line takes no amounts) and the shop's rounding leave. net, vat and gross say what Fiken will book; the fiken connector sends unitPrice and quantity. settings: as invoice_lines (income_account, exempt_account and zero_vat_type for 0 % lines, shipping_text, rounding_text, rounding_account, max_rounding: NOK, default 2 øre plus per line 1 øre and 5/8 øre per unit, the rounding of a shop that rounds per item). A slip without details or shipping, an unknown VAT rate, a missing field or a difference beyond rounding is an error naming the field or detail.",
			Func: fnCreditNoteLines,
		},
	}
}

func fnOre(args ...any) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	n, err := decimal.Scaled(args[0], 2)
	if err != nil {
		return nil, fmt.Errorf("ore(%s): %w", transforms.Show(args[0]), err)
	}
	return n, nil
}

func fnNok(args ...any) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	f, err := decimal.Shift(args[0], 2)
	if err != nil {
		return nil, fmt.Errorf("nok(%s): %w", transforms.Show(args[0]), err)
	}
	return f, nil
}

func fnVatType(args ...any) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	rate, err := decimal.Scaled(args[0], 4)
	if err != nil {
		return nil, fmt.Errorf("vat_type(%s): %w", transforms.Show(args[0]), err)
	}
	t, ok := vatTypeForRate(rate)
	if !ok {
		return nil, fmt.Errorf("vat_type: no Fiken sales vat type for rate %s %%", transforms.Show(args[0]))
	}
	return t, nil
}

func fnVatRate(args ...any) (any, error) {
	if args[0] == nil {
		return nil, nil
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("vat_rate: want a string, got %s", transforms.ValueType(args[0]))
	}
	r, ok := vatRateForType(strings.ToUpper(strings.TrimSpace(s)))
	if !ok {
		return nil, fmt.Errorf("vat_rate: unknown vat type %q", s)
	}
	return r, nil
}

// vatTypeForRate maps a Norwegian sales VAT rate in ten-thousandths of a
// percent (four decimals, so 25.001 is not taken for 25) to Fiken's
// vatType. 0 % sales are EXEMPT (fritatt); the other 0 % types (OUTSIDE,
// EXEMPT_IMPORT_EXPORT, ...) have to be set explicitly.
func vatTypeForRate(rate int64) (string, bool) {
	switch rate {
	case 25_0000:
		return "HIGH", true
	case 15_0000:
		return "MEDIUM", true
	case 12_0000:
		return "LOW", true
	case 11_1100:
		return "RAW_FISH", true
	case 0:
		return "EXEMPT", true
	}
	return "", false
}

// vatRateForType covers every Fiken sales vatType.
func vatRateForType(t string) (float64, bool) {
	switch t {
	case "HIGH":
		return 25, true
	case "MEDIUM":
		return 15, true
	case "LOW":
		return 12, true
	case "RAW_FISH":
		return 11.11, true
	case "EXEMPT", "EXEMPT_IMPORT_EXPORT", "EXEMPT_REVERSE", "OUTSIDE", "NONE":
		return 0, true
	}
	return 0, false
}
