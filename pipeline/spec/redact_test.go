package spec_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/synk-etl/synk/pipeline/spec"
)

// TestRedactError checks that a redacted error hides every secret in its
// message yet still answers errors.Is and errors.As like the original.
func TestRedactError(t *testing.T) {
	p := &spec.Pipeline{Secrets: []string{"tok-1234", "tok-1234-long", "abc"}}
	pathErr := &fs.PathError{Op: "open", Path: "/keys/tok-1234-long", Err: fs.ErrNotExist}
	orig := fmt.Errorf("read shop.orders with key tok-1234 (abc): %w: %w", context.DeadlineExceeded, pathErr)

	err := p.RedactError(orig)
	want := "read shop.orders with key [redacted] (abc): context deadline exceeded: open /keys/[redacted]: file does not exist"
	if err.Error() != want {
		t.Errorf("message:\n got %q\nwant %q", err.Error(), want)
	}
	if strings.Contains(err.Error(), "tok-") {
		t.Errorf("a secret leaks: %q", err.Error())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("errors.Is(err, context.DeadlineExceeded) = false through the redaction")
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("errors.Is(err, fs.ErrNotExist) = false through the redaction")
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe != pathErr {
		t.Errorf("errors.As(err, *fs.PathError) = %v, want the original", pe)
	}
	if errors.Unwrap(err) != orig {
		t.Error("Unwrap does not return the original error")
	}

	wrapped := fmt.Errorf("run: %w", err)
	if !errors.Is(wrapped, context.DeadlineExceeded) || strings.Contains(wrapped.Error(), "tok-") {
		t.Errorf("wrapping the redacted error lost the chain or leaked: %q", wrapped)
	}

	if p.RedactError(nil) != nil {
		t.Error("RedactError(nil) != nil")
	}
}
