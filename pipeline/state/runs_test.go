package state_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/synk-etl/synk/pipeline/state"
)

// TestRunRecords: runs begun and finished are read back as the daemon and
// the demo read them, also from a read-only reopen of the file.
func TestRunRecords(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	if _, ok, err := st.LastRun(ctx, "shop", state.ModeApply); ok || err != nil {
		t.Fatalf("LastRun of an empty file: %v, %v", ok, err)
	}
	if _, ok, err := st.LastSuccess(ctx, "shop", state.ModeApply); ok || err != nil {
		t.Fatalf("LastSuccess of an empty file: %v, %v", ok, err)
	}
	begin := func(id, pipeline string, mode state.Mode) {
		t.Helper()
		if err := st.BeginRun(ctx, id, pipeline, mode); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(id string, o state.Outcome) {
		t.Helper()
		if err := st.FinishRun(ctx, id, o); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	begin("r1", "shop", state.ModeApply)
	finish("r1", state.Outcome{Status: "success", Planned: 3, Applied: 3})
	begin("r2", "shop", state.ModePlan)
	finish("r2", state.Outcome{Status: "success", Planned: 1})
	begin("r3", "shop", state.ModeApply)
	finish("r3", state.Outcome{Status: "failed", Error: "fiken: 401"})
	begin("r4", "other", state.ModeApply)
	begin("r5", "shop", state.ModePlan) // never finished: its process died

	want := []state.RunRecord{
		{ID: "r1", Pipeline: "shop", Mode: state.ModeApply, Outcome: state.Outcome{Status: "success", Planned: 3, Applied: 3}},
		{ID: "r2", Pipeline: "shop", Mode: state.ModePlan, Outcome: state.Outcome{Status: "success", Planned: 1}},
		{ID: "r3", Pipeline: "shop", Mode: state.ModeApply, Outcome: state.Outcome{Status: "failed", Error: "fiken: 401"}},
		{ID: "r4", Pipeline: "other", Mode: state.ModeApply, Outcome: state.Outcome{Status: "running"}},
		{ID: "r5", Pipeline: "shop", Mode: state.ModePlan, Outcome: state.Outcome{Status: "running"}},
	}
	ignoreTimes := cmpopts.IgnoreFields(state.RunRecord{}, "Started", "Finished")
	runs, err := st.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, runs, ignoreTimes); diff != "" {
		t.Errorf("Runs (-want +got):\n%s", diff)
	}
	for i, r := range runs {
		if r.Started.Before(before.Add(-time.Second)) || (i > 0 && r.Started.Before(runs[i-1].Started)) {
			t.Errorf("run %s started at %v, before the test or the run before it", r.ID, r.Started)
		}
		if finished := r.Status != "running"; finished != !r.Finished.IsZero() || (finished && r.Finished.Before(r.Started)) {
			t.Errorf("run %s (%s) started %v, finished %v", r.ID, r.Status, r.Started, r.Finished)
		}
	}

	path := st.Path
	st.Close()
	ro, err := state.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.DB.Close()
	last, ok, err := ro.LastRun(ctx, "shop", state.ModeApply)
	if err != nil || !ok {
		t.Fatalf("LastRun: %v, %v", ok, err)
	}
	if diff := cmp.Diff(want[2], last, ignoreTimes); diff != "" {
		t.Errorf("LastRun of shop's applies (-want +got):\n%s", diff)
	}
	okAt, ok, err := ro.LastSuccess(ctx, "shop", state.ModeApply)
	if err != nil || !ok || !okAt.Equal(runs[0].Finished) {
		t.Errorf("LastSuccess = %v, %v, %v; want r1's end %v", okAt, ok, err, runs[0].Finished)
	}
	if _, ok, err := ro.LastSuccess(ctx, "other", state.ModeApply); ok || err != nil {
		t.Errorf("LastSuccess of a pipeline whose only run is going: %v, %v", ok, err)
	}
}

// TestAppliedChanges: only the applied writes of the run asked for, in
// plan order, with their fields and values decoded.
func TestAppliedChanges(t *testing.T) {
	ctx := t.Context()
	st := openStore(t)
	_, err := st.DB.ExecContext(ctx, `INSERT INTO synk.changes VALUES
		('r1', 2, 'products', 'shop.products→fiken.products', 'update', '7', '70', ['price'], '{"price": 10}', '{"price": 12}', 'applied', '', now()),
		('r1', 1, 'orders', 'shop.orders→fiken.invoices', 'create', '3', '30', [], NULL, '{"total": 5}', 'applied', '', now()),
		('r1', 3, 'orders', 'shop.orders→fiken.invoices', 'create', '4', NULL, [], NULL, '{"total": 6}', 'failed', 'refused', now()),
		('r2', 1, 'products', 'shop.products→fiken.products', 'update', '8', '80', ['name'], '{}', '{}', 'applied', '', now())`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.AppliedChanges(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	want := []state.Change{
		{Seq: 1, Entity: "orders", Flow: "shop.orders→fiken.invoices", Action: "create", SourceKey: "3", TargetKey: "30",
			Fields: []string{}, After: map[string]any{"total": 5.0}, Status: "applied"},
		{Seq: 2, Entity: "products", Flow: "shop.products→fiken.products", Action: "update", SourceKey: "7", TargetKey: "70",
			Fields: []string{"price"}, Before: map[string]any{"price": 10.0}, After: map[string]any{"price": 12.0}, Status: "applied"},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("AppliedChanges (-want +got):\n%s", diff)
	}
}
