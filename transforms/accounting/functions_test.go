package accounting

import (
	"flag"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/synk-etl/synk/transforms"
)

// compile compiles src with the core and the accounting functions.
func compile(src string, env map[string]any, opts ...transforms.Option) (*transforms.Program, error) {
	fns := transforms.NewFunctions()
	Register(fns)
	return transforms.Compile(src, env, append(opts, transforms.WithFunctions(fns))...)
}

// call compiles src against untyped arguments a and b (so run-time
// conversions are exercised) and runs it.
func call(t *testing.T, src string, a, b any) (any, error) {
	t.Helper()
	p, err := compile(src, map[string]any{"a": nil, "b": nil})
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

func runFnCases(t *testing.T, cases []fnCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.src+"/"+transforms.Show(tc.a)+"/"+transforms.Show(tc.b), func(t *testing.T) {
			got, err := call(t, tc.src, tc.a, tc.b)
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

func TestOre(t *testing.T) {
	runFnCases(t, []fnCase{
		{src: "ore(a)", a: 1.005, want: int64(101)},
		{src: "ore(a)", a: 0.285, want: int64(29)},
		{src: "ore(a)", a: -2.675, want: int64(-268)},
		{src: "ore(a)", a: 2.675, want: int64(268)},
		{src: "ore(a)", a: 1.015, want: int64(102)},
		{src: "ore(a)", a: 0.005, want: int64(1)},
		{src: "ore(a)", a: -0.005, want: int64(-1)},
		{src: "ore(a)", a: 0.0049999, want: int64(0)},
		{src: "ore(a)", a: -0.004, want: int64(0)},
		{src: "ore(a)", a: 45.5, want: int64(4550)},
		{src: "ore(a)", a: 199.99, want: int64(19999)},
		{src: "ore(a)", a: 123456789.015, want: int64(12345678902)},
		{src: "ore(a)", a: 1e-20, want: int64(0)},
		{src: "ore(a)", a: 0.0, want: int64(0)},
		{src: "ore(a)", a: math.Copysign(0, -1), want: int64(0)},
		{src: "ore(a)", a: int64(12), want: int64(1200)},
		{src: "ore(a)", a: int64(-3), want: int64(-300)},
		{src: "ore(a)", a: "12.345", want: int64(1235)},
		{src: "ore(a)", a: "-0.125", want: int64(-13)},
		{src: "ore(a)", a: " 7 ", want: int64(700)},
		{src: "ore(a)", a: "+1.5", want: int64(150)},
		{src: "ore(a)", a: "1.00500000000000000001", want: int64(101)},
		{src: "ore(a)", a: "1e2", want: int64(10000)},
		{src: "ore(a)", a: ".5", want: int64(50)},
		{src: "ore(a)", a: uint64(5), want: int64(500)},
		{src: "ore(a)", a: nil, want: nil},
		{src: "ore(a)", a: 1e17, wantErr: "out of range"},
		{src: "ore(a)", a: "92233720368547758.08", wantErr: "out of range"},
		{src: "ore(a)", a: "92233720368547758.07", want: int64(math.MaxInt64)},
		{src: "ore(a)", a: math.NaN(), wantErr: "not a number"},
		{src: "ore(a)", a: math.Inf(1), wantErr: "not a number"},
		{src: "ore(a)", a: "12,50", wantErr: "not a number"},
		{src: "ore(a)", a: "", wantErr: "not a number"},
		{src: "ore(a)", a: true, wantErr: "not a number"},
		{src: "ore(1.005)", want: int64(101)},
		{src: "ore(7)", want: int64(700)},
	})
}

func TestNok(t *testing.T) {
	runFnCases(t, []fnCase{
		{src: "nok(a)", a: int64(4550), want: 45.5},
		{src: "nok(a)", a: int64(101), want: 1.01},
		{src: "nok(a)", a: int64(-268), want: -2.68},
		{src: "nok(a)", a: int64(0), want: 0.0},
		{src: "nok(a)", a: "12345", want: 123.45},
		{src: "nok(a)", a: 1.5, want: 0.015},
		{src: "nok(a)", a: 4550.0, want: 45.5},
		{src: "nok(a)", a: int64(1) << 60, want: 11529215046068469.76},
		{src: "nok(a)", a: nil, want: nil},
		{src: "nok(a)", a: "x", wantErr: "not a number"},
		{src: "nok(a) * 100", a: int64(19999), want: 19999.0},
	})
}

func TestVat(t *testing.T) {
	runFnCases(t, []fnCase{
		{src: "vat_type(a)", a: 25.0, want: "HIGH"},
		{src: "vat_type(a)", a: int64(25), want: "HIGH"},
		{src: "vat_type(a)", a: "25.000", want: "HIGH"},
		{src: "vat_type(a)", a: 15.0, want: "MEDIUM"},
		{src: "vat_type(a)", a: 12.0, want: "LOW"},
		{src: "vat_type(a)", a: 11.11, want: "RAW_FISH"},
		{src: "vat_type(a)", a: 0.0, want: "EXEMPT"},
		{src: "vat_type(a)", a: nil, want: nil},
		{src: "vat_type(a)", a: 13.0, wantErr: "no Fiken sales vat type for rate 13 %"},
		{src: "vat_type(a)", a: 0.25, wantErr: "rate 0.25 %"},
		{src: "vat_type(a)", a: 25.001, wantErr: "rate 25.001 %"},
		{src: "vat_type(a)", a: "high", wantErr: "not a number"},
		{src: "vat_rate(a)", a: "HIGH", want: 25.0},
		{src: "vat_rate(a)", a: "MEDIUM", want: 15.0},
		{src: "vat_rate(a)", a: "low", want: 12.0},
		{src: "vat_rate(a)", a: "RAW_FISH", want: 11.11},
		{src: "vat_rate(a)", a: "EXEMPT", want: 0.0},
		{src: "vat_rate(a)", a: "EXEMPT_IMPORT_EXPORT", want: 0.0},
		{src: "vat_rate(a)", a: "EXEMPT_REVERSE", want: 0.0},
		{src: "vat_rate(a)", a: "OUTSIDE", want: 0.0},
		{src: "vat_rate(a)", a: "NONE", want: 0.0},
		{src: "vat_rate(a)", a: nil, want: nil},
		{src: "vat_rate(a)", a: "HIGH_DIRECT", wantErr: `unknown vat type "HIGH_DIRECT"`},
		{src: "vat_rate(a)", a: int64(25), wantErr: "want a string"},
	})
	// Round trip over every rate vat_type knows.
	for _, rate := range []float64{25, 15, 12, 11.11, 0} {
		got, err := call(t, "vat_rate(vat_type(a))", rate, nil)
		if err != nil || got != rate {
			t.Errorf("vat_rate(vat_type(%v)) = %v, %v", rate, got, err)
		}
	}
}

func FuzzOre(f *testing.F) {
	for _, x := range []int64{0, 1, -1, 101, -268, 4550, 99, 999_999_999_999_999, -999_999_999_999_999} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x int64) {
		// nok is exact (a shortest repr of 15 significant digits round trips)
		// for amounts below 10^13 NOK.
		if x >= 1e15 || x <= -1e15 {
			x %= 1e15
		}
		n, err := fnNok(x)
		if err != nil {
			t.Fatal(err)
		}
		o, err := fnOre(n)
		if err != nil {
			t.Fatal(err)
		}
		if o != x {
			t.Fatalf("ore(nok(%d)) = ore(%v) = %v", x, n, o)
		}
	})
}

// refScaled is the reference rounding of test amounts: exact rational
// arithmetic, s × 10^digits rounded half away from zero.
func refScaled(s string, digits int) (*big.Int, bool) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return nil, false
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)))
	neg := r.Sign() < 0
	r.Abs(r)
	r.Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if neg {
		q.Neg(q)
	}
	return q, true
}

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestFunctionsTable(t *testing.T) {
	fns := transforms.NewFunctions()
	core := len(fns.Docs())
	Register(fns)
	docs := fns.Docs()[core:]
	var names []string
	var b strings.Builder
	for _, d := range docs {
		names = append(names, d.Name)
		if d.Doc == "" || !strings.HasSuffix(d.Doc, ".") {
			t.Errorf("%s: doc %q should be a sentence", d.Name, d.Doc)
		}
		b.WriteString("| `" + d.Signature + "` | " + d.Doc + " |\n")
	}
	want := []string{"ore", "nok", "vat_type", "vat_rate", "vat_of", "invoice_lines", "invoice_total", "credit_note_lines"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("accounting functions (-want +got):\n%s", diff)
	}
	path := filepath.Join("testdata", "functions.md.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(golden), b.String()); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestRegisterTwice(t *testing.T) {
	fns := transforms.NewFunctions()
	Register(fns)
	defer func() {
		if got, want := fmt.Sprint(recover()), "transforms: function registered twice: ore"; got != want {
			t.Errorf("panic %q, want %q", got, want)
		}
	}()
	Register(fns)
}

// TestExpressionErrors checks the set's compile and run errors keep the
// call's position, and that without the set its names are unknown.
func TestExpressionErrors(t *testing.T) {
	env := map[string]any{"x": nil, "name": "", "tax_rate": 0.0}
	compileErrs := map[string]string{
		`ore("x")`:              "1:5: cannot use string as nok (number) in ore(nok number) int",
		`ore(name)`:             "1:5: cannot use string as nok (number) in ore(nok number) int",
		`vat_type(tax_rate, 1)`: "1:1: too many arguments to call vat_type(rate number) string",
		`vat_typ(tax_rate)`:     "1:1: unknown name vat_typ (did you mean vat_type?)",
	}
	for src, want := range compileErrs {
		if _, err := compile(src, env); err == nil || err.Error() != want {
			t.Errorf("compile(%q) error = %v, want %q", src, err, want)
		}
	}
	if _, err := transforms.Compile("1 + ore(x)", env); err == nil || !strings.HasPrefix(err.Error(), "1:5: unknown name ore") {
		t.Errorf("ore without the accounting set: error = %v", err)
	}
	runErrs := []struct {
		src  string
		x    any
		want string
	}{
		{"vat_type(x)", 13.0, "1:1: vat_type: no Fiken sales vat type for rate 13 %"},
		{`"VAT " + vat_type(x)`, int64(14), "1:10: vat_type: no Fiken sales vat type for rate 14 %"},
		{"ore(x)", "12,50", `1:1: ore("12,50"): not a number`},
	}
	for _, tc := range runErrs {
		p, err := compile(tc.src, env)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Run(map[string]any{"x": tc.x}); err == nil || err.Error() != tc.want {
			t.Errorf("%s with %v: error = %v, want %q", tc.src, tc.x, err, tc.want)
		}
	}
}
