package engine_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/synk-etl/synk/pipeline"
)

// contactsWORes is a contact resource whose phone and ref the system takes
// but never returns (like Fiken's phoneNumber and memberNumberString).
var contactsWORes = pipeline.Resource{Name: "contacts", Key: "cid", Create: true, Update: true, Fields: []pipeline.Field{
	{Name: "cid", Type: pipeline.TypeInt}, {Name: "email", Type: pipeline.TypeString},
	{Name: "name", Type: pipeline.TypeString}, {Name: "phone", Type: pipeline.TypeString, WriteOnly: true},
	{Name: "ref", Type: pipeline.TypeString, WriteOnly: true},
}}

const writeOnlyPipeline = `version: 1
name: writeonly
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
        map: {email: email, name: name, phone: phone, ref: id}
        overwrite: {ref: always}
`

func TestWriteOnlyFieldsAreNeverErased(t *testing.T) {
	t.Parallel()
	for _, kind := range sinkKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			l, r := h.system("l", peopleRes), h.system("r", contactsWORes)
			l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann", "phone": "+47 222"})
			l.put("people", pipeline.Record{"id": "p2", "email": "bob@example.com", "name": "Bob B", "phone": ""})
			// Bob exists on the right with a phone typed there, which reads never show.
			r.put("contacts", pipeline.Record{"cid": int64(7), "email": "bob@example.com", "name": "Bob", "phone": "+47 111", "ref": "x"})
			p := h.load(asKind(writeOnlyPipeline, kind))

			res := h.apply(p)
			ann := r.where("contacts", "email", "ann@example.com")
			if len(ann) != 1 || ann[0]["phone"] != "+47 222" {
				t.Fatalf("ann on the right = %v, want created with her phone", ann)
			}
			bob, _ := r.get("contacts", "7")
			if bob["phone"] != "+47 111" || bob["ref"] != "x" || bob["name"] != "Bob" {
				t.Fatalf("bob on the right = %v: a value synk never knew was erased", bob)
			}
			if res.Rejected != 1 || !strings.Contains(describeRejects(res.Plan.Rejects)+lastRejects(h), "field phone") {
				t.Fatalf("rejected %d, want bob's update refused naming the phone:%s", res.Rejected, lastRejects(h))
			}

			// Ann's phone is compared with what synk wrote, not with the empty
			// value reads give: nothing to do for her.
			pl := h.plan(p)
			for _, c := range pl.Changes {
				if c.SourceKey == "p1" {
					t.Fatalf("ann planned again: %s", describeChanges(pl.Changes))
				}
			}

			// An edit of Ann's name sends her phone as synk last wrote it.
			l.set("people", "p1", "name", "Ann Hansen")
			h.apply(p)
			ann = r.where("contacts", "email", "ann@example.com")
			if ann[0]["name"] != "Ann Hansen" || ann[0]["phone"] != "+47 222" || ann[0]["ref"] != "p1" {
				t.Fatalf("ann after a name edit = %v, want her phone and ref kept", ann[0])
			}

			// Once the left side knows Bob's phone, the pipeline owns it: written.
			l.set("people", "p2", "phone", "+47 333")
			h.apply(p)
			bob, _ = r.get("contacts", "7")
			if bob["phone"] != "+47 333" || bob["name"] != "Bob B" {
				t.Fatalf("bob after his phone came from the left = %v", bob)
			}
			h.mustBeConverged(p)
		})
	}
}

// lastRejects lists the rejects stored in the state file.
func lastRejects(h *harness) string {
	var b strings.Builder
	for _, r := range h.rows(`SELECT key, reason FROM synk.rejects ORDER BY rejected_at`) {
		b.WriteString("\n  " + r[0] + ": " + r[1])
	}
	return b.String()
}

func TestLookupPairsByAKeyReadsNeverReturn(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, r := h.system("l", peopleRes), h.system("r", contactsWORes)
	l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann", "phone": "+47 222"})
	l.put("people", pipeline.Record{"id": "p2", "email": "eve@example.com", "name": "Eve", "phone": "+47 444"})
	// p1 was sent to the right by an earlier integration, under another
	// e-mail: only its ref, which reads never return, tells.
	r.put("contacts", pipeline.Record{"cid": int64(5), "email": "ann@old.example", "name": "Ann Old", "phone": "+47 000", "ref": "p1"})
	p := h.load(strings.Replace(writeOnlyPipeline, "        create: true\n", "        create: true\n        lookup: [ref]\n", 1))

	res := h.apply(p)
	if res.Failed != 0 || res.Rejected != 0 {
		t.Fatalf("failed %d rejected %d:%s", res.Failed, res.Rejected, lastRejects(h))
	}
	if got := h.links("people"); got["p1"] != "5" || len(got) != 2 {
		t.Fatalf("links %v, want p1 linked to the contact found by ref (5) and p2 created", got)
	}
	ann, _ := r.get("contacts", "5")
	if ann["email"] != "ann@example.com" || ann["name"] != "Ann" || ann["phone"] != "+47 222" {
		t.Fatalf("contact found by lookup = %v, want it updated from the left", ann)
	}
	if n := len(r.all("contacts")); n != 2 {
		t.Fatalf("%d contacts on the right, want 2 (one found, one created)", n)
	}
	h.mustBeConverged(p)
}

func TestLookupNeverLinksARecordTwice(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	l, r := h.system("l", peopleRes), h.system("r", contactsWORes)
	l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann", "phone": "1"})
	r.put("contacts", pipeline.Record{"cid": int64(5), "email": "ann@example.com", "name": "Ann", "phone": "1", "ref": "p1"})
	p := h.load(strings.Replace(writeOnlyPipeline, "        create: true\n", "        create: true\n        lookup: [ref]\n", 1))
	h.apply(p)
	// A second left record claims the same ref: the contact is taken.
	l.put("people", pipeline.Record{"id": "p9", "email": "p9@example.com", "name": "Nine", "phone": "9"})
	r.set("contacts", "5", "ref", "p9")
	res := h.apply(p)
	if res.Rejected != 1 || !strings.Contains(lastRejects(h), "already paired") {
		t.Fatalf("rejected %d, want p9's lookup refused as already paired:%s", res.Rejected, lastRejects(h))
	}
	if n := len(r.all("contacts")); n != 1 {
		t.Fatalf("%d contacts, want 1: a refused lookup creates nothing", n)
	}
}

// followUpPipeline: a create whose new key flows back to its source, and
// an entity that needs the created records.
const followUpPipeline = `version: 1
name: followup
connections:
  l: {type: mem, system: l}
  r: {type: mem, system: r}
  x: {type: mem, system: x}
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
        map: {phone: '"cid " + str(cid)'}
  copies:
    needs: [people]
    key: {r: str(cid), x: id}
    flows:
      - from: r.contacts
        to: x.people
        create: true
        map: {id: str(cid), email: email, name: name}
`

func TestOneApplyConverges(t *testing.T) {
	t.Parallel()
	for _, kind := range sinkKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			l, r, x := h.system("l", peopleRes), h.system("r", contactsRes), h.system("x", peopleRes)
			l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann"})
			p := h.load(asKind(followUpPipeline, kind))
			res := h.apply(p)
			if res.Failed != 0 || res.Rejected != 0 {
				t.Fatalf("failed %d rejected %d:%s", res.Failed, res.Rejected, lastRejects(h))
			}
			cid := r.all("contacts")[0]["cid"]
			if ann, _ := l.get("people", "p1"); ann["phone"] != fmt.Sprintf("cid %v", cid) {
				t.Errorf("the new contact's id did not flow back in the same apply: %v", ann)
			}
			if n := len(x.all("people")); n != 1 {
				t.Errorf("%d copies, want the contact created in this apply copied in it too", n)
			}
			if runs := h.rows(`SELECT count(*) FROM synk.runs`); runs[0][0] != "1" {
				t.Errorf("%s runs recorded, want the follow-up rounds inside one run", runs[0][0])
			}
			h.mustBeConverged(p)
		})
	}
}

func TestCounterKeepsAChangeMadeAfterTheSnapshot(t *testing.T) {
	t.Parallel()
	w := newCounterWorld(t)
	p := w.h.load(w.pipelineSrc())
	w.h.apply(p)
	w.check(t, "first sync")

	w.acctSale("A", 1) // the shop's stock is written this run
	once := false
	w.shop.beforeGet = func(resource, key string) {
		if resource == "stock" && key == "1" && !once {
			once = true
			w.correct(true, "A", -2) // counted in the shop after the snapshot
		}
	}
	w.h.apply(p)
	if !once {
		t.Fatal("the shop's stock was not read again before its write")
	}
	if s, _ := w.shop.get("stock", "1"); s["qty"].(int64) != 17 {
		t.Fatalf("shop stock of A = %v, want 17: the count made after the snapshot kept (20 - 1 sold - 2 counted)", s["qty"])
	}
	w.shop.beforeGet = nil
	w.h.apply(p)
	w.check(t, "the run after")
	w.h.mustBeConverged(p)
}

// TestCutConnectionIsRetriedInTheSameRun: a create whose connection was
// cut (before it reached the system) and an update cut the same way are
// made in a follow-up round of the same apply, after the create was looked
// up and found missing; the apply ends with nothing failed.
func TestCutConnectionIsRetriedInTheSameRun(t *testing.T) {
	t.Parallel()
	for _, kind := range sinkKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			l, r := h.system("l", peopleRes), h.system("r", contactsRes)
			l.put("people", pipeline.Record{"id": "p1", "email": "ann@example.com", "name": "Ann"})
			l.put("people", pipeline.Record{"id": "p2", "email": "bob@example.com", "name": "Bob"})
			p := h.load(asKind(twoWayMem, kind))
			h.apply(p)
			cut := map[string]bool{}
			r.refuse = func(w pipeline.Write) error {
				who := fmt.Sprint(w.Set["email"], w.Key)
				if !cut[who] {
					cut[who] = true
					return fmt.Errorf("post contacts: %w", io.ErrUnexpectedEOF)
				}
				return nil
			}
			l.put("people", pipeline.Record{"id": "p3", "email": "eve@example.com", "name": "Eve"})
			l.set("people", "p1", "name", "Ann B")
			res := h.apply(p)
			if res.Failed != 0 || res.Applied != 2 {
				t.Fatalf("applied %d failed %d, want 2 and 0:%s", res.Applied, res.Failed, describeChanges(res.Plan.Changes))
			}
			if n := len(r.where("contacts", "email", "eve@example.com")); n != 1 {
				t.Fatalf("%d contacts for eve, want exactly 1", n)
			}
			if got := h.rows(`SELECT status, count(*) FROM synk.changes WHERE run_id = ? AND status <> 'planned' GROUP BY status ORDER BY status`, res.Plan.RunID); fmt.Sprint(got) != "[[applied 2] [failed 2]]" {
				t.Fatalf("changes of the run by status = %v, want the two cut attempts and the two made", got)
			}
			h.mustBeConverged(p)
		})
	}
}
