package transforms

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// FunctionDoc documents one integrator function for the README and for
// `synk` help output.
type FunctionDoc struct {
	// Name is what expressions call, e.g. "ore".
	Name string
	// Signature shows parameters and result, e.g. "ore(nok number) int".
	Signature string
	// Doc is one or two sentences on what it does, including nil handling.
	Doc string
}

// Functions lists the integrator functions in a stable order. Expressions
// can also use expr-lang's own builtins (len, map, filter, ...); these
// functions take precedence over builtins with the same name.
func Functions() []FunctionDoc {
	specs := functionSpecs(time.Now)
	docs := make([]FunctionDoc, len(specs))
	for i, s := range specs {
		docs[i] = FunctionDoc{Name: s.name, Signature: s.signature(), Doc: s.doc}
	}
	return docs
}

// argKind is the static type class a function parameter accepts; an argument
// whose type is unknown at compile time (any) is always accepted and checked
// at run time instead.
type argKind int

const (
	kindAny argKind = iota
	kindNumber
	kindInt
	kindString
	kindList
)

func (k argKind) String() string {
	switch k {
	case kindNumber:
		return "number"
	case kindInt:
		return "int"
	case kindString:
		return "string"
	case kindList:
		return "list"
	}
	return "any"
}

type param struct {
	name string
	kind argKind
}

// funcSpec is one row of the function table: the checker uses params and
// result, the VM calls fn, and Functions prints the rest.
type funcSpec struct {
	name   string
	params []param
	// variadic means the last param may repeat (at least once).
	variadic bool
	// hidden is the number of trailing arguments the compiler appends (link
	// receives the run's env); they are not part of the signature.
	hidden int
	result reflect.Type
	// sameAsArgs makes the result the common static type of the arguments
	// when they agree (coalesce, default), else result.
	sameAsArgs bool
	doc        string
	fn         func(args ...any) (any, error)
}

func (s funcSpec) signature() string {
	var b strings.Builder
	b.WriteString(s.name)
	b.WriteByte('(')
	for i, p := range s.params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.name)
		b.WriteByte(' ')
		b.WriteString(p.kind.String())
		if s.variadic && i == len(s.params)-1 {
			b.WriteString("...")
		}
	}
	b.WriteString(") ")
	b.WriteString(typeName(s.result))
	return b.String()
}

// validate is the compile-time check of a call: arity and argument types.
// Unknown (interface) arguments pass; the function checks them at run time.
func (s funcSpec) validate(args []reflect.Type) (reflect.Type, error) {
	n := len(args) - s.hidden
	switch {
	case s.variadic && n < len(s.params):
		return nil, fmt.Errorf("not enough arguments to call %s", s.signature())
	case !s.variadic && n < len(s.params):
		return nil, fmt.Errorf("not enough arguments to call %s", s.signature())
	case !s.variadic && n > len(s.params):
		return nil, fmt.Errorf("too many arguments to call %s", s.signature())
	}
	for i := range n {
		p := s.params[min(i, len(s.params)-1)]
		if t := args[i]; !accepts(p.kind, t) {
			return nil, fmt.Errorf("cannot use %s as %s (%s) in %s", typeName(t), p.name, p.kind, s.signature())
		}
	}
	if s.sameAsArgs && n > 0 {
		first := args[0]
		for _, t := range args[1:n] {
			if t != first {
				return s.result, nil
			}
		}
		if first != nil && first.Kind() != reflect.Interface {
			return first, nil
		}
	}
	return s.result, nil
}

// accepts reports whether a static argument type fits a parameter kind. nil
// (the literal) is accepted everywhere: the functions propagate it.
func accepts(k argKind, t reflect.Type) bool {
	if t == nil || t.Kind() == reflect.Interface || k == kindAny {
		return true
	}
	switch k {
	case kindNumber:
		return isIntKind(t.Kind()) || t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32
	case kindInt:
		return isIntKind(t.Kind())
	case kindString:
		return t.Kind() == reflect.String
	case kindList:
		return t.Kind() == reflect.Slice || t.Kind() == reflect.Array
	}
	return false
}

func isIntKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// typeName names a static type the way pipeline authors know types.
func typeName(t reflect.Type) string {
	if t == nil {
		return "nil"
	}
	switch k := t.Kind(); {
	case isIntKind(k):
		return "int"
	case k == reflect.Float64 || k == reflect.Float32:
		return "float"
	case k == reflect.String:
		return "string"
	case k == reflect.Bool:
		return "bool"
	case k == reflect.Slice || k == reflect.Array:
		return "list"
	case k == reflect.Map:
		return "object"
	case k == reflect.Interface:
		return "any"
	}
	return t.String()
}

// valueType names a run-time value's type for error messages.
func valueType(v any) string {
	if v == nil {
		return "nil"
	}
	return typeName(reflect.TypeOf(v))
}

// vatTypeForRate maps a Norwegian sales VAT rate in ten-thousandths of a
// percent (four decimals, so 25.001 is not taken for 25) to Fiken's vatType. 0 % sales are EXEMPT (fritatt); the other 0 % types
// (OUTSIDE, EXEMPT_IMPORT_EXPORT, ...) have to be set explicitly.
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

// functionSpecs builds the function table. clock backs today() and now()
// so a pipeline run (and a test) can pin the time.
func functionSpecs(clock func() time.Time) []funcSpec {
	typeInt := reflect.TypeFor[int64]()
	typeFloat := reflect.TypeFor[float64]()
	typeString := reflect.TypeFor[string]()
	typeAny := reflect.TypeFor[any]()
	typeList := reflect.TypeFor[[]any]()
	return []funcSpec{
		{
			name: "ore", params: []param{{"nok", kindNumber}}, result: typeInt,
			doc: "NOK to integer øre, rounding half away from zero on the decimal value (1.005 → 101, -2.675 → -268). Numeric strings are accepted at run time; nil gives nil.",
			fn:  fnOre,
		},
		{
			name: "nok", params: []param{{"ore", kindNumber}}, result: typeFloat,
			doc: "Øre to NOK (4550 → 45.5), the float nearest the exact quotient. nil gives nil.",
			fn:  fnNok,
		},
		{
			name: "round", params: []param{{"x", kindNumber}, {"digits", kindInt}}, result: typeFloat,
			doc: "x rounded to digits decimals, half away from zero on the decimal value (round(2.675, 2) → 2.68); negative digits round to tens, hundreds. nil gives nil.",
			fn:  fnRound,
		},
		{
			name: "vat_type", params: []param{{"rate", kindNumber}}, result: typeString,
			doc: `Norwegian sales VAT rate in percent to Fiken's vatType: 25 "HIGH", 15 "MEDIUM", 12 "LOW", 11.11 "RAW_FISH", 0 "EXEMPT". Any other rate is an error naming it. nil gives nil.`,
			fn:  fnVatType,
		},
		{
			name: "vat_rate", params: []param{{"type", kindString}}, result: typeFloat,
			doc: `Fiken sales vatType to its rate in percent ("HIGH" → 25; EXEMPT, EXEMPT_IMPORT_EXPORT, EXEMPT_REVERSE, OUTSIDE and NONE → 0). An unknown type is an error. nil gives nil.`,
			fn:  fnVatRate,
		},
		{
			name: "vat_of", params: []param{{"incl", kindNumber}, {"excl", kindNumber}}, result: typeFloat,
			doc: `The Norwegian sales VAT rate in percent (25, 15, 12, 11.11 or 0) that made price incl from excl, snapped to the nearest rate within 1.2 øre (vat_of(99.99, 79.992) → 25). A price that fits no rate is an error naming the implied rate; nil or both 0 give nil.`,
			fn:  fnVatOf,
		},
		{
			name: "invoice_lines", params: []param{{"order", kindAny}, {"products", kindAny}, {"settings", kindAny}, {"payment", kindAny}}, result: typeList,
			doc: "Fiken invoice lines (øre; net, vat and gross explicit) of a PrestaShop order whose gross is invoice_total(order, payment) exactly: a line per order row (productId from products, aligned with order_rows, nil for none; vatType from the unit prices, or the linked product's when they are too small to tell; rounded by the order's round_type/round_mode), shipping, gift wrapping, the discount split per VAT rate by the products' net and VAT (a discount equal to the shipping is a free-shipping voucher, at the shipping's rate), an øreavrunding line (NONE) for the shop's own rounding, and payment.fee. Each line's VAT is within 1 øre of net × rate; where the shop's rounding put more on a line, the øreavrunding line takes the difference, so the gross stays the shop's. 0 % lines follow order.delivery_country (ISO code; missing is domestic). settings keys: income_account (3000), exempt_account (3100) and zero_vat_type (EXEMPT) for domestic 0 % lines, export_vat_type (EXEMPT_IMPORT_EXPORT) and export_account (exempt_account) for goods delivered abroad, outside_vat_type (OUTSIDE) and outside_account (3200) for outside_countries ([SJ]), home_countries ([NO]), shipping_text, wrapping_text, discount_text, rounding_text, rounding_account, max_rounding (NOK; default 1 øre per line; bounds the shop's own rounding). payment keys (payment may be nil): fee (incl. VAT), fee_currency (NOK: no fee on an order in another order.currency), fee_vat (25), fee_text, fee_account. An unknown VAT rate, a missing field or a difference beyond rounding is an error naming the field or row.",
			fn:  fnInvoiceLines,
		},
		{
			name: "invoice_total", params: []param{{"order", kindAny}, {"payment", kindAny}}, result: typeInt,
			doc: "The gross in øre (cents of the order's currency) of the invoice invoice_lines makes: ore(total_paid_tax_incl) plus payment.fee when the order is in its fee_currency, which the shop's total does not include; compare invoice totals with this, not with the shop's total. nil order gives nil.",
			fn:  fnInvoiceTotal,
		},
		{
			name: "credit_note_lines", params: []param{{"slip", kindAny}, {"products", kindAny}, {"settings", kindAny}}, result: typeList,
			doc: "Fiken partial credit note lines (øre) of a PrestaShop credit slip (order_slips) whose gross is the slip's refund, ore(total_products_tax_incl) + ore(total_shipping_tax_incl), exactly: a line per slip detail at its refund excl. VAT (amount_tax_excl), split in two when that net does not divide by its units so that unitPrice × quantity is the net exactly (productId from products, aligned with order_slip_details, nil for none; vatType from amount_tax_incl/excl, or the linked product's when they are too small to tell), the shipping, and an øreavrunding line (NONE) for what Fiken's VAT (computed per line, half away from zero: a credit note line takes no amounts) and the shop's rounding leave. net, vat and gross say what Fiken will book; the fiken connector sends unitPrice and quantity. settings: as invoice_lines (income_account, exempt_account and zero_vat_type for 0 % lines, shipping_text, rounding_text, rounding_account, max_rounding: NOK, default 2 øre plus per line 1 øre and 5/8 øre per unit, the rounding of a shop that rounds per item). A slip without details or shipping, an unknown VAT rate, a missing field or a difference beyond rounding is an error naming the field or detail.",
			fn:  fnCreditNoteLines,
		},
		{
			name: "date", params: []param{{"x", kindString}}, result: typeString,
			doc: `The calendar date "yyyy-MM-dd" of "2006-01-02 15:04:05" (PrestaShop), RFC 3339 (the date as written, not converted to UTC) or a date. PrestaShop's zero date "0000-00-00..." and nil give nil; anything else is an error.`,
			fn:  fnDate,
		},
		{
			name: "add_days", params: []param{{"date", kindString}, {"n", kindInt}}, result: typeString,
			doc: `The date n days after date (any form date() accepts), as "yyyy-MM-dd"; n may be negative. nil gives nil.`,
			fn:  fnAddDays,
		},
		{
			name: "today", result: typeString,
			doc: `Today's date in UTC, "yyyy-MM-dd".`,
			fn: func(...any) (any, error) {
				return clock().UTC().Format(time.DateOnly), nil
			},
		},
		{
			name: "now", result: typeString,
			doc: "The current time in UTC, RFC 3339 with seconds.",
			fn: func(...any) (any, error) {
				return clock().UTC().Format(time.RFC3339), nil
			},
		},
		{
			name: "lower", params: []param{{"s", kindString}}, result: typeString,
			doc: "s in lower case. nil gives nil.",
			fn:  stringFunc("lower", strings.ToLower),
		},
		{
			name: "upper", params: []param{{"s", kindString}}, result: typeString,
			doc: "s in upper case. nil gives nil.",
			fn:  stringFunc("upper", strings.ToUpper),
		},
		{
			name: "trim", params: []param{{"s", kindString}}, result: typeString,
			doc: "s without leading and trailing white space. nil gives nil.",
			fn:  stringFunc("trim", strings.TrimSpace),
		},
		{
			name: "coalesce", params: []param{{"values", kindAny}}, variadic: true, sameAsArgs: true, result: typeAny,
			doc: `The first argument that is neither nil nor ""; nil if there is none.`,
			fn:  fnCoalesce,
		},
		{
			name: "default", params: []param{{"x", kindAny}, {"d", kindAny}}, sameAsArgs: true, result: typeAny,
			doc: "x, or d when x is nil (like x ?? d).",
			fn: func(args ...any) (any, error) {
				if args[0] == nil {
					return args[1], nil
				}
				return args[0], nil
			},
		},
		{
			name: "int", params: []param{{"x", kindAny}}, result: typeInt,
			doc: `x as an integer: floats are truncated toward zero, numeric strings ("12", " 12.50 ") parsed, true is 1. nil gives nil; anything else is an error.`,
			fn:  fnInt,
		},
		{
			name: "float", params: []param{{"x", kindAny}}, result: typeFloat,
			doc: "x as a float; numeric strings are parsed. nil gives nil; anything else is an error.",
			fn:  fnFloat,
		},
		{
			name: "str", params: []param{{"x", kindAny}}, result: typeString,
			doc: `x as a string: numbers in plain decimal (45.5, not 4.55e+01), lists and objects as JSON; nil gives "".`,
			fn:  fnStr,
		},
		{
			name: "split_name", params: []param{{"full", kindString}}, result: typeList,
			doc: `[first, last] of a full name, split at the last space ("Anne Marie Hansen" → ["Anne Marie", "Hansen"]); one word gives [word, ""], nil gives ["", ""].`,
			fn:  fnSplitName,
		},
		{
			name: "join", params: []param{{"list", kindList}, {"sep", kindString}}, result: typeString,
			doc: "The elements of list as strings (as str does) joined with sep; nil and empty elements are skipped, so address lines join cleanly.",
			fn:  fnJoin,
		},
		{
			name: "link", params: []param{{"entity", kindString}, {"key", kindAny}}, hidden: 1, result: typeAny,
			doc: `The other side's key of the record of entity (a string literal naming an entity of the pipeline) whose key on this side is key. An unresolved link makes the change wait for that entity or be rejected; a nil key gives nil.`,
			fn:  fnLink,
		},
	}
}

// nilFirst reports whether the first argument is nil, the common
// propagation rule: a missing input gives a missing output.
func nilFirst(args []any) bool { return args[0] == nil }

func fnOre(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	n, err := scaledInt(args[0], 2)
	if err != nil {
		return nil, fmt.Errorf("ore(%s): %w", showValue(args[0]), err)
	}
	return n, nil
}

func fnNok(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	f, err := shiftDecimal(args[0], 2)
	if err != nil {
		return nil, fmt.Errorf("nok(%s): %w", showValue(args[0]), err)
	}
	return f, nil
}

func fnRound(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	digits, err := toInt(args[1])
	if err != nil {
		return nil, fmt.Errorf("round digits %s: %w", showValue(args[1]), err)
	}
	f, err := roundDecimal(args[0], int(max(min(digits, 1000), -1000)))
	if err != nil {
		return nil, fmt.Errorf("round(%s, %d): %w", showValue(args[0]), digits, err)
	}
	return f, nil
}

func fnVatType(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	rate, err := scaledInt(args[0], 4)
	if err != nil {
		return nil, fmt.Errorf("vat_type(%s): %w", showValue(args[0]), err)
	}
	t, ok := vatTypeForRate(rate)
	if !ok {
		return nil, fmt.Errorf("vat_type: no Fiken sales vat type for rate %s %%", showValue(args[0]))
	}
	return t, nil
}

func fnVatRate(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("vat_rate: want a string, got %s", valueType(args[0]))
	}
	r, ok := vatRateForType(strings.ToUpper(strings.TrimSpace(s)))
	if !ok {
		return nil, fmt.Errorf("vat_rate: unknown vat type %q", s)
	}
	return r, nil
}

// parseDate parses the date forms date() accepts. ok is false for the zero
// dates PrestaShop stores for "not set".
func parseDate(v any) (t time.Time, ok bool, err error) {
	s, isString := v.(string)
	if !isString {
		return time.Time{}, false, fmt.Errorf("want a date string, got %s", valueType(v))
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, false, nil
	}
	// PrestaShop's layout first because it dominates.
	layouts := [...]string{time.DateTime, time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("cannot parse %q as a date", s)
}

func fnDate(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	if s, ok := args[0].(string); ok && isDateOnly(s) {
		return s, nil // already a date: skip the layout loop
	}
	t, ok, err := parseDate(args[0])
	if err != nil {
		return nil, fmt.Errorf("date: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return t.Format(time.DateOnly), nil
}

// isDateOnly reports whether s is a valid yyyy-MM-dd date.
func isDateOnly(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func fnAddDays(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	n, err := toInt(args[1])
	if err != nil {
		return nil, fmt.Errorf("add_days n %s: %w", showValue(args[1]), err)
	}
	t, ok, err := parseDate(args[0])
	if err != nil {
		return nil, fmt.Errorf("add_days: %w", err)
	}
	if !ok {
		return nil, nil
	}
	if n > 1e6 || n < -1e6 {
		return nil, fmt.Errorf("add_days: %d days is out of range", n)
	}
	return t.AddDate(0, 0, int(n)).Format(time.DateOnly), nil
}

func stringFunc(name string, f func(string) string) func(...any) (any, error) {
	return func(args ...any) (any, error) {
		switch s := args[0].(type) {
		case nil:
			return nil, nil
		case string:
			return f(s), nil
		}
		return nil, fmt.Errorf("%s: want a string, got %s", name, valueType(args[0]))
	}
}

func fnCoalesce(args ...any) (any, error) {
	for _, a := range args {
		if a == nil {
			continue
		}
		if s, ok := a.(string); ok && s == "" {
			continue
		}
		return a, nil
	}
	return nil, nil
}

// toInt converts a run-time number to int64; floats must be whole.
func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x != float64(int64(x)) {
			return 0, errors.New("not a whole number")
		}
		return int64(x), nil
	}
	n, err := fnInt(v)
	if err != nil {
		return 0, err
	}
	if n == nil {
		return 0, errNotNumber
	}
	return n.(int64), nil
}

func fnInt(args ...any) (any, error) {
	switch x := args[0].(type) {
	case nil:
		return nil, nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x != x || x >= 1<<63 || x < -1<<63 {
			return nil, fmt.Errorf("int(%s): out of range", showValue(x))
		}
		return int64(x), nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != f || f >= 1<<63 || f < -1<<63 {
			return nil, fmt.Errorf("int(%q): not a number", x)
		}
		return int64(f), nil
	}
	var buf [40]byte
	b, err := appendDecimal(buf[:0], args[0])
	if err != nil {
		return nil, fmt.Errorf("int: cannot convert %s", valueType(args[0]))
	}
	return fnInt(string(b))
}

func fnFloat(args ...any) (any, error) {
	switch x := args[0].(type) {
	case nil:
		return nil, nil
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return nil, fmt.Errorf("float(%q): not a number", x)
		}
		return f, nil
	}
	var buf [40]byte
	b, err := appendDecimal(buf[:0], args[0])
	if err != nil {
		return nil, fmt.Errorf("float: cannot convert %s", valueType(args[0]))
	}
	return strconv.ParseFloat(string(b), 64)
}

func fnStr(args ...any) (any, error) {
	return str(args[0]), nil
}

// str is the string form of a record value; see the str() doc.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	var buf [40]byte
	if b, err := appendDecimal(buf[:0], v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

func fnSplitName(args ...any) (any, error) {
	switch s := args[0].(type) {
	case nil:
		return []any{"", ""}, nil
	case string:
		s = strings.Join(strings.Fields(s), " ")
		if i := strings.LastIndexByte(s, ' '); i >= 0 {
			return []any{s[:i], s[i+1:]}, nil
		}
		return []any{s, ""}, nil
	}
	return nil, fmt.Errorf("split_name: want a string, got %s", valueType(args[0]))
}

func fnJoin(args ...any) (any, error) {
	sep, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("join: separator must be a string, got %s", valueType(args[1]))
	}
	var parts []string
	switch list := args[0].(type) {
	case nil:
		return "", nil
	case []any:
		parts = make([]string, 0, len(list))
		for _, e := range list {
			if s := str(e); s != "" {
				parts = append(parts, s)
			}
		}
	case []string:
		parts = make([]string, 0, len(list))
		for _, s := range list {
			if s != "" {
				parts = append(parts, s)
			}
		}
	default:
		rv := reflect.ValueOf(list)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return nil, fmt.Errorf("join: want a list, got %s", valueType(args[0]))
		}
		for i := range rv.Len() {
			if s := str(rv.Index(i).Interface()); s != "" {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, sep), nil
}

// fnLink resolves link(entity, key) through the Link the engine put in the
// run's env, which the compiler passes as a hidden third argument.
func fnLink(args ...any) (any, error) {
	entity, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("link: entity must be a string, got %s", valueType(args[0]))
	}
	key := args[1]
	if key == nil {
		return nil, nil
	}
	env, _ := args[2].(map[string]any)
	var resolve Link
	switch l := env[linkName].(type) {
	case Link:
		resolve = l
	case func(string, any) (any, error):
		resolve = l
	}
	if resolve == nil {
		return nil, fmt.Errorf("link(%q, %s): no link resolver in env", entity, showValue(key))
	}
	v, err := resolve(entity, key)
	if err != nil {
		return nil, fmt.Errorf("link(%q, %s): %w", entity, showValue(key), err)
	}
	return v, nil
}

// showValue formats a value for an error message: short, with strings quoted.
func showValue(v any) string {
	if s, ok := v.(string); ok {
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return strconv.Quote(s)
	}
	return str(v)
}
