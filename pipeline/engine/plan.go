package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
	"github.com/synk-etl/synk/transforms"
)

// work is a planned change with what apply needs besides the public Change.
type work struct {
	change pipeline.Change
	entity *spec.Entity
	flow   *spec.Flow
	write  pipeline.Write
	source pipeline.Record
	// sourceHash is the source record's snapshot hash, for a create's base.
	sourceHash string
	pair       *pair
	// createJSON caches a create's write.Set as JSON: the journal, the
	// base and synk.changes each store it (see setJSON).
	createJSON string
}

// setJSON is w.write.Set as JSON. A create's is made once and cached: its
// change's After is the same map, and the journal, the base and the
// change each store it, three marshals per create otherwise. It is first
// asked for when the create is journaled, after resolveWaits, the last
// change to the map.
func (w *work) setJSON() string {
	if w.createJSON != "" {
		return w.createJSON
	}
	b, _ := json.Marshal(w.write.Set)
	if w.change.Action == pipeline.Create {
		w.createJSON = string(b)
	}
	return string(b)
}

// pair is a linked (or newly matched) left/right record pair and the base
// row it will have once its changes are applied.
type pair struct {
	entity              *spec.Entity
	leftKey, rightKey   string
	left, right         pipeline.Record
	leftHash, rightHash string
	baseLeft, baseRight map[string]any
	hasBase             bool
	newLink             bool
	// newBase* are the base values after a fully successful apply.
	newBaseLeft, newBaseRight map[string]any
	works                     []*work
	// counter is set for pairs of counter entities.
	counter *counterPair
	// counterIntentIDs are journal intents resolved when the base is saved.
	counterIntentIDs []string
	// Set by apply.
	failedFlows []*spec.Flow
	deleted     bool
}

// planned is the internal result of Plan, consumed by Apply.
type planned struct {
	plan    *pipeline.Plan
	works   []*work
	pairs   []*pair // pairs whose base or link changes even without writes
	rejects []pipeline.Reject
	// chunked are creates too many to hold as works; they are numbered
	// after works (see chunked).
	chunked []*chunked
	// unlinkable is set when no expression links to the entity planned:
	// its creates need not be remembered as pending for link().
	unlinkable bool
}

// Plan recovers unresolved journal intents, snapshots both sides and plans
// every entity. It writes nothing to any system.
func (r *Runner) Plan(ctx context.Context) (*pipeline.Plan, error) {
	pl, err := r.plan(ctx, state.ModePlan)
	if err != nil {
		r.finishRun(nil, err)
		return nil, err
	}
	if err := r.recordPlanned(ctx, pl); err != nil {
		return nil, err
	}
	res := &Result{Planned: len(pl.works) + pl.chunkedCount(), Rejected: len(pl.rejects)}
	r.finishRun(res, nil)
	return pl.plan, nil
}

func (r *Runner) plan(ctx context.Context, mode state.Mode) (*planned, error) {
	if err := r.beginRun(ctx, mode); err != nil {
		return nil, err
	}
	if err := r.recover(ctx); err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	return r.planRound(ctx, 0)
}

// planRound snapshots and plans the entities of this round (every entity,
// or r.only in a follow-up round); its changes are numbered after seq.
func (r *Runner) planRound(ctx context.Context, seq int) (*planned, error) {
	start := time.Now()
	rejects, err := r.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	r.log.Debug("snapshot done", "run_id", r.runID, "took", time.Since(start))
	if err := CreateViews(ctx, r.store, r.p); err != nil {
		return nil, err
	}
	if err := r.loadViewSets(ctx); err != nil {
		return nil, err
	}
	fp, err := r.snapshotFingerprint(ctx)
	if err != nil {
		return nil, err
	}
	r.log.Debug("fingerprint done", "run_id", r.runID, "took", time.Since(start))
	pl := &planned{plan: &pipeline.Plan{Pipeline: r.p.Name, RunID: r.runID, CreatedAt: time.Now().UTC(), Snapshot: fp,
		Summary: pipeline.Summary{}}, rejects: rejects}
	for _, e := range r.entities() {
		if err := r.planEntity(ctx, e, pl); err != nil {
			return nil, fmt.Errorf("plan %s: %w", e.Name, err)
		}
		r.log.Debug("entity planned", "entity", e.Name, "run_id", r.runID, "took", time.Since(start))
	}
	for i, w := range pl.works {
		w.change.Seq = seq + i + 1
		pl.plan.Changes = append(pl.plan.Changes, w.change)
	}
	r.numberChunked(ctx, pl, seq+len(pl.works))
	pl.plan.Rejects = pl.rejects
	for _, e := range r.entities() {
		for _, a := range []pipeline.Action{pipeline.Create, pipeline.Update, pipeline.Delete} {
			g := r.opts.Metrics.ChangesPlanned.WithLabelValues(e.Name, string(a))
			if n := float64(pl.plan.Summary[e.Name][a]); seq == 0 {
				g.Set(n)
			} else {
				g.Add(n) // a follow-up round plans more of the same run
			}
		}
	}
	return pl, nil
}

func (pl *planned) count(entity string, a pipeline.Action, n int) {
	if pl.plan.Summary[entity] == nil {
		pl.plan.Summary[entity] = map[pipeline.Action]int{}
	}
	pl.plan.Summary[entity][a] += n
}

func (pl *planned) reject(e *spec.Entity, s spec.Side, key string, reason string) {
	pl.rejects = append(pl.rejects, pipeline.Reject{Entity: e.Name, Connection: s.Conn.Name, Resource: s.Resource.Name, Key: key, Reason: reason})
}

func (r *Runner) planEntity(ctx context.Context, e *spec.Entity, pl *planned) error {
	if e.Counter != nil {
		return r.planCounter(ctx, e, pl)
	}
	pending, err := r.pendingIntents(ctx, e)
	if err != nil {
		return err
	}
	// Pairs that changed on either side since the last sync (or whose
	// entity definition changed).
	changed := ` AND (base.left_key IS NULL OR base.left_hash IS DISTINCT FROM a._hash
		OR base.right_hash IS DISTINCT FROM b._hash OR base.fingerprint IS DISTINCT FROM ?)`
	// Most runs change nothing: ask with keys and hashes only before
	// carrying every record's JSON through the join.
	var n int64
	if err := r.store.DB.QueryRowContext(ctx, `SELECT count(*) `+pairsFrom(e)+changed, e.Name, e.Fingerprint).Scan(&n); err != nil {
		return err
	}
	var pairs []*pair
	if n > 0 {
		if pairs, err = r.loadPairs(ctx, e, pl, changed, e.Fingerprint); err != nil {
			return err
		}
	}
	matched, err := r.matchUnlinked(ctx, e, pl, pending)
	if err != nil {
		return err
	}
	// A match's link is saved with its base whatever its writes do, so
	// the entities planned after this one can use it in this run: an
	// order of a customer matched now is not rejected for want of a link.
	for _, p := range matched {
		r.links.add(e.Name, p.leftKey, p.rightKey)
	}
	pairs = append(pairs, matched...)
	for _, p := range pairs {
		r.planPair(ctx, p, pl)
	}
	return nil
}

// pairsFrom joins an entity's links with both sides' snapshots and the
// base; the WHERE clause takes the entity name as its first argument.
func pairsFrom(e *spec.Entity) string {
	return fmt.Sprintf(`FROM synk.links l
		LEFT JOIN %s a ON a._key = l.left_key
		LEFT JOIN %s b ON b._key = l.right_key
		LEFT JOIN synk.base base ON base.entity = l.entity AND base.left_key = l.left_key
		WHERE l.entity = ?`, table(e.Left), table(e.Right))
}

// loadPairs reads and decodes the linked pairs that filter (SQL appended to
// pairsFrom's WHERE, with args) selects; an unreadable record is a reject.
func (r *Runner) loadPairs(ctx context.Context, e *spec.Entity, pl *planned, filter string, args ...any) ([]*pair, error) {
	q := `SELECT l.left_key, l.right_key, CAST(a._raw AS VARCHAR), CAST(b._raw AS VARCHAR), a._hash, b._hash,
		CAST(base.left_values AS VARCHAR), CAST(base.right_values AS VARCHAR), base.left_key IS NOT NULL ` +
		pairsFrom(e) + filter + ` ORDER BY l.left_key`
	rows, err := r.store.DB.QueryContext(ctx, q, append([]any{e.Name}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var pairs []*pair
	for rows.Next() {
		var lk, rk string
		var lraw, rraw, lh, rh, bl, br sql.NullString
		var hasBase bool
		if err := rows.Scan(&lk, &rk, &lraw, &rraw, &lh, &rh, &bl, &br, &hasBase); err != nil {
			return nil, err
		}
		p := &pair{entity: e, leftKey: lk, rightKey: rk, leftHash: lh.String, rightHash: rh.String, hasBase: hasBase}
		if p.left, err = decodeSide(e.Left, lraw.String); err != nil {
			pl.reject(e, e.Left, lk, "stored record unreadable: "+err.Error())
			continue
		}
		if p.right, err = decodeSide(e.Right, rraw.String); err != nil {
			pl.reject(e, e.Right, rk, "stored record unreadable: "+err.Error())
			continue
		}
		p.baseLeft, p.baseRight = decodeBase(bl.String), decodeBase(br.String)
		pairs = append(pairs, p)
	}
	return pairs, rows.Err()
}

func table(s spec.Side) string { return state.Ident(s.Conn.Name) + "." + state.Ident(s.Resource.Name) }

func decodeSide(s spec.Side, raw string) (pipeline.Record, error) {
	rec, err := decode(raw)
	if err != nil || rec == nil {
		return rec, err
	}
	return rec, state.Coerce(s.Resource, rec)
}

func decodeBase(raw string) map[string]any {
	if raw == "" {
		return map[string]any{}
	}
	rec, err := decode(raw)
	if err != nil || rec == nil {
		return map[string]any{}
	}
	return rec
}

// pendingIntents are source keys whose earlier create is still unresolved:
// creating them again could duplicate, so they wait.
func (r *Runner) pendingIntents(ctx context.Context, e *spec.Entity) (map[string]bool, error) {
	rows, err := r.store.DB.QueryContext(ctx, `SELECT flow, source_key FROM synk.journal WHERE entity = ? AND status = 'pending'`, e.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var f, k string
		if err := rows.Scan(&f, &k); err != nil {
			return nil, err
		}
		out[f+"\x00"+k] = true
	}
	return out, rows.Err()
}

// asStored gives a record from a connector the shape records read back from
// the state file have, so planning compares like with like.
func asStored(s spec.Side, rec pipeline.Record) (pipeline.Record, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	return decodeSide(s, string(b))
}

func (r *Runner) ruleValue(p *transforms.Program, rec pipeline.Record) string {
	v, err := p.Run(r.env(rec, nil))
	if err != nil {
		return ""
	}
	return keyString(normalize(v))
}

// env is the expression environment for one record.
func (r *Runner) env(rec pipeline.Record, link transforms.Link) map[string]any {
	env := make(map[string]any, len(rec)+3)
	for k, v := range rec {
		env[k] = v
	}
	if _, ok := rec["record"]; !ok {
		env["record"] = map[string]any(rec)
	}
	env["vars"] = r.p.Vars
	if r.viewSets != nil {
		env["views"] = r.viewSets
	}
	if link != nil {
		env["link"] = link
	}
	return env
}

// planCreate plans creates of an unmatched record by the flows whose source
// is its side (reverse=false: a left record).
func (r *Runner) planCreate(ctx context.Context, e *spec.Entity, reverse bool, u unlinked, pl *planned, pending map[string]bool) {
	for _, f := range e.Flows {
		if f.Reverse != reverse || !f.Create {
			continue
		}
		if pending[f.Name()+"\x00"+u.key] {
			pl.reject(e, f.From, u.key, "an earlier create is unresolved (its result could not be looked up); it is retried after a successful lookup, never blindly")
			continue
		}
		if ok, err := r.where(f, u.rec); err != nil {
			pl.reject(e, f.From, u.key, err.Error())
			continue
		} else if !ok {
			continue
		}
		waits := map[string]bool{}
		vals, err := r.mapRecord(ctx, f, u.rec, waits)
		if err != nil {
			pl.reject(e, f.From, u.key, err.Error())
			continue
		}
		w := &work{entity: e, flow: f, source: u.rec, sourceHash: u.hash, change: pipeline.Change{Entity: e.Name, Flow: f.Name(), FlowIndex: f.Index,
			Action: pipeline.Create, SourceKey: u.key, After: vals, Waits: sortedKeys(waits)}}
		for _, m := range f.Map {
			w.change.Fields = append(w.change.Fields, m.Field)
		}
		sort.Strings(w.change.Fields)
		w.write = pipeline.Write{Resource: f.To.Resource.Name, IdempotencyKey: idempotencyKey(r.p.Name, e, f, u.key), Set: pipeline.Record(vals)}
		pl.works = append(pl.works, w)
		pl.count(e.Name, pipeline.Create, 1)
		if !pl.unlinkable {
			r.links.pending(e.Name, !reverse, u.key)
		}
	}
}

func idempotencyKey(pipelineName string, e *spec.Entity, f *spec.Flow, sourceKey string) string {
	return pipelineName + "/" + e.Name + "/" + f.From.String() + "/" + sourceKey
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (r *Runner) where(f *spec.Flow, rec pipeline.Record) (bool, error) {
	if f.Where == nil {
		return true, nil
	}
	link := r.linkFunc(context.Background(), f, nil)
	// In a filter, an unlinked record's link() is nil, so `where` can ask
	// whether a record was synced (link("orders", id) != nil).
	lenient := func(entity string, key any) (any, error) {
		v, err := link(entity, key)
		if errors.Is(err, transforms.ErrUnresolvedLink) {
			return nil, nil
		}
		return v, err
	}
	v, err := f.Where.Run(r.env(rec, lenient))
	if err != nil {
		return false, fmt.Errorf("where %s: %v", f.Where.Source(), err)
	}
	b, _ := v.(bool)
	return b, nil
}

// mapRecord evaluates every mapping of f on rec. With waits not nil, links
// to records created earlier in this run are recorded as waits instead of
// failing.
func (r *Runner) mapRecord(ctx context.Context, f *spec.Flow, rec pipeline.Record, waits map[string]bool) (map[string]any, error) {
	return r.mapFields(ctx, f, rec, waits, false)
}

// mapFields evaluates f's mappings; with updateOnly, fields whose rule is
// never are skipped: they are only ever written by a create, so an
// expression that no longer evaluates (an invoiced order edited in the
// shop) must not hold up the fields that may still change.
func (r *Runner) mapFields(ctx context.Context, f *spec.Flow, rec pipeline.Record, waits map[string]bool, updateOnly bool) (map[string]any, error) {
	env := r.env(rec, r.linkFunc(ctx, f, waits))
	out := make(map[string]any, len(f.Map))
	for _, m := range f.Map {
		if updateOnly && m.Overwrite == spec.OverwriteNever {
			continue
		}
		v, err := m.Expr.Run(env)
		if err != nil && len(waits) > 0 {
			// A function saw a placeholder for a record created earlier
			// in this run; apply maps the record again once it exists.
			out[m.Field] = nil
			continue
		}
		if err != nil {
			if errors.Is(err, transforms.ErrUnresolvedLink) {
				return nil, fmt.Errorf("map %s: %v", m.Field, err)
			}
			return nil, fmt.Errorf("map %s = %s: %v", m.Field, m.Expr.Source(), err)
		}
		nv := normalize(v)
		if len(waits) == 0 {
			fld, _ := f.To.Resource.Field(m.Field)
			if nv, err = toField(fld, nv); err != nil {
				return nil, fmt.Errorf("map %s = %s: %v", m.Field, m.Expr.Source(), err)
			}
		}
		out[m.Field] = nv
	}
	return out, nil
}

// planPair plans the flows of one linked pair and its new base.
func (r *Runner) planPair(ctx context.Context, p *pair, pl *planned) {
	e := p.entity
	p.newBaseLeft, p.newBaseRight = clone(p.baseLeft), clone(p.baseRight)
	if p.left == nil && p.right == nil && !p.newLink && r.fullRead[e.Left.String()] && r.fullRead[e.Right.String()] {
		// Both records are gone (a delete whose answer was lost, then
		// found made; or both deleted by hand): the link and base go too,
		// or the pair would stay linked to nothing.
		p.deleted = true
		pl.pairs = append(pl.pairs, p)
		return
	}
	twoWay := false
	for _, f := range e.Flows {
		if f.Reverse != e.Flows[0].Reverse {
			twoWay = true
		}
	}
	for _, f := range e.Flows {
		src, tgt, srcKey, tgtKey := p.left, p.right, p.leftKey, p.rightKey
		base, newBase := p.baseRight, p.newBaseRight
		srcFull, tgtFull := r.fullRead[e.Left.String()], r.fullRead[e.Right.String()]
		if f.Reverse {
			src, tgt, srcKey, tgtKey = p.right, p.left, p.rightKey, p.leftKey
			base, newBase = p.baseLeft, p.newBaseLeft
			srcFull, tgtFull = tgtFull, srcFull
		}
		switch {
		case src == nil && tgt == nil:
			continue
		case src == nil:
			if srcFull && f.Delete != spec.DeleteOff {
				r.planDelete(p, f, srcKey, tgtKey, tgt, pl)
			}
			continue
		case tgt == nil:
			if tgtFull {
				pl.reject(e, f.To, tgtKey, fmt.Sprintf("linked to %s %s but gone from %s; synk will not recreate it on its own", f.From, srcKey, f.To))
				p.failedFlows = append(p.failedFlows, f)
			}
			continue
		}
		if ok, err := r.where(f, src); err != nil {
			pl.reject(e, f.From, srcKey, err.Error())
			p.failedFlows = append(p.failedFlows, f)
			continue
		} else if !ok {
			continue
		}
		waits := map[string]bool{}
		vals, err := r.mapFields(ctx, f, src, waits, true)
		if err != nil {
			pl.reject(e, f.From, srcKey, err.Error())
			p.failedFlows = append(p.failedFlows, f)
			continue
		}
		w := &work{entity: e, flow: f, source: src, pair: p, change: pipeline.Change{Entity: e.Name, Flow: f.Name(), FlowIndex: f.Index,
			Action: pipeline.Update, SourceKey: srcKey, TargetKey: tgtKey, Before: map[string]any{}, After: map[string]any{}, Waits: sortedKeys(waits)}}
		set := pipeline.Record{}
		for _, m := range f.Map {
			if m.Overwrite == spec.OverwriteNever {
				continue // written on create only; its base stays
			}
			nv, cur := vals[m.Field], tgt[m.Field]
			b, hasB := base[m.Field]
			writeOnly := isWriteOnly(f.To.Resource, m.Field)
			if writeOnly {
				// The system never returns it: it holds what synk last
				// wrote, as far as anyone can tell.
				cur = b
			}
			if sameTarget(nv, cur) && (hasB || !writeOnly) {
				newBase[m.Field] = nv
				continue
			}
			if writeOnly && !hasB && isEmpty(nv) && (m.Overwrite == spec.OverwriteWhenChanged || m.Overwrite == spec.OverwriteIfEmpty) {
				// Nothing to say about a value synk cannot see (a phone
				// number typed in the other system): it stays unknown, and
				// a sink that would erase it refuses the write.
				continue
			}
			write, reason, note := r.decide(m, f, p, nv, cur, b, hasB, twoWay && !writeOnly, src, tgt)
			if note != "" && write {
				w.change.Notes = append(w.change.Notes, note)
			}
			if reason != "" {
				// Kept unresolved: the pair is evaluated again next run.
				pl.reject(e, f.To, tgtKey, reason)
				p.failedFlows = append(p.failedFlows, f)
			}
			if !write || !f.Update {
				if writeOnly {
					continue // its base is only ever what synk really wrote
				}
				if m.Overwrite == spec.OverwriteNever || m.Overwrite == spec.OverwriteIfEmpty || (m.Overwrite == spec.OverwriteWhenChanged && !hasChanged(nv, b, hasB)) {
					newBase[m.Field] = nv
				}
				continue
			}
			set[m.Field] = nv
			w.change.Before[m.Field], w.change.After[m.Field] = cur, nv
			w.change.Fields = append(w.change.Fields, m.Field)
			newBase[m.Field] = nv
		}
		if len(set) == 0 {
			continue
		}
		sort.Strings(w.change.Fields)
		w.write = pipeline.Write{Resource: f.To.Resource.Name, Key: tgtKey, Current: tgt, Set: set, Known: known(f.To.Resource, base, set)}
		if rf, ok := r.conns[f.To.Conn.Name].connector.(pipeline.Refuser); ok {
			if err := rf.RefuseUpdate(w.write); err != nil {
				// Refused before any request: a reject now, not a change
				// that fails in every run; the base stays as it was.
				pl.reject(e, f.From, srcKey, fmt.Sprintf("%s %s: %s", pipeline.Update, f.To, err))
				p.failedFlows = append(p.failedFlows, f)
				continue
			}
		}
		p.works = append(p.works, w)
		pl.works = append(pl.works, w)
		pl.count(e.Name, pipeline.Update, 1)
	}
	pl.pairs = append(pl.pairs, p)
}

// isWriteOnly reports whether the system never returns the field.
func isWriteOnly(r pipeline.Resource, field string) bool {
	f, ok := r.Field(field)
	return ok && f.WriteOnly
}

// known is what synk last wrote to the target's write-only fields that set
// leaves out: a sink that replaces whole records sends it so they are not
// erased (see pipeline.Write.Known).
func known(r pipeline.Resource, base map[string]any, set pipeline.Record) pipeline.Record {
	var out pipeline.Record
	for _, f := range r.Fields {
		if !f.WriteOnly {
			continue
		}
		if _, inSet := set[f.Name]; inSet {
			continue
		}
		if v, ok := base[f.Name]; ok {
			if out == nil {
				out = pipeline.Record{}
			}
			out[f.Name] = v
		}
	}
	return out
}

func hasChanged(nv, b any, hasB bool) bool { return !hasB || !equal(nv, b) }

// sameTarget reports whether writing nv would change cur. An object value
// sets only the members it names (an address mapped without the fields
// the system adds), so members it leaves out are not a difference.
func sameTarget(nv, cur any) bool {
	nm, ok1 := nv.(map[string]any)
	cm, ok2 := cur.(map[string]any)
	if !ok1 || !ok2 {
		return equal(nv, cur)
	}
	for k, v := range nm {
		if !equal(v, cm[k]) {
			return false
		}
	}
	return true
}

func (r *Runner) planDelete(p *pair, f *spec.Flow, srcKey, tgtKey string, tgt pipeline.Record, pl *planned) {
	e := p.entity
	w := &work{entity: e, flow: f, pair: p, change: pipeline.Change{Entity: e.Name, Flow: f.Name(), FlowIndex: f.Index,
		Action: pipeline.Delete, SourceKey: srcKey, TargetKey: tgtKey}}
	base := p.baseRight
	if f.Reverse {
		base = p.baseLeft
	}
	w.write = pipeline.Write{Resource: f.To.Resource.Name, Key: tgtKey, Current: tgt, Known: known(f.To.Resource, base, nil)}
	if f.Delete == spec.DeleteDeactivate {
		af := f.To.Resource.ActiveField
		if b, _ := tgt[af].(bool); !b {
			return // already inactive
		}
		w.change.Action = pipeline.Update
		w.change.Fields = []string{af}
		w.change.Before, w.change.After = map[string]any{af: tgt[af]}, map[string]any{af: false}
		w.write.Set = pipeline.Record{af: false}
		pl.count(e.Name, pipeline.Update, 1)
	} else {
		pl.count(e.Name, pipeline.Delete, 1)
	}
	p.works = append(p.works, w)
	pl.works = append(pl.works, w)
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
