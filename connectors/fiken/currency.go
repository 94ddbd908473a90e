package fiken

import "slices"

// InvoiceCurrencies are the ISO 4217 codes Fiken invoices in: the
// currencies Norges Bank publishes daily exchange rates for, which Fiken
// converts at the issue date. Fiken's API has no list to ask, so this is
// our reading; the emulator refuses any other code as Fiken does.
var InvoiceCurrencies = []string{
	"AUD", "BGN", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR", "ILS", "INR",
	"ISK", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PKR", "PLN", "RON", "SEK", "SGD", "THB", "TRY",
	"TWD", "USD", "ZAR",
}

// InvoicesIn reports whether Fiken invoices in the currency with ISO code
// code (for `synk check`: every currency the shop sells in).
func (c *Connector) InvoicesIn(code string) bool {
	return slices.Contains(InvoiceCurrencies, code)
}
