package main

import (
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// saleLine is one line of examples/etl-parquet/in/sales.csv with what the
// example's pipeline should make of it, computed here independently.
type saleLine struct {
	ID      int64
	Country string
	Gross   float64
}

func readSales(t *testing.T, path string) map[int64]saleLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]saleLine{}
	for _, r := range rows[1:] {
		id, _ := strconv.ParseInt(r[0], 10, 64)
		units, _ := strconv.ParseFloat(r[4], 64)
		price, _ := strconv.ParseFloat(r[5], 64)
		rate, _ := strconv.ParseFloat(r[6], 64)
		// In øre, so the test's arithmetic is exact.
		net := math.Round(units * price * 100)
		out[id] = saleLine{ID: id, Country: strings.ToUpper(r[3]), Gross: math.Round(net*(100+rate)/100) / 100}
	}
	return out
}

// TestETLParquetExample runs the README's ETL example with the real binary:
// CSV in, every line to Parquet with computed amounts, the Norwegian lines
// to JSONL; a second run has nothing to do; one edited line is one update.
func TestETLParquetExample(t *testing.T) {
	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "examples", "etl-parquet"), dir)
	want := readSales(t, filepath.Join(dir, "in", "sales.csv"))
	if r := run(t, dir, "apply", "pipeline.yaml"); r.code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	checkETLOutputs(t, dir, want)
	if r := run(t, dir, "plan", "pipeline.yaml"); r.code != 0 || !strings.Contains(r.stdout, "No changes") {
		t.Fatalf("second plan: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// Line 3 sells one more unit.
	path := filepath.Join(dir, "in", "sales.csv")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	cells := strings.Split(lines[3], ",")
	units, _ := strconv.Atoi(cells[4])
	cells[4] = strconv.Itoa(units + 1)
	lines[3] = strings.Join(cells, ",")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	want = readSales(t, path)
	r := run(t, dir, "apply", "pipeline.yaml")
	if r.code != 0 {
		t.Fatalf("apply after the edit: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	updates := 1
	if want[3].Country == "NO" {
		updates = 2
	}
	if !strings.Contains(r.stdout, "applied "+strconv.Itoa(updates)+",") {
		t.Errorf("apply after editing one line: want %d applied\n%s", updates, r.stdout)
	}
	checkETLOutputs(t, dir, want)
}

func checkETLOutputs(t *testing.T, dir string, want map[int64]saleLine) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `SELECT line_id, country, gross FROM read_parquet(?)`, filepath.Join(dir, "out", "sales.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[int64]saleLine{}
	for rows.Next() {
		var l saleLine
		if err := rows.Scan(&l.ID, &l.Country, &l.Gross); err != nil {
			t.Fatal(err)
		}
		got[l.ID] = l
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("out/sales.parquet (-want +got):\n%s", diff)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", "sales_no.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	gotNO := map[int64]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec struct {
			LineID int64   `json:"line_id"`
			Gross  float64 `json:"gross"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("out/sales_no.jsonl: %v: %s", err, line)
		}
		gotNO[rec.LineID] = rec.Gross
	}
	wantNO := map[int64]float64{}
	for id, l := range want {
		if l.Country == "NO" {
			wantNO[id] = l.Gross
		}
	}
	if diff := cmp.Diff(wantNO, gotNO); diff != "" {
		t.Errorf("out/sales_no.jsonl (-want +got):\n%s", diff)
	}
}
