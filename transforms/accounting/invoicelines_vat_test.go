package accounting

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestVatWindow checks vatWindow and vatAt against exact fractions: the
// window is every øre amount within an øre of net × rate (only 0 at 0 %),
// and vatAt, which must not overflow on large nets, rounds like divRound.
func TestVatWindow(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	for i := range 20_000 {
		net := rnd.Int64N(1<<uint(1+rnd.IntN(50))) * []int64{1, -1}[rnd.IntN(2)]
		rate := salesRates()[rnd.IntN(5)]
		exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(net), big.NewInt(rate)), big.NewInt(10_000))
		lo, hi := vatWindow(net, rate)
		within := func(v int64) bool {
			if rate == 0 {
				return v == 0
			}
			d := new(big.Rat).Sub(new(big.Rat).SetInt64(v), exact)
			return d.Abs(d).Cmp(big.NewRat(1, 1)) <= 0
		}
		if !within(lo) || !within(hi) || within(lo-1) || within(hi+1) {
			t.Fatalf("case %d: vatWindow(%d, %d) = [%d, %d], net × rate %s", i, net, rate, lo, hi, exact.FloatString(4))
		}
		mode := int64(rnd.IntN(6))
		v := vatAt(net, rate, mode)
		if !within(v) {
			t.Fatalf("case %d: vatAt(%d, %d, %d) = %d, net × rate %s", i, net, rate, mode, v, exact.FloatString(4))
		}
		if n := net * rate; net < 1<<40 && net > -(1<<40) {
			if w := divRound(n, 10_000, mode); v != w {
				t.Fatalf("case %d: vatAt(%d, %d, %d) = %d, divRound %d", i, net, rate, mode, v, w)
			}
		}
	}
}
