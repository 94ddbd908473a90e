package pipeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// WriteJSON writes the plan as json.MarshalIndent(p, "", "  ") would, one
// change at a time: the plan of a first sync of a million records is
// never one buffer of JSON next to the plan itself.
func (p *Plan) WriteJSON(w io.Writer) error {
	head := struct {
		Pipeline  string  `json:"pipeline"`
		RunID     string  `json:"run_id"`
		CreatedAt any     `json:"created_at"`
		Snapshot  string  `json:"snapshot"`
		Summary   Summary `json:"summary"`
	}{p.Pipeline, p.RunID, p.CreatedAt, p.Snapshot, p.Summary}
	ow := newObjectWriter(w)
	ow.head(head)
	writeChanges(ow, p, "null")
	writeArray(ow, "rejects", p.Rejects, true)
	return ow.end()
}

// WriteReport writes the `plan --format json` document, {"summary",
// "changes", "rejects"} indented by two spaces and ending in a newline,
// one change at a time.
func (p *Plan) WriteReport(w io.Writer) error {
	ow := newObjectWriter(w)
	ow.head(struct {
		Summary Summary `json:"summary"`
	}{p.Summary})
	// The report always has both lists: none is [], not null.
	rejects := p.Rejects
	if rejects == nil {
		rejects = []Reject{}
	}
	writeChanges(ow, p, "[]")
	writeArray(ow, "rejects", rejects, false)
	return ow.end()
}

// objectWriter writes one indented JSON object whose members are written
// one by one; the first error sticks.
type objectWriter struct {
	bw  *bufio.Writer
	err error
	n   int // members written
}

func newObjectWriter(w io.Writer) *objectWriter {
	return &objectWriter{bw: bufio.NewWriterSize(w, 64<<10)}
}

func (o *objectWriter) write(b []byte) {
	if o.err == nil {
		_, o.err = o.bw.Write(b)
	}
}

// head writes the members of v, a struct, as the object's first members.
func (o *objectWriter) head(v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		o.err = err
		return
	}
	// b is "{\n  …members…\n}" ("{}" for none).
	b = bytes.TrimSuffix(bytes.TrimPrefix(b, []byte("{")), []byte("}"))
	b = bytes.TrimSuffix(b, []byte("\n"))
	o.write([]byte("{"))
	if len(b) > 0 {
		o.write(b)
		o.n++
	}
}

// member starts the next member, name: the caller writes its value.
func (o *objectWriter) member(name string) {
	if o.n > 0 {
		o.write([]byte(","))
	}
	o.n++
	key, _ := json.Marshal(name)
	o.write([]byte("\n  "))
	o.write(key)
	o.write([]byte(": "))
}

func (o *objectWriter) end() error {
	if o.n > 0 {
		o.write([]byte("\n"))
	}
	o.write([]byte("}\n"))
	if o.err != nil {
		return o.err
	}
	return o.bw.Flush()
}

// writeArray writes items as member name, each element indented as
// MarshalIndent would at this depth (nil as null); omitEmpty leaves out
// an empty one.
func writeArray[T any](o *objectWriter, name string, items []T, omitEmpty bool) {
	if len(items) == 0 {
		switch {
		case omitEmpty:
		case items == nil:
			o.member(name)
			o.write([]byte("null"))
		default:
			o.member(name)
			o.write([]byte("[]"))
		}
		return
	}
	o.member(name)
	o.write([]byte("["))
	for i, it := range items {
		b, err := json.MarshalIndent(it, "    ", "  ")
		if err != nil {
			o.err = err
			return
		}
		if i > 0 {
			o.write([]byte(","))
		}
		o.write([]byte("\n    "))
		o.write(b)
	}
	o.write([]byte("\n  ]"))
}

// writeChanges writes the plan's changes (Each: those SetMore added too)
// as member "changes", one at a time; none is written as empty ("null" or
// "[]"), as MarshalIndent writes a nil or an empty slice.
func writeChanges(o *objectWriter, p *Plan, empty string) {
	if p.Len() == 0 {
		if p.Changes != nil {
			empty = "[]"
		}
		o.member("changes")
		o.write([]byte(empty))
		return
	}
	o.member("changes")
	o.write([]byte("["))
	i := 0
	err := p.Each(func(c Change) error {
		b, err := json.MarshalIndent(c, "    ", "  ")
		if err != nil {
			return err
		}
		if i > 0 {
			o.write([]byte(","))
		}
		i++
		o.write([]byte("\n    "))
		o.write(b)
		return o.err
	})
	if err != nil && o.err == nil {
		o.err = err
	}
	o.write([]byte("\n  ]"))
}
