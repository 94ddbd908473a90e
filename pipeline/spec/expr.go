package spec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/transforms"
)

func quoteOffset(v *node) int {
	if v.quoted {
		return 1
	}
	return 0
}

// compile compiles the expression in scalar v and reports errors at their
// position in the file.
func (l *loader) compile(v *node, env map[string]any, opts ...transforms.Option) *transforms.Program {
	src, ok := v.asString()
	if !ok {
		l.errs.add(v.pos(), "expected an expression, not %s", v.kindName())
		return nil
	}
	if l.fns != nil {
		opts = append(opts, transforms.WithFunctions(l.fns))
	}
	p, err := transforms.Compile(src, env, opts...)
	if err != nil {
		var te *transforms.Error
		if errors.As(err, &te) {
			pos := v.pos()
			switch {
			case v.literal:
				pos = Pos{Line: v.line + te.Line, Col: te.Column}
			case te.Line > 1:
				pos = Pos{Line: v.line + te.Line - 1, Col: te.Column}
			default:
				pos.Col += te.Column - 1 + quoteOffset(v)
			}
			msg := te.Message
			if te.Suggestion != "" {
				msg += fmt.Sprintf("; did you mean %s?", te.Suggestion)
			}
			l.errs.add(pos, "%s", msg)
		} else {
			l.errs.add(v.pos(), "%v", err)
		}
		return nil
	}
	return p
}

// recordEnv is the compile-time environment of an expression over one
// record of r: its fields with typed zero values, vars, and the views.
func (l *loader) recordEnv(r pipeline.Resource) map[string]any {
	env := protoRecord(r)
	if _, ok := env["record"]; !ok {
		env["record"] = protoRecord(r)
	}
	env["vars"] = l.p.Vars
	if _, field := env["views"]; !field && len(l.p.Views) > 0 {
		env["views"] = l.viewsEnv()
	}
	return env
}

// viewsEnv declares the pipeline's views to expressions, which may ask
// whether a key is in a view's first column (`str(id) in
// views.customers_with_orders`): each by its name without the schema
// (unless two share it) and as "schema.name". The engine fills in the
// sets (see Pipeline.View).
func (l *loader) viewsEnv() map[string]any {
	views := make(map[string]any, 2*len(l.p.Views))
	for _, v := range l.p.Views {
		views[v.Name] = map[string]any{}
		if l.p.View(shortName(v.Name)) == v {
			views[shortName(v.Name)] = map[string]any{}
		}
	}
	return views
}

func shortName(view string) string {
	_, name, _ := strings.Cut(view, ".")
	return name
}

// View returns the view named name: "schema.name", or a name without the
// schema that only one view has; nil if there is none.
func (p *Pipeline) View(name string) *View {
	var found *View
	for _, v := range p.Views {
		switch {
		case v.Name == name:
			return v
		case shortName(v.Name) == name:
			if found != nil {
				return nil // two schemas have it: name the schema
			}
			found = v
		}
	}
	return found
}

func protoRecord(r pipeline.Resource) map[string]any {
	env := make(map[string]any, len(r.Fields)+1)
	for _, f := range r.Fields {
		env[f.Name] = zeroValue(f)
	}
	return env
}

func zeroValue(f pipeline.Field) any {
	switch f.Type {
	case pipeline.TypeString, pipeline.TypeDate, pipeline.TypeTime:
		return ""
	case pipeline.TypeInt:
		return int64(0)
	case pipeline.TypeFloat:
		return float64(0)
	case pipeline.TypeBool:
		return false
	case pipeline.TypeList:
		return []any{}
	case pipeline.TypeObject:
		return map[string]any{}
	}
	return nil
}

func fieldNames(r pipeline.Resource, writable bool) []string {
	var out []string
	for _, f := range r.Fields {
		if !writable || !f.ReadOnly {
			out = append(out, f.Name)
		}
	}
	return out
}

// order sorts entities so that each comes after its needs and after the
