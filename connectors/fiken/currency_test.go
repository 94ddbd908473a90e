package fiken_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/connectors/fiken"
	"github.com/synk-etl/synk/connectors/fiken/fikentest"
)

// TestInvoiceCurrenciesAgreeWithTheEmulator: what `synk check` says Fiken
// invoices in is what the emulator accepts.
func TestInvoiceCurrenciesAgreeWithTheEmulator(t *testing.T) {
	if diff := cmp.Diff(fikentest.InvoiceCurrencies(), fiken.InvoiceCurrencies); diff != "" {
		t.Errorf("emulator − connector:\n%s", diff)
	}
}
