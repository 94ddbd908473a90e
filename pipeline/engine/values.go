package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"github.com/synk-etl/synk/pipeline"
)

// normalize turns expression results into record values: int64, float64,
// string, bool, nil, []any, map[string]any.
func normalize(v any) any {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return float64(x)
	case uint:
		return int64(x)
	case float32:
		return float64(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case pipeline.Record:
		return normalize(map[string]any(x))
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = normalize(e)
		}
		return l
	case []map[string]any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = normalize(e)
		}
		return l
	case []string:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = e
		}
		return l
	}
	return fmt.Sprint(v)
}

// toField converts a normalized value to a target field's type.
func toField(f pipeline.Field, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch f.Type {
	case pipeline.TypeInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) {
				return int64(x), nil
			}
			return nil, fmt.Errorf("%v is not a whole number", x)
		case string:
			if x == "" {
				return nil, nil
			}
			return strconv.ParseInt(x, 10, 64)
		}
	case pipeline.TypeFloat:
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		case string:
			if x == "" {
				return nil, nil
			}
			return strconv.ParseFloat(x, 64)
		}
	case pipeline.TypeBool:
		switch x := v.(type) {
		case bool:
			return x, nil
		case int64:
			return x != 0, nil
		case string:
			return strconv.ParseBool(x)
		}
	case pipeline.TypeString, pipeline.TypeDate, pipeline.TypeTime:
		switch x := v.(type) {
		case string:
			return x, nil
		case int64, bool:
			return fmt.Sprint(x), nil
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), nil
		}
	case pipeline.TypeList:
		if l, ok := v.([]any); ok {
			return l, nil
		}
	case pipeline.TypeObject:
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("%s value %v (%T) does not fit", f.Type, v, v)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

// equal compares record values the way a person would: 1 == 1.0, nil == "",
// lists and objects by content.
func equal(a, b any) bool {
	if isEmpty(a) && isEmpty(b) {
		return true
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		switch y := b.(type) {
		case int64:
			return x == float64(y)
		case float64:
			return x == y || math.Abs(x-y) < 1e-9*math.Max(1, math.Abs(x))
		}
		return false
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any, map[string]any:
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		return bytes.Equal(ja, jb)
	}
	return false
}

// canonicalEncoder writes canonical JSON, remembering the sorted field
// names of the last record: a connector's records mostly share one set of
// fields, which then need no sorting (nor the slice sorting them).
type canonicalEncoder struct {
	keys []string
}

// canonical appends rec's canonical JSON to dst and returns it with its
// hash. The hash is the record's identity in the state file (the _hash
// column and the base's left_hash/right_hash), so it must never change
// for the same record: xxhash64 of the canonical JSON.
func (e *canonicalEncoder) canonical(dst []byte, rec pipeline.Record) ([]byte, uint64, error) {
	b, err := e.append(dst, rec)
	if err != nil {
		return nil, 0, err
	}
	return b, xxhash.Sum64(b), nil
}

func (e *canonicalEncoder) append(dst []byte, rec map[string]any) ([]byte, error) {
	if len(e.keys) == len(rec) {
		// Same number of distinct names, each of them present: the same set.
		start := len(dst)
		b, ok, err := appendFields(dst, rec, e.keys)
		if ok || err != nil {
			return b, err
		}
		dst = b[:start]
	}
	e.keys = e.keys[:0]
	for k := range rec {
		e.keys = append(e.keys, k)
	}
	slices.Sort(e.keys)
	b, _, err := appendFields(dst, rec, e.keys)
	return b, err
}

// hashString formats a record hash as stored: lower-case hex, no padding.
func hashString(sum uint64) string { return strconv.FormatUint(sum, 16) }

func decode(raw string) (pipeline.Record, error) {
	if raw == "" {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader([]byte(raw)))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return pipeline.Record(normalize(m).(map[string]any)), nil
}

// keyString formats a record key for links and state.
func keyString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// keyValue converts a stored key back to the type of the resource's key field.
func keyValue(res pipeline.Resource, key string) any {
	if f, ok := res.Field(res.Key); ok && f.Type == pipeline.TypeInt {
		if i, err := strconv.ParseInt(key, 10, 64); err == nil {
			return i
		}
	}
	return key
}

// appendCanonical writes rec as JSON with sorted keys, like json.Marshal,
// without reflection for the flat records connectors mostly produce.
func appendCanonical(dst []byte, rec map[string]any) ([]byte, error) {
	var e canonicalEncoder
	return e.append(dst, rec)
}

// appendFields writes rec's fields in the order of keys, which must hold
// rec's field names, sorted. It reports false if a name is not in rec.
func appendFields(dst []byte, rec map[string]any, keys []string) ([]byte, bool, error) {
	dst = append(dst, '{')
	for i, k := range keys {
		val, ok := rec[k]
		if !ok {
			return dst, false, nil
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendJSONValue(dst, val); err != nil {
			return nil, false, fmt.Errorf("field %s: %w", k, err)
		}
	}
	return append(dst, '}'), true, nil
}

// appendJSONValue appends v as encoding/json writes it, without its
// reflection for the scalar types records hold.
func appendJSONValue(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, v), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%v is not a JSON number", v)
		}
		if a := math.Abs(v); a == 0 || a >= 1e-6 && a < 1e21 {
			return strconv.AppendFloat(dst, v, 'f', -1, 64), nil // what encoding/json writes in this range
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// appendJSONString quotes s exactly as encoding/json does; plain ASCII
// (the common case) is copied without allocating.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c < 64 && jsonSpecialLow>>c&1 != 0 || c >= 64 && jsonSpecialHigh>>(c-64)&1 != 0 {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// The ASCII bytes encoding/json does not copy as they are, as bit sets of
// bytes 0-63 and 64-127: control characters, quote, backslash and the
// HTML-escaped <, > and &. Every non-ASCII byte is handed to encoding/json
// too (invalid UTF-8 and U+2028/U+2029 are rewritten).
const (
	jsonSpecialLow  uint64 = 1<<0x20 - 1 | 1<<'"' | 1<<'&' | 1<<'<' | 1<<'>'
	jsonSpecialHigh uint64 = 1 << ('\\' - 64)
)
