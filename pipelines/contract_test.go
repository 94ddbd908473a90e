package pipelines_test

import (
	"strings"
	"testing"

	"github.com/synk-etl/synk/connectors/fiken/fikentest"
	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/engine"
)

// TestPhoneNumbersTypedInFikenSurvive: Fiken never returns a contact's
// phone number, and an update replaces the whole contact. Two flagship
// applies, and a shop edit of a customer whose contact was made in Fiken,
// leave every phone number Fiken holds as it was; the edit that would have
// erased one is a reject naming the field.
func TestPhoneNumbersTypedInFikenSurvive(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3, nil)
	phones := map[int64]string{}
	for _, c := range w.fk.Contacts() {
		if c.PhoneNumber != "" {
			phones[c.ContactID] = c.PhoneNumber
		}
	}
	if len(phones) == 0 {
		t.Fatal("no seeded Fiken contact has a phone number")
	}
	w.apply()
	w.apply()
	check := func(when string) {
		t.Helper()
		for id, phone := range phones {
			if c, _ := w.fk.Contact(id); c.PhoneNumber != phone {
				t.Errorf("%s: contact %d phone %q, Fiken held %q", when, id, c.PhoneNumber, phone)
			}
		}
	}
	check("after two applies")

	// The shop edits a customer that came from Fiken.
	var shopID, contactID string
	for _, r := range w.rows(`SELECT left_key, right_key FROM synk.links WHERE entity = 'customers'`) {
		if _, ok := phones[mustID(t, r[1])]; ok {
			shopID, contactID = r[0], r[1]
		}
	}
	if shopID == "" {
		t.Fatal("no contact with a phone number came into the shop")
	}
	if err := w.ps.Edit("customers", mustID(t, shopID), map[string]string{"lastname": "Endret"}); err != nil {
		t.Fatal(err)
	}
	res := w.applyAllowingRejects()
	check("after a shop edit of a customer made in Fiken")
	found := false
	for _, rj := range res.Plan.Rejects {
		found = found || rj.Key == shopID && strings.Contains(rj.Reason, "phoneNumber")
	}
	if rejects := w.rows(`SELECT key, reason FROM synk.rejects WHERE run_id = ?`, res.Plan.RunID); !found && !strings.Contains(strings.Join(flat(rejects), " "), "phoneNumber") {
		t.Errorf("the update of contact %s was not refused naming phoneNumber; rejects: %v", contactID, rejects)
	}
}

func flat(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// applyAllowingRejects is apply for a run that is expected to refuse some.
func (w *world) applyAllowingRejects() *engine.Result {
	w.t.Helper()
	r, err := engine.New(w.t.Context(), w.p, w.store, engine.Options{Retry: fastRetry})
	if err != nil {
		w.t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Apply(w.t.Context(), nil)
	if err != nil {
		w.t.Fatalf("apply: %v", err)
	}
	return res
}

// TestOneApplyConverges: from an empty state against fresh emulators, one
// apply leaves nothing for a plan to do (customers, products, their stock,
// orders and invoices all in one run).
func TestOneApplyConverges(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{41, 42} {
		w := newWorld(t, seed, nil)
		if res := w.apply(); res.Applied == 0 || res.Failed != 0 {
			t.Fatalf("seed %d: first apply applied %d, failed %d", seed, res.Applied, res.Failed)
		}
		r, err := engine.New(t.Context(), w.p, w.store, engine.Options{Retry: fastRetry})
		if err != nil {
			t.Fatal(err)
		}
		pl, err := r.Plan(t.Context())
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !pl.Empty() || len(pl.Rejects) != 0 {
			t.Errorf("seed %d: after one apply the plan has %d changes, %d rejects: %v", seed, len(pl.Changes), len(pl.Rejects), pl.Changes)
		}
	}
}

// TestShopCustomerAlreadyInFiken: a shop whose customer was typed into
// Fiken before synk (same e-mail, another phone and address) gets, in one
// apply, that customer's orders invoiced to the Fiken contact; the contact
// is not replaced (it would lose what Fiken holds and never returns), and
// that refusal is a reject in the plan, not a change that fails in every
// run: the next plan has no changes.
func TestShopCustomerAlreadyInFiken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3, nil)
	// The first shop customer with an order that becomes an invoice.
	var customer, ordered string
	for _, id := range w.ps.IDs("orders") {
		if eligible(w.shopField("orders", id, "current_state")) {
			customer, ordered = w.shopField("orders", id, "id_customer"), w.shopField("orders", id, "reference")
			break
		}
	}
	if customer == "" {
		t.Fatal("no eligible order in the seed")
	}
	email := w.shopField("customers", mustID(t, customer), "email")
	contact := w.fk.Contacts()[0]
	if _, err := w.fk.EditContact(contact.ContactID, func(c *fikentest.Contact) {
		c.Email, c.Customer, c.PhoneNumber, c.MemberNumberString = email, true, "99887766", ""
	}); err != nil {
		t.Fatal(err)
	}

	refusal := func(rejects []pipeline.Reject) bool {
		for _, rj := range rejects {
			if rj.Entity == "customers" && rj.Key == customer && strings.Contains(rj.Reason, "never returns") {
				return true
			}
		}
		return false
	}
	res := w.applyAllowingRejects()
	if res.Failed != 0 {
		t.Fatalf("first apply: %d failed", res.Failed)
	}
	for _, rj := range res.Plan.Rejects {
		if rj.Entity != "customers" {
			t.Errorf("%s %s rejected: %s", rj.Entity, rj.Key, rj.Reason)
		}
	}
	if !refusal(res.Plan.Rejects) {
		t.Errorf("the contact's replacement was not refused in the plan; rejects %v", res.Plan.Rejects)
	}
	inv := w.invoicesByRef()[ordered]
	if len(inv) != 1 || inv[0].Customer == nil || inv[0].Customer.ContactID != contact.ContactID {
		t.Fatalf("order %s invoiced %d times, to %+v; want once, to contact %d", ordered, len(inv), inv, contact.ContactID)
	}
	if c, _ := w.fk.Contact(contact.ContactID); c.PhoneNumber != "99887766" {
		t.Errorf("the contact's phone number is %q after the apply, Fiken held 99887766", c.PhoneNumber)
	}

	r, err := engine.New(t.Context(), w.p, w.store, engine.Options{Retry: fastRetry})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pl, err := r.Plan(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !pl.Empty() {
		t.Errorf("after one apply the plan has changes: %v", pl.Changes)
	}
	if !refusal(pl.Rejects) || len(pl.Rejects) != 1 {
		t.Errorf("the next plan's rejects %v, want the refusal alone", pl.Rejects)
	}
}
