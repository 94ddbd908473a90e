package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/sourcegraph/conc/pool"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// entities are the entities this round reads and plans: all of them, or
// in a follow-up round only those r.only names.
func (r *Runner) entities() []*spec.Entity {
	if r.only == nil {
		return r.p.Entities
	}
	var out []*spec.Entity
	for _, e := range r.p.Entities {
		if r.only[e.Name] {
			out = append(out, e)
		}
	}
	return out
}

// sides lists every resource this round's entities read, once.
func (r *Runner) sides() []spec.Side {
	seen := map[string]bool{}
	var out []spec.Side
	for _, e := range r.entities() {
		for _, s := range []spec.Side{e.Left, e.Right} {
			if !seen[s.String()] {
				seen[s.String()] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// snapshot reads every side into the state file, concurrently across
// resources (each connection's limiter bounds its own requests).
func (r *Runner) snapshot(ctx context.Context) ([]pipeline.Reject, error) {
	p := pool.NewWithResults[[]pipeline.Reject]().WithContext(ctx).WithMaxGoroutines(4)
	for _, s := range r.sides() {
		p.Go(func(ctx context.Context) ([]pipeline.Reject, error) {
			return r.readSide(ctx, s)
		})
	}
	res, err := p.Wait()
	// Reading a million records leaves hundreds of MB of garbage (the
	// connectors' records, their JSON) that the Go runtime would hand back
	// to the OS only slowly; planning's DuckDB joins come next and need the
	// memory. Returning it now lowers a 1M-record plan's peak RSS by about
	// 130 MiB, for one garbage collection per run.
	debug.FreeOSMemory()
	var rejects []pipeline.Reject
	for _, r := range res {
		rejects = append(rejects, r...)
	}
	return rejects, err
}

type emitter struct {
	side   spec.Side
	loader *state.Loader
	// writeMu is the run's state lock: staging a row may write to DuckDB
	// (the stage's creation, an appender's flush), which must not run
	// alongside another side's commit (see readSide).
	writeMu *sync.Mutex
	rejects []pipeline.Reject
	n       int64
	// buf is reused for every record's canonical JSON: a record whose hash
	// matches its stored row allocates nothing here.
	buf []byte
	enc canonicalEncoder
	// venc encodes records handed over as values (EmitValues); nil when
	// the resource's records cannot be.
	venc *valuesEncoder
}

func (e *emitter) Emit(rec pipeline.Record) error {
	key := keyString(rec[e.side.Resource.Key])
	if key == "" {
		return e.Reject("", nil, fmt.Errorf("record has no %s", e.side.Resource.Key))
	}
	stored, dup := e.loader.Seen(key)
	if dup {
		return e.Reject(key, nil, fmt.Errorf("duplicate %s %s in one read", e.side.Resource.Key, key))
	}
	if err := state.Coerce(e.side.Resource, rec); err != nil {
		return e.Reject(key, nil, err)
	}
	raw, sum, err := e.enc.canonical(e.buf[:0], rec)
	if err != nil {
		return e.Reject(key, nil, err)
	}
	e.buf = raw
	e.n++
	if e.loader.Keep(stored, sum) {
		return nil
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	return e.loader.Add(state.Row{Key: key, Hash: hashString(sum), Raw: string(raw), Record: rec})
}

func (e *emitter) Reject(key string, raw []byte, reason error) error {
	e.rejects = append(e.rejects, pipeline.Reject{Connection: e.side.Conn.Name, Resource: e.side.Resource.Name,
		Key: key, Reason: "read: " + reason.Error()})
	return nil
}

func (r *Runner) readSide(ctx context.Context, s spec.Side) ([]pipeline.Reject, error) {
	c := r.conns[s.Conn.Name]
	src, ok := c.connector.(pipeline.Source)
	if !ok {
		return nil, fmt.Errorf("connection %s (%s) cannot be read", s.Conn.Name, s.Conn.Type.Name)
	}
	full, since, runsSinceFull, err := r.cursor(ctx, s)
	if err != nil {
		return nil, err
	}
	started := time.Now().UTC()
	vs, versioned := src.(pipeline.ReadVersioner)
	var version string
	if full && versioned {
		var skipped bool
		var rejects []pipeline.Reject
		version, skipped, rejects, err = r.unchanged(ctx, s, vs)
		if err != nil {
			return nil, err
		}
		if skipped {
			return rejects, r.saveCursor(ctx, s, full, started, runsSinceFull)
		}
	}
	loader, err := r.store.NewLoader(ctx, s.Conn.Name, s.Resource, full)
	if err != nil {
		return nil, err
	}
	em := &emitter{side: s, loader: loader, writeMu: &r.stateMu, buf: make([]byte, 0, 512), venc: newValuesEncoder(s.Resource)}
	q := pipeline.ReadQuery{}
	if !full {
		q.Since = since
	}
	if err := src.Read(ctx, s.Resource.Name, q, em); err != nil {
		loader.Abort()
		return nil, fmt.Errorf("read %s: %w", s, r.p.RedactError(err))
	}
	r.log.Debug("read done", "connection", s.Conn.Name, "resource", s.Resource.Name, "took", time.Since(started))
	// DuckDB can abort one of two concurrent write transactions with
	// "Conflict on update!" even when they touch different tables
	// (duckdb/duckdb#20053): sides are read concurrently, but what they
	// write to the state file is written one at a time, like every other
	// state write of a run.
	r.stateMu.Lock()
	_, err = loader.Commit(context.WithoutCancel(ctx))
	r.stateMu.Unlock()
	if err != nil {
		return nil, err
	}
	r.opts.Metrics.RecordsRead.WithLabelValues(s.Conn.Name, s.Resource.Name).Add(float64(em.n))
	if full && versioned {
		if err := r.saveVersion(ctx, s, vs, version, em); err != nil {
			return nil, err
		}
	}
	r.log.Debug("read", "connection", s.Conn.Name, "resource", s.Resource.Name, "records", em.n, "full", full)
	return em.rejects, r.saveCursor(ctx, s, full, started, runsSinceFull)
}

// unchanged asks a ReadVersioner for the resource's version and reports
// whether the read can be skipped: the version is the one stored by the
// last full read, and the snapshot table still holds exactly what that
// read left (state.Store.LastRead). A skipped read gives the stored read's
// rejects again, and leaves the snapshot as it is, as a read that keeps
// every row does. version is "" when the source could not tell.
func (r *Runner) unchanged(ctx context.Context, s spec.Side, vs pipeline.ReadVersioner) (version string, skip bool, rejects []pipeline.Reject, err error) {
	version, err = vs.ReadVersion(ctx, s.Resource.Name)
	if err != nil {
		if ctx.Err() != nil {
			return "", false, nil, ctx.Err()
		}
		// The read itself says what is wrong, or reads what it can.
		r.log.Debug("read version unknown", "connection", s.Conn.Name, "resource", s.Resource.Name, "error", r.p.RedactError(err))
		return "", false, nil, nil
	}
	if version == "" {
		return "", false, nil, nil
	}
	last, ok, err := r.store.LastRead(ctx, s.Conn.Name, s.Resource)
	if err != nil {
		return "", false, nil, err
	}
	if !ok || last.Version != version {
		return version, false, nil, nil
	}
	r.log.Debug("read skipped: unchanged since the last read", "connection", s.Conn.Name, "resource", s.Resource.Name,
		"records", last.Records)
	return version, true, last.Rejects, nil
}

// saveVersion stores the version of a full read that just committed, for
// the next run's unchanged. The version was taken before the read; it is
// taken again now and kept only if the two agree, so a source that changed
// while it was read is read again next time. An unknown version forgets
// the stored one.
func (r *Runner) saveVersion(ctx context.Context, s spec.Side, vs pipeline.ReadVersioner, version string, em *emitter) error {
	if version != "" {
		if after, err := vs.ReadVersion(ctx, s.Resource.Name); err != nil || after != version {
			version = ""
		}
	}
	rejects := make([]pipeline.Reject, len(em.rejects))
	for i, rj := range em.rejects {
		rj.Reason = r.p.Redact(rj.Reason)
		rejects[i] = rj
	}
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	if err := r.store.SaveRead(ctx, s.Conn.Name, s.Resource, state.ReadVersion{Version: version, Records: em.n, Rejects: rejects}); err != nil {
		return fmt.Errorf("read %s: %w", s, err)
	}
	return nil
}

// saveCursor records a finished read: its start (the next incremental
// read's Since) and whether it was full.
func (r *Runner) saveCursor(ctx context.Context, s spec.Side, full bool, started time.Time, runsSinceFull int64) error {
	if full {
		runsSinceFull = 0
	} else {
		runsSinceFull++
	}
	r.mu.Lock()
	r.fullRead[s.String()] = full
	r.mu.Unlock()
	r.stateMu.Lock()
	_, err := r.store.DB.ExecContext(context.WithoutCancel(ctx), `INSERT OR REPLACE INTO synk.cursors VALUES (?, ?, ?, ?)`,
		s.Conn.Name, s.Resource.Name, started, runsSinceFull)
	r.stateMu.Unlock()
	if err != nil {
		return fmt.Errorf("save cursor %s: %w", s, err)
	}
	return nil
}

// cursor decides between a full and an incremental read.
func (r *Runner) cursor(ctx context.Context, s spec.Side) (full bool, since time.Time, runsSinceFull int64, err error) {
	if !s.Resource.Incremental || r.opts.Full {
		return true, time.Time{}, 0, nil
	}
	err = r.store.DB.QueryRowContext(ctx, `SELECT read_started_at, runs_since_full FROM synk.cursors WHERE connection = ? AND resource = ?`,
		s.Conn.Name, s.Resource.Name).Scan(&since, &runsSinceFull)
	if errors.Is(err, sql.ErrNoRows) {
		return true, time.Time{}, 0, nil
	}
	if err != nil {
		return false, time.Time{}, 0, fmt.Errorf("read cursor %s: %w", s, err)
	}
	if s.Conn.FullEvery > 0 && runsSinceFull+1 >= int64(s.Conn.FullEvery) {
		return true, time.Time{}, runsSinceFull, nil
	}
	return false, since, runsSinceFull, nil
}

// snapshotFingerprint hashes every side's keys and hashes plus the state
// that planning reads, so a saved plan can tell it is stale. DuckDB's
// many-argument hash() spares building a string per row; a base row is
// represented by its hashes, entity fingerprint and updated_at (every
// write of a base row sets it), not by its JSON values, which are by far
// the widest columns to read.
func (r *Runner) snapshotFingerprint(ctx context.Context) (string, error) {
	var parts []string
	for _, s := range r.sides() {
		var h sql.NullString
		q := fmt.Sprintf(`SELECT CAST(bit_xor(hash(_key, _hash)) AS VARCHAR) || ':' || CAST(count(*) AS VARCHAR) FROM %s.%s`,
			state.Ident(s.Conn.Name), state.Ident(s.Resource.Name))
		if err := r.store.DB.QueryRowContext(ctx, q).Scan(&h); err != nil {
			return "", fmt.Errorf("fingerprint %s: %w", s, err)
		}
		parts = append(parts, s.String()+"="+h.String)
	}
	var h sql.NullString
	if err := r.store.DB.QueryRowContext(ctx, `SELECT CAST(bit_xor(hash(entity, left_key, right_key, left_hash, right_hash, fingerprint, updated_at)) AS VARCHAR) || ':' || CAST(count(*) AS VARCHAR) FROM synk.base`).Scan(&h); err != nil {
		return "", err
	}
	parts = append(parts, "base="+h.String)
	sort.Strings(parts)
	b, _ := json.Marshal(parts)
	return strconv.FormatUint(xxhash.Sum64(b), 16), nil
}
