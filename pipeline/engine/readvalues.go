package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/pipeline/state"
)

// valuesEncoder writes the canonical JSON of a record handed over as its
// resource's field values (pipeline.ValuesEmitter): byte for byte what
// canonicalEncoder writes for the map of those fields, so the hash is the
// same one createdHashes and every earlier read computed. The field names
// are sorted and quoted once per read, not looked up per record.
type valuesEncoder struct {
	// order holds the field indexes by name, in canonical order; prefix[i]
	// is `{"name":` or `,"name":` for order[i].
	order  []int
	prefix [][]byte
	names  []string // by field index
	key    int
}

// newValuesEncoder prepares res's encoder; nil when its records cannot
// be encoded from values (two fields of one name, which a map cannot
// hold, or no key field).
func newValuesEncoder(res pipeline.Resource) *valuesEncoder {
	names := make([]string, len(res.Fields))
	e := &valuesEncoder{key: -1, names: names}
	for i, f := range res.Fields {
		names[i] = f.Name
		e.order = append(e.order, i)
		if f.Name == res.Key {
			e.key = i
		}
	}
	slices.SortFunc(e.order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	for i, j := range e.order {
		if i > 0 && names[e.order[i-1]] == names[j] {
			return nil
		}
		p := []byte{'{'}
		if i > 0 {
			p[0] = ','
		}
		p = appendJSONString(p, names[j])
		e.prefix = append(e.prefix, append(p, ':'))
	}
	if e.key < 0 {
		return nil
	}
	return e
}

// canonical appends the canonical JSON of vals to dst and returns it with
// its hash, as canonicalEncoder.canonical does for the record's map.
func (e *valuesEncoder) canonical(dst []byte, vals []any) ([]byte, uint64, error) {
	if len(e.order) == 0 {
		dst = append(dst, '{')
	}
	for i, j := range e.order {
		dst = append(dst, e.prefix[i]...)
		var err error
		if dst, err = appendJSONValue(dst, vals[j]); err != nil {
			return nil, 0, fmt.Errorf("field %s: %w", e.names[j], err)
		}
	}
	dst = append(dst, '}')
	return dst, xxhash.Sum64(dst), nil
}

// EmitValues takes a record as its field values (pipeline.ValuesEmitter):
// the same checks, hash and row as Emit of the record's map, without the
// map. A value Coerce would convert sends the record through Emit.
func (e *emitter) EmitValues(vals []any) error {
	if e.venc == nil || len(vals) != len(e.side.Resource.Fields) {
		return e.Emit(e.record(vals))
	}
	for i, f := range e.side.Resource.Fields {
		if !state.Fits(f, vals[i]) {
			return e.Emit(e.record(vals))
		}
	}
	key := keyString(vals[e.venc.key])
	if key == "" {
		return e.Reject("", nil, fmt.Errorf("record has no %s", e.side.Resource.Key))
	}
	stored, dup := e.loader.Seen(key)
	if dup {
		return e.Reject(key, nil, fmt.Errorf("duplicate %s %s in one read", e.side.Resource.Key, key))
	}
	raw, sum, err := e.venc.canonical(e.buf[:0], vals)
	if err != nil {
		return e.Reject(key, nil, err)
	}
	e.buf = raw
	e.n++
	if e.loader.Keep(stored, sum) {
		return nil
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	return e.loader.AddValues(key, hashString(sum), string(raw), vals)
}

// record is the map of a record handed over as values.
func (e *emitter) record(vals []any) pipeline.Record {
	rec := make(pipeline.Record, len(vals))
	for i, f := range e.side.Resource.Fields {
		if i < len(vals) {
			rec[f.Name] = vals[i]
		}
	}
	return rec
}
