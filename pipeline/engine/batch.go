package engine

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// unit is what one worker of applyEntity applies: one work through
// applyOne (sink nil), or a batch of works on one target resource that
// sink takes in one WriteBatch call.
type unit struct {
	works []*work
	sink  pipeline.BatchSink
}

// units splits an entity's works into what its workers take: batches of at
// most MaxBatch works per target resource whose connector is a BatchSink,
// one work each otherwise. Counter entities keep one write per call: each
// folds in a fresh read of its record (see counter.go).
func (r *Runner) units(e *spec.Entity, works []*work) []unit {
	var out []unit
	filling := map[string]int{} // target → index in out of its last batch
	for _, w := range works {
		bs, ok := r.conns[w.flow.To.Conn.Name].connector.(pipeline.BatchSink)
		if !ok || e.Counter != nil {
			out = append(out, unit{works: []*work{w}})
			continue
		}
		t := w.flow.To.String()
		i, ok := filling[t]
		if !ok || len(out[i].works) >= max(bs.MaxBatch(), 1) {
			i = len(out)
			filling[t] = i
			out = append(out, unit{sink: bs})
		}
		out[i].works = append(out[i].works, w)
	}
	return out
}

// batched is one work of a batch on its way through applyBatch.
type batched struct {
	w *work
	o outcome // status "" until settled
	// intent is the journal id of a create's intent.
	intent string
	// unmade marks a create known not to exist: its intent is resolved
	// failed, so nothing looks it up again.
	unmade bool
	rec    pipeline.Record // the record created
	// committed marks a create commitBatch stored, change included.
	committed bool
}

// applyBatch applies a unit of a BatchSink with one WriteBatch call and
// returns each work's outcome, in order, recorded as applyOne records
// them. The creates are journaled, in one statement, before the call; after
// it the whole batch is settled in a few bulk statements: the creates made
// are linked with their base and journal in one transaction, the intents
// of creates not made are resolved failed, and every other outcome goes
// into synk.changes. A batch whose answer is lost is settled create by
// create through the Finder, as applyCreate settles one.
func (r *Runner) applyBatch(ctx context.Context, u unit) []outcome {
	bs := make([]*batched, len(u.works))
	for i, w := range u.works {
		bs[i] = &batched{w: w}
		if err := r.resolveWaits(ctx, w); err != nil {
			bs[i].o = outcome{"rejected", err}
		}
	}
	r.journalBatch(ctx, bs)
	r.writeBatch(ctx, u.sink, bs)
	r.findLost(ctx, bs)
	made := r.commitBatch(ctx, bs)
	r.recordBatch(ctx, bs)
	for _, b := range made {
		r.noteCreated(ctx, b.w, b.rec)
	}
	outs := make([]outcome, len(bs))
	for i, b := range bs {
		outs[i] = b.o
	}
	return outs
}

// journalBatch stores the intents of the batch's creates, pending, in one
// statement; a create whose intent could not be stored fails unsent.
func (r *Runner) journalBatch(ctx context.Context, bs []*batched) {
	rows := state.NewBulk("id", "entity", "flow", "connection", "resource", "idempotency_key", "source_key", "write")
	var creates []*batched
	for _, b := range bs {
		w := b.w
		if b.o.status != "" || w.change.Action != pipeline.Create {
			continue
		}
		b.intent = newRunID()
		rows.Add(b.intent, w.entity.Name, w.flow.Name(), w.flow.To.Conn.Name, w.flow.To.Resource.Name, w.write.IdempotencyKey,
			w.change.SourceKey, w.setJSON())
		creates = append(creates, b)
	}
	r.stateMu.Lock()
	err := r.store.ExecBulk(context.WithoutCancel(ctx), rows, `INSERT INTO synk.journal SELECT id, '`+r.runID+`', entity, flow,
		connection, resource, idempotency_key, source_key, CAST(write AS JSON), 'pending', NULL, now(), NULL FROM bulk`)
	r.stateMu.Unlock()
	if err != nil {
		for _, b := range creates {
			b.intent, b.o = "", outcome{"failed", fmt.Errorf("journal intents: %w", err)}
		}
	}
}

// writeBatch hands the batch's unsettled works to the sink in one call
// and settles each from its result. A batch the stop kept from being sent
// is not attempted; one that failed as a whole is failed, its creates
// left to findLost.
func (r *Runner) writeBatch(ctx context.Context, sink pipeline.BatchSink, bs []*batched) {
	var ops []pipeline.Op
	var sent []*batched
	for _, b := range bs {
		if b.o.status == "" {
			ops = append(ops, pipeline.Op{Action: b.w.change.Action, Write: b.w.write})
			sent = append(sent, b)
		}
	}
	if len(ops) == 0 {
		return
	}
	to := sent[0].w.flow.To
	res, err := sink.WriteBatch(ctx, to.Resource.Name, ops)
	if err == nil && len(res) != len(ops) {
		err = fmt.Errorf("%s answered %d results for %d writes", to, len(res), len(ops))
	}
	for i, b := range sent {
		switch {
		case errors.Is(err, pipeline.ErrStopping) && !pipeline.Sent(ctx):
			b.o, b.unmade = outcome{"not_attempted", err}, true
		case err != nil:
			b.o = outcome{"failed", fmt.Errorf("batch of %d writes to %s: %w", len(ops), to, err)}
		default:
			b.o, b.rec = classify(res[i].Err), res[i].Record
			b.unmade = b.o.status == "rejected"
		}
		if b.o.status == "applied" && b.w.change.Action == pipeline.Delete {
			r.links.remove(b.w.entity.Name, b.w.pair.leftKey)
			b.w.pair.deleted = true
		}
	}
}

// findLost asks the sink's Finder, create by create, whether a create
// whose write failed was made anyway, before anyone could create it again
// (even when the run is stopping). A lookup that fails leaves the intent
// pending for the next run's recovery.
func (r *Runner) findLost(ctx context.Context, bs []*batched) {
	for _, b := range bs {
		w := b.w
		if w.change.Action != pipeline.Create || b.o.status != "failed" || b.intent == "" {
			continue
		}
		finder, ok := r.conns[w.flow.To.Conn.Name].connector.(pipeline.Finder)
		if !ok {
			continue
		}
		found, ok, err := finder.Find(pipeline.WithStop(context.WithoutCancel(ctx), nil), w.write)
		switch {
		case err == nil && ok:
			b.o, b.rec = outcome{status: "applied"}, found
		case err == nil:
			b.unmade = true
		default:
			b.o.err = fmt.Errorf("%w (and looking it up failed: %w)", b.o.err, err)
		}
	}
}

// commitBatch stores the creates made, in one transaction: their journal
// intents done, links, bases and applied changes. A created record
// without a key, or a transaction that fails, leaves the intents pending
// for the next run's recovery. It returns the creates committed.
func (r *Runner) commitBatch(ctx context.Context, bs []*batched) []*batched {
	rows := state.NewBulk(append([]string{"id", "left_key", "right_key", "left_hash", "right_hash", "left_values", "right_values", "fingerprint"}, changeCols...)...)
	var made []*batched
	for _, b := range bs {
		w := b.w
		if w.change.Action != pipeline.Create || b.o.status != "applied" {
			continue
		}
		key := keyString(b.rec[w.flow.To.Resource.Key])
		if key == "" {
			b.o = outcome{"failed", fmt.Errorf("%s returned no %s for the created record", w.flow.To, w.flow.To.Resource.Key)}
			continue
		}
		w.change.TargetKey = key
		left, right := createdLink(w)
		lv, rv := createdBase(w)
		lh, rh := createdHashes(w, b.rec)
		rows.Add(append([]driver.Value{b.intent, left, right, lh, rh, lv, rv, w.entity.Fingerprint}, changeRow(w)...)...)
		made = append(made, b)
	}
	r.stateMu.Lock()
	err := r.store.ExecBulk(context.WithoutCancel(ctx), rows,
		`UPDATE synk.journal SET status = 'done', target_key = bulk.target_key, resolved_at = now() FROM bulk WHERE synk.journal.id = bulk.id`,
		`INSERT OR REPLACE INTO synk.links SELECT entity, left_key, right_key, '`+r.runID+`', now() FROM bulk`,
		`INSERT OR REPLACE INTO synk.base SELECT entity, left_key, right_key, left_hash, right_hash, CAST(left_values AS JSON),
			CAST(right_values AS JSON), fingerprint, now() FROM bulk`,
		`INSERT INTO synk.changes SELECT '`+r.runID+`', CAST(seq AS BIGINT), entity, flow, action, source_key, target_key,
			CAST(fields AS VARCHAR[]), CAST(before AS JSON), CAST(after AS JSON), 'applied', '', now() FROM bulk`)
	r.stateMu.Unlock()
	if err != nil {
		for _, b := range made {
			b.o = outcome{"failed", fmt.Errorf("record create of %s %s: %w", b.w.flow.To, b.w.change.TargetKey, err)}
		}
		return nil
	}
	for _, b := range made {
		b.committed = true
	}
	return made
}

// recordBatch resolves the intents of creates not made as failed and
// stores the batch's other outcomes in synk.changes, and the refusals in
// synk.rejects, in bulk. An applied change whose outcome cannot be stored
// fails: its pair keeps its base and is planned again.
func (r *Runner) recordBatch(ctx context.Context, bs []*batched) {
	ctx = context.WithoutCancel(ctx)
	unmade := state.NewBulk("id")
	changes := state.NewBulk(append([]string{"status", "error"}, changeCols...)...)
	var rejects []pipeline.Reject
	var stored []*batched
	for _, b := range bs {
		if b.unmade && b.intent != "" {
			unmade.Add(b.intent)
		}
		if b.committed {
			continue
		}
		r.noteTransient(b.w, b.o)
		msg := ""
		if b.o.err != nil {
			msg = b.o.err.Error()
		}
		changes.Add(append([]driver.Value{b.o.status, r.p.Redact(msg)}, changeRow(b.w)...)...)
		stored = append(stored, b)
		if b.o.status == "rejected" {
			rejects = append(rejects, refused(b.w, msg))
		}
	}
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	if err := r.store.ExecBulk(ctx, unmade,
		`UPDATE synk.journal SET status = 'failed', target_key = '', resolved_at = now() FROM bulk WHERE synk.journal.id = bulk.id`); err != nil {
		r.log.Error("resolve the intents of creates not made", "run_id", r.runID, "err", err)
	}
	if err := r.store.ExecBulk(ctx, changes, `INSERT INTO synk.changes SELECT '`+r.runID+`', CAST(seq AS BIGINT), entity, flow,
		action, source_key, target_key, CAST(fields AS VARCHAR[]), CAST(before AS JSON), CAST(after AS JSON), status, error, now()
		FROM bulk`); err != nil {
		for _, b := range stored {
			if b.o.status == "applied" {
				b.o = outcome{"failed", fmt.Errorf("record change: %w", err)}
			}
		}
	}
	if err := r.insertRejects(ctx, rejects); err != nil {
		r.log.Error("store rejects", "run_id", r.runID, "err", err)
	}
}
