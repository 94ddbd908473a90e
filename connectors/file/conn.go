package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/google/uuid"

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
	_ pipeline.Source = (*Conn)(nil)
	_ pipeline.Sink   = (*Conn)(nil)
	_ pipeline.Finder = (*Conn)(nil)
	_ io.Closer       = (*Conn)(nil)
)

// Conn is an open file connection. It is a pipeline.Source, Sink and Finder
// and an io.Closer. Reads stream the file as it is on disk; writes load a
// resource's file once (on its first write), change it in memory and
// rewrite it atomically, so a concurrent reader sees the old or the new
// file, never a mix.
type Conn struct {
	name    string
	lim     *pipeline.Limiter
	log     *slog.Logger
	specs   map[string]*spec
	paths   map[string]string // resource -> absolute file path
	mu      sync.Mutex        // guards tables and closed, and serialises rewrites
	tables  map[string]*table
	closed  bool
	onWrite func() // test hook: runs inside the limiter, before the lock
}

// table is a resource's file held in memory for writing.
type table struct {
	rows []*entry
	// index holds the readable rows by key (the first row for a key).
	index map[string]*entry
	// badKeys are keys of rows that could not be read: a create must not
	// put a second row with one of them in the file.
	badKeys map[string]int
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
	conn := &Conn{
		name:   env.Connection,
		lim:    lim,
		log:    log,
		specs:  map[string]*spec{},
		paths:  map[string]string{},
		tables: map[string]*table{},
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

// Read streams a resource's file to out. A missing file has no records.
// Rows that do not convert, and later rows repeating a key, are rejected
// with their line number; the read goes on.
func (c *Conn) Read(ctx context.Context, resource string, _ pipeline.ReadQuery, out pipeline.Emitter) error {
	s, err := c.spec(resource)
	if err != nil {
		return err
	}
	f, err := os.Open(c.paths[resource])
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", resource, err)
	}
	defer f.Close()
	err = decode(ctx, f, s, func(rw row) error {
		if rw.err != nil {
			return out.Reject(rw.key, rw.raw, rw.err)
		}
		return out.Emit(rw.rec)
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", resource, err)
	}
	return nil
}

// Create adds a record. The key comes from Set, or is generated when the
// resource has generate_key; an existing key is a *pipeline.RecordError.
func (c *Conn) Create(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	var out pipeline.Record
	err := c.write(ctx, w.Resource, func(s *spec, t *table) ([]*entry, func(), error) {
		rec, err := c.record(s, w, nil)
		if err != nil {
			return nil, nil, err
		}
		if rec[s.key] == nil {
			if !s.generateKey {
				return nil, nil, c.recordErr(w, fmt.Errorf("no value for key %q and generate_key is off", s.key))
			}
			rec[s.key] = t.newKey(s)
		}
		key := keyString(rec[s.key])
		if err := t.free(key); err != nil {
			return nil, nil, &pipeline.RecordError{Resource: w.Resource, Key: key, Err: err}
		}
		e := &entry{key: key, rec: rec}
		rows := append(t.rows[:len(t.rows):len(t.rows)], e)
		out = maps.Clone(rec)
		return rows, func() { t.index[key] = e }, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Update merges Set into the stored record with key w.Key. Set may change
// the key itself, unless the new key is taken.
func (c *Conn) Update(ctx context.Context, w pipeline.Write) (pipeline.Record, error) {
	var out pipeline.Record
	err := c.write(ctx, w.Resource, func(s *spec, t *table) ([]*entry, func(), error) {
		old, pos, err := t.find(w.Key)
		if err != nil {
			return nil, nil, c.recordErr(w, err)
		}
		rec, err := c.record(s, w, old.rec)
		if err != nil {
			return nil, nil, err
		}
		if rec[s.key] == nil {
			return nil, nil, c.recordErr(w, fmt.Errorf("key %q cannot be emptied", s.key))
		}
		key := keyString(rec[s.key])
		if key != old.key {
			if err := t.free(key); err != nil {
				return nil, nil, &pipeline.RecordError{Resource: w.Resource, Key: w.Key, Err: fmt.Errorf("change key to %q: %w", key, err)}
			}
		}
		e := &entry{key: key, rec: rec}
		rows := append([]*entry(nil), t.rows...)
		rows[pos] = e
		out = maps.Clone(rec)
		return rows, func() {
			delete(t.index, old.key)
			t.index[key] = e
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete removes the record with key w.Key. A record that is already gone
// is not an error: the file is as the engine wants it.
func (c *Conn) Delete(ctx context.Context, w pipeline.Write) error {
	return c.write(ctx, w.Resource, func(s *spec, t *table) ([]*entry, func(), error) {
		if w.Key == "" {
			return nil, nil, c.recordErr(w, errors.New("delete without a key"))
		}
		old, pos, err := t.find(w.Key)
		if errors.Is(err, errNotFound) {
			return nil, nil, errNothingToDo
		}
		if err != nil {
			return nil, nil, c.recordErr(w, err)
		}
		rows := make([]*entry, 0, len(t.rows)-1)
		rows = append(rows, t.rows[:pos]...)
		rows = append(rows, t.rows[pos+1:]...)
		return rows, func() { delete(t.index, old.key) }, nil
	})
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
	e, _, err := t.find(keyString(kv))
	if errors.Is(err, errNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, c.recordErr(w, err)
	}
	return maps.Clone(e.rec), true, nil
}

// Close drops the in-memory copies; later writes fail.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.tables = nil
	return nil
}

var (
	errNotFound    = errors.New("no record with this key")
	errNothingToDo = errors.New("nothing to do")
)

// write runs one change inside the limiter and the lock: change computes the
// new rows from the current table, the file is rewritten, and only then is
// the table updated (commit), so a failed rewrite leaves memory and disk
// agreeing.
func (c *Conn) write(ctx context.Context, resource string, change func(*spec, *table) (rows []*entry, commit func(), err error)) error {
	s, err := c.spec(resource)
	if err != nil {
		return err
	}
	return c.lim.Do(ctx, func(ctx context.Context) error {
		if c.onWrite != nil {
			c.onWrite()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		t, err := c.table(ctx, s, resource)
		if err != nil {
			return err
		}
		rows, commit, err := change(s, t)
		if errors.Is(err, errNothingToDo) {
			return nil
		}
		if err != nil {
			return err
		}
		st, err := rewrite(c.paths[resource], s, rows)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", s.path, err)
		}
		commit()
		t.rows, t.stat = rows, st
		return nil
	})
}

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
	t, err := load(ctx, path, s)
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

// load reads a whole file for writing. A CSV row with a syntax error makes
// the file unwritable: nothing of it is known, and a rewrite would drop it.
func load(ctx context.Context, path string, s *spec) (*table, error) {
	t := &table{index: map[string]*entry{}, badKeys: map[string]int{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return t, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", s.path, err)
	}
	defer f.Close()
	err = decode(ctx, f, s, func(rw row) error {
		if rw.syntax {
			return fmt.Errorf("%w; fix the file by hand: rewriting it would lose that row", rw.err)
		}
		e := &entry{key: rw.key, rec: rw.rec, line: rw.line, err: rw.err, cells: rw.cells, raw: rw.raw}
		t.rows = append(t.rows, e)
		switch {
		case rw.err == nil:
			t.index[rw.key] = e
		case rw.key != "":
			if _, ok := t.badKeys[rw.key]; !ok {
				t.badKeys[rw.key] = rw.line
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", s.path, err)
	}
	return t, nil
}

// find returns the readable record with key and its position.
func (t *table) find(key string) (*entry, int, error) {
	e, ok := t.index[key]
	if !ok {
		if line, bad := t.badKeys[key]; bad {
			return nil, 0, fmt.Errorf("the row for this key (line %d) cannot be read; fix the file", line)
		}
		return nil, 0, errNotFound
	}
	for i, r := range t.rows {
		if r == e {
			return e, i, nil
		}
	}
	return nil, 0, errNotFound // unreachable while index and rows agree
}

// free reports whether a new row may take key.
func (t *table) free(key string) error {
	if _, ok := t.index[key]; ok {
		return errors.New("a record with this key already exists")
	}
	if line, ok := t.badKeys[key]; ok {
		return fmt.Errorf("an unreadable row (line %d) already has this key", line)
	}
	return nil
}

// newKey is a fresh key: one more than the largest int key in the file
// (unreadable rows included, so the new row cannot clash with them), or a
// random UUID for string keys.
func (t *table) newKey(s *spec) any {
	if s.fields[s.keyIdx].Type == pipeline.TypeString {
		return uuid.NewString()
	}
	var max int64
	for _, e := range t.rows {
		if e.rec != nil {
			if k, ok := e.rec[s.key].(int64); ok && k > max {
				max = k
			}
			continue
		}
		if k, err := strconv.ParseInt(e.key, 10, 64); err == nil && k > max {
			max = k
		}
	}
	return max + 1
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
func rewrite(path string, s *spec, rows []*entry) (fs.FileInfo, error) {
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
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if s.format == formatJSONL {
		err = encodeJSONL(bw, s, rows)
	} else {
		err = encodeCSV(bw, s, rows)
	}
	if err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
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
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, err
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every filesystem syncs directories
		d.Close()
	}
	return os.Stat(path)
}
