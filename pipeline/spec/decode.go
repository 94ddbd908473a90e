package spec

import (
	"errors"
	"reflect"
	"strings"
	"time"

	goyaml "github.com/goccy/go-yaml"

	"github.com/synk-etl/synk/pipeline"
)

// decodeConfig decodes a connection's settings into the connector's config
// struct strictly: unknown keys, wrong types and literal secrets are errors
// at their position. It returns the config and its secret values.
func (l *loader) decodeConfig(ct pipeline.ConnectorType, n *node, what string, common []string) (any, []string) {
	if ct.NewConfig == nil {
		return struct{}{}, nil
	}
	cfg := ct.NewConfig()
	rv := reflect.ValueOf(cfg)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		l.errs.add(n.pos(), "%s: connector %s has a bad config type %T", what, ct.Name, cfg)
		return nil, nil
	}
	before := len(l.errs.errs)
	var secrets []string
	l.decodeValue(rv.Elem(), n, what, common, false, &secrets)
	if len(l.errs.errs) > before {
		return nil, nil
	}
	if v, ok := cfg.(interface{ Validate() error }); ok && !l.offline {
		if err := v.Validate(); err != nil {
			l.errs.add(n.pos(), "%s: %v", what, redactAll(err.Error(), secrets))
			return nil, nil
		}
	}
	return cfg, secrets
}

func yamlName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("yaml")
	if tag == "-" || !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, true
}

var durationType = reflect.TypeOf(time.Duration(0))

func (l *loader) decodeValue(v reflect.Value, n *node, what string, extra []string, secret bool, secrets *[]string) {
	if n.kind == scalarNode && n.value == nil {
		return // null leaves the zero value
	}
	if secret && n.kind == scalarNode {
		if !n.interp {
			l.errs.add(n.pos(), "%s is a secret: write it as ${env:NAME} or ${file:PATH}, never in the file", what)
			return
		}
		if s, ok := n.value.(string); ok && s != "" {
			*secrets = append(*secrets, s)
		}
	}
	if v.CanAddr() {
		if u, ok := v.Addr().Interface().(goyaml.InterfaceUnmarshaler); ok {
			err := u.UnmarshalYAML(func(dst any) error {
				b, err := goyaml.Marshal(n.ordered())
				if err != nil {
					return err
				}
				return goyaml.Unmarshal(b, dst)
			})
			if err != nil {
				l.errs.add(n.pos(), "%s: %v", what, err)
			}
			return
		}
	}
	switch {
	case v.Type() == durationType:
		s, _ := n.asString()
		d, err := time.ParseDuration(s)
		if err != nil {
			l.errs.add(n.pos(), "%s must be a duration like 30s or 5m", what)
			return
		}
		v.SetInt(int64(d))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		l.decodeValue(nv.Elem(), n, what, extra, secret, secrets)
		v.Set(nv)
	case reflect.Struct:
		if n.kind != mapNode {
			l.errs.add(n.pos(), "%s must be a mapping, not %s", what, n.kindName())
			return
		}
		t := v.Type()
		fields := map[string]int{}
		var names []string
		for i := 0; i < t.NumField(); i++ {
			if name, ok := yamlName(t.Field(i)); ok {
				fields[name] = i
				names = append(names, name)
			}
		}
		for _, e := range n.entries {
			i, ok := fields[e.key]
			if !ok {
				l.errs.add(e.k.pos(), "unknown key %q in %s%s", e.key, what, didYouMean(e.key, append(names, extra...)))
				continue
			}
			sf := t.Field(i)
			l.decodeValue(v.Field(i), e.v, e.key, nil, secret || sf.Tag.Get("secret") == "true", secrets)
		}
	case reflect.Map:
		if n.kind != mapNode || v.Type().Key().Kind() != reflect.String {
			l.errs.add(n.pos(), "%s must be a mapping, not %s", what, n.kindName())
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.entries))
		for _, e := range n.entries {
			ev := reflect.New(v.Type().Elem()).Elem()
			l.decodeValue(ev, e.v, e.key, nil, secret, secrets)
			m.SetMapIndex(reflect.ValueOf(e.key).Convert(v.Type().Key()), ev)
		}
		v.Set(m)
	case reflect.Slice:
		if n.kind != seqNode {
			l.errs.add(n.pos(), "%s must be a list, not %s", what, n.kindName())
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.items), len(n.items))
		for i, it := range n.items {
			l.decodeValue(s.Index(i), it, what, nil, secret, secrets)
		}
		v.Set(s)
	case reflect.String:
		s, ok := n.asString()
		if !ok {
			l.errs.add(n.pos(), "%s must be a string, not %s", what, n.kindName())
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.asBool()
		if !ok {
			l.errs.add(n.pos(), "%s must be true or false, not %s", what, n.kindName())
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, ok := n.asInt()
		if !ok || v.OverflowInt(i) {
			l.errs.add(n.pos(), "%s must be a whole number, not %s", what, n.kindName())
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		i, ok := n.asInt()
		if !ok || i < 0 || v.OverflowUint(uint64(i)) {
			l.errs.add(n.pos(), "%s must be a whole number ≥ 0, not %s", what, n.kindName())
			return
		}
		v.SetUint(uint64(i))
	case reflect.Float32, reflect.Float64:
		f, ok := n.asFloat()
		if !ok {
			l.errs.add(n.pos(), "%s must be a number, not %s", what, n.kindName())
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		v.Set(reflect.ValueOf(n.plain()))
	default:
		l.errs.add(n.pos(), "%s: unsupported setting type %s", what, v.Type())
	}
}

// syntaxError turns a YAML parser error into a positioned Error.
func syntaxError(file string, lines []string, err error) *Error {
	e := &Error{File: file, Pos: Pos{1, 1}, Msg: "invalid YAML: " + err.Error()}
	var se *goyaml.SyntaxError
	if errors.As(err, &se) {
		e.Msg = "invalid YAML: " + se.Message
		if se.Token != nil && se.Token.Position != nil {
			e.Pos = Pos{se.Token.Position.Line, se.Token.Position.Column}
		}
	}
	if e.Pos.Line >= 1 && e.Pos.Line <= len(lines) {
		e.Source = strings.TrimRight(lines[e.Pos.Line-1], "\r")
	}
	return e
}
