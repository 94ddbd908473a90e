// Package decimal does the exact decimal arithmetic the expression
// functions round money with: on the digits a value is written with, not on
// its binary float approximation (1.005 rounds to 1.01).
package decimal

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrNotNumber is returned by the decimal helpers for values that are not
// numbers; callers wrap it with the function name and the offending value.
var ErrNotNumber = errors.New("not a number")

// Append appends the plain decimal representation (no exponent) of a
// numeric value to dst. Floats use the shortest representation that round
// trips, so 1.005 becomes "1.005" and rounding can work on the digits the
// user wrote instead of on the binary approximation.
func Append(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return dst, ErrNotNumber
		}
		return strconv.AppendFloat(dst, x, 'f', -1, 64), nil
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case float32:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, ErrNotNumber
		}
		return strconv.AppendFloat(dst, f, 'f', -1, 32), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(dst, x, 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case string:
		return appendDecimalString(dst, x)
	}
	return dst, ErrNotNumber
}

// appendDecimalString validates a numeric string and appends it in plain
// decimal form. Plain decimals are copied digit for digit (exact); only
// exponent forms go through float64.
func appendDecimalString(dst []byte, s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if isPlain(s) {
		if s[0] == '+' {
			s = s[1:]
		}
		return append(dst, s...), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return dst, ErrNotNumber
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64), nil
}

// isPlain reports whether s is [+-]digits[.digits] with at least one digit.
func isPlain(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits, dots := 0, 0
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			dots++
			if dots > 1 {
				return false
			}
		default:
			return false
		}
	}
	return digits > 0
}

// splitDecimal splits a plain decimal into sign, integer digits and fraction digits.
func splitDecimal(b []byte) (neg bool, intPart, frac []byte) {
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	if i := bytes.IndexByte(b, '.'); i >= 0 {
		return neg, b[:i], b[i+1:]
	}
	return neg, b, nil
}

// Scaled rounds the decimal value v to digits fraction digits, half away
// from zero, and returns it multiplied by 10^digits as an integer: 1.005 with
// digits 2 is 101. It fails when the result does not fit an int64.
func Scaled(v any, digits int) (int64, error) {
	var buf [40]byte
	b, err := Append(buf[:0], v)
	if err != nil {
		return 0, err
	}
	neg, intPart, frac := splitDecimal(b)
	var n uint64
	const limit = math.MaxInt64
	push := func(d byte) bool {
		if n > (limit-uint64(d-'0'))/10 {
			return false
		}
		n = n*10 + uint64(d-'0')
		return true
	}
	for _, d := range intPart {
		if !push(d) {
			return 0, ErrRange
		}
	}
	for i := range digits {
		d := byte('0')
		if i < len(frac) {
			d = frac[i]
		}
		if !push(d) {
			return 0, ErrRange
		}
	}
	if digits < len(frac) && frac[digits] >= '5' {
		if n == limit {
			return 0, ErrRange
		}
		n++
	}
	if neg {
		return -int64(n), nil
	}
	return int64(n), nil
}

// ErrRange is returned when a rounded value does not fit an int64.
var ErrRange = errors.New("out of range")

// Round rounds v to digits fraction digits (negative digits round to
// tens, hundreds, ...) half away from zero on its decimal representation and
// returns the float64 nearest to the rounded decimal.
func Round(v any, digits int) (float64, error) {
	if digits < -maxRoundDigits || digits > maxRoundDigits {
		return 0, fmt.Errorf("digits %d outside [%d, %d]", digits, -maxRoundDigits, maxRoundDigits)
	}
	var buf [40]byte
	b, err := Append(buf[:0], v)
	if err != nil {
		return 0, err
	}
	neg, intPart, frac := splitDecimal(b)
	all := make([]byte, 0, len(intPart)+len(frac)+2)
	all = append(all, intPart...)
	all = append(all, frac...)
	n := len(intPart) + digits // digits kept
	var kept []byte
	switch {
	case n < 0:
		kept = nil
	case n >= len(all):
		kept = all
		for len(kept) < n {
			kept = append(kept, '0')
		}
	default:
		kept = all[:n]
		if all[n] >= '5' {
			kept = incrementDigits(kept)
		}
	}
	// Rebuild "kept × 10^-digits" as a decimal string for ParseFloat, which
	// rounds correctly to the nearest float64.
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	if len(kept) == 0 {
		return 0, nil
	}
	if digits <= 0 {
		sb.Write(kept)
		for range -digits {
			sb.WriteByte('0')
		}
	} else {
		for len(kept) <= digits {
			kept = append([]byte{'0'}, kept...)
		}
		sb.Write(kept[:len(kept)-digits])
		sb.WriteByte('.')
		sb.Write(kept[len(kept)-digits:])
	}
	f, err := strconv.ParseFloat(sb.String(), 64)
	if err != nil {
		return 0, err
	}
	if f == 0 {
		return 0, nil // no negative zero
	}
	return f, nil
}

// maxRoundDigits bounds round()'s digits; a float64 has at most 17
// significant digits, so anything beyond this is meaningless.
const maxRoundDigits = 20

// incrementDigits adds one to a decimal digit string, growing it on carry.
func incrementDigits(d []byte) []byte {
	out := append([]byte(nil), d...)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i] < '9' {
			out[i]++
			return out
		}
		out[i] = '0'
	}
	return append([]byte{'1'}, out...)
}

// Shift returns v / 10^places as the float64 nearest to the exact
// decimal quotient (nok(4550) is exactly the float nearest 45.5).
func Shift(v any, places int) (float64, error) {
	switch x := v.(type) {
	case int64:
		if x > -1<<53 && x < 1<<53 {
			return float64(x) / math.Pow10(places), nil // both exact, division correctly rounded
		}
	case int:
		if x > -1<<53 && x < 1<<53 {
			return float64(x) / math.Pow10(places), nil
		}
	}
	var buf [40]byte
	b, err := Append(buf[:0], v)
	if err != nil {
		return 0, err
	}
	neg, intPart, frac := splitDecimal(b)
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	sb.WriteString("0.")
	for range places - len(intPart) {
		sb.WriteByte('0')
	}
	// Digits are written as 0.<int><frac> and scaled by the exponent so the
	// point moves without string surgery.
	sb.Write(intPart)
	sb.Write(frac)
	sb.WriteString("e")
	sb.WriteString(strconv.Itoa(max(len(intPart)-places, 0)))
	f, err := strconv.ParseFloat(sb.String(), 64)
	if err != nil {
		return 0, err
	}
	if f == 0 {
		return 0, nil
	}
	return f, nil
}
