package pipeline_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
)

func TestPlanJSONStreamsWhatMarshalWrites(t *testing.T) {
	change := func(seq int) pipeline.Change {
		return pipeline.Change{Seq: seq, Entity: "products", Flow: "a.x→b.y", Action: pipeline.Update, SourceKey: "7", TargetKey: "<9>",
			Fields: []string{"name", "tags"}, Before: map[string]any{"name": "a & b", "tags": []any{"x", 1.5}},
			After: map[string]any{"name": "ø", "tags": nil}, Notes: []string{"newest: shop"}}
	}
	plans := map[string]*pipeline.Plan{
		"empty": {},
		"no changes": {Pipeline: "p", RunID: "r", CreatedAt: time.Date(2026, 12, 6, 1, 2, 3, 4, time.UTC), Snapshot: "s",
			Summary: pipeline.Summary{}},
		"changes and rejects": {Pipeline: "p", RunID: "r", Summary: pipeline.Summary{"products": {pipeline.Update: 2}},
			Changes: []pipeline.Change{change(1), change(2)},
			Rejects: []pipeline.Reject{{Entity: "products", Connection: "a", Resource: "x", Key: "3", Reason: "bad <value>"}}},
		"a create": {Changes: []pipeline.Change{{Seq: 1, Action: pipeline.Create, Fields: []string{}}}},
	}
	for name, pl := range plans {
		t.Run(name, func(t *testing.T) {
			want, err := json.MarshalIndent(pl, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := pl.WriteJSON(&got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want)+"\n", got.String()); diff != "" {
				t.Errorf("WriteJSON (-MarshalIndent +got):\n%s", diff)
			}
			var back pipeline.Plan
			if err := json.Unmarshal(got.Bytes(), &back); err != nil {
				t.Fatalf("WriteJSON's output does not decode: %v", err)
			}

			var wantReport bytes.Buffer
			enc := json.NewEncoder(&wantReport)
			enc.SetIndent("", "  ")
			changes, rejects := pl.Changes, pl.Rejects
			if changes == nil {
				changes = []pipeline.Change{}
			}
			if rejects == nil {
				rejects = []pipeline.Reject{}
			}
			if err := enc.Encode(struct {
				Summary pipeline.Summary  `json:"summary"`
				Changes []pipeline.Change `json:"changes"`
				Rejects []pipeline.Reject `json:"rejects"`
			}{pl.Summary, changes, rejects}); err != nil {
				t.Fatal(err)
			}
			var gotReport bytes.Buffer
			if err := pl.WriteReport(&gotReport); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(wantReport.String(), gotReport.String()); diff != "" {
				t.Errorf("WriteReport (-Encoder +got):\n%s", diff)
			}
		})
	}
}
