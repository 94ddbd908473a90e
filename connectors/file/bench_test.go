package file

import (
	_ "github.com/duckdb/duckdb-go/v2"

	"bufio"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/synk-etl/synk/pipeline"
)

// benchRows is the size of the read benchmark's file; -short makes it
// 100,000 so a quick run stays quick.
func benchRows() int {
	if testing.Short() {
		return 100_000
	}
	return 1_000_000
}

func productFields() Fields {
	return fields("id", "int", "name", "string", "price", "float", "vat_rate", "float", "stock", "int", "updated", "time")
}

// writeProducts writes n product records as JSONL.
func writeProducts(b *testing.B, path string, n int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(w, `{"id":%d,"name":"Product %d","price":%d.%02d,"vat_rate":0.25,"stock":%d,"updated":"%s"}`+"\n",
			i, i, i%1000, i%100, i%500, base.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// valuesCounter counts records handed over as values, as the engine
// takes them (pipeline.ValuesEmitter).
type valuesCounter struct{ counter }

func (c *valuesCounter) EmitValues([]any) error { c.records++; return nil }

// counter is an Emitter that only counts.
type counter struct{ records, rejects int }

func (c *counter) Emit(pipeline.Record) error { c.records++; return nil }

func (c *counter) Reject(string, []byte, error) error { c.rejects++; return nil }

// BenchmarkReadJSONL reads a million products through the connector (into
// maps, and as values as the engine takes them) and,
// for comparison, through DuckDB's own read_json: a count and the same
// typed columns scanned into Go. Run it with
//
//	go test ./connectors/file -run X -bench ReadJSONL -benchtime 1x
func BenchmarkReadJSONL(b *testing.B) {
	dir := b.TempDir()
	n := benchRows()
	path := filepath.Join(dir, "products.jsonl")
	writeProducts(b, path, n)
	c, err := Open(b.Context(), pipeline.Env{BaseDir: dir}, &Config{Resources: map[string]ResourceConfig{
		"products": {Path: "products.jsonl", Key: "id", Fields: productFields()},
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var conn, values, count, typed time.Duration
	for b.Loop() {
		start := time.Now()
		var cnt counter
		if err := c.Read(b.Context(), "products", pipeline.ReadQuery{}, &cnt); err != nil {
			b.Fatal(err)
		}
		if cnt.records != n || cnt.rejects != 0 {
			b.Fatalf("read %d records, %d rejects; want %d, 0", cnt.records, cnt.rejects, n)
		}
		conn += time.Since(start)

		start = time.Now()
		var vc valuesCounter
		if err := c.Read(b.Context(), "products", pipeline.ReadQuery{}, &vc); err != nil {
			b.Fatal(err)
		}
		if vc.records != n || vc.rejects != 0 {
			b.Fatalf("read %d records as values, %d rejects; want %d, 0", vc.records, vc.rejects, n)
		}
		values += time.Since(start)

		start = time.Now()
		var got int
		if err := db.QueryRowContext(b.Context(), "SELECT count(*) FROM read_json(?, format='newline_delimited')", path).Scan(&got); err != nil {
			b.Fatal(err)
		}
		count += time.Since(start)

		start = time.Now()
		rows, err := db.QueryContext(b.Context(), `SELECT id, name, price, vat_rate, stock, updated FROM read_json(?, format='newline_delimited',
			columns={id: 'BIGINT', name: 'VARCHAR', price: 'DOUBLE', vat_rate: 'DOUBLE', stock: 'BIGINT', updated: 'TIMESTAMPTZ'})`, path)
		if err != nil {
			b.Fatal(err)
		}
		var (
			id, stock  int64
			name       string
			price, vat float64
			updated    time.Time
			scanned    int
		)
		for rows.Next() {
			if err := rows.Scan(&id, &name, &price, &vat, &stock, &updated); err != nil {
				b.Fatal(err)
			}
			scanned++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		rows.Close()
		if got != n || scanned != n {
			b.Fatalf("duckdb counted %d, scanned %d; want %d", got, scanned, n)
		}
		typed += time.Since(start)
	}
	iters := float64(b.N)
	b.ReportMetric(conn.Seconds()/iters, "connector-s/op")
	b.ReportMetric(values.Seconds()/iters, "connector-values-s/op")
	b.ReportMetric(count.Seconds()/iters, "duckdb-count-s/op")
	b.ReportMetric(typed.Seconds()/iters, "duckdb-typed-scan-s/op")
}

// BenchmarkWriteBatch creates 100,000 products in an empty JSONL file in
// batches of MaxBatch: a first sync's writes.
func BenchmarkWriteBatch(b *testing.B) {
	const n = 100_000
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var ops []pipeline.Op
	for i := 1; i <= n; i++ {
		ops = append(ops, pipeline.Op{Action: pipeline.Create, Write: pipeline.Write{Set: pipeline.Record{
			"id": i, "name": fmt.Sprintf("Product %d", i), "price": float64(i%1000) + 0.5, "vat_rate": 0.25,
			"stock": i % 500, "updated": base.Add(time.Duration(i) * time.Second),
		}}})
	}
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		c, err := Open(b.Context(), pipeline.Env{BaseDir: dir}, &Config{Resources: map[string]ResourceConfig{
			"products": {Path: "products.jsonl", Key: "id", Fields: productFields()},
		}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for start := 0; start < n; start += c.MaxBatch() {
			res, err := c.WriteBatch(b.Context(), "products", ops[start:min(start+c.MaxBatch(), n)])
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range res {
				if r.Err != nil {
					b.Fatal(r.Err)
				}
			}
		}
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n), "records/op")
}

// BenchmarkBatchOnMillion makes one small batch on a file of a million
// products, on a fresh connection: the cost of loading the file for
// writing and of one rewrite, which every later batch pays again.
func BenchmarkBatchOnMillion(b *testing.B) {
	dir := b.TempDir()
	n := benchRows()
	writeProducts(b, filepath.Join(dir, "products.jsonl"), n)
	ops := []pipeline.Op{{Action: pipeline.Update, Write: pipeline.Write{Key: "1", Set: pipeline.Record{"stock": 7}}}}
	var load, rewrite time.Duration
	for b.Loop() {
		c, err := Open(b.Context(), pipeline.Env{BaseDir: dir}, &Config{Resources: map[string]ResourceConfig{
			"products": {Path: "products.jsonl", Key: "id", Fields: productFields()},
		}})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := c.WriteBatch(b.Context(), "products", ops); err != nil {
			b.Fatal(err)
		}
		load += time.Since(start)
		start = time.Now()
		if _, err := c.WriteBatch(b.Context(), "products", ops); err != nil {
			b.Fatal(err)
		}
		rewrite += time.Since(start)
		c.Close()
	}
	b.ReportMetric(load.Seconds()/float64(b.N), "first-batch-s/op")
	b.ReportMetric(rewrite.Seconds()/float64(b.N), "next-batch-s/op")
}
