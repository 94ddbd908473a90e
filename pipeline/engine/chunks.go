package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/sourcegraph/conc/pool"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

// DefaultChunkSize is Options.ChunkSize when it is zero: the size of a
// file sink's batch, so that a chunk is one WriteBatch.
const DefaultChunkSize = 50_000

// chunked is the creates planned from one side's unlinked records of an
// entity when there are more of them than a chunk: a first sync of a
// million records. They are not held as works. Planning evaluates them
// chunk by chunk to count them and find the rejects; the plan's Each, the
// record of a plan and apply make them again, chunk by chunk, from the
// state file, in the same order with the same seqs. Only creates whose
// flows make the same change every time they are evaluated are chunked
// (see chunkable): the snapshot they are made from does not move within
// the round.
type chunked struct {
	entity  *spec.Entity
	side    spec.Side
	col     string // the side's column in synk.links
	reverse bool   // the side is the right one
	pending map[string]bool
	// n counts the changes, seq is the seq of the first one minus one.
	n, seq int
}

func (r *Runner) chunkSize() int {
	if r.opts.ChunkSize > 0 {
		return r.opts.ChunkSize
	}
	return DefaultChunkSize
}

// chunkable reports whether the creates from one side of e (reverse: the
// right one), with n unlinked records there and other on the other side,
// are planned and applied in chunks: only in a run's first round, above a
// chunk's size, when none of them could be paired instead (no record on
// the other side to match, no lookup), and when evaluating a flow again
// gives the same change (no link(), whose answer changes as the run
// creates records, no now() or today()).
func (r *Runner) chunkable(e *spec.Entity, reverse bool, n, other int64) bool {
	if r.only != nil || n <= int64(r.chunkSize()) || (other > 0 && len(e.Match) > 0) {
		return false
	}
	for _, f := range e.Flows {
		if len(f.Lookup) > 0 {
			return false
		}
		if f.Reverse != reverse || !f.Create {
			continue
		}
		names := []string{}
		if f.Where != nil {
			names = append(names, f.Where.Names()...)
		}
		for _, m := range f.Map {
			if m.Expr == nil {
				return false
			}
			names = append(names, m.Expr.Names()...)
		}
		for _, n := range names {
			if n == "link" || n == "now" || n == "today" {
				return false
			}
		}
	}
	return true
}

// linkedTo reports whether an expression of the pipeline calls
// link(entity, …): only then must creates of entity be remembered as
// pending (see linkCache.pending), which for a million creates is a
// million keys.
func (r *Runner) linkedTo(entity string) bool {
	for _, e := range r.p.Entities {
		for _, f := range e.Flows {
			if f.Where != nil && slices.Contains(f.Where.Links(), entity) {
				return true
			}
			for _, m := range f.Map {
				if m.Expr != nil && slices.Contains(m.Expr.Links(), entity) {
					return true
				}
			}
		}
	}
	return false
}

// planChunked plans the creates of c chunk by chunk: it counts them into
// pl's summary and c.n and keeps the rejects, never the works.
func (r *Runner) planChunked(ctx context.Context, c *chunked, pl *planned) error {
	return r.eachUnlinkedChunk(ctx, c, func(us []unlinked) error {
		sc := r.planChunk(ctx, c, us, pl.plan.Summary)
		c.n += len(sc.works)
		pl.rejects = append(pl.rejects, sc.rejects...)
		return nil
	})
}

// planChunk plans the creates of one chunk of c's records, counted into
// summary.
func (r *Runner) planChunk(ctx context.Context, c *chunked, us []unlinked, summary pipeline.Summary) *planned {
	sc := &planned{plan: &pipeline.Plan{Summary: summary}, unlinkable: !r.linkedTo(c.entity.Name)}
	for _, u := range us {
		r.planCreate(ctx, c.entity, c.reverse, u, sc, c.pending)
	}
	return sc
}

// eachChunk makes c's creates again, chunk by chunk, numbered from c.seq,
// and calls fn with each chunk's works; fn may keep them. The rejects
// planning reported are made again too, and dropped: they were recorded
// once.
func (r *Runner) eachChunk(ctx context.Context, c *chunked, fn func([]*work) error) error {
	seq := c.seq
	err := r.eachUnlinkedChunk(ctx, c, func(us []unlinked) error {
		works := r.planChunk(ctx, c, us, pipeline.Summary{}).works
		for _, w := range works {
			seq++
			w.change.Seq = seq
		}
		if seq-c.seq > c.n {
			return fmt.Errorf("plan %s: the creates made again in chunks are more than the %d planned", c.entity.Name, c.n)
		}
		if len(works) == 0 {
			return nil
		}
		return fn(works)
	})
	if err == nil && seq-c.seq != c.n {
		err = fmt.Errorf("plan %s: %d creates made again in chunks, %d planned", c.entity.Name, seq-c.seq, c.n)
	}
	return err
}

// eachUnlinkedChunk streams c's side's unlinked records in key order (as
// loadUnlinked reads them) and calls fn with each chunk of them.
func (r *Runner) eachUnlinkedChunk(ctx context.Context, c *chunked, fn func([]unlinked) error) error {
	return r.streamUnlinked(ctx, c.entity, c.side, c.col, r.chunkSize(), fn)
}

// chunkedCount is the number of changes pl's chunked creates make.
func (pl *planned) chunkedCount() int {
	n := 0
	for _, c := range pl.chunked {
		n += c.n
	}
	return n
}

// numberChunked numbers the chunked creates after the round's other
// changes (the last of which is seq) and lets the plan's Each make them.
func (r *Runner) numberChunked(ctx context.Context, pl *planned, seq int) {
	if len(pl.chunked) == 0 {
		return
	}
	for _, c := range pl.chunked {
		c.seq = seq
		seq += c.n
	}
	chunks := slices.Clone(pl.chunked)
	pl.plan.SetMore(pl.chunkedCount(), func(yield func(pipeline.Change) error) error {
		for _, c := range chunks {
			err := r.eachChunk(ctx, c, func(works []*work) error {
				for _, w := range works {
					if err := yield(w.change); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// errChunksApplied is what a plan's Each returns for the creates applied
// in chunks: the records are linked now, so they cannot be made again;
// synk.changes holds them.
var errChunksApplied = errors.New("the creates planned in chunks were applied; synk.changes holds them")

// applyChunks applies the chunked creates of e through p, the entity's
// worker pool, at most two chunks at a time, so that a first sync of a
// million records holds two chunks of works, not a million. unitFn applies
// one unit and tallies it. Once ctx ends, the creates not handed out are
// recorded as not attempted, chunk by chunk, and counted in stopped; those
// a stream that broke off never made are counted in failed.
func (r *Runner) applyChunks(ctx, writeCtx context.Context, e *spec.Entity, chunks []*chunked, p *pool.Pool, unitFn func(unit)) (stopped, failed int) {
	inFlight := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, c := range chunks {
		made := 0
		err := r.eachChunk(writeCtx, c, func(works []*work) error {
			made += len(works)
			if ctx.Err() != nil {
				if err := r.recordNotAttempted(writeCtx, works); err != nil {
					r.log.Error("record the changes not attempted", "run_id", r.runID, "err", err)
				}
				stopped += len(works)
				return nil
			}
			inFlight <- struct{}{}
			us := r.units(e, works)
			var cw sync.WaitGroup
			cw.Add(len(us))
			wg.Add(1)
			go func() {
				defer wg.Done()
				cw.Wait()
				<-inFlight
			}()
			for _, u := range us {
				p.Go(func() {
					defer cw.Done()
					unitFn(u)
				})
			}
			return nil
		})
		if err != nil {
			failed += max(c.n-made, 0)
			r.log.Error("apply creates in chunks", "entity", e.Name, "run_id", r.runID, "err", err, "not_made", c.n-made)
		}
	}
	wg.Wait()
	return stopped, failed
}
