package engine_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
)

// numberedRes is a contact resource whose number the system assigns.
var numberedRes = pipeline.Resource{Name: "contacts", Key: "cid", Create: true, Update: true, Fields: []pipeline.Field{
	{Name: "cid", Type: pipeline.TypeInt}, {Name: "email", Type: pipeline.TypeString},
	{Name: "name", Type: pipeline.TypeString}, {Name: "number", Type: pipeline.TypeString, ReadOnly: true},
}}

const numberedPipeline = `version: 1
name: numbered
connections:
  l: {type: mem, system: l}
  r: {type: mem, system: r}
entities:
  people:
    key: {l: lower(email), r: lower(email)}
    flows:
      - from: l.people
        to: r.contacts
        create: true
        map: {email: email, name: name}
      - from: r.contacts
        to: l.people
        map: {phone: BACK}
`

// TestCreatedRecordIsReadOnlyWhenAFlowBackNeedsIt: a sink that answers a
// create with what it sent leaves out what the system assigned; the
// engine reads the record (Getter) only when a flow back maps such a
// field, so the value still flows back in the same apply.
func TestCreatedRecordIsReadOnlyWhenAFlowBackNeedsIt(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, back string
		gets       int
		phone      string
	}{
		{"assigned field flows back", "number", 1, "number-1001"},
		{"whole record read", `record.number ?? ""`, 1, "number-1001"},
		{"only sent fields flow back", `name + " (l)"`, 0, "Ann (l)"},
	} {
		for _, kind := range sinkKinds {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				l, r := h.system("l", peopleRes), h.system("r", numberedRes)
				r.assigned = []string{"number"}
				l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann"})
				p := h.load(asKind(strings.Replace(numberedPipeline, "BACK", "'"+tt.back+"'", 1), kind))
				res := h.apply(p)
				if res.Failed != 0 || res.Rejected != 0 {
					t.Fatalf("failed %d rejected %d:%s", res.Failed, res.Rejected, lastRejects(h))
				}
				if r.gets != tt.gets {
					t.Errorf("%d reads of the created record, want %d", r.gets, tt.gets)
				}
				ann, _ := l.get("people", "p1")
				if diff := cmp.Diff(tt.phone, ann["phone"]); diff != "" {
					t.Errorf("phone written back in the same apply (-want +got):\n%s", diff)
				}
				h.mustBeConverged(p)
			})
		}
	}
}

// TestCounterWriteHandsItsFreshReadToTheSink: the record a counter write
// reads just before writing is given to the sink as Current with Fresh, so
// a sink that replaces whole records need not read it once more.
func TestCounterWriteHandsItsFreshReadToTheSink(t *testing.T) {
	t.Parallel()
	w := newCounterWorld(t)
	p := w.h.load(w.pipelineSrc())
	w.h.apply(p)
	w.shop.fresh = nil
	w.acctSale("A", 1)
	w.shop.beforeGet = func(resource, key string) {
		if resource == "stock" && key == "1" {
			w.shop.beforeGet = nil
			w.correct(true, "A", -2) // after the snapshot, before the write
		}
	}
	w.h.apply(p)
	want := []pipeline.Record{{"id": int64(1), "ref": "A", "qty": int64(18)}}
	if diff := cmp.Diff(want, w.shop.fresh); diff != "" {
		t.Errorf("Current of the fresh updates (-want +got):\n%s", diff)
	}
	w.h.apply(p) // the correction folded in reaches the other side
	w.check(t, "the run after")
}

// TestNoFollowUpRoundForAFlowBackItsRuleKeepsOut: a flow back from a
// created record whose overwrite rule would not let it write (the other
// side owns the field) plans no follow-up round, so nothing is read again.
func TestNoFollowUpRoundForAFlowBackItsRuleKeepsOut(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		when  string
		reads int
		phone any
	}{
		{"vars.back", 2, nil},
		{"!vars.back", 4, "Ann (l)"},
	} {
		t.Run(tt.when, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			l, r := h.system("l", peopleRes), h.system("r", numberedRes)
			l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann"})
			src := strings.Replace(numberedPipeline, "BACK", `'name + " (l)"'`, 1) +
				"        overwrite: {phone: {when: '" + tt.when + "'}}\nvars: {back: false}\n"
			p := h.load(src)
			h.apply(p)
			if got := l.reads + r.reads; got != tt.reads {
				t.Errorf("%d reads in the apply, want %d", got, tt.reads)
			}
			ann, _ := l.get("people", "p1")
			if diff := cmp.Diff(tt.phone, ann["phone"]); diff != "" {
				t.Errorf("phone (-want +got):\n%s", diff)
			}
			h.mustBeConverged(p)
		})
	}
}
