package engine_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/synk-etl/synk/pipeline/engine"
	"github.com/synk-etl/synk/pipeline/state"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"sync/atomic"
	"time"

	"github.com/synk-etl/synk/pipeline"
	"path/filepath"
	"strings"
	"testing"
)

// rulesPipeline is a one-way flow a.items → b.items over CSV files with one
// overwrite rule on val.
func rulesPipeline(rule string) string {
	ow := ""
	if rule != "" {
		ow = "\n        overwrite: {val: " + rule + "}"
	}
	return `version: 1
name: rules
connections:
  a:
    type: file
    dir: a
    resources:
      items: {path: items.csv, key: id, fields: {id: int, val: string}}
  b:
    type: file
    dir: b
    resources:
      items: {path: items.csv, key: id, fields: {id: int, src: int, val: string}, generate_key: true}
entities:
  items:
    flows:
      - from: a.items
        to: b.items
        create: true
        map: {src: id, val: val}` + ow + "\n"
}

func TestOverwriteRules(t *testing.T) {
	t.Parallel()
	keep := "" // no edit on that side
	tests := []struct {
		name       string
		rule       string
		srcEdit    string // new a.val, or keep
		tgtEdit    string // new b.val, or keep; "<empty>" empties it
		want       string
		wantWrites bool
	}{
		{"always/target edit is overwritten", "always", keep, "t2", "s1", true},
		{"always/source change is written", "always", "s2", keep, "s2", true},
		{"when_changed/target edit survives", "when_changed", keep, "t2", "t2", false},
		{"when_changed/source change overwrites target edit", "when_changed", "s2", "t2", "s2", true},
		{"default is when_changed/target edit survives", "", keep, "t2", "t2", false},
		{"default is when_changed/source change is written", "", "s2", keep, "s2", true},
		{"if_empty/target value is kept", "if_empty", "s2", keep, "s1", false},
		{"if_empty/empty target is filled", "if_empty", keep, "<empty>", "s1", true},
		{"never/source change is not written", "never", "s2", keep, "s1", false},
		{"never/target edit survives", "never", keep, "t2", "t2", false},
		{"when/untouched target takes source change", "{when: 'target == base && (source ?? \"\") != \"\"'}", "s2", keep, "s2", true},
		{"when/edited target is kept", "{when: 'target == base && (source ?? \"\") != \"\"'}", "s2", "t2", "t2", false},
		{"when/empty source is not written", "{when: 'target == base && (source ?? \"\") != \"\"'}", "<empty>", keep, "s1", false},
		{"when/source compared with target", "{when: 'source > target'}", "s0", keep, "s1", false},
		{"when/source greater than target", "{when: 'source > target'}", "s9", keep, "s9", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			aPath, bPath := filepath.Join(h.dir, "a", "items.csv"), filepath.Join(h.dir, "b", "items.csv")
			writeCSV(t, aPath, []string{"id", "val"}, []string{"7", "s1"})
			p := h.load(rulesPipeline(tc.rule))

			res := h.apply(p)
			if res.Applied != 1 || res.Failed != 0 || res.Rejected != 0 {
				t.Fatalf("create run: applied %d failed %d rejected %d, want 1 0 0", res.Applied, res.Failed, res.Rejected)
			}
			b := readCSV(t, bPath)
			if len(b) != 1 || b[0]["src"] != "7" || b[0]["val"] != "s1" {
				t.Fatalf("after create b = %v, want one row src=7 val=s1 (every rule sets fields on create)", b)
			}
			bKey := b[0]["id"]

			if tc.srcEdit != keep {
				editCSV(t, aPath, "id", "7", "val", strings.TrimPrefix(tc.srcEdit, "<empty>"))
			}
			if tc.tgtEdit != keep {
				editCSV(t, bPath, "id", bKey, "val", strings.TrimPrefix(tc.tgtEdit, "<empty>"))
			}
			res = h.apply(p)
			if got := res.Applied > 0; got != tc.wantWrites {
				t.Errorf("second run applied %d changes, want writes=%v", res.Applied, tc.wantWrites)
			}
			if res.Failed != 0 || res.Rejected != 0 {
				t.Errorf("second run failed %d rejected %d", res.Failed, res.Rejected)
			}
			b = readCSV(t, bPath)
			if len(b) != 1 || b[0]["val"] != tc.want {
				t.Fatalf("after second run b = %v, want one row with val=%q", b, tc.want)
			}
			h.mustBeConverged(p)
		})
	}
}

func conflictPipeline(policy string) string {
	return `version: 1
name: conflicts
connections:
  a:
    type: file
    dir: a
    resources:
      people: {path: people.csv, key: id, fields: {id: int, name: string, updated: time}, modified: updated}
  b:
    type: file
    dir: b
    resources:
      people: {path: people.csv, key: id, fields: {id: int, ref: int, name: string, updated: time}, generate_key: true, modified: updated}
entities:
  people:
    conflict: ` + policy + `
    flows:
      - from: a.people
        to: b.people
        create: true
        map: {ref: id, name: name}
      - from: b.people
        to: a.people
        map: {name: name}
`
}

func TestConflictPolicies(t *testing.T) {
	t.Parallel()
	const older, newer = "2025-01-02T10:00:00Z", "2025-01-03T10:00:00Z"
	tests := []struct {
		policy         string
		aTime, bTime   string
		wantA, wantB   string
		wantConflicted bool
	}{
		{"newest", older, newer, "B2", "B2", false},
		{"newest", newer, older, "A2", "A2", false},
		{"a", older, newer, "A2", "A2", false},
		{"b", newer, older, "B2", "B2", false},
		{"skip", older, newer, "A2", "B2", true},
	}
	for _, tc := range tests {
		t.Run(tc.policy+"/a "+tc.aTime[:10]+" b "+tc.bTime[:10], func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			aPath, bPath := filepath.Join(h.dir, "a", "people.csv"), filepath.Join(h.dir, "b", "people.csv")
			writeCSV(t, aPath, []string{"id", "name", "updated"}, []string{"1", "n1", "2025-01-01T00:00:00Z"})
			p := h.load(conflictPipeline(tc.policy))
			h.apply(p)
			h.mustBeConverged(p)
			bKey := readCSV(t, bPath)[0]["id"]

			// Both sides change the same field since the last sync.
			editCSV(t, aPath, "id", "1", "name", "A2")
			editCSV(t, aPath, "id", "1", "updated", tc.aTime)
			editCSV(t, bPath, "id", bKey, "name", "B2")
			editCSV(t, bPath, "id", bKey, "updated", tc.bTime)

			for run := 1; run <= 2; run++ {
				res := h.apply(p)
				a, b := readCSV(t, aPath), readCSV(t, bPath)
				if len(a) != 1 || len(b) != 1 || a[0]["name"] != tc.wantA || b[0]["name"] != tc.wantB {
					t.Fatalf("run %d: a=%v b=%v, want names %s and %s", run, a, b, tc.wantA, tc.wantB)
				}
				conflicts := 0
				for _, rj := range res.Plan.Rejects {
					if strings.Contains(rj.Reason, "conflict on name") {
						conflicts++
					}
				}
				if tc.wantConflicted != (conflicts > 0) {
					t.Fatalf("run %d: %d conflict rejects, want conflicted=%v:%s", run, conflicts, tc.wantConflicted, describeRejects(res.Plan.Rejects))
				}
				if !tc.wantConflicted {
					break
				}
				// skip reports it again every run until someone resolves it.
				if res.Applied != 0 {
					t.Fatalf("run %d: skip applied %d changes", run, res.Applied)
				}
			}
			if tc.wantConflicted {
				got := h.rows(`SELECT count(DISTINCT run_id) FROM synk.rejects WHERE entity = 'people' AND reason LIKE '%conflict on name%'`)
				if got[0][0] != "2" {
					t.Fatalf("conflict rejects stored for %s runs, want 2", got[0][0])
				}
				// Resolved by hand: both sides agree again.
				editCSV(t, bPath, "id", bKey, "name", "A2")
				res := h.apply(p)
				if len(res.Plan.Rejects) != 0 || res.Applied != 0 {
					t.Fatalf("after resolving: applied %d, rejects %s", res.Applied, describeRejects(res.Plan.Rejects))
				}
			}
			h.mustBeConverged(p)
		})
	}
}

var (
	peopleRes = pipeline.Resource{Name: "people", Key: "id", Create: true, Update: true, Delete: true, Fields: []pipeline.Field{
		{Name: "id", Type: pipeline.TypeString}, {Name: "email", Type: pipeline.TypeString},
		{Name: "name", Type: pipeline.TypeString}, {Name: "phone", Type: pipeline.TypeString},
	}}
	contactsRes = pipeline.Resource{Name: "contacts", Key: "cid", Create: true, Update: true, Delete: true, ActiveField: "active", Fields: []pipeline.Field{
		{Name: "cid", Type: pipeline.TypeInt}, {Name: "email", Type: pipeline.TypeString},
		{Name: "name", Type: pipeline.TypeString}, {Name: "phone", Type: pipeline.TypeString},
		{Name: "ref", Type: pipeline.TypeString}, {Name: "active", Type: pipeline.TypeBool},
	}}
)

const twoWayMem = `version: 1
name: twoway
connections:
  l: {type: mem, system: l}
  r: {type: mem, system: r}
entities:
  people:
    key: {l: lower(email), r: lower(email)}
    flows:
      - from: l.people
        to: r.contacts
        create: true
        map: {email: email, name: name}
      - from: r.contacts
        to: l.people
        create: true
        map: {email: email, name: name}
`

func TestTwoWayConvergence(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann"})
	r.put("contacts", pipeline.Record{"cid": int64(1), "email": "bob@example.com", "name": "Bob"})
	p := h.load(twoWayMem)

	// step applies and checks how many writes each side saw.
	// With idle, a third run must write nothing.
	step := func(what string, wantL, wantR int, idle bool) {
		t.Helper()
		l0, r0 := l.writes(), r.writes()
		res := h.apply(p)
		if res.Failed != 0 || res.Rejected != 0 {
			t.Fatalf("%s: failed %d rejected %d:%s", what, res.Failed, res.Rejected, describeRejects(res.Plan.Rejects))
		}
		if gl, gr := l.writes()-l0, r.writes()-r0; gl != wantL || gr != wantR {
			t.Fatalf("%s: writes l=%d r=%d, want l=%d r=%d:%s", what, gl, gr, wantL, wantR, describeChanges(res.Plan.Changes))
		}
		h.mustBeConverged(p)
		if !idle {
			return
		}
		l0, r0 = l.writes(), r.writes()
		h.apply(p)
		if gl, gr := l.writes()-l0, r.writes()-r0; gl != 0 || gr != 0 {
			t.Fatalf("%s: the run after wrote l=%d r=%d, want none", what, gl, gr)
		}
	}

	// No idle run here: the edits below come right after the creates.
	step("first sync creates both ways", 1, 1, false)
	ann := r.where("contacts", "email", "ann@example.com")
	bob := l.where("people", "email", "bob@example.com")
	if len(ann) != 1 || len(bob) != 1 || ann[0]["name"] != "Ann" || bob[0]["name"] != "Bob" {
		t.Fatalf("after first sync r has %v, l has %v", ann, bob)
	}
	annR, bobL := fmt.Sprint(ann[0]["cid"]), bob[0]["id"].(string)

	// Edits on the side a record was created on, right after the create.
	r.set("contacts", annR, "name", "Ann from r")
	step("edit of a created copy flows back", 1, 0, true)
	if got, _ := l.get("people", "p1"); got["name"] != "Ann from r" {
		t.Fatalf("l.p1 = %v", got)
	}
	l.set("people", bobL, "name", "Bob from l")
	step("edit of the other created copy flows back", 0, 1, true)
	if got, _ := r.get("contacts", "1"); got["name"] != "Bob from l" {
		t.Fatalf("r.1 = %v", got)
	}
	l.set("people", "p1", "name", "Ann again")
	step("edit of an original flows out", 0, 1, true)
	if got, _ := r.get("contacts", annR); got["name"] != "Ann again" {
		t.Fatalf("r.%s = %v", annR, got)
	}
	if n := len(h.links("people")); n != 2 {
		t.Fatalf("%d links, want 2", n)
	}
}

func TestMappingFailureIsRejectedRunGoesOn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	writeCSV(t, filepath.Join(h.dir, "a", "orders.csv"), []string{"id", "placed"},
		[]string{"1", "2025-01-05 10:00:00"}, []string{"2", "sometime soon"}, []string{"3", "2025-02-01"})
	p := h.load(`version: 1
name: rejects
connections:
  a:
    type: file
    dir: a
    resources:
      orders: {path: orders.csv, key: id, fields: {id: int, placed: string}}
  b:
    type: file
    dir: b
    resources:
      orders: {path: orders.csv, key: id, fields: {id: int, ref: int, day: date}, generate_key: true}
entities:
  orders:
    flows:
      - from: a.orders
        to: b.orders
        create: true
        map: {ref: id, day: date(placed)}
`)
	res := h.apply(p)
	if res.Applied != 2 || res.Rejected != 1 || res.Failed != 0 {
		t.Fatalf("applied %d rejected %d failed %d, want 2 1 0", res.Applied, res.Rejected, res.Failed)
	}
	got := map[string]string{}
	for _, r := range readCSV(t, filepath.Join(h.dir, "b", "orders.csv")) {
		got[r["ref"]] = r["day"]
	}
	if diff := cmp.Diff(map[string]string{"1": "2025-01-05", "3": "2025-02-01"}, got); diff != "" {
		t.Fatalf("b.orders ref → day (-want +got):\n%s", diff)
	}
	rows := h.rows(`SELECT entity, connection, resource, key, reason FROM synk.rejects`)
	if len(rows) != 1 {
		t.Fatalf("synk.rejects = %v, want one row", rows)
	}
	if r := rows[0]; r[0] != "orders" || r[1] != "a" || r[2] != "orders" || r[3] != "2" ||
		!strings.Contains(r[4], "day") || !strings.Contains(r[4], "sometime soon") {
		t.Fatalf("reject row %v: want orders a.orders key 2 with a reason naming the field and the value", r)
	}
	// Still rejected next run, and nothing else to do.
	res = h.apply(p)
	if res.Applied != 0 || res.Rejected != 1 {
		t.Fatalf("second run applied %d rejected %d, want 0 1", res.Applied, res.Rejected)
	}
}

const oneWayMem = `version: 1
name: oneway
connections:
  l: {type: mem, system: l}
  r: {type: mem, system: r}
entities:
  people:
    key: {l: lower(email), r: lower(email)}
    match:
      - {l: phone, r: phone}
    flows:
      - from: l.people
        to: r.contacts
        create: true
        map: {email: email, name: name, phone: phone, ref: id}
`

func TestSinkRefusalIsRejectedOthersGoOn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	for _, n := range []string{"p1", "p2", "p3"} {
		l.put("people", pipeline.Record{"id": n, "email": n + "@example.com", "name": "Name " + n})
	}
	l.set("people", "p2", "name", "Refused")
	r.refuse = func(w pipeline.Write) error {
		if w.Set["name"] == "Refused" {
			return &pipeline.RecordError{Resource: w.Resource, Err: errors.New("name is on the deny list")}
		}
		return nil
	}
	p := h.load(oneWayMem)
	res := h.apply(p)
	if res.Applied != 2 || res.Rejected != 1 || res.Failed != 0 {
		t.Fatalf("applied %d rejected %d failed %d, want 2 1 0", res.Applied, res.Rejected, res.Failed)
	}
	if c, _, _ := r.counts(); c != 2 || len(r.where("contacts", "ref", "p2")) != 0 {
		t.Fatalf("r made %d creates, records %v; want p1 and p3 only", c, r.all("contacts"))
	}
	rows := h.rows(`SELECT source_key, status, error FROM synk.changes WHERE status <> 'planned' ORDER BY source_key`)
	want := [][]string{{"p1", "applied", ""}, {"p2", "rejected", "contacts : name is on the deny list"}, {"p3", "applied", ""}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Fatalf("synk.changes (-want +got):\n%s", diff)
	}
	rj := h.rows(`SELECT key, reason FROM synk.rejects WHERE entity = 'people'`)
	if len(rj) != 1 || rj[0][0] != "p2" || !strings.Contains(rj[0][1], "deny list") {
		t.Fatalf("synk.rejects = %v, want the refused p2 with the sink's reason", rj)
	}
	if got := h.rows(`SELECT status FROM synk.journal WHERE source_key = 'p2'`); len(got) != 1 || got[0][0] != "failed" {
		t.Fatalf("journal for p2 = %v, want one failed intent", got)
	}
	if n := len(h.links("people")); n != 2 {
		t.Fatalf("%d links, want 2", n)
	}
	// Once the system accepts it, the next run creates it, once.
	r.refuse = nil
	res = h.apply(p)
	if res.Applied != 1 || len(r.where("contacts", "ref", "p2")) != 1 {
		t.Fatalf("retry applied %d, r has %v", res.Applied, r.all("contacts"))
	}
	h.mustBeConverged(p)
}

func TestMatching(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	person := func(id, email, phone string) {
		l.put("people", pipeline.Record{"id": id, "email": email, "phone": phone, "name": id})
	}
	contact := func(cid int64, email, phone string) {
		r.put("contacts", pipeline.Record{"cid": cid, "email": email, "phone": phone, "name": "c"})
	}
	person("p1", "Ann@Example.com", "1") // key rule, case-insensitive
	contact(11, "ann@example.com", "9")
	person("p2", "", "555") // no e-mail: the phone rule
	contact(12, "someone.else@example.com", "555")
	person("p3", "dup@example.com", "3") // two candidates: reject
	contact(13, "dup@example.com", "13")
	contact(14, "DUP@example.com", "14")
	person("p4", "new@example.com", "4")   // no candidate: create
	person("p6", "six@example.com", "777") // the key rule wins over the phone rule
	contact(16, "six@example.com", "0")
	contact(17, "seventeen@example.com", "777")
	person("p7", "twin@example.com", "7") // two on the left: both rejected
	person("p8", "TWIN@example.com", "8")
	contact(18, "twin@example.com", "18")
	p := h.load(oneWayMem)

	for run := 1; run <= 2; run++ {
		res := h.apply(p)
		if res.Failed != 0 {
			t.Fatalf("run %d: %d failed", run, res.Failed)
		}
		links := h.links("people")
		created := r.where("contacts", "ref", "p4")
		if len(created) != 1 {
			t.Fatalf("run %d: p4 created %d times", run, len(created))
		}
		want := map[string]string{"p1": "11", "p2": "12", "p4": fmt.Sprint(created[0]["cid"]), "p6": "16"}
		if diff := cmp.Diff(want, links); diff != "" {
			t.Fatalf("run %d: links (-want +got):\n%s", run, diff)
		}
		ambiguous := map[string]string{}
		for _, rj := range res.Plan.Rejects {
			ambiguous[rj.Key] = rj.Reason
		}
		if len(ambiguous) != 3 {
			t.Fatalf("run %d: rejects %s, want p3, p7 and p8", run, describeRejects(res.Plan.Rejects))
		}
		for key, names := range map[string][]string{"p3": {"13", "14"}, "p7": {"p7", "p8", "18"}, "p8": {"p7", "p8", "18"}} {
			reason := ambiguous[key]
			for _, n := range append(names, "ambiguous") {
				if !strings.Contains(reason, n) {
					t.Errorf("run %d: reject of %s = %q, want it to name %s", run, key, reason, n)
				}
			}
		}
		if n := len(r.all("contacts")); n != 8 {
			t.Fatalf("run %d: r has %d contacts, want the 7 it had plus p4", run, n)
		}
	}
}

func TestLimiterBoundsInFlightAndRate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	firms := peopleRes
	firms.Name = "firms"
	accounts := contactsRes
	accounts.Name = "accounts"
	l, r := h.system("l", peopleRes, firms), h.system("r", contactsRes, accounts)
	const perEntity = 30
	for i := range perEntity {
		l.put("people", pipeline.Record{"id": fmt.Sprintf("p%02d", i), "name": "person"})
		l.put("firms", pipeline.Record{"id": fmt.Sprintf("f%02d", i), "name": "firm"})
	}
	// Longer than the rate's interval (20 ms), so writes overlap and the
	// in-flight bound is what stops a third.
	r.latency = 30 * time.Millisecond
	// Two entities write to r at once: they share its limiter.
	p := h.load(`version: 1
name: limits
connections:
  l: {type: mem, system: l}
  r: {type: mem, system: r, concurrency: 2, rate: 50}
entities:
  people:
    flows:
      - {from: l.people, to: r.contacts, create: true, map: {name: name, ref: id}}
  firms:
    flows:
      - {from: l.firms, to: r.accounts, create: true, map: {name: name, ref: id}}
`)
	res := h.apply(p)
	if res.Applied != 2*perEntity {
		t.Fatalf("applied %d, want %d", res.Applied, 2*perEntity)
	}
	r.mu.Lock()
	maxIn, times := r.maxInFlight, slices.Clone(r.writeTimes)
	r.mu.Unlock()
	if maxIn > 2 {
		t.Errorf("%d writes in flight at once, limit 2", maxIn)
	}
	if maxIn < 2 {
		t.Errorf("at most %d write in flight: the test did not exercise concurrency", maxIn)
	}
	if len(times) != 2*perEntity {
		t.Fatalf("%d writes timed, want %d", len(times), 2*perEntity)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	// At 50/s with burst 1, n writes span at least (n-1)/50 s; one token of
	// slack absorbs scheduling delay in taking the timestamp.
	const rate = 50.0
	for i := range times {
		for j := i + 1; j < len(times); j++ {
			minSpan := time.Duration(float64(j-i-1) / rate * float64(time.Second))
			if got := times[j].Sub(times[i]); got < minSpan {
				t.Fatalf("writes %d..%d (%d writes) took %v, rate 50/s allows no less than %v", i, j, j-i+1, got, minSpan)
			}
		}
	}
}

// createOnlyMem has no match rule: only the journal and Find can tell that
// a create already happened.
const createOnlyMem = `version: 1
name: createonly
connections:
  l: {type: mem, system: l}
  r: {type: mem, system: r}
entities:
  people:
    flows:
      - from: l.people
        to: r.contacts
        create: true
        map: {email: email, name: name, ref: id}
`

// journal returns source key → statuses of its create intents, oldest first.
func (h *harness) journal(entity string) map[string][]string {
	h.t.Helper()
	out := map[string][]string{}
	for _, r := range h.rows(`SELECT source_key, status FROM synk.journal WHERE entity = ? ORDER BY created_at, id`, entity) {
		out[r[0]] = append(out[r[0]], r[1])
	}
	return out
}

// onlyOnce fails unless r holds exactly one contact per source key.
func onlyOnce(t *testing.T, r *memSystem, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if n := len(r.where("contacts", "ref", k)); n != 1 {
			t.Fatalf("r holds %d contacts for %s, want exactly 1", n, k)
		}
	}
	if n := len(r.all("contacts")); n != len(keys) {
		t.Fatalf("r holds %d contacts, want %d", n, len(keys))
	}
}

func TestExactlyOnceCreates(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, n int) (*harness, *memSystem, []string) {
		h := newHarness(t)
		l, r := h.system("l", peopleRes), h.system("r", contactsRes)
		var keys []string
		for i := range n {
			k := fmt.Sprintf("p%02d", i)
			keys = append(keys, k)
			l.put("people", pipeline.Record{"id": k, "email": k + "@example.com", "name": k})
		}
		return h, r, keys
	}
	lost := errors.New("connection reset by peer")

	t.Run("lost response is found, not created again", func(t *testing.T) {
		t.Parallel()
		h, r, keys := setup(t, 3)
		r.afterCreate = func(_ context.Context, w pipeline.Write, _ pipeline.Record) error {
			if w.Set["ref"] == "p01" {
				return lost
			}
			return nil
		}
		p := h.load(createOnlyMem)
		res := h.apply(p)
		if res.Applied != 3 || res.Failed != 0 {
			t.Fatalf("applied %d failed %d, want 3 0", res.Applied, res.Failed)
		}
		onlyOnce(t, r, keys...)
		if r.finds == 0 {
			t.Fatal("the lost create was not looked up")
		}
		created := fmt.Sprint(r.where("contacts", "ref", "p01")[0]["cid"])
		if got := h.links("people")["p01"]; got != created {
			t.Fatalf("p01 linked to %q, want %s", got, created)
		}
		if got := h.journal("people")["p01"]; !slices.Equal(got, []string{"done"}) {
			t.Fatalf("journal for p01 = %v, want [done]", got)
		}
		r.afterCreate = nil
		h.apply(p)
		onlyOnce(t, r, keys...)
		h.mustBeConverged(p)
	})

	t.Run("cancelled mid-apply then rerun", func(t *testing.T) {
		t.Parallel()
		h, r, keys := setup(t, 20)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		r.latency = 2 * time.Millisecond
		var n atomic.Int32
		r.afterCreate = func(ctx context.Context, _ pipeline.Write, _ pipeline.Record) error {
			if n.Add(1) == 5 {
				cancel()
				return errors.New("connection reset") // committed, but the caller never hears of it
			}
			return nil
		}
		p := h.load(createOnlyMem)
		res, err := h.applyCtx(ctx, p)
		if !errors.Is(err, engine.ErrStopped) || res.NotAttempted == 0 {
			t.Fatalf("cancelled apply returned %v (not attempted %d), want engine.ErrStopped with changes left", err, res.NotAttempted)
		}
		if c, _, _ := r.counts(); c < 5 || c >= len(keys) {
			t.Fatalf("%d creates before the cancel took effect; the test wants a partial run", c)
		}
		if got := h.rows(`SELECT status FROM synk.runs WHERE mode = 'apply'`); len(got) != 1 || got[0][0] != "stopped" {
			t.Fatalf("synk.runs after the cancelled apply: %v", got)
		}
		r.afterCreate = nil
		res = h.apply(p)
		if res.Failed != 0 || res.Rejected != 0 {
			t.Fatalf("rerun failed %d rejected %d", res.Failed, res.Rejected)
		}
		onlyOnce(t, r, keys...)
		if c, _, _ := r.counts(); c != len(keys) {
			t.Fatalf("%d creates in all, want %d", c, len(keys))
		}
		if got := len(h.links("people")); got != len(keys) {
			t.Fatalf("%d links, want %d", got, len(keys))
		}
		h.mustBeConverged(p)
	})

	t.Run("pending intent is resolved through Find", func(t *testing.T) {
		t.Parallel()
		h, r, keys := setup(t, 3)
		r.afterCreate = func(_ context.Context, w pipeline.Write, _ pipeline.Record) error {
			if w.Set["ref"] == "p01" {
				return lost
			}
			return nil
		}
		r.findErr = errors.New("lookup unavailable")
		p := h.load(createOnlyMem)
		res := h.apply(p)
		if res.Applied != 2 || res.Failed != 1 {
			t.Fatalf("applied %d failed %d, want 2 1", res.Applied, res.Failed)
		}
		if got := h.journal("people")["p01"]; !slices.Equal(got, []string{"pending"}) {
			t.Fatalf("journal for p01 = %v, want [pending]", got)
		}
		// While the lookup still fails, the create is held, never repeated.
		r.afterCreate = nil
		res = h.apply(p)
		if res.Rejected != 1 || !strings.Contains(res.Plan.Rejects[0].Reason, "unresolved") {
			t.Fatalf("run with lookup down: rejected %d %s", res.Rejected, describeRejects(res.Plan.Rejects))
		}
		onlyOnce(t, r, keys...)
		r.findErr = nil
		res = h.apply(p)
		if res.Failed != 0 || res.Rejected != 0 {
			t.Fatalf("recovery run failed %d rejected %d", res.Failed, res.Rejected)
		}
		onlyOnce(t, r, keys...)
		if c, _, _ := r.counts(); c != 3 {
			t.Fatalf("%d creates, want 3", c)
		}
		if got := h.journal("people")["p01"]; !slices.Equal(got, []string{"done"}) {
			t.Fatalf("journal for p01 = %v, want [done]", got)
		}
		if got, want := h.links("people")["p01"], fmt.Sprint(r.where("contacts", "ref", "p01")[0]["cid"]); got != want {
			t.Fatalf("p01 linked to %q, want %s", got, want)
		}
		h.mustBeConverged(p)
	})

	t.Run("pending intent not found is created once", func(t *testing.T) {
		t.Parallel()
		h, r, keys := setup(t, 3)
		// The request fails before it reaches the system, and the lookup
		// that would tell is down too.
		r.refuse = func(w pipeline.Write) error {
			if w.Set["ref"] == "p01" {
				return lost
			}
			return nil
		}
		r.findErr = errors.New("lookup unavailable")
		p := h.load(createOnlyMem)
		h.apply(p)
		if got := h.journal("people")["p01"]; !slices.Equal(got, []string{"pending"}) {
			t.Fatalf("journal for p01 = %v, want [pending]", got)
		}
		r.refuse, r.findErr = nil, nil
		res := h.apply(p)
		if res.Applied != 1 || res.Failed != 0 {
			t.Fatalf("applied %d failed %d, want 1 0", res.Applied, res.Failed)
		}
		onlyOnce(t, r, keys...)
		if got := h.journal("people")["p01"]; !slices.Equal(got, []string{"failed", "done"}) {
			t.Fatalf("journal for p01 = %v, want [failed done]", got)
		}
		h.mustBeConverged(p)
	})
}

func TestDeletesOnlyWhenAFlowSaysSo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		setting     string // the flow's delete: line, or ""
		wantGone    bool
		wantActive  any // p2's active flag in r when it stays
		wantDeletes int
		wantUpdates int
	}{
		{"delete: true", true, nil, 1, 0},
		{"delete: deactivate", false, false, 0, 1},
		{"", false, true, 0, 0},
		{"delete: false", false, true, 0, 0},
	}
	for _, tc := range tests {
		name := tc.setting
		if name == "" {
			name = "no delete setting"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			l, r := h.system("l", peopleRes), h.system("r", contactsRes)
			l.put("people", pipeline.Record{"id": "p1", "name": "One"})
			l.put("people", pipeline.Record{"id": "p2", "name": "Two"})
			p := h.load(`version: 1
name: deletes
connections:
  l: {type: mem, system: l}
  r: {type: mem, system: r}
entities:
  people:
    flows:
      - from: l.people
        to: r.contacts
        create: true
        map: {name: name, ref: id, active: 'true'}
        ` + tc.setting + "\n")
			h.apply(p)
			if len(r.all("contacts")) != 2 {
				t.Fatalf("after create r has %v", r.all("contacts"))
			}
			c2 := fmt.Sprint(r.where("contacts", "ref", "p2")[0]["cid"])
			_, u0, _ := r.counts()

			l.remove("people", "p2")
			res := h.apply(p)
			if res.Failed != 0 || res.Rejected != 0 {
				t.Fatalf("failed %d rejected %d", res.Failed, res.Rejected)
			}
			_, u, d := r.counts()
			if d != tc.wantDeletes || u-u0 != tc.wantUpdates {
				t.Fatalf("deletes %d updates %d, want %d %d", d, u-u0, tc.wantDeletes, tc.wantUpdates)
			}
			got, ok := r.get("contacts", c2)
			if ok == tc.wantGone {
				t.Fatalf("p2's contact present=%v, want gone=%v", ok, tc.wantGone)
			}
			if ok && got["active"] != tc.wantActive {
				t.Fatalf("p2's contact = %v, want active=%v", got, tc.wantActive)
			}
			if _, linked := h.links("people")["p2"]; linked == tc.wantGone {
				t.Fatalf("p2 linked=%v after its target was deleted=%v", linked, tc.wantGone)
			}
			if one, ok := r.get("contacts", fmt.Sprint(r.where("contacts", "ref", "p1")[0]["cid"])); !ok || one["active"] != true {
				t.Fatalf("p1's contact touched: %v", one)
			}
			h.mustBeConverged(p)
		})
	}
}

const ordersPipeline = `version: 1
name: orders
connections:
  a:
    type: file
    dir: a
    resources:
      customers: {path: customers.csv, key: id, fields: {id: int, name: string}}
      orders: {path: orders.csv, key: id, fields: {id: int, customer_id: int, total: float}}
  b:
    type: file
    dir: b
    resources:
      customers: {path: customers.csv, key: id, fields: {id: int, name: string, ref: int}, generate_key: true}
      orders: {path: orders.csv, key: id, fields: {id: int, customer: int, total: float, ref: int}, generate_key: true}
entities:
  orders:
    flows:
      - from: a.orders
        to: b.orders
        create: true
        map: {customer: 'link("customers", customer_id)', total: total, ref: id}
  customers:
    flows:
      - {from: a.customers, to: b.customers, create: true, map: {name: name, ref: id}}
`

func TestLinkResolvesOtherSideKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	aCust, aOrd := filepath.Join(h.dir, "a", "customers.csv"), filepath.Join(h.dir, "a", "orders.csv")
	bCust, bOrd := filepath.Join(h.dir, "b", "customers.csv"), filepath.Join(h.dir, "b", "orders.csv")
	// b's own customer takes key 1, so b's keys differ from a's.
	writeCSV(t, bCust, []string{"id", "name", "ref"}, []string{"1", "Someone else", ""})
	writeCSV(t, aCust, []string{"id", "name"}, []string{"101", "Old customer"})
	p := h.load(ordersPipeline)
	h.apply(p)
	custB := func() map[string]string { // a key → b key
		out := map[string]string{}
		for _, r := range readCSV(t, bCust) {
			out[r["ref"]] = r["id"]
		}
		return out
	}
	if got := custB()["101"]; got != "2" {
		t.Fatalf("customer 101 created in b as %q, want 2", got)
	}

	// A new customer and orders for it, for the old one and for nobody.
	writeCSV(t, aCust, []string{"id", "name"}, []string{"101", "Old customer"}, []string{"102", "New customer"})
	writeCSV(t, aOrd, []string{"id", "customer_id", "total"},
		[]string{"10", "101", "5.5"}, []string{"11", "102", "7"}, []string{"12", "999", "1"})
	pl := h.plan(p)
	waits := map[string][]string{}
	for _, c := range pl.Changes {
		if c.Entity == "orders" {
			waits[c.SourceKey] = c.Waits
		}
	}
	if diff := cmp.Diff(map[string][]string{"10": nil, "11": {"customers"}}, waits); diff != "" {
		t.Fatalf("order creates and their waits (-want +got):\n%s", diff)
	}

	res := h.apply(p)
	if res.Applied != 3 || res.Rejected != 1 || res.Failed != 0 {
		t.Fatalf("applied %d rejected %d failed %d, want 3 1 0", res.Applied, res.Rejected, res.Failed)
	}
	cust := custB()
	got := map[string]string{}
	for _, r := range readCSV(t, bOrd) {
		got[r["ref"]] = r["customer"]
	}
	want := map[string]string{"10": cust["101"], "11": cust["102"]}
	if cust["102"] == "" || cust["102"] == "102" {
		t.Fatalf("customer 102 in b: %v", cust)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("b.orders ref → customer (-want +got):\n%s", diff)
	}
	rj := h.rows(`SELECT key, reason FROM synk.rejects WHERE entity = 'orders' AND run_id = ?`, res.Plan.RunID)
	if len(rj) != 1 || rj[0][0] != "12" || !strings.Contains(rj[0][1], "999") || !strings.Contains(rj[0][1], "customers") {
		t.Fatalf("rejects = %v, want order 12 with a reason naming customer 999", rj)
	}
	res = h.apply(p)
	if res.Applied != 0 || res.Rejected != 1 {
		t.Fatalf("next run applied %d rejected %d, want 0 1", res.Applied, res.Rejected)
	}
}

// TestLinkResolvesAMatchMadeThisRun: an order whose customer is matched
// (not created) in the same run gets the matched customer's key in that
// run, with no reject and nothing left for the next run.
func TestLinkResolvesAMatchMadeThisRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	writeCSV(t, filepath.Join(h.dir, "b", "customers.csv"), []string{"id", "name", "ref"}, []string{"7", "Kari", ""})
	writeCSV(t, filepath.Join(h.dir, "a", "customers.csv"), []string{"id", "name"}, []string{"101", "kari"})
	writeCSV(t, filepath.Join(h.dir, "a", "orders.csv"), []string{"id", "customer_id", "total"}, []string{"10", "101", "5.5"})
	p := h.load(strings.Replace(ordersPipeline, "  customers:\n    flows:", "  customers:\n    match: [{a: lower(name), b: lower(name)}]\n    flows:", 1))
	pl := h.plan(p)
	for _, rj := range pl.Rejects {
		t.Errorf("plan rejects %s %s: %s", rj.Entity, rj.Key, rj.Reason)
	}
	res := h.apply(p)
	if res.Rejected != 0 || res.Failed != 0 {
		t.Fatalf("applied %d rejected %d failed %d, want no reject or failure", res.Applied, res.Rejected, res.Failed)
	}
	got := map[string]string{}
	for _, r := range readCSV(t, filepath.Join(h.dir, "b", "orders.csv")) {
		got[r["ref"]] = r["customer"]
	}
	if diff := cmp.Diff(map[string]string{"10": "7"}, got); diff != "" {
		t.Fatalf("b.orders ref → customer (-want +got):\n%s", diff)
	}
	h.mustBeConverged(p)
}

func TestStateRecordsRunsChangesAndMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	aPath := filepath.Join(h.dir, "a", "orders.csv")
	writeCSV(t, aPath, []string{"id", "placed"}, []string{"1", "2025-01-05"}, []string{"2", "bad date"})
	p := h.load(`version: 1
name: staterows
connections:
  a:
    type: file
    dir: a
    resources:
      orders: {path: orders.csv, key: id, fields: {id: int, placed: string}}
  b:
    type: file
    dir: b
    resources:
      orders: {path: orders.csv, key: id, fields: {id: int, ref: int, day: date}, generate_key: true}
entities:
  orders:
    flows:
      - {from: a.orders, to: b.orders, create: true, map: {ref: id, day: date(placed)}}
`)
	pl := h.plan(p)
	res := h.apply(p)
	editCSV(t, aPath, "id", "2", "placed", "2025-03-04")
	h.apply(p)
	h.plan(p)

	runs := h.rows(`SELECT mode, status, planned, applied, failed, rejected, finished_at IS NOT NULL, pipeline FROM synk.runs ORDER BY started_at`)
	want := [][]string{
		{"plan", "partial", "1", "0", "0", "1", "true", "staterows"},
		{"apply", "partial", "1", "1", "0", "1", "true", "staterows"},
		{"apply", "success", "1", "1", "0", "0", "true", "staterows"},
		{"plan", "success", "0", "0", "0", "0", "true", "staterows"},
	}
	if diff := cmp.Diff(want, runs); diff != "" {
		t.Fatalf("synk.runs (-want +got):\n%s", diff)
	}
	changes := h.rows(`SELECT r.mode, c.action, c.source_key, c.target_key <> '', c.status, CAST(c.fields AS VARCHAR), c.after->>'day'
		FROM synk.changes c JOIN synk.runs r USING (run_id) ORDER BY r.started_at, c.seq, c.status`)
	wantChanges := [][]string{
		{"plan", "create", "1", "false", "planned", "[day, ref]", "2025-01-05"},
		{"apply", "create", "1", "true", "applied", "[day, ref]", "2025-01-05"},
		{"apply", "create", "2", "true", "applied", "[day, ref]", "2025-03-04"},
	}
	if diff := cmp.Diff(wantChanges, changes); diff != "" {
		t.Fatalf("synk.changes (-want +got):\n%s", diff)
	}
	if pl.RunID == res.Plan.RunID || pl.RunID == "" {
		t.Fatalf("run ids %q and %q: want distinct, non-empty", pl.RunID, res.Plan.RunID)
	}
	fi, err := os.Stat(h.statePath())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestStateFileInUseByAnotherProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "held.duckdb")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdStateEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("helper process said %q, %v", line, err)
	}

	st, err := state.Open(t.Context(), path)
	if err == nil {
		st.Close()
	}
	stdin.Close()
	if werr := cmd.Wait(); werr != nil {
		t.Errorf("helper process: %v", werr)
	}
	if !errors.Is(err, state.ErrInUse) {
		t.Fatalf("second open from another process: %v, want state.ErrInUse", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	// Released with the other process: it opens now.
	st, err = state.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open after the holder exited: %v", err)
	}
	st.Close()
}

func TestMetricsPassPromlint(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	reg := prometheus.NewPedanticRegistry()
	h.metrics = pipeline.NewMetrics(reg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	l.pingURL = srv.URL
	l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann"})
	l.put("people", pipeline.Record{"id": "p2", "email": "bob@example.com", "name": "Bob"})
	r.refuse = func(w pipeline.Write) error {
		if w.Set["name"] == "Bob" {
			return &pipeline.RecordError{Resource: w.Resource, Err: errors.New("no Bobs")}
		}
		return nil
	}
	p := h.load(twoWayMem)
	h.apply(p)

	problems, err := testutil.CollectAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range problems {
		t.Errorf("promlint: %s: %s", pr.Metric, pr.Text)
	}
	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"runs partial", h.metrics.RunsTotal.WithLabelValues("twoway", "partial"), 1},
		{"records read l.people", h.metrics.RecordsRead.WithLabelValues("twoway", "l", "people"), 2},
		{"creates applied", h.metrics.ChangesApplied.WithLabelValues("twoway", "people", "create", "applied"), 1},
		{"creates rejected", h.metrics.ChangesApplied.WithLabelValues("twoway", "people", "create", "rejected"), 1},
		{"rejects", h.metrics.Rejects.WithLabelValues("twoway", "people"), 1},
		{"planned creates", h.metrics.ChangesPlanned.WithLabelValues("twoway", "people", "create"), 2},
		{"http requests", h.metrics.HTTPRequests.WithLabelValues("twoway", "l", "GET", "204"), 1},
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	for _, name := range []string{"synk_runs_total", "synk_run_duration_seconds", "synk_records_read_total", "synk_changes_planned",
		"synk_changes_applied_total", "synk_http_requests_total", "synk_http_request_duration_seconds", "synk_ratelimit_wait_seconds_total"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series, %v", name, n, err)
		}
	}
}

// TestExampleTwoWayCSV runs a copy of examples/two-way-csv: both sides
// create, match by e-mail, resolve first-sync conflicts by newest, and then
// move each later edit once.
func TestExampleTwoWayCSV(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	src := filepath.Join("..", "..", "examples", "two-way-csv")
	for _, f := range []string{"pipeline.yaml", "crm/customers.csv", "mail/subscribers.csv"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(h.dir, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	yml, err := os.ReadFile(filepath.Join(h.dir, "pipeline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := h.load(string(yml))
	crmPath, mailPath := filepath.Join(h.dir, "crm", "customers.csv"), filepath.Join(h.dir, "mail", "subscribers.csv")

	res := h.apply(p)
	if res.Failed != 0 || res.Rejected != 0 {
		t.Fatalf("first run failed %d rejected %d:%s", res.Failed, res.Rejected, describeRejects(res.Plan.Rejects))
	}
	crm, mail := csvBy(readCSV(t, crmPath), "email"), csvBy(readCSV(t, mailPath), "email")
	if len(crm) != 3 || len(mail) != 3 {
		t.Fatalf("after the first run crm %v, mail %v: want 3 people each", crm, mail)
	}
	if k := mail["kari@example.no"]; k["full_name"] != "Kari Nordmann" || k["tags"] != "vip" || k["phone"] != "+4791234567" {
		t.Errorf("kari in mail = %v", k)
	}
	if p := crm["per@example.no"]; p["name"] != "Per Olsen" {
		t.Errorf("per in crm = %v", p)
	}
	// Ola matched by e-mail; the newer mail record won both conflicts, and
	// the CRM keeps its own e-mail (overwrite: never).
	if o := crm["OLA@example.no"]; o["name"] != "Ola  Hansen" || o["phone"] != "+4799999999" {
		t.Errorf("ola in crm = %v", o)
	}
	if n := len(h.links("customers")); n != 3 {
		t.Errorf("%d links, want 3", n)
	}
	h.mustBeConverged(p)

	kariCode := mail["kari@example.no"]["code"]
	editCSV(t, mailPath, "code", kariCode, "phone", "+4700000000")
	editCSV(t, crmPath, "email", "per@example.no", "name", "Per O. Olsen")
	res = h.apply(p)
	if res.Applied != 2 || res.Failed != 0 || res.Rejected != 0 {
		t.Fatalf("edit run: applied %d failed %d rejected %d, want 2 0 0:%s", res.Applied, res.Failed, res.Rejected, describeChanges(res.Plan.Changes))
	}
	crm, mail = csvBy(readCSV(t, crmPath), "email"), csvBy(readCSV(t, mailPath), "email")
	if got := crm["kari@example.no"]["phone"]; got != "+4700000000" {
		t.Errorf("kari's phone in crm = %q, want the mail edit", got)
	}
	if got := mail["per@example.no"]["full_name"]; got != "Per O. Olsen" {
		t.Errorf("per's name in mail = %q, want the crm edit", got)
	}
	h.mustBeConverged(p)
	if res := h.apply(p); res.Applied != 0 {
		t.Fatalf("third run applied %d", res.Applied)
	}
}

func TestFailedWriteIsRetriedNextRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann"})
	p := h.load(twoWayMem)
	h.apply(p)
	cid := fmt.Sprint(r.all("contacts")[0]["cid"])

	l.set("people", "p1", "name", "Ann B")
	r.refuse = func(pipeline.Write) error { return errors.New("503 service unavailable") }
	res := h.apply(p)
	if res.Failed != 1 || res.Applied != 0 {
		t.Fatalf("applied %d failed %d, want 0 1", res.Applied, res.Failed)
	}
	if got, _ := r.get("contacts", cid); got["name"] != "Ann" {
		t.Fatalf("r = %v after a failed update", got)
	}
	if got := h.rows(`SELECT status, error FROM synk.changes WHERE run_id = ? AND status <> 'planned'`, res.Plan.RunID); len(got) != 1 || got[0][0] != "failed" || !strings.Contains(got[0][1], "503") {
		t.Fatalf("synk.changes for the failed run = %v", got)
	}

	// The old value on r must not flow back over the edit.
	r.refuse = nil
	l0 := l.writes()
	res = h.apply(p)
	if res.Applied != 1 || l.writes() != l0 {
		t.Fatalf("retry applied %d, l writes %d (want 1 and none)", res.Applied, l.writes()-l0)
	}
	if got, _ := r.get("contacts", cid); got["name"] != "Ann B" {
		t.Fatalf("r = %v after the retry", got)
	}
	if got, _ := l.get("people", "p1"); got["name"] != "Ann B" {
		t.Fatalf("l = %v after the retry", got)
	}
	h.mustBeConverged(p)
}

func TestSavedPlan(t *testing.T) {
	t.Parallel()
	for _, kind := range sinkKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			l, r := h.system("l", peopleRes), h.system("r", contactsRes)
			l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann"})
			p := h.load(asKind(createOnlyMem, kind))

			saved := h.plan(p)
			l.put("people", pipeline.Record{"id": "p2", "email": "bob@example.com", "name": "Bob"})
			run := h.runner(t.Context(), p)
			_, err := run.Apply(t.Context(), saved)
			run.Close()
			if !errors.Is(err, engine.ErrStalePlan) {
				t.Fatalf("apply of a stale plan: %v, want ErrStalePlan", err)
			}
			if w := r.writes(); w != 0 {
				t.Fatalf("a stale plan wrote %d times", w)
			}

			saved = h.plan(p)
			if len(saved.Changes) != 2 {
				t.Fatalf("plan has %d changes, want 2", len(saved.Changes))
			}
			run = h.runner(t.Context(), p)
			res, err := run.Apply(t.Context(), saved)
			run.Close()
			if err != nil || res.Applied != 2 {
				t.Fatalf("apply of a fresh saved plan: %v, applied %v", err, res)
			}
			onlyOnce(t, r, "p1", "p2")
			if n := len(r.batchCalls()); (n > 0) != (kind == "memb") {
				t.Errorf("%d WriteBatch calls to a %s connection", n, kind)
			}
		})
	}
}
