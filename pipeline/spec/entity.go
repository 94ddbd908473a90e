package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

func (l *loader) loadEntities(n *node) {
	if n == nil {
		l.errs.add(Pos{1, 1}, "missing entities:")
		return
	}
	if n.kind != mapNode {
		l.errs.add(n.pos(), "entities must be a mapping of names to entities")
		return
	}
	var all []*Entity
	for _, e := range n.entries {
		l.entityNames = append(l.entityNames, e.key)
	}
	for _, e := range n.entries {
		if ent := l.loadEntity(e); ent != nil {
			all = append(all, ent)
		}
	}
	l.p.Entities = l.order(all)
}

func (l *loader) loadEntity(e entry) *Entity {
	n := e.v
	ent := &Entity{Name: e.key, Pos: e.k.pos(), Conflict: ConflictNewest}
	if n.kind != mapNode {
		l.errs.add(n.pos(), "entity %s must be a mapping with flows", e.key)
		return nil
	}
	l.checkKeys(n, entityKeys, "entity "+e.key)
	if v := n.get("conflict"); v != nil {
		s, _ := v.asString()
		valid := []string{ConflictNewest, ConflictSkip}
		for _, c := range l.conns {
			valid = append(valid, c.Name)
		}
		slices.Sort(valid)
		if !slices.Contains(valid, s) {
			l.errs.add(v.pos(), "unknown conflict policy %q%s", s, didYouMean(s, valid))
		}
		ent.Conflict = s
	}
	if v := n.get("tie"); v != nil {
		s, _ := v.asString()
		valid := []string{ConflictSkip}
		for _, c := range l.conns {
			valid = append(valid, c.Name)
		}
		slices.Sort(valid)
		switch {
		case !slices.Contains(valid, s):
			l.errs.add(v.pos(), "unknown tie rule %q%s", s, didYouMean(s, valid))
		case ent.Conflict != ConflictNewest:
			l.errs.add(v.pos(), "tie decides what conflict: newest cannot; this entity's conflict is %s", ent.Conflict)
		}
		ent.Tie = s
	}
	if v := n.get("needs"); v != nil {
		ent.Needs = l.stringList(v, "needs")
	}
	flows := n.get("flows")
	if flows == nil || flows.kind != seqNode || len(flows.items) == 0 {
		l.errs.add(e.k.pos(), "entity %s needs flows: a list of at least one flow", e.key)
		return nil
	}
	counter := n.get("counter")
	for i, fn := range flows.items {
		if f := l.loadFlow(ent, i, fn, counter != nil); f != nil {
			ent.Flows = append(ent.Flows, f)
		}
	}
	if len(ent.Flows) == 0 {
		return nil
	}
	l.loadMatch(ent, n.get("key"), n.get("match"))
	if counter != nil {
		l.loadCounter(ent, counter)
	}
	ent.Fingerprint = fingerprint(ent, l.p.Vars)
	return ent
}

func (l *loader) loadMatch(ent *Entity, key, match *node) {
	var rules []*node
	if key != nil {
		rules = append(rules, key)
	}
	if match != nil {
		if match.kind != seqNode {
			l.errs.add(match.pos(), "match must be a list of rules like {shop: email, fiken: email}")
		} else {
			rules = append(rules, match.items...)
		}
	}
	for _, r := range rules {
		if r.kind != mapNode {
			l.errs.add(r.pos(), "a match rule maps each side to a field or expression, e.g. {shop: reference, fiken: productNumber}")
			continue
		}
		var mr MatchRule
		for _, e := range r.entries {
			var side Side
			switch e.key {
			case ent.Left.Conn.Name, ent.Left.String():
				side = ent.Left
			case ent.Right.Conn.Name, ent.Right.String():
				side = ent.Right
			default:
				l.errs.add(e.k.pos(), "match side %q is neither %s nor %s", e.key, ent.Left, ent.Right)
				continue
			}
			if ent.Left.Conn == ent.Right.Conn && e.key == side.Conn.Name {
				l.errs.add(e.k.pos(), "both sides use connection %s: name the side as connection.resource", e.key)
				continue
			}
			prog := l.compile(e.v, l.recordEnv(side.Resource))
			if names := writeOnlyReads(prog, side.Resource); len(names) > 0 {
				l.errs.add(e.v.pos(), "%s never returns %s (it is write-only), so this rule can never pair records; look records up by it with lookup: on the flow that creates them",
					side, strings.Join(names, ", "))
				continue
			}
			if side.String() == ent.Left.String() && (e.key == ent.Left.Conn.Name || e.key == ent.Left.String()) {
				mr.Left = prog
			} else {
				mr.Right = prog
			}
		}
		if mr.Left == nil || mr.Right == nil {
			if len(l.errs.errs) == 0 {
				l.errs.add(r.pos(), "a match rule needs both sides: %s and %s", ent.Left.Conn.Name, ent.Right.Conn.Name)
			}
			continue
		}
		ent.Match = append(ent.Match, mr)
	}
}

// entities its link() calls name; unknown needs and cycles are errors.
func (l *loader) order(all []*Entity) []*Entity {
	byName := map[string]*Entity{}
	for _, e := range all {
		byName[e.Name] = e
	}
	deps := map[string][]string{}
	for _, e := range all {
		d := slices.Clone(e.Needs)
		for _, n := range e.Needs {
			if _, ok := byName[n]; !ok {
				names := make([]string, 0, len(byName))
				for k := range byName {
					names = append(names, k)
				}
				slices.Sort(names)
				l.errs.add(e.Pos, "entity %s needs unknown entity %q%s", e.Name, n, didYouMean(n, names))
			}
		}
		for _, f := range e.Flows {
			for _, m := range f.Map {
				if m.Expr == nil {
					continue
				}
				for _, target := range m.Expr.Links() {
					if _, ok := byName[target]; !ok {
						l.errs.add(m.Pos, "link(%q, …) names no entity", target)
					} else if target != e.Name && !slices.Contains(d, target) {
						d = append(d, target)
					}
				}
			}
		}
		deps[e.Name] = d
	}
	var out []*Entity
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(e *Entity, path []string)
	visit = func(e *Entity, path []string) {
		switch state[e.Name] {
		case 2:
			return
		case 1:
			l.errs.add(e.Pos, "entities depend on each other in a cycle: %s", strings.Join(append(path, e.Name), " → "))
			return
		}
		state[e.Name] = 1
		for _, d := range deps[e.Name] {
			if de, ok := byName[d]; ok {
				visit(de, append(path, e.Name))
			}
		}
		state[e.Name] = 2
		out = append(out, e)
	}
	for _, e := range all {
		visit(e, nil)
	}
	for _, e := range out {
		e.Needs = deps[e.Name]
	}
	return out
}

// fingerprint hashes what decides an entity's plan besides the data.
func fingerprint(e *Entity, vars map[string]any) string {
	h := sha256.New()
	fmt.Fprintln(h, e.Left, e.Right, e.Conflict, e.Tie)
	for _, m := range e.Match {
		fmt.Fprintln(h, "match", m.Left.Source(), m.Right.Source())
	}
	if c := e.Counter; c != nil {
		fmt.Fprintln(h, "counter", c.LeftField, c.RightField, c.Initial, c.LeftOffset, c.RightOffset)
	}
	for _, f := range e.Flows {
		fmt.Fprintln(h, "flow", f.Name(), f.Create, f.Update, f.Delete)
		if f.Where != nil {
			fmt.Fprintln(h, "where", f.Where.Source())
		}
		for _, m := range f.Map {
			if m.Expr == nil {
				continue
			}
			fmt.Fprintln(h, m.Field, m.Expr.Source(), m.Overwrite)
			if m.When != nil {
				fmt.Fprintln(h, m.When.Source())
			}
		}
	}
	vb, _ := json.Marshal(vars)
	h.Write(vb)
	return hex.EncodeToString(h.Sum(nil))[:16]
}
