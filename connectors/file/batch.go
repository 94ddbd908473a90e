package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"

	"github.com/google/uuid"

	"github.com/synk-etl/synk/pipeline"
)

// DefaultBatchSize is MaxBatch unless the connection sets batch_size.
// Every batch rewrites the whole file, so the larger the batch, the fewer
// rewrites: a first sync of a million rows takes 20 rewrites instead of a
// million. Larger would save little more, since at this size the rewrites
// of a big file already cost more than the batches' bookkeeping, and a
// batch's records are held in memory twice (the engine's ops and the new
// rows) until the rewrite.
const DefaultBatchSize = 50_000

// MaxBatch is how many writes one WriteBatch may carry.
func (c *Conn) MaxBatch() int { return c.batchSize }

// WriteBatch makes ops on resource in order, each seeing the ones before
// it, and rewrites the file once. A write the rules refuse (an existing
// key, a bad value) fails alone with a *pipeline.RecordError; the others
// go on. An error (the rewrite failed, the context ended) fails the whole
// batch and leaves the file and the connection's copy of it as they were.
func (c *Conn) WriteBatch(ctx context.Context, resource string, ops []pipeline.Op) ([]pipeline.OpResult, error) {
	s, err := c.spec(resource)
	if err != nil {
		return nil, err
	}
	var results []pipeline.OpResult
	err = c.lim.Do(ctx, func(ctx context.Context) error {
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
		b := newBatch(s, t)
		results = make([]pipeline.OpResult, len(ops))
		for i, op := range ops {
			w := op.Write
			w.Resource = resource
			results[i].Record, results[i].Err = c.apply(s, b, op.Action, w)
		}
		if !b.dirty {
			return nil
		}
		rows := b.rows()
		st, err := c.rewrite(ctx, c.paths[resource], s, rows)
		if err != nil {
			return fmt.Errorf("rewrite %s: %w", s.path, err)
		}
		b.commit(rows, st)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// apply makes one write on the batch and returns what the sink method
// returns for it.
func (c *Conn) apply(s *spec, b *batch, action pipeline.Action, w pipeline.Write) (pipeline.Record, error) {
	switch action {
	case pipeline.Create:
		rec, err := c.record(s, w, nil)
		if err != nil {
			return nil, err
		}
		if rec[s.key] == nil {
			if !s.generateKey {
				return nil, c.recordErr(w, fmt.Errorf("no value for key %q and generate_key is off", s.key))
			}
			rec[s.key] = b.newKey()
		}
		key := keyString(rec[s.key])
		if err := b.free(key); err != nil {
			return nil, &pipeline.RecordError{Resource: w.Resource, Key: key, Err: err}
		}
		b.put(nil, &entry{key: key, rec: rec})
		return maps.Clone(rec), nil
	case pipeline.Update:
		old, err := b.lookup(w.Key)
		if err != nil {
			return nil, c.recordErr(w, err)
		}
		rec, err := c.record(s, w, old.rec)
		if err != nil {
			return nil, err
		}
		if rec[s.key] == nil {
			return nil, c.recordErr(w, fmt.Errorf("key %q cannot be emptied", s.key))
		}
		key := keyString(rec[s.key])
		if key != old.key {
			if err := b.free(key); err != nil {
				return nil, c.recordErr(w, fmt.Errorf("change key to %q: %w", key, err))
			}
		}
		b.put(old, &entry{key: key, rec: rec})
		return maps.Clone(rec), nil
	case pipeline.Delete:
		if w.Key == "" {
			return nil, c.recordErr(w, errors.New("delete without a key"))
		}
		old, err := b.lookup(w.Key)
		if errors.Is(err, errNotFound) {
			return nil, nil // already gone: the file is as the engine wants it
		}
		if err != nil {
			return nil, c.recordErr(w, err)
		}
		b.remove(old)
		return nil, nil
	}
	return nil, c.recordErr(w, fmt.Errorf("unknown action %q", action))
}

// batch is a WriteBatch's changes laid over a table. The table itself is
// changed only by commit, after the rewrite succeeded, so a failed rewrite
// leaves it agreeing with the file. Entries are never changed in place:
// an update replaces its entry, which the table may still hold.
type batch struct {
	s *spec
	t *table
	// index holds the keys the batch changed; a nil entry is a key gone.
	index map[string]*entry
	// next maps an entry to the one replacing it; nil when it was deleted.
	next   map[*entry]*entry
	added  []*entry
	maxKey int64
	dirty  bool
}

func newBatch(s *spec, t *table) *batch {
	return &batch{s: s, t: t, index: map[string]*entry{}, next: map[*entry]*entry{}, maxKey: t.maxKey}
}

// lookup is table.lookup with the batch's changes so far.
func (b *batch) lookup(key string) (*entry, error) {
	if e, ok := b.index[key]; ok && e != nil {
		return e, nil
	} else if ok {
		return nil, b.t.missing(key)
	}
	return b.t.lookup(key)
}

// lookup returns the readable record with key.
func (t *table) lookup(key string) (*entry, error) {
	if e, ok := t.index[key]; ok {
		return e, nil
	}
	return nil, t.missing(key)
}

// missing says why key has no readable record: an unreadable row has it,
// or nothing does (errNotFound).
func (t *table) missing(key string) error {
	if line, bad := t.badKeys[key]; bad {
		return fmt.Errorf("the row for this key (line %d) cannot be read; fix the file", line)
	}
	return errNotFound
}

// free reports whether a new row may take key.
func (b *batch) free(key string) error {
	_, err := b.lookup(key)
	switch {
	case err == nil:
		return errors.New("a record with this key already exists")
	case errors.Is(err, errNotFound):
		return nil
	}
	if line, ok := b.t.badKeys[key]; ok {
		return fmt.Errorf("an unreadable row (line %d) already has this key", line)
	}
	return err
}

// newKey is a fresh key: one more than the largest int key the file has
// held, or a random UUID for string keys.
func (b *batch) newKey() any {
	if b.s.fields[b.s.keyIdx].Type == pipeline.TypeString {
		return uuid.NewString()
	}
	return b.maxKey + 1
}

// put stores e, replacing old (nil for a create).
func (b *batch) put(old, e *entry) {
	if old != nil {
		b.next[old] = e
		if old.key != e.key {
			b.index[old.key] = nil
		}
	} else {
		b.added = append(b.added, e)
	}
	b.index[e.key] = e
	if k, ok := e.rec[b.s.key].(int64); ok && k > b.maxKey {
		b.maxKey = k
	}
	b.dirty = true
}

func (b *batch) remove(old *entry) {
	b.next[old] = nil
	b.index[old.key] = nil
	b.dirty = true
}

// rows is the table's rows with the batch applied, in file order: kept and
// updated rows where they were, creates at the end.
func (b *batch) rows() []*entry {
	out := make([]*entry, 0, len(b.t.rows)+len(b.added))
	add := func(e *entry) {
		for {
			n, ok := b.next[e]
			if !ok {
				break
			}
			if e = n; e == nil {
				return
			}
		}
		out = append(out, e)
	}
	for _, e := range b.t.rows {
		add(e)
	}
	for _, e := range b.added {
		add(e)
	}
	return out
}

// commit makes the batch the table's state once the file holds rows.
func (b *batch) commit(rows []*entry, st fs.FileInfo) {
	t := b.t
	for k, e := range b.index {
		if e == nil {
			delete(t.index, k)
		} else {
			t.index[k] = e
		}
	}
	t.rows, t.stat, t.maxKey = rows, st, b.maxKey
}
