package fikentest

import (
	"fmt"
	"strconv"
)

// uuid returns a version-4 uuid from the seeded source, so repeated runs
// with the same seed produce the same ids.
func (s *Server) uuid() string {
	s.mu.Lock()
	a, b := s.rnd.Uint64(), s.rnd.Uint64()
	s.mu.Unlock()
	a = a&^(0xf<<12) | 4<<12
	b = b&^(0x3<<62) | 0x2<<62
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

func (s *Server) intn(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rnd.IntN(n)
}

// OrgNumberMOD11 returns base (8 digits) with its MOD11 check digit, or ""
// when no check digit exists for it (remainder 1), as Brønnøysund assigns
// organisation numbers.
func OrgNumberMOD11(base string) string {
	weights := []int{3, 2, 7, 6, 5, 4, 3, 2}
	if len(base) != 8 {
		return ""
	}
	sum := 0
	for i, w := range weights {
		d := int(base[i] - '0')
		if d < 0 || d > 9 {
			return ""
		}
		sum += d * w
	}
	r := sum % 11
	switch r {
	case 0:
		return base + "0"
	case 1:
		return ""
	}
	return base + strconv.Itoa(11-r)
}

// ValidOrgNumber reports whether n is a 9-digit number with a valid MOD11
// check digit.
func ValidOrgNumber(n string) bool {
	return len(n) == 9 && OrgNumberMOD11(n[:8]) == n
}

func (s *Server) orgNumber() string {
	for {
		base := "9" // organisation numbers of companies start with 8 or 9
		for range 7 {
			base += strconv.Itoa(s.intn(10))
		}
		if n := OrgNumberMOD11(base); n != "" {
			return n
		}
	}
}

// seed creates the company, its chart of accounts and bank accounts, and
// Options.Products/Contacts/Invoices records with dates spread over the
// past year (so incremental reads have something to skip).
func (s *Server) seed() {
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	now := s.opts.Now()
	past := func(maxDays int) string {
		return now.AddDate(0, 0, -(30 + s.intn(maxDays))).Format("2006-01-02")
	}
	st.company = Company{
		Name: "Demo AS", Slug: s.opts.Company, OrganizationNumber: s.orgNumber(), VatType: "bi-monthly",
		Address: &Address{StreetAddress: "Storgata 1", City: "Oslo", PostCode: "0155", Country: "Norge"},
		Email:   "post@demo-as.no", CreationDate: now.AddDate(-2, 0, 0).Format("2006-01-02"),
		HasAPIAccess: true, TestCompany: true, AccountingStartDate: fmt.Sprintf("%d-01-01", now.Year()-2),
	}
	st.accounts = []Account{
		{"1500", "Kundefordringer"}, {"1920", "Bankinnskudd"}, {"1920:10001", "Driftskonto"},
		{"1920:10002", "Oppgjørskonto kort"}, {"2400", "Leverandørgjeld"}, {"2700", "Utgående merverdiavgift"},
		{"3000", "Salgsinntekt, avgiftspliktig"}, {"3100", "Salgsinntekt, avgiftsfri"},
		{"3200", "Salgsinntekt, utenfor avgiftsområdet"}, {"3900", "Annen driftsrelatert inntekt"},
		{"7770", "Bank- og kortgebyrer"},
	}
	st.bankAccounts = []*BankAccount{
		{BankAccountID: st.id(), Name: "Driftskonto", AccountCode: "1920:10001", BankAccountNumber: "15038891307", Type: "normal"},
		{BankAccountID: st.id(), Name: "Oppgjørskonto kort", AccountCode: "1920:10002", BankAccountNumber: "15038891315", Type: "normal"},
	}
	if s.opts.CountersInitialized || s.opts.Invoices > 0 {
		a, b := int64(10000), int64(10000)
		st.invoiceCounter, st.creditCounter = &a, &b
	}
	goods := []string{"Ullsokker", "Strikkelue", "Votter", "Kaffekopp", "Turbukse", "Regnjakke", "Ryggsekk", "Termos",
		"Hodelykt", "Sitteunderlag", "Kaffe 500 g", "Brunost 1 kg", "Flatbrød", "Sokkegarn", "Fjellsko", "Skiwoks"}
	colours := []string{"rød", "blå", "grå", "grønn", "svart", "hvit"}
	for i := range s.opts.Products {
		name := goods[i%len(goods)]
		if i >= len(goods) {
			name = fmt.Sprintf("%s, %s", name, colours[(i/len(goods))%len(colours)])
			if i >= len(goods)*(len(colours)+1) {
				name = fmt.Sprintf("%s %d", name, i)
			}
		}
		vat := "HIGH"
		if name == "Kaffe 500 g" || name == "Brunost 1 kg" || name == "Flatbrød" {
			vat = "MEDIUM"
		}
		price := int64(4900 + 100*s.intn(9500))
		stock := float64(s.intn(120))
		created := past(365)
		p := &Product{ProductID: st.id(), CreatedDate: created, LastModifiedDate: created, Name: name,
			UnitPrice: &price, IncomeAccount: "3000", VatType: vat, Active: s.intn(20) != 0,
			ProductNumber: fmt.Sprintf("P-%04d", 1001+i), Stock: &stock}
		st.products[p.ProductID] = p
	}
	first := []string{"Kari", "Ola", "Ingrid", "Lars", "Sigrid", "Magnus", "Astrid", "Henrik", "Nora", "Jonas"}
	last := []string{"Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Berg", "Haugen", "Bakken", "Lie", "Dahl"}
	firms := []string{"Nordlys Regnskap", "Fjordkraft Handel", "Vestland Sport", "Bygdø Bakeri", "Lofoten Fisk",
		"Trønder Tekstil", "Sørlandet Marine", "Viken Verktøy"}
	places := []struct{ street, post, city string }{
		{"Karl Johans gate", "0154", "Oslo"}, {"Bryggen", "5003", "Bergen"}, {"Munkegata", "7011", "Trondheim"},
		{"Kirkegata", "4006", "Stavanger"}, {"Storgata", "9008", "Tromsø"}, {"Dronningens gate", "4610", "Kristiansand"},
	}
	for i := range s.opts.Contacts {
		created := past(365)
		pl := places[s.intn(len(places))]
		c := &Contact{ContactID: st.id(), CreatedDate: created, LastModifiedDate: created, Customer: true,
			ContactPerson: []ContactPerson{},
			Address:       &Address{StreetAddress: fmt.Sprintf("%s %d", pl.street, 1+s.intn(80)), PostCode: pl.post, City: pl.city, Country: "Norge"}}
		if i%3 == 0 {
			c.Name = fmt.Sprintf("%s AS", firms[(i/3)%len(firms)])
			if i/3 >= len(firms) {
				c.Name = fmt.Sprintf("%s %d AS", firms[(i/3)%len(firms)], i/3)
			}
			c.OrganizationNumber = s.orgNumber()
			c.Email = fmt.Sprintf("faktura%d@%s.no", i, "firma")
			fn, ln := first[s.intn(len(first))], last[s.intn(len(last))]
			c.ContactPerson = []ContactPerson{{ContactPersonID: st.id(), Name: fn + " " + ln,
				Email: fmt.Sprintf("%s.%s%d@firma.no", lower(fn), lower(ln), i)}}
		} else {
			fn, ln := first[s.intn(len(first))], last[s.intn(len(last))]
			c.Name = fn + " " + ln
			c.Email = fmt.Sprintf("%s.%s%d@example.no", lower(fn), lower(ln), i)
			c.PhoneNumber = fmt.Sprintf("9%07d", s.intn(10000000))
		}
		st.numberContact(c)
		st.contacts[c.ContactID] = c
	}
	if s.opts.Invoices > 0 && len(st.contacts) > 0 && len(st.products) > 0 {
		cids, pids := sortedKeys(st.contacts), sortedKeys(st.products)
		// Seed invoices are history: the stock they drew was counted
		// long ago, so products keep their old modification dates.
		modified := map[int64]string{}
		for id, p := range st.products {
			modified[id] = p.LastModifiedDate
		}
		defer func() {
			for id, d := range modified {
				st.products[id].LastModifiedDate = d
			}
		}()
		for i := range s.opts.Invoices {
			p := st.products[pids[i%len(pids)]]
			issue := now.AddDate(0, 0, -(20 + s.intn(200)))
			req := invoiceRequest{IssueDate: issue.Format("2006-01-02"), DueDate: issue.AddDate(0, 0, 14).Format("2006-01-02"),
				CustomerID: cids[i%len(cids)], BankAccountCode: "1920:10001",
				Lines: []lineRequest{{ProductID: p.ProductID, Quantity: float64(1 + s.intn(3))}}}
			inv, err := st.createInvoice(req)
			if err != nil {
				continue
			}
			inv.CreatedDate, inv.LastModifiedDate = req.IssueDate, req.IssueDate
			sale := st.sales[inv.saleID]
			sale.LastModifiedDate = req.IssueDate
			if i%2 == 0 {
				st.addPayment(sale, Payment{Date: issue.AddDate(0, 0, 10).Format("2006-01-02"), Account: "1920:10001", Amount: inv.Gross})
				d := issue.AddDate(0, 0, 10).Format("2006-01-02")
				sale.LastModifiedDate, inv.LastModifiedDate = d, d
			}
		}
	}
}

func lower(s string) string {
	out := []rune{}
	for _, r := range s {
		switch r {
		case 'Æ', 'æ':
			out = append(out, 'a', 'e')
		case 'Ø', 'ø':
			out = append(out, 'o')
		case 'Å', 'å':
			out = append(out, 'a', 'a')
		default:
			if r >= 'A' && r <= 'Z' {
				r += 'a' - 'A'
			}
			out = append(out, r)
		}
	}
	return string(out)
}
