package transforms

import (
	"reflect"

	"github.com/expr-lang/expr/types"
)

// ZeroValue is the prototype value for a field type name as connectors
// declare them ("string", "int", "float", "bool", "date", "time", "list",
// "object", "any"), for building Compile's env. Unknown names give nil (any).
func ZeroValue(fieldType string) any {
	switch fieldType {
	case "string", "date", "time":
		return ""
	case "int":
		return int64(0)
	case "float":
		return float64(0)
	case "bool":
		return false
	case "list":
		return []any{}
	case "object":
		return map[string]any{}
	}
	return nil
}

// envType describes the env prototype to expr's checker. Maps become
// strict typed maps so unknown keys are compile errors; at run time the
// same names are plain map[string]any values.
func envType(env map[string]any) types.Map {
	m := make(types.Map, len(env))
	for k, v := range env {
		switch k {
		case linkName:
			continue // supplied per run; the link function reads it
		case varsName:
			m[k] = protoType(reflect.ValueOf(v), true)
		default:
			m[k] = protoType(reflect.ValueOf(v), false)
		}
	}
	return m
}

// protoType is the checker type of a prototype value. vars holds actual
// values rather than prototypes: its maps are strict even when empty and its
// lists' elements are not assumed to share the first one's shape.
func protoType(v reflect.Value, vars bool) types.Type {
	if !v.IsValid() {
		return types.Any
	}
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return types.Any
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return types.TypeOf(v.Interface())
		}
		if v.Len() == 0 && !vars {
			return types.TypeOf(map[string]any{}) // free-form object
		}
		m := make(types.Map, v.Len())
		it := v.MapRange()
		for it.Next() {
			m[it.Key().String()] = protoType(it.Value(), vars)
		}
		return m
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return types.TypeOf(v.Interface())
		}
		if !vars && v.Len() > 0 {
			first := v.Index(0)
			if first.Kind() == reflect.Interface {
				first = first.Elem()
			}
			if first.Kind() == reflect.Map {
				return types.Array(protoType(first, false))
			}
		}
		if v.Type().Elem().Kind() == reflect.Map && v.Len() == 0 {
			return types.Array(types.TypeOf(map[string]any{}))
		}
		return types.TypeOf([]any{})
	case reflect.Func:
		return types.TypeOf(v.Interface())
	}
	return types.TypeOf(v.Interface())
}
