package transforms

import (
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// fastPath returns an evaluator for the commonest shapes of a mapping
// expression, which bypasses the VM (its per-run setup costs more than
// these expressions): a field, a literal, or one of the registered
// functions applied to fields and literals. It returns nil for anything
// else. Results and errors are the VM's, which a test holds it to.
func fastPath(root ast.Node, env map[string]any, specs funcTable, src *source) func(map[string]any) (any, error) {
	if get, ok := operand(root, env); ok {
		return func(e map[string]any) (any, error) { return get(e), nil }
	}
	call, ok := root.(*ast.CallNode)
	if !ok || len(call.Arguments) > 3 {
		return nil
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return nil
	}
	name := strings.TrimPrefix(id.Value, shadowPrefix)
	if _, shadowed := env[id.Value]; shadowed || name == linkName {
		return nil
	}
	s, ok := specs.lookup(name)
	if !ok {
		return nil
	}
	fn := s.Func
	gets := make([]func(map[string]any) any, len(call.Arguments))
	for i, a := range call.Arguments {
		if gets[i], ok = operand(a, env); !ok {
			return nil
		}
	}
	line, col := src.pos(call.Location().From)
	fail := func(err error) error {
		return &Error{Line: line, Column: col, Message: err.Error(), err: err}
	}
	switch len(gets) {
	case 0:
		return func(map[string]any) (any, error) {
			v, err := fn()
			if err != nil {
				return nil, fail(err)
			}
			return v, nil
		}
	case 1:
		g := gets[0]
		return func(e map[string]any) (any, error) {
			v, err := fn(g(e))
			if err != nil {
				return nil, fail(err)
			}
			return v, nil
		}
	case 2:
		g0, g1 := gets[0], gets[1]
		return func(e map[string]any) (any, error) {
			v, err := fn(g0(e), g1(e))
			if err != nil {
				return nil, fail(err)
			}
			return v, nil
		}
	default:
		g0, g1, g2 := gets[0], gets[1], gets[2]
		return func(e map[string]any) (any, error) {
			v, err := fn(g0(e), g1(e), g2(e))
			if err != nil {
				return nil, fail(err)
			}
			return v, nil
		}
	}
}

// operand returns a getter for an env field or a literal, as the VM would
// push it.
func operand(n ast.Node, env map[string]any) (func(map[string]any) any, bool) {
	var v any
	switch n := n.(type) {
	case *ast.IdentifierNode:
		if _, ok := env[n.Value]; !ok || n.Value == linkName {
			return nil, false
		}
		name := n.Value
		return func(e map[string]any) any { return e[name] }, true
	case *ast.StringNode:
		v = n.Value
	case *ast.IntegerNode:
		if n.Type() != nil && n.Type().Kind() != reflect.Int {
			return nil, false // retyped by the checker; leave it to the VM
		}
		v = n.Value
	case *ast.FloatNode:
		v = n.Value
	case *ast.BoolNode:
		v = n.Value
	case *ast.NilNode:
		v = nil
	case *ast.ConstantNode:
		switch n.Value.(type) {
		case string, int, int64, float64, bool, nil:
			v = n.Value
		default:
			return nil, false // lists and maps must not be shared between runs
		}
	default:
		return nil, false
	}
	return func(map[string]any) any { return v }, true
}
