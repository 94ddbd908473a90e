package transforms

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
)

// compileError turns an expr error into *Error: 1-based position, our
// wording, and a suggestion for unknown names and fields.
func compileError(err error, src *source, tree *parser.Tree, env map[string]any, specs funcTable, maxNodes uint) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return &Error{Line: 1, Column: 1, Message: err.Error()}
	}
	e := &Error{Message: strings.TrimSpace(fe.Message)}
	e.Line, e.Column = src.pos(fe.From)
	switch {
	case strings.Contains(e.Message, "exceeds maximum allowed nodes"):
		e.Message = fmt.Sprintf("expression too large (more than %d nodes)", maxNodes)
	case strings.HasPrefix(e.Message, "unknown name "):
		name := strings.TrimPrefix(e.Message, "unknown name ")
		e.Suggestion = suggest(name, nameCandidates(env, specs))
		if vars, ok := env[varsName].(map[string]any); ok && e.Suggestion == "" {
			// A forgotten "vars." prefix.
			if k := suggestOrSame(name, slices.Collect(maps.Keys(vars))); k != "" {
				e.Suggestion = varsName + "." + k
			}
		}
	case strings.HasPrefix(e.Message, "cannot use ") && tree != nil:
		// Point at the offending argument rather than at the call.
		if from, ok := argumentAt(tree.Node, fe.Location, e.Message, specs); ok {
			e.Line, e.Column = src.pos(from)
		}
	case strings.HasPrefix(e.Message, "unknown field ") && tree != nil:
		field := strings.TrimPrefix(e.Message, "unknown field ")
		if m := memberAt(tree.Node, fe.Location); m != nil {
			var fields []string
			if nt := m.Node.Nature(); nt != nil && nt.TypeData != nil {
				for k := range nt.Fields {
					fields = append(fields, k)
				}
			}
			sug := suggest(field, fields)
			if path := memberPath(m.Node); path != "" {
				e.Message = "unknown name " + path + "." + field
				if sug != "" {
					sug = path + "." + sug
				}
			}
			e.Suggestion = sug
		}
	}
	return e
}

// nameCandidates are the names an unknown identifier may have meant: env
// names, functions, and vars keys (a forgotten "vars." prefix).
func nameCandidates(env map[string]any, specs funcTable) []string {
	var c []string
	for k := range env {
		if k != linkName {
			c = append(c, k)
		}
	}
	for _, s := range specs.list {
		c = append(c, s.Name)
	}
	for _, b := range builtin.Builtins {
		c = append(c, b.Name)
	}
	return c
}

// argumentAt finds the argument a function's type error is about: the call
// is at loc and the message names the parameter ("cannot use T as NAME (").
func argumentAt(root ast.Node, loc file.Location, msg string, specs funcTable) (int, bool) {
	_, rest, ok := strings.Cut(msg, " as ")
	if !ok {
		return 0, false
	}
	paramName, _, ok := strings.Cut(rest, " (")
	if !ok {
		return 0, false
	}
	var call *ast.CallNode
	walk(root, func(n ast.Node) {
		if c, ok := n.(*ast.CallNode); ok && call == nil && c.Location() == loc {
			call = c
		}
	})
	if call == nil {
		return 0, false
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return 0, false
	}
	s, ok := specs.lookup(id.Value)
	if !ok {
		return 0, false
	}
	for i, p := range s.Params {
		if p.Name == paramName && i < len(call.Arguments) {
			return call.Arguments[i].Location().From, true
		}
	}
	return 0, false
}

// memberAt finds the member access whose property is at loc.
func memberAt(root ast.Node, loc file.Location) *ast.MemberNode {
	var found *ast.MemberNode
	walk(root, func(n ast.Node) {
		if m, ok := n.(*ast.MemberNode); ok && found == nil && m.Property.Location() == loc {
			found = m
		}
	})
	return found
}

// memberPath renders a chain of constant member accesses rooted at an
// identifier ("vars.payments"), or "" for anything else (e.g. a closure's
// ".field").
func memberPath(n ast.Node) string {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if n.Value == envName {
			return ""
		}
		return n.Value
	case *ast.MemberNode:
		s, ok := n.Property.(*ast.StringNode)
		if !ok {
			return ""
		}
		if base := memberPath(n.Node); base != "" {
			return base + "." + s.Value
		}
	case *ast.ChainNode:
		return memberPath(n.Node)
	}
	return ""
}

// suggest returns the candidate nearest to name by edit distance, if it is
// near enough to be a plausible typo; ties go to the alphabetically first.
func suggest(name string, candidates []string) string {
	return nearest(name, candidates, false)
}

// suggestOrSame is suggest that may also return name itself.
func suggestOrSame(name string, candidates []string) string {
	return nearest(name, candidates, true)
}

func nearest(name string, candidates []string, same bool) string {
	best, bestDist := "", -1
	limit := max(1, (utf8.RuneCountInString(name)+2)/3)
	sorted := slices.Clone(candidates)
	slices.Sort(sorted)
	for _, c := range sorted {
		if c == name && !same {
			continue
		}
		d := editDistance(strings.ToLower(name), strings.ToLower(c))
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance (Levenshtein plus
// adjacent transpositions, the commonest typo) over runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// position converts a rune offset in src to a 1-based line and column,
// counting columns in runes like expr does.
func position(src string, offset int) (line, col int) {
	line, col = 1, 1
	i := 0
	for _, r := range src {
		if i == offset {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		i++
	}
	return line, col
}
