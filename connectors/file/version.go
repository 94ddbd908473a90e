package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/synk-etl/synk/pipeline"
)

var _ pipeline.ReadVersioner = (*Conn)(nil)

// readRules names the rules by which a file's bytes become records and
// rejects (codec.go, read.go, parquet.go). A version carries it, so a synk
// whose rules differ reads a file again instead of trusting a snapshot an
// older synk made of the same bytes. Change it with any change to those
// rules, messages of rejects included.
const readRules = "file-read-1"

// ReadVersion is the resource's content version for the engine's skip of
// unchanged files (pipeline.ReadVersioner): a SHA-256 of the file's bytes,
// with the resource's declared reading (path as configured, format, key,
// fields and their types) and readRules. A cryptographic hash, not the modification
// time: an edit that keeps size and mtime still changes the version. The
// size and modification time are in it too, so touching a file costs one
// read. A missing file has a version too (it reads as empty).
func (c *Conn) ReadVersion(ctx context.Context, resource string) (string, error) {
	s, err := c.spec(resource)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	// The path as configured is in the rejects' reasons; where the file
	// lies is not in what it reads as, so a moved pipeline keeps its
	// versions.
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%d\x00", readRules, s.path, s.format, len(s.fields))
	for _, f := range s.fields {
		fmt.Fprintf(h, "%s\x00%s\x00", f.Name, f.Type)
	}
	fmt.Fprintf(h, "%s\x00", s.key)
	f, err := os.Open(c.paths[resource])
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h.Write([]byte("absent"))
	case err != nil:
		return "", fmt.Errorf("read version of %s: %w", s.path, err)
	default:
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return "", fmt.Errorf("read version of %s: %w", s.path, err)
		}
		// The engine takes a version before and after a read and keeps it
		// only when they agree; the modification time closes the gap of a
		// file changed and changed back to the same bytes meanwhile.
		fmt.Fprintf(h, "content\x00%d\x00%d\x00", st.Size(), st.ModTime().UnixNano())
		if _, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, 1<<20)); err != nil {
			return "", fmt.Errorf("read version of %s: %w", s.path, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a long hash when the run is stopped.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
