package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// A counter entity (stock) merges changes instead of copying values: with
// V the level both sides agreed on at the last sync, each side's change
// since then is added, V' = V + Δleft + Δright, and both sides are set to
// V'. A side's change is measured on its "own" value, its count plus the
// offset (units synk's own writes elsewhere moved there, e.g. stock an
// invoice synk created drew), so a shop sale that synk turns into a Fiken
// invoice is counted once, not twice.
//
// The base of a counter pair is {"counter": V, "own": expected own value}
// per side. Every counter write is journaled first; a crash between the
// write and the base update is resolved on the next run by looking at the
// side's value: equal to what was written means the write happened.

// counterPair is the counter state of one pair, kept for saveBases.
type counterPair struct {
	level             float64
	ownLeft, ownRight float64 // observed own values (count + snapshot offset)
	// Offsets as of the snapshot, and as read again just before the
	// writes (what a written side's base takes: the absolute write lands
	// after this run's earlier writes moved the offset and the count).
	offLeft, offRight           float64
	offLeftApply, offRightApply float64
	left, right                 sideState
	// pending counts writes not yet answered; the last one to finish saves
	// the pair's base at once, which keeps the window in which a crash
	// leaves the journal to decide small.
	pending int
	saved   bool
}

type sideState int

const (
	sideNone       sideState = iota // no write needed
	sidePlanned                     // a write is planned (never attempted, if it stays so)
	sideWritten                     // written
	sideNotWritten                  // refused
	sideUnsure                      // the answer was lost
)

// ownBase is the own value a side's base takes after apply.
func (cp *counterPair) ownBase(st sideState, offPlan, offApply, observed float64) float64 {
	switch st {
	case sideWritten:
		return cp.level + offApply
	case sideNone:
		return cp.level + offPlan // == observed: the side already held the level
	default:
		return observed
	}
}

// counterIntent is the journal entry written before a counter write.
type counterIntent struct {
	Side  string  `json:"side"`
	Level float64 `json:"level"`
	// The own values of the pair's base if this write (and the pair's
	// other planned one) is made, and if it is not (as observed).
	BaseLeft  float64 `json:"base_left"`
	BaseRight float64 `json:"base_right"`
	OwnLeft   float64 `json:"own_left"`
	OwnRight  float64 `json:"own_right"`
	// Written is the count sent when it is not Level: a change made on the
	// side since the snapshot, read just before the write, folded in.
	Written *float64 `json:"written,omitempty"`
}

func (r *Runner) counterOffsets(ctx context.Context, e *spec.Entity, query string) (map[string]float64, error) {
	out := map[string]float64{}
	if strings.TrimSpace(query) == "" {
		return out, nil
	}
	rows, err := r.store.DB.QueryContext(ctx, `SELECT CAST(k AS VARCHAR), CAST(u AS DOUBLE) FROM (`+query+`) AS t(k, u)`)
	if err != nil {
		return nil, fmt.Errorf("counter offsets of %s: %w", e.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k sql.NullString
		var u sql.NullFloat64
		if err := rows.Scan(&k, &u); err != nil {
			return nil, fmt.Errorf("counter offsets of %s: %w", e.Name, err)
		}
		if k.Valid {
			out[k.String] += u.Float64
		}
	}
	return out, rows.Err()
}

// planCounter plans a counter entity: every linked pair is evaluated each
// run, because offsets move without either record changing.
func (r *Runner) planCounter(ctx context.Context, e *spec.Entity, pl *planned) error {
	c := e.Counter
	offL, err := r.counterOffsets(ctx, e, c.LeftOffset)
	if err != nil {
		return err
	}
	offR, err := r.counterOffsets(ctx, e, c.RightOffset)
	if err != nil {
		return err
	}
	intents, err := r.counterIntents(ctx, e)
	if err != nil {
		return err
	}
	pairs, err := r.loadPairs(ctx, e, pl, "")
	if err != nil {
		return err
	}
	matched, err := r.matchUnlinked(ctx, e, pl, nil)
	if err != nil {
		return err
	}
	pairs = append(pairs, matched...)
	for _, p := range pairs {
		if p.left == nil || p.right == nil {
			continue // one side is gone; nothing to count
		}
		if its := intents[p.leftKey]; len(its) > 0 {
			r.recoverCounter(e, p, its)
		}
		r.planCounterPair(e, p, offL[p.leftKey], offR[p.rightKey], pl)
	}
	return nil
}

// refreshCounterOffsets reads a counter entity's offsets again just before
// its writes. The change on each side was measured with the offsets of the
// snapshot; the base saved after the writes takes the offsets as they are
// now, so units that writes earlier in this run moved (an invoice synk
// just created drew stock, which the absolute write below then includes)
// are not seen as a change next run. On error the snapshot's offsets stay.
func (r *Runner) refreshCounterOffsets(ctx context.Context, e *spec.Entity, works []*work) {
	offL, err := r.counterOffsets(ctx, e, e.Counter.LeftOffset)
	var offR map[string]float64
	if err == nil {
		offR, err = r.counterOffsets(ctx, e, e.Counter.RightOffset)
	}
	if err != nil {
		r.log.Warn("counter offsets not read again; the next run corrects what this run's other writes moved", "entity", e.Name, "run_id", r.runID, "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range works {
		if cp := w.pair.counter; cp != nil {
			cp.offLeftApply, cp.offRightApply = offL[w.pair.leftKey], offR[w.pair.rightKey]
		}
	}
}

// counterIntents are the pending counter writes of a crashed run, by pair.
func (r *Runner) counterIntents(ctx context.Context, e *spec.Entity) (map[string][]journalCounter, error) {
	rows, err := r.store.DB.QueryContext(ctx, `SELECT id, source_key, CAST(write AS VARCHAR) FROM synk.journal
		WHERE entity = ? AND status = 'pending' AND flow LIKE 'counter:%' ORDER BY created_at`, e.Name)
	if err != nil {
		return nil, fmt.Errorf("read counter journal: %w", err)
	}
	defer rows.Close()
	out := map[string][]journalCounter{}
	for rows.Next() {
		var jc journalCounter
		var key, raw string
		if err := rows.Scan(&jc.id, &key, &raw); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(raw), &jc.intent); err != nil {
			return nil, fmt.Errorf("counter journal %s: %w", jc.id, err)
		}
		out[key] = append(out[key], jc)
	}
	return out, rows.Err()
}

type journalCounter struct {
	id     string
	intent counterIntent
}

// recoverCounter rebuilds a pair's base from the intents of a run that
// stopped between its counter writes and saving the base: a side whose
// value equals what was to be written was written; one still at the value
// seen then was not. Anything else (the write's effect and later changes
// mixed) is taken as not written and logged. A side with no intent was
// not written either (the run died before its write began; or it needed
// none, and then its observed value is its base anyway): it keeps its
// observed value, so its change since the last base still counts.
func (r *Runner) recoverCounter(e *spec.Entity, p *pair, its []journalCounter) {
	last := its[len(its)-1].intent
	ownL, ownR := last.OwnLeft, last.OwnRight
	for _, jc := range its {
		it := jc.intent
		field, rec, own, written := e.Counter.LeftField, p.left, &ownL, it.BaseLeft
		if it.Side == "right" {
			field, rec, own, written = e.Counter.RightField, p.right, &ownR, it.BaseRight
		}
		now, ok := number(rec[field])
		want := it.Level
		if it.Written != nil {
			want = *it.Written
		}
		if ok && math.Abs(now-want) <= 1e-9 {
			*own = written
		} else {
			r.log.Info("counter write of a stopped run was not made (or the value moved since); taken as not written",
				"entity", e.Name, "key", p.leftKey, "side", it.Side, "run_id", r.runID)
		}
		p.counterIntentIDs = append(p.counterIntentIDs, jc.id)
	}
	p.baseLeft = map[string]any{"counter": last.Level, "own": ownL}
	p.baseRight = map[string]any{"counter": last.Level, "own": ownR}
}

// number reads a counted value; nil counts as zero.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case float64:
		return n, true
	case int:
		return float64(n), true
	}
	return 0, false
}

func (r *Runner) planCounterPair(e *spec.Entity, p *pair, offL, offR float64, pl *planned) {
	c := e.Counter
	lv, lok := number(p.left[c.LeftField])
	rv, rok := number(p.right[c.RightField])
	cp := &counterPair{ownLeft: lv + offL, ownRight: rv + offR, offLeft: offL, offRight: offR, offLeftApply: offL, offRightApply: offR}
	bv, hasV := number(p.baseLeft["counter"])
	bl, hasL := number(p.baseLeft["own"])
	br, hasR := number(p.baseRight["own"])
	// A side that does not count (no value: Fiken keeps no stock for the
	// product) has not moved, whatever its offset says: its sales drew
	// nothing.
	if !lok && hasL {
		cp.ownLeft = bl
	}
	if !rok && hasR {
		cp.ownRight = br
	}
	switch {
	case hasV && hasL && hasR:
		cp.level = bv + (cp.ownLeft - bl) + (cp.ownRight - br)
	case (!lok || lv == 0) && rok && rv != 0:
		cp.level = rv
	case (!rok || rv == 0) && lok && lv != 0:
		cp.level = lv
	case c.Initial == "right":
		cp.level = rv
	default:
		cp.level = lv
	}
	p.counter = cp
	for _, f := range e.Flows {
		tgt, tgtKey, srcKey, field, cur, ok := p.right, p.rightKey, p.leftKey, c.RightField, rv, rok
		if f.Reverse {
			tgt, tgtKey, srcKey, field, cur, ok = p.left, p.leftKey, p.rightKey, c.LeftField, lv, lok
		}
		if ok && math.Abs(cur-cp.level) < 1e-9 {
			continue
		}
		fld, _ := f.To.Resource.Field(field)
		var nv any = cp.level
		if fld.Type == pipeline.TypeInt {
			nv = int64(math.Round(cp.level))
		}
		w := &work{entity: e, flow: f, source: nil, pair: p, change: pipeline.Change{Entity: e.Name, Flow: f.Name(), FlowIndex: f.Index,
			Action: pipeline.Update, SourceKey: srcKey, TargetKey: tgtKey, Fields: []string{field},
			Before: map[string]any{field: tgt[field]}, After: map[string]any{field: nv}}}
		w.write = pipeline.Write{Resource: f.To.Resource.Name, Key: tgtKey, Current: tgt, Set: pipeline.Record{field: nv}}
		if f.Reverse {
			cp.left = sidePlanned
		} else {
			cp.right = sidePlanned
		}
		cp.pending++
		p.works = append(p.works, w)
		pl.works = append(pl.works, w)
		pl.count(e.Name, pipeline.Update, 1)
	}
	pl.pairs = append(pl.pairs, p)
}

// bases are the base values saved for a counter pair after apply; ok is
// false when a lost answer leaves it open (the journal decides next run).
func (cp *counterPair) bases() (left, right map[string]any, ok bool) {
	if cp.left == sideUnsure || cp.right == sideUnsure {
		return nil, nil, false
	}
	return map[string]any{"counter": cp.level, "own": cp.ownBase(cp.left, cp.offLeft, cp.offLeftApply, cp.ownLeft)},
		map[string]any{"counter": cp.level, "own": cp.ownBase(cp.right, cp.offRight, cp.offRightApply, cp.ownRight)}, true
}

// journalCounterWrite records a counter write before it is made.
func (r *Runner) journalCounterWrite(ctx context.Context, w *work) (string, error) {
	cp := w.pair.counter
	side := "right"
	if w.flow.Reverse {
		side = "left"
	}
	// As if every planned write of the pair is made; recovery takes the
	// observed value for a side whose write was not.
	ifMade := func(st sideState) sideState {
		if st == sidePlanned || st == sideUnsure {
			return sideWritten
		}
		return st
	}
	r.mu.Lock() // the pair's other write may be settling its side
	it := counterIntent{Side: side, Level: cp.level,
		BaseLeft:  cp.ownBase(ifMade(cp.left), cp.offLeft, cp.offLeftApply, cp.ownLeft),
		BaseRight: cp.ownBase(ifMade(cp.right), cp.offRight, cp.offRightApply, cp.ownRight),
		OwnLeft:   cp.ownLeft, OwnRight: cp.ownRight}
	r.mu.Unlock()
	b, _ := json.Marshal(it)
	id := newRunID()
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	_, err := r.store.DB.ExecContext(context.WithoutCancel(ctx), `INSERT INTO synk.journal VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, 'pending', ?, now(), NULL)`,
		id, r.runID, w.entity.Name, "counter:"+side, w.flow.To.Conn.Name, w.flow.To.Resource.Name, w.pair.leftKey, string(b), w.change.TargetKey)
	return id, err
}

// journalWritten records in a counter intent the count about to be sent
// when a change since the snapshot was folded into it.
func (r *Runner) journalWritten(ctx context.Context, id string, written float64) error {
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	_, err := r.store.DB.ExecContext(context.WithoutCancel(ctx), `UPDATE synk.journal SET write = json_merge_patch(write, json_object('written', ?::DOUBLE)) WHERE id = ?`, written, id)
	if err != nil {
		return fmt.Errorf("journal the folded count: %w", err)
	}
	return nil
}

// applyCounter journals and makes one counter write. Counter writes set
// an absolute value, so a lost answer is safely sent again. The intent
// stays pending until the pair's new base is stored (saveCounterBase).
func (r *Runner) applyCounter(ctx context.Context, sink pipeline.Sink, w *work) outcome {
	// The intent comes first, so that whatever happens next (the read
	// below fails, the run is stopped) recovery checks this side too.
	id, err := r.journalCounterWrite(ctx, w)
	if err != nil {
		return r.record(ctx, w, outcome{"failed", fmt.Errorf("journal intent: %w", err)})
	}
	written, err := r.foldFreshCount(ctx, w)
	if err == nil && written != nil {
		err = r.journalWritten(ctx, id, *written)
	}
	if err != nil {
		// Nothing was sent: the side keeps its observed value in the base.
		o := outcome{"failed", err}
		if errors.Is(err, pipeline.ErrStopping) {
			o.status = "not_attempted"
		}
		return r.settleCounter(ctx, w, id, o, sideNotWritten)
	}
	var o outcome
	ctx = pipeline.Unsent(ctx) // the read above sent nothing to write
	for attempt := 0; attempt < 3; attempt++ {
		_, err = sink.Update(ctx, w.write)
		if o = classifyWrite(ctx, err); o.status != "failed" || ctx.Err() != nil {
			break
		}
		w.write.Fresh = false // a failed write may have landed: read again
	}
	st := sideWritten
	switch o.status {
	case "rejected", "not_attempted":
		st = sideNotWritten
	case "failed":
		st = sideUnsure
	}
	return r.settleCounter(ctx, w, id, o, st)
}

// settleCounter records the outcome of one counter write (or of one not
// made: id empty) and the side's state st, and saves the pair's base once its last write is done.
func (r *Runner) settleCounter(ctx context.Context, w *work, id string, o outcome, st sideState) outcome {
	r.mu.Lock()
	p := w.pair
	if id != "" {
		p.counterIntentIDs = append(p.counterIntentIDs, id)
	}
	if w.flow.Reverse {
		p.counter.left = st
	} else {
		p.counter.right = st
	}
	p.counter.pending--
	last := p.counter.pending == 0
	r.mu.Unlock()
	o = r.record(ctx, w, o)
	if last {
		if err := r.saveCounterBase(ctx, p); err != nil {
			r.log.Error("save counter base; the journal settles it next run", "entity", p.entity.Name, "key", p.leftKey, "run_id", r.runID, "err", err)
		}
	}
	return o
}

// foldFreshCount reads the target record just before a counter write
// (when its connector is a pipeline.Getter) and folds a change made on that
// side since the snapshot into the count written, so a sale between the
// snapshot and the write is kept, not overwritten: only one made inside
// this read's round trip can still be lost. The pair's base stays as if
// the level was written, so the folded change counts as that side's change
// next run and reaches the other side then. It returns the count written
// when it differs from the level; an error means the write is not made.
func (r *Runner) foldFreshCount(ctx context.Context, w *work) (*float64, error) {
	getter, ok := r.conns[w.flow.To.Conn.Name].connector.(pipeline.Getter)
	if !ok {
		return nil, nil
	}
	e, cp := w.entity, w.pair.counter
	field, observedOwn, offApply := e.Counter.RightField, cp.ownRight, cp.offRightApply
	if w.flow.Reverse {
		field, observedOwn, offApply = e.Counter.LeftField, cp.ownLeft, cp.offLeftApply
	}
	fresh, found, err := getter.Get(ctx, w.write.Resource, w.write.Key)
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s %s again before writing its %s: %w; not written this run", w.flow.To, w.write.Key, field, err)
	case !found:
		return nil, fmt.Errorf("%s %s is gone; its %s is not written", w.flow.To, w.write.Key, field)
	}
	now, ok := number(fresh[field])
	_, had := number(w.write.Current[field])
	// The sink may replace the record from this read instead of reading it
	// once more (Fiken's PUT of a whole product).
	w.write.Current, w.write.Fresh = fresh, true
	if !ok || !had {
		return nil, nil
	}
	// Own values, so units this run's own writes moved (an invoice synk
	// created drew the stock) are not taken for someone else's change.
	moved := now + offApply - observedOwn
	if math.Abs(moved) < 1e-9 {
		return nil, nil
	}
	r.mu.Lock()
	count := cp.level + moved
	r.mu.Unlock()
	var nv any = count
	if fld, _ := w.flow.To.Resource.Field(field); fld.Type == pipeline.TypeInt {
		nv = int64(math.Round(count))
	}
	w.write.Set = pipeline.Record{field: nv}
	w.change.After = map[string]any{field: nv}
	r.log.Info("count moved since the snapshot; the change is kept in the value written", "entity", e.Name, "key", w.write.Key,
		"field", field, "moved", moved, "run_id", r.runID)
	return &count, nil
}

// saveCounterBase stores one counter pair's base and resolves its intents
// in one transaction.
func (r *Runner) saveCounterBase(ctx context.Context, p *pair) error {
	bl, br, ok := p.counter.bases()
	if !ok {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	lv, _ := json.Marshal(bl)
	rv, _ := json.Marshal(br)
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	tx, err := r.store.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if p.newLink {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO synk.links VALUES (?, ?, ?, ?, now())`, p.entity.Name, p.leftKey, p.rightKey, r.runID); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO synk.base VALUES (?, ?, ?, '', '', ?, ?, ?, now())`,
		p.entity.Name, p.leftKey, p.rightKey, string(lv), string(rv), p.entity.Fingerprint); err != nil {
		return err
	}
	for _, id := range p.counterIntentIDs {
		if _, err := tx.ExecContext(ctx, `UPDATE synk.journal SET status = 'done', resolved_at = now() WHERE id = ?`, id); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	r.mu.Lock()
	p.counter.saved = true
	r.mu.Unlock()
	return nil
}

// resolveCounterIntents marks the counter intents of saved pairs done.
func (r *Runner) resolveCounterIntents(ctx context.Context, pairs []*pair) error {
	ids := state.NewBulk("id")
	for _, p := range pairs {
		if p.counter != nil {
			if _, _, ok := p.counter.bases(); !ok || p.counter.saved {
				continue
			}
		}
		for _, id := range p.counterIntentIDs {
			ids.Add(id)
		}
	}
	if ids.Len() == 0 {
		return nil
	}
	return r.store.ExecBulk(ctx, ids, `UPDATE synk.journal SET status = 'done', resolved_at = now() FROM bulk WHERE synk.journal.id = bulk.id`)
}
