package transforms

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/synk-etl/synk/transforms/internal/decimal"
)

func isIntKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// typeName names a static type the way pipeline authors know types.
func typeName(t reflect.Type) string {
	if t == nil {
		return "nil"
	}
	switch k := t.Kind(); {
	case isIntKind(k):
		return "int"
	case k == reflect.Float64 || k == reflect.Float32:
		return "float"
	case k == reflect.String:
		return "string"
	case k == reflect.Bool:
		return "bool"
	case k == reflect.Slice || k == reflect.Array:
		return "list"
	case k == reflect.Map:
		return "object"
	case k == reflect.Interface:
		return "any"
	}
	return t.String()
}

// ValueType names a run-time value's type for error messages ("int",
// "string", "list", ...), as signatures name types.
func ValueType(v any) string {
	if v == nil {
		return "nil"
	}
	return typeName(reflect.TypeOf(v))
}

// coreFunctions is the core set: what any pipeline may call, whatever it
// connects.
func coreFunctions() []Function {
	typeInt := reflect.TypeFor[int64]()
	typeFloat := reflect.TypeFor[float64]()
	typeString := reflect.TypeFor[string]()
	typeAny := reflect.TypeFor[any]()
	typeList := reflect.TypeFor[[]any]()
	return []Function{
		{
			Name: "round", Params: []Param{{"x", Number}, {"digits", Int}}, Result: typeFloat,
			Doc:  "x rounded to digits decimals, half away from zero on the decimal value (round(2.675, 2) → 2.68); negative digits round to tens, hundreds. nil gives nil.",
			Func: fnRound,
		},
		{
			Name: "date", Params: []Param{{"x", String}}, Result: typeString,
			Doc:  `The calendar date "yyyy-MM-dd" of "2006-01-02 15:04:05" (PrestaShop), RFC 3339 (the date as written, not converted to UTC) or a date. PrestaShop's zero date "0000-00-00..." and nil give nil; anything else is an error.`,
			Func: fnDate,
		},
		{
			Name: "add_days", Params: []Param{{"date", String}, {"n", Int}}, Result: typeString,
			Doc:  `The date n days after date (any form date() accepts), as "yyyy-MM-dd"; n may be negative. nil gives nil.`,
			Func: fnAddDays,
		},
		{
			Name: "today", Result: typeString,
			Doc: `Today's date in UTC, "yyyy-MM-dd".`,
			clocked: func(clock func() time.Time) func(...any) (any, error) {
				return func(...any) (any, error) { return clock().UTC().Format(time.DateOnly), nil }
			},
		},
		{
			Name: "now", Result: typeString,
			Doc: "The current time in UTC, RFC 3339 with seconds.",
			clocked: func(clock func() time.Time) func(...any) (any, error) {
				return func(...any) (any, error) { return clock().UTC().Format(time.RFC3339), nil }
			},
		},
		{
			Name: "lower", Params: []Param{{"s", String}}, Result: typeString,
			Doc:  "s in lower case. nil gives nil.",
			Func: stringFunc("lower", strings.ToLower),
		},
		{
			Name: "upper", Params: []Param{{"s", String}}, Result: typeString,
			Doc:  "s in upper case. nil gives nil.",
			Func: stringFunc("upper", strings.ToUpper),
		},
		{
			Name: "trim", Params: []Param{{"s", String}}, Result: typeString,
			Doc:  "s without leading and trailing white space. nil gives nil.",
			Func: stringFunc("trim", strings.TrimSpace),
		},
		{
			Name: "coalesce", Params: []Param{{"values", Any}}, Variadic: true, SameAsArgs: true, Result: typeAny,
			Doc:  `The first argument that is neither nil nor ""; nil if there is none.`,
			Func: fnCoalesce,
		},
		{
			Name: "default", Params: []Param{{"x", Any}, {"d", Any}}, SameAsArgs: true, Result: typeAny,
			Doc: "x, or d when x is nil (like x ?? d).",
			Func: func(args ...any) (any, error) {
				if args[0] == nil {
					return args[1], nil
				}
				return args[0], nil
			},
		},
		{
			Name: "int", Params: []Param{{"x", Any}}, Result: typeInt,
			Doc:  `x as an integer: floats are truncated toward zero, numeric strings ("12", " 12.50 ") parsed, true is 1. nil gives nil; anything else is an error.`,
			Func: fnInt,
		},
		{
			Name: "float", Params: []Param{{"x", Any}}, Result: typeFloat,
			Doc:  "x as a float; numeric strings are parsed. nil gives nil; anything else is an error.",
			Func: fnFloat,
		},
		{
			Name: "str", Params: []Param{{"x", Any}}, Result: typeString,
			Doc:  `x as a string: numbers in plain decimal (45.5, not 4.55e+01), lists and objects as JSON; nil gives "".`,
			Func: fnStr,
		},
		{
			Name: "split_name", Params: []Param{{"full", String}}, Result: typeList,
			Doc:  `[first, last] of a full name, split at the last space ("Anne Marie Hansen" → ["Anne Marie", "Hansen"]); one word gives [word, ""], nil gives ["", ""].`,
			Func: fnSplitName,
		},
		{
			Name: "join", Params: []Param{{"list", List}, {"sep", String}}, Result: typeString,
			Doc:  "The elements of list as strings (as str does) joined with sep; nil and empty elements are skipped, so address lines join cleanly.",
			Func: fnJoin,
		},
		{
			Name: "link", Params: []Param{{"entity", String}, {"key", Any}}, hidden: 1, Result: typeAny,
			Doc:  `The other side's key of the record of entity (a string literal naming an entity of the pipeline) whose key on this side is key. An unresolved link makes the change wait for that entity or be rejected; a nil key gives nil.`,
			Func: fnLink,
		},
	}
}

// nilFirst reports whether the first argument is nil, the common
// propagation rule: a missing input gives a missing output.
func nilFirst(args []any) bool { return args[0] == nil }

func fnRound(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	digits, err := ToInt(args[1])
	if err != nil {
		return nil, fmt.Errorf("round digits %s: %w", Show(args[1]), err)
	}
	f, err := decimal.Round(args[0], int(max(min(digits, 1000), -1000)))
	if err != nil {
		return nil, fmt.Errorf("round(%s, %d): %w", Show(args[0]), digits, err)
	}
	return f, nil
}

// parseDate parses the date forms date() accepts. ok is false for the zero
// dates PrestaShop stores for "not set".
func parseDate(v any) (t time.Time, ok bool, err error) {
	s, isString := v.(string)
	if !isString {
		return time.Time{}, false, fmt.Errorf("want a date string, got %s", ValueType(v))
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, false, nil
	}
	// PrestaShop's layout first because it dominates.
	layouts := [...]string{time.DateTime, time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999"}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("cannot parse %q as a date", s)
}

func fnDate(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	if s, ok := args[0].(string); ok && isDateOnly(s) {
		return s, nil // already a date: skip the layout loop
	}
	t, ok, err := parseDate(args[0])
	if err != nil {
		return nil, fmt.Errorf("date: %w", err)
	}
	if !ok {
		return nil, nil
	}
	return t.Format(time.DateOnly), nil
}

// isDateOnly reports whether s is a valid yyyy-MM-dd date.
func isDateOnly(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func fnAddDays(args ...any) (any, error) {
	if nilFirst(args) {
		return nil, nil
	}
	n, err := ToInt(args[1])
	if err != nil {
		return nil, fmt.Errorf("add_days n %s: %w", Show(args[1]), err)
	}
	t, ok, err := parseDate(args[0])
	if err != nil {
		return nil, fmt.Errorf("add_days: %w", err)
	}
	if !ok {
		return nil, nil
	}
	if n > 1e6 || n < -1e6 {
		return nil, fmt.Errorf("add_days: %d days is out of range", n)
	}
	return t.AddDate(0, 0, int(n)).Format(time.DateOnly), nil
}

func stringFunc(name string, f func(string) string) func(...any) (any, error) {
	return func(args ...any) (any, error) {
		switch s := args[0].(type) {
		case nil:
			return nil, nil
		case string:
			return f(s), nil
		}
		return nil, fmt.Errorf("%s: want a string, got %s", name, ValueType(args[0]))
	}
}

func fnCoalesce(args ...any) (any, error) {
	for _, a := range args {
		if a == nil {
			continue
		}
		if s, ok := a.(string); ok && s == "" {
			continue
		}
		return a, nil
	}
	return nil, nil
}

// ToInt converts a run-time number (or numeric string) to int64, for
// functions taking counts and digits; floats must be whole.
func ToInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x != float64(int64(x)) {
			return 0, errors.New("not a whole number")
		}
		return int64(x), nil
	}
	n, err := fnInt(v)
	if err != nil {
		return 0, err
	}
	if n == nil {
		return 0, decimal.ErrNotNumber
	}
	return n.(int64), nil
}

func fnInt(args ...any) (any, error) {
	switch x := args[0].(type) {
	case nil:
		return nil, nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x != x || x >= 1<<63 || x < -1<<63 {
			return nil, fmt.Errorf("int(%s): out of range", Show(x))
		}
		return int64(x), nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != f || f >= 1<<63 || f < -1<<63 {
			return nil, fmt.Errorf("int(%q): not a number", x)
		}
		return int64(f), nil
	}
	var buf [40]byte
	b, err := decimal.Append(buf[:0], args[0])
	if err != nil {
		return nil, fmt.Errorf("int: cannot convert %s", ValueType(args[0]))
	}
	return fnInt(string(b))
}

func fnFloat(args ...any) (any, error) {
	switch x := args[0].(type) {
	case nil:
		return nil, nil
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return nil, fmt.Errorf("float(%q): not a number", x)
		}
		return f, nil
	}
	var buf [40]byte
	b, err := decimal.Append(buf[:0], args[0])
	if err != nil {
		return nil, fmt.Errorf("float: cannot convert %s", ValueType(args[0]))
	}
	return strconv.ParseFloat(string(b), 64)
}

func fnStr(args ...any) (any, error) {
	return Str(args[0]), nil
}

// Str is the string form of a record value, as the str function gives it:
// numbers in plain decimal, lists and objects as JSON, nil as "".
func Str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case []any, map[string]any:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
	var buf [40]byte
	if b, err := decimal.Append(buf[:0], v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

func fnSplitName(args ...any) (any, error) {
	switch s := args[0].(type) {
	case nil:
		return []any{"", ""}, nil
	case string:
		s = strings.Join(strings.Fields(s), " ")
		if i := strings.LastIndexByte(s, ' '); i >= 0 {
			return []any{s[:i], s[i+1:]}, nil
		}
		return []any{s, ""}, nil
	}
	return nil, fmt.Errorf("split_name: want a string, got %s", ValueType(args[0]))
}

func fnJoin(args ...any) (any, error) {
	sep, ok := args[1].(string)
	if !ok {
		return nil, fmt.Errorf("join: separator must be a string, got %s", ValueType(args[1]))
	}
	var parts []string
	switch list := args[0].(type) {
	case nil:
		return "", nil
	case []any:
		parts = make([]string, 0, len(list))
		for _, e := range list {
			if s := Str(e); s != "" {
				parts = append(parts, s)
			}
		}
	case []string:
		parts = make([]string, 0, len(list))
		for _, s := range list {
			if s != "" {
				parts = append(parts, s)
			}
		}
	default:
		rv := reflect.ValueOf(list)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return nil, fmt.Errorf("join: want a list, got %s", ValueType(args[0]))
		}
		for i := range rv.Len() {
			if s := Str(rv.Index(i).Interface()); s != "" {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, sep), nil
}

// fnLink resolves link(entity, key) through the Link the engine put in the
// run's env, which the compiler passes as a hidden third argument.
func fnLink(args ...any) (any, error) {
	entity, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("link: entity must be a string, got %s", ValueType(args[0]))
	}
	key := args[1]
	if key == nil {
		return nil, nil
	}
	env, _ := args[2].(map[string]any)
	var resolve Link
	switch l := env[linkName].(type) {
	case Link:
		resolve = l
	case func(string, any) (any, error):
		resolve = l
	}
	if resolve == nil {
		return nil, fmt.Errorf("link(%q, %s): no link resolver in env", entity, Show(key))
	}
	v, err := resolve(entity, key)
	if err != nil {
		return nil, fmt.Errorf("link(%q, %s): %w", entity, Show(key), err)
	}
	return v, nil
}

// Show formats a value for an error message of a function: short, with
// strings quoted.
func Show(v any) string {
	if s, ok := v.(string); ok {
		if len(s) > 40 {
			s = s[:40] + "..."
		}
		return strconv.Quote(s)
	}
	return Str(v)
}
