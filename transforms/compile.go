// Package transforms compiles the expressions of a pipeline (map, where,
// when) with expr-lang against an environment of functions they may call
// (Functions). NewFunctions has the core set (date, coalesce, str, round,
// link, ...); domain sets such as the Norwegian accounting functions of
// package transforms/accounting are registered into it by main.
//
// Expressions are type-checked at load time against a prototype of what
// they will see, so a typo or a wrong-typed operation fails `synk validate`
// with a position and a suggestion instead of failing at run time.
package transforms

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// ErrUnresolvedLink is what a Link wraps when the other side's key is not
// known (yet); Run's error satisfies errors.Is(err, ErrUnresolvedLink) then.
var ErrUnresolvedLink = errors.New("unresolved link")

// Link resolves link(entity, key): given an entity name and this side's
// key, it returns the other side's key. The engine puts one in the env under
// "link" for each evaluation; it captures whatever context it needs.
type Link func(entity string, key any) (any, error)

// Names with a fixed meaning in the env.
const (
	linkName = "link"
	varsName = "vars"
	envName  = "$env"
)

// shadowPrefix renames calls of functions whose name is also an env field.
const shadowPrefix = "$fn_"

// DefaultMaxNodes bounds expression size unless MaxNodes says otherwise.
const DefaultMaxNodes = 2000

type config struct {
	expectBool bool
	maxNodes   uint
	clock      func() time.Time
	entities   []string
	functions  *Functions
}

// Option configures Compile.
type Option func(*config)

// ExpectBool requires a bool result (where:, when:). A result whose type is
// known at compile time and is not bool is a compile error; an untyped
// result is checked by Run, which treats nil as false.
func ExpectBool() Option {
	return func(c *config) { c.expectBool = true }
}

// MaxNodes bounds the expression size in AST nodes (default
// DefaultMaxNodes); 0 removes the bound.
func MaxNodes(n uint) Option {
	return func(c *config) { c.maxNodes = n }
}

// Clock sets the time source of today() and now(); the default is
// time.Now. A run can pin it so every record sees the same instant.
func Clock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// Entities lists the entity names link() may name; when given, an unknown
// entity is a compile error with a suggestion.
func Entities(names ...string) Option {
	return func(c *config) { c.entities = append(c.entities, names...) }
}

// WithFunctions sets the functions the expression may call; the default is
// the core set (NewFunctions). A call of a function that is not in fns is
// a compile error like any unknown name.
func WithFunctions(fns *Functions) Option {
	return func(c *config) { c.functions = fns }
}

// Error is a compile error, or a run-time error with the position of the
// operation that failed. Line and Column are 1-based positions inside the
// expression source (columns count runes); the loader adds the position of
// the YAML scalar.
type Error struct {
	Line, Column int
	// Message is lowercase, e.g. "unknown name prise".
	Message string
	// Suggestion is the nearest valid name, or "".
	Suggestion string
	// err is the cause of a run-time error (e.g. one wrapping ErrUnresolvedLink).
	err error
}

// Error formats "line:col: message (did you mean suggestion?)".
func (e *Error) Error() string {
	s := fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
	if e.Suggestion != "" {
		s += " (did you mean " + e.Suggestion + "?)"
	}
	return s
}

// Unwrap returns the cause of a run-time error.
func (e *Error) Unwrap() error { return e.err }

// Program is a compiled expression. It is safe for concurrent use.
type Program struct {
	src        source
	prog       *vm.Program
	names      []string
	links      []string
	expectBool bool
	result     reflect.Type
	// fast, when set, evaluates the program without the VM.
	fast func(map[string]any) (any, error)
	// vms holds reusable VMs: a vm.VM is not safe for concurrent use but is
	// cheap to reuse, which keeps Run free of per-call setup allocations.
	vms sync.Pool
}

// Compile compiles src against env, a prototype of what the expression
// sees: variable name -> typed zero value ("price": 0.0, "name": "",
// "id": int64(0), "active": false, "order_rows": []any{}). A nil value means
// any type. A non-empty map (also as the first element of a list) declares
// its keys and their types, so unknown keys are compile errors; an empty map
// is a free-form object. "vars" holds the actual var values and is always
// checked strictly. The function link is always available (see Link); a
// "link" entry in env is ignored at compile time. A field named like a
// function (Fiken's "date") is read by its bare name while calls still reach
// the function.
func Compile(src string, env map[string]any, opts ...Option) (*Program, error) {
	cfg := config{maxNodes: DefaultMaxNodes, clock: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.functions == nil {
		cfg.functions = coreOnly()
	}
	specs := cfg.functions.bind(cfg.clock)
	source := wrapMapPredicates(src)
	patcher := &linkPatcher{src: &source, entities: cfg.entities, env: env, specs: specs}

	c := conf.CreateNew()
	for _, o := range []expr.Option{expr.Env(envType(env)), expr.MaxNodes(cfg.maxNodes)} {
		o(c)
	}
	for _, s := range specs.list {
		f := &builtin.Function{Name: s.Name, Func: s.Func, Validate: s.validate}
		c.Functions[s.Name] = f
		if _, shadowed := env[s.Name]; shadowed {
			// A field named like a function (Fiken sales have "date"):
			// calls are renamed to the alias so both stay usable.
			c.Functions[shadowPrefix+s.Name] = f
		}
	}

	// Parse, patch and check by hand rather than with expr.Patch: with a
	// patcher, expr type-checks twice and the second pass trusts the
	// call types of the first, hiding errors inside call arguments.
	tree, err := parser.ParseWithConfig(source.parsed, c)
	if err != nil {
		return nil, compileError(err, &source, tree, env, specs, cfg.maxNodes)
	}
	ast.Walk(&tree.Node, patcher)
	if patcher.err != nil {
		return nil, patcher.err
	}
	if _, err := checker.Check(tree, c); err != nil {
		return nil, compileError(err, &source, tree, env, specs, cfg.maxNodes)
	}
	result := tree.Node.Type()
	if cfg.expectBool {
		nt := tree.Node.Nature()
		if nt.Nil || (result != nil && result.Kind() != reflect.Bool && result.Kind() != reflect.Interface) {
			return nil, &Error{Line: 1, Column: 1, Message: fmt.Sprintf("expression must be a bool, not %s", typeName(result))}
		}
	}
	names := readNames(tree.Node, env)

	if err := optimizer.Optimize(&tree.Node, c); err != nil {
		return nil, compileError(err, &source, tree, env, specs, cfg.maxNodes)
	}
	prog, err := compiler.Compile(tree, c)
	if err != nil {
		return nil, compileError(err, &source, tree, env, specs, cfg.maxNodes)
	}
	// The checker specialises == on two strings to a type-asserting opcode;
	// records may hold nil where a string is declared, so use the generic one.
	for i, op := range prog.Bytecode {
		if op == vm.OpEqualString {
			prog.Bytecode[i] = vm.OpEqual
		}
	}
	slices.Sort(patcher.links)
	return &Program{
		src:        source,
		prog:       prog,
		names:      names,
		links:      slices.Compact(patcher.links),
		expectBool: cfg.expectBool,
		result:     result,
		fast:       fastPath(tree.Node, env, specs, &source),
	}, nil
}

// Source returns the expression as compiled.
func (p *Program) Source() string { return p.src.written }

// Names returns the top-level env names the program reads, sorted (e.g.
// ["price", "vars"]).
func (p *Program) Names() []string { return slices.Clone(p.names) }

// Links returns the entity names used as the first argument of link(...),
// sorted and unique; the engine orders entities with them.
func (p *Program) Links() []string { return slices.Clone(p.links) }

// Type returns the static result type, or nil when it is only known at run
// time.
func (p *Program) Type() reflect.Type {
	if p.result == nil || p.result.Kind() == reflect.Interface {
		return nil
	}
	return p.result
}

// Run evaluates the program with env: the same names as at compile time,
// with real values, plus "link" (a Link) when the program calls link. Errors
// are *Error with the position of the failing operation and wrap the cause.
func (p *Program) Run(env map[string]any) (any, error) {
	var out any
	if p.fast != nil {
		var err error
		if out, err = p.fast(env); err != nil {
			return nil, err
		}
	} else {
		m, _ := p.vms.Get().(*vm.VM)
		if m == nil {
			m = &vm.VM{}
		}
		var err error
		out, err = m.Run(p.prog, env)
		p.vms.Put(m)
		if err != nil {
			return nil, p.runError(err)
		}
	}
	if !p.expectBool {
		out, _ = normalize(out)
		return out, nil
	}
	switch b := out.(type) {
	case bool:
		return b, nil
	case nil:
		return false, nil
	}
	return nil, &Error{Line: 1, Column: 1, Message: fmt.Sprintf("expression result is %s, not bool", ValueType(out))}
}

// normalize converts the integer and float kinds expr produces (int from
// literals and mixed arithmetic, uint64 from YAML vars) to the record
// representation, int64 and float64, so results compare equal to record
// values. Lists and maps are copied only when something inside changes: they
// may belong to the caller's record.
func normalize(v any) (any, bool) {
	switch x := v.(type) {
	case nil, string, bool, int64, float64:
		return v, false
	case int:
		return int64(x), true
	case []any:
		var out []any
		for i, e := range x {
			n, changed := normalize(e)
			if changed && out == nil {
				out = slices.Clone(x)
			}
			if out != nil {
				out[i] = n
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			n, changed := normalize(e)
			if changed && out == nil {
				out = make(map[string]any, len(x))
				for k2, e2 := range x {
					out[k2] = e2
				}
			}
			if out != nil {
				out[k] = n
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	case float32:
		return float64(x), true
	}
	return v, false
}

// runError converts the VM's error to *Error, keeping the cause.
func (p *Program) runError(err error) error {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return &Error{Line: 1, Column: 1, Message: err.Error(), err: err}
	}
	e := &Error{Message: fe.Message, err: fe.Prev}
	e.Line, e.Column = p.src.pos(fe.From)
	if strings.HasPrefix(e.Message, "interface conversion: interface {} is nil") {
		e.Message = "nil value where " + strings.TrimPrefix(e.Message, "interface conversion: interface {} is nil, not ") + " is needed"
	}
	return e
}

// linkPatcher appends the run's env as a hidden argument to link(entity,
// key) calls, so the shared function can reach the per-run Link, and
// collects the entity names. It runs before type checking.
type linkPatcher struct {
	env      map[string]any
	specs    funcTable
	src      *source
	entities []string
	links    []string
	err      *Error
}

// Visit implements ast.Visitor.
func (lp *linkPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || lp.err != nil {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	if _, shadowed := lp.env[id.Value]; shadowed {
		if _, isFunc := lp.specs.lookup(id.Value); isFunc {
			id.Value = shadowPrefix + id.Value
		}
	}
	if strings.TrimPrefix(id.Value, shadowPrefix) != linkName {
		return
	}
	if len(call.Arguments) != 2 {
		lp.fail(call, fmt.Sprintf("link takes 2 arguments (entity, key), got %d", len(call.Arguments)), "")
		return
	}
	entity, ok := call.Arguments[0].(*ast.StringNode)
	if !ok {
		lp.fail(call.Arguments[0], "link entity must be a string literal naming an entity", "")
		return
	}
	if len(lp.entities) > 0 && !slices.Contains(lp.entities, entity.Value) {
		lp.fail(call.Arguments[0], "unknown entity "+entity.Value, suggest(entity.Value, lp.entities))
		return
	}
	lp.links = append(lp.links, entity.Value)
	envArg := &ast.IdentifierNode{Value: envName}
	envArg.SetLocation(call.Location())
	call.Arguments = append(call.Arguments, envArg)
}

func (lp *linkPatcher) fail(n ast.Node, msg, suggestion string) {
	line, col := lp.src.pos(n.Location().From)
	lp.err = &Error{Line: line, Column: col, Message: msg, Suggestion: suggestion}
}

// readNames returns the sorted top-level env names read by the tree.
func readNames(root ast.Node, env map[string]any) []string {
	var names []string
	add := func(n string) {
		if _, ok := env[n]; ok && n != linkName && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	walk(root, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.IdentifierNode:
			if n.Value != envName {
				add(n.Value)
			}
		case *ast.MemberNode:
			if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == envName {
				if s, ok := n.Property.(*ast.StringNode); ok {
					add(s.Value)
				}
			}
		}
	})
	slices.Sort(names)
	return names
}

// walk calls f for every node of the tree.
func walk(root ast.Node, f func(ast.Node)) {
	ast.Walk(&root, visitFunc(f))
}

type visitFunc func(ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(*n) }
