package decimal

import (
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
)

// refScaled is the reference for Scaled: exact rational arithmetic.
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

func FuzzScaled(f *testing.F) {
	for _, s := range []string{"1.005", "0.285", "-2.675", "12", "-0.004999", ".5", "+3.", "92233720368547758.07", "1.00500000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Scaled(s, 2)
		if !isPlain(strings.TrimSpace(s)) {
			return // exponent forms go through float64; not compared here
		}
		want, ok := refScaled(s, 2)
		if !ok {
			t.Fatalf("reference cannot parse %q", s)
		}
		if !want.IsInt64() {
			if err == nil {
				t.Fatalf("Scaled(%q) = %d, want out of range (%s)", s, got, want)
			}
			return
		}
		if err != nil || got != want.Int64() {
			t.Fatalf("Scaled(%q) = %d, %v; want %s", s, got, err, want)
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
		got, err := Round(x, digits)
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
