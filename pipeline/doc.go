// Package pipeline is the contract between synk's engine and its
// connectors: the records, resources and typed fields a connector declares,
// the optional capabilities it may have (Source, Sink, Finder, Getter,
// Checker, found by type assertion), the registry of connector types, and
// what every connector shares so that none reinvents it (per-account rate
// limits, the retrying HTTP transport, metrics, the stop signal) plus the
// plan a run makes. It depends on no connector and on no other synk
// package, so connectors, the engine and the spec loader can all import it.
package pipeline
