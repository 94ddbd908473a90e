package prestashoptest

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/synk-etl/synk/connectors/prestashop"
)

// RefundRow is one order row of a refund: the order detail and how many of
// its units go back.
type RefundRow struct {
	OrderDetailID int64 `json:"id_order_detail"`
	Quantity      int   `json:"quantity"`
}

// RefundRequest is a refund as the back office issues it (Orders → order →
// Partial refund / Standard refund): units of order rows and, optionally,
// the order's shipping.
type RefundRequest struct {
	// FirstRowUnits refunds that many units of the order's first row; a
	// shorthand for Rows with the first row's id_order_detail.
	FirstRowUnits int         `json:"first_row_units"`
	Rows          []RefundRow `json:"rows"`
	// Shipping refunds the order's whole shipping.
	Shipping bool `json:"shipping"`
}

// Refund issues a refund on an order as PrestaShop 8's back office does
// (OrderSlipCreator, a copy of OrderSlip::create): it creates an
// order_slip with one detail per refunded row, counts the units refunded
// on the order details, and bumps the order's date_upd. It returns the
// slip's id. More units than were bought (less what earlier slips
// refunded), or the shipping twice, is an error and changes nothing.
//
// Amounts follow the tax-included path, the one a shop showing prices with
// VAT (a Norwegian B2C shop) takes: a row's refund incl. VAT is its unit
// price incl. VAT × units, rounded to the currency's 2 decimals; the
// amount excl. VAT is taken off it with the row's tax rate, rounded per
// unit (round_type 1), per row (2) or per tax group on the total (3) as
// the order says. Totals are in the order's currency; the slip records
// that currency's conversion_rate.
func (s *Server) Refund(orderID int64, req RefundRequest) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refund(orderID, req)
}

// slipRow is one refunded row with the amounts of its slip detail.
type slipRow struct {
	detail        prestashop.Object
	qty           int
	rate          float64
	incl, excl    float64 // amount_tax_incl / amount_tax_excl
	inclUnrounded float64 // unit price incl. × units, as the total adds it
}

func (s *Server) refund(orderID int64, req RefundRequest) (int64, error) {
	order, ok := s.tables["orders"].rows[orderID]
	if !ok {
		return 0, fmt.Errorf("refund: no order %d", orderID)
	}
	oid := strconv.FormatInt(orderID, 10)
	details := s.childIDs(nil, "order_details", "id_order", oid)
	rows := req.Rows
	if req.FirstRowUnits != 0 {
		if len(rows) > 0 {
			return 0, errors.New("refund: first_row_units or rows, not both")
		}
		if len(details) == 0 {
			return 0, fmt.Errorf("refund: order %d has no rows", orderID)
		}
		rows = []RefundRow{{OrderDetailID: details[0], Quantity: req.FirstRowUnits}}
	}
	if len(rows) == 0 && !req.Shipping {
		return 0, errors.New("refund: nothing to refund (no rows, no shipping)")
	}
	// Units per detail in this refund, checked against what is left.
	units := map[int64]int{}
	var ids []int64
	for _, r := range rows {
		d, ok := s.tables["order_details"].rows[r.OrderDetailID]
		if !ok || d.Fields["id_order"] != oid {
			return 0, fmt.Errorf("refund: order %d has no row (order detail) %d", orderID, r.OrderDetailID)
		}
		if r.Quantity <= 0 {
			return 0, fmt.Errorf("refund: order detail %d: quantity %d, want at least 1", r.OrderDetailID, r.Quantity)
		}
		if _, seen := units[r.OrderDetailID]; !seen {
			ids = append(ids, r.OrderDetailID)
		}
		units[r.OrderDetailID] += r.Quantity
	}
	for _, did := range ids {
		d := s.tables["order_details"].rows[did]
		bought, refunded := mustInt(d.Fields["product_quantity"]), mustInt(d.Fields["product_quantity_refunded"])
		if int64(units[did]) > bought-refunded {
			return 0, fmt.Errorf("refund: order detail %d: %d units to refund, but %d were bought and %d already refunded",
				did, units[did], bought, refunded)
		}
	}
	shipIncl := s.rowFloat(order, "total_shipping_tax_incl")
	if req.Shipping {
		if shipIncl == 0 {
			return 0, fmt.Errorf("refund: order %d has no shipping to refund", orderID)
		}
		for _, sid := range s.childIDs(nil, "order_slip", "id_order", oid) {
			if s.tables["order_slip"].rows[sid].Fields["shipping_cost"] == "1" {
				return 0, fmt.Errorf("refund: the shipping of order %d was refunded by slip %d", orderID, sid)
			}
		}
	}

	roundType := mustInt(order.Fields["round_type"])
	var slipRows []slipRow
	for _, did := range ids {
		d := s.tables["order_details"].rows[did]
		q := units[did]
		rate := s.rowFloat(d, "tax_rate")
		unitIncl := s.rowFloat(d, "unit_price_tax_incl")
		r := slipRow{detail: d, qty: q, rate: rate, inclUnrounded: round6(unitIncl * float64(q))}
		r.incl = round2(unitIncl * float64(q))
		if roundType == 1 {
			r.excl = round2(round2(unitIncl/(1+rate/100)) * float64(q))
		} else {
			r.excl = round2(unitIncl / (1 + rate/100) * float64(q))
		}
		slipRows = append(slipRows, r)
	}
	var productsIncl, productsExcl float64
	byGroup := map[string]float64{}
	groupRate := map[string]float64{}
	for _, r := range slipRows {
		productsIncl += r.inclUnrounded
		productsExcl += r.excl
		g := r.detail.Fields["id_tax_rules_group"]
		byGroup[g] += r.inclUnrounded
		groupRate[g] = r.rate
	}
	if roundType == 3 {
		// ROUND_TOTAL: VAT comes off each tax group's total, rounded once.
		productsExcl = 0
		for _, g := range sortedKeys(byGroup) {
			productsExcl += round2(byGroup[g] / (1 + groupRate[g]/100))
		}
	}
	var shipExcl float64
	if req.Shipping {
		shipExcl = round2(shipIncl / (1 + s.rowFloat(order, "carrier_tax_rate")/100))
	} else {
		shipIncl = 0
	}

	conversion := s.rowFloat(order, "conversion_rate")
	if c, ok := s.tables["currencies"].rows[mustInt(order.Fields["id_currency"])]; ok {
		conversion = s.rowFloat(c, "conversion_rate")
	}
	slip := s.blank(s.facts["order_slip"])
	f := slip.Fields
	f["id_customer"] = order.Fields["id_customer"]
	f["id_order"] = oid
	f["conversion_rate"] = money(conversion)
	f["total_products_tax_incl"] = money(round6(productsIncl))
	f["total_products_tax_excl"] = money(round6(productsExcl))
	f["total_shipping_tax_incl"] = money(shipIncl)
	f["total_shipping_tax_excl"] = money(shipExcl)
	// The tax-included path: amount is the products' refund with VAT.
	f["amount"] = money(round6(productsIncl))
	f["shipping_cost_amount"] = money(shipIncl)
	f["partial"] = "0"
	f["shipping_cost"], f["order_slip_type"] = "0", "0"
	if req.Shipping {
		// VoucherRefundType::SPECIFIC_AMOUNT_REFUND whenever shipping is in.
		f["shipping_cost"], f["order_slip_type"] = "1", "2"
	}
	id := s.insert("order_slip", slip)
	sid := strconv.FormatInt(id, 10)
	items := make([]map[string]string, 0, len(slipRows))
	for _, r := range slipRows {
		// getWsOrderSlipDetails selects id_order_slip AS id: every item
		// carries the slip's id, not its own.
		items = append(items, map[string]string{
			"id": sid, "id_order_detail": r.detail.Fields["id"], "product_quantity": strconv.Itoa(r.qty),
			"amount_tax_excl": money(r.excl), "amount_tax_incl": money(r.incl),
		})
		d := r.detail.Fields
		d["product_quantity_refunded"] = strconv.FormatInt(mustInt(d["product_quantity_refunded"])+int64(r.qty), 10)
		d["total_refunded_tax_incl"] = money(round6(s.rowFloat(r.detail, "total_refunded_tax_incl") + r.incl))
		d["total_refunded_tax_excl"] = money(round6(s.rowFloat(r.detail, "total_refunded_tax_excl") + r.excl))
	}
	s.tables["order_slip"].rows[id].Assoc["order_slip_details"] = items
	order.Fields["date_upd"] = s.nowString()
	return id, nil
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
