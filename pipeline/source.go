package pipeline

import "context"

// ReadVersioner is the optional Source capability of telling, before a
// full read, whether that read could give anything other than the last
// one: the engine skips the read of a resource whose version is the one
// it stored with its snapshot (and whose snapshot is still the one that
// read wrote), which makes a run over unchanged files nearly free.
//
// A version must be derived from the data itself (a file's content hash),
// never from a modification time alone: two full reads made while
// ReadVersion returns the same non-empty string must hand over the same
// records and rejects. It must also change with everything else that
// decides what a read gives (the resource's fields and types, the
// connector's conversion rules). The engine calls it before the read it
// vouches for, so a change made between the two only makes the next
// version differ. "" means unknown: the resource is read.
type ReadVersioner interface {
	ReadVersion(ctx context.Context, resource string) (string, error)
}

// ValuesEmitter is the optional Emitter capability of taking a record as
// its values instead of a map: a source that reads millions of records of
// declared fields (the file connector) hands each one over without
// building a map, and the engine hashes and stores the values as they are.
type ValuesEmitter interface {
	Emitter
	// EmitValues hands over one record: vals[i] is the value of the i-th
	// field of the resource as the connector declared it
	// (ConnectorType.Resources), every field present, nil for a null, and
	// each already of its field's record type. The record is the same as
	// Emit of a map holding exactly those fields. vals is only valid
	// during the call.
	EmitValues(vals []any) error
}
