package fikentest

import (
	_ "embed"
)

// specJSON is Fiken's official OpenAPI spec reduced to facts (see
// reduceSpec in spec_test.go, which regenerates it): every request the
// emulator serves is validated against it.
//
//go:embed openapi.json
var specJSON []byte
