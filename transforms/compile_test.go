package transforms

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// shopOrderEnv is the prototype of a PrestaShop order as the engine builds
// it: typed zero values, a list of typed rows, and the actual vars.
func shopOrderEnv() map[string]any {
	return map[string]any{
		"id":            int64(0),
		"reference":     "",
		"price":         0.0,
		"name":          "",
		"tax_rate":      0.0,
		"active":        false,
		"current_state": int64(0),
		"id_customer":   int64(0),
		"module":        "",
		"date_add":      "",
		"note":          nil,
		"order_rows": []any{map[string]any{
			"product_reference": "",
			"product_quantity":  int64(0),
			"unit_price":        0.0,
		}},
		"source": map[string]any{"price": 0.0, "name": ""},
		"vars":   shopVars(),
	}
}

func shopVars() map[string]any {
	return map[string]any{
		"order_states":  []any{uint64(2), uint64(3), uint64(4), uint64(5)},
		"settled_state": "Oppgjort i Fiken",
		"payments": map[string]any{
			"ps_wirepayment":  map[string]any{"paid": false, "fee": 49.0, "due_days": uint64(14)},
			"stripe_official": map[string]any{"paid": true, "account": "1920:10002"},
		},
	}
}

func TestCompileErrorsGolden(t *testing.T) {
	cases := []struct {
		name string
		src  string
		opts []Option
	}{
		{"unknown name", "prise", nil},
		{"unknown name in call", "round(prise, 2)", nil},
		{"unknown name case", "Price * 2", nil},
		{"unknown name no suggestion", "zzzzzz", nil},
		{"forgotten vars prefix", "current_state in order_states", nil},
		{"unknown var", "current_state in vars.order_state", nil},
		{"unknown nested var", "vars.payments.ps_wirepayment.fe", nil},
		{"unknown row field", `map(order_rows, .product_referense)`, nil},
		{"unknown row field in map literal", `map(order_rows, {productId: .product_reference, quantity: .qty})`, nil},
		{"unknown source field", "source.prise != price", nil},
		{"unknown function", "uper(name)", nil},
		{"string times int", "name * 2", nil},
		{"string plus number", `reference + 1`, nil},
		{"round of string literal", `round("x", 2)`, nil},
		{"round of string field", `round(name, 2)`, nil},
		{"lower of number", `lower(price)`, nil},
		{"add_days fractional", `add_days(date_add, 1.5)`, nil},
		{"round arity", `round(price)`, nil},
		{"lower arity", `lower(name, 1)`, nil},
		{"join non-list", `join(name, ", ")`, nil},
		{"link arity", `link("customers")`, nil},
		{"link non-literal entity", `link(name, id_customer)`, nil},
		{"link unknown entity", `link("customer", id_customer)`, []Option{Entities("customers", "products")}},
		{"where not bool", `price * 2`, []Option{ExpectBool()}},
		{"where string", `name`, []Option{ExpectBool()}},
		{"too many nodes", strings.Repeat("price + ", 20) + "price", []Option{MaxNodes(10)}},
		{"syntax error", `price +`, nil},
		{"unclosed paren", `round(price`, nil},
		{"second line", "price > 0 &&\n  nmae != \"\"", nil},
		{"position after unicode", `"øre" + nmae`, nil},
	}
	var b strings.Builder
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.src, shopOrderEnv(), tc.opts...)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want an error", tc.src, p.Source())
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if ce.Line < 1 || ce.Column < 1 {
				t.Errorf("position %d:%d not 1-based", ce.Line, ce.Column)
			}
			if msg := ce.Message; msg == "" || strings.ToLower(msg[:1]) != msg[:1] {
				t.Errorf("message %q should start lowercase", msg)
			}
			fmt.Fprintf(&b, "### %s\n%s\n%s\n%s^\n\n", tc.name, tc.src, err, caretPad(tc.src, ce.Line, ce.Column))
		})
	}
	golden(t, "compile_errors.golden", b.String())
}

// caretPad returns the offending source line and spaces up to the column,
// so the golden file shows where each error points.
func caretPad(src string, line, col int) string {
	lines := strings.Split(src, "\n")
	if line > len(lines) {
		return "(line out of range)\n"
	}
	l := []rune(lines[line-1])
	if col-1 > len(l) {
		return "(column out of range)\n"
	}
	return string(l) + "\n" + strings.Repeat(" ", col-1)
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestErrorFields(t *testing.T) {
	cases := []struct {
		src  string
		want Error
	}{
		{"prise", Error{Line: 1, Column: 1, Message: "unknown name prise", Suggestion: "price"}},
		{"round(prise, 2)", Error{Line: 1, Column: 7, Message: "unknown name prise", Suggestion: "price"}},
		{"vars.order_state", Error{Line: 1, Column: 6, Message: "unknown name vars.order_state", Suggestion: "vars.order_states"}},
		{"order_states", Error{Line: 1, Column: 1, Message: "unknown name order_states", Suggestion: "vars.order_states"}},
		{"map(order_rows, {q: .product_quantty})", Error{Line: 1, Column: 22, Message: "unknown field product_quantty", Suggestion: "product_quantity"}},
		{"1 +\n\tnmae", Error{Line: 2, Column: 2, Message: "unknown name nmae", Suggestion: "name"}},
		{"qqqqqqq", Error{Line: 1, Column: 1, Message: "unknown name qqqqqqq"}},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			_, err := Compile(tc.src, shopOrderEnv())
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("Compile(%q) error = %v, want *Error", tc.src, err)
			}
			if diff := cmp.Diff(tc.want, *got, cmp.AllowUnexported(Error{})); diff != "" {
				t.Errorf("error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Line: 3, Column: 7, Message: "unknown name prise", Suggestion: "price"}
	if got, want := e.Error(), "3:7: unknown name prise (did you mean price?)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.Suggestion = ""
	if got, want := e.Error(), "3:7: unknown name prise"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestCompileAccepts(t *testing.T) {
	// Expressions from DESIGN.md and typical mappings must compile and
	// produce the right value.
	rec := map[string]any{
		"id": int64(7), "reference": "P-1", "price": 199.2, "name": "Ola Nordmann", "tax_rate": 25.0,
		"active": true, "current_state": int64(3), "id_customer": int64(42), "module": "ps_wirepayment",
		"date_add": "2024-03-01 13:45:00", "note": nil,
		"order_rows": []any{
			map[string]any{"product_reference": "A", "product_quantity": int64(2), "unit_price": 10.0},
			map[string]any{"product_reference": "B", "product_quantity": int64(1), "unit_price": 5.5},
		},
		"source": map[string]any{"price": 1.0, "name": "x"},
		"vars":   shopVars(),
		"link": Link(func(entity string, key any) (any, error) {
			return fmt.Sprintf("%s/%v", entity, key), nil
		}),
	}
	cases := []struct {
		src  string
		opts []Option
		want any
	}{
		{"int(price * 100)", nil, int64(19920)},
		{"lower(reference)", nil, "p-1"},
		{`'"3000"'`, nil, `"3000"`},
		{`"3000"`, nil, "3000"},
		{"current_state in vars.order_states", []Option{ExpectBool()}, true},
		{"vars.payments[module].paid", nil, false},
		{"vars.payments[module].due_days", nil, int64(14)},
		{`link("customers", id_customer)`, nil, "customers/42"},
		{`map(order_rows, {productId: link("products", .product_reference), quantity: .product_quantity})`, nil,
			[]any{
				map[string]any{"productId": "products/A", "quantity": int64(2)},
				map[string]any{"productId": "products/B", "quantity": int64(1)},
			}},
		{`order_rows | map({ref: .product_reference})`, nil,
			[]any{map[string]any{"ref": "A"}, map[string]any{"ref": "B"}}},
		{`map(order_rows, {"ref": .product_reference})[1]`, nil, map[string]any{"ref": "B"}},
		{`filter(order_rows, {.product_quantity > 1}) | map(.product_reference)`, nil, []any{"A"}},
		{`sum(order_rows, .unit_price * .product_quantity)`, nil, 25.5},
		{"price / 100.0 * 100", nil, 199.2},
		{"id * price", nil, 1394.3999999999999},
		{"split_name(name)[1]", nil, "Nordmann"},
		{"date(date_add)", nil, "2024-03-01"},
		{"add_days(date(date_add), vars.payments[module].due_days)", nil, "2024-03-15"},
		{"coalesce(note, name)", nil, "Ola Nordmann"},
		{"note ?? 'none'", nil, "none"},
		{"source.price != price", []Option{ExpectBool()}, true},
		{"{a: 1}", nil, map[string]any{"a": int64(1)}},
		{"let x = int(price * 100); x + 1", nil, int64(19921)},
		{"active && note == nil", []Option{ExpectBool()}, true},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			p, err := Compile(tc.src, shopOrderEnv(), tc.opts...)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.Run(rec)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNamesAndLinks(t *testing.T) {
	cases := []struct {
		src        string
		names      []string
		links      []string
		resultType string
	}{
		{"int(price)", []string{"price"}, nil, "int64"},
		{"current_state in vars.order_states", []string{"current_state", "vars"}, nil, "bool"},
		{`link("customers", id_customer)`, []string{"id_customer"}, []string{"customers"}, ""},
		{`map(order_rows, {p: link("products", .product_reference), c: link("customers", id_customer), q: link("products", id)})`,
			[]string{"id", "id_customer", "order_rows"}, []string{"customers", "products"}, "[]interface {}"},
		{`$env.price + $env["id"]`, []string{"id", "price"}, nil, "float64"},
		{`let price2 = price; price2 * 2`, []string{"price"}, nil, "float64"},
		{`1 + 2`, nil, nil, "int"},
		{`today()`, nil, nil, "string"},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			p, err := Compile(tc.src, shopOrderEnv())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.names, p.Names()); diff != "" {
				t.Errorf("Names mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.links, p.Links()); diff != "" {
				t.Errorf("Links mismatch (-want +got):\n%s", diff)
			}
			got := ""
			if typ := p.Type(); typ != nil {
				got = typ.String()
			}
			if got != tc.resultType {
				t.Errorf("Type() = %q, want %q", got, tc.resultType)
			}
			if p.Source() != tc.src {
				t.Errorf("Source() = %q, want %q", p.Source(), tc.src)
			}
		})
	}
}

func TestExpectBool(t *testing.T) {
	cases := []struct {
		src     string
		env     map[string]any
		want    any
		wantErr string
	}{
		{"current_state in vars.order_states", map[string]any{"current_state": int64(9), "vars": shopVars()}, false, ""},
		{"note", map[string]any{"note": true}, true, ""},
		{"note", map[string]any{"note": nil}, false, ""},
		{"note", map[string]any{}, false, ""},
		{"note", map[string]any{"note": "yes"}, nil, "1:1: expression result is string, not bool"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.src, tc.env), func(t *testing.T) {
			p, err := Compile(tc.src, shopOrderEnv(), ExpectBool())
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Run(tc.env)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Run error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Run = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMaxNodes(t *testing.T) {
	src := strings.Repeat("price + ", 30) + "price" // 61 nodes
	if _, err := Compile(src, shopOrderEnv()); err != nil {
		t.Errorf("default bound rejected a 61-node expression: %v", err)
	}
	if _, err := Compile(src, shopOrderEnv(), MaxNodes(61)); err != nil {
		t.Errorf("MaxNodes(61) rejected a 61-node expression: %v", err)
	}
	_, err := Compile(src, shopOrderEnv(), MaxNodes(60))
	if err == nil || !strings.Contains(err.Error(), "expression too large (more than 60 nodes)") {
		t.Errorf("MaxNodes(60) error = %v, want too large", err)
	}
	huge := strings.Repeat("price + ", DefaultMaxNodes) + "price"
	if _, err := Compile(huge, shopOrderEnv()); err == nil {
		t.Errorf("default bound accepted %d nodes", 2*DefaultMaxNodes+1)
	}
	if _, err := Compile(huge, shopOrderEnv(), MaxNodes(0)); err != nil {
		t.Errorf("MaxNodes(0) should remove the bound: %v", err)
	}
}

func TestLinkResolution(t *testing.T) {
	p, err := Compile(`map(order_rows, {productId: link("products", .product_reference)})`, shopOrderEnv())
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]any{"A": int64(1001)}
	var asked []string
	env := map[string]any{
		"order_rows": []any{
			map[string]any{"product_reference": "A"},
			map[string]any{"product_reference": "Z"},
		},
		"link": Link(func(entity string, key any) (any, error) {
			asked = append(asked, fmt.Sprintf("%s:%v", entity, key))
			if v, ok := known[key.(string)]; ok {
				return v, nil
			}
			return nil, fmt.Errorf("%s %v not synced yet: %w", entity, key, ErrUnresolvedLink)
		}),
	}
	_, err = p.Run(env)
	if !errors.Is(err, ErrUnresolvedLink) {
		t.Fatalf("Run error = %v, want one wrapping ErrUnresolvedLink", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Run error is %T, want *Error", err)
	}
	if want := `link("products", "Z"): products Z not synced yet: unresolved link`; e.Message != want {
		t.Errorf("message = %q, want %q", e.Message, want)
	}
	if diff := cmp.Diff([]string{"products:A", "products:Z"}, asked); diff != "" {
		t.Errorf("resolver calls (-want +got):\n%s", diff)
	}

	known["Z"] = int64(1002)
	got, err := p.Run(env)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{map[string]any{"productId": int64(1001)}, map[string]any{"productId": int64(1002)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Run mismatch (-want +got):\n%s", diff)
	}
}

func TestLinkEdgeCases(t *testing.T) {
	p, err := Compile(`link("customers", id_customer)`, shopOrderEnv())
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	resolver := func(string, any) (any, error) { calls++; return "x", nil }

	got, err := p.Run(map[string]any{"id_customer": nil, "link": Link(resolver)})
	if err != nil || got != nil || calls != 0 {
		t.Errorf("nil key: got %v, %v after %d calls; want nil without asking", got, err, calls)
	}
	// A plain func works as well as a Link.
	got, err = p.Run(map[string]any{"id_customer": int64(1), "link": resolver})
	if err != nil || got != "x" {
		t.Errorf("plain func resolver: got %v, %v", got, err)
	}
	_, err = p.Run(map[string]any{"id_customer": int64(1)})
	if err == nil || errors.Is(err, ErrUnresolvedLink) || !strings.Contains(err.Error(), "no link resolver") {
		t.Errorf("missing resolver: error = %v", err)
	}
	// A resolver that fails for another reason is not an unresolved link.
	boom := errors.New("state file closed")
	_, err = p.Run(map[string]any{"id_customer": int64(1), "link": Link(func(string, any) (any, error) { return nil, boom })})
	if !errors.Is(err, boom) || errors.Is(err, ErrUnresolvedLink) {
		t.Errorf("failing resolver: error = %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	env := map[string]any{"x": nil, "price": 0.0, "name": "", "active": false}
	cases := []struct {
		src  string
		rec  map[string]any
		want string
	}{
		{"int(x)", map[string]any{"x": "12,50"}, `1:1: int("12,50"): not a number`},
		{`"due " + add_days(x, 1)`, map[string]any{"x": "01.03.2024"}, `1:10: add_days: cannot parse "01.03.2024" as a date`},
		{"round(x, 2)", map[string]any{"x": "12,50"}, `1:1: round("12,50", 2): not a number`},
		{"date(x)", map[string]any{"x": "01.03.2024"}, `1:1: date: cannot parse "01.03.2024" as a date`},
		{"price * 2", map[string]any{"price": nil}, "1:7: invalid operation: <nil> * int"},
		{"lower(x)", map[string]any{"x": int64(3)}, "1:1: lower: want a string, got int"},
		{"!active", map[string]any{"active": nil}, "1:1: nil value where bool is needed"},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			p, err := Compile(tc.src, env)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Run(tc.rec)
			if err == nil {
				t.Fatalf("Run succeeded, want %q", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Run error = %q, want %q", err, tc.want)
			}
		})
	}
}

func TestNilSafeEquality(t *testing.T) {
	// Records may hold nil where the connector declared a string.
	p, err := Compile(`name == "Ola"`, shopOrderEnv(), ExpectBool())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name any
		want bool
	}{{"Ola", true}, {"Kari", false}, {nil, false}} {
		got, err := p.Run(map[string]any{"name": tc.name})
		if err != nil || got != tc.want {
			t.Errorf("name=%v: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestMixedNumbers(t *testing.T) {
	// A float field may arrive as int64 (and the other way round); the
	// arithmetic must not care.
	p, err := Compile("price * 2 + id", shopOrderEnv())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		price, id, want any
	}{
		{1.5, int64(1), 4.0},
		{int64(3), int64(1), int64(7)},
		{int64(3), 0.5, 6.5},
	} {
		got, err := p.Run(map[string]any{"price": tc.price, "id": tc.id})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("price=%v id=%v (-want +got):\n%s", tc.price, tc.id, diff)
		}
	}
}

func TestRunConcurrent(t *testing.T) {
	p, err := Compile(`map(order_rows, {p: link("products", .product_reference), q: .product_quantity * 2})`, shopOrderEnv())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				ref := fmt.Sprintf("g%d-%d", g, i)
				out, err := p.Run(map[string]any{
					"order_rows": []any{map[string]any{"product_reference": ref, "product_quantity": int64(i)}},
					"link":       Link(func(_ string, k any) (any, error) { return k, nil }),
				})
				if err != nil {
					errs <- err
					return
				}
				want := []any{map[string]any{"p": ref, "q": int64(2 * i)}}
				if diff := cmp.Diff(want, out); diff != "" {
					errs <- fmt.Errorf("goroutine %d run %d: %s", g, i, diff)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestEnvPrototypes(t *testing.T) {
	type record map[string]any // a named map type, like pipeline.Record
	env := map[string]any{
		"free":   map[string]any{},
		"obj":    record{"a": int64(0)},
		"rows":   []map[string]any{},
		"typed":  []map[string]any{{"b": ""}},
		"anyval": nil,
		"vars":   map[string]any{},
	}
	ok := []string{"free.whatever", "obj.a + 1", "rows[0].x", "typed[0].b + 'x'", "anyval.x.y", "anyval * 2"}
	for _, src := range ok {
		if _, err := Compile(src, env); err != nil {
			t.Errorf("Compile(%q): %v", src, err)
		}
	}
	bad := map[string]string{
		"obj.b":          "1:5: unknown name obj.b (did you mean obj.a?)",
		"typed[0].c":     "1:10: unknown field c (did you mean b?)",
		"typed[0].b * 2": "1:12: invalid operation: * (mismatched types string and int)",
		"vars.x":         "1:6: unknown name vars.x",
	}
	for src, want := range bad {
		_, err := Compile(src, env)
		if err == nil || err.Error() != want {
			t.Errorf("Compile(%q) error = %v, want %q", src, err, want)
		}
	}
}

func TestZeroValue(t *testing.T) {
	cases := map[string]any{
		"string": "", "date": "", "time": "", "int": int64(0), "float": 0.0, "bool": false,
		"list": []any{}, "object": map[string]any{}, "any": nil, "unknown": nil,
	}
	for typ, want := range cases {
		if diff := cmp.Diff(want, ZeroValue(typ)); diff != "" {
			t.Errorf("ZeroValue(%q) (-want +got):\n%s", typ, diff)
		}
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"price", "prices", "name", "order_states", "id"}
	cases := map[string]string{
		"prise":       "price",
		"PRICE":       "price",
		"pirce":       "price", // transposition
		"nmae":        "name",
		"order_state": "order_states",
		"id":          "",
		"qzx":         "",
		"completely":  "",
	}
	for in, want := range cases {
		if got := suggest(in, cands); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFastPathMatchesVM(t *testing.T) {
	env := map[string]any{"a": nil, "b": nil, "s": "", "f": 0.0, "n": int64(0)}
	srcs := []string{
		"a", "s", "n", `"3000"`, "12", "1.5", "true", "nil", `"30" + "00"`,
		"round(a, b)", "round(f, 2)", "round(1.005, 2)", "round(n, -2)",
		"date(a)", "add_days(a, b)", "lower(a)", "upper(s)", "trim(a)", "coalesce(a, b, s)", "default(a, 5)",
		"int(a)", "float(a)", "str(a)", "split_name(a)", "join(a, b)", "today()",
	}
	recs := []map[string]any{
		{},
		{"a": 1.005, "b": int64(2), "s": " x ", "f": 2.675, "n": int64(4550)},
		{"a": "25", "b": "", "s": "", "f": nil, "n": nil},
		{"a": "2024-03-01 10:00:00", "b": int64(-1), "s": "Ola Nordmann", "f": 1e300},
		{"a": []any{"x", nil, int64(2)}, "b": ", "},
		{"a": "garbage", "b": 1.5},
		{"a": int64(13), "b": true},
	}
	clock := Clock(func() time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) })
	for _, src := range srcs {
		fast, err := Compile(src, env, clock)
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		if fast.fast == nil {
			t.Errorf("%s: no fast path", src)
			continue
		}
		slow, _ := Compile(src, env, clock)
		slow.fast = nil
		for _, rec := range recs {
			fv, ferr := fast.Run(rec)
			sv, serr := slow.Run(rec)
			if diff := cmp.Diff(sv, fv); diff != "" {
				t.Errorf("%s with %v: fast path differs (-vm +fast):\n%s", src, rec, diff)
			}
			if fmt.Sprint(ferr) != fmt.Sprint(serr) || errors.Unwrap(ferr) == nil != (errors.Unwrap(serr) == nil) {
				t.Errorf("%s with %v: fast error %v, vm error %v", src, rec, ferr, serr)
			}
		}
	}
	// Shapes the fast path must leave to the VM.
	for _, src := range []string{"a + 1", `link("x", a)`, "vars.x", "[1, 2]", "{a: 1}", "round(a + 1, 2)"} {
		p, err := Compile(src, map[string]any{"a": nil, "vars": map[string]any{"x": 1}})
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		if p.fast != nil {
			t.Errorf("%s: unexpected fast path", src)
		}
	}
}

func TestFieldShadowingFunction(t *testing.T) {
	// Fiken sales have a "date" field; date() must stay callable.
	env := map[string]any{"date": "", "round": 0.0}
	cases := []struct {
		src   string
		want  any
		names []string
	}{
		{"date", "2024-03-01 10:00:00", []string{"date"}},
		{"date(date)", "2024-03-01", []string{"date"}},
		{"add_days(date(date), 1)", "2024-03-02", []string{"date"}},
		{"round(round, 1)", 2.7, []string{"round"}},
		{"today() > date", true, []string{"date"}},
	}
	clock := Clock(func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) })
	for _, tc := range cases {
		p, err := Compile(tc.src, env, clock)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tc.src, err)
		}
		got, err := p.Run(map[string]any{"date": "2024-03-01 10:00:00", "round": 2.65})
		if err != nil {
			t.Fatalf("Run(%q): %v", tc.src, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.src, diff)
		}
		if diff := cmp.Diff(tc.names, p.Names()); diff != "" {
			t.Errorf("%s Names (-want +got):\n%s", tc.src, diff)
		}
	}
	_, err := Compile("date(1)", env)
	if err == nil || !strings.Contains(err.Error(), "cannot use int as x (string) in date(x string) string") {
		t.Errorf("date(1) error = %v", err)
	}
}
