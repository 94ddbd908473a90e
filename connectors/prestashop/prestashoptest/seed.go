package prestashoptest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/synk-etl/synk/connectors/prestashop"
)

// put stores a row under a fixed id, as an install script does.
func (s *Server) put(resource string, id int64, o prestashop.Object) {
	t := s.tables[resource]
	o.Fields["id"] = strconv.FormatInt(id, 10)
	t.rows[id] = o
	if id > t.next {
		t.next = id
	}
}

func (s *Server) row(resource string, fields map[string]string, i18n map[string][2]string) prestashop.Object {
	o := s.blank(s.facts[resource])
	for k, v := range fields {
		o.Fields[k] = v
	}
	for k, v := range i18n {
		o.I18n[k] = map[string]string{"1": v[0], "2": v[1]}
	}
	return o
}

type seedProduct struct {
	no, en string
	group  int64
	price  float64
	sizes  []string
	weight float64
}

// seedCatalogue is the product range the seed data cycles through:
// standard 25 %, food 15 %, transport/culture 12 % and books 0 %.
func seedCatalogue() []seedProduct {
	return []seedProduct{
		{"Ullgenser", "Wool sweater", 1, 799.20, []string{"S", "M", "L"}, 0.6},
		{"Tursekk 45L", "Hiking backpack 45L", 1, 1199.20, nil, 1.4},
		{"Brunost 500 g", "Brown cheese 500 g", 2, 86.09, nil, 0.5},
		{"Kinobillett", "Cinema ticket", 3, 133.93, nil, 0},
		{"Bok: Norske fjell", "Book: Norwegian mountains", 4, 349.00, nil, 0.9},
		{"Regnjakke", "Rain jacket", 1, 1439.20, []string{"S", "M", "L", "XL"}, 0.8},
		{"Kaffe 250 g", "Coffee 250 g", 2, 64.35, nil, 0.25},
		{"Hodelykt", "Head torch", 1, 399.20, nil, 0.1},
		{"Ullsokker", "Wool socks", 1, 159.20, []string{"36-40", "41-45"}, 0.1},
		{"Multebærsyltetøy", "Cloudberry jam", 2, 120.87, nil, 0.4},
		{"Termokopp", "Thermo mug", 1, 239.20, nil, 0.3},
		{"Flybussbillett", "Airport bus ticket", 3, 178.57, nil, 0},
		{"Kokebok: Nordisk mat", "Cookbook: Nordic food", 4, 449.00, nil, 1.1},
		{"Sovepose", "Sleeping bag", 1, 1599.20, nil, 1.7},
		{"Flatbrød", "Flatbread", 2, 42.61, nil, 0.3},
		{"Kokekar", "Camping cookware", 1, 559.20, nil, 0.9},
	}
}

// ean13 completes a 12-digit prefix with its check digit.
func ean13(prefix string) string {
	sum := 0
	for i, c := range prefix {
		d := int(c - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return prefix + strconv.Itoa((10-sum%10)%10)
}

// orgNumber returns a valid Norwegian organisation number (MOD11).
func (s *Server) orgNumber() string {
	weights := []int{3, 2, 7, 6, 5, 4, 3, 2}
	for {
		digits := []int{9}
		for range 7 {
			digits = append(digits, s.rng.IntN(10))
		}
		sum := 0
		for i, d := range digits {
			sum += d * weights[i]
		}
		check := 11 - sum%11
		if check == 10 {
			continue
		}
		if check == 11 {
			check = 0
		}
		var b strings.Builder
		for _, d := range digits {
			b.WriteByte(byte('0' + d))
		}
		b.WriteByte(byte('0' + check))
		return b.String()
	}
}

func (s *Server) seed() error {
	// Seed data is dated from a fixed day so it is the same on every run.
	base := time.Date(2025, 3, 3, 9, 0, 0, 0, s.opts.Location)
	clock := base
	realNow := s.opts.Now
	s.opts.Now = func() time.Time { return clock }
	defer func() { s.opts.Now = realNow }()

	s.put("languages", 1, s.row("languages", map[string]string{"name": "Norsk bokmål (Norwegian)", "iso_code": "no", "locale": "nb-NO",
		"language_code": "nb-no", "active": "1", "date_format_lite": "d.m.Y", "date_format_full": "d.m.Y H:i:s"}, nil))
	s.put("languages", 2, s.row("languages", map[string]string{"name": "English (English)", "iso_code": "en", "locale": "en-US",
		"language_code": "en-us", "active": "1", "date_format_lite": "m/d/Y", "date_format_full": "m/d/Y H:i:s"}, nil))

	for _, c := range []struct {
		id           int64
		iso, no, en  string
		prefix, zone string
		currency     string
	}{{1, "DE", "Tyskland", "Germany", "49", "1", "2"}, {18, "SE", "Sverige", "Sweden", "46", "7", "3"},
		{20, "DK", "Danmark", "Denmark", "45", "1", "0"}, {CountryNorway, "NO", "Norge", "Norway", "47", "7", "1"}} {
		s.put("countries", c.id, s.row("countries", map[string]string{"id_zone": c.zone, "id_currency": c.currency, "call_prefix": c.prefix,
			"iso_code": c.iso, "active": "1", "need_zip_code": "1", "zip_code_format": "NNNN", "display_tax_label": "1"},
			map[string][2]string{"name": {c.no, c.en}}))
	}
	for _, c := range []struct {
		id             int64
		iso, num, no   string
		en, sym        string
		rate, patterns string
	}{{1, "NOK", "578", "norske kroner", "Norwegian krone", "kr", "1.000000", "#,##0.00 ¤"},
		{2, "EUR", "978", "euro", "Euro", "€", "0.085000", "#,##0.00 ¤"},
		{3, "SEK", "752", "svenske kroner", "Swedish krona", "kr", "0.980000", "#,##0.00 ¤"}} {
		s.put("currencies", c.id, s.row("currencies", map[string]string{"iso_code": c.iso, "numeric_iso_code": c.num, "precision": "2",
			"conversion_rate": c.rate, "active": "1"},
			map[string][2]string{"name": {c.no, c.en}, "names": {c.no, c.en}, "symbol": {c.sym, c.sym}, "pattern": {c.patterns, c.patterns}}))
	}
	for _, t := range []struct {
		id         int64
		rate       string
		no, en     string
		group      int64
		country    int64
		groupName  string
		groupAdded bool
	}{
		{1, "25.000", "MVA NO 25%", "VAT NO 25%", 1, CountryNorway, "NO Standard sats (25%)", true},
		{2, "15.000", "MVA NO 15%", "VAT NO 15%", 2, CountryNorway, "NO Næringsmidler (15%)", true},
		{3, "12.000", "MVA NO 12%", "VAT NO 12%", 3, CountryNorway, "NO Lav sats (12%)", true},
		{4, "0.000", "MVA NO 0%", "VAT NO 0%", 4, CountryNorway, "NO Fritatt (0%)", true},
		{5, "25.000", "Moms SE 25%", "VAT SE 25%", 1, 18, "", false},
		{6, "12.000", "Moms SE 12%", "VAT SE 12%", 2, 18, "", false},
	} {
		s.put("taxes", t.id, s.row("taxes", map[string]string{"rate": t.rate, "active": "1"}, map[string][2]string{"name": {t.no, t.en}}))
		if t.groupAdded {
			g := s.row("tax_rule_groups", map[string]string{"name": t.groupName, "active": "1"}, nil)
			g.Fields["date_add"], g.Fields["date_upd"] = s.nowString(), s.nowString()
			s.put("tax_rule_groups", t.group, g)
		}
		s.tables["tax_rules"].insert(s.row("tax_rules", map[string]string{"id_tax_rules_group": strconv.FormatInt(t.group, 10),
			"id_country": strconv.FormatInt(t.country, 10), "id_tax": strconv.FormatInt(t.id, 10), "behavior": "0"}, nil))
	}
	for _, st := range []struct {
		id                                            int64
		no, en, module, color, template               string
		logable, paid, shipped, delivery, invoice, sm string
	}{
		{1, "Venter på sjekkbetaling", "Awaiting check payment", "ps_checkpayment", "#34209E", "cheque", "0", "0", "0", "0", "0", "1"},
		{2, "Betaling akseptert", "Payment accepted", "", "#3498D8", "payment", "1", "1", "0", "0", "1", "1"},
		{3, "Under behandling", "Processing in progress", "", "#3498D8", "preparation", "1", "1", "0", "0", "1", "1"},
		{4, "Sendt", "Shipped", "", "#01B887", "shipped", "1", "1", "1", "1", "1", "1"},
		{5, "Levert", "Delivered", "", "#01B887", "", "1", "1", "1", "1", "1", "0"},
		{6, "Kansellert", "Canceled", "", "#2C3E50", "order_canceled", "0", "0", "0", "0", "0", "1"},
		{7, "Refundert", "Refunded", "", "#ec2e15", "refund", "0", "1", "0", "0", "1", "1"},
		{8, "Betalingsfeil", "Payment error", "", "#8f0621", "payment_error", "0", "0", "0", "0", "0", "1"},
		{9, "Restordre (betalt)", "On backorder (paid)", "", "#3498D8", "outofstock", "1", "1", "0", "0", "1", "1"},
		{10, "Venter på bankoverføring", "Awaiting bank wire payment", "ps_wirepayment", "#34209E", "bankwire", "0", "0", "0", "0", "0", "1"},
		{11, "Fjernbetaling akseptert", "Remote payment accepted", "", "#3498D8", "payment", "1", "1", "0", "0", "1", "1"},
		{12, "Restordre (ikke betalt)", "On backorder (not paid)", "", "#34209E", "outofstock", "0", "0", "0", "0", "0", "1"},
		{13, "Venter på betaling ved levering", "Awaiting Cash On Delivery validation", "ps_cashondelivery", "#34209E", "cashondelivery", "0", "0", "0", "0", "0", "1"},
	} {
		s.put("order_states", st.id, s.row("order_states", map[string]string{"unremovable": "1", "send_email": st.sm, "module_name": st.module,
			"invoice": st.invoice, "color": st.color, "logable": st.logable, "shipped": st.shipped, "paid": st.paid, "delivery": st.delivery,
			"pdf_invoice": st.invoice, "pdf_delivery": st.delivery},
			map[string][2]string{"name": {st.no, st.en}, "template": {st.template, st.template}}))
	}

	cat := seedCatalogue()
	type stocked struct{ product, attr int64 }
	var sellable []stocked
	for i := range s.opts.Products {
		clock = base.Add(time.Duration(i) * 37 * time.Minute)
		p := cat[i%len(cat)]
		no, en := p.no, p.en
		if i >= len(cat) {
			no = fmt.Sprintf("%s %d", p.no, i/len(cat)+1)
			en = fmt.Sprintf("%s %d", p.en, i/len(cat)+1)
		}
		ref := fmt.Sprintf("NH-%d", 1001+i)
		o := s.row("products", map[string]string{
			"id_manufacturer": "0", "id_supplier": "0", "id_category_default": "2", "id_tax_rules_group": strconv.FormatInt(p.group, 10),
			"id_shop_default": "1", "reference": ref, "ean13": ean13(fmt.Sprintf("7038%08d", 10000+i*7)), "weight": money(p.weight),
			"state": "1", "minimal_quantity": "1", "price": money(p.price), "wholesale_price": money(round2(p.price * 0.55)),
			"active": "1", "available_for_order": "1", "show_price": "1", "indexed": "1", "visibility": "both", "condition": "new",
			"redirect_type": "404", "product_type": "standard", "is_virtual": boolStr(p.weight == 0), "pack_stock_type": "3",
		}, map[string][2]string{
			"name": {no, en}, "link_rewrite": {slug(no), slug(en)},
			"description_short": {"<p>" + no + " fra Nordlys Handel.</p>", "<p>" + en + " from Nordlys Handel.</p>"},
			"description":       {"", ""}, "meta_title": {"", ""}, "meta_description": {"", ""}, "meta_keywords": {"", ""},
			"available_now": {"På lager", "In stock"}, "available_later": {"", ""},
			"delivery_in_stock": {"", ""}, "delivery_out_stock": {"", ""},
		})
		o.Assoc["categories"] = []map[string]string{{"id": "2"}}
		if i%7 == 6 {
			o.Fields["active"] = "0"
		}
		pid := s.insert("products", o)
		if len(p.sizes) == 0 {
			qty := s.rng.IntN(40) + 5
			if i%9 == 4 {
				qty = 0
			}
			s.addStock(pid, 0, qty)
			if qty > 0 {
				sellable = append(sellable, stocked{pid, 0})
			}
			continue
		}
		for j, size := range p.sizes {
			c := s.row("combinations", map[string]string{"id_product": strconv.FormatInt(pid, 10),
				"reference": ref + "-" + size, "ean13": ean13(fmt.Sprintf("7038%08d", 50000+i*10+j)),
				"price": money(0), "minimal_quantity": "1", "default_on": boolStr(j == 0)}, nil)
			if size == "XL" {
				c.Fields["price"] = money(80)
			}
			cid := s.insert("combinations", c)
			s.addStock(pid, cid, s.rng.IntN(15)+3)
			sellable = append(sellable, stocked{pid, cid})
		}
	}

	first := []string{"Ola", "Kari", "Per", "Ingrid", "Lars", "Nora", "Emil", "Sofie", "Jonas", "Ida", "Henrik", "Maja"}
	last := []string{"Nordmann", "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen", "Berg", "Haugen"}
	companies := []string{"Fjordkraft Konsult AS", "Nordlys Bygg AS", "Vestland Sjømat AS", "Trondheim Data AS", "Lofoten Design AS"}
	places := [][2]string{{"0155", "Oslo"}, {"5003", "Bergen"}, {"7010", "Trondheim"}, {"4006", "Stavanger"}, {"9008", "Tromsø"}, {"8006", "Bodø"}}
	streets := []string{"Storgata", "Kirkegata", "Bryggen", "Strandveien", "Markveien", "Sjøgata"}
	var customers []int64
	for i := range s.opts.Customers {
		clock = base.Add(time.Duration(i)*53*time.Minute + 24*time.Hour)
		fn, ln := first[i%len(first)], last[(i*5)%len(last)]
		var company, org string
		if i%3 == 2 {
			company = companies[(i/3)%len(companies)]
			org = s.orgNumber()
		}
		c := s.row("customers", map[string]string{"id_default_group": "3", "id_lang": "1", "id_gender": strconv.Itoa(1 + i%2),
			"lastname": ln, "firstname": fn, "email": strings.ToLower(fmt.Sprintf("%s.%s%d@example.no", fn, ln, i+1)),
			"newsletter": boolStr(i%4 == 0), "optin": "0", "active": "1", "company": company, "siret": org,
			"id_shop": "1", "id_shop_group": "1", "birthday": "0000-00-00"}, nil)
		c.Fields["passwd"] = hashPassword(fmt.Sprintf("seed-%d-%d", s.opts.Seed, i))
		c.Fields["secure_key"] = s.randomHex(16)
		c.Assoc["groups"] = []map[string]string{{"id": "3"}}
		cid := s.insert("customers", c)
		place := places[i%len(places)]
		a := s.row("addresses", map[string]string{"id_customer": strconv.FormatInt(cid, 10), "id_country": strconv.FormatInt(CountryNorway, 10),
			"alias": "Min adresse", "company": company, "lastname": ln, "firstname": fn,
			"address1": fmt.Sprintf("%s %d", streets[i%len(streets)], 3+i*4), "postcode": place[0], "city": place[1],
			"phone_mobile": fmt.Sprintf("+47 9%02d %02d %03d", 10+i, 20+i, 100+i*3)}, nil)
		if org != "" {
			a.Fields["vat_number"] = "NO" + org + "MVA"
			a.Fields["dni"] = org
		}
		s.insert("addresses", a)
		customers = append(customers, cid)
	}

	modules := []string{"ps_wirepayment", "stripe_official", "vipps"}
	for i := range s.opts.Orders {
		if len(customers) == 0 || len(sellable) == 0 {
			break
		}
		clock = base.Add(time.Duration(i)*5*time.Hour + 48*time.Hour)
		req := OrderRequest{CustomerID: customers[s.rng.IntN(len(customers))], Module: modules[i%len(modules)]}
		n := 1 + s.rng.IntN(3)
		used := map[stocked]bool{}
		for range n {
			it := sellable[s.rng.IntN(len(sellable))]
			if used[it] {
				continue
			}
			used[it] = true
			req.Lines = append(req.Lines, OrderLine{ProductID: it.product, AttributeID: it.attr, Quantity: 1 + s.rng.IntN(2)})
		}
		if i%5 == 3 {
			req.DiscountPercent = 10
		}
		id, err := s.placeOrder(req)
		if err != nil {
			// Out of stock: a real shop would refuse the cart too.
			continue
		}
		clock = clock.Add(2 * time.Hour)
		// Modules cycle wire, card, Vipps: wire orders 0 and 6 stay
		// unpaid, 3 is paid and shipped, 9 is cancelled.
		var path []int64
		switch i % 12 {
		case 1, 7:
			path = []int64{StateProcessing, StateShipped, StateDelivered}
		case 3:
			path = []int64{StatePaymentAccepted, StateProcessing, StateShipped}
		case 4, 10:
			path = []int64{StateProcessing}
		case 5:
			path = []int64{StateCanceled}
		case 9:
			path = []int64{StateCanceled}
		}
		for _, st := range path {
			clock = clock.Add(3 * time.Hour)
			if _, apiErr := s.setOrderState(id, st, 1); apiErr != nil {
				return apiErr
			}
		}
	}
	return nil
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// slug makes a link_rewrite the way PrestaShop's Tools::str2url does for
// Norwegian text.
func slug(s string) string {
	r := strings.NewReplacer("æ", "ae", "ø", "o", "å", "a", "Æ", "ae", "Ø", "o", "Å", "a")
	s = strings.ToLower(r.Replace(s))
	var b strings.Builder
	dash := false
	for _, c := range s {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
