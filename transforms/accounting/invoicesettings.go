package accounting

import (
	"fmt"
	"slices"
	"strings"

	"github.com/synk-etl/synk/transforms"
	"github.com/synk-etl/synk/transforms/internal/decimal"
)

// invoiceSettings are the keys of invoice_lines' third argument.
type invoiceSettings struct {
	incomeAccount   string
	exemptAccount   string
	zeroVatType     string
	exportAccount   string
	exportVatType   string
	outsideAccount  string
	outsideVatType  string
	roundingAccount string
	shippingText    string
	discountText    string
	wrappingText    string
	roundingText    string
	// maxRounding is the largest difference in øre the shop's own
	// rounding may leave between its totals and its rows and amounts; -1
	// (unset) means one øre per invoice line, at least two. The rounding
	// line also holds what the per-line VAT rule moves, which is not
	// bounded by it.
	maxRounding int64
	// homeCountries and outsideCountries sort a delivery country; any
	// other country is export.
	homeCountries    []string
	outsideCountries []string
}

// paymentSettings are the keys of invoice_lines' fourth argument that
// concern lines; the pipeline's other keys (paid, account, send, due_days
// ...) are ignored here.
type paymentSettings struct {
	fee     int64 // øre incl. VAT
	feeText string
	feeVat  int64 // hundredths of a percent
	account string
	// feeCurrency is ISO 4217: the fee applies only to orders in it.
	feeCurrency string
}

// feeFor is the fee in øre on the order's invoice: none when the order is
// in another currency than the fee (49 NOK on a EUR invoice would be
// 49 EUR). An order without currency (older records) is in NOK.
func (p paymentSettings) feeFor(order map[string]any) (int64, error) {
	if p.fee == 0 {
		return 0, nil
	}
	cur := defaultCurrency
	if v := order["currency"]; v != nil && v != "" {
		c, ok := currencyCode(v)
		if !ok {
			return 0, fmt.Errorf("order field currency %s: want an ISO 4217 currency code (NOK, EUR ...)", transforms.Show(v))
		}
		cur = c
	}
	if cur != p.feeCurrency {
		return 0, nil
	}
	return p.fee, nil
}

func parseSettings(m map[string]any) (invoiceSettings, error) {
	s := invoiceSettings{
		incomeAccount: defaultIncomeAccount, exemptAccount: defaultExemptAccount, zeroVatType: defaultZeroVatType,
		exportVatType: defaultExportVatType, outsideVatType: defaultOutsideVatType, outsideAccount: defaultOutsideAccount,
		shippingText: defaultShippingText, discountText: defaultDiscountText, wrappingText: defaultWrappingText,
		roundingText: defaultRoundingText, maxRounding: -1,
		homeCountries: defaultHomeCountries(), outsideCountries: defaultOutsideCountries(),
	}
	strs := []struct {
		key string
		dst *string
	}{
		{"income_account", &s.incomeAccount}, {"exempt_account", &s.exemptAccount}, {"zero_vat_type", &s.zeroVatType},
		{"export_account", &s.exportAccount}, {"export_vat_type", &s.exportVatType},
		{"outside_account", &s.outsideAccount}, {"outside_vat_type", &s.outsideVatType},
		{"rounding_account", &s.roundingAccount}, {"shipping_text", &s.shippingText}, {"discount_text", &s.discountText},
		{"wrapping_text", &s.wrappingText}, {"rounding_text", &s.roundingText},
	}
	for _, f := range strs {
		switch v := m[f.key].(type) {
		case nil:
		case string:
			if v != "" {
				*f.dst = v
			}
		default:
			*f.dst = transforms.Str(v) // an account written as a number in YAML
		}
	}
	if s.roundingAccount == "" {
		s.roundingAccount = s.incomeAccount
	}
	if s.exportAccount == "" {
		s.exportAccount = s.exemptAccount
	}
	zeroTypes := []struct{ key, val string }{
		{"zero_vat_type", s.zeroVatType}, {"export_vat_type", s.exportVatType}, {"outside_vat_type", s.outsideVatType},
	}
	for _, z := range zeroTypes {
		if r, ok := vatRateForType(z.val); !ok || r != 0 {
			return s, fmt.Errorf("settings.%s %q: want a 0 %% Fiken sales vat type (EXEMPT, EXEMPT_IMPORT_EXPORT, OUTSIDE, EXEMPT_REVERSE, NONE)", z.key, z.val)
		}
	}
	var err error
	if s.homeCountries, err = countryList(m, "home_countries", s.homeCountries); err != nil {
		return s, err
	}
	if s.outsideCountries, err = countryList(m, "outside_countries", s.outsideCountries); err != nil {
		return s, err
	}
	for _, c := range s.outsideCountries {
		if slices.Contains(s.homeCountries, c) {
			return s, fmt.Errorf("settings.outside_countries %s is in home_countries too", c)
		}
	}
	if v := m["max_rounding"]; v != nil {
		n, err := decimal.Scaled(v, 2)
		if err != nil || n < 0 {
			return s, fmt.Errorf("settings.max_rounding %s: want a non-negative amount in NOK", transforms.Show(v))
		}
		s.maxRounding = n
	}
	return s, nil
}

// countryList reads a settings list of ISO 3166 alpha-2 codes, upper-cased;
// a missing key keeps def. An empty list is refused: home_countries: []
// would make every order with a country export.
func countryList(m map[string]any, key string, def []string) ([]string, error) {
	v := m[key]
	if v == nil {
		return def, nil
	}
	l, err := listArg("settings."+key, v)
	if err != nil {
		return nil, err
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("settings.%s is empty: want a list of ISO 3166 alpha-2 country codes", key)
	}
	out := make([]string, len(l))
	for i, c := range l {
		code, ok := countryCode(c)
		if !ok {
			return nil, fmt.Errorf("settings.%s[%d] %s: want an ISO 3166 alpha-2 country code (NO, SE, SJ ...)", key, i, transforms.Show(c))
		}
		out[i] = code
	}
	return out, nil
}

// countryCode normalizes an ISO 3166 alpha-2 code ("se" → "SE").
func countryCode(v any) (string, bool) {
	return isoCode(v, 2)
}

// currencyCode normalizes an ISO 4217 code ("eur" → "EUR").
func currencyCode(v any) (string, bool) {
	return isoCode(v, 3)
}

// isoCode is a string of n ASCII letters, upper-cased and trimmed.
func isoCode(v any, n int) (string, bool) {
	s, ok := v.(string)
	if !ok {
		return "", false
	}
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != n {
		return "", false
	}
	for _, c := range []byte(s) {
		if c < 'A' || c > 'Z' {
			return "", false
		}
	}
	return s, true
}

// destination is where an order's goods went, for its 0 % lines.
type destination int

// orderDestination reads the order's delivery_country: missing (older
// records) or empty is domestic.
func (s invoiceSettings) orderDestination(order map[string]any) (destination, error) {
	v := order["delivery_country"]
	if v == nil || v == "" {
		return domestic, nil
	}
	c, ok := countryCode(v)
	if !ok {
		return 0, fmt.Errorf("order field delivery_country %s: want an ISO 3166 alpha-2 country code", transforms.Show(v))
	}
	switch {
	case slices.Contains(s.homeCountries, c):
		return domestic, nil
	case slices.Contains(s.outsideCountries, c):
		return outside, nil
	}
	return export, nil
}

// to is the settings for an order to dest: its 0 % lines take the
// destination's vatType and account. All other rates are unchanged.
func (s invoiceSettings) to(dest destination) invoiceSettings {
	switch dest {
	case export:
		s.zeroVatType, s.exemptAccount = s.exportVatType, s.exportAccount
	case outside:
		s.zeroVatType, s.exemptAccount = s.outsideVatType, s.outsideAccount
	}
	return s
}

func parsePayment(m map[string]any) (paymentSettings, error) {
	p := paymentSettings{feeText: defaultFeeText, feeVat: defaultFeeVat * 100, feeCurrency: defaultCurrency}
	if m == nil {
		return p, nil
	}
	if v := m["fee_currency"]; v != nil && v != "" {
		c, ok := currencyCode(v)
		if !ok {
			return p, fmt.Errorf("payment.fee_currency %s: want an ISO 4217 currency code (NOK, EUR ...)", transforms.Show(v))
		}
		p.feeCurrency = c
	}
	if v := m["fee"]; v != nil {
		n, err := decimal.Scaled(v, 2)
		if err != nil || n < 0 {
			return p, fmt.Errorf("payment.fee %s: want a non-negative amount in NOK incl. VAT", transforms.Show(v))
		}
		p.fee = n
	}
	if v, ok := m["fee_text"].(string); ok && v != "" {
		p.feeText = v
	}
	if v := m["fee_vat"]; v != nil {
		r, err := decimal.Scaled(v, 2)
		if err != nil || !isSalesRate(r) {
			return p, fmt.Errorf("payment.fee_vat %s: not a Norwegian sales VAT rate (25, 15, 12, 11.11, 0)", transforms.Show(v))
		}
		p.feeVat = r
	}
	switch v := m["fee_account"].(type) {
	case nil:
	case string:
		p.account = v
	default:
		p.account = transforms.Str(v)
	}
	return p, nil
}

// vatTypeOf maps a rate (hundredths of a percent) to Fiken's vatType and
// the account for lines without a product.
func (s invoiceSettings) vatTypeOf(rate int64) (vatType, account string) {
	switch rate {
	case 2500:
		return "HIGH", s.incomeAccount
	case 1500:
		return "MEDIUM", s.incomeAccount
	case 1200:
		return "LOW", s.incomeAccount
	case 1111:
		return "RAW_FISH", s.incomeAccount
	}
	return s.zeroVatType, s.exemptAccount
}

// amountLine is a line for an order-level amount (shipping, wrapping, a
// rate's share of the discount, the fee): quantity 1, no product.
func (s invoiceSettings) amountLine(text string, net, vat, rate int64) invoiceLine {
	t, acct := s.vatTypeOf(rate)
	return invoiceLine{description: text, quantity: 1, unitPrice: net, net: net, vat: vat, vatType: t, rate: rate, account: acct}
}
