package transforms

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// Kind is the static type class a parameter accepts. An argument whose type
// is unknown at compile time (any) is always accepted; the function checks
// it at run time instead.
type Kind int

// The kinds a Param may accept.
const (
	Any Kind = iota
	Number
	Int
	String
	List
)

// String names the kind as signatures show it.
func (k Kind) String() string {
	switch k {
	case Number:
		return "number"
	case Int:
		return "int"
	case String:
		return "string"
	case List:
		return "list"
	}
	return "any"
}

// Param is one parameter of a Function.
type Param struct {
	Name string
	Kind Kind
}

// Function is one function expressions may call: the checker uses Params
// and Result, the VM calls Func, and Docs prints Name, the signature and
// Doc.
type Function struct {
	// Name is what expressions call, e.g. "ore".
	Name   string
	Params []Param
	// Variadic means the last param may repeat (at least once).
	Variadic bool
	// Result is the static result type, e.g. reflect.TypeFor[int64]();
	// reflect.TypeFor[any]() when it is only known at run time.
	Result reflect.Type
	// SameAsArgs makes the result the common static type of the arguments
	// when they agree (coalesce, default), else Result.
	SameAsArgs bool
	// Doc is one or two sentences on what it does, including nil handling.
	Doc string
	// Func gets one argument per param, already checked against the kinds
	// where their types are known at compile time; a nil argument should
	// give nil, so a missing input gives a missing output. Its error is
	// reported with the call's position in the expression.
	Func func(args ...any) (any, error)

	// hidden is the number of trailing arguments the compiler appends (link
	// receives the run's env); they are not part of the signature.
	hidden int
	// clocked replaces Func for functions that read the time (today, now),
	// so each Compile can pin its clock.
	clocked func(now func() time.Time) func(args ...any) (any, error)
}

// signature renders the function as docs and errors show it, e.g.
// "ore(nok number) int".
func (s Function) signature() string {
	var b strings.Builder
	b.WriteString(s.Name)
	b.WriteByte('(')
	for i, p := range s.Params {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
		b.WriteByte(' ')
		b.WriteString(p.Kind.String())
		if s.Variadic && i == len(s.Params)-1 {
			b.WriteString("...")
		}
	}
	b.WriteString(") ")
	b.WriteString(typeName(s.Result))
	return b.String()
}

// validate is the compile-time check of a call: arity and argument types.
// Unknown (interface) arguments pass; the function checks them at run time.
func (s Function) validate(args []reflect.Type) (reflect.Type, error) {
	n := len(args) - s.hidden
	switch {
	case n < len(s.Params):
		return nil, fmt.Errorf("not enough arguments to call %s", s.signature())
	case !s.Variadic && n > len(s.Params):
		return nil, fmt.Errorf("too many arguments to call %s", s.signature())
	}
	for i := range n {
		p := s.Params[min(i, len(s.Params)-1)]
		if t := args[i]; !accepts(p.Kind, t) {
			return nil, fmt.Errorf("cannot use %s as %s (%s) in %s", typeName(t), p.Name, p.Kind, s.signature())
		}
	}
	if s.SameAsArgs && n > 0 {
		first := args[0]
		for _, t := range args[1:n] {
			if t != first {
				return s.Result, nil
			}
		}
		if first != nil && first.Kind() != reflect.Interface {
			return first, nil
		}
	}
	return s.Result, nil
}

// accepts reports whether a static argument type fits a parameter kind. nil
// (the literal) is accepted everywhere: the functions propagate it.
func accepts(k Kind, t reflect.Type) bool {
	if t == nil || t.Kind() == reflect.Interface || k == Any {
		return true
	}
	switch k {
	case Number:
		return isIntKind(t.Kind()) || t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32
	case Int:
		return isIntKind(t.Kind())
	case String:
		return t.Kind() == reflect.String
	case List:
		return t.Kind() == reflect.Slice || t.Kind() == reflect.Array
	}
	return false
}

// Functions is the environment of functions expressions may call, passed
// to Compile with WithFunctions. Like the connector registry it is built
// by main: NewFunctions has the core set, and domain sets (package
// transforms/accounting) register theirs. Register everything before the
// first Compile; compiling only reads it. The zero value has no core set
// and cannot register: use NewFunctions.
type Functions struct {
	list  []Function
	index map[string]int
}

// NewFunctions returns an environment with the core set: conversions,
// strings, dates, rounding, coalesce and link.
func NewFunctions() *Functions {
	f := &Functions{index: map[string]int{}}
	f.Register(coreFunctions()...)
	return f
}

// coreOnly is the environment of a Compile without WithFunctions. Nothing
// can register into it, so sharing it is safe.
var coreOnly = sync.OnceValue(NewFunctions)

// Register adds functions. A name registered twice, or a function without
// a name, Func or Result, panics: it is a wiring mistake in main.
func (f *Functions) Register(fns ...Function) {
	for _, fn := range fns {
		if fn.Name == "" || fn.Result == nil || (fn.Func == nil && fn.clocked == nil) {
			panic(fmt.Sprintf("transforms: function %q needs a name, a Result and a Func", fn.Name))
		}
		if _, dup := f.index[fn.Name]; dup {
			panic("transforms: function registered twice: " + fn.Name)
		}
		f.index[fn.Name] = len(f.list)
		f.list = append(f.list, fn)
	}
}

// FunctionDoc documents one function for the README and for `synk` help
// output.
type FunctionDoc struct {
	// Name is what expressions call, e.g. "ore".
	Name string
	// Signature shows parameters and result, e.g. "ore(nok number) int".
	Signature string
	// Doc is one or two sentences on what it does, including nil handling.
	Doc string
}

// Docs lists the registered functions in the order they were registered
// (the core set first). Expressions can also use expr-lang's own builtins
// (len, map, filter, ...); registered functions take precedence over
// builtins with the same name.
func (f *Functions) Docs() []FunctionDoc {
	docs := make([]FunctionDoc, len(f.list))
	for i, s := range f.list {
		docs[i] = FunctionDoc{Name: s.Name, Signature: s.signature(), Doc: s.Doc}
	}
	return docs
}

// bind returns the functions with today() and now() reading clock.
func (f *Functions) bind(clock func() time.Time) funcTable {
	t := funcTable{list: make([]Function, len(f.list)), index: f.index}
	for i, s := range f.list {
		if s.clocked != nil {
			s.Func = s.clocked(clock)
		}
		t.list[i] = s
	}
	return t
}

// funcTable is the functions of one Compile.
type funcTable struct {
	list  []Function
	index map[string]int
}

// lookup returns the function called name.
func (t funcTable) lookup(name string) (Function, bool) {
	i, ok := t.index[name]
	if !ok {
		return Function{}, false
	}
	return t.list[i], true
}
