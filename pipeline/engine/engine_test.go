package engine_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// rulesPipeline is a one-way flow a.items → b.items over CSV files with one
// overwrite rule on val.
func rulesPipeline(rule string) string {
	ow := ""
	if rule != "" {
		ow = "\n        overwrite: {val: " + rule + "}"
	}
	return `version: 1
name: rules
connections:
  a:
    type: file
    dir: a
    resources:
      items: {path: items.csv, key: id, fields: {id: int, val: string}}
  b:
    type: file
    dir: b
    resources:
      items: {path: items.csv, key: id, fields: {id: int, src: int, val: string}, generate_key: true}
entities:
  items:
    flows:
      - from: a.items
        to: b.items
        create: true
        map: {src: id, val: val}` + ow + "\n"
}

func TestOverwriteRules(t *testing.T) {
	t.Parallel()
	keep := "" // no edit on that side
	tests := []struct {
		name       string
		rule       string
		srcEdit    string // new a.val, or keep
		tgtEdit    string // new b.val, or keep; "<empty>" empties it
		want       string
		wantWrites bool
	}{
		{"always/target edit is overwritten", "always", keep, "t2", "s1", true},
		{"always/source change is written", "always", "s2", keep, "s2", true},
		{"when_changed/target edit survives", "when_changed", keep, "t2", "t2", false},
		{"when_changed/source change overwrites target edit", "when_changed", "s2", "t2", "s2", true},
		{"default is when_changed/target edit survives", "", keep, "t2", "t2", false},
		{"default is when_changed/source change is written", "", "s2", keep, "s2", true},
		{"if_empty/target value is kept", "if_empty", "s2", keep, "s1", false},
		{"if_empty/empty target is filled", "if_empty", keep, "<empty>", "s1", true},
		{"never/source change is not written", "never", "s2", keep, "s1", false},
		{"never/target edit survives", "never", keep, "t2", "t2", false},
		{"when/untouched target takes source change", "{when: 'target == base && (source ?? \"\") != \"\"'}", "s2", keep, "s2", true},
		{"when/edited target is kept", "{when: 'target == base && (source ?? \"\") != \"\"'}", "s2", "t2", "t2", false},
		{"when/empty source is not written", "{when: 'target == base && (source ?? \"\") != \"\"'}", "<empty>", keep, "s1", false},
		{"when/source compared with target", "{when: 'source > target'}", "s0", keep, "s1", false},
		{"when/source greater than target", "{when: 'source > target'}", "s9", keep, "s9", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			aPath, bPath := filepath.Join(h.dir, "a", "items.csv"), filepath.Join(h.dir, "b", "items.csv")
			writeCSV(t, aPath, []string{"id", "val"}, []string{"7", "s1"})
			p := h.load(rulesPipeline(tc.rule))

			res := h.apply(p)
			if res.Applied != 1 || res.Failed != 0 || res.Rejected != 0 {
				t.Fatalf("create run: applied %d failed %d rejected %d, want 1 0 0", res.Applied, res.Failed, res.Rejected)
			}
			b := readCSV(t, bPath)
			if len(b) != 1 || b[0]["src"] != "7" || b[0]["val"] != "s1" {
				t.Fatalf("after create b = %v, want one row src=7 val=s1 (every rule sets fields on create)", b)
			}
			bKey := b[0]["id"]

			if tc.srcEdit != keep {
				editCSV(t, aPath, "id", "7", "val", strings.TrimPrefix(tc.srcEdit, "<empty>"))
			}
			if tc.tgtEdit != keep {
				editCSV(t, bPath, "id", bKey, "val", strings.TrimPrefix(tc.tgtEdit, "<empty>"))
			}
			res = h.apply(p)
			if got := res.Applied > 0; got != tc.wantWrites {
				t.Errorf("second run applied %d changes, want writes=%v", res.Applied, tc.wantWrites)
			}
			if res.Failed != 0 || res.Rejected != 0 {
				t.Errorf("second run failed %d rejected %d", res.Failed, res.Rejected)
			}
			b = readCSV(t, bPath)
			if len(b) != 1 || b[0]["val"] != tc.want {
				t.Fatalf("after second run b = %v, want one row with val=%q", b, tc.want)
			}
			h.mustBeConverged(p)
		})
	}
}
