package spec

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	goyaml "github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

type nodeKind int

const (
	scalarNode nodeKind = iota
	mapNode
	seqNode
)

// node is a YAML node reduced to what the loader needs, with positions kept
// for every error and interpolation already applied.
type node struct {
	kind      nodeKind
	line, col int
	entries   []entry
	items     []*node
	value     any    // scalar: string, int64, float64, bool or nil
	raw       string // scalar as written (before interpolation)
	quoted    bool
	literal   bool // block scalar (| or >): its text starts on the next line
	interp    bool // value came (partly) from ${env:…} or ${file:…}
	flowStyle bool
}

type entry struct {
	key string
	k   *node
	v   *node
}

func (n *node) pos() Pos { return Pos{Line: n.line, Col: n.col} }

func (n *node) get(key string) *node {
	for _, e := range n.entries {
		if e.key == key {
			return e.v
		}
	}
	return nil
}

// kindName is used in type errors.
func (n *node) kindName() string {
	switch n.kind {
	case mapNode:
		return "a mapping"
	case seqNode:
		return "a list"
	}
	switch n.value.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a number"
	}
	return "a string"
}

// plain turns the node into plain Go values (map[string]any, []any, scalars).
func (n *node) plain() any {
	switch n.kind {
	case mapNode:
		m := make(map[string]any, len(n.entries))
		for _, e := range n.entries {
			m[e.key] = e.v.plain()
		}
		return m
	case seqNode:
		l := make([]any, len(n.items))
		for i, it := range n.items {
			l[i] = it.plain()
		}
		return l
	}
	return n.value
}

// ordered is plain with mappings as goyaml.MapSlice, keeping key order for
// settings types that decode themselves.
func (n *node) ordered() any {
	switch n.kind {
	case mapNode:
		m := make(goyaml.MapSlice, 0, len(n.entries))
		for _, e := range n.entries {
			m = append(m, goyaml.MapItem{Key: e.key, Value: e.v.ordered()})
		}
		return m
	case seqNode:
		l := make([]any, len(n.items))
		for i, it := range n.items {
			l[i] = it.ordered()
		}
		return l
	}
	return n.value
}

var interpRe = regexp.MustCompile(`\$\{(env|file):([^}]*)\}`)

// converter turns goccy AST nodes into nodes, interpolating as it goes.
type converter struct {
	dir    string
	errs   *errorList
	getenv func(string) (string, bool)
	// offline leaves what cannot be resolved empty (Options.Offline).
	offline bool
}

func (c *converter) convert(n ast.Node) *node {
	if n == nil {
		return &node{kind: scalarNode}
	}
	tk := n.GetToken()
	out := &node{}
	if tk != nil && tk.Position != nil {
		out.line, out.col = tk.Position.Line, tk.Position.Column
	}
	switch v := n.(type) {
	case *ast.DocumentNode:
		return c.convert(v.Body)
	case *ast.MappingNode:
		out.kind = mapNode
		out.flowStyle = v.IsFlowStyle
		for _, mv := range v.Values {
			c.addEntry(out, mv)
		}
	case *ast.MappingValueNode:
		out.kind = mapNode
		c.addEntry(out, v)
	case *ast.SequenceNode:
		out.kind = seqNode
		out.flowStyle = v.IsFlowStyle
		for _, it := range v.Values {
			out.items = append(out.items, c.convert(it))
		}
	case *ast.AnchorNode:
		return c.convert(v.Value)
	case *ast.TagNode:
		return c.convert(v.Value)
	case *ast.AliasNode:
		c.errs.add(out.pos(), "aliases (*%s) are not supported; repeat the value", v.Value.GetToken().Value)
	case *ast.NullNode:
		out.raw = tk.Value
	case *ast.BoolNode:
		out.value, out.raw = v.Value, tk.Value
	case *ast.IntegerNode:
		out.raw = tk.Value
		switch iv := v.Value.(type) {
		case int64:
			out.value = iv
		case uint64:
			if iv > math.MaxInt64 {
				out.value = float64(iv)
			} else {
				out.value = int64(iv)
			}
		default:
			out.value = tk.Value
		}
	case *ast.FloatNode:
		out.value, out.raw = v.Value, tk.Value
	case *ast.InfinityNode:
		out.value, out.raw = v.Value, tk.Value
	case *ast.NanNode:
		out.value, out.raw = math.NaN(), tk.Value
	case *ast.StringNode:
		out.raw = v.Value
		out.quoted = tk.Type == token.SingleQuoteType || tk.Type == token.DoubleQuoteType
		out.value = c.interpolate(out, v.Value)
	case *ast.LiteralNode:
		out.raw = v.Value.Value
		out.literal = true
		out.value = c.interpolate(out, v.Value.Value)
	default:
		c.errs.add(out.pos(), "unsupported YAML node %s", n.Type())
	}
	return out
}

func (c *converter) addEntry(m *node, mv *ast.MappingValueNode) {
	k := c.convert(mv.Key)
	key := fmt.Sprint(k.value)
	if k.kind != scalarNode || k.value == nil {
		c.errs.add(k.pos(), "mapping keys must be plain strings")
		return
	}
	for _, e := range m.entries {
		if e.key == key {
			c.errs.add(k.pos(), "duplicate key %q (first at line %d)", key, e.k.line)
			return
		}
	}
	m.entries = append(m.entries, entry{key: key, k: k, v: c.convert(mv.Value)})
}

func (c *converter) interpolate(n *node, s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return interpRe.ReplaceAllStringFunc(s, func(m string) string {
		parts := interpRe.FindStringSubmatch(m)
		n.interp = true
		switch parts[1] {
		case "env":
			// ${env:NAME:-default} falls back to default when NAME is unset or empty.
			name, def, hasDef := strings.Cut(parts[2], ":-")
			v, ok := c.getenv(name)
			if hasDef && (!ok || v == "") {
				return def
			}
			if !ok && !c.offline {
				c.errs.add(n.pos(), "environment variable %s is not set", name)
			}
			return v
		default:
			p := parts[2]
			if !filepath.IsAbs(p) {
				p = filepath.Join(c.dir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil && c.offline {
				return ""
			}
			if err != nil {
				// The path is not secret; the content would be.
				c.errs.add(n.pos(), "read %s: %v", parts[2], unwrapPathError(err))
				return ""
			}
			return strings.TrimRight(string(b), "\r\n")
		}
	})
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// asString returns a scalar's text whatever its YAML type (expressions are
// written as plain scalars: `price: 100` is the expression "100").
func (n *node) asString() (string, bool) {
	if n.kind != scalarNode || n.value == nil {
		return "", false
	}
	switch v := n.value.(type) {
	case string:
		return v, true
	case bool, int64, float64:
		if n.raw != "" {
			return n.raw, true
		}
		return fmt.Sprint(v), true
	}
	return "", false
}

func (n *node) asInt() (int64, bool) {
	switch v := n.value.(type) {
	case int64:
		return v, n.kind == scalarNode
	case string:
		i, err := strconv.ParseInt(v, 10, 64)
		return i, err == nil && n.interp
	}
	return 0, false
}

func (n *node) asFloat() (float64, bool) {
	switch v := n.value.(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil && n.interp
	}
	return 0, false
}

func (n *node) asBool() (bool, bool) {
	switch v := n.value.(type) {
	case bool:
		return v, true
	case string:
		b, err := strconv.ParseBool(v)
		return b, err == nil && n.interp
	}
	return false, false
}
