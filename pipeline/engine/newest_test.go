package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/synk-etl/synk/pipeline"
)

// newestPipeline keeps product names in step both ways between a shop whose
// date_upd is local time without a zone and an accounting system whose
// lastModified is a date only, like PrestaShop and Fiken.
func newestPipeline(tie string) string {
	src := `version: 1
name: newest
connections:
  shop: {type: mem, system: shop}
  acct: {type: mem, system: acct}
entities:
  products:
    key: {shop: ref, acct: number}
    conflict: newest
`
	if tie != "" {
		src += "    tie: " + tie + "\n"
	}
	return src + `    flows:
      - {from: shop.products, to: acct.products, create: true, map: {number: ref, name: name}}
      - {from: acct.products, to: shop.products, map: {name: name}}
`
}

func TestNewestComparesWhatTheSystemsSay(t *testing.T) {
	t.Parallel()
	const utc1, utc2 = "Etc/GMT-1", "Etc/GMT-2" // UTC+1 and UTC+2 (the sign is POSIX's)
	tests := []struct {
		name     string
		shopZone string
		shopTime string // the shop's local date_upd of its edit
		acctDate string // the accounting edit's date (Europe/Oslo, UTC+1 in December)
		tie      string
		wantName string
		wantNote string // in the plan's change, when a tie decided
		wantSkip bool
	}{
		{"shop edited a day later", utc1, "2026-12-04 09:00:00", "2026-12-03", "", "shop name", "", false},
		{"accounting edited a day later", utc1, "2026-12-02 18:00:00", "2026-12-03", "", "acct name", "", false},
		{"same day, no tie rule: the first flow's source", utc1, "2026-12-03 10:00:00", "2026-12-03", "", "shop name", "the first flow's source (shop.products) wins", false},
		{"same day, tie: acct", utc1, "2026-12-03 10:00:00", "2026-12-03", "acct", "acct name", "tie: acct", false},
		{"same day, tie: shop", utc1, "2026-12-03 10:00:00", "2026-12-03", "shop", "shop name", "tie: shop", false},
		{"same day, tie: skip", utc1, "2026-12-03 10:00:00", "2026-12-03", "skip", "", "", true},
		// 00:30 on the 4th in UTC+2 is 22:30 UTC on the 3rd, before the
		// accounting day of the 4th begins in Oslo (23:00 UTC): it is older.
		{"shop in UTC+2 just after midnight", utc2, "2026-12-04 00:30:00", "2026-12-04", "shop", "acct name", "", false},
		// The same wall time in UTC+1 is 23:30 UTC, inside that day: a tie.
		{"shop in UTC+1 just after midnight", utc1, "2026-12-04 00:30:00", "2026-12-04", "shop", "shop name", "tie: shop", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			shopRes := pipeline.Resource{Name: "products", Key: "id", Update: true, ModifiedField: "date_upd", ModifiedZone: tc.shopZone,
				Fields: []pipeline.Field{{Name: "id", Type: pipeline.TypeInt}, {Name: "ref", Type: pipeline.TypeString},
					{Name: "name", Type: pipeline.TypeString}, {Name: "date_upd", Type: pipeline.TypeString}}}
			acctRes := pipeline.Resource{Name: "products", Key: "pid", Create: true, Update: true,
				ModifiedField: "lastModified", ModifiedPrecision: 24 * time.Hour, ModifiedZone: "Europe/Oslo",
				Fields: []pipeline.Field{{Name: "pid", Type: pipeline.TypeInt}, {Name: "number", Type: pipeline.TypeString},
					{Name: "name", Type: pipeline.TypeString}, {Name: "lastModified", Type: pipeline.TypeDate}}}
			shop, acct := h.system("shop", shopRes), h.system("acct", acctRes)
			shop.put("products", pipeline.Record{"id": int64(1), "ref": "P1", "name": "old", "date_upd": "2026-11-01 08:00:00"})
			p := h.load(newestPipeline(tc.tie))
			h.apply(p)
			created := acct.all("products")
			if len(created) != 1 {
				t.Fatalf("first sync made %d products, want 1", len(created))
			}
			pid := created[0]["pid"]

			shop.set("products", "1", "name", "shop name")
			shop.set("products", "1", "date_upd", tc.shopTime)
			acct.set("products", fmt.Sprint(pid), "name", "acct name")
			acct.set("products", fmt.Sprint(pid), "lastModified", tc.acctDate)

			pl := h.plan(p)
			var notes []string
			for _, c := range pl.Changes {
				notes = append(notes, c.Notes...)
			}
			if tc.wantNote == "" && len(notes) > 0 || tc.wantNote != "" && (len(notes) != 1 || !strings.Contains(notes[0], tc.wantNote)) {
				t.Fatalf("plan notes %q, want one with %q", notes, tc.wantNote)
			}
			res := h.apply(p)
			s, _ := shop.get("products", "1")
			a, _ := acct.get("products", fmt.Sprint(pid))
			if tc.wantSkip {
				if res.Rejected == 0 || s["name"] != "shop name" || a["name"] != "acct name" {
					t.Fatalf("tie: skip wrote: shop %q, acct %q, rejected %d", s["name"], a["name"], res.Rejected)
				}
				return
			}
			if s["name"] != tc.wantName || a["name"] != tc.wantName {
				t.Fatalf("shop %q, acct %q, want both %q", s["name"], a["name"], tc.wantName)
			}
		})
	}
}
