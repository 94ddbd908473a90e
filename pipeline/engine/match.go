package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

type unlinked struct {
	key  string
	rec  pipeline.Record
	hash string
}

// unlinkedFrom selects a side's records that no link of e names; the
// entity's name is its one argument.
func unlinkedFrom(s spec.Side, col string) string {
	return fmt.Sprintf(`FROM %s a WHERE NOT EXISTS
		(SELECT 1 FROM synk.links l WHERE l.entity = ? AND l.%s = a._key)`, table(s), col)
}

// countUnlinked counts a side's unlinked records by keys only: no
// record's JSON is read when all are linked.
func (r *Runner) countUnlinked(ctx context.Context, e *spec.Entity, s spec.Side, col string) (int64, error) {
	var n int64
	err := r.store.DB.QueryRowContext(ctx, `SELECT count(*) `+unlinkedFrom(s, col), e.Name).Scan(&n)
	return n, err
}

// loadUnlinked reads and decodes a side's n unlinked records (as counted
// by countUnlinked), in key order; an unreadable one is left out.
func (r *Runner) loadUnlinked(ctx context.Context, e *spec.Entity, s spec.Side, col string, n int64) ([]unlinked, error) {
	if n == 0 {
		return nil, nil
	}
	var out []unlinked
	err := r.streamUnlinked(ctx, e, s, col, int(n), func(us []unlinked) error {
		out = append(out, us...)
		return nil
	})
	return out, err
}

// streamUnlinked reads and decodes a side's unlinked records in key order
// and calls fn with each run of size of them (the last may be shorter);
// fn may keep them. An unreadable record is left out.
func (r *Runner) streamUnlinked(ctx context.Context, e *spec.Entity, s spec.Side, col string, size int, fn func([]unlinked) error) error {
	rows, err := r.store.DB.QueryContext(ctx, `SELECT _key, CAST(_raw AS VARCHAR), _hash `+unlinkedFrom(s, col)+` ORDER BY _key`, e.Name)
	if err != nil {
		return err
	}
	defer rows.Close()
	buf := make([]unlinked, 0, size)
	for rows.Next() {
		var u unlinked
		var raw string
		if err := rows.Scan(&u.key, &raw, &u.hash); err != nil {
			return err
		}
		if u.rec, err = decodeSide(s, raw); err != nil {
			continue
		}
		buf = append(buf, u)
		if len(buf) == size {
			if err := fn(buf); err != nil {
				return err
			}
			buf = make([]unlinked, 0, size)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(buf) > 0 {
		return fn(buf)
	}
	return nil
}

// matchUnlinked pairs unlinked records with the entity's match rules, in
// order: the first rule that finds exactly one candidate wins; two
// candidates are a reject naming both, never a guess. What stays unmatched
// is planned as a create by the flows that may create.
func (r *Runner) matchUnlinked(ctx context.Context, e *spec.Entity, pl *planned, pending map[string]bool) ([]*pair, error) {
	nl, err := r.countUnlinked(ctx, e, e.Left, "left_key")
	if err != nil {
		return nil, err
	}
	nr, err := r.countUnlinked(ctx, e, e.Right, "right_key")
	if err != nil {
		return nil, err
	}
	// A side with more unlinked records than a chunk, none of which could
	// be paired, is planned in chunks (see chunked) and not loaded here.
	var lefts, rights []unlinked
	for _, c := range []*chunked{
		{entity: e, side: e.Left, col: "left_key", pending: pending},
		{entity: e, side: e.Right, col: "right_key", reverse: true, pending: pending},
	} {
		n, other, into := nl, nr, &lefts
		if c.reverse {
			n, other, into = nr, nl, &rights
		}
		if r.chunkable(e, c.reverse, n, other) {
			if err := r.planChunked(ctx, c, pl); err != nil {
				return nil, err
			}
			pl.chunked = append(pl.chunked, c)
			continue
		}
		if *into, err = r.loadUnlinked(ctx, e, c.side, c.col, n); err != nil {
			return nil, err
		}
	}
	leftDone := make([]bool, len(lefts))
	rightDone := make([]bool, len(rights))
	pairs, err := r.lookupUnlinked(ctx, e, pl, lefts, rights, leftDone, rightDone)
	if err != nil {
		return nil, err
	}
	ambiguous := map[string]bool{}
	for _, rule := range e.Match {
		if len(lefts) == 0 || len(rights) == 0 {
			break
		}
		rIdx := map[string][]int{}
		for i, u := range rights {
			if rightDone[i] {
				continue
			}
			if v := r.ruleValue(rule.Right, u.rec); v != "" {
				rIdx[v] = append(rIdx[v], i)
			}
		}
		lIdx := map[string][]int{}
		for i, u := range lefts {
			if leftDone[i] {
				continue
			}
			if v := r.ruleValue(rule.Left, u.rec); v != "" {
				lIdx[v] = append(lIdx[v], i)
			}
		}
		for v, ls := range lIdx {
			rs := rIdx[v]
			if len(rs) == 0 {
				continue
			}
			if len(ls) > 1 || len(rs) > 1 {
				var lk, rk []string
				for _, i := range ls {
					lk = append(lk, lefts[i].key)
				}
				for _, i := range rs {
					rk = append(rk, rights[i].key)
				}
				for _, i := range ls {
					if !ambiguous[lefts[i].key] {
						ambiguous[lefts[i].key] = true
						pl.reject(e, e.Left, lefts[i].key, fmt.Sprintf("match %q is ambiguous: %s %s ⇄ %s %s; fix the data, synk never guesses",
							rule.Left.Source(), e.Left, strings.Join(lk, ","), e.Right, strings.Join(rk, ",")))
					}
					leftDone[i] = true
				}
				for _, i := range rs {
					rightDone[i] = true
				}
				continue
			}
			li, ri := ls[0], rs[0]
			leftDone[li], rightDone[ri] = true, true
			pairs = append(pairs, &pair{entity: e, leftKey: lefts[li].key, rightKey: rights[ri].key,
				left: lefts[li].rec, right: rights[ri].rec, leftHash: lefts[li].hash, rightHash: rights[ri].hash,
				baseLeft: map[string]any{}, baseRight: map[string]any{}, newLink: true})
		}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].leftKey < pairs[j].leftKey })
	for i, u := range lefts {
		if !leftDone[i] {
			r.planCreate(ctx, e, false, u, pl, pending)
		}
	}
	for i, u := range rights {
		if !rightDone[i] {
			r.planCreate(ctx, e, true, u, pl, pending)
		}
	}
	return pairs, nil
}

// lookupUnlinked runs before the match rules: for each unlinked record
// that a flow with lookup: may create, it asks the target's Finder for a
// record with the looked-up values (a key the system filters on but never
// lists, like Fiken's memberNumberString). A found record is paired with
// it; one already linked to another record is a reject, never a second
// link; a lookup that fails holds the record back this run rather than
// risk creating a duplicate.
func (r *Runner) lookupUnlinked(ctx context.Context, e *spec.Entity, pl *planned, lefts, rights []unlinked, leftDone, rightDone []bool) ([]*pair, error) {
	var pairs []*pair
	for _, f := range e.Flows {
		if len(f.Lookup) == 0 {
			continue
		}
		finder, ok := r.conns[f.To.Conn.Name].connector.(pipeline.Finder)
		if !ok {
			return nil, fmt.Errorf("flow %s has lookup:, but connection %s cannot look records up", f.Name(), f.To.Conn.Name)
		}
		links, err := r.links.get(ctx, e.Name)
		if err != nil {
			return nil, err
		}
		srcs, srcDone, tgts, tgtDone, linkedTo := lefts, leftDone, rights, rightDone, links.r2l
		if f.Reverse {
			srcs, srcDone, tgts, tgtDone, linkedTo = rights, rightDone, lefts, leftDone, links.l2r
		}
		byKey := make(map[string]int, len(tgts))
		for j, t := range tgts {
			byKey[t.key] = j
		}
		for i, u := range srcs {
			if srcDone[i] {
				continue
			}
			if ok, err := r.where(f, u.rec); err != nil || !ok {
				continue // not a record this flow creates (planCreate reports a broken where)
			}
			set := r.lookupValues(ctx, f, u.rec)
			if set == nil {
				continue
			}
			found, ok, err := finder.Find(ctx, pipeline.Write{Resource: f.To.Resource.Name, Set: set})
			if err != nil {
				srcDone[i] = true
				pl.reject(e, f.From, u.key, fmt.Sprintf("lookup in %s by %s failed, so it is not created this run: %s", f.To, lookupDesc(set), r.p.Redact(err.Error())))
				continue
			}
			if !ok {
				continue
			}
			key := keyString(found[f.To.Resource.Key])
			j, inSnapshot := byKey[key]
			other, linked := linkedTo[key]
			switch {
			case key == "":
				return nil, fmt.Errorf("lookup in %s returned a record without %s", f.To, f.To.Resource.Key)
			case linked || (inSnapshot && tgtDone[j]):
				srcDone[i] = true
				if !linked {
					other = "another record"
				}
				pl.reject(e, f.From, u.key, fmt.Sprintf("lookup in %s by %s found %s %s, which is already paired with %s %s; fix the data, synk never links one record twice",
					f.To, lookupDesc(set), f.To, key, f.From, other))
				continue
			}
			tgt, tgtHash := pipeline.Record(nil), ""
			if inSnapshot {
				tgt, tgtHash = tgts[j].rec, tgts[j].hash
				tgtDone[j] = true
			} else if tgt, err = asStored(f.To, found); err != nil {
				return nil, fmt.Errorf("lookup in %s: %w", f.To, err)
			}
			srcDone[i] = true
			p := &pair{entity: e, leftKey: u.key, rightKey: key, left: u.rec, right: tgt, leftHash: u.hash, rightHash: tgtHash,
				baseLeft: map[string]any{}, baseRight: map[string]any{}, newLink: true}
			if f.Reverse {
				p.leftKey, p.rightKey, p.left, p.right, p.leftHash, p.rightHash = key, u.key, tgt, u.rec, tgtHash, u.hash
			}
			pairs = append(pairs, p)
		}
	}
	return pairs, nil
}

// lookupValues evaluates the mappings a flow looks records up by; nil when
// none has a value (nothing to look for) or one cannot be evaluated (the
// create reports it).
func (r *Runner) lookupValues(ctx context.Context, f *spec.Flow, rec pipeline.Record) pipeline.Record {
	env := r.env(rec, r.linkFunc(ctx, f, nil))
	set := pipeline.Record{}
	for _, m := range f.Map {
		if !slices.Contains(f.Lookup, m.Field) {
			continue
		}
		v, err := m.Expr.Run(env)
		if err != nil {
			return nil
		}
		if v = normalize(v); !isEmpty(v) {
			set[m.Field] = v
		}
	}
	if len(set) == 0 {
		return nil
	}
	return set
}

func lookupDesc(set pipeline.Record) string {
	parts := make([]string, 0, len(set))
	for k, v := range set {
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
