package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// applyCreate journals the intent, creates, and on an ambiguous failure
// asks the sink's Finder whether the create happened anyway.
func (r *Runner) applyCreate(ctx context.Context, sink pipeline.Sink, w *work) outcome {
	id := newRunID()
	r.stateMu.Lock()
	_, err := r.store.DB.ExecContext(context.WithoutCancel(ctx), `INSERT INTO synk.journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, now(), NULL)`,
		id, r.runID, w.entity.Name, w.flow.Name(), w.flow.To.Conn.Name, w.flow.To.Resource.Name, w.write.IdempotencyKey, w.change.SourceKey, w.setJSON())
	r.stateMu.Unlock()
	if err != nil {
		return r.record(ctx, w, outcome{"failed", fmt.Errorf("journal intent: %w", err)})
	}
	rec, err := sink.Create(ctx, w.write)
	o := classifyWrite(ctx, err)
	if o.status == "not_attempted" {
		r.resolveIntent(ctx, id, "failed", "") // nothing was sent
		return r.record(ctx, w, o)
	}
	if o.status == "failed" {
		if finder, ok := sink.(pipeline.Finder); ok {
			// The request may have reached the system: look before anyone
			// creates again, even when the run is stopping.
			found, ok, ferr := finder.Find(pipeline.WithStop(context.WithoutCancel(ctx), nil), w.write)
			switch {
			case ferr == nil && ok:
				rec, o = found, outcome{status: "applied"}
			case ferr == nil:
				r.resolveIntent(ctx, id, "failed", "")
				return r.record(ctx, w, o)
			default:
				o.err = fmt.Errorf("%w (and looking it up failed: %w)", o.err, ferr)
			}
		}
		if o.status == "failed" {
			return r.record(ctx, w, o) // intent stays pending: next run looks it up first
		}
	}
	if o.status == "rejected" {
		r.resolveIntent(ctx, id, "failed", "")
		return r.record(ctx, w, o)
	}
	key := keyString(rec[w.flow.To.Resource.Key])
	if key == "" {
		return r.record(ctx, w, outcome{"failed", fmt.Errorf("%s returned no %s for the created record", w.flow.To, w.flow.To.Resource.Key)})
	}
	w.change.TargetKey = key
	r.stateMu.Lock()
	err = r.commitCreate(ctx, w, id, rec)
	r.stateMu.Unlock()
	if err != nil {
		return outcome{"failed", fmt.Errorf("record create of %s %s: %w", w.flow.To, key, err)}
	}
	r.noteCreated(ctx, w, rec)
	return outcome{status: "applied"}
}

// noteCreated tells the run about a create committed to the state file:
// its link, for link() in later entities, and whether a follow-up round
// must carry values back to its source (see followUpEntities).
func (r *Runner) noteCreated(ctx context.Context, w *work, rec pipeline.Record) {
	left, right := createdLink(w)
	r.links.addCommitted(w.entity.Name, left, right)
	writeBack := r.needsWriteBack(ctx, w, r.completeCreated(ctx, w, w.change.TargetKey, rec))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.created == nil {
		r.created, r.writeBack = map[string]bool{}, map[string]bool{}
	}
	r.created[w.entity.Name] = true
	r.writeBack[w.entity.Name] = r.writeBack[w.entity.Name] || writeBack
}

// createdLink is the link of a create's source and the created record,
// whose key is w.change.TargetKey.
func createdLink(w *work) (left, right string) {
	if w.flow.Reverse {
		return w.change.TargetKey, w.change.SourceKey
	}
	return w.change.SourceKey, w.change.TargetKey
}

// createdBase is the base of a created pair as synk.base's left_values
// and right_values: what was written on the target's side, the source as
// read on the source's.
func createdBase(w *work) (left, right string) {
	bv := w.setJSON()
	sv, _ := json.Marshal(sourceBase(w.entity, w.flow, w.source))
	if w.flow.Reverse {
		return bv, string(sv)
	}
	return string(sv), bv
}

// createdHashes are a created pair's record hashes for its base: the
// source's as read in this run, and the created record's as the sink
// returned it, hashed as a read of it would be. When the next read gives
// the same, the pair is not even loaded by the next plan; when it does not
// (a sink that returns what it sent, not what the system stored), the
// pair is compared once, as without them. An entity with flows both ways
// leaves the created record's hash out: values the target assigned may
// have to flow back, and only a compared pair plans that.
func createdHashes(w *work, rec pipeline.Record) (left, right string) {
	created := ""
	if rec != nil && !flowsBack(w) {
		c := maps.Clone(rec)
		if err := state.Coerce(w.flow.To.Resource, c); err == nil {
			var enc canonicalEncoder
			if _, sum, err := enc.canonical(nil, c); err == nil {
				created = hashString(sum)
			}
		}
	}
	if w.flow.Reverse {
		return created, w.sourceHash
	}
	return w.sourceHash, created
}

// flowsBack reports whether w's entity has a flow the other way.
func flowsBack(w *work) bool {
	for _, g := range w.entity.Flows {
		if g.Reverse != w.flow.Reverse {
			return true
		}
	}
	return false
}

// needsWriteBack reports whether the flows back from the created record
// would write to its source: a value the target system assigned (an id
// flowing back as a member number). Those are planned in a follow-up round
// of this run; a create whose values only mirror its source needs none.
func (r *Runner) needsWriteBack(ctx context.Context, w *work, created pipeline.Record) bool {
	if created == nil {
		return true // unknown: the follow-up round reads it
	}
	for _, g := range w.entity.Flows {
		if g.Reverse == w.flow.Reverse || !g.Update {
			continue
		}
		rec, err := asStored(g.From, created)
		if err != nil {
			return true
		}
		vals, err := r.mapFields(ctx, g, rec, nil, true)
		if err != nil {
			return true
		}
		for _, m := range g.Map {
			if m.Overwrite == spec.OverwriteNever {
				continue
			}
			nv := vals[m.Field]
			if m.Overwrite == spec.OverwriteWhen && !r.wouldOverwrite(m, g, nv, rec, w.source) {
				continue
			}
			if isWriteOnly(g.To.Resource, m.Field) {
				if !isEmpty(nv) {
					return true
				}
				continue
			}
			if !sameTarget(nv, w.source[m.Field]) {
				return true
			}
		}
	}
	return false
}

// wouldOverwrite evaluates a mapping's overwrite condition as the
// follow-up round would for the record just created (src, mapped to nv)
// and its source (tgt), whose values are that side's base; an error
// counts as true, so the round decides.
func (r *Runner) wouldOverwrite(m *spec.Mapping, g *spec.Flow, nv any, src, tgt pipeline.Record) bool {
	b := tgt[m.Field]
	if isWriteOnly(g.To.Resource, m.Field) {
		b = nil // never read, so not in the base (see sourceBase)
	}
	v, err := m.When.Run(map[string]any{"source": nv, "target": tgt[m.Field], "base": b, "vars": r.p.Vars,
		"record": map[string]any(src), "target_record": map[string]any(tgt)})
	ok, _ := v.(bool)
	return err != nil || ok
}

// completeCreated returns the created record with what the flows back from
// it read: rec itself, unless the sink left out of it (as unknown, see
// pipeline.Sink) a field one of their mappings reads; then the record read
// with the target's Getter, or nil when it cannot be read (needsWriteBack
// then plans the follow-up round, which reads it).
func (r *Runner) completeCreated(ctx context.Context, w *work, key string, rec pipeline.Record) pipeline.Record {
	if !r.readsAbsent(w, rec) {
		return rec
	}
	getter, ok := r.conns[w.flow.To.Conn.Name].connector.(pipeline.Getter)
	if !ok {
		return nil
	}
	full, found, err := getter.Get(ctx, w.flow.To.Resource.Name, key)
	if err != nil || !found {
		r.log.Warn("read the created record for the flows back from it; a follow-up round reads it", "entity", w.entity.Name,
			"target", w.flow.To.String(), "key", key, "found", found, "err", err)
		return nil
	}
	return full
}

// readsAbsent reports whether a flow back from the created record maps a
// field rec does not have (the whole record counts as one).
func (r *Runner) readsAbsent(w *work, rec pipeline.Record) bool {
	res := w.flow.To.Resource
	for _, g := range w.entity.Flows {
		if g.Reverse == w.flow.Reverse || !g.Update {
			continue
		}
		for _, m := range g.Map {
			if m.Overwrite == spec.OverwriteNever {
				continue
			}
			names := m.Expr.Names()
			if m.Overwrite == spec.OverwriteWhen && slices.Contains(m.When.Names(), "record") {
				names = append(names, "record")
			}
			for _, name := range names {
				if _, declared := res.Field(name); declared {
					if _, ok := rec[name]; !ok {
						return true
					}
					continue
				}
				if name != "record" {
					continue
				}
				for _, f := range res.Fields {
					if _, ok := rec[f.Name]; !ok {
						return true
					}
				}
			}
		}
	}
	return false
}

// commitCreate stores the outcome, the link, the base and resolves the
// journal intent in one transaction.
func (r *Runner) commitCreate(ctx context.Context, w *work, id string, rec pipeline.Record) error {
	ctx = context.WithoutCancel(ctx)
	tx, err := r.store.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE synk.journal SET status = 'done', target_key = ?, resolved_at = now() WHERE id = ?`, w.change.TargetKey, id); err != nil {
		return err
	}
	left, right := createdLink(w)
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO synk.links VALUES (?, ?, ?, ?, now())`, w.entity.Name, left, right, r.runID); err != nil {
		return err
	}
	lv, rv := createdBase(w)
	lh, rh := createdHashes(w, rec)
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO synk.base VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())`,
		w.entity.Name, left, right, lh, rh, lv, rv, w.entity.Fingerprint); err != nil {
		return err
	}
	if err := r.insertChange(ctx, tx, w, "applied", ""); err != nil {
		return err
	}
	return tx.Commit()
}

func (r *Runner) resolveIntent(ctx context.Context, id, status, key string) {
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	_, _ = r.store.DB.ExecContext(context.WithoutCancel(ctx), `UPDATE synk.journal SET status = ?, target_key = ?, resolved_at = now() WHERE id = ?`, status, key, id)
}
