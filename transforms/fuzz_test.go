package transforms

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzCompile(f *testing.F) {
	seeds := []string{
		"ore(price)", "prise", "name * 2", `ore("x")`, "vars.order_state", "current_state in vars.order_states",
		`map(order_rows, {productId: link("products", .product_reference), quantity: .product_quantity})`,
		`order_rows | map({a: .unit_price})`, `map(order_rows, {{a: 1}})`, `{a: {b: 1}}`, "vars.payments[module].paid",
		`link("customers", id_customer)`, `link(name, 1)`, "price +", "((((", "}{", `"\u00f8" + nmae`,
		"let x = 1; x + price", "1 ? 2 : 3", "price ?? 1", "$env.price", "$env", `reduce(order_rows, #acc + .unit_price, 0)`,
		"sortBy(order_rows, .unit_price, 'desc')", "round(price, -2)", "date(date_add) > '2024-01-01'", "#", ".x",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src, shopOrderEnv(), MaxNodes(200))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile(%q) error %v is %T, want *Error", src, err, err)
			}
			if e.Line < 1 || e.Column < 1 {
				t.Fatalf("Compile(%q) error position %d:%d", src, e.Line, e.Column)
			}
			return
		}
		if p.Source() != src {
			t.Fatalf("Source() = %q, want %q", p.Source(), src)
		}
		// Running must not panic either, whatever the record holds.
		rec := map[string]any{"price": 1.5, "order_rows": []any{map[string]any{"unit_price": nil}}, "vars": shopVars(),
			"link": Link(func(string, any) (any, error) { return nil, ErrUnresolvedLink })}
		if _, err := p.Run(rec); err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Line < 1 || e.Column < 1 {
				t.Fatalf("Run(%q) error %v (%T) has no position", src, err, err)
			}
		}
	})
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

// refScaled is the reference for scaledInt: exact rational arithmetic.
func refScaled(s string, digits int) (*big.Int, bool) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return nil, false
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)))
	neg := r.Sign() < 0
	r.Abs(r)
	// floor(|r| + 1/2): half away from zero.
	r.Add(r, big.NewRat(1, 2))
	q := new(big.Int).Quo(r.Num(), r.Denom())
	if neg {
		q.Neg(q)
	}
	return q, true
}

func FuzzOreString(f *testing.F) {
	for _, s := range []string{"1.005", "0.285", "-2.675", "12", "-0.004999", ".5", "+3.", "92233720368547758.07", "1.00500000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := scaledInt(s, 2)
		if !isPlainDecimal(strings.TrimSpace(s)) {
			return // exponent forms go through float64; not compared here
		}
		want, ok := refScaled(s, 2)
		if !ok {
			t.Fatalf("reference cannot parse %q", s)
		}
		if !want.IsInt64() {
			if err == nil {
				t.Fatalf("scaledInt(%q) = %d, want out of range (%s)", s, got, want)
			}
			return
		}
		if err != nil || got != want.Int64() {
			t.Fatalf("scaledInt(%q) = %d, %v; want %s", s, got, err, want)
		}
	})
}

func FuzzRound(f *testing.F) {
	f.Add(2.675, int8(2))
	f.Add(1.005, int8(2))
	f.Add(-1234.5, int8(0))
	f.Add(1250.0, int8(-2))
	f.Add(1e-7, int8(7))
	f.Add(123456789.987654321, int8(5))
	f.Fuzz(func(t *testing.T, x float64, d int8) {
		digits := int(d) % (maxRoundDigits + 1)
		got, err := roundDecimal(x, digits)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if err == nil {
				t.Fatalf("round(%v) succeeded", x)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		// Reference: exact decimal of x, rounded half away from zero with big.Rat.
		s := strconv.FormatFloat(x, 'f', -1, 64)
		var want float64
		if digits >= 0 {
			q, _ := refScaled(s, digits)
			r := new(big.Rat).SetFrac(q, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
			want, _ = r.Float64()
		} else {
			scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-digits)), nil)
			r, _ := new(big.Rat).SetString(s)
			r.Quo(r, new(big.Rat).SetInt(scale))
			q, _ := refScaled(r.FloatString(400), 0)
			want, _ = new(big.Rat).SetInt(q.Mul(q, scale)).Float64()
		}
		if want == 0 {
			want = 0 // no negative zero
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("round(%v, %d) = %v, want %v", x, digits, got, want)
		}
	})
}

func FuzzDate(f *testing.F) {
	for _, s := range []string{"2024-03-01 13:45:00", "2024-03-01T23:30:00-05:00", "2024-03-01", "0000-00-00 00:00:00", "01.03.2024", "2024-02-30", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := fnDate(s)
		if err != nil || got == nil {
			return
		}
		d, ok := got.(string)
		if !ok {
			t.Fatalf("date(%q) = %T", s, got)
		}
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			t.Fatalf("date(%q) = %q, not a date: %v", s, d, err)
		}
		again, err := fnDate(d)
		if err != nil || again != d {
			t.Fatalf("date(date(%q)) = %v, %v; want %q", s, again, err, d)
		}
		if _, err := fnAddDays(s, int64(1)); err != nil {
			t.Fatalf("add_days(%q, 1): %v", s, err)
		}
	})
}

func FuzzWrapMapPredicates(f *testing.F) {
	for _, s := range []string{
		`map(xs, {a: .b})`, `xs | map({a: 1, "b": 2})`, `map(xs, {{a: 1}})`, `filter(xs, {.a > 1})`,
		`reduce(xs, {a: #acc}, {a: 0})`, `map(map(xs, {a: .b}), {c: .a})`, `{a: 1}`, `map(xs, {1: 2})`, "map(xs, {ø: 1})",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if !utf8.ValidString(src) {
			return
		}
		s := wrapMapPredicates(src)
		runes := []rune(s.parsed)
		var kept []rune
		j := 0
		for i, r := range runes {
			if j < len(s.inserted) && s.inserted[j] == i {
				j++
				continue
			}
			kept = append(kept, r)
		}
		if j != len(s.inserted) || string(kept) != src {
			t.Fatalf("wrap(%q) = %q with inserted %v: not the source plus insertions", src, s.parsed, s.inserted)
		}
		for i := range runes {
			line, col := s.pos(i)
			if line < 1 || col < 1 {
				t.Fatalf("pos(%d) = %d:%d", i, line, col)
			}
		}
	})
}
