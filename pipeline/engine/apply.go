package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/pool"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// Result counts what a run did.
type Result struct {
	Planned  int
	Applied  int
	Failed   int
	Rejected int
	// NotAttempted counts the changes a stopped run never started.
	NotAttempted int
	Plan         *pipeline.Plan
}

// ErrStopped is returned by Apply when its context ended while it applied:
// the writes in flight finished, the rest were not attempted (Result says
// how many) and are planned again next run.
var ErrStopped = errors.New("stopped")

// ErrStalePlan is returned when a saved plan no longer matches the systems.
var ErrStalePlan = errors.New("plan is stale")

// Apply plans and applies. With saved not nil, the fresh plan must equal
// the saved one (same snapshot, same changes), or nothing is applied.
func (r *Runner) Apply(ctx context.Context, saved *pipeline.Plan) (*Result, error) {
	start := time.Now()
	defer func() { r.opts.Metrics.RunDuration.WithLabelValues(r.p.Name).Observe(time.Since(start).Seconds()) }()
	pl, err := r.plan(ctx, state.ModeApply)
	if err != nil {
		if ctx.Err() != nil {
			err = ErrStopped // stopped before anything was written
		}
		r.finishRun(nil, err)
		r.opts.Metrics.RunsTotal.WithLabelValues(r.p.Name, Status(nil, err)).Inc()
		return nil, err
	}
	if saved != nil {
		if err := sameChanges(saved, pl.plan); err != nil {
			r.finishRun(nil, err)
			return nil, err
		}
	}
	res, err := r.apply(ctx, pl)
	if err == nil {
		err = r.followUp(ctx, res)
	}
	if ctx.Err() != nil && (err == nil || errors.Is(err, ctx.Err())) {
		err = ErrStopped
		r.log.Warn("stopped", "run_id", r.runID, "applied", res.Applied, "failed", res.Failed, "rejected", res.Rejected,
			"not_attempted", res.NotAttempted)
	}
	r.finishRun(res, err)
	status := Status(res, err)
	r.opts.Metrics.RunsTotal.WithLabelValues(r.p.Name, status).Inc()
	if status == "success" {
		r.opts.Metrics.LastSuccess.WithLabelValues(r.p.Name).SetToCurrentTime()
	}
	return res, err
}

// maxRounds bounds the rounds of one apply: the planned one and the
// follow-ups that records created in it make necessary.
const maxRounds = 3

// followUp plans and applies again, in the same run, the entities that the
// round can give more to do, so that one apply converges: an entity that
// created records and has flows both ways (the new record's values flowing
// back), every entity that needs one that created records (stock of
// products created in this run), and an entity with a change that failed
// (a host that reset the connection): its records are read again and the
// change planned afresh, as the next run would, after the journal's
// unresolved creates are looked up. Only these entities' resources are
// read again.
func (r *Runner) followUp(ctx context.Context, res *Result) error {
	for round := 2; round <= maxRounds && ctx.Err() == nil; round++ {
		next := r.followUpEntities()
		if len(next) == 0 {
			return nil
		}
		if err := r.recover(ctx); err != nil {
			return fmt.Errorf("follow-up round %d: %w", round, err)
		}
		r.only = next
		pl, err := r.planRound(ctx, res.Plan.Len())
		if err != nil {
			r.only = nil
			return fmt.Errorf("follow-up round %d: %w", round, err)
		}
		retried := r.dropAttempted(pl)
		r.log.Debug("follow-up round", "run_id", r.runID, "round", round, "changes", len(pl.works), "retried", len(retried))
		more, err := r.apply(ctx, pl)
		r.only = nil
		res.add(more)
		// A retried change counts once, as it ended in this round.
		res.Failed -= len(retried)
		if err != nil {
			return err
		}
	}
	return nil
}

// dropAttempted removes from a follow-up round what an earlier round of
// the run already did or reported: a change applied or refused is not made
// again in this run (one refused is tried again next run). A change that
// failed for a transient reason is kept, and returned: it is tried once
// more per round. The
// pairs keep their old base for the flows dropped.
func (r *Runner) dropAttempted(pl *planned) (retried []string) {
	r.mu.Lock()
	failed := r.failedNow
	r.failedNow = nil
	r.mu.Unlock()
	kept := pl.works[:0]
	for _, w := range pl.works {
		k := attemptKey(w)
		if !r.attempted[k] || failed[k] {
			if failed[k] {
				retried = append(retried, k)
			}
			kept = append(kept, w)
			continue
		}
		pl.count(w.entity.Name, w.change.Action, -1)
		if p := w.pair; p != nil {
			p.failedFlows = append(p.failedFlows, w.flow)
			p.works = slices.DeleteFunc(p.works, func(x *work) bool { return x == w })
			if p.counter != nil {
				p.counter.pending--
			}
		}
	}
	pl.works = kept
	pl.rejects = slices.DeleteFunc(pl.rejects, func(rj pipeline.Reject) bool { return r.attempted[rejectKey(rj)] })
	pl.plan.Rejects = pl.rejects
	pl.plan.Changes = pl.plan.Changes[:0]
	for _, w := range pl.works {
		pl.plan.Changes = append(pl.plan.Changes, w.change)
	}
	return retried
}

func attemptKey(w *work) string {
	return "change\x00" + w.entity.Name + "\x00" + w.change.Flow + "\x00" + w.change.SourceKey
}

func rejectKey(rj pipeline.Reject) string {
	return "reject\x00" + rj.Entity + "\x00" + rj.Connection + "\x00" + rj.Key + "\x00" + rj.Reason
}

// transient reports a failure of the connection itself (reset, cut short,
// timed out), which a follow-up round tries again after reading afresh; a
// refusal the system answered (a 5xx after the transport's retries) waits
// for the next run.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &ne)
}

// followUpEntities names the entities a follow-up round plans, and forgets
// the round's creates.
func (r *Runner) followUpEntities() map[string]bool {
	r.mu.Lock()
	created, writeBack, failed := r.created, r.writeBack, r.failedIn
	r.created, r.writeBack, r.failedIn = nil, nil, nil
	r.mu.Unlock()
	next := map[string]bool{}
	for _, e := range r.p.Entities { // in dependency order
		if writeBack[e.Name] || failed[e.Name] {
			next[e.Name] = true
		}
		for _, n := range e.Needs {
			if created[n] || next[n] {
				next[e.Name] = true
			}
		}
	}
	if len(next) == 0 {
		return nil
	}
	return next
}

// add counts a follow-up round's result into the run's.
func (res *Result) add(more *Result) {
	if more == nil {
		return
	}
	res.Planned += more.Planned
	res.Applied += more.Applied
	res.Failed += more.Failed
	res.Rejected += more.Rejected
	res.Plan.Changes = append(res.Plan.Changes, more.Plan.Changes...)
	res.Plan.Rejects = append(res.Plan.Rejects, more.Plan.Rejects...)
	for e, byAction := range more.Plan.Summary {
		if res.Plan.Summary[e] == nil {
			res.Plan.Summary[e] = map[pipeline.Action]int{}
		}
		for a, n := range byAction {
			res.Plan.Summary[e][a] += n
		}
	}
}

func sameChanges(saved, fresh *pipeline.Plan) error {
	if saved.Pipeline != fresh.Pipeline {
		return fmt.Errorf("%w: it was made for pipeline %s, not %s", ErrStalePlan, saved.Pipeline, fresh.Pipeline)
	}
	if saved.Snapshot != fresh.Snapshot {
		return fmt.Errorf("%w: the systems or the state changed since it was made (run synk plan again)", ErrStalePlan)
	}
	differ := fmt.Errorf("%w: the pipeline now plans different changes (run synk plan again)", ErrStalePlan)
	if len(saved.Changes) != fresh.Len() {
		return differ
	}
	// One change at a time: a fresh plan's creates made in chunks are
	// never all in memory.
	i := 0
	err := fresh.Each(func(c pipeline.Change) error {
		a, _ := json.Marshal(saved.Changes[i])
		b, _ := json.Marshal(c)
		i++
		if string(a) != string(b) {
			return differ
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrStalePlan) {
		return fmt.Errorf("compare the saved plan: %w", err)
	}
	return err
}

func (r *Runner) apply(ctx context.Context, pl *planned) (*Result, error) {
	res := &Result{Planned: len(pl.works) + pl.chunkedCount(), Rejected: len(pl.rejects), Plan: pl.plan}
	if r.attempted == nil {
		r.attempted = map[string]bool{}
	}
	for _, w := range pl.works {
		r.attempted[attemptKey(w)] = true
	}
	for _, rj := range pl.rejects {
		r.attempted[rejectKey(rj)] = true
	}
	if err := r.insertRejects(ctx, pl.rejects); err != nil {
		return res, fmt.Errorf("record rejects: %w", err)
	}
	byEntity := map[string][]*work{}
	for _, w := range pl.works {
		byEntity[w.entity.Name] = append(byEntity[w.entity.Name], w)
	}
	chunksOf := map[string][]*chunked{}
	for _, c := range pl.chunked {
		chunksOf[c.entity.Name] = append(chunksOf[c.entity.Name], c)
	}
	if len(pl.chunked) > 0 {
		// Once applied, the chunked creates cannot be made again.
		defer pl.plan.SetMore(pl.chunkedCount(), func(func(pipeline.Change) error) error { return errChunksApplied })
	}
	// ctx stops the handing out of changes; the writes already handed out
	// finish under a context the stop does not cancel (each HTTP request is
	// still bounded by its timeout), so a stop never leaves a write
	// half-known.
	writeCtx := context.WithoutCancel(ctx)
	var notAttempted []*work
	var mu sync.Mutex
	for _, level := range levels(r.p.Entities) {
		// Counter entities go last in their level: their offsets (stock
		// drawn by invoices) are read again once the level's other writes
		// are done, so a draw made in this run is not counted as a change.
		var plain, counters []*spec.Entity
		for _, e := range level {
			if e.Counter != nil {
				counters = append(counters, e)
			} else {
				plain = append(plain, e)
			}
		}
		for _, group := range [][]*spec.Entity{plain, counters} {
			var wg conc.WaitGroup
			for _, e := range group {
				wg.Go(func() {
					a, f, rj, st, left := r.applyEntity(ctx, writeCtx, e, byEntity[e.Name], chunksOf[e.Name])
					mu.Lock()
					res.Applied += a
					res.Failed += f
					res.Rejected += rj
					res.NotAttempted += st
					notAttempted = append(notAttempted, left...)
					mu.Unlock()
				})
			}
			wg.Wait()
		}
	}
	if len(notAttempted) > 0 {
		res.NotAttempted += len(notAttempted)
		if err := r.recordNotAttempted(writeCtx, notAttempted); err != nil {
			r.log.Error("record the changes not attempted", "run_id", r.runID, "err", err)
		}
	}
	// Pairs whose writes all succeeded (or that needed none) get their new
	// base; the rest keep the old one and are planned again next run.
	if err := r.saveBases(ctx, pl.pairs); err != nil {
		return res, fmt.Errorf("save bases: %w", err)
	}
	return res, nil
}

// recordNotAttempted stores, in one statement, the changes a stopped run
// never started, and keeps their pairs' bases as they were, so the next
// run plans them again.
func (r *Runner) recordNotAttempted(ctx context.Context, works []*work) error {
	b := state.NewBulk(changeCols...)
	byEntity := map[string]map[pipeline.Action]int{}
	for _, w := range works {
		b.Add(changeRow(w)...)
		if w.pair != nil {
			w.pair.failedFlows = append(w.pair.failedFlows, w.flow)
		}
		if byEntity[w.entity.Name] == nil {
			byEntity[w.entity.Name] = map[pipeline.Action]int{}
		}
		byEntity[w.entity.Name][w.change.Action]++
	}
	for e, byAction := range byEntity {
		for a, n := range byAction {
			r.opts.Metrics.ChangesApplied.WithLabelValues(e, string(a), "not_attempted").Add(float64(n))
		}
	}
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	return r.store.ExecBulk(ctx, b, `INSERT INTO synk.changes SELECT '`+r.runID+`', CAST(seq AS BIGINT), entity, flow, action,
		source_key, target_key, CAST(fields AS VARCHAR[]), CAST(before AS JSON), CAST(after AS JSON), 'not_attempted', '', now() FROM bulk`)
}

// levels groups entities so that each level only needs earlier levels.
func levels(ents []*spec.Entity) [][]*spec.Entity {
	depth := map[string]int{}
	var out [][]*spec.Entity
	for _, e := range ents { // ents are already in dependency order
		d := 0
		for _, n := range e.Needs {
			if depth[n]+1 > d {
				d = depth[n] + 1
			}
		}
		depth[e.Name] = d
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], e)
	}
	return out
}

type outcome struct {
	status string // applied, failed, rejected
	err    error
}

// applyEntity applies an entity's changes concurrently until ctx ends; the
// changes it did not start are returned as left (not attempted), and those
// whose first request the stop kept from being sent are counted in
// stopped (recorded as not attempted). Writes run under writeCtx, which
// the stop does not cancel. A target that is a pipeline.BatchSink takes
// its changes in batches (see units), any other one change per call. The
// creates planned in chunks follow the works, a chunk at a time (see
// applyChunks).
func (r *Runner) applyEntity(ctx, writeCtx context.Context, e *spec.Entity, works []*work, chunks []*chunked) (applied, failed, rejected, stopped int, left []*work) {
	total := len(works)
	for _, c := range chunks {
		total += c.n
	}
	if total == 0 {
		return
	}
	if ctx.Err() != nil {
		st, f := r.applyChunks(ctx, writeCtx, e, chunks, nil, nil)
		return 0, f, 0, st, works
	}
	if e.Counter != nil {
		r.refreshCounterOffsets(ctx, e, works)
	}
	if r.opts.Progress != nil {
		r.opts.Progress.Start(e.Name, total)
	}
	max := 0
	for _, s := range []spec.Side{e.Left, e.Right} {
		if n := r.conns[s.Conn.Name].limiter.Limits().MaxInFlight; n > 0 {
			max += n
		} else {
			max += 16
		}
	}
	chunkFrom := math.MaxInt
	for _, c := range chunks {
		chunkFrom = min(chunkFrom, c.seq)
	}
	var mu sync.Mutex
	tally := func(w *work, o outcome) {
		// A logger only for a change that went wrong: one per change
		// applied was 30 MB of garbage in a first sync of 100k records.
		log := func() *slog.Logger { return r.log.With("entity", e.Name, "key", w.change.SourceKey, "run_id", r.runID) }
		switch o.status {
		case "applied":
			applied++
		case "not_attempted":
			stopped++ // recorded; the stop's one log line counts it
		case "rejected":
			rejected++
			log().Warn("change rejected", "flow", w.change.Flow, "action", w.change.Action, "err", r.p.Redact(o.err.Error()))
		default:
			failed++
			log().Error("change failed", "flow", w.change.Flow, "action", w.change.Action, "err", r.p.Redact(o.err.Error()))
		}
		if o.status != "applied" && w.pair != nil {
			w.pair.failedFlows = append(w.pair.failedFlows, w.flow)
		}
		if o.status != "applied" && w.change.Seq > chunkFrom {
			// A chunked create is not in the round's works: apply marked
			// only those attempted (see dropAttempted). One applied is
			// linked, so no later round plans it again.
			r.mu.Lock()
			r.attempted[attemptKey(w)] = true
			r.mu.Unlock()
		}
		r.opts.Metrics.ChangesApplied.WithLabelValues(e.Name, string(w.change.Action), o.status).Inc()
		if r.opts.Progress != nil {
			r.opts.Progress.Done(e.Name, 1)
		}
	}
	p := pool.New().WithMaxGoroutines(max)
	applyUnit := func(u unit) {
		if ctx.Err() != nil {
			mu.Lock()
			left = append(left, u.works...) // stopped while it waited for a worker
			mu.Unlock()
			return
		}
		wctx := pipeline.WithStop(writeCtx, ctx)
		var outs []outcome
		if u.sink == nil {
			outs = []outcome{r.applyOne(wctx, u.works[0])}
		} else {
			outs = r.applyBatch(wctx, u)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, w := range u.works {
			tally(w, outs[i])
		}
	}
	us := r.units(e, works)
	for i, u := range us {
		if ctx.Err() != nil {
			mu.Lock()
			for _, u := range us[i:] {
				left = append(left, u.works...)
			}
			mu.Unlock()
			break
		}
		p.Go(func() { applyUnit(u) })
	}
	st, f := r.applyChunks(ctx, writeCtx, e, chunks, p, applyUnit)
	p.Wait()
	mu.Lock()
	stopped += st
	failed += f
	mu.Unlock()
	return
}

func (r *Runner) applyOne(ctx context.Context, w *work) outcome {
	if err := ctx.Err(); err != nil {
		return r.record(ctx, w, outcome{"failed", err})
	}
	sink, ok := r.conns[w.flow.To.Conn.Name].connector.(pipeline.Sink)
	if !ok {
		return r.record(ctx, w, outcome{"failed", fmt.Errorf("connection %s cannot be written", w.flow.To.Conn.Name)})
	}
	if err := r.resolveWaits(ctx, w); err != nil {
		return r.record(ctx, w, outcome{"rejected", err})
	}
	switch w.change.Action {
	case pipeline.Create:
		return r.applyCreate(ctx, sink, w)
	case pipeline.Update:
		if w.pair != nil && w.pair.counter != nil {
			return r.applyCounter(ctx, sink, w)
		}
		_, err := sink.Update(ctx, w.write)
		return r.record(ctx, w, classifyWrite(ctx, err))
	default:
		err := sink.Delete(ctx, w.write)
		o := classifyWrite(ctx, err)
		if o.status == "applied" {
			r.links.remove(w.entity.Name, w.pair.leftKey)
			w.pair.deleted = true
		}
		return r.record(ctx, w, o)
	}
}

// resolveWaits maps again the fields of a change that waited for links
// made by earlier entities in this run, now that they exist.
func (r *Runner) resolveWaits(ctx context.Context, w *work) error {
	if len(w.change.Waits) == 0 {
		return nil
	}
	vals, err := r.mapFields(ctx, w.flow, w.source, nil, w.change.Action == pipeline.Update)
	if err != nil {
		return err
	}
	for k := range w.write.Set {
		w.write.Set[k] = vals[k]
		w.change.After[k] = vals[k]
	}
	return nil
}

func classify(err error) outcome {
	if err == nil {
		return outcome{status: "applied"}
	}
	var re *pipeline.RecordError
	if errors.As(err, &re) {
		return outcome{"rejected", err}
	}
	return outcome{"failed", err}
}

// classifyWrite is classify for a write made under ctx from
// pipeline.WithStop: a write the stop kept from sending anything is
// not_attempted, not failed.
func classifyWrite(ctx context.Context, err error) outcome {
	if errors.Is(err, pipeline.ErrStopping) && !pipeline.Sent(ctx) {
		return outcome{"not_attempted", err}
	}
	return classify(err)
}

func (r *Runner) record(ctx context.Context, w *work, o outcome) outcome {
	r.noteTransient(w, o)
	msg := ""
	if o.err != nil {
		msg = o.err.Error()
	}
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	if err := r.insertChange(context.WithoutCancel(ctx), r.store.DB, w, o.status, msg); err != nil && o.err == nil {
		return outcome{"failed", err}
	}
	if o.status == "rejected" {
		// A write the system refused is a reject like a failed mapping:
		// stored with its reason and counted in synk_rejects_total.
		if err := r.insertRejects(context.WithoutCancel(ctx), []pipeline.Reject{refused(w, msg)}); err != nil {
			r.log.Error("store reject", "entity", w.entity.Name, "err", err)
		}
	}
	return o
}

// refused is the reject of a write the target system refused with msg.
func refused(w *work, msg string) pipeline.Reject {
	return pipeline.Reject{Entity: w.entity.Name, Connection: w.flow.From.Conn.Name, Resource: w.flow.From.Resource.Name,
		Key: w.change.SourceKey, Reason: fmt.Sprintf("%s %s: %s", w.change.Action, w.flow.To, msg)}
}

// noteTransient remembers a change that failed for a transient reason, so
// that a follow-up round of the run plans it again.
func (r *Runner) noteTransient(w *work, o outcome) {
	if o.status != "failed" || !transient(o.err) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failedNow == nil {
		r.failedNow = map[string]bool{}
	}
	if r.failedIn == nil {
		r.failedIn = map[string]bool{}
	}
	r.failedNow[attemptKey(w)] = true
	r.failedIn[w.entity.Name] = true
}

// saveBases writes links made by matching and the base of every pair
// evaluated this run, in bulk. A side that was written gets an empty hash,
// so its next read is compared again (and found equal) rather than trusted.
func (r *Runner) saveBases(ctx context.Context, pairs []*pair) error {
	ctx = context.WithoutCancel(ctx)
	links := state.NewBulk("entity", "left_key", "right_key")
	bases := state.NewBulk("entity", "left_key", "right_key", "left_hash", "right_hash", "left_values", "right_values", "fingerprint")
	deleted := state.NewBulk("entity", "left_key")
	for _, p := range pairs {
		e := p.entity
		if p.deleted {
			deleted.Add(e.Name, p.leftKey)
			continue
		}
		if p.newLink {
			links.Add(e.Name, p.leftKey, p.rightKey)
			r.links.add(e.Name, p.leftKey, p.rightKey)
		}
		bl, br := p.newBaseLeft, p.newBaseRight
		lh, rh := p.leftHash, p.rightHash
		for _, w := range p.works {
			if w.flow.Reverse {
				lh = ""
			} else {
				rh = ""
			}
		}
		for _, f := range p.failedFlows {
			lh, rh = "", ""
			if f.Reverse {
				bl = p.baseLeft
			} else {
				br = p.baseRight
			}
		}
		if p.counter != nil {
			var ok bool
			if bl, br, ok = p.counter.bases(); !ok || p.counter.saved {
				continue // a lost answer: the journal settles it next run
			}
		}
		lv, _ := json.Marshal(bl)
		rv, _ := json.Marshal(br)
		bases.Add(e.Name, p.leftKey, p.rightKey, lh, rh, string(lv), string(rv), e.Fingerprint)
	}
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	if err := r.store.ExecBulk(ctx, links,
		`INSERT OR REPLACE INTO synk.links SELECT entity, left_key, right_key, '`+r.runID+`', now() FROM bulk`); err != nil {
		return fmt.Errorf("save links: %w", err)
	}
	if err := r.store.ExecBulk(ctx, bases,
		`INSERT OR REPLACE INTO synk.base SELECT entity, left_key, right_key, left_hash, right_hash,
			CAST(left_values AS JSON), CAST(right_values AS JSON), fingerprint, now() FROM bulk`); err != nil {
		return fmt.Errorf("save base: %w", err)
	}
	if err := r.store.ExecBulk(ctx, deleted,
		`DELETE FROM synk.links l USING bulk d WHERE l.entity = d.entity AND l.left_key = d.left_key`,
		`DELETE FROM synk.base b USING bulk d WHERE b.entity = d.entity AND b.left_key = d.left_key`); err != nil {
		return fmt.Errorf("forget deleted pairs: %w", err)
	}
	if err := r.resolveCounterIntents(ctx, pairs); err != nil {
		return fmt.Errorf("resolve counter intents: %w", err)
	}
	return nil
}
