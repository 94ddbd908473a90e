package transforms

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// call compiles src against untyped arguments a and b (so run-time
// conversions are exercised) and runs it.
func call(t *testing.T, src string, a, b any, opts ...Option) (any, error) {
	t.Helper()
	p, err := Compile(src, map[string]any{"a": nil, "b": nil}, opts...)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return p.Run(map[string]any{"a": a, "b": b})
}

type fnCase struct {
	src     string
	a, b    any
	want    any
	wantErr string // substring of the error
}

func runFnCases(t *testing.T, cases []fnCase, opts ...Option) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.src+"/"+Show(tc.a)+"/"+Show(tc.b), func(t *testing.T) {
			got, err := call(t, tc.src, tc.a, tc.b, opts...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %#v, %v; want error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRound(t *testing.T) {
	runFnCases(t, []fnCase{
		{src: "round(a, b)", a: 2.675, b: int64(2), want: 2.68},
		{src: "round(a, b)", a: 1.005, b: int64(2), want: 1.01},
		{src: "round(a, b)", a: -1.005, b: int64(2), want: -1.01},
		{src: "round(a, b)", a: 0.285, b: int64(2), want: 0.29},
		{src: "round(a, b)", a: 1.23456, b: int64(3), want: 1.235},
		{src: "round(a, b)", a: 1234.5, b: int64(0), want: 1235.0},
		{src: "round(a, b)", a: -0.5, b: int64(0), want: -1.0},
		{src: "round(a, b)", a: -0.4, b: int64(0), want: 0.0},
		{src: "round(a, b)", a: 2.5, b: int64(0), want: 3.0},
		{src: "round(a, b)", a: 9.995, b: int64(2), want: 10.0},
		{src: "round(a, b)", a: 1250.0, b: int64(-2), want: 1300.0},
		{src: "round(a, b)", a: 49.0, b: int64(-2), want: 0.0},
		{src: "round(a, b)", a: 50.0, b: int64(-2), want: 100.0},
		{src: "round(a, b)", a: int64(5), b: int64(2), want: 5.0},
		{src: "round(a, b)", a: "3.14159", b: int64(2), want: 3.14},
		{src: "round(a, b)", a: 0.1, b: int64(20), want: 0.1},
		{src: "round(a, b)", a: 1.5, b: 1.0, want: 1.5},
		{src: "round(a, b)", a: nil, b: int64(2), want: nil},
		{src: "round(a, b)", a: 1.0, b: int64(21), wantErr: "outside"},
		{src: "round(a, b)", a: 1.0, b: 1.5, wantErr: "not a whole number"},
		{src: "round(a, b)", a: "x", b: int64(1), wantErr: "not a number"},
		{src: "round(2.675, 2)", want: 2.68},
	})
}

func TestDates(t *testing.T) {
	clock := Clock(func() time.Time { return time.Date(2024, 12, 31, 23, 30, 5, 999, time.FixedZone("CET", 3600)) })
	runFnCases(t, []fnCase{
		{src: "date(a)", a: "2024-03-01 13:45:00", want: "2024-03-01"},
		{src: "date(a)", a: "2024-03-01T23:30:00-05:00", want: "2024-03-01"},
		{src: "date(a)", a: "2024-03-01T23:30:00.123Z", want: "2024-03-01"},
		{src: "date(a)", a: "2024-03-01T23:30:00", want: "2024-03-01"},
		{src: "date(a)", a: "2024-03-01", want: "2024-03-01"},
		{src: "date(a)", a: " 2024-03-01 ", want: "2024-03-01"},
		{src: "date(a)", a: "0000-00-00 00:00:00", want: nil},
		{src: "date(a)", a: "0000-00-00", want: nil},
		{src: "date(a)", a: nil, want: nil},
		{src: "date(a)", a: "01.03.2024", wantErr: `cannot parse "01.03.2024" as a date`},
		{src: "date(a)", a: "2024-02-30", wantErr: "cannot parse"},
		{src: "date(a)", a: "", wantErr: "cannot parse"},
		{src: "date(a)", a: int64(20240301), wantErr: "want a date string, got int"},
		{src: "add_days(a, b)", a: "2024-02-28", b: int64(1), want: "2024-02-29"},
		{src: "add_days(a, b)", a: "2024-03-01 10:00:00", b: int64(-1), want: "2024-02-29"},
		{src: "add_days(a, b)", a: "2024-12-31", b: int64(1), want: "2025-01-01"},
		{src: "add_days(a, b)", a: "2024-12-31", b: 14.0, want: "2025-01-14"},
		{src: "add_days(a, b)", a: "2024-12-31", b: uint64(14), want: "2025-01-14"},
		{src: "add_days(a, b)", a: nil, b: int64(1), want: nil},
		{src: "add_days(a, b)", a: "0000-00-00 00:00:00", b: int64(1), want: nil},
		{src: "add_days(a, b)", a: "2024-12-31", b: int64(1e7), wantErr: "out of range"},
		{src: "add_days(a, b)", a: "2024-12-31", b: "x", wantErr: "not a number"},
		{src: "add_days(a, b)", a: "x", b: int64(1), wantErr: "cannot parse"},
		{src: "today()", want: "2024-12-31"},
		{src: "now()", want: "2024-12-31T22:30:05Z"},
		{src: "add_days(today(), 14)", want: "2025-01-14"},
	}, clock)
}

func TestTodayDefaultClock(t *testing.T) {
	before := time.Now().UTC().Format(time.DateOnly)
	got, err := call(t, "today()", nil, nil)
	after := time.Now().UTC().Format(time.DateOnly)
	if err != nil || (got != before && got != after) {
		t.Errorf("today() = %v, %v; want %s", got, err, before)
	}
}

func TestStringsAndConversions(t *testing.T) {
	runFnCases(t, []fnCase{
		{src: "lower(a)", a: "ÆØÅ Abc", want: "æøå abc"},
		{src: "upper(a)", a: "æøå abc", want: "ÆØÅ ABC"},
		{src: "trim(a)", a: " \t x y \n", want: "x y"},
		{src: "trim(a)", a: nil, want: nil},
		{src: "upper(a)", a: 1.5, wantErr: "upper: want a string, got float"},
		{src: "coalesce(a, b, 'x')", a: nil, b: "", want: "x"},
		{src: "coalesce(a, b)", a: nil, b: "", want: nil},
		{src: "coalesce(a, b)", a: int64(0), b: int64(5), want: int64(0)},
		{src: "coalesce(a, b)", a: false, b: true, want: false},
		{src: "coalesce(a)", a: "only", want: "only"},
		{src: "default(a, b)", a: nil, b: int64(5), want: int64(5)},
		{src: "default(a, b)", a: "", b: int64(5), want: ""},
		{src: "default(a, b)", a: int64(1), b: int64(5), want: int64(1)},
		{src: "int(a)", a: "12", want: int64(12)},
		{src: "int(a)", a: " 12.50 ", want: int64(12)},
		{src: "int(a)", a: 12.9, want: int64(12)},
		{src: "int(a)", a: -12.9, want: int64(-12)},
		{src: "int(a)", a: true, want: int64(1)},
		{src: "int(a)", a: uint64(7), want: int64(7)},
		{src: "int(a)", a: nil, want: nil},
		{src: "int(a)", a: "x", wantErr: `int("x"): not a number`},
		{src: "int(a)", a: 1e300, wantErr: "out of range"},
		{src: "int(a)", a: []any{}, wantErr: "cannot convert list"},
		{src: "float(a)", a: "1.5", want: 1.5},
		{src: "float(a)", a: int64(2), want: 2.0},
		{src: "float(a)", a: uint64(2), want: 2.0},
		{src: "float(a)", a: nil, want: nil},
		{src: "float(a)", a: "x", wantErr: `float("x"): not a number`},
		{src: "float(a)", a: true, wantErr: "cannot convert bool"},
		{src: "str(a)", a: 45.5, want: "45.5"},
		{src: "str(a)", a: 1e21, want: "1000000000000000000000"},
		{src: "str(a)", a: int64(-7), want: "-7"},
		{src: "str(a)", a: true, want: "true"},
		{src: "str(a)", a: nil, want: ""},
		{src: "str(a)", a: "s", want: "s"},
		{src: "str(a)", a: []any{int64(1), "a", nil}, want: `[1,"a",null]`},
		{src: "str(a)", a: map[string]any{"k": 1.5}, want: `{"k":1.5}`},
		{src: "split_name(a)", a: "Ola Nordmann", want: []any{"Ola", "Nordmann"}},
		{src: "split_name(a)", a: "  Anne  Marie Hansen ", want: []any{"Anne Marie", "Hansen"}},
		{src: "split_name(a)", a: "Cher", want: []any{"Cher", ""}},
		{src: "split_name(a)", a: nil, want: []any{"", ""}},
		{src: "split_name(a)", a: int64(1), wantErr: "want a string"},
		{src: "join(a, b)", a: []any{"Storgata 1", "", nil, "0155 Oslo"}, b: ", ", want: "Storgata 1, 0155 Oslo"},
		{src: "join(a, b)", a: []any{int64(1), 2.5, true}, b: "-", want: "1-2.5-true"},
		{src: "join(a, b)", a: []string{"x", "", "y"}, b: "/", want: "x/y"},
		{src: "join(a, b)", a: []int{1, 2}, b: "+", want: "1+2"},
		{src: "join(a, b)", a: nil, b: ",", want: ""},
		{src: "join(a, b)", a: "x", b: ",", wantErr: "want a list"},
		{src: "join(a, b)", a: []any{}, b: nil, wantErr: "separator must be a string"},
	})
}

func TestCoalesceStaticType(t *testing.T) {
	env := map[string]any{"s": "", "t": "", "n": int64(0), "x": nil}
	cases := map[string]string{
		"coalesce(s, t)": "string",
		"coalesce(s, n)": "",
		"coalesce(x, s)": "",
		"default(n, 1)":  "",
		"default(n, n)":  "int64",
	}
	for src, want := range cases {
		p, err := Compile(src, env)
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		got := ""
		if typ := p.Type(); typ != nil {
			got = typ.String()
		}
		if got != want {
			t.Errorf("%s: Type() = %q, want %q", src, got, want)
		}
	}
	// A string result is usable as a string at compile time.
	if _, err := Compile("coalesce(s, t) + '!'", env); err != nil {
		t.Errorf("coalesce of strings should be a string: %v", err)
	}
}

func TestFunctionsTable(t *testing.T) {
	docs := NewFunctions().Docs()
	required := []string{"round", "date", "add_days", "today", "now",
		"lower", "upper", "trim", "coalesce", "int", "float", "str", "default", "split_name", "join", "link"}
	seen := map[string]bool{}
	for _, d := range docs {
		if seen[d.Name] {
			t.Errorf("duplicate function %s", d.Name)
		}
		seen[d.Name] = true
		if !strings.HasPrefix(d.Signature, d.Name+"(") {
			t.Errorf("%s: signature %q does not start with the name", d.Name, d.Signature)
		}
		if d.Doc == "" || !strings.HasSuffix(d.Doc, ".") {
			t.Errorf("%s: doc %q should be a sentence", d.Name, d.Doc)
		}
	}
	for _, name := range required {
		if !seen[name] {
			t.Errorf("function %s missing", name)
		}
	}
	var b strings.Builder
	for _, d := range docs {
		b.WriteString("| `" + d.Signature + "` | " + d.Doc + " |\n")
	}
	golden(t, "functions.md.golden", b.String())
}
