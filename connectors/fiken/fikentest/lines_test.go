package fikentest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestInvoiceLineAmounts posts one-line invoices over HTTP and checks how
// the emulator prices each line per invoiceLineRequest: computed from
// unitPrice (or the product) when no amounts are given, taken as given
// when net/vat/gross are sent and agree, refused when they do not.
func TestInvoiceLineAmounts(t *testing.T) {
	s := start(t, Options{Seed: 5, Products: 1, Contacts: 1, CountersInitialized: true})
	p := s.Products()[0]
	c := s.Contacts()[0]
	type amounts struct{ Net, Vat, Gross, UnitPrice int64 }
	tests := []struct {
		name string
		line string
		want amounts
		err  string
	}{
		{name: "unit price × quantity, VAT per line", line: `{"quantity":3,"unitPrice":3333,"vatType":"HIGH","incomeAccount":"3000","description":"x"}`,
			want: amounts{9999, 2500, 12499, 3333}},
		{name: "product price", line: `{"quantity":2,"productId":` + itoa(p.ProductID) + `}`,
			want: amounts{2 * *p.UnitPrice, round(float64(2**p.UnitPrice) * rateOf(p.VatType) / 100), 0, *p.UnitPrice}},
		{name: "explicit amounts win over rounding", line: `{"quantity":3,"unitPrice":3333,"net":10000,"vat":2501,"gross":12501,"vatType":"HIGH","incomeAccount":"3000"}`,
			want: amounts{10000, 2501, 12501, 3333}},
		{name: "explicit amounts on a product line", line: `{"quantity":1,"productId":` + itoa(p.ProductID) + `,"net":500,"vat":0,"gross":500,"vatType":"EXEMPT","incomeAccount":"3100"}`,
			want: amounts{500, 0, 500, 500}},
		{name: "net and gross give the VAT", line: `{"quantity":1,"net":-3000,"gross":-3750,"vatType":"HIGH","incomeAccount":"3000"}`,
			want: amounts{-3000, -750, -3750, -3000}},
		{name: "gross and vat give the net", line: `{"quantity":1,"vat":1291,"gross":9900,"vatType":"MEDIUM","incomeAccount":"3000"}`,
			want: amounts{8609, 1291, 9900, 8609}},
		{name: "discount scales given amounts", line: `{"quantity":1,"net":10000,"vat":2500,"discount":10,"vatType":"HIGH","incomeAccount":"3000"}`,
			want: amounts{9000, 2250, 11250, 10000}},
		{name: "vatInPercent names the type", line: `{"quantity":1,"unitPrice":1000,"vatInPercent":15,"incomeAccount":"3000"}`,
			want: amounts{1000, 150, 1150, 1000}},
		{name: "gross that is not net + vat", line: `{"quantity":1,"net":1000,"vat":250,"gross":1300,"vatType":"HIGH","incomeAccount":"3000"}`,
			err: "gross 1300 is not net 1000 + vat 250"},
		{name: "net far from unit price × quantity", line: `{"quantity":2,"unitPrice":1000,"net":2500,"vatType":"HIGH","incomeAccount":"3000"}`,
			err: "net 2500 does not match unitPrice 1000 × quantity 2"},
		{name: "VAT of another rate", line: `{"quantity":1,"net":10000,"vat":1500,"vatType":"HIGH","incomeAccount":"3000"}`,
			err: "vat 1500 does not fit vatType HIGH"},
		{name: "VAT with the wrong sign", line: `{"quantity":1,"net":-10000,"vat":2500,"vatType":"HIGH","incomeAccount":"3000"}`,
			err: "vat 2500 does not fit vatType HIGH"},
		{name: "VAT on an exempt line", line: `{"quantity":1,"net":1000,"vat":1,"vatType":"EXEMPT","incomeAccount":"3100"}`,
			err: "vat 1 does not fit vatType EXEMPT"},
		{name: "vatInPercent that contradicts vatType", line: `{"quantity":1,"unitPrice":1000,"vatType":"HIGH","vatInPercent":15,"incomeAccount":"3000"}`,
			err: "vatInPercent 15 does not match vatType HIGH"},
		{name: "discount out of range", line: `{"quantity":1,"unitPrice":1000,"discount":120,"vatType":"HIGH","incomeAccount":"3000"}`,
			err: "discount must be between 0 and 100"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := "L-" + itoa(int64(i))
			body := `{"issueDate":"2026-01-01","dueDate":"2026-01-15","lines":[` + tt.line + `],"bankAccountCode":"1920:10001","cash":false,` +
				`"customerId":` + itoa(c.ContactID) + `,"orderReference":"` + ref + `"}`
			a := call(t, s, s.Token(), "POST", "/companies/demo-as/invoices", body)
			if tt.err != "" {
				if a.status != 400 || !strings.Contains(a.body, tt.err) {
					t.Fatalf("create = %d %s, want 400 with %q", a.status, a.body, tt.err)
				}
				return
			}
			if a.status != 201 {
				t.Fatalf("create = %d %s", a.status, a.body)
			}
			a = call(t, s, s.Token(), "GET", "/companies/demo-as/invoices?orderReference="+ref, "")
			var invs []struct {
				Net, Vat, Gross int64
				Lines           []amounts
			}
			if err := json.Unmarshal([]byte(a.body), &invs); err != nil || len(invs) != 1 || len(invs[0].Lines) != 1 {
				t.Fatalf("read back: %v %s", err, a.body)
			}
			want := tt.want
			if want.Gross == 0 {
				want.Gross = want.Net + want.Vat
			}
			if diff := cmp.Diff(want, invs[0].Lines[0]); diff != "" {
				t.Errorf("line (-want +got):\n%s", diff)
			}
			if inv := invs[0]; inv.Net != want.Net || inv.Vat != want.Vat || inv.Gross != want.Gross {
				t.Errorf("invoice totals %d/%d/%d, want the line's", inv.Net, inv.Vat, inv.Gross)
			}
		})
	}
}

func rateOf(vatType string) float64 { r, _ := vatRate(vatType); return r }
