package prestashoptest

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/synk-etl/synk/connectors/prestashop"
)

// Order state ids of a standard PrestaShop install that the shop logic
// refers to.
const (
	StateAwaitingCheck    int64 = 1
	StatePaymentAccepted  int64 = 2
	StateProcessing       int64 = 3
	StateShipped          int64 = 4
	StateDelivered        int64 = 5
	StateCanceled         int64 = 6
	StateRefunded         int64 = 7
	StatePaymentError     int64 = 8
	StateAwaitingBankWire int64 = 10
)

// Country id of Norway, the shop's country.
const CountryNorway int64 = 23

// paymentName is the payment name a customer sees for a payment module
// the emulator knows.
func paymentName(module string) (string, bool) {
	switch module {
	case "ps_wirepayment":
		return "Faktura", true
	case "stripe_official":
		return "Kort (Stripe)", true
	case "vipps":
		return "Vipps", true
	case "ps_checkpayment":
		return "Sjekk", true
	}
	return "", false
}

// OrderLine is one product line of PlaceOrder.
type OrderLine struct {
	ProductID   int64 `json:"product_id"`
	AttributeID int64 `json:"product_attribute_id"`
	Quantity    int   `json:"quantity"`
}

// OrderRequest is a checkout: who buys what, how they pay.
type OrderRequest struct {
	CustomerID int64       `json:"customer_id"`
	Lines      []OrderLine `json:"lines"`
	// Module is the payment module; default "ps_wirepayment".
	Module string `json:"module"`
	// DiscountPercent is a cart rule on the products, split over their
	// VAT rates in proportion.
	DiscountPercent float64 `json:"discount_percent"`
	// Shipping is the carrier price with VAT in the order's currency;
	// default 99 NOK converted, free from 1500 NOK converted.
	Shipping *float64 `json:"shipping"`
	// Currency is the ISO code of a currency the shop has (default its
	// default, NOK): prices are converted at its conversion_rate and the
	// order's amounts are in it, as PrestaShop stores them.
	Currency string `json:"currency"`
	// DeliveryCountry is the ISO code of a country the shop has: the
	// order is delivered to a new address of the customer there (default
	// the customer's first address).
	DeliveryCountry string `json:"delivery_country"`
}

// currencyOf finds an active currency by ISO code: its id and rate.
func (s *Server) currencyOf(iso string) (int64, float64, error) {
	if iso == "" {
		return 1, 1, nil
	}
	for _, id := range s.tables["currencies"].ids() {
		c := s.tables["currencies"].rows[id]
		if strings.EqualFold(c.Fields["iso_code"], iso) && c.Fields["active"] == "1" {
			return id, s.rowFloat(c, "conversion_rate"), nil
		}
	}
	return 0, 0, fmt.Errorf("place order: the shop has no currency %q", iso)
}

// deliveryAddress copies the customer's address to a new one in the
// country with ISO code iso, as a checkout with a new address does.
func (s *Server) deliveryAddress(from int64, iso string) (int64, error) {
	for _, id := range s.tables["countries"].ids() {
		if strings.EqualFold(s.tables["countries"].rows[id].Fields["iso_code"], iso) {
			a := s.tables["addresses"].rows[from]
			b := s.blank(s.facts["addresses"])
			for k, v := range a.Fields {
				b.Fields[k] = v
			}
			b.Fields["id_country"] = strconv.FormatInt(id, 10)
			b.Fields["alias"] = "Levering " + strings.ToUpper(iso)
			return s.insert("addresses", b), nil
		}
	}
	return 0, fmt.Errorf("place order: the shop has no country %q", iso)
}

// round2 rounds half up to cents like PHP's round(), which first rounds
// the scaled value to 15 significant digits: 0.055 is 0.06, not the 0.05
// the float 5.4999… would give.
func round2(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x*100, 'g', 15, 64), 64)
	return math.Round(v) / 100
}

func money(x float64) string { return strconv.FormatFloat(x, 'f', 6, 64) }

func (s *Server) rowFloat(o prestashop.Object, f string) float64 {
	x, _ := strconv.ParseFloat(o.Fields[f], 64)
	return x
}

// taxFor resolves a tax rules group to its tax for the shop's country.
func (s *Server) taxFor(group int64) (id int64, rate float64) {
	for _, rid := range s.tables["tax_rules"].ids() {
		r := s.tables["tax_rules"].rows[rid]
		if mustInt(r.Fields["id_tax_rules_group"]) == group && mustInt(r.Fields["id_country"]) == CountryNorway {
			t := s.tables["taxes"].rows[mustInt(r.Fields["id_tax"])]
			return mustInt(r.Fields["id_tax"]), s.rowFloat(t, "rate")
		}
	}
	return 0, 0
}

func (s *Server) stockRow(product, attribute int64) (int64, bool) {
	for _, sid := range s.tables["stock_availables"].ids() {
		st := s.tables["stock_availables"].rows[sid]
		if mustInt(st.Fields["id_product"]) == product && mustInt(st.Fields["id_product_attribute"]) == attribute {
			return sid, true
		}
	}
	return 0, false
}

// addStock changes a stock row by delta and keeps the product's total
// (attribute 0) the sum of its combinations, as PrestaShop does.
func (s *Server) addStock(product, attribute int64, delta int) {
	sid, ok := s.stockRow(product, attribute)
	if !ok {
		sid = s.newStock(product, attribute, 0)
	}
	st := s.tables["stock_availables"].rows[sid]
	st.Fields["quantity"] = strconv.FormatInt(mustInt(st.Fields["quantity"])+int64(delta), 10)
	if attribute != 0 {
		s.addStock(product, 0, delta)
	}
}

// PlaceOrder places an order as a checkout would: order, order details
// with VAT, totals with shipping and discount, stock drawn down, the
// initial state (and payment, for card and Vipps) recorded.
func (s *Server) PlaceOrder(req OrderRequest) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.placeOrder(req)
}

func (s *Server) placeOrder(req OrderRequest) (int64, error) {
	cust, ok := s.tables["customers"].rows[req.CustomerID]
	if !ok {
		return 0, fmt.Errorf("place order: no customer %d", req.CustomerID)
	}
	if len(req.Lines) == 0 {
		return 0, errors.New("place order: no lines")
	}
	if req.Module == "" {
		req.Module = "ps_wirepayment"
	}
	payment, ok := paymentName(req.Module)
	if !ok {
		return 0, fmt.Errorf("place order: unknown payment module %q", req.Module)
	}
	var addr int64
	for _, aid := range s.tables["addresses"].ids() {
		a := s.tables["addresses"].rows[aid]
		if mustInt(a.Fields["id_customer"]) == req.CustomerID && a.Fields["deleted"] != "1" {
			addr = aid
			break
		}
	}
	if addr == 0 {
		return 0, fmt.Errorf("place order: customer %d has no address", req.CustomerID)
	}
	currencyID, convRate, err := s.currencyOf(req.Currency)
	if err != nil {
		return 0, err
	}
	delivery := addr
	if req.DeliveryCountry != "" {
		if delivery, err = s.deliveryAddress(addr, req.DeliveryCountry); err != nil {
			return 0, err
		}
	}
	type line struct {
		OrderLine
		product         prestashop.Object
		combo           prestashop.Object
		unitEx, unitInc float64
		totEx, totInc   float64
		taxID           int64
		rate            float64
	}
	var lines []line
	var productsEx, productsInc float64
	for _, l := range req.Lines {
		p, ok := s.tables["products"].rows[l.ProductID]
		if !ok {
			return 0, fmt.Errorf("place order: no product %d", l.ProductID)
		}
		if l.Quantity <= 0 {
			return 0, fmt.Errorf("place order: quantity %d", l.Quantity)
		}
		ln := line{OrderLine: l, product: p}
		ln.unitEx = s.rowFloat(p, "price")
		if l.AttributeID != 0 {
			c, ok := s.tables["combinations"].rows[l.AttributeID]
			if !ok || mustInt(c.Fields["id_product"]) != l.ProductID {
				return 0, fmt.Errorf("place order: product %d has no combination %d", l.ProductID, l.AttributeID)
			}
			ln.combo = c
			ln.unitEx += s.rowFloat(c, "price")
		}
		// Tools::convertPrice: the unit price in the order's currency.
		ln.unitEx = math.Round(ln.unitEx*convRate*1e6) / 1e6
		if sid, ok := s.stockRow(l.ProductID, l.AttributeID); ok {
			if have := mustInt(s.tables["stock_availables"].rows[sid].Fields["quantity"]); have < int64(l.Quantity) {
				return 0, fmt.Errorf("place order: product %d/%d has %d in stock, %d ordered", l.ProductID, l.AttributeID, have, l.Quantity)
			}
		}
		ln.taxID, ln.rate = s.taxFor(mustInt(p.Fields["id_tax_rules_group"]))
		ln.unitInc = math.Round(ln.unitEx*(1+ln.rate/100)*1e6) / 1e6
		// round_type 2 (per line), round_mode 2 (half up).
		ln.totEx = round2(ln.unitEx * float64(l.Quantity))
		ln.totInc = round2(ln.unitEx * float64(l.Quantity) * (1 + ln.rate/100))
		productsEx += ln.totEx
		productsInc += ln.totInc
		lines = append(lines, ln)
	}
	productsEx, productsInc = round2(productsEx), round2(productsInc)
	shipInc := round2(99 * convRate)
	if productsInc >= 1500*convRate {
		shipInc = 0
	}
	if req.Shipping != nil {
		shipInc = *req.Shipping
	}
	const carrierRate = 25.0
	shipEx := round2(shipInc / (1 + carrierRate/100))
	var discEx, discInc float64
	if req.DiscountPercent > 0 {
		for _, ln := range lines {
			discEx += ln.totEx * req.DiscountPercent / 100
			discInc += ln.totInc * req.DiscountPercent / 100
		}
		discEx, discInc = round2(discEx), round2(discInc)
	}
	paidInc := round2(productsInc + shipInc - discInc)
	paidEx := round2(productsEx + shipEx - discEx)

	o := s.blank(s.facts["orders"])
	f := o.Fields
	f["id_address_delivery"] = strconv.FormatInt(delivery, 10)
	f["id_address_invoice"] = strconv.FormatInt(addr, 10)
	f["id_cart"] = strconv.FormatInt(s.tables["orders"].next+1, 10)
	f["id_currency"] = strconv.FormatInt(currencyID, 10)
	f["id_lang"] = "1"
	f["id_customer"] = strconv.FormatInt(req.CustomerID, 10)
	f["id_carrier"] = "2"
	f["module"] = req.Module
	f["payment"] = payment
	f["id_shop"], f["id_shop_group"] = "1", "1"
	f["secure_key"] = cust.Fields["secure_key"]
	f["recyclable"] = "0"
	f["conversion_rate"] = money(convRate)
	f["round_mode"], f["round_type"] = "2", "2"
	f["total_discounts"], f["total_discounts_tax_incl"], f["total_discounts_tax_excl"] = money(discInc), money(discInc), money(discEx)
	f["total_paid"], f["total_paid_tax_incl"], f["total_paid_tax_excl"] = money(paidInc), money(paidInc), money(paidEx)
	f["total_paid_real"] = money(0)
	f["total_products"], f["total_products_wt"] = money(productsEx), money(productsInc)
	f["total_shipping"], f["total_shipping_tax_incl"], f["total_shipping_tax_excl"] = money(shipInc), money(shipInc), money(shipEx)
	f["carrier_tax_rate"] = money(carrierRate)
	f["reference"] = s.reference()
	orderID := s.insert("orders", o)

	for _, ln := range lines {
		d := s.blank(s.facts["order_details"])
		df := d.Fields
		name := ln.product.I18n["name"]["1"]
		ref := ln.product.Fields["reference"]
		ean := ln.product.Fields["ean13"]
		if ln.AttributeID != 0 {
			name += " - " + ln.combo.Fields["reference"][strings.LastIndexByte(ln.combo.Fields["reference"], '-')+1:]
			ref = ln.combo.Fields["reference"]
			ean = ln.combo.Fields["ean13"]
		}
		df["id_order"] = strconv.FormatInt(orderID, 10)
		df["product_id"] = strconv.FormatInt(ln.ProductID, 10)
		df["product_attribute_id"] = strconv.FormatInt(ln.AttributeID, 10)
		df["id_warehouse"], df["id_shop"] = "0", "1"
		df["product_name"] = name
		df["product_quantity"] = strconv.Itoa(ln.Quantity)
		df["product_quantity_in_stock"] = strconv.Itoa(ln.Quantity)
		df["product_price"] = money(ln.unitEx)
		df["original_product_price"] = money(ln.unitEx)
		df["product_reference"] = ref
		df["product_ean13"] = ean
		df["id_tax_rules_group"] = ln.product.Fields["id_tax_rules_group"]
		df["tax_rate"] = money(ln.rate)
		df["tax_name"] = s.tables["taxes"].rows[ln.taxID].I18n["name"]["1"]
		df["unit_price_tax_excl"] = money(ln.unitEx)
		df["unit_price_tax_incl"] = money(ln.unitInc)
		df["total_price_tax_excl"] = money(ln.totEx)
		df["total_price_tax_incl"] = money(ln.totInc)
		df["product_weight"] = ln.product.Fields["weight"]
		d.Assoc["taxes"] = []map[string]string{{"id": strconv.FormatInt(ln.taxID, 10)}}
		s.tables["order_details"].insert(d)
		s.addStock(ln.ProductID, ln.AttributeID, -ln.Quantity)
	}
	initial := StateAwaitingBankWire
	switch req.Module {
	case "stripe_official", "vipps":
		initial = StatePaymentAccepted
	case "ps_checkpayment":
		initial = StateAwaitingCheck
	}
	if _, apiErr := s.setOrderState(orderID, initial, 0); apiErr != nil {
		return 0, fmt.Errorf("place order: initial state: %w", apiErr)
	}
	return orderID, nil
}

// SetOrderState moves an order to a state as the back office does,
// applying the state's flags. It returns the new order history id.
func (s *Server) SetOrderState(orderID, stateID int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, apiErr := s.setOrderState(orderID, stateID, 1)
	if apiErr != nil {
		return 0, apiErr
	}
	return id, nil
}

// setOrderState is OrderHistory::changeIdOrderState plus addWs: it always
// adds a history row, even for the state the order already has.
func (s *Server) setOrderState(orderID, stateID, employee int64) (int64, *apiError) {
	order, ok := s.tables["orders"].rows[orderID]
	if !ok {
		return 0, wsErr(http.StatusBadRequest, 85, "Validation error: \"Property OrderHistory->id_order is not valid\"")
	}
	newState, ok := s.tables["order_states"].rows[stateID]
	if !ok {
		return 0, wsErr(http.StatusBadRequest, 85, "Validation error: \"Property OrderHistory->id_order_state is not valid\"")
	}
	oldID := mustInt(order.Fields["current_state"])
	oldState, hadOld := s.tables["order_states"].rows[oldID]
	flag := func(st prestashop.Object, f string) bool { return st.Fields[f] == "1" }
	now := s.nowString()
	if flag(newState, "paid") && (!hadOld || !flag(oldState, "paid")) {
		amount := s.rowFloat(order, "total_paid_tax_incl")
		p := s.blank(s.facts["order_payments"])
		p.Fields["order_reference"] = order.Fields["reference"]
		p.Fields["id_currency"] = order.Fields["id_currency"]
		p.Fields["amount"] = money(amount)
		p.Fields["payment_method"] = order.Fields["payment"]
		p.Fields["conversion_rate"] = order.Fields["conversion_rate"]
		if order.Fields["module"] != "ps_wirepayment" {
			p.Fields["transaction_id"] = "txn_" + strings.ToLower(s.reference())
		}
		p.Fields["date_add"] = now
		s.tables["order_payments"].insert(p)
		order.Fields["total_paid_real"] = money(round2(s.rowFloat(order, "total_paid_real") + amount))
	}
	if stateID == StateCanceled && oldID != StateCanceled {
		for _, did := range s.tables["order_details"].ids() {
			d := s.tables["order_details"].rows[did]
			if mustInt(d.Fields["id_order"]) != orderID {
				continue
			}
			q := int(mustInt(d.Fields["product_quantity"]))
			s.addStock(mustInt(d.Fields["product_id"]), mustInt(d.Fields["product_attribute_id"]), q)
			d.Fields["product_quantity_reinjected"] = strconv.Itoa(q)
		}
	}
	if flag(newState, "invoice") && mustInt(order.Fields["invoice_number"]) == 0 {
		max := int64(0)
		for _, o := range s.tables["orders"].rows {
			max = maxInt(max, mustInt(o.Fields["invoice_number"]))
		}
		order.Fields["invoice_number"] = strconv.FormatInt(max+1, 10)
		order.Fields["invoice_date"] = now
	}
	if flag(newState, "shipped") && mustInt(order.Fields["delivery_number"]) == 0 {
		max := int64(0)
		for _, o := range s.tables["orders"].rows {
			max = maxInt(max, mustInt(o.Fields["delivery_number"]))
		}
		order.Fields["delivery_number"] = strconv.FormatInt(max+1, 10)
		order.Fields["delivery_date"] = now
	}
	order.Fields["current_state"] = strconv.FormatInt(stateID, 10)
	order.Fields["valid"] = newState.Fields["logable"]
	order.Fields["date_upd"] = now
	h := s.blank(s.facts["order_histories"])
	h.Fields["id_employee"] = strconv.FormatInt(employee, 10)
	h.Fields["id_order"] = strconv.FormatInt(orderID, 10)
	h.Fields["id_order_state"] = strconv.FormatInt(stateID, 10)
	h.Fields["date_add"] = now
	return s.tables["order_histories"].insert(h), nil
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// SetStock sets the quantity of a product (attribute 0) or combination,
// as an employee editing stock in the back office.
func (s *Server) SetStock(productID, attributeID int64, quantity int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tables["products"].rows[productID]; !ok {
		return fmt.Errorf("set stock: no product %d", productID)
	}
	sid, ok := s.stockRow(productID, attributeID)
	if !ok {
		return fmt.Errorf("set stock: no stock row for %d/%d", productID, attributeID)
	}
	cur := mustInt(s.tables["stock_availables"].rows[sid].Fields["quantity"])
	s.addStock(productID, attributeID, quantity-int(cur))
	return nil
}

// Stock returns the quantity of a product (attribute 0) or combination.
func (s *Server) Stock(productID, attributeID int64) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sid, ok := s.stockRow(productID, attributeID)
	if !ok {
		return 0, false
	}
	return int(mustInt(s.tables["stock_availables"].rows[sid].Fields["quantity"])), true
}

// Edit changes fields of a stored record as the back office would, with
// date_upd bumped. Values are text as the webservice carries them; a
// multilingual field is given as "name" (language 1) or "name:2".
func (s *Server) Edit(resource string, id int64, fields map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fact, ok := s.facts[resource]
	if !ok {
		return fmt.Errorf("edit: unknown resource %q", resource)
	}
	row, ok := s.tables[resource].rows[id]
	if !ok {
		return fmt.Errorf("edit: no %s %d", resource, id)
	}
	for k, v := range fields {
		name, lang, _ := strings.Cut(k, ":")
		if lang == "" {
			lang = "1"
		}
		f, ok := fact.Field(name)
		if !ok || f.Kind == prestashop.KindVirtual || name == "id" {
			return fmt.Errorf("edit: %s has no stored field %q", resource, name)
		}
		if f.I18n {
			row.I18n[name][lang] = v
			continue
		}
		nv, msg := normalize(f, v)
		if msg != "" {
			return fmt.Errorf("edit: %s.%s %s", resource, name, msg)
		}
		row.Fields[name] = nv
	}
	if _, ok := row.Fields["date_upd"]; ok {
		row.Fields["date_upd"] = s.nowString()
	}
	return nil
}

// Get returns a copy of a stored record as the webservice shows it.
func (s *Server) Get(resource string, id int64) (prestashop.Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[resource]
	if !ok {
		return prestashop.Object{}, false
	}
	row, ok := t.rows[id]
	if !ok {
		return prestashop.Object{}, false
	}
	return s.view(resource, copyObject(row)), true
}

// IDs returns the ids of a resource's records in order.
func (s *Server) IDs(resource string) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tables[resource]
	if !ok {
		return nil
	}
	return t.ids()
}
