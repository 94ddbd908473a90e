package accounting

import "testing"

// TestInvoiceLinesDestinations covers where the goods went (issue 11
// point 3): a 0 % line is exempt at home, export abroad and outside the
// VAT area on Svalbard and Jan Mayen; other rates never change.
func TestInvoiceLinesDestinations(t *testing.T) {
	// 0 % book, 25 % sweater, free gift, shipping at 0 %.
	books := func(country any) map[string]any {
		return order(map[string]any{"delivery_country": country, "carrier_tax_rate": 0.0,
			"total_shipping_tax_incl": 99.0, "total_shipping_tax_excl": 99.0,
			"total_paid_tax_incl": 274.0, "total_paid_tax_excl": 249.0},
			row("Bok", 1, 50, 50), row("Genser", 1, 100, 125), row("Gave", 1, 0, 0))
	}
	linked := []any{int64(5), int64(6), int64(7)}
	gift := map[string]any{"description": "Gave", "quantity": 1.0, "unitPrice": int64(0), "net": int64(0), "vat": int64(0), "gross": int64(0), "productId": int64(7)}
	// The product lines as a linked order has them whatever the country.
	sweater := line("Genser", 1, 10000, 10000, 2500, "HIGH", "", int64(6))
	fee := line("Fakturagebyr", 1, 3920, 3920, 980, "HIGH", "3000", nil)
	tests := []struct {
		name     string
		order    map[string]any
		settings map[string]any
		payment  map[string]any
		want     []map[string]any
	}{
		{
			// The product's own (domestic) vatType and account apply.
			name:  "domestic 0 % row",
			order: books("NO"),
			want: []map[string]any{
				line("Bok", 1, 5000, 5000, 0, "EXEMPT", "", int64(5)), sweater, gift,
				line("Frakt", 1, 9900, 9900, 0, "EXEMPT", "3100", nil),
			},
		},
		{
			// Older records have no delivery_country: domestic.
			name:  "no country is domestic",
			order: books(nil),
			want: []map[string]any{
				line("Bok", 1, 5000, 5000, 0, "EXEMPT", "", int64(5)), sweater, gift,
				line("Frakt", 1, 9900, 9900, 0, "EXEMPT", "3100", nil),
			},
		},
		{
			// The linked book carries the export vatType and account
			// explicitly: its product's are the domestic ones. The 25 %
			// sweater, the free gift and the 25 % fee are unchanged.
			name:    "export to Sweden",
			order:   books("SE"),
			payment: map[string]any{"fee": 49.0},
			want: []map[string]any{
				line("Bok", 1, 5000, 5000, 0, "EXEMPT_IMPORT_EXPORT", "3100", int64(5)), sweater, gift,
				line("Frakt", 1, 9900, 9900, 0, "EXEMPT_IMPORT_EXPORT", "3100", nil), fee,
			},
		},
		{
			name:     "export to Germany, lower-case code, own export account and type",
			order:    books("de"),
			settings: map[string]any{"export_account": 3110, "export_vat_type": "EXEMPT_REVERSE", "exempt_account": "3105"},
			want: []map[string]any{
				line("Bok", 1, 5000, 5000, 0, "EXEMPT_REVERSE", "3110", int64(5)), sweater, gift,
				line("Frakt", 1, 9900, 9900, 0, "EXEMPT_REVERSE", "3110", nil),
			},
		},
		{
			// export_account defaults to exempt_account.
			name:     "export account follows exempt_account",
			order:    books("US"),
			settings: map[string]any{"exempt_account": "3105"},
			want: []map[string]any{
				line("Bok", 1, 5000, 5000, 0, "EXEMPT_IMPORT_EXPORT", "3105", int64(5)), sweater, gift,
				line("Frakt", 1, 9900, 9900, 0, "EXEMPT_IMPORT_EXPORT", "3105", nil),
			},
		},
		{
			// Svalbard is outside the VAT area; a 0 % fee follows the
			// destination too.
			name:    "Svalbard",
			order:   books("SJ"),
			payment: map[string]any{"fee": 20, "fee_vat": 0},
			want: []map[string]any{
				line("Bok", 1, 5000, 5000, 0, "OUTSIDE", "3200", int64(5)), sweater, gift,
				line("Frakt", 1, 9900, 9900, 0, "OUTSIDE", "3200", nil),
				line("Fakturagebyr", 1, 2000, 2000, 0, "OUTSIDE", "3200", nil),
			},
		},
		{
			// A shop that counts Svalbard as home and the Faroe Islands as
			// outside.
			name:  "own country lists",
			order: books("SJ"),
			settings: map[string]any{"home_countries": []any{"NO", "sj"}, "outside_countries": []string{"FO"},
				"outside_account": "3210", "outside_vat_type": "NONE"},
			want: []map[string]any{
				line("Bok", 1, 5000, 5000, 0, "EXEMPT", "", int64(5)), sweater, gift,
				line("Frakt", 1, 9900, 9900, 0, "EXEMPT", "3100", nil),
			},
		},
		{
			name: "own outside list and account",
			order: order(map[string]any{"delivery_country": "FO", "total_paid_tax_incl": 50.0},
				row("Bok", 1, 50, 50)),
			settings: map[string]any{"outside_countries": []string{"FO"}, "outside_account": "3210", "outside_vat_type": "NONE"},
			want:     []map[string]any{line("Bok", 1, 5000, 5000, 0, "NONE", "3210", nil)},
		},
		{
			// The shop charged Norwegian VAT on the sweater and shipping
			// to Germany: those lines keep their types; the book, the
			// 0 % wrapping and the book's share of the discount are
			// export.
			name: "mixed-rate export order",
			order: order(map[string]any{"delivery_country": "DE",
				"total_shipping_tax_incl": 99.0, "total_shipping_tax_excl": 79.2,
				"total_discounts_tax_incl": 22.5, "total_discounts_tax_excl": 19.0,
				"total_wrapping_tax_incl": 20.0, "total_wrapping_tax_excl": 20.0,
				"total_paid_tax_incl": 321.5, "total_paid_tax_excl": 270.2},
				row("Bok", 1, 50, 50), row("Lue", 1, 140, 175)),
			want: []map[string]any{
				line("Bok", 1, 5000, 5000, 0, "EXEMPT_IMPORT_EXPORT", "3100", nil),
				line("Lue", 1, 14000, 14000, 3500, "HIGH", "3000", nil),
				line("Frakt", 1, 7920, 7920, 1980, "HIGH", "3000", nil),
				line("Gaveinnpakning", 1, 2000, 2000, 0, "EXEMPT_IMPORT_EXPORT", "3100", nil),
				line("Rabatt 25 % mva", 1, -1400, -1400, -350, "HIGH", "3000", nil),
				line("Rabatt 0 % mva", 1, -500, -500, 0, "EXEMPT_IMPORT_EXPORT", "3100", nil),
			},
		},
		{
			// Free shipping to Sweden: the voucher takes back 0 %
			// shipping, so it is export too.
			name: "free-shipping voucher at 0 % to export",
			order: order(map[string]any{"delivery_country": "SE", "carrier_tax_rate": 0,
				"total_shipping_tax_incl": 59.0, "total_shipping_tax_excl": 59.0,
				"total_discounts_tax_incl": 59.0, "total_discounts_tax_excl": 59.0,
				"total_paid_tax_incl": 50.0, "total_paid_tax_excl": 50.0},
				row("Bok", 1, 50, 50)),
			want: []map[string]any{
				line("Bok", 1, 5000, 5000, 0, "EXEMPT_IMPORT_EXPORT", "3100", nil),
				line("Frakt", 1, 5900, 5900, 0, "EXEMPT_IMPORT_EXPORT", "3100", nil),
				line("Rabatt (frakt)", 1, -5900, -5900, 0, "EXEMPT_IMPORT_EXPORT", "3100", nil),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			products := any(nil)
			if len(tt.order["order_rows"].([]any)) == 3 {
				products = linked
			}
			checkLines(t, tt.order, products, tt.settings, tt.payment, tt.want)
		})
	}
}

// TestInvoiceLinesFeeCurrency: the payment module's fee is in
// fee_currency (NOK); an order in another currency gets no fee line, and
// invoice_total agrees.
func TestInvoiceLinesFeeCurrency(t *testing.T) {
	sweater := func(currency any) map[string]any {
		return order(map[string]any{"currency": currency, "total_paid_tax_incl": 125.0, "total_paid_tax_excl": 100.0},
			row("Genser", 1, 100, 125))
	}
	genser := line("Genser", 1, 10000, 10000, 2500, "HIGH", "3000", nil)
	fee := line("Fakturagebyr", 1, 3920, 3920, 980, "HIGH", "3000", nil)
	tests := []struct {
		name      string
		order     map[string]any
		payment   map[string]any
		want      []map[string]any
		wantTotal int64
	}{
		{"NOK order, NOK fee", sweater("NOK"), map[string]any{"fee": 49}, []map[string]any{genser, fee}, 17400},
		{"no currency is NOK", sweater(nil), map[string]any{"fee": 49}, []map[string]any{genser, fee}, 17400},
		{"EUR order, NOK fee", sweater("EUR"), map[string]any{"fee": 49}, []map[string]any{genser}, 12500},
		{"SEK order, NOK fee", sweater("sek"), map[string]any{"fee": 49, "fee_currency": "NOK"}, []map[string]any{genser}, 12500},
		{"EUR order, EUR fee", sweater("EUR"), map[string]any{"fee": 49, "fee_currency": "eur"}, []map[string]any{genser, fee}, 17400},
		{"NOK order, EUR fee", sweater("NOK"), map[string]any{"fee": 49, "fee_currency": "EUR"}, []map[string]any{genser}, 12500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkLines(t, tt.order, nil, nil, tt.payment, tt.want)
			total, err := InvoiceTotal(tt.order, tt.payment)
			if err != nil || total != tt.wantTotal {
				t.Errorf("InvoiceTotal = %d, %v; want %d", total, err, tt.wantTotal)
			}
			got, err := fnInvoiceTotal(tt.order, tt.payment)
			if err != nil || got != tt.wantTotal {
				t.Errorf("invoice_total = %v, %v; want %d", got, err, tt.wantTotal)
			}
		})
	}
}

func TestInvoiceLinesDestinationErrors(t *testing.T) {
	ok := func(fields map[string]any) map[string]any {
		f := map[string]any{"total_paid_tax_incl": 125.0, "total_paid_tax_excl": 100.0}
		for k, v := range fields {
			f[k] = v
		}
		return order(f, row("Genser", 1, 100, 125))
	}
	fee := map[string]any{"fee": 49}
	tests := []struct {
		name     string
		order    map[string]any
		settings map[string]any
		payment  map[string]any
		want     string
	}{
		{"export vat type with VAT", ok(nil), map[string]any{"export_vat_type": "HIGH"}, nil, `settings.export_vat_type "HIGH": want a 0 % Fiken sales vat type`},
		{"unknown export vat type", ok(nil), map[string]any{"export_vat_type": "EXPORT"}, nil, `settings.export_vat_type "EXPORT"`},
		{"unknown outside vat type", ok(nil), map[string]any{"outside_vat_type": "outside"}, nil, `settings.outside_vat_type "outside"`},
		{"country code too long", ok(nil), map[string]any{"home_countries": []any{"NO", "NOR"}}, nil,
			`settings.home_countries[1] "NOR": want an ISO 3166 alpha-2 country code`},
		{"country code not a string", ok(nil), map[string]any{"outside_countries": []any{47}}, nil, "settings.outside_countries[0] 47"},
		{"countries not a list", ok(nil), map[string]any{"home_countries": "NO"}, nil, "settings.home_countries: want a list"},
		{"no home countries", ok(nil), map[string]any{"home_countries": []any{}}, nil, "settings.home_countries is empty"},
		{"country both home and outside", ok(nil), map[string]any{"home_countries": []any{"NO", "SJ"}}, nil,
			"settings.outside_countries SJ is in home_countries too"},
		{"delivery country not a code", ok(map[string]any{"delivery_country": "Norway"}), nil, nil,
			`order field delivery_country "Norway": want an ISO 3166 alpha-2 country code`},
		{"delivery country a number", ok(map[string]any{"delivery_country": 578}), nil, nil, "order field delivery_country 578"},
		{"currency not a code", ok(map[string]any{"currency": 978}), nil, fee, "order field currency 978: want an ISO 4217 currency code"},
		{"fee currency not a code", ok(nil), nil, map[string]any{"fee": 49, "fee_currency": "kr"}, `payment.fee_currency "kr"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkLinesError(t, tt.order, nil, tt.settings, tt.payment, tt.want) })
	}
	if _, err := InvoiceTotal(ok(map[string]any{"currency": "€"}), fee); err == nil {
		t.Error("InvoiceTotal accepted currency €")
	}
}
