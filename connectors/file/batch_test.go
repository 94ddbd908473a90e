package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
)

// countRenames makes c count its rewrites (each ends in one rename) and
// fail them while fail is set.
func countRenames(c *Conn, fail *bool) *int {
	n := 0
	c.rename = func(oldpath, newpath string) error {
		n++
		if *fail {
			return errors.New("disk full")
		}
		return os.Rename(oldpath, newpath)
	}
	return &n
}

func op(action pipeline.Action, key string, set pipeline.Record) pipeline.Op {
	return pipeline.Op{Action: action, Write: pipeline.Write{Key: key, Set: set}}
}

func TestWriteBatch(t *testing.T) {
	tests := []struct {
		file, data string
		badLine    string
	}{
		{"c.csv", "id,n\n1,10\n2,20\n5,x\n", "4"},
		{"c.jsonl", "{\"id\":1,\"n\":10}\n{\"id\":2,\"n\":20}\n{\"id\":5,\"n\":\"x\"}\n", "3"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, tt.file), []byte(tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			c := open(t, dir, nil, map[string]ResourceConfig{"c": {Path: tt.file, Key: "id", GenerateKey: true, Fields: fields("id", "int", "n", "int")}})
			fail := false
			renames := countRenames(c, &fail)
			limited := 0
			c.onWrite = func() { limited++ }
			ops := []pipeline.Op{
				op(pipeline.Create, "", pipeline.Record{"id": 3, "n": 30}),
				op(pipeline.Update, "1", pipeline.Record{"n": 11}),
				op(pipeline.Delete, "2", nil),
				op(pipeline.Create, "", pipeline.Record{"n": 60}),              // generated: 6, after the bad row's 5
				op(pipeline.Update, "3", pipeline.Record{"id": 2}),             // a create of this batch, to the key just freed
				op(pipeline.Create, "", pipeline.Record{"id": 1}),              // refused: exists
				op(pipeline.Update, "5", pipeline.Record{"n": 50}),             // refused: unreadable row
				op(pipeline.Create, "", pipeline.Record{"id": 7, "n": "many"}), // refused: bad value
				op(pipeline.Delete, "9", nil),                                  // already gone: done
				op(pipeline.Update, "3", pipeline.Record{"n": 1}),              // refused: 3 is now 2
			}
			res, err := c.WriteBatch(t.Context(), "c", ops)
			if err != nil {
				t.Fatal(err)
			}
			type outcome struct {
				Record pipeline.Record
				Err    string
			}
			var got []outcome
			for i, r := range res {
				o := outcome{Record: r.Record}
				if r.Err != nil {
					var re *pipeline.RecordError
					if !errors.As(r.Err, &re) {
						t.Errorf("op %d: error %T is not a *pipeline.RecordError", i, r.Err)
					}
					o.Err = r.Err.Error()
				}
				got = append(got, o)
			}
			want := []outcome{
				{Record: pipeline.Record{"id": int64(3), "n": int64(30)}},
				{Record: pipeline.Record{"id": int64(1), "n": int64(11)}},
				{},
				{Record: pipeline.Record{"id": int64(6), "n": int64(60)}},
				{Record: pipeline.Record{"id": int64(2), "n": int64(30)}},
				{Err: "c 1: a record with this key already exists"},
				{Err: "c 5: the row for this key (line " + tt.badLine + ") cannot be read; fix the file"},
				{Err: `c : field "n": cannot read "many" as an int`},
				{},
				{Err: "c 3: no record with this key"},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if *renames != 1 || limited != 1 {
				t.Errorf("%d rewrites, %d limiter entries for one batch; want 1 and 1", *renames, limited)
			}
			col := readAll(t, c, "c")
			wantRecs := []pipeline.Record{
				{"id": int64(1), "n": int64(11)},
				{"id": int64(2), "n": int64(30)}, // created as 3, so before 6
				{"id": int64(6), "n": int64(60)},
			}
			if diff := cmp.Diff(wantRecs, col.records); diff != "" {
				t.Errorf("file records (-want +got):\n%s", diff)
			}
			if len(col.rejects) != 1 || col.rejects[0].Key != "5" {
				t.Errorf("rejects %+v, want the bad row 5 kept", col.rejects)
			}
		})
	}
}

func TestWriteBatchWithNothingToWriteLeavesTheFile(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir, nil, map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int")}})
	fail := false
	renames := countRenames(c, &fail)
	res, err := c.WriteBatch(t.Context(), "c", []pipeline.Op{
		op(pipeline.Create, "", pipeline.Record{}),
		op(pipeline.Delete, "1", nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err == nil || res[1].Err != nil {
		t.Errorf("results %+v: want the keyless create refused and the delete done", res)
	}
	if *renames != 0 {
		t.Errorf("%d rewrites, want none", *renames)
	}
	if _, err := os.Stat(c.Path("c")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file written (stat err %v)", err)
	}
}

// TestWriteBatchFailedRewriteRollsBack: when the rename fails, the batch
// fails whole, the file is the old one, no temp file is left, and the
// connection's copy is the old one too: the next batch does not see the
// failed batch's writes.
func TestWriteBatchFailedRewriteRollsBack(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.jsonl")
	before := "{\"id\":1,\"n\":10}\n{\"id\":2,\"n\":20}\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	c := open(t, dir, nil, map[string]ResourceConfig{"c": {Path: "c.jsonl", Key: "id", GenerateKey: true, Fields: fields("id", "int", "n", "int")}})
	fail := true
	renames := countRenames(c, &fail)
	ops := []pipeline.Op{
		op(pipeline.Create, "", pipeline.Record{"id": 3, "n": 30}),
		op(pipeline.Update, "1", pipeline.Record{"id": 9}),
		op(pipeline.Delete, "2", nil),
		op(pipeline.Create, "", pipeline.Record{"n": 40}),
	}
	if _, err := c.WriteBatch(t.Context(), "c", ops); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error = %v, want the failed rename", err)
	}
	if got, _ := os.ReadFile(path); string(got) != before {
		t.Errorf("file changed by a failed batch:\n%s", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the data file", len(entries))
	}
	fail = false
	res, err := c.WriteBatch(t.Context(), "c", ops)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Errorf("op %d after the rollback: %v", i, r.Err)
		}
	}
	if res[3].Record["id"] != int64(10) {
		t.Errorf("generated key %v, want 10 (after 9, the failed batch's keys forgotten)", res[3].Record["id"])
	}
	if *renames != 2 {
		t.Errorf("%d rewrites, want 2", *renames)
	}
	want := []pipeline.Record{
		{"id": int64(9), "n": int64(10)},
		{"id": int64(3), "n": int64(30)},
		{"id": int64(10), "n": int64(40)},
	}
	if diff := cmp.Diff(want, readAll(t, c, "c").records); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWriteBatchErrors(t *testing.T) {
	c := open(t, t.TempDir(), nil, map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int")}})
	ops := []pipeline.Op{op(pipeline.Create, "", pipeline.Record{"id": 1})}
	if _, err := c.WriteBatch(t.Context(), "nope", ops); err == nil || !strings.Contains(err.Error(), `unknown resource "nope"`) {
		t.Errorf("unknown resource: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.WriteBatch(ctx, "c", ops); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	res, err := c.WriteBatch(t.Context(), "c", []pipeline.Op{op("upsert", "1", nil)})
	if err != nil || res[0].Err == nil || !strings.Contains(res[0].Err.Error(), `unknown action "upsert"`) {
		t.Errorf("unknown action: %v, %+v", err, res)
	}
	if c.MaxBatch() != DefaultBatchSize {
		t.Errorf("MaxBatch() = %d, want the default %d", c.MaxBatch(), DefaultBatchSize)
	}
}

func TestBatchSizeSetting(t *testing.T) {
	res := map[string]ResourceConfig{"c": {Path: "c.csv", Key: "id", Fields: fields("id", "int")}}
	c, err := Open(t.Context(), pipeline.Env{Connection: "test", BaseDir: t.TempDir()}, &Config{Resources: res, BatchSize: 250})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.MaxBatch() != 250 {
		t.Errorf("MaxBatch() = %d with batch_size 250", c.MaxBatch())
	}
	bad := &Config{Resources: res, BatchSize: -1}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "batch_size -1: must be 0") {
		t.Errorf("batch_size -1: %v", err)
	}
}
