package fiken

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/synk-etl/synk/pipeline"
)

// fakeLists serves /companies/c/products from pages, with a result count
// that may lie, to test what the emulator cannot be made to do.
func fakeLists(t *testing.T, count int, pages ...string) *Connector {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if r.URL.Query().Get("pageSize") == "" || p >= len(pages) {
			w.Header().Set("Fiken-Api-Result-Count", strconv.Itoa(count))
			fmt.Fprint(w, "[]")
			return
		}
		w.Header().Set("Fiken-Api-Result-Count", strconv.Itoa(count))
		fmt.Fprint(w, pages[p])
	}))
	t.Cleanup(srv.Close)
	_, hc := newHTTP(pipeline.Limits{MaxInFlight: 1})
	c := NewClient(hc, srv.URL, "c", StaticToken("t"))
	c.PageSize = 2
	return New(c, nil)
}

func TestReadRejectsBadRecordsAndRefusesShortReads(t *testing.T) {
	good := func(id int) string {
		return fmt.Sprintf(`{"productId":%d,"name":"p%d","incomeAccount":"3000","vatType":"HIGH","active":true}`, id, id)
	}
	t.Run("bad record is rejected, read goes on", func(t *testing.T) {
		conn := fakeLists(t, 4, "["+good(1)+`,{"productId":2,"unitPrice":"12,50"}]`, "["+good(3)+","+good(4)+"]")
		var col collector
		if err := conn.Read(t.Context(), ResProducts, pipeline.ReadQuery{}, &col); err != nil {
			t.Fatal(err)
		}
		if len(col.records) != 3 || len(col.rejects) != 1 || !strings.HasPrefix(col.rejects[0], "2: ") {
			t.Fatalf("records %d, rejects %v", len(col.records), col.rejects)
		}
	})
	t.Run("fewer records than the count", func(t *testing.T) {
		conn := fakeLists(t, 5, "["+good(1)+","+good(2)+"]", "["+good(3)+","+good(4)+"]")
		var col collector
		err := conn.Read(t.Context(), ResProducts, pipeline.ReadQuery{}, &col)
		if !errors.Is(err, ErrShortRead) {
			t.Fatalf("err = %v, want ErrShortRead", err)
		}
	})
}
