package engine_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/synk-etl/synk/pipeline"
)

// TestObjectMappingComparesNamedMembers maps an object with some members,
// owned by the source (overwrite: always),
// into a system that adds others (as shops do with addresses): once
// written, the record is in step, and only a change of a mapped member is
// written again.
func TestObjectMappingComparesNamedMembers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	people := pipeline.Resource{Name: "people", Key: "id", Fields: []pipeline.Field{
		{Name: "id", Type: pipeline.TypeString}, {Name: "email", Type: pipeline.TypeString}, {Name: "city", Type: pipeline.TypeString},
	}}
	contacts := pipeline.Resource{Name: "contacts", Key: "cid", Create: true, Update: true, Fields: []pipeline.Field{
		{Name: "cid", Type: pipeline.TypeInt}, {Name: "email", Type: pipeline.TypeString},
		{Name: "address", Type: pipeline.TypeObject, Fields: []pipeline.Field{
			{Name: "city", Type: pipeline.TypeString}, {Name: "country", Type: pipeline.TypeString}}},
	}}
	l, r := h.system("l", people), h.system("r", contacts)
	l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "city": "Bergen"})
	// The target system fills in the country of every address it stores.
	r.afterCreate = func(_ context.Context, w pipeline.Write, rec pipeline.Record) error {
		key := rec["cid"]
		r.mu.Lock()
		defer r.mu.Unlock()
		stored := r.data["contacts"][fmtKey(key)]
		stored["address"] = map[string]any{"city": w.Set["address"].(map[string]any)["city"], "country": "Norge"}
		return nil
	}
	p := h.load(`version: 1
name: objects
connections:
  l: {type: mem, system: l}
  r: {type: mem, system: r}
entities:
  people:
    key: {l: email, r: email}
    flows:
      - from: l.people
        to: r.contacts
        create: true
        map: {email: email, address: '{city: city}'}
        overwrite: {address: always}
`)
	h.apply(p)
	h.mustBeConverged(p)
	l.set("people", "p1", "city", "Oslo")
	pl := h.plan(p)
	if len(pl.Changes) != 1 || pl.Changes[0].Action != pipeline.Update {
		t.Fatalf("after a city change: %s", describeChanges(pl.Changes))
	}
	h.apply(p)
	h.mustBeConverged(p)
}

func fmtKey(v any) string {
	switch k := v.(type) {
	case int64:
		return strconv.FormatInt(k, 10)
	case string:
		return k
	}
	return ""
}
