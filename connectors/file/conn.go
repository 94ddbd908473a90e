package file

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"github.com/synk-etl/synk/pipeline"
)

// TypeName is the connection `type:` this package registers.
const TypeName = "file"

// Register adds the file connector type to reg.
func Register(reg *pipeline.Registry) {
	reg.Register(pipeline.ConnectorType{
		Name:      TypeName,
		NewConfig: func() any { return &Config{} },
		Resources: resources,
		Open: func(ctx context.Context, env pipeline.Env, config any) (pipeline.Connector, error) {
			c, ok := config.(*Config)
			if !ok {
				return nil, fmt.Errorf("file connector: config is %T, want *file.Config", config)
			}
			return Open(ctx, env, c)
		},
		// Every write rewrites a whole file under one lock, so more in
		// flight would only queue there.
		DefaultLimits: pipeline.Limits{MaxInFlight: 1},
	})
}

// The capabilities the engine finds by type assertion.
var (
	_ pipeline.Source    = (*Conn)(nil)
	_ pipeline.Sink      = (*Conn)(nil)
	_ pipeline.Finder    = (*Conn)(nil)
	_ pipeline.BatchSink = (*Conn)(nil)
	_ io.Closer          = (*Conn)(nil)
)

// Conn is an open file connection. It is a pipeline.Source, Sink,
// BatchSink and Finder and an io.Closer. Reads take the file as it is on
// disk through the connection's private DuckDB; writes load a resource's
// file once (on its first write), change it in memory a batch at a time
// and rewrite it atomically, so a concurrent reader sees the old or the new
// file, never a mix.
type Conn struct {
	name    string
	lim     *pipeline.Limiter
	log     *slog.Logger
	specs   map[string]*spec
	paths   map[string]string // resource -> absolute file path
	db      *sql.DB           // private in-memory DuckDB that reads the files
	spill   string            // db's temp directory
	mu      sync.Mutex        // guards tables and closed, and serialises rewrites
	tables  map[string]*table
	closed  bool
	onWrite func() // test hook: runs inside the limiter, before the lock
	// batchSize is MaxBatch: the connection's batch_size or the default.
	batchSize int
	// rename is os.Rename; tests replace it to make a rewrite fail at its
	// last step.
	rename func(oldpath, newpath string) error
}

// table is a resource's file held in memory for writing.
type table struct {
	rows []*entry
	// index holds the readable rows by key (the first row for a key).
	index map[string]*entry
	// badKeys are keys of rows that could not be read: a create must not
	// put a second row with one of them in the file.
	badKeys map[string]int
	// maxKey is the largest int key the table has held (unreadable rows
	// included), so generate_key need not scan a million rows per create
	// and never hands out a key synk deleted in this run.
	maxKey int64
	// stat is the file as last loaded or written (nil: it did not exist),
	// to notice someone else changing it between writes.
	stat fs.FileInfo
}

// entry is one row of a table: a readable record, or a bad row kept as it
// was read so a rewrite gives it back.
type entry struct {
	key   string
	rec   pipeline.Record
	line  int
	err   error
	cells []string // CSV bad row
	raw   []byte   // JSONL bad line
}

// Open opens a file connection. Relative paths are resolved against
// env.BaseDir; files need not exist yet.
func Open(_ context.Context, env pipeline.Env, c *Config) (*Conn, error) {
	specs, err := c.specs()
	if err != nil {
		return nil, err
	}
	dir := c.Dir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(env.BaseDir, dir)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file connection %s: dir: %w", env.Connection, err)
	}
	lim := env.Limiter
	if lim == nil {
		lim = pipeline.NewLimiter(pipeline.Limits{MaxInFlight: 1}, nil)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// An in-memory DuckDB spills a read too large for memory to ".tmp" in
	// the working directory; this keeps that out of the user's files. The
	// directory is made only if DuckDB spills.
	spill := filepath.Join(os.TempDir(), fmt.Sprintf("synk-file-%d-%d", os.Getpid(), connSeq.Add(1)))
	db, err := sql.Open("duckdb", "?temp_directory="+url.QueryEscape(spill))
	if err != nil {
		return nil, fmt.Errorf("file connection %s: open duckdb: %w", env.Connection, err)
	}
	batchSize := c.BatchSize
	if batchSize == 0 {
		batchSize = DefaultBatchSize
	}
	conn := &Conn{
		batchSize: batchSize,
		db:        db,
		spill:     spill,
		name:      env.Connection,
		lim:       lim,
		log:       log,
		specs:     map[string]*spec{},
		paths:     map[string]string{},
		tables:    map[string]*table{},
		rename:    os.Rename,
	}
	for _, s := range specs {
		p := s.path
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		conn.specs[s.name] = s
		conn.paths[s.name] = p
	}
	return conn, nil
}

// Path returns the absolute file path of a resource ("" if unknown).
func (c *Conn) Path(resource string) string { return c.paths[resource] }

func (c *Conn) spec(resource string) (*spec, error) {
	s, ok := c.specs[resource]
	if !ok {
		return nil, fmt.Errorf("file connection %s: unknown resource %q", c.name, resource)
	}
	return s, nil
}

// Read hands a resource's records to out in file order. A missing file has
// no records. Rows that do not convert, and later rows repeating a key,
// are rejected with their line (Parquet: row) number; the read goes on.
func (c *Conn) Read(ctx context.Context, resource string, _ pipeline.ReadQuery, out pipeline.Emitter) error {
	s, err := c.spec(resource)
	if err != nil {
		return err
	}
	ve, _ := out.(pipeline.ValuesEmitter)
	err = decode(ctx, c.db, c.paths[resource], s, func(rw row) error {
		if rw.err != nil {
			return out.Reject(rw.key, rw.raw, rw.err)
		}
		if rw.vals != nil && ve != nil {
			// No map per record: the engine hashes the values as they are.
			return ve.EmitValues(rw.vals)
		}
		return out.Emit(rw.record(s))
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", resource, err)
	}
	return nil
}

// Create adds a record. The key comes from Set, or is generated when the
// resource has generate_key; an existing key is a *pipeline.RecordError.
func (c *Conn) Create(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	return c.one(ctx, pipeline.Create, w)
}

// Update merges Set into the stored record with key w.Key. Set may change
// the key itself, unless the new key is taken.
func (c *Conn) Update(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	return c.one(ctx, pipeline.Update, w)
}

// Delete removes the record with key w.Key. A record that is already gone
// is not an error: the file is as the engine wants it.
func (c *Conn) Delete(ctx context.Context, w pipeline.Write) error {
	_, err := c.one(ctx, pipeline.Delete, w)
	return err
}

// one is a batch of one write: the same rules, one rewrite.
func (c *Conn) one(ctx context.Context, action pipeline.Action, w pipeline.Write) (pipeline.Record, error) {
	res, err := c.WriteBatch(ctx, w.Resource, []pipeline.Op{{Action: action, Write: w}})
	if err != nil {
		return nil, err
	}
	return res[0].Record, res[0].Err
}

// Find looks a create up by the key value in w.Set. Without one (a
// generated key) it reports not found: the rewrite is atomic, so a create
// either happened and returned, or left the file as it was.
func (c *Conn) Find(ctx context.Context, w pipeline.Write) (pipeline.Record, bool, error) {
	s, err := c.spec(w.Resource)
	if err != nil {
		return nil, false, err
	}
	kv, err := convert(s.fields[s.keyIdx].Type, w.Set[s.key], s.format)
	if err != nil {
		return nil, false, c.recordErr(w, fmt.Errorf("field %q: %w", s.key, err))
	}
	if kv == nil {
		return nil, false, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.table(ctx, s, w.Resource)
	if err != nil {
		return nil, false, err
	}
	e, err := t.lookup(keyString(kv))
	if errors.Is(err, errNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, c.recordErr(w, err)
	}
	return maps.Clone(e.rec), true, nil
}

// Close drops the in-memory copies and closes DuckDB; later reads and
// writes fail.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.tables = nil
	err := c.db.Close()
	if rerr := os.RemoveAll(c.spill); err == nil {
		err = rerr
	}
	return err
}

// connSeq tells the spill directories of a process's connections apart.
var connSeq atomic.Int64

var errNotFound = errors.New("no record with this key")

// table returns the resource's in-memory table, loading the file the first
// time and again if someone else changed it since. Caller holds c.mu.
func (c *Conn) table(ctx context.Context, s *spec, resource string) (*table, error) {
	if c.closed {
		return nil, fmt.Errorf("file connection %s is closed", c.name)
	}
	path := c.paths[resource]
	st, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stat %s: %w", s.path, err)
	}
	if t, ok := c.tables[resource]; ok {
		if sameFile(t.stat, st) {
			return t, nil
		}
		c.log.Warn("file changed on disk since synk last wrote it; reloading", "resource", resource, "path", path)
	}
	t, err := load(ctx, c.db, path, s)
	if err != nil {
		return nil, err
	}
	t.stat = st
	c.tables[resource] = t
	return t, nil
}

func sameFile(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// load reads a whole file for writing. A row a rewrite would lose (a CSV
// syntax error, a bad Parquet row) makes the file unwritable.
func load(ctx context.Context, db *sql.DB, path string, s *spec) (*table, error) {
	t := &table{index: map[string]*entry{}, badKeys: map[string]int{}}
	err := decode(ctx, db, path, s, func(rw row) error {
		if rw.lost {
			return fmt.Errorf("%w; fix the file by hand: rewriting it would lose that row", rw.err)
		}
		e := &entry{key: rw.key, rec: rw.record(s), line: rw.line, err: rw.err, cells: rw.cells, raw: rw.raw}
		t.rows = append(t.rows, e)
		switch {
		case rw.err == nil:
			t.index[rw.key] = e
		case rw.key != "":
			if _, ok := t.badKeys[rw.key]; !ok {
				t.badKeys[rw.key] = rw.line
			}
		}
		if k, err := strconv.ParseInt(rw.key, 10, 64); err == nil && k > t.maxKey {
			t.maxKey = k
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", s.path, err)
	}
	return t, nil
}

// record builds the stored record: base (nil on create) with w.Set merged
// in, each value converted to its declared type.
func (c *Conn) record(s *spec, w pipeline.Write, base pipeline.Record) (pipeline.Record, error) {
	rec := make(pipeline.Record, len(s.fields))
	for _, f := range s.fields {
		rec[f.Name] = base[f.Name]
	}
	for name, v := range w.Set {
		i := s.fieldIndex(name)
		if i < 0 {
			return nil, c.recordErr(w, fmt.Errorf("unknown field %q", name))
		}
		cv, err := convert(s.fields[i].Type, v, s.format)
		if err != nil {
			return nil, c.recordErr(w, fmt.Errorf("field %q: %w", name, err))
		}
		rec[name] = cv
	}
	return rec, nil
}

func (c *Conn) recordErr(w pipeline.Write, err error) error {
	return &pipeline.RecordError{Resource: w.Resource, Key: w.Key, Err: err}
}

// rewrite replaces the file atomically: a temp file in the same directory,
// fsynced, renamed over the target, then the directory fsynced so the
// rename survives a crash. It returns the new file's info.
func (c *Conn) rewrite(ctx context.Context, path string, s *spec, rows []*entry) (fs.FileInfo, error) {
	// Write through a symlink to its target rather than replace the link.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if s.format == formatParquet {
		// DuckDB writes the file by its name, so it is opened again to be
		// synced.
		tmp.Close()
		if err = c.writeParquet(ctx, tmp.Name(), s, rows); err == nil {
			tmp, err = os.OpenFile(tmp.Name(), os.O_RDWR, 0)
		}
	} else {
		bw := bufio.NewWriterSize(tmp, 64<<10)
		if s.format == formatJSONL {
			err = encodeJSONL(bw, s, rows)
		} else {
			err = encodeCSV(bw, s, rows)
		}
		if err == nil {
			err = bw.Flush()
		}
	}
	if err != nil {
		return nil, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := c.rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every filesystem syncs directories
		d.Close()
	}
	return os.Stat(path)
}
