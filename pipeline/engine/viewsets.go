package engine

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/synk-etl/synk/pipeline/spec"
	"github.com/synk-etl/synk/pipeline/state"
)

// Expressions can ask whether a key is in a view: `str(id) in
// views.customers_with_orders` is true when the first column of the view
// customers_with_orders (in whichever schema) holds "<id>". The engine reads the views an
// expression names once per round, after the snapshot and the views are
// made, as sets of strings.

var viewRef = regexp.MustCompile(`\bviews\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*["']([^"']+)["']\s*\])`)

// viewsRead returns the short names of the views p's expressions read.
func viewsRead(p *spec.Pipeline) []string {
	var names []string
	add := func(src string) {
		for _, m := range viewRef.FindAllStringSubmatch(src, -1) {
			names = append(names, m[1]+m[2])
		}
	}
	for _, e := range p.Entities {
		for _, f := range e.Flows {
			if f.Where != nil {
				add(f.Where.Source())
			}
			for _, m := range f.Map {
				if m.Expr != nil {
					add(m.Expr.Source())
				}
				if m.When != nil {
					add(m.When.Source())
				}
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// loadViewSets reads the views the pipeline's expressions name into
// r.viewSets (nil when none do).
func (r *Runner) loadViewSets(ctx context.Context) error {
	names := viewsRead(r.p)
	if len(names) == 0 {
		r.viewSets = nil
		return nil
	}
	sets := make(map[string]any, len(names))
	for _, name := range names {
		v := r.p.View(name)
		if v == nil {
			continue // validate refused it; nothing to read
		}
		schema, view, _ := strings.Cut(v.Name, ".")
		set, err := r.firstColumn(ctx, state.Ident(schema)+"."+state.Ident(view))
		if err != nil {
			return fmt.Errorf("read view %s for expressions: %w", v.Name, err)
		}
		sets[name] = set
	}
	r.viewSets = sets
	return nil
}

// firstColumn returns the non-null values of a relation's first column as
// a set of strings.
func (r *Runner) firstColumn(ctx context.Context, relation string) (map[string]any, error) {
	rows, err := r.store.DB.QueryContext(ctx, `SELECT * FROM `+relation)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	set := map[string]any{}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		if vals[0] != nil {
			set[keyString(normalize(vals[0]))] = true
		}
	}
	return set, rows.Err()
}
