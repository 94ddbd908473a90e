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

// TestAppendJSON holds appendJSON's shortcuts to what marshal writes.
func TestAppendJSON(t *testing.T) {
	for _, v := range []any{nil, int64(-42), true, false, 0.0, -0.0, 1.5, 1e-6, 9.99e-7, 1e20, 1e21, 123456789.125, math.MaxFloat64,
		"", "plain text", `quote " here`, `back\slash`, "tab\t", "<&>", "é", "\u2028", "\x7f", []any{int64(1)}, map[string]any{"a": "b"}} {
		want, err := marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendJSON(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("appendJSON(%#v) = %s, marshal gives %s", v, got, want)
		}
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
			recs, _, err := decodeString(t, t.Context(), s, []byte(tt.data))
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
	if _, _, err := decodeString(t, ctx, s, b.Bytes()); err == nil {
		t.Fatal("decode of a cancelled context succeeded")
	}
}

// fuzzSpec covers every type, so fuzzing exercises every conversion.
func fuzzSpec(t testing.TB, format string) *spec {
	return mustSpec(t, "r", ResourceConfig{Path: "r." + format, Key: "id", Fields: fields(
		"id", "string", "n", "int", "f", "float", "b", "bool", "d", "date", "t", "time",
		"l", "list", "o", "object", "a", "any", "s", "string")})
}

// goRows reads data by the Go rules alone, the reference DuckDB's read
// must agree with.
func goRows(t *testing.T, s *spec, data []byte) ([]row, error) {
	var rows []row
	check, emit := rowChecks(t.Context(), s, func(rw row) error {
		rows = append(rows, rw)
		return nil
	})
	var err error
	if s.format == formatJSONL {
		err = decodeJSONL(bytes.NewReader(data), s, check, emit)
	} else {
		err = decodeCSV(bytes.NewReader(data), s, check, emit)
	}
	return rows, err
}

// rowView is what a row shows a reader, comparable with cmp.
type rowView struct {
	Line  int
	Key   string
	Rec   pipeline.Record
	Raw   string
	Cells []string
	Err   string
	Lost  bool
}

func views(s *spec, rows []row) []rowView {
	var out []rowView
	for _, rw := range rows {
		v := rowView{Line: rw.line, Key: rw.key, Rec: rw.record(s), Raw: string(rw.raw), Cells: rw.cells, Lost: rw.lost}
		if rw.err != nil {
			v.Err = rw.err.Error()
		}
		out = append(out, v)
	}
	return out
}

// checkDecoded is the fuzz property of the Go rules (the reads' reference
// and fallback; TestDuckDBAgreesWithGoRules holds DuckDB to them): decoding
// never panics; every good row has a key and values of the declared types;
// every bad row has a reason naming its line; and writing the good rows and
// reading them back gives the same records with no rejects.
func checkDecoded(t *testing.T, s *spec, data []byte) {
	rows, err := goRows(t, s, data)
	if err != nil {
		return // header problems end the read; that is a result, not a crash
	}
	var recs []pipeline.Record
	for _, rw := range rows {
		if rw.err == nil {
			recs = append(recs, rw.record(s))
		}
	}
	var good []*entry
	for _, rw := range rows {
		if rw.err != nil {
			if rw.record(s) != nil {
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
			if !typeMatches(f.Type, rw.record(s)[f.Name]) {
				t.Fatalf("line %d: field %s = %#v is not a %s", rw.line, f.Name, rw.record(s)[f.Name], f.Type)
			}
		}
		good = append(good, &entry{key: rw.key, rec: rw.record(s)})
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
	rows2, err := goRows(t, s, out.Bytes())
	if err != nil {
		t.Fatalf("decode of encoded output: %v\n%s", err, out.Bytes())
	}
	for _, rw := range rows2 {
		if rw.err != nil {
			t.Fatalf("re-read of written rows rejected one: %v\n%s", rw.err, out.Bytes())
		}
	}
	var again []pipeline.Record
	for _, rw := range rows2 {
		again = append(again, rw.record(s))
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

// trickyJSONL are lines where DuckDB's JSON parser or casts differ from
// the Go rules, or come close to.
var trickyJSONL = []string{
	`{"id":"a","n":1,"f":0.1,"b":true,"d":"2024-01-01","t":"2024-01-01T00:00:00.1+01:00","l":[{"x":null}],"o":{"k":[]},"a":1e308,"s":"x"}`,
	`{"id":"b","n":1,}`,
	`{"id":"c","n":1,"n":2}`,
	`{"id":"d","s":"\ud800"}`,
	`{"id":"e","s":"x\u0000y"}`,
	`{"id":"f","f":1e400}`,
	`{"id":"g","f":-0}`,
	`{"id":"h","n":18446744073709551616}`,
	`{"id":"i","n":9223372036854775808}`,
	`{"id":"j","n":-9223372036854775808}`,
	`{"id":"k","n":12.0,"f":"1.5"}`,
	`{"id":"l","n":12.5}`,
	`{"id":"m","n":"12","b":"yes"}`,
	`{"id":"n","b":1}`,
	`{"id":"o","b":2}`,
	`{"id":"p","d":"2023-02-29"}`,
	`{"id":"q","d":"2024-1-01"}`,
	`{"id":"r","d":" 2024-01-01 "}`,
	`{"id":"s","t":"2024-05-01 12:00:00"}`,
	`{"id":"t","t":"2024-05-01T12:00:00.500000Z"}`,
	`{"id":"u","l":"[1,2]","o":"{}"}`,
	`{"id":"v","l":{},"o":[]}`,
	`{"id":"w","a":[1,2.50,1e2,"x",{"k":null}]}`,
	`{"id":"x","s":12345678901234567890}`,
	`{"id":"y","s":1.50}`,
	`{"id":"z","s":""}`,
	`{"id":"aa","d":"","t":"","l":"","a":""}`,
	`{"id":"ab","l":[1,2,]}`,
	`{"id":"ac","s":"a,}"}`,
	`{"id":"ad","s":"\"n\":1"}`,
	`{"id":"ae","n":null,"f":null,"b":null,"d":null,"t":null,"l":null,"o":null,"a":null,"s":null}`,
	`{"id":"af","n":true}`,
	`{"id":"ag","f":true,"s":false}`,
	`{"id":12}`,
	`{"id":1.0}`,
	`{"id":"ah","o":{"a":1,"a":2}}`,
	` 	{"id":"ai"}	 `,
	"{\"id\":\"aj\"}\r",
	"\u00a0",
	`{"id":"ak"} {"id":"al"}`,
	`["id"]`,
	`"id"`,
	`{"id":NaN}`,
	`{"id":"am","f":1E5,"n":1E2}`,
	`{"id":"an","s":"\/\b\f\n\r\t\\"}`,
	`{"id":"ao","s":"é☃😀"}`,
	`{"id":"a"}`,
	`{"ID":"ap"}`,
	`{"id":"aq","n":-0.0,"f":0e0}`,
	`{"id":"ar","d":"0000-01-01","t":"0000-01-01T00:00:00Z"}`,
	`{"id":"as","d":"2024-01-01T00:00:00Z","t":"2024-01-01"}`,
	`{"id":"at","t":"2024-05-01T12:00:00+24:00"}`,
	`{"id":"au","t":"2024-05-01t12:00:00z"}`,
	`{"id":"av","n":1e18,"f":123456789012345678901234567890}`,
	`{"id":"aw","n":100000000000000000000}`,
	`{}`,
	`{"id":""}`,
	`{"id":"ax","l":[1,[2,[3]]],"o":{"a":{"b":{"c":1.5}}}}`,
	`{"id":"ay","s":"tab	inside"}`,
	`{"id":"az","s":"a"}x`,
	// The SQL judges a value by its JSON text as DuckDB writes it back.
	`{"id":"ba","s":"q\"uo\\te\/x","t":"2024-05-01T12:00:00Z\/"}`,
	`{"id":"bb","n":-0,"f":5e-324,"b":false}`,
	`{"id":"bc","n":1E2,"f":-1.7976931348623157e308}`,
	`{"id":"bd","n":0012}`,
	`{"id":"be","s":"\"","d":"\"2024-01-01\""}`,
	`{"id":"bf","n":[],"f":{},"b":"true","s":[1],"d":5,"t":true}`,
	`{"id" : "bg" , "n" : 7 , "s" : "x" }`,
	`{"id":"bh","o":{"id":"x","id":"y"}}`,
	`{"id":"bi","s":"line\nbreak","d":"2024-01-01\t"}`,
	`{"id":"bj","n":9223372036854775807,"f":9007199254740993}`,
	`{"id":"bk","s":"ünïcödé ✓","d":"２０２４-01-01"}`,
	`{"id":"bl","s":"\\","l":["\\\"",{"a":"\/"}]}`,
	`{"id":"bm","f":1.0,"n":-1}`,
	`{"id":"bn","s":"null","n":"null"}`,
	`{"id":"bo","s":" spaced ","b":"TRUE"}`,
	`{"id":"bp"}   `,
	"\t {\"id\":\"bq\"}",
	`{"id":"br","a":1e700}`,
	`{"id":"bs","l":[1,-1e400],"o":{"x":1e-400}}`,
}

// TestDuckDBAgreesWithGoRules reads files through DuckDB and through the
// Go rules alone and wants the very same rows: records, rejects with their
// reasons, lines and raw text.
func TestDuckDBAgreesWithGoRules(t *testing.T) {
	var tricky bytes.Buffer
	for _, l := range trickyJSONL {
		tricky.WriteString(l + "\n")
	}
	inputs := map[string][]byte{
		"tricky.jsonl":           tricky.Bytes(),
		"no final newline.jsonl": []byte(`{"id":"a"}` + "\n\n" + `{"id":"b"}`),
		"clean.csv": []byte("id,n,f,b,d,t,l,o,a,s,extra\n" +
			"a,1,1.5,true,2024-01-01,2024-01-01T00:00:00Z,[1],{},x,y,z\n" +
			"b, 42 ,1e3,YES,2023-02-29,2024-01-01T00:00:00.500+02:00,[],[],,,\n" +
			"c,+5,.5,yes ,2024-1-01,2024-01-01,{},{},1,2,3\n" +
			"d,12.0,NaN,maybe,,,,,,,\n" +
			"e,12.5,1e400,0,,,,,,,\n" +
			"a,1,1,1,,,,,,,\n" +
			",1,1,1,,,,,,,\n" +
			"f,9223372036854775808,-0,No,,,,,,,\n" +
			"g,-9223372036854775808,0001.5,FALSE,,,,,,,\n" +
			"h,007,1_000,1,,,,,,,\n" +
			"i,1_000,1.5e+3,,,,,,,,\n"),
		"crlf.csv":             []byte("id,n\r\na,1\r\nb,x\r\n"),
		"no final newline.csv": []byte("n,id\n1,a\n2,b"),
		"blank line.csv":       []byte("id,n\na,1\n\nb,2\n"),
		"short and long.csv":   []byte("id,n\na,1\nb\nc,1,2\nd,4\n"),
		"unterminated.csv":     []byte("id,n\na,1\nb,\"2\nc,3\n"),
		"quotes.csv":           []byte("id,s\na,\"x,y\"\nb,\"q\"\"\"\nc,d\"e\n"),
		"newline in cell.csv":  []byte("id,s\na,\"x\ny\"\nb,1\nb,2\n"),
		"missing column.csv":   []byte("id\na\nb\n"),
		"one column.csv":       []byte("id\n\"\"\na\n"),
		"header only.csv":      []byte("id,n\n"),
		"empty.csv":            []byte(""),
		"spaces.csv":           []byte(" id , n \n a , 1 \n"),
		"latin1.csv":           []byte("id,s\na,caf\xe9\n"),
		"latin1.jsonl":         []byte("{\"id\":\"a\",\"s\":\"caf\xe9\"}\n{\"id\":\"b\"}\n"),
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "read", "*.*"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(p)] = b
	}
	for name, data := range inputs {
		if strings.HasSuffix(name, ".golden") {
			continue
		}
		format := formatCSV
		if strings.HasSuffix(name, ".jsonl") {
			format = formatJSONL
		}
		s := fuzzSpec(t, format)
		t.Run(name, func(t *testing.T) {
			want, err := goRows(t, s, data)
			if err != nil {
				t.Fatal(err)
			}
			_, got, err := decodeString(t, t.Context(), s, data)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(views(s, want), views(s, got)); diff != "" {
				t.Errorf("DuckDB read differs from the Go rules (-go +duckdb):\n%s", diff)
			}
		})
	}
}

// TestGlobCharactersInPath: DuckDB would read such a path as a pattern, so
// CSV and JSONL files named so are read by the Go rules, and Parquet ones
// refused.
func TestGlobCharactersInPath(t *testing.T) {
	tests := []struct {
		path, data string
		records    int
		err        string
	}{
		{"c[1].csv", "id\n1\n2\n", 2, ""},
		{"c*.jsonl", "{\"id\":1}\n", 1, ""},
		{"c?.parquet", "", 0, "cannot hold"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			s := mustSpec(t, "r", ResourceConfig{Path: tt.path, Key: "id", Fields: fields("id", "int")})
			recs, _, err := decodeString(t, t.Context(), s, []byte(tt.data))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(recs) != tt.records {
				t.Fatalf("%d records, error %v; want %d", len(recs), err, tt.records)
			}
		})
	}
}
