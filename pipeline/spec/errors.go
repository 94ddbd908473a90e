package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a 1-based line and column in a pipeline file.
type Pos struct{ Line, Col int }

// Error is one problem in a pipeline file, with its position.
type Error struct {
	File string
	Pos  Pos
	Msg  string
	// Source is the offending line, for the caret display.
	Source string
}

// Error formats as FILE:LINE:COL: message.
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// Pretty is Error followed by the line and a caret under the column.
func (e *Error) Pretty() string {
	if e.Source == "" {
		return e.Error()
	}
	col := e.Pos.Col
	if col < 1 {
		col = 1
	}
	pad := make([]byte, 0, col)
	for i, r := range e.Source {
		if i >= col-1 {
			break
		}
		if r == '\t' {
			pad = append(pad, '\t')
		} else {
			pad = append(pad, ' ')
		}
	}
	return fmt.Sprintf("%s\n    %s\n    %s^", e.Error(), e.Source, pad)
}

// Errors are every problem found in one file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Pretty formats every error with its source line and caret.
func (es Errors) Pretty() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Pretty()
	}
	return strings.Join(parts, "\n")
}

type errorList struct {
	file  string
	lines []string
	errs  Errors
	warns Errors
}

// warn records a problem that does not stop the file from loading.
func (l *errorList) warn(p Pos, format string, args ...any) {
	l.add(p, format, args...)
	l.warns = append(l.warns, l.errs[len(l.errs)-1])
	l.errs = l.errs[:len(l.errs)-1]
}

func (l *errorList) add(p Pos, format string, args ...any) {
	e := &Error{File: l.file, Pos: p, Msg: fmt.Sprintf(format, args...)}
	if p.Line >= 1 && p.Line <= len(l.lines) {
		e.Source = strings.TrimRight(l.lines[p.Line-1], "\r")
	}
	l.errs = append(l.errs, e)
}

func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i].Pos, l.errs[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	return l.errs
}

// suggest returns the candidate nearest to s by edit distance, or "" when
// none is close enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return fmt.Sprintf("; did you mean %s?", c)
	}
	if len(candidates) > 0 && len(candidates) <= 12 {
		return "; valid: " + strings.Join(candidates, ", ")
	}
	return ""
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
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
				cur[j] = min(cur[j], prev[j-1]) // transposition costs 1 (approx.)
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
