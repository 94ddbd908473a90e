package engine

import (
	"fmt"
	"time"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/spec"
)

// decide applies a field's overwrite rule and the entity's conflict
// policy: whether to write, a reject reason, and a note for the plan.
func (r *Runner) decide(m *spec.Mapping, f *spec.Flow, p *pair, nv, cur, b any, hasB, twoWay bool, src, tgt pipeline.Record) (bool, string, string) {
	switch m.Overwrite {
	case spec.OverwriteAlways:
		return true, "", ""
	case spec.OverwriteNever:
		return false, "", ""
	case spec.OverwriteIfEmpty:
		return isEmpty(cur), "", ""
	case spec.OverwriteWhen:
		v, err := m.When.Run(map[string]any{"source": nv, "target": cur, "base": b, "vars": r.p.Vars, "record": map[string]any(src),
			"target_record": map[string]any(tgt)})
		if err != nil {
			return false, fmt.Sprintf("overwrite rule for %s: %v", m.Field, err), ""
		}
		ok, _ := v.(bool)
		return ok, "", ""
	}
	srcChanged := !hasB || !equal(nv, b)
	if !srcChanged {
		return false, "", "" // the other side's edit survives
	}
	tgtChanged := !hasB || !equal(cur, b)
	if !twoWay || !tgtChanged {
		return true, "", ""
	}
	e := p.entity
	switch e.Conflict {
	case spec.ConflictSkip:
		return false, fmt.Sprintf("conflict on %s: both sides changed it since the last sync (%s → %v, %s has %v); conflict: skip leaves it to you",
			m.Field, f.From, nv, f.To, cur), ""
	case spec.ConflictNewest:
		return newest(e, f, m.Field, src, tgt)
	default:
		return f.From.Conn.Name == e.Conflict, "", ""
	}
}

// newest settles a conflict by the records' modification times, as each
// connector declares them (field, precision, zone): the source wins when
// its time is after the target's at the coarser precision of the two.
// Times that cannot tell (both edits on one Fiken day) go to the entity's
// tie rule, and the plan says so.
func newest(e *spec.Entity, f *spec.Flow, field string, src, tgt pipeline.Record) (bool, string, string) {
	st, sok := modified(src, f.From.Resource)
	tt, tok := modified(tgt, f.To.Resource)
	if !sok || !tok {
		return !f.Reverse, "", "" // no times to compare: the first flow's source wins
	}
	switch {
	case st.after(tt):
		return true, "", ""
	case tt.after(st):
		return false, "", ""
	}
	tie := fmt.Sprintf("conflict on %s: both sides changed it (%s modified %s, %s modified %s), too close for their times to tell which was last",
		field, f.From, st, f.To, tt)
	switch e.Tie {
	case spec.ConflictSkip:
		return false, tie + "; tie: skip leaves it to you", ""
	case "":
		first := f.From
		if f.Reverse {
			first = f.To
		}
		return !f.Reverse, "", fmt.Sprintf("%s; the first flow's source (%s) wins (set tie: to choose)", tie, first)
	default:
		return f.From.Conn.Name == e.Tie, "", fmt.Sprintf("%s; tie: %s", tie, e.Tie)
	}
}

// stamp is the interval a record's modification time stands for: a time
// to the second is one instant, a date the whole day in its zone.
type stamp struct {
	from, to time.Time
	text     string
}

// after reports whether s certainly lies after o.
func (s stamp) after(o stamp) bool { return s.from.After(o.from) && !s.from.Before(o.to) }

func (s stamp) String() string { return s.text }

// modified reads a record's modification time from the field its
// connector declares, in the resource's zone when the value has none.
func modified(rec pipeline.Record, res pipeline.Resource) (stamp, bool) {
	s, ok := rec[res.ModifiedField].(string)
	if res.ModifiedField == "" || !ok || s == "" {
		return stamp{}, false
	}
	loc := time.UTC
	if res.ModifiedZone != "" {
		l, err := time.LoadLocation(res.ModifiedZone)
		if err != nil {
			return stamp{}, false
		}
		loc = l
	}
	prec := res.ModifiedPrecision
	var t time.Time
	var err error
	if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
		for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", time.DateOnly} {
			if t, err = time.ParseInLocation(layout, s, loc); err == nil {
				if layout == time.DateOnly {
					prec = max(prec, 24*time.Hour)
				}
				break
			}
		}
	}
	if err != nil {
		return stamp{}, false
	}
	if prec == 24*time.Hour {
		return stamp{from: t, to: t.AddDate(0, 0, 1), text: t.Format(time.DateOnly) + " (" + loc.String() + ", date only)"}, true
	}
	return stamp{from: t, to: t.Add(prec), text: t.Format(time.RFC3339)}, true
}
