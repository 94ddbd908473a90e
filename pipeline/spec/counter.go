package spec

import "github.com/synk-etl/synk/pipeline"

// loadCounter reads an entity's counter: block:
//
//	counter:
//	  fields: {shop: quantity, fiken: stock}
//	  initial: shop
//	  offsets: {fiken: "SELECT key, units FROM …"}
func (l *loader) loadCounter(ent *Entity, n *node) {
	if n.kind != mapNode {
		l.errs.add(n.pos(), "counter must be a mapping with fields:, initial: and optionally offsets:")
		return
	}
	l.checkKeys(n, counterKeys, "counter")
	c := &Counter{Pos: n.pos()}
	sideOf := func(k *node, key string) (string, bool) {
		switch key {
		case ent.Left.String():
			return "left", true
		case ent.Right.String():
			return "right", true
		case ent.Left.Conn.Name, ent.Right.Conn.Name:
			if ent.Left.Conn == ent.Right.Conn {
				l.errs.add(k.pos(), "both sides use connection %s: name the side as connection.resource", key)
				return "", false
			}
			if key == ent.Left.Conn.Name {
				return "left", true
			}
			return "right", true
		}
		l.errs.add(k.pos(), "counter side %q is neither %s nor %s", key, ent.Left, ent.Right)
		return "", false
	}
	fields := n.get("fields")
	if fields == nil || fields.kind != mapNode {
		l.errs.add(n.pos(), "counter needs fields: {%s: FIELD, %s: FIELD}", ent.Left.Conn.Name, ent.Right.Conn.Name)
		return
	}
	for _, e := range fields.entries {
		side, ok := sideOf(e.k, e.key)
		if !ok {
			continue
		}
		res := ent.Left.Resource
		if side == "right" {
			res = ent.Right.Resource
		}
		name, _ := e.v.asString()
		fld, ok := res.Field(name)
		switch {
		case !ok:
			l.errs.add(e.v.pos(), "%s has no field %q%s", res.Name, name, didYouMean(name, fieldNames(res, false)))
			continue
		case fld.Type != pipeline.TypeInt && fld.Type != pipeline.TypeFloat:
			l.errs.add(e.v.pos(), "counter field %s.%s must be a number, not %s", res.Name, name, fld.Type)
			continue
		case fld.ReadOnly:
			l.errs.add(e.v.pos(), "counter field %s.%s is read-only; synk could not set it", res.Name, name)
			continue
		}
		if side == "left" {
			c.LeftField = name
		} else {
			c.RightField = name
		}
	}
	if c.LeftField == "" || c.RightField == "" {
		if len(l.errs.errs) == 0 {
			l.errs.add(fields.pos(), "counter fields: needs both sides, %s and %s", ent.Left.Conn.Name, ent.Right.Conn.Name)
		}
		return
	}
	c.Initial = "left"
	if v := n.get("initial"); v != nil {
		s, _ := v.asString()
		if side, ok := sideOf(v, s); ok {
			c.Initial = side
		}
	}
	if o := n.get("offsets"); o != nil {
		if o.kind != mapNode {
			l.errs.add(o.pos(), "offsets must map a side to an SQL query returning (key, units)")
		} else {
			for _, e := range o.entries {
				side, ok := sideOf(e.k, e.key)
				if !ok {
					continue
				}
				q, _ := e.v.asString()
				if side == "left" {
					c.LeftOffset = q
				} else {
					c.RightOffset = q
				}
			}
		}
	}
	dirs := map[bool]bool{}
	for _, f := range ent.Flows {
		dirs[f.Reverse] = true
		if f.Create || f.Delete != DeleteOff {
			l.errs.add(f.Pos, "a counter entity only sets counts of linked records: no create or delete here (let another entity create the records)")
		}
	}
	if !dirs[false] || !dirs[true] {
		l.errs.add(ent.Pos, "counter entity %s needs a flow each way (%s → %s and back)", ent.Name, ent.Left, ent.Right)
	}
	ent.Counter = c
}
