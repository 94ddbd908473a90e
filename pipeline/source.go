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
