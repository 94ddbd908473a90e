package engine

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/state"
)

// recordPlanned stores the plan's changes and rejects in the state file;
// the changes in one bulk statement (a 1% change of a million records is
// ten thousand rows).
func (r *Runner) recordPlanned(ctx context.Context, pl *planned) error {
	store := func(works []*work) error {
		b := state.NewBulk(changeCols...)
		for _, w := range works {
			b.Add(changeRow(w)...)
		}
		r.stateMu.Lock()
		defer r.stateMu.Unlock()
		return r.store.ExecBulk(ctx, b, `INSERT INTO synk.changes SELECT '`+r.runID+`', CAST(seq AS BIGINT), entity, flow, action,
			source_key, target_key, CAST(fields AS VARCHAR[]), CAST(before AS JSON), CAST(after AS JSON), 'planned', '', now() FROM bulk`)
	}
	err := store(pl.works)
	// Creates planned in chunks are recorded a chunk at a time.
	for _, c := range pl.chunked {
		if err != nil {
			break
		}
		err = r.eachChunk(ctx, c, store)
	}
	if err != nil {
		return fmt.Errorf("record planned changes: %w", err)
	}
	return r.insertRejects(ctx, pl.rejects)
}

// changeCols are the columns of changeRow, as a state.Bulk names them.
var changeCols = []string{"seq", "entity", "flow", "action", "source_key", "target_key", "fields", "before", "after"}

// changeRow is w's change as a row of a state.Bulk with changeCols; SQL
// over it casts seq to BIGINT, fields to VARCHAR[] and before and after
// to JSON.
func changeRow(w *work) []driver.Value {
	before, _ := json.Marshal(w.change.Before)
	after := afterJSON(w)
	fields := "[" + strings.Join(quoteAll(w.change.Fields), ",") + "]"
	return []driver.Value{fmt.Sprint(w.change.Seq), w.change.Entity, w.change.Flow, string(w.change.Action), w.change.SourceKey,
		w.change.TargetKey, fields, string(before), after}
}

// afterJSON is w's change's After as JSON: a create's is its write's Set,
// the same map, made once (see setJSON).
func afterJSON(w *work) string {
	if w.change.Action == pipeline.Create {
		return w.setJSON()
	}
	b, _ := json.Marshal(w.change.After)
	return string(b)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (r *Runner) insertChange(ctx context.Context, ex execer, w *work, status, errMsg string) error {
	before, _ := json.Marshal(w.change.Before)
	after := afterJSON(w)
	fields := "[" + strings.Join(quoteAll(w.change.Fields), ",") + "]"
	_, err := ex.ExecContext(ctx, `INSERT INTO synk.changes VALUES (?, ?, ?, ?, ?, ?, ?, CAST(? AS VARCHAR[]), ?, ?, ?, ?, now())`,
		r.runID, w.change.Seq, w.change.Entity, w.change.Flow, string(w.change.Action), w.change.SourceKey, w.change.TargetKey,
		fields, string(before), after, status, r.p.Redact(errMsg))
	return err
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	return out
}

// insertRejects stores rejects in synk.rejects in one statement and counts
// them in synk_rejects_total.
func (r *Runner) insertRejects(ctx context.Context, rejects []pipeline.Reject) error {
	b := state.NewBulk("entity", "connection", "resource", "record_key", "reason")
	for _, rj := range rejects {
		b.Add(rj.Entity, rj.Connection, rj.Resource, rj.Key, r.p.Redact(rj.Reason))
	}
	if err := r.store.ExecBulk(ctx, b, `INSERT INTO synk.rejects SELECT '`+r.runID+`', entity, connection, resource, record_key, reason,
		NULL, now() FROM bulk`); err != nil {
		return err
	}
	for _, rj := range rejects {
		if rj.Entity != "" {
			r.opts.Metrics.Rejects.WithLabelValues(rj.Entity).Inc()
		}
	}
	return nil
}
