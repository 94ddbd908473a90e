package transforms

import (
	"slices"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser/lexer"
)

// source is an expression as written and as handed to expr. They differ
// when map literals in predicate position were wrapped (see
// wrapMapPredicates); positions are reported in the written form.
type source struct {
	written string
	parsed  string
	// inserted are the rune offsets in parsed of runes not in written, sorted.
	inserted []int
}

// pos converts a rune offset in the parsed source to a 1-based line and
// column in the written one.
func (s *source) pos(offset int) (line, col int) {
	n, _ := slices.BinarySearch(s.inserted, offset)
	return position(s.written, offset-n)
}

// predicateArg gives, for builtins taking a predicate, the index of the
// predicate among the arguments written inside the parentheses.
func predicateArg(name string) (int, bool) {
	switch name {
	case "all", "none", "any", "one", "filter", "map", "count", "sum", "find",
		"findIndex", "findLast", "findLastIndex", "groupBy", "sortBy", "reduce":
		return 1, true
	}
	return 0, false
}

// wrapMapPredicates lets a map literal be a predicate, as pipelines write
// `map(order_rows, {productId: .product_reference, quantity: .qty})`.
// expr reads a predicate starting with "{" as a block, so such a literal is
// wrapped in a second pair of braces: a block whose value is the map.
func wrapMapPredicates(src string) source {
	s := source{written: src, parsed: src}
	tokens, err := lexer.Lex(file.NewSource(src))
	if err != nil {
		return s // the parser reports it
	}
	type frame struct {
		predicate int // argument index of the predicate, -1 if none
		arg       int
		wrap      bool // a "{" that gets wrapped
	}
	var stack []frame
	var opens, closes []int // rune offsets in src
	for i, t := range tokens {
		prev := func(k int) lexer.Token {
			if i-k >= 0 {
				return tokens[i-k]
			}
			return lexer.Token{}
		}
		switch {
		case t.Is(lexer.Bracket, "("):
			f := frame{predicate: -1}
			if p := prev(1); p.Kind == lexer.Identifier && !prev(2).Is(lexer.Operator, ".") && !prev(2).Is(lexer.Operator, "?.") {
				if idx, ok := predicateArg(p.Value); ok {
					f.predicate = idx
					if prev(2).Is(lexer.Operator, "|") {
						f.predicate = idx - 1 // the pipe supplies the collection
					}
				}
			}
			stack = append(stack, f)
		case t.Is(lexer.Bracket, "["):
			stack = append(stack, frame{predicate: -1})
		case t.Is(lexer.Bracket, "{"):
			f := frame{predicate: -1}
			if n := len(stack); n > 0 {
				top := stack[n-1]
				startsArg := prev(1).Is(lexer.Bracket, "(") || prev(1).Is(lexer.Operator, ",")
				if top.predicate == top.arg && startsArg && i+2 < len(tokens) {
					k := tokens[i+1]
					isKey := k.Kind == lexer.Identifier || k.Kind == lexer.String || k.Kind == lexer.Number
					f.wrap = isKey && tokens[i+2].Is(lexer.Operator, ":")
				}
			}
			if f.wrap {
				opens = append(opens, t.From)
			}
			stack = append(stack, f)
		case t.Is(lexer.Bracket, ")"), t.Is(lexer.Bracket, "]"), t.Is(lexer.Bracket, "}"):
			if n := len(stack); n > 0 {
				if stack[n-1].wrap {
					closes = append(closes, t.To)
				}
				stack = stack[:n-1]
			}
		case t.Is(lexer.Operator, ","):
			if n := len(stack); n > 0 {
				stack[n-1].arg++
			}
		}
	}
	if len(opens) == 0 || len(opens) != len(closes) {
		return s
	}
	at := map[int]rune{}
	for _, o := range opens {
		at[o] = '{'
	}
	runes := []rune(src)
	var out []rune
	insert := func(r rune) {
		s.inserted = append(s.inserted, len(out))
		out = append(out, r)
	}
	ci := 0
	slices.Sort(closes)
	for i := 0; i <= len(runes); i++ {
		for ci < len(closes) && closes[ci] == i {
			insert('}')
			ci++
		}
		if r, ok := at[i]; ok {
			insert(r)
		}
		if i < len(runes) {
			out = append(out, runes[i])
		}
	}
	s.parsed = string(out)
	return s
}
