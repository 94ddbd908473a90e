package transforms

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cents is a function a domain set might register: one number parameter,
// an int result, nil propagated, a run-time error for non-numbers.
var cents = Function{
	Name: "cents", Params: []Param{{Name: "x", Kind: Number}}, Result: reflect.TypeFor[int64](),
	Doc: "x × 100. nil gives nil.",
	Func: func(args ...any) (any, error) {
		switch x := args[0].(type) {
		case nil:
			return nil, nil
		case float64:
			return int64(x * 100), nil
		case int64:
			return x * 100, nil
		}
		return nil, fmt.Errorf("cents: want a number, got %s", ValueType(args[0]))
	},
}

func TestRegisteredFunction(t *testing.T) {
	fns := NewFunctions()
	fns.Register(cents)
	env := map[string]any{"price": 0.0, "name": "", "x": nil}
	with := WithFunctions(fns)

	p, err := Compile("cents(price)", env, with)
	if err != nil {
		t.Fatal(err)
	}
	if p.fast == nil {
		t.Error("cents(price): no fast path")
	}
	if got, want := fmt.Sprint(p.Type()), "int64"; got != want {
		t.Errorf("Type() = %s, want %s", got, want)
	}
	got, err := p.Run(map[string]any{"price": 1.5})
	if err != nil || got != int64(150) {
		t.Errorf("cents(1.5) = %v, %v; want 150", got, err)
	}
	q, err := Compile(`"c" + str(cents(x))`, env, with)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Run(map[string]any{"x": "a"}); err == nil || err.Error() != "1:11: cents: want a number, got string" {
		t.Errorf("run error = %v", err)
	}

	errs := []struct {
		src  string
		opts []Option
		want Error
	}{
		{`cents(name)`, []Option{with}, Error{Line: 1, Column: 7, Message: "cannot use string as x (number) in cents(x number) int"}},
		{`cents(1, 2)`, []Option{with}, Error{Line: 1, Column: 1, Message: "too many arguments to call cents(x number) int"}},
		{`cent(price)`, []Option{with}, Error{Line: 1, Column: 1, Message: "unknown name cent", Suggestion: "cents"}},
		// Not registered: the core set alone does not know it.
		{`1 + cents(price)`, nil, Error{Line: 1, Column: 5, Message: "unknown name cents"}},
		{`cents(price)`, []Option{WithFunctions(NewFunctions())}, Error{Line: 1, Column: 1, Message: "unknown name cents"}},
	}
	for _, tc := range errs {
		_, err := Compile(tc.src, env, tc.opts...)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Compile(%q) error = %v, want *Error", tc.src, err)
		}
		if diff := cmp.Diff(tc.want, *e, cmp.AllowUnexported(Error{})); diff != "" {
			t.Errorf("%s: error mismatch (-want +got):\n%s", tc.src, diff)
		}
	}

	docs := fns.Docs()
	if want := (FunctionDoc{Name: "cents", Signature: "cents(x number) int", Doc: "x × 100. nil gives nil."}); docs[len(docs)-1] != want {
		t.Errorf("last doc = %+v, want %+v", docs[len(docs)-1], want)
	}
	if n := len(NewFunctions().Docs()); len(docs) != n+1 {
		t.Errorf("%d docs, want the %d core ones and cents", len(docs), n)
	}
}

func TestRegisterPanics(t *testing.T) {
	cases := map[string]struct {
		fn   Function
		want string
	}{
		"core name": {Function{Name: "date", Result: reflect.TypeFor[string](), Func: cents.Func}, "transforms: function registered twice: date"},
		"twice":     {cents, "transforms: function registered twice: cents"},
		"no name":   {Function{Result: cents.Result, Func: cents.Func}, `transforms: function "" needs a name, a Result and a Func`},
		"no result": {Function{Name: "x", Func: cents.Func}, `transforms: function "x" needs a name, a Result and a Func`},
		"no func":   {Function{Name: "x", Result: cents.Result}, `transforms: function "x" needs a name, a Result and a Func`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fns := NewFunctions()
			fns.Register(cents)
			defer func() {
				if got := fmt.Sprint(recover()); got != tc.want {
					t.Errorf("panic %q, want %q", got, tc.want)
				}
			}()
			fns.Register(tc.fn)
		})
	}
}

func TestFunctionsAreSeparate(t *testing.T) {
	a, b := NewFunctions(), NewFunctions()
	a.Register(cents)
	if _, err := Compile("cents(1)", nil, WithFunctions(b)); err == nil || !strings.Contains(err.Error(), "unknown name cents") {
		t.Errorf("cents registered in one environment reached another: %v", err)
	}
}
