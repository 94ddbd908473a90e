package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
)

// chunkTest is a first sync of 1,000 people into a batch sink taking 40
// writes a call, planned and applied in chunks of 150.
func chunkTest(t *testing.T) (*harness, *memSystem, []string) {
	t.Helper()
	h := newHarness(t)
	h.metrics = pipeline.NewMetrics(nil)
	h.chunkSize = 150
	l, r := h.system("l", peopleRes), h.system("r", contactsRes)
	r.maxBatch = 40
	return h, r, people(l, 1000)
}

// progressLog records what an apply tells its progress bar.
type progressLog struct {
	mu          sync.Mutex
	total, done int
}

func (p *progressLog) Start(_ string, total int) { p.mu.Lock(); p.total += total; p.mu.Unlock() }
func (p *progressLog) Done(_ string, n int)      { p.mu.Lock(); p.done += n; p.mu.Unlock() }

// TestChunkedFirstSync: a first sync of more records than a chunk is
// planned without holding its creates, and the plan gives every one of
// them, in key order, numbered, whenever it is read: printed, saved,
// recorded. Applying it makes every record exactly once, in batches that
// never span two chunks, and leaves the state one apply of all at once
// would: links, bases, journal, changes, metrics, progress.
func TestChunkedFirstSync(t *testing.T) {
	t.Parallel()
	h, r, keys := chunkTest(t)
	p := h.load(asKind(createOnlyMem, "memb"))

	pl := h.plan(p)
	if !pl.Streamed() || pl.Len() != 1000 || len(pl.Changes) != 0 {
		t.Fatalf("plan: streamed %v, %d changes (%d held), want streamed, 1000, none held", pl.Streamed(), pl.Len(), len(pl.Changes))
	}
	if diff := cmp.Diff(pipeline.Summary{"people": {pipeline.Create: 1000}}, pl.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	for range 2 { // made again each time it is read
		var got []string
		err := pl.Each(func(c pipeline.Change) error {
			if c.Seq != len(got)+1 || c.Action != pipeline.Create || c.After["ref"] != c.SourceKey {
				return fmt.Errorf("change %d: %+v", len(got)+1, c)
			}
			got = append(got, c.SourceKey)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(keys, got); diff != "" {
			t.Fatalf("changes' source keys (-want +got):\n%s", diff)
		}
	}
	if got := h.rows(`SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM synk.changes WHERE run_id = ? AND status = 'planned'`, pl.RunID); !slices.Equal(got[0], []string{"1000", "1000", "1", "1000"}) {
		t.Errorf("planned changes recorded: count, distinct seqs, min, max = %v, want 1000 1000 1 1000", got[0])
	}
	var report bytes.Buffer
	if err := pl.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	var rep struct{ Changes []pipeline.Change }
	if err := json.Unmarshal(report.Bytes(), &rep); err != nil || len(rep.Changes) != 1000 {
		t.Fatalf("report: %d changes, %v; want 1000", len(rep.Changes), err)
	}

	// A saved plan is compared change by change with the fresh one.
	var saved bytes.Buffer
	if err := pl.WriteJSON(&saved); err != nil {
		t.Fatal(err)
	}
	stale := &pipeline.Plan{}
	if err := json.Unmarshal(saved.Bytes(), stale); err != nil {
		t.Fatal(err)
	}
	stale.Changes[700].After["name"] = "someone else"
	run := h.runner(t.Context(), p)
	if _, err := run.Apply(t.Context(), stale); !errors.Is(err, engine.ErrStalePlan) {
		t.Fatalf("apply of a plan whose 701st change differs: %v, want ErrStalePlan", err)
	}
	run.Close()
	if c, _, _ := r.counts(); c != 0 {
		t.Fatalf("%d creates after a stale plan, want none", c)
	}
	fresh := &pipeline.Plan{}
	if err := json.Unmarshal(saved.Bytes(), fresh); err != nil {
		t.Fatal(err)
	}

	prog := &progressLog{}
	run, err := engine.New(t.Context(), p, h.state(), engine.Options{Metrics: h.metrics, ChunkSize: h.chunkSize, Progress: prog})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	res, err := run.Apply(t.Context(), fresh)
	if err != nil {
		t.Fatalf("apply of the saved plan: %v", err)
	}
	if res.Planned != 1000 || res.Applied != 1000 || res.Failed != 0 || res.Rejected != 0 || res.Plan.Len() != 1000 {
		t.Fatalf("planned %d applied %d failed %d rejected %d, %d changes; want 1000 1000 0 0 1000", res.Planned, res.Applied, res.Failed, res.Rejected, res.Plan.Len())
	}
	if prog.total != 1000 || prog.done != 1000 {
		t.Errorf("progress: total %d, done %d; want 1000 1000", prog.total, prog.done)
	}
	onlyOnce(t, r, keys...)
	// Chunks of 150 in batches of at most 40: 40, 40, 40, 30 per chunk,
	// the last chunk's 100 as 40, 40, 20.
	var want []int
	for range 6 {
		want = append(want, 40, 40, 40, 30)
	}
	want = append(want, 40, 40, 20)
	slices.Sort(want)
	if diff := cmp.Diff(want, r.batchCalls()); diff != "" {
		t.Errorf("WriteBatch calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"done": 1000}, journalCounts(h, "people")); diff != "" {
		t.Errorf("journal (-want +got):\n%s", diff)
	}
	if got := h.rows(`SELECT count(*), count(DISTINCT seq), min(seq), max(seq) FROM synk.changes WHERE run_id = ? AND status = 'applied' AND target_key <> ''`, res.Plan.RunID); !slices.Equal(got[0], []string{"1000", "1000", "1", "1000"}) {
		t.Errorf("applied changes recorded: count, distinct seqs, min, max = %v, want 1000 1000 1 1000", got[0])
	}
	links := h.links("people")
	for _, c := range r.all("contacts") {
		if got := links[c["ref"].(string)]; got != fmt.Sprint(c["cid"]) {
			t.Fatalf("%s linked to %q, want %v", c["ref"], got, c["cid"])
		}
	}
	if len(links) != 1000 {
		t.Errorf("%d links, want 1000", len(links))
	}
	if got := testutil.ToFloat64(h.metrics.ChangesApplied.WithLabelValues("createonly", "people", "create", "applied")); got != 1000 {
		t.Errorf("synk_changes_applied_total{result=applied} = %v, want 1000", got)
	}
	if err := res.Plan.Each(func(pipeline.Change) error { return nil }); err == nil {
		t.Error("the applied plan's chunked creates were made again, want an error: they are linked now")
	}
	h.mustBeConverged(p)
}

// TestChunkedBatchFailsInTheMiddle: a batch in the middle of a chunked
// first sync that fails keeps the journal's guarantee, as a batch of an
// unchunked one does: an answer lost after the batch was made is settled
// by Find, a batch that never reached the system fails alone and is made
// by the next run, and nothing is ever made twice.
func TestChunkedBatchFailsInTheMiddle(t *testing.T) {
	t.Parallel()
	lost := errors.New("connection reset by peer")
	// The batch that carries p0500 fails, whichever call it is.
	ifP500 := func(_ int, ops []pipeline.Op) error {
		for _, op := range ops {
			if op.Write.Set["ref"] == "p0500" {
				return lost
			}
		}
		return nil
	}
	for _, tt := range []struct {
		name            string
		arrange         func(r *memSystem)
		applied, failed int
		journal         map[string]int
		// creates the next run makes: the recovery links what was made
		nextApplied int
	}{
		{"answer lost after the batch was made", func(r *memSystem) { r.afterBatch = ifP500 }, 1000, 0, map[string]int{"done": 1000}, 0},
		{"batch failed before it reached the system", func(r *memSystem) { r.beforeBatch = ifP500 }, 960, 40, map[string]int{"done": 960, "failed": 40}, 40},
		{"answer lost and the lookup down", func(r *memSystem) {
			r.afterBatch = ifP500
			r.findErr = errors.New("lookup unavailable")
		}, 960, 40, map[string]int{"done": 960, "pending": 40}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, r, keys := chunkTest(t)
			p := h.load(asKind(createOnlyMem, "memb"))
			tt.arrange(r)
			res := h.apply(p)
			if res.Applied != tt.applied || res.Failed != tt.failed {
				t.Fatalf("applied %d failed %d, want %d %d", res.Applied, res.Failed, tt.applied, tt.failed)
			}
			if diff := cmp.Diff(tt.journal, journalCounts(h, "people")); diff != "" {
				t.Errorf("journal (-want +got):\n%s", diff)
			}
			r.afterBatch, r.beforeBatch, r.findErr = nil, nil, nil
			res = h.apply(p)
			if res.Failed != 0 || res.Applied != tt.nextApplied {
				t.Errorf("next run applied %d failed %d, want %d 0", res.Applied, res.Failed, tt.nextApplied)
			}
			onlyOnce(t, r, keys...)
			if got := len(h.links("people")); got != 1000 {
				t.Errorf("%d links, want 1000", got)
			}
			if got := journalCounts(h, "people"); got["pending"] != 0 || got["done"] != 1000 {
				t.Errorf("journal after the next run = %v, want 1000 done, none pending", got)
			}
			h.mustBeConverged(p)
		})
	}
}

// TestChunkedStop: a stop in the middle of a chunked first sync lets the
// batches in flight finish; every create not sent, in the chunks made and
// in those never made, is recorded as not attempted, and the next run
// makes them, exactly once.
func TestChunkedStop(t *testing.T) {
	t.Parallel()
	h, r, keys := chunkTest(t)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	r.beforeBatch = func(call int, _ []pipeline.Op) error {
		if call == 3 {
			stop()
		}
		return nil
	}
	p := h.load(asKind(createOnlyMem, "memb"))
	res, err := h.applyCtx(ctx, p)
	if !errors.Is(err, engine.ErrStopped) {
		t.Fatalf("apply: %v, want ErrStopped", err)
	}
	made, _, _ := r.counts()
	// At most two chunks are in flight: the rest was never sent.
	if res.Failed != 0 || res.Applied != made || res.Applied+res.NotAttempted != 1000 || res.NotAttempted < 1000-300 {
		t.Fatalf("applied %d not attempted %d failed %d, %d made; want what was made applied, at least 700 not attempted, none failed",
			res.Applied, res.NotAttempted, res.Failed, made)
	}
	want := map[string]string{"applied": strconv.Itoa(res.Applied), "not_attempted": strconv.Itoa(res.NotAttempted)}
	if diff := cmp.Diff(want, runChanges(h, res.Plan.RunID)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got := h.rows(`SELECT count(DISTINCT seq) FROM synk.changes WHERE run_id = ?`, res.Plan.RunID); got[0][0] != "1000" {
		t.Errorf("%s distinct seqs recorded, want 1000", got[0][0])
	}
	if got := journalCounts(h, "people"); got["pending"] != 0 || got["done"] != made {
		t.Errorf("journal = %v, want %d done, none pending", got, made)
	}
	if got := testutil.ToFloat64(h.metrics.ChangesApplied.WithLabelValues("createonly", "people", "create", "not_attempted")); got != float64(res.NotAttempted) {
		t.Errorf("synk_changes_applied_total{result=not_attempted} = %v, want %d", got, res.NotAttempted)
	}

	r.beforeBatch = nil
	next := h.apply(p)
	if next.Applied != 1000-made || next.Failed != 0 {
		t.Fatalf("next run applied %d failed %d, want %d 0", next.Applied, next.Failed, 1000-made)
	}
	onlyOnce(t, r, keys...)
	h.mustBeConverged(p)
}
