package file

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReadVersion: the version changes with the bytes even when size and
// mtime do not, and with the declared reading; it stays for the same file.
func TestReadVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "items.jsonl")
	res := func(price string) map[string]ResourceConfig {
		return map[string]ResourceConfig{"items": {Path: "items.jsonl", Key: "id", Fields: fields("id", "int", "price", price)}}
	}
	c := open(t, dir, nil, res("float"))
	version := func(c *Conn) string {
		t.Helper()
		v, err := c.ReadVersion(t.Context(), "items")
		if err != nil {
			t.Fatal(err)
		}
		if v == "" {
			t.Fatal("no version")
		}
		return v
	}
	absent := version(c)
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"id": 1, "price": 1.5}` + "\n")
	first := version(c)
	if first == absent {
		t.Error("a file has the version of a missing one")
	}
	if again := version(c); again != first {
		t.Error("the same file gave two versions")
	}
	write(`{"id": 1, "price": 1.6}` + "\n") // same size, same mtime
	if version(c) == first {
		t.Error("a changed byte kept the version (same size and mtime)")
	}
	write(`{"id": 1, "price": 1.5}` + "\n")
	if version(c) != first {
		t.Error("the same bytes, size and mtime gave another version")
	}
	if version(open(t, dir, nil, res("string"))) == first {
		t.Error("a field declared with another type kept the version")
	}
	later := mtime.Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if version(c) == first {
		t.Error("a touched file kept the version")
	}
	if _, err := c.ReadVersion(t.Context(), "nope"); err == nil {
		t.Error("an unknown resource has a version")
	}
}
