package transforms

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzCompile(f *testing.F) {
	seeds := []string{
		"round(price, 2)", "prise", "name * 2", `round("x", 2)`, "vars.order_state", "current_state in vars.order_states",
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
