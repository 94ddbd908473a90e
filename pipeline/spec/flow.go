package spec

import (
	"slices"
	"strings"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/transforms"
)

func (l *loader) side(v *node, what string) (Side, bool) {
	if v == nil {
		return Side{}, false
	}
	s, _ := v.value.(string)
	conn, res, ok := strings.Cut(s, ".")
	if !ok {
		l.errs.add(v.pos(), "%s must be connection.resource, e.g. shop.products", what)
		return Side{}, false
	}
	c, ok := l.conns[conn]
	if !ok {
		names := make([]string, 0, len(l.conns))
		for n := range l.conns {
			names = append(names, n)
		}
		slices.Sort(names)
		l.errs.add(v.pos(), "unknown connection %q%s", conn, didYouMean(conn, names))
		return Side{}, false
	}
	r, ok := c.Resources[res]
	if !ok {
		names := make([]string, 0, len(c.Resources))
		for n := range c.Resources {
			names = append(names, n)
		}
		slices.Sort(names)
		l.errs.add(Pos{v.line, v.col + len(conn) + 1 + quoteOffset(v)}, "connection %s (%s) has no resource %q%s", conn, c.Type.Name, res, didYouMean(res, names))
		return Side{}, false
	}
	return Side{Conn: c, Resource: r}, true
}

func (l *loader) loadFlow(ent *Entity, i int, n *node, counter bool) *Flow {
	if n.kind != mapNode {
		l.errs.add(n.pos(), "a flow is a mapping with from, to and map")
		return nil
	}
	l.checkKeys(n, flowKeys, "flow")
	from, ok1 := l.side(n.get("from"), "from")
	to, ok2 := l.side(n.get("to"), "to")
	if n.get("from") == nil || n.get("to") == nil {
		l.errs.add(n.pos(), "a flow needs from: and to:")
	}
	if !ok1 || !ok2 {
		return nil
	}
	f := &Flow{Index: i, From: from, To: to, Pos: n.pos()}
	if ent.Left.Conn == nil {
		ent.Left, ent.Right = from, to
	} else {
		switch {
		case from.String() == ent.Left.String() && to.String() == ent.Right.String():
		case from.String() == ent.Right.String() && to.String() == ent.Left.String():
			f.Reverse = true
		default:
			l.errs.add(n.pos(), "every flow of entity %s must go between %s and %s (either way)", ent.Name, ent.Left, ent.Right)
			return nil
		}
	}
	f.Create = l.boolean(n, "create", false)
	f.Update = l.boolean(n, "update", true)
	if v := n.get("delete"); v != nil {
		switch s, _ := v.asString(); s {
		case "true":
			f.Delete = DeleteDelete
		case "false":
		case DeleteDeactivate:
			if to.Resource.ActiveField == "" {
				l.errs.add(v.pos(), "%s has no active field to clear; use delete: true", to)
			}
			f.Delete = DeleteDeactivate
		default:
			l.errs.add(v.pos(), "delete must be true, false or deactivate")
		}
	}
	if f.Create && !to.Resource.Create {
		l.errs.add(n.get("create").pos(), "%s does not accept creates", to)
	}
	if f.Update && !to.Resource.Update && n.get("update") != nil {
		l.errs.add(n.get("update").pos(), "%s does not accept updates", to)
	}
	if f.Update && !to.Resource.Update {
		f.Update = false
	}
	if f.Delete == DeleteDelete && !to.Resource.Delete {
		l.errs.add(n.get("delete").pos(), "%s does not accept deletes", to)
	}
	env := l.recordEnv(from.Resource)
	if v := n.get("where"); v != nil {
		f.Where = l.compile(v, env, transforms.ExpectBool())
		l.warnWriteOnly(v, f.Where, from)
	}
	m := n.get("map")
	if counter {
		if m != nil {
			l.errs.add(m.pos(), "a counter entity's flows have no map: the counter's fields are what they move")
		}
		return f
	}
	if m == nil || m.kind != mapNode || len(m.entries) == 0 {
		l.errs.add(n.pos(), "a flow needs map: target field → expression")
		return nil
	}
	valid := fieldNames(to.Resource, true)
	for _, e := range m.entries {
		fld, ok := to.Resource.Field(e.key)
		if !ok {
			l.errs.add(e.k.pos(), "%s has no field %q%s", to, e.key, didYouMean(e.key, valid))
			continue
		}
		if fld.ReadOnly {
			l.errs.add(e.k.pos(), "%s.%s is read-only; it cannot be written", to, e.key)
			continue
		}
		mp := &Mapping{Field: e.key, Type: fld.Type, Overwrite: OverwriteWhenChanged, Pos: e.k.pos()}
		mp.Expr = l.compile(e.v, env, transforms.Entities(l.entityNames...))
		l.warnWriteOnly(e.v, mp.Expr, from)
		f.Map = append(f.Map, mp)
	}
	if ow := n.get("overwrite"); ow != nil {
		l.loadOverwrite(f, ow, from)
	}
	if v := n.get("lookup"); v != nil {
		l.loadLookup(f, v)
	}
	return f
}

// loadLookup reads a flow's lookup: the mapped target fields to find an
// existing target record by before creating one.
func (l *loader) loadLookup(f *Flow, v *node) {
	names := l.stringList(v, "lookup")
	if len(names) == 0 {
		l.errs.add(v.pos(), "lookup must list mapped target fields, e.g. lookup: [memberNumberString]")
		return
	}
	if !f.Create {
		l.errs.add(v.pos(), "lookup finds a record instead of creating it; it needs create: true")
	}
	var mapped []string
	for _, m := range f.Map {
		mapped = append(mapped, m.Field)
	}
	for _, name := range names {
		if !slices.Contains(mapped, name) {
			l.errs.add(v.pos(), "lookup names %q, which this flow does not map%s", name, didYouMean(name, mapped))
		}
	}
	f.Lookup = names
}

// warnWriteOnly warns when an expression over side s reads a field its
// system never returns: it always sees an empty value.
func (l *loader) warnWriteOnly(v *node, p *transforms.Program, s Side) {
	for _, name := range writeOnlyReads(p, s.Resource) {
		l.errs.warn(v.pos(), "%s never returns %s (it is write-only), so this expression always reads it as empty", s, name)
	}
}

func writeOnlyReads(p *transforms.Program, r pipeline.Resource) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, name := range p.Names() {
		if f, ok := r.Field(name); ok && f.WriteOnly {
			out = append(out, name)
		}
	}
	return out
}

func (l *loader) loadOverwrite(f *Flow, ow *node, from Side) {
	if ow.kind != mapNode {
		l.errs.add(ow.pos(), "overwrite must map target fields to always, when_changed, if_empty, never or {when: expr}")
		return
	}
	modes := []string{OverwriteAlways, OverwriteWhenChanged, OverwriteIfEmpty, OverwriteNever}
	var mapped []string
	for _, m := range f.Map {
		mapped = append(mapped, m.Field)
	}
	entries := ow.entries
	// "*" sets the rule of every field the other entries do not name.
	if i := slices.IndexFunc(entries, func(e entry) bool { return e.key == "*" }); i >= 0 {
		star := entries[i]
		entries = append(slices.Clone(entries[:i]), entries[i+1:]...)
		for _, m := range f.Map {
			if !slices.ContainsFunc(entries, func(e entry) bool { return e.key == m.Field }) {
				entries = append(entries, entry{key: m.Field, k: star.k, v: star.v})
			}
		}
	}
	for _, e := range entries {
		idx := slices.IndexFunc(f.Map, func(m *Mapping) bool { return m.Field == e.key })
		if idx < 0 {
			l.errs.add(e.k.pos(), "overwrite names %q, which this flow does not map%s", e.key, didYouMean(e.key, mapped))
			continue
		}
		mp := f.Map[idx]
		if e.v.kind == mapNode {
			l.checkKeys(e.v, []string{"when"}, "overwrite rule")
			w := e.v.get("when")
			if w == nil {
				l.errs.add(e.v.pos(), "an overwrite rule mapping needs when: <expression>")
				continue
			}
			zero := zeroValue(pipeline.Field{Type: mp.Type})
			env := map[string]any{"source": zero, "target": zero, "base": zero, "vars": l.p.Vars,
				"record": protoRecord(from.Resource), "target_record": protoRecord(f.To.Resource)}
			mp.Overwrite = OverwriteWhen
			mp.When = l.compile(w, env, transforms.ExpectBool())
			continue
		}
		s, _ := e.v.asString()
		if !slices.Contains(modes, s) {
			l.errs.add(e.v.pos(), "unknown overwrite rule %q%s", s, didYouMean(s, append(modes, "{when: …}")))
			continue
		}
		mp.Overwrite = s
	}
}
