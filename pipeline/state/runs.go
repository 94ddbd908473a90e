package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Mode is what a run did: plan only, or plan and apply.
type Mode string

// The modes synk.runs records.
const (
	ModePlan  Mode = "plan"
	ModeApply Mode = "apply"
)

// Outcome is how a run ended, as synk.runs keeps it.
type Outcome struct {
	// Status is success, partial, stopped or failed (engine.Status says
	// which); running while the run goes on or if its process died.
	Status   string
	Planned  int
	Applied  int
	Failed   int
	Rejected int
	// Error is why the run failed, already redacted.
	Error string
}

// RunRecord is one row of synk.runs.
type RunRecord struct {
	ID       string
	Pipeline string
	Mode     Mode
	Started  time.Time
	// Finished is zero for a run that has not finished.
	Finished time.Time
	Outcome
}

// BeginRun records that a run started: status running until FinishRun.
func (s *Store) BeginRun(ctx context.Context, id, pipeline string, mode Mode) error {
	_, err := s.DB.ExecContext(context.WithoutCancel(ctx), `INSERT INTO synk.runs (run_id, pipeline, mode, started_at, status) VALUES (?, ?, ?, now(), 'running')`,
		id, pipeline, string(mode))
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	return nil
}

// FinishRun records how the run id ended.
func (s *Store) FinishRun(ctx context.Context, id string, o Outcome) error {
	_, err := s.DB.ExecContext(context.WithoutCancel(ctx), `UPDATE synk.runs SET finished_at = now(), status = ?, planned = ?, applied = ?, failed = ?, rejected = ?, error = ? WHERE run_id = ?`,
		o.Status, o.Planned, o.Applied, o.Failed, o.Rejected, o.Error, id)
	if err != nil {
		return fmt.Errorf("record run end: %w", err)
	}
	return nil
}

const runColumns = `run_id, pipeline, mode, started_at, finished_at, status, planned, applied, failed, rejected, coalesce(error, '')`

type scanner interface {
	Scan(dest ...any) error
}

func scanRun(sc scanner) (RunRecord, error) {
	var r RunRecord
	var mode string
	var finished sql.NullTime
	if err := sc.Scan(&r.ID, &r.Pipeline, &mode, &r.Started, &finished, &r.Status,
		&r.Planned, &r.Applied, &r.Failed, &r.Rejected, &r.Error); err != nil {
		return RunRecord{}, err
	}
	r.Mode, r.Finished = Mode(mode), finished.Time
	return r, nil
}

// LastRun is the pipeline's latest run in mode; false if it has none.
func (s *Store) LastRun(ctx context.Context, pipeline string, mode Mode) (RunRecord, bool, error) {
	r, err := scanRun(s.DB.QueryRowContext(ctx, `SELECT `+runColumns+`
		FROM synk.runs WHERE pipeline = ? AND mode = ? ORDER BY started_at DESC, run_id DESC LIMIT 1`, pipeline, string(mode)))
	if errors.Is(err, sql.ErrNoRows) {
		return RunRecord{}, false, nil
	}
	if err != nil {
		return RunRecord{}, false, fmt.Errorf("read last run: %w", err)
	}
	return r, true, nil
}

// LastSuccess is when the pipeline's latest successful run in mode
// finished; false if none succeeded.
func (s *Store) LastSuccess(ctx context.Context, pipeline string, mode Mode) (time.Time, bool, error) {
	var at sql.NullTime
	err := s.DB.QueryRowContext(ctx, `SELECT max(finished_at) FROM synk.runs WHERE pipeline = ? AND mode = ? AND status = 'success'`,
		pipeline, string(mode)).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read last success: %w", err)
	}
	return at.Time, at.Valid, nil
}

// Runs are every run in the file, oldest first.
func (s *Store) Runs(ctx context.Context) ([]RunRecord, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT `+runColumns+` FROM synk.runs ORDER BY started_at, run_id`)
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	defer rows.Close()
	var out []RunRecord
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("read runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	return out, nil
}

// Change is one row of synk.changes: a write a run planned or made.
type Change struct {
	Seq       int
	Entity    string
	Flow      string
	Action    string
	SourceKey string
	TargetKey string
	Fields    []string
	// Before and After are the changed record's values, decoded from JSON.
	Before map[string]any
	After  map[string]any
	// Status is planned, applied, failed or not_attempted.
	Status string
	Error  string
}

// AppliedChanges are the writes the run made, in the order it planned
// them.
func (s *Store) AppliedChanges(ctx context.Context, runID string) ([]Change, error) {
	rows, err := s.DB.QueryContext(ctx, `
		SELECT seq, entity, flow, action, coalesce(source_key, ''), coalesce(target_key, ''), coalesce(to_json(fields)::VARCHAR, '[]'),
			coalesce(before::VARCHAR, '{}'), coalesce(after::VARCHAR, '{}'), status, coalesce(error, '')
		FROM synk.changes WHERE run_id = ? AND status = 'applied' ORDER BY seq`, runID)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var fields, before, after string
		if err := rows.Scan(&c.Seq, &c.Entity, &c.Flow, &c.Action, &c.SourceKey, &c.TargetKey, &fields, &before, &after, &c.Status, &c.Error); err != nil {
			return nil, fmt.Errorf("read changes: %w", err)
		}
		if err := errors.Join(json.Unmarshal([]byte(fields), &c.Fields), json.Unmarshal([]byte(before), &c.Before),
			json.Unmarshal([]byte(after), &c.After)); err != nil {
			return nil, fmt.Errorf("read change %d of run %s: %w", c.Seq, runID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return out, nil
}
