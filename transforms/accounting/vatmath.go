package accounting

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strconv"
)

// roundMicro rounds micro-NOK to øre with PrestaShop's round mode.
func roundMicro(x int64, mode int64) int64 { return divRound(x, 10_000, mode) }

// divRound divides a by a positive b, rounding the quotient as PrestaShop's
// round mode says.
func divRound(a, b, mode int64) int64 {
	neg := a < 0
	if neg {
		a = -a
	}
	return roundQuot(a/b, a%b, b, neg, mode)
}

// roundQuot rounds q + r/b (0 <= r < b), the magnitude of a quotient whose
// sign is neg, as PrestaShop's round mode says, and gives it its sign.
func roundQuot(q, r, b int64, neg bool, mode int64) int64 {
	up := false
	switch mode {
	case roundModeUp:
		up = r > 0 && !neg
	case roundModeDown:
		up = r > 0 && neg
	case roundModeHalfDown:
		up = 2*r > b
	case roundModeHalfEven:
		up = 2*r > b || (2*r == b && q%2 == 1)
	case roundModeHalfOdd:
		up = 2*r > b || (2*r == b && q%2 == 0)
	default:
		up = 2*r >= b
	}
	if up {
		q++
	}
	if neg {
		return -q
	}
	return q
}

// vatAt is net × rate (hundredths of a percent) in øre, rounded with the
// order's round mode: the VAT an auditor expects on a line.
func vatAt(net, rate, mode int64) int64 {
	a := net
	if a < 0 {
		a = -a
	}
	q, r, _ := mulDivFloor(a, rate, 10_000) // rate <= 10 000: always fits
	return roundQuot(q, r, 10_000, net < 0, mode)
}

// vatWindow is the VAT a line of net at rate may carry: within 1 øre of
// net × rate, lo and hi included; exactly 0 at 0 %.
func vatWindow(net, rate int64) (lo, hi int64) {
	if rate == 0 {
		return 0, 0
	}
	// net × rate = q + r/10 000 with 0 <= r < 10 000.
	q, r, _ := mulDivFloor(net, rate, 10_000)
	if r == 0 {
		return q - 1, q + 1
	}
	return q, q + 1
}

// snapRate finds the sales rate (hundredths of a percent) that prices incl
// and excl (micro-NOK) were made with: the nearest rate whose incl. price
// is within 1.2 øre of incl, which covers both prices rounded to øre.
func snapRate(incl, excl int64) (int64, bool) {
	best, bestDiff := int64(-1), int64(-1)
	for _, r := range salesRates() {
		if d, ok := rateOff(incl, excl, r); ok && (best < 0 || d < bestDiff) {
			best, bestDiff = r, d
		}
	}
	return best, best >= 0
}

// rateOff is how far incl is from excl at rate r (in micro-NOK × 10 000),
// and whether that is within 1.2 øre.
func rateOff(incl, excl, r int64) (int64, bool) {
	if excl < 0 {
		incl, excl = -incl, -excl
	}
	const tolerance = 12_000 * 10_000
	d := incl*10_000 - excl*(10_000+r)
	if d < 0 {
		d = -d
	}
	return d, d <= tolerance
}

// noRate explains a failed snapRate with the rate the prices imply.
func noRate(incl, excl int64) string {
	if excl == 0 {
		return fmt.Sprintf("price %s incl. VAT is not 0 without VAT", formatMicro(incl))
	}
	implied := new(big.Rat).SetFrac64(incl-excl, excl)
	implied.Mul(implied, big.NewRat(100, 1))
	return fmt.Sprintf("prices %s incl. / %s excl. VAT give %s %%, not a Norwegian sales VAT rate (25, 15, 12, 11.11, 0)",
		formatMicro(incl), formatMicro(excl), implied.FloatString(2))
}

func formatMicro(x int64) string {
	s := strconv.FormatFloat(float64(x)/1e6, 'f', -1, 64)
	return s
}

func formatOre(x int64) string {
	sign := ""
	if x < 0 {
		sign, x = "-", -x
	}
	return fmt.Sprintf("%s%d.%02d", sign, x/100, x%100)
}

func formatRate(r int64) string {
	return strconv.FormatFloat(float64(r)/100, 'f', -1, 64)
}

// allocate splits total over non-negative weights in proportion, in whole
// øre, so the parts add up to total exactly (largest remainder; ties to the
// earlier weight). ok is false when the weights are all zero but total is
// not.
func allocate(total int64, weights []int64) ([]int64, bool) {
	parts := make([]int64, len(weights))
	var sum int64
	for _, w := range weights {
		if w < 0 {
			return nil, false
		}
		sum += w
	}
	if total == 0 {
		return parts, true
	}
	if sum == 0 {
		return nil, false
	}
	rems := make([]int64, len(weights))
	order := make([]int, len(weights))
	left := total
	for i, w := range weights {
		q, r, _ := mulDivFloor(total, w, sum) // w <= sum: never overflows
		parts[i], rems[i], order[i] = q, r, i
		left -= q
	}
	// The remainders add up to left × sum and each is below sum, so at
	// least left of them are positive: zero weights never get an øre.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rems[b], rems[a]) })
	for _, i := range order[:left] {
		parts[i]++
	}
	return parts, true
}

// mulDivFloor is floor(t × w / s) and its remainder r (0 <= r < s) for
// w >= 0 and s > 0, exact in 128 bits: t × w overflows int64 for large
// orders. ok is false when the quotient does not fit.
func mulDivFloor(t, w, s int64) (q, r int64, ok bool) {
	neg := t < 0
	a := uint64(t)
	if neg {
		a = -a
	}
	hi, lo := bits.Mul64(a, uint64(w))
	if hi >= uint64(s) {
		return 0, 0, false
	}
	uq, ur := bits.Div64(hi, lo, uint64(s))
	if uq > math.MaxInt64 {
		return 0, 0, false
	}
	q, r = int64(uq), int64(ur)
	if neg && r > 0 {
		return -q - 1, s - r, true
	}
	if neg {
		return -q, 0, true
	}
	return q, r, true
}
