package prestashoptest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// serveBackOffice serves the hooks tests and demos drive the shop with:
//
//	POST /_emulator/orders                 {"customer_id":1,"lines":[{"product_id":1,"quantity":2}],"module":"vipps"} → {"id":N}
//	POST /_emulator/orders/{id}/state      {"state":4}
//	POST /_emulator/orders/{id}/refund     {"first_row_units":1} or {"rows":[{"id_order_detail":3,"quantity":1}],"shipping":true} → {"id":slip}
//	POST /_emulator/stock                  {"product_id":1,"product_attribute_id":0,"quantity":10}
//	POST /_emulator/products/{id}          {"price":"100","name":"Ny","name:2":"New"} (also customers, addresses, ...)
//	GET  /_emulator/stats                  request and write counters
//	POST /_emulator/stats/reset
//	POST /_emulator/faults                 a Faults document
//
// They need no key: the emulator listens on loopback for its own tests.
func (s *Server) serveBackOffice(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/_emulator/"), "/"), "/")
	reply := func(v any, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	decode := func(v any) bool {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
			http.Error(w, "bad json: "+err.Error(), http.StatusBadRequest)
			return false
		}
		return true
	}
	switch {
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "stats":
		reply(s.Stats(), nil)
	case r.Method == http.MethodGet && len(parts) == 1 && parts[0] == "violations":
		v := s.Violations()
		if v == nil {
			v = []string{}
		}
		reply(v, nil)
	case r.Method == http.MethodPost && len(parts) == 2 && parts[0] == "stats" && parts[1] == "reset":
		s.ResetStats()
		reply(map[string]bool{"ok": true}, nil)
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "faults":
		var f Faults
		if decode(&f) {
			s.SetFaults(f)
			reply(f, nil)
		}
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "orders":
		var req OrderRequest
		if decode(&req) {
			id, err := s.PlaceOrder(req)
			reply(map[string]int64{"id": id}, err)
		}
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "orders" && parts[2] == "state":
		id, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			http.Error(w, "bad order id", http.StatusBadRequest)
			return
		}
		var body struct {
			State int64 `json:"state"`
		}
		if decode(&body) {
			hid, err := s.SetOrderState(id, body.State)
			reply(map[string]int64{"id_order_history": hid}, err)
		}
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "orders" && parts[2] == "refund":
		id, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			http.Error(w, "bad order id", http.StatusBadRequest)
			return
		}
		var req RefundRequest
		if decode(&req) {
			sid, err := s.Refund(id, req)
			reply(map[string]int64{"id": sid}, err)
		}
	case r.Method == http.MethodPost && len(parts) == 1 && parts[0] == "stock":
		var body struct {
			ProductID   int64 `json:"product_id"`
			AttributeID int64 `json:"product_attribute_id"`
			Quantity    int   `json:"quantity"`
		}
		if decode(&body) {
			reply(map[string]bool{"ok": true}, s.SetStock(body.ProductID, body.AttributeID, body.Quantity))
		}
	case r.Method == http.MethodPost && len(parts) == 2:
		id, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		var fields map[string]string
		if decode(&fields) {
			reply(map[string]bool{"ok": true}, s.Edit(parts[0], id, fields))
		}
	default:
		http.NotFound(w, r)
	}
}
