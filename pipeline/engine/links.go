package engine

import (
	"context"
	"fmt"
	"sync"

	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/transforms"
)

// linkCache holds each entity's links in memory once a link() call needs
// them, plus the creates planned in this run, which link() turns into a
// wait instead of a reject.
type linkCache struct {
	r    *Runner
	mu   sync.Mutex
	ents map[string]*entityLinks
}

type entityLinks struct {
	l2r, r2l                  map[string]string
	pendingLeft, pendingRight map[string]bool
	loaded                    bool
}

func newLinkCache(r *Runner) *linkCache { return &linkCache{r: r, ents: map[string]*entityLinks{}} }

// entry returns the entity's entry without loading its links.
func (c *linkCache) entry(entity string) *entityLinks {
	el, ok := c.ents[entity]
	if !ok {
		el = &entityLinks{l2r: map[string]string{}, r2l: map[string]string{}, pendingLeft: map[string]bool{}, pendingRight: map[string]bool{}}
		c.ents[entity] = el
	}
	return el
}

// get returns the entity's links, loading them on first use: only entities
// that link() names are ever loaded.
func (c *linkCache) get(ctx context.Context, entity string) (*entityLinks, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entry(entity)
	if el.loaded {
		return el, nil
	}
	rows, err := c.r.store.DB.QueryContext(ctx, `SELECT left_key, right_key FROM synk.links WHERE entity = ?`, entity)
	if err != nil {
		return nil, fmt.Errorf("load %s links: %w", entity, err)
	}
	defer rows.Close()
	for rows.Next() {
		var l, r string
		if err := rows.Scan(&l, &r); err != nil {
			return nil, err
		}
		if _, ok := el.l2r[l]; !ok { // links added this run are newer
			el.l2r[l], el.r2l[r] = r, l
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	el.loaded = true
	return el, nil
}

// add records a link made in this run (a match or an applied create).
func (c *linkCache) add(entity, left, right string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entry(entity)
	el.l2r[left], el.r2l[right] = right, left
	delete(el.pendingLeft, left)
	delete(el.pendingRight, right)
}

// addCommitted records a link already committed to synk.links (an
// applied create). Links of an entity that no link() has loaded yet are
// not held: loading reads them from the state file, so a first sync of a
// million records does not keep a million links in memory twice.
func (c *linkCache) addCommitted(entity, left, right string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entry(entity)
	if el.loaded {
		el.l2r[left], el.r2l[right] = right, left
	}
	delete(el.pendingLeft, left)
	delete(el.pendingRight, right)
}

func (c *linkCache) remove(entity, left string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entry(entity)
	delete(el.r2l, el.l2r[left])
	delete(el.l2r, left)
}

func (c *linkCache) pending(entity string, leftSide bool, key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.entry(entity)
	if leftSide {
		el.pendingLeft[key] = true
	} else {
		el.pendingRight[key] = true
	}
}

// waitMarker stands in for a key that a create in this run will produce.
type waitMarker struct{ entity, key string }

func (w waitMarker) String() string {
	return fmt.Sprintf("(key of %s %s, once created)", w.entity, w.key)
}

// linkFunc is link(entity, key) for expressions evaluated in flow: key is
// a key on the flow's source connection; the result is the linked key on
// the entity's other side.
func (r *Runner) linkFunc(ctx context.Context, flow *spec.Flow, waits map[string]bool) transforms.Link {
	return func(entity string, key any) (any, error) {
		ent := r.p.Entity(entity)
		if ent == nil {
			return nil, fmt.Errorf("link: no entity %q", entity)
		}
		el, err := r.links.get(ctx, entity)
		if err != nil {
			return nil, err
		}
		k := keyString(key)
		if k == "" {
			return nil, nil
		}
		fromLeft := ent.Left.Conn == flow.From.Conn || ent.Right.Conn != flow.From.Conn
		r.links.mu.Lock()
		var other string
		var ok, pend bool
		if fromLeft {
			other, ok = el.l2r[k]
			pend = el.pendingLeft[k]
		} else {
			other, ok = el.r2l[k]
			pend = el.pendingRight[k]
		}
		r.links.mu.Unlock()
		switch {
		case ok && fromLeft:
			return keyValue(ent.Right.Resource, other), nil
		case ok:
			return keyValue(ent.Left.Resource, other), nil
		case pend && waits != nil:
			waits[entity] = true
			return waitMarker{entity, k}.String(), nil
		}
		side := ent.Left
		if !fromLeft {
			side = ent.Right
		}
		return nil, fmt.Errorf("%w: %s %s has no %s link (not synced yet, or rejected)", transforms.ErrUnresolvedLink, side, k, entity)
	}
}
