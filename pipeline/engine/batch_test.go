package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
)

// memBatchConn is a mem connection that is a pipeline.BatchSink too: one
// WriteBatch takes the limiter once, as a file connector rewrites its file
// once, and makes its ops with the mem system's own create, update and
// delete, their hooks included (a create's lost answer is that op's
// error).
type memBatchConn struct{ *memConn }

// MaxBatch is the system's maxBatch, 100 when unset.
func (c *memBatchConn) MaxBatch() int {
	c.sys.mu.Lock()
	defer c.sys.mu.Unlock()
	if c.sys.maxBatch == 0 {
		return 100
	}
	return c.sys.maxBatch
}

// WriteBatch makes ops in one limiter acquisition; see memSystem's batch
// hooks for the faults it can play.
func (c *memBatchConn) WriteBatch(ctx context.Context, resource string, ops []pipeline.Op) ([]pipeline.OpResult, error) {
	s := c.sys
	s.batchMu.Lock()
	s.mu.Lock()
	s.batches = append(s.batches, len(ops))
	call, before, after := len(s.batches), s.beforeBatch, s.afterBatch
	s.mu.Unlock()
	if before != nil {
		if err := before(call, ops); err != nil {
			s.batchMu.Unlock()
			return nil, err
		}
	}
	done, err := c.begin(ctx)
	s.batchMu.Unlock()
	if err != nil {
		return nil, err
	}
	defer done()
	out := make([]pipeline.OpResult, len(ops))
	for i, op := range ops {
		if op.Write.Resource != resource {
			return nil, fmt.Errorf("mem: op on %s in a batch of %s", op.Write.Resource, resource)
		}
		switch op.Action {
		case pipeline.Create:
			out[i].Record, out[i].Err = c.create(ctx, op.Write)
		case pipeline.Update:
			out[i].Record, out[i].Err = c.update(op.Write)
		default:
			c.delete(op.Write)
		}
	}
	if after != nil {
		if err := after(call, ops); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// batchCalls returns the sizes of the WriteBatch calls so far, sorted.
func (s *memSystem) batchCalls() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(slices.Values(s.batches))
}

// sinkKinds are the connector types of tests that hold for either: "mem"
// takes one write per call, "memb" batches.
var sinkKinds = []string{"mem", "memb"}

// asKind is src with every mem connection of the given kind.
func asKind(src, kind string) string { return strings.ReplaceAll(src, "type: mem,", "type: "+kind+",") }

// people puts n people p0000… into l and returns their keys.
func people(l *memSystem, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("p%04d", i)
		l.put("people", pipeline.Record{"id": keys[i], "email": keys[i] + "@example.com", "name": keys[i]})
	}
	return keys
}

// runChanges counts a run's recorded outcomes by status.
func runChanges(h *harness, runID string) map[string]string {
	out := map[string]string{}
	for _, row := range h.rows(`SELECT status, count(*) FROM synk.changes WHERE run_id = ? AND status <> 'planned' GROUP BY status`, runID) {
		out[row[0]] = row[1]
	}
	return out
}

// journalCounts counts an entity's create intents by status.
func journalCounts(h *harness, entity string) map[string]int {
	out := map[string]int{}
	for _, statuses := range h.journal(entity) {
		for _, st := range statuses {
			out[st]++
		}
	}
	return out
}

// TestBatchFirstSync: a first sync of 2,500 records into a BatchSink of
// at most 1,000 writes is three calls, each one limiter acquisition, and
// leaves the state as one call per record would.
func TestBatchFirstSync(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.metrics = pipeline.NewMetrics(nil)
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	r.maxBatch = 1000
	keys := people(l, 2500)
	p := h.load(asKind(createOnlyMem, "memb"))

	res := h.apply(p)
	if res.Applied != 2500 || res.Failed != 0 || res.Rejected != 0 {
		t.Fatalf("applied %d failed %d rejected %d, want 2500 0 0", res.Applied, res.Failed, res.Rejected)
	}
	if diff := cmp.Diff([]int{500, 1000, 1000}, r.batchCalls()); diff != "" {
		t.Errorf("WriteBatch calls (-want +got):\n%s", diff)
	}
	if n := len(r.writeTimes); n != 3 {
		t.Errorf("%d limiter acquisitions for writes, want one per batch", n)
	}
	onlyOnce(t, r, keys...)
	links := h.links("people")
	if len(links) != 2500 {
		t.Fatalf("%d links, want 2500", len(links))
	}
	for _, c := range r.all("contacts") {
		if got := links[c["ref"].(string)]; got != fmt.Sprint(c["cid"]) {
			t.Fatalf("%s linked to %q, want %v", c["ref"], got, c["cid"])
		}
	}
	if got := h.rows(`SELECT count(*) FROM synk.base b JOIN synk.links l USING (entity, left_key, right_key)
		WHERE b.entity = 'people' AND json_extract_string(b.right_values, '$.ref') = b.left_key`); got[0][0] != "2500" {
		t.Errorf("%s base rows of the links with the values written, want 2500", got[0][0])
	}
	if diff := cmp.Diff(map[string]int{"done": 2500}, journalCounts(h, "people")); diff != "" {
		t.Errorf("journal (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"applied": "2500"}, runChanges(h, res.Plan.RunID)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got := h.rows(`SELECT count(*) FROM synk.changes WHERE status = 'applied' AND target_key = ''`); got[0][0] != "0" {
		t.Errorf("%s applied creates recorded without their target key", got[0][0])
	}
	if got := testutil.ToFloat64(h.metrics.ChangesApplied.WithLabelValues("createonly", "people", "create", "applied")); got != 2500 {
		t.Errorf("synk_changes_applied_total{result=applied} = %v, want 2500", got)
	}
	h.mustBeConverged(p)
	h.apply(p)
	if n := len(r.batchCalls()); n != 3 {
		t.Errorf("%d WriteBatch calls after a second apply, want none more than 3", n)
	}
}

// TestBatchLostAnswer: a batch that failed as a whole, or one op of it, is
// settled create by create through Find, as one lost create is: nothing
// exists twice, and whatever was made is linked, now or by the next run's
// recovery.
func TestBatchLostAnswer(t *testing.T) {
	t.Parallel()
	lost := errors.New("connection reset by peer")
	// p0002's batch, whichever call it is, fails.
	ifP2 := func(_ int, ops []pipeline.Op) error {
		for _, op := range ops {
			if op.Write.Set["ref"] == "p0002" {
				return lost
			}
		}
		return nil
	}
	for _, tt := range []struct {
		name    string
		arrange func(r *memSystem)
		// after the first apply
		applied, failed int
		made            int // creates the system made
		journal         map[string]int
		// p0002's intents after the next apply, with the faults gone
		next []string
	}{
		{
			name:    "answer lost after the batch was made",
			arrange: func(r *memSystem) { r.afterBatch = ifP2 },
			applied: 6, made: 6, journal: map[string]int{"done": 6},
			next: []string{"done"},
		},
		{
			name: "one op's answer lost",
			arrange: func(r *memSystem) {
				r.afterCreate = func(_ context.Context, w pipeline.Write, _ pipeline.Record) error {
					return errIf(w.Set["ref"] == "p0002", lost)
				}
			},
			applied: 6, made: 6, journal: map[string]int{"done": 6},
			next: []string{"done"},
		},
		{
			name:    "batch failed before it reached the system",
			arrange: func(r *memSystem) { r.beforeBatch = ifP2 },
			applied: 4, failed: 2, made: 4, journal: map[string]int{"done": 4, "failed": 2},
			next: []string{"failed", "done"},
		},
		{
			name: "answer lost and the lookup down",
			arrange: func(r *memSystem) {
				r.afterBatch = ifP2
				r.findErr = errors.New("lookup unavailable")
			},
			applied: 4, failed: 2, made: 6, journal: map[string]int{"done": 4, "pending": 2},
			next: []string{"done"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			l, r := h.system("l", peopleRes), h.system("r", contactsRes)
			r.maxBatch = 2
			keys := people(l, 6)
			p := h.load(asKind(createOnlyMem, "memb"))
			tt.arrange(r)
			res := h.apply(p)
			if res.Applied != tt.applied || res.Failed != tt.failed {
				t.Fatalf("applied %d failed %d, want %d %d", res.Applied, res.Failed, tt.applied, tt.failed)
			}
			if diff := cmp.Diff(tt.journal, journalCounts(h, "people")); diff != "" {
				t.Errorf("journal (-want +got):\n%s", diff)
			}
			if c, _, _ := r.counts(); c != tt.made {
				t.Errorf("%d creates, want %d", c, tt.made)
			}

			r.afterBatch, r.beforeBatch, r.afterCreate, r.findErr = nil, nil, nil, nil
			h.apply(p)
			onlyOnce(t, r, keys...)
			if got := len(h.links("people")); got != len(keys) {
				t.Errorf("%d links, want %d", got, len(keys))
			}
			if diff := cmp.Diff(tt.next, h.journal("people")["p0002"]); diff != "" {
				t.Errorf("journal of p0002 after the next apply (-want +got):\n%s", diff)
			}
			h.mustBeConverged(p)
		})
	}
}

func errIf(cond bool, err error) error {
	if cond {
		return err
	}
	return nil
}

// TestBatchRecordErrorRejectsOnlyThatChange: an op the system refuses is
// rejected with its reason; the batch's other writes are applied.
func TestBatchRecordErrorRejectsOnlyThatChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.metrics = pipeline.NewMetrics(nil)
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	keys := people(l, 5)
	r.refuse = func(w pipeline.Write) error {
		if w.Set["ref"] == "p0002" {
			return &pipeline.RecordError{Resource: w.Resource, Err: errors.New("name is on the deny list")}
		}
		return nil
	}
	p := h.load(asKind(createOnlyMem, "memb"))
	res := h.apply(p)
	if res.Applied != 4 || res.Rejected != 1 || res.Failed != 0 {
		t.Fatalf("applied %d rejected %d failed %d, want 4 1 0", res.Applied, res.Rejected, res.Failed)
	}
	if diff := cmp.Diff([]int{5}, r.batchCalls()); diff != "" {
		t.Errorf("WriteBatch calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"applied": "4", "rejected": "1"}, runChanges(h, res.Plan.RunID)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	rj := h.rows(`SELECT key, reason FROM synk.rejects WHERE run_id = ?`, res.Plan.RunID)
	if len(rj) != 1 || rj[0][0] != "p0002" || !strings.Contains(rj[0][1], "deny list") {
		t.Errorf("rejects = %v, want p0002's refusal", rj)
	}
	if diff := cmp.Diff([]string{"failed"}, h.journal("people")["p0002"]); diff != "" {
		t.Errorf("journal of p0002 (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(h.metrics.ChangesApplied.WithLabelValues("createonly", "people", "create", "rejected")); got != 1 {
		t.Errorf("synk_changes_applied_total{result=rejected} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(h.metrics.Rejects.WithLabelValues("createonly", "people")); got != 1 {
		t.Errorf("synk_rejects_total = %v, want 1", got)
	}
	if got := len(r.all("contacts")); got != 4 {
		t.Errorf("r holds %d contacts, want the 4 not refused", got)
	}
	r.refuse = nil
	h.apply(p)
	onlyOnce(t, r, keys...)
	h.mustBeConverged(p)
}

// TestBatchStoppedBeforeSent: a stop that comes while a batch is in flight
// lets it finish; a batch not yet sent is not attempted, its intents
// resolved failed, and the next run makes the rest exactly once.
func TestBatchStoppedBeforeSent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.metrics = pipeline.NewMetrics(nil)
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	r.maxBatch = 2
	keys := people(l, 6)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	// The second call finds the run stopping: the first already holds
	// the limiter (WriteBatch numbers calls in the order they take it).
	r.beforeBatch = func(call int, _ []pipeline.Op) error {
		if call == 2 {
			stop()
		}
		return nil
	}
	p := h.load(asKind(createOnlyMem, "memb"))
	res, err := h.applyCtx(ctx, p)
	if !errors.Is(err, engine.ErrStopped) {
		t.Fatalf("apply: %v, want ErrStopped", err)
	}
	if res.Applied != 2 || res.NotAttempted != 4 || res.Failed != 0 {
		t.Fatalf("applied %d not attempted %d failed %d, want 2 4 0", res.Applied, res.NotAttempted, res.Failed)
	}
	if c, _, _ := r.counts(); c != 2 {
		t.Fatalf("%d creates, want the first batch's 2", c)
	}
	if diff := cmp.Diff(map[string]string{"applied": "2", "not_attempted": "4"}, runChanges(h, res.Plan.RunID)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	// The second call's creates were journaled before the stop refused
	// them; the third batch's, if it got that far.
	if got := journalCounts(h, "people"); got["done"] != 2 || got["pending"] != 0 || got["failed"] < 2 || got["failed"] > 4 {
		t.Errorf("journal = %v, want 2 done, none pending, the batches refused by the stop failed", got)
	}
	if got := testutil.ToFloat64(h.metrics.ChangesApplied.WithLabelValues("createonly", "people", "create", "not_attempted")); got != 4 {
		t.Errorf("synk_changes_applied_total{result=not_attempted} = %v, want 4", got)
	}

	r.beforeBatch = nil
	res = h.apply(p)
	if res.Applied != 4 || res.Failed != 0 {
		t.Fatalf("next run applied %d failed %d, want 4 0", res.Applied, res.Failed)
	}
	onlyOnce(t, r, keys...)
	if c, _, _ := r.counts(); c != 6 {
		t.Errorf("%d creates in all, want 6", c)
	}
	h.mustBeConverged(p)
}

// deletesMem syncs people to contacts, deleting a contact whose person is
// gone.
const deletesMem = `version: 1
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
        delete: true
        map: {name: name, ref: id}
`

// TestBatchUpdatesAndDeletes: updates and deletes go through batches too.
// A batch whose connection was cut before it reached the system is planned
// again from a fresh read in a follow-up round of the run and made there;
// one whose answer was cut after it was made fails, as one such update
// does, and the follow-up round's fresh read finds nothing left to do.
func TestBatchUpdatesAndDeletes(t *testing.T) {
	t.Parallel()
	cut := fmt.Errorf("put contacts: %w", io.ErrUnexpectedEOF)
	for _, tt := range []struct {
		name            string
		before, after   bool // cut the run's first batch before or after it was made
		calls           int
		applied, failed int
	}{
		{name: "answered", calls: 3, applied: 5},
		{name: "cut before it reached the system", before: true, calls: 4, applied: 5},
		{name: "answer cut after it was made", after: true, calls: 3, applied: 3, failed: 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			l, r := h.system("l", peopleRes), h.system("r", contactsRes)
			r.maxBatch = 2
			keys := people(l, 6)
			p := h.load(asKind(deletesMem, "memb"))
			h.apply(p)
			onlyOnce(t, r, keys...)
			cids := map[string]string{}
			for _, c := range r.all("contacts") {
				cids[c["ref"].(string)] = fmt.Sprint(c["cid"])
			}

			for _, k := range keys[:3] {
				l.set("people", k, "name", "New "+k)
			}
			l.remove("people", keys[4])
			l.remove("people", keys[5])
			first := len(r.batchCalls()) + 1
			cutFirst := func(call int, _ []pipeline.Op) error { return errIf(call == first, cut) }
			if tt.before {
				r.beforeBatch = cutFirst
			}
			if tt.after {
				r.afterBatch = cutFirst
			}
			res := h.apply(p)
			if res.Applied != tt.applied || res.Failed != tt.failed || res.Rejected != 0 {
				t.Fatalf("applied %d failed %d rejected %d, want %d %d 0", res.Applied, res.Failed, res.Rejected, tt.applied, tt.failed)
			}
			if n := len(r.batchCalls()) - first + 1; n != tt.calls {
				t.Errorf("%d WriteBatch calls for 3 updates and 2 deletes, want %d", n, tt.calls)
			}
			_, u, d := r.counts()
			if u != 3 || d != 2 {
				t.Errorf("%d updates %d deletes, want 3 2", u, d)
			}
			for _, k := range keys[:3] {
				if c, _ := r.get("contacts", cids[k]); c["name"] != "New "+k {
					t.Errorf("contact of %s = %v, want renamed", k, c)
				}
			}
			for _, k := range keys[4:] {
				if _, ok := r.get("contacts", cids[k]); ok {
					t.Errorf("contact of %s still there", k)
				}
				if _, ok := h.links("people")[k]; ok {
					t.Errorf("%s still linked", k)
				}
			}
			r.beforeBatch, r.afterBatch = nil, nil
			h.mustBeConverged(p)
		})
	}
}

// TestLostDeleteAnswerForgetsTheLink: a delete whose answer is cut after
// the system made it fails, and the follow-up round, finding both records
// gone, drops the pair's link and base instead of keeping a link to
// nothing; the next run has nothing to do.
func TestLostDeleteAnswerForgetsTheLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	r.maxBatch = 1
	keys := people(l, 2)
	p := h.load(asKind(deletesMem, "memb"))
	h.apply(p)
	l.remove("people", keys[1])
	first := len(r.batchCalls()) + 1
	r.afterBatch = func(call int, _ []pipeline.Op) error {
		return errIf(call == first, fmt.Errorf("delete contacts: %w", io.ErrUnexpectedEOF))
	}
	res := h.apply(p)
	if res.Failed != 1 || res.Applied != 0 {
		t.Fatalf("applied %d failed %d, want the cut delete failed", res.Applied, res.Failed)
	}
	if _, _, d := r.counts(); d != 1 {
		t.Fatalf("%d deletes made, want 1", d)
	}
	if _, ok := h.links("people")[keys[1]]; ok {
		t.Errorf("%s still linked to a contact that is gone", keys[1])
	}
	if n := h.rows(`SELECT count(*) FROM synk.base WHERE left_key = ?`, keys[1])[0][0]; n != "0" {
		t.Errorf("%s base rows: %s, want none", keys[1], n)
	}
	r.afterBatch = nil
	h.mustBeConverged(p)
}

// TestBatchCreateWaitsForALinkMadeInTheRun: a batched create whose
// mapping reads a link that a create earlier in the run makes is mapped
// again once that link exists, as one create a call is.
func TestBatchCreateWaitsForALinkMadeInTheRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	firms, accounts := peopleRes, contactsRes
	firms.Name, accounts.Name = "firms", "accounts"
	l, r := h.system("l", peopleRes, firms), h.system("r", contactsRes, accounts)
	l.put("firms", pipeline.Record{"id": "f1", "name": "Firm"})
	l.put("people", pipeline.Record{"id": "p1", "name": "Ann", "phone": "f1"})
	p := h.load(`version: 1
name: waits
connections:
  l: {type: memb, system: l}
  r: {type: memb, system: r}
entities:
  people:
    flows:
      - from: l.people
        to: r.contacts
        create: true
        map: {name: name, ref: id, phone: 'str(link("firms", phone))'}
  firms:
    flows:
      - {from: l.firms, to: r.accounts, create: true, map: {name: name, ref: id}}
`)
	for _, c := range h.plan(p).Changes {
		if c.Entity == "people" && !slices.Equal(c.Waits, []string{"firms"}) {
			t.Fatalf("ann's create waits for %v, want firms", c.Waits)
		}
	}
	res := h.apply(p)
	if res.Applied != 2 || res.Failed != 0 || res.Rejected != 0 {
		t.Fatalf("applied %d failed %d rejected %d, want 2 0 0:%s", res.Applied, res.Failed, res.Rejected, lastRejects(h))
	}
	account := fmt.Sprint(r.where("accounts", "ref", "f1")[0]["cid"])
	ann := r.where("contacts", "ref", "p1")
	if len(ann) != 1 || ann[0]["phone"] != account {
		t.Fatalf("ann on the right = %v, want the phone linking account %s", ann, account)
	}
	if got := h.rows(`SELECT json_extract_string(after, '$.phone') FROM synk.changes WHERE entity = 'people' AND status = 'applied'`); fmt.Sprint(got) != "[["+account+"]]" {
		t.Errorf("the applied change's after = %v, want the phone mapped once the link existed", got)
	}
	h.mustBeConverged(p)
}

// TestCreatedBasesCarryHashes: a create stores the source's snapshot hash
// and the created record's hash in its base, so the plan after a first
// sync of a one-way entity compares no pair at all (it used to load and
// map every created pair once, a second full pass over a first sync). A
// two-way entity leaves the created side's hash out, as its values may
// have to flow back: the write-back tests hold that.
func TestCreatedBasesCarryHashes(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"mem", "memb"} {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t)
			l, _ := h.system("l", peopleRes), h.system("r", contactsRes)
			people(l, 40)
			p := h.load(asKind(createOnlyMem, kind))
			h.apply(p)
			h.mustBeConverged(p) // reads both sides again
			if got := h.rows(`SELECT count(*) FROM synk.base b JOIN l.people a ON a._key = b.left_key
				JOIN r.contacts c ON c._key = b.right_key
				WHERE b.entity = 'people' AND b.left_hash = a._hash AND b.right_hash = c._hash`); got[0][0] != "40" {
				t.Errorf("%s of 40 bases carry both records' current hashes", got[0][0])
			}
		})
	}
}
