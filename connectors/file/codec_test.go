package file

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/pipeline"
)

func allTypes() Fields {
	return fields(
		"id", "int", "name", "string", "email", "string", "price", "float", "active", "bool",
		"updated", "time", "born", "date", "tags", "list", "meta", "object", "note", "any")
}

func TestReadGolden(t *testing.T) {
	tests := []struct {
		file   string
		fields Fields
	}{
		{"types.csv", allTypes()},
		{"types.jsonl", allTypes()},
		{"rejects.csv", fields("id", "int", "price", "float", "active", "bool", "born", "date")},
		{"rejects.jsonl", fields("id", "int", "price", "float", "active", "bool", "born", "date")},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			src, err := filepath.Abs(filepath.Join("testdata", "read"))
			if err != nil {
				t.Fatal(err)
			}
			c := open(t, src, nil, map[string]ResourceConfig{"r": {Path: tt.file, Key: "id", Fields: tt.fields}})
			col := readAll(t, c, "r")
			golden(t, filepath.Join("read", tt.file+".golden"), col.dump(t))
		})
	}
}

func TestConvert(t *testing.T) {
	tm := time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)
	tests := []struct {
		name   string
		typ    pipeline.FieldType
		in     any
		format string
		want   any
		err    string
	}{
		{"empty csv string is nil", pipeline.TypeString, "", formatCSV, nil, ""},
		{"empty jsonl string stays", pipeline.TypeString, "", formatJSONL, "", ""},
		{"empty jsonl int is nil", pipeline.TypeInt, "", formatJSONL, nil, ""},
		{"string from int", pipeline.TypeString, 42, formatJSONL, "42", ""},
		{"string from float", pipeline.TypeString, 1.5, formatJSONL, "1.5", ""},
		{"string from bool", pipeline.TypeString, true, formatJSONL, nil, "want a string, got a boolean"},
		{"int text", pipeline.TypeInt, " 42 ", formatCSV, int64(42), ""},
		{"int negative", pipeline.TypeInt, "-7", formatCSV, int64(-7), ""},
		{"int whole float text", pipeline.TypeInt, "12.0", formatCSV, int64(12), ""},
		{"int fraction", pipeline.TypeInt, "12.5", formatCSV, nil, `cannot read "12.5" as an int`},
		{"int from go int", pipeline.TypeInt, 5, formatJSONL, int64(5), ""},
		{"int from whole float64", pipeline.TypeInt, 5.0, formatJSONL, int64(5), ""},
		{"int from fraction float64", pipeline.TypeInt, 5.5, formatJSONL, nil, "5.5 is not a whole number"},
		{"int from huge float64", pipeline.TypeInt, 1e19, formatJSONL, nil, "not a whole number"},
		{"int from json number", pipeline.TypeInt, json.Number("9007199254740993"), formatJSONL, int64(9007199254740993), ""},
		{"int from bool", pipeline.TypeInt, true, formatJSONL, nil, "want an int, got a boolean"},
		{"float text", pipeline.TypeFloat, "1.25", formatCSV, 1.25, ""},
		{"float exponent", pipeline.TypeFloat, "1e3", formatCSV, 1000.0, ""},
		{"float from int", pipeline.TypeFloat, int64(3), formatJSONL, 3.0, ""},
		{"float NaN", pipeline.TypeFloat, "NaN", formatCSV, nil, "not a finite number"},
		{"float Inf", pipeline.TypeFloat, math.Inf(1), formatJSONL, nil, "not a finite number"},
		{"float garbage", pipeline.TypeFloat, "1,5", formatCSV, nil, `cannot read "1,5" as a float`},
		{"bool true", pipeline.TypeBool, "true", formatCSV, true, ""},
		{"bool TRUE", pipeline.TypeBool, "TRUE", formatCSV, true, ""},
		{"bool 1", pipeline.TypeBool, "1", formatCSV, true, ""},
		{"bool yes", pipeline.TypeBool, "Yes", formatCSV, true, ""},
		{"bool false", pipeline.TypeBool, "false", formatCSV, false, ""},
		{"bool 0", pipeline.TypeBool, "0", formatCSV, false, ""},
		{"bool no", pipeline.TypeBool, "no", formatCSV, false, ""},
		{"bool json 1", pipeline.TypeBool, json.Number("1"), formatJSONL, true, ""},
		{"bool json 2", pipeline.TypeBool, json.Number("2"), formatJSONL, nil, "cannot read 2 as a bool"},
		{"bool maybe", pipeline.TypeBool, "maybe", formatCSV, nil, `cannot read "maybe" as a bool`},
		{"date", pipeline.TypeDate, "2024-02-29", formatCSV, "2024-02-29", ""},
		{"date invalid day", pipeline.TypeDate, "2023-02-29", formatCSV, nil, "want YYYY-MM-DD"},
		{"date from time.Time", pipeline.TypeDate, tm, formatJSONL, "2024-05-01", ""},
		{"date from number", pipeline.TypeDate, json.Number("20240501"), formatJSONL, nil, "want a date, got a number"},
		{"time utc", pipeline.TypeTime, "2024-05-01T12:30:00Z", formatCSV, "2024-05-01T12:30:00Z", ""},
		{"time offset kept", pipeline.TypeTime, "2024-05-01T12:30:00+02:00", formatCSV, "2024-05-01T12:30:00+02:00", ""},
		{"time fraction normalised", pipeline.TypeTime, "2024-05-01T12:30:00.500000Z", formatCSV, "2024-05-01T12:30:00.5Z", ""},
		{"time without zone", pipeline.TypeTime, "2024-05-01 12:30:00", formatCSV, nil, "want RFC 3339"},
		{"time from time.Time", pipeline.TypeTime, tm, formatJSONL, "2024-05-01T12:30:00Z", ""},
		{"list from text", pipeline.TypeList, `[1, 2.5, "x"]`, formatCSV, []any{int64(1), 2.5, "x"}, ""},
		{"list from value", pipeline.TypeList, []any{1, 2.0}, formatJSONL, []any{int64(1), int64(2)}, ""},
		{"list from object", pipeline.TypeList, `{"a":1}`, formatCSV, nil, "want a list, got an object"},
		{"list trailing garbage", pipeline.TypeList, `[1] [2]`, formatCSV, nil, "more than one value"},
		{"object from text", pipeline.TypeObject, `{"a":{"b":[1]}}`, formatCSV, map[string]any{"a": map[string]any{"b": []any{int64(1)}}}, ""},
		{"object from list", pipeline.TypeObject, []any{}, formatJSONL, nil, "want an object, got an array"},
		{"any csv string", pipeline.TypeAny, "[1]", formatCSV, "[1]", ""},
		{"any csv value becomes text", pipeline.TypeAny, []any{1}, formatCSV, "[1]", ""},
		{"any jsonl value", pipeline.TypeAny, map[string]any{"n": 1}, formatJSONL, map[string]any{"n": int64(1)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := convert(tt.typ, tt.in, tt.format)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("convert(%s, %#v) error = %v, want one containing %q", tt.typ, tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("convert(%s, %#v): %v", tt.typ, tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("convert(%s, %#v) (-want +got):\n%s", tt.typ, tt.in, diff)
			}
		})
	}
}

func TestDecodeHeaderErrors(t *testing.T) {
	s := mustSpec(t, "r", ResourceConfig{Path: "r.csv", Key: "id", Fields: fields("id", "int", "name", "string")})
	tests := []struct {
		name, data, err string
		records         int
	}{
		{"empty file", "", "", 0},
		{"header only", "id,name\n", "", 0},
		{"no key column", "name\nx\n", `header has no key column "id"`, 0},
		{"duplicate column", "id,name,name\n1,a,b\n", `names column "name" twice`, 0},
		{"columns in another order", "name,id\nx,1\n", "", 1},
		{"header spaces", " id , name \n1,x\n", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _, err := decodeString(t.Context(), s, []byte(tt.data))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tt.records {
				t.Fatalf("got %d records, want %d", len(recs), tt.records)
			}
		})
	}
}

func TestDecodeHonoursContext(t *testing.T) {
	s := mustSpec(t, "r", ResourceConfig{Path: "r.jsonl", Key: "id", Fields: fields("id", "int")})
	var b bytes.Buffer
	for i := range 3 * checkEvery {
		b.WriteString(`{"id":` + strconv.Itoa(i) + "}\n")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := decodeString(ctx, s, b.Bytes()); err == nil {
		t.Fatal("decode of a cancelled context succeeded")
	}
}

// fuzzSpec covers every type, so fuzzing exercises every conversion.
func fuzzSpec(t testing.TB, format string) *spec {
	return mustSpec(t, "r", ResourceConfig{Path: "r." + format, Key: "id", Fields: fields(
		"id", "string", "n", "int", "f", "float", "b", "bool", "d", "date", "t", "time",
		"l", "list", "o", "object", "a", "any", "s", "string")})
}

// checkDecoded is the fuzz property: decoding never panics; every good row
// has a key and values of the declared types; every bad row has a reason
// naming its line; and writing the good rows and reading them back gives the
// same records with no rejects.
func checkDecoded(t *testing.T, s *spec, data []byte) {
	recs, rows, err := decodeString(t.Context(), s, data)
	if err != nil {
		return // header problems end the read; that is a result, not a crash
	}
	var good []*entry
	for _, rw := range rows {
		if rw.err != nil {
			if rw.rec != nil {
				t.Fatalf("row at line %d has both a record and an error", rw.line)
			}
			if !strings.Contains(rw.err.Error(), "line ") {
				t.Fatalf("reject reason %q has no line number", rw.err)
			}
			continue
		}
		if rw.key == "" {
			t.Fatalf("good row at line %d without a key", rw.line)
		}
		for _, f := range s.fields {
			if !typeMatches(f.Type, rw.rec[f.Name]) {
				t.Fatalf("line %d: field %s = %#v is not a %s", rw.line, f.Name, rw.rec[f.Name], f.Type)
			}
		}
		good = append(good, &entry{key: rw.key, rec: rw.rec})
	}
	var out bytes.Buffer
	if s.format == formatJSONL {
		err = encodeJSONL(&out, s, good)
	} else {
		err = encodeCSV(&out, s, good)
	}
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	again, rows2, err := decodeString(t.Context(), s, out.Bytes())
	if err != nil {
		t.Fatalf("decode of encoded output: %v\n%s", err, out.Bytes())
	}
	for _, rw := range rows2 {
		if rw.err != nil {
			t.Fatalf("re-read of written rows rejected one: %v\n%s", rw.err, out.Bytes())
		}
	}
	if diff := cmp.Diff(recs, again); diff != "" {
		t.Fatalf("records changed through a rewrite (-read +reread):\n%s", diff)
	}
}

func typeMatches(t pipeline.FieldType, v any) bool {
	if v == nil {
		return true
	}
	switch t {
	case pipeline.TypeString, pipeline.TypeDate, pipeline.TypeTime:
		_, ok := v.(string)
		return ok
	case pipeline.TypeInt:
		_, ok := v.(int64)
		return ok
	case pipeline.TypeFloat:
		f, ok := v.(float64)
		return ok && !math.IsNaN(f) && !math.IsInf(f, 0)
	case pipeline.TypeBool:
		_, ok := v.(bool)
		return ok
	case pipeline.TypeList:
		_, ok := v.([]any)
		return ok
	case pipeline.TypeObject:
		_, ok := v.(map[string]any)
		return ok
	case pipeline.TypeAny:
		return true
	}
	return false
}

func addSeeds(f *testing.F, glob string) {
	files, _ := filepath.Glob(filepath.Join("testdata", "read", glob))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzDecodeCSV(f *testing.F) {
	addSeeds(f, "*.csv")
	f.Add([]byte("id,n,f,b,d,t,l,o,a,s\nx,1,1.5,yes,2024-01-01,2024-01-01T00:00:00Z,[1],{},\"q\"\"\",\"a\r\nb\"\n"))
	f.Add([]byte("id\n\"\"\n\"unterminated\n"))
	f.Add([]byte("s,id\n,a\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecoded(t, fuzzSpec(t, formatCSV), data) })
}

func FuzzDecodeJSONL(f *testing.F) {
	addSeeds(f, "*.jsonl")
	f.Add([]byte(`{"id":"a","n":1,"f":0.1,"b":true,"d":"2024-01-01","t":"2024-01-01T00:00:00.1+01:00","l":[{"x":null}],"o":{"k":[]},"a":1e308,"s":"\u0000"}` + "\n"))
	f.Add([]byte("{\"id\":\"a\"}\r\n{\"id\":\"a\"}\n{}\nnull\n"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecoded(t, fuzzSpec(t, formatJSONL), data) })
}
