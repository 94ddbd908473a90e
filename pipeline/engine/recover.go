package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

// recover resolves create intents a crash or a lost response left pending:
// the sink's Finder says whether the record exists; found ones are linked,
// missing ones are marked failed so the plan may create them again.
func (r *Runner) recover(ctx context.Context) error {
	rows, err := r.store.DB.QueryContext(ctx, `SELECT id, entity, flow, connection, resource, idempotency_key, source_key, CAST(write AS VARCHAR)
		FROM synk.journal WHERE status = 'pending' ORDER BY created_at`)
	if err != nil {
		return fmt.Errorf("read journal: %w", err)
	}
	type intent struct{ id, entity, flow, conn, resource, idem, source, write string }
	var intents []intent
	for rows.Next() {
		var it intent
		var wr sql.NullString
		if err := rows.Scan(&it.id, &it.entity, &it.flow, &it.conn, &it.resource, &it.idem, &it.source, &wr); err != nil {
			rows.Close()
			return err
		}
		it.write = wr.String
		intents = append(intents, it)
	}
	rows.Close()
	for _, it := range intents {
		e := r.p.Entity(it.entity)
		c := r.conns[it.conn]
		if e == nil || c == nil {
			continue // the pipeline no longer has it; keep the intent for when it does
		}
		var flow *spec.Flow
		for _, f := range e.Flows {
			if f.Name() == it.flow {
				flow = f
			}
		}
		finder, ok := c.connector.(pipeline.Finder)
		if flow == nil || !ok {
			continue
		}
		set, _ := decode(it.write)
		rec, found, err := finder.Find(ctx, pipeline.Write{Resource: it.resource, IdempotencyKey: it.idem, Set: set})
		if err != nil {
			r.log.Warn("journal lookup failed; the create stays on hold", "entity", it.entity, "key", it.source, "err", r.p.Redact(err.Error()))
			continue
		}
		if !found {
			if _, err := r.store.DB.ExecContext(context.WithoutCancel(ctx), `UPDATE synk.journal SET status = 'failed', resolved_at = now() WHERE id = ?`, it.id); err != nil {
				return err
			}
			continue
		}
		key := keyString(rec[flow.To.Resource.Key])
		left, right := it.source, key
		if flow.Reverse {
			left, right = key, it.source
		}
		// The source as last read: the base of its own side.
		var src pipeline.Record
		var raw sql.NullString
		if err := r.store.DB.QueryRowContext(ctx, fmt.Sprintf(`SELECT CAST(_raw AS VARCHAR) FROM %s WHERE _key = ?`, table(flow.From)), it.source).Scan(&raw); err == nil {
			src, _ = decodeSide(flow.From, raw.String)
		}
		if err := r.linkRecovered(ctx, it.id, e, flow, left, right, key, set, src); err != nil {
			return err
		}
		r.log.Info("recovered a create from the journal", "entity", it.entity, "key", it.source, "target_key", key)
	}
	return nil
}

func (r *Runner) linkRecovered(ctx context.Context, id string, e *spec.Entity, f *spec.Flow, left, right, key string, set, src pipeline.Record) error {
	ctx = context.WithoutCancel(ctx) // a state write, once begun, ends (see state.Store)
	tx, err := r.store.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE synk.journal SET status = 'done', target_key = ?, resolved_at = now() WHERE id = ?`, key, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO synk.links VALUES (?, ?, ?, ?, now())`, e.Name, left, right, r.runID); err != nil {
		return err
	}
	bv, _ := json.Marshal(map[string]any(set))
	sv, _ := json.Marshal(sourceBase(e, f, src))
	lv, rv := string(sv), string(bv)
	if f.Reverse {
		lv, rv = rv, lv
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO synk.base VALUES (?, ?, ?, '', '', ?, ?, ?, now())`,
		e.Name, left, right, lv, rv, e.Fingerprint); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	r.links.add(e.Name, left, right)
	return nil
}

// sourceBase is the base of a created record's own side: its values, as
// read, of the fields that flows in the other direction write. Without it
// an edit of the new copy looks like a conflict (no base on either side)
// instead of a change that flows back.
func sourceBase(e *spec.Entity, f *spec.Flow, src pipeline.Record) map[string]any {
	out := map[string]any{}
	if src == nil {
		return out
	}
	for _, g := range e.Flows {
		if g.Reverse == f.Reverse {
			continue
		}
		for _, m := range g.Map {
			if isWriteOnly(f.From.Resource, m.Field) {
				continue // never read, so not known: see planPair
			}
			out[m.Field] = src[m.Field]
		}
	}
	return out
}
