package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/parser"

	"github.com/synk-etl/synk/pipeline"
	"github.com/synk-etl/synk/transforms"
)

// Options change how a file is loaded.
type Options struct {
	// Getenv looks up environment variables; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Offline loads a file for commands that only read the state file
	// (reconcile): a ${env:…} or ${file:…} that cannot be resolved becomes
	// empty instead of an error and connection settings are not validated,
	// so an analyst needs none of the connections' secrets. Such a Pipeline
	// must not be used to open connections.
	Offline bool
	// Functions are the functions expressions may call; nil means the
	// core set (transforms.NewFunctions). The CLI passes the environment
	// main built, with the accounting set registered.
	Functions *transforms.Functions
}

var topKeys = []string{"version", "name", "schedule", "state", "connections", "vars", "views", "entities"}
var entityKeys = []string{"key", "match", "conflict", "tie", "needs", "counter", "flows"}
var counterKeys = []string{"fields", "initial", "offsets"}
var flowKeys = []string{"from", "to", "where", "create", "update", "delete", "map", "overwrite", "lookup"}
var connectionKeys = []string{"type", "concurrency", "rate", "full_every"}

// Load reads, decodes and validates a pipeline file. Its error is Errors
// (every problem, positioned) or a plain error when the file is unreadable.
func Load(path string, reg *pipeline.Registry, opts Options) (*Pipeline, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read pipeline: %w", err)
	}
	return Parse(path, src, reg, opts)
}

// Parse is Load for a file already in memory.
func Parse(path string, src []byte, reg *pipeline.Registry, opts Options) (*Pipeline, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	errs := &errorList{file: path, lines: strings.Split(string(src), "\n")}
	l := &loader{reg: reg, fns: opts.Functions, errs: errs, p: &Pipeline{File: path, Dir: filepath.Dir(abs)}}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	f, perr := parser.ParseBytes(src, 0)
	if perr != nil {
		errs.errs = append(errs.errs, syntaxError(path, errs.lines, perr))
		return nil, errs.err()
	}
	if len(f.Docs) != 1 {
		errs.add(Pos{1, 1}, "a pipeline file holds exactly one YAML document, found %d", len(f.Docs))
		return nil, errs.err()
	}
	c := &converter{dir: l.p.Dir, errs: errs, getenv: getenv, offline: opts.Offline}
	l.offline = opts.Offline
	root := c.convert(f.Docs[0])
	l.load(root)
	if err := errs.err(); err != nil {
		return nil, err
	}
	l.p.Warnings = errs.warns
	return l.p, nil
}

type loader struct {
	reg  *pipeline.Registry
	fns  *transforms.Functions
	errs *errorList
	p    *Pipeline
	// conns by name, for flow references.
	conns map[string]*Connection
	// entityNames are every entity's name, for checking link() calls.
	entityNames []string
	// offline is Options.Offline.
	offline bool
}

func (l *loader) load(root *node) {
	if root.kind != mapNode {
		l.errs.add(root.pos(), "a pipeline is a mapping with keys %s", strings.Join(topKeys, ", "))
		return
	}
	l.checkKeys(root, topKeys, "pipeline")
	if v := root.get("version"); v == nil {
		l.errs.add(root.pos(), "missing version: (this synk reads version: 1)")
	} else if i, ok := v.asInt(); !ok || i != 1 {
		l.errs.add(v.pos(), "unsupported version %v: this synk reads version: 1", v.value)
	} else {
		l.p.Version = 1
	}
	l.p.Name = l.str(root, "name", true)
	l.p.Schedule = l.str(root, "schedule", false)
	if st := l.str(root, "state", false); st != "" {
		if !filepath.IsAbs(st) {
			st = filepath.Join(l.p.Dir, st)
		}
		l.p.State = st
	}
	l.p.Vars = map[string]any{}
	if v := root.get("vars"); v != nil {
		if v.kind != mapNode {
			l.errs.add(v.pos(), "vars must be a mapping of names to values, not %s", v.kindName())
		} else {
			l.p.Vars = v.plain().(map[string]any)
		}
	}
	l.loadConnections(root.get("connections"))
	// Views first: expressions may read them (views.NAME).
	l.loadViews(root.get("views"))
	l.loadEntities(root.get("entities"))
}

func (l *loader) loadViews(n *node) {
	if n == nil {
		return
	}
	if n.kind != mapNode {
		l.errs.add(n.pos(), "views must map view names to SQL queries")
		return
	}
	for _, e := range n.entries {
		name := e.key
		if !strings.Contains(name, ".") {
			name = "recon." + name
		}
		schema, base, _ := strings.Cut(name, ".")
		if !identRE.MatchString(schema) || !identRE.MatchString(base) {
			l.errs.add(e.k.pos(), "view name %q must be name or schema.name (letters, digits, _)", e.key)
			continue
		}
		if schema == "synk" || l.conns[schema] != nil {
			l.errs.add(e.k.pos(), "view %q: schema %s belongs to synk's own tables; use recon or another name", e.key, schema)
			continue
		}
		sql, ok := e.v.asString()
		if !ok || e.v.kind != scalarNode || strings.TrimSpace(sql) == "" {
			l.errs.add(e.v.pos(), "view %s must be an SQL query (a string)", e.key)
			continue
		}
		l.p.Views = append(l.p.Views, &View{Name: name, SQL: sql, Pos: e.v.pos()})
	}
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (l *loader) checkKeys(n *node, valid []string, what string) {
	for _, e := range n.entries {
		if !slices.Contains(valid, e.key) {
			l.errs.add(e.k.pos(), "unknown key %q in %s%s", e.key, what, didYouMean(e.key, valid))
		}
	}
}

func (l *loader) str(n *node, key string, required bool) string {
	v := n.get(key)
	if v == nil {
		if required {
			l.errs.add(n.pos(), "missing %s:", key)
		}
		return ""
	}
	s, ok := v.value.(string)
	if v.kind != scalarNode || !ok {
		if sv, ok2 := v.asString(); ok2 && v.kind == scalarNode {
			return sv
		}
		l.errs.add(v.pos(), "%s must be a string, not %s", key, v.kindName())
		return ""
	}
	return s
}

func (l *loader) boolean(n *node, key string, def bool) bool {
	v := n.get(key)
	if v == nil {
		return def
	}
	b, ok := v.asBool()
	if !ok {
		l.errs.add(v.pos(), "%s must be true or false, not %s", key, v.kindName())
	}
	return b
}

func (l *loader) loadConnections(n *node) {
	l.conns = map[string]*Connection{}
	if n == nil {
		l.errs.add(Pos{1, 1}, "missing connections:")
		return
	}
	if n.kind != mapNode {
		l.errs.add(n.pos(), "connections must be a mapping of names to settings")
		return
	}
	for _, e := range n.entries {
		if c := l.loadConnection(e); c != nil {
			l.conns[c.Name] = c
			l.p.Connections = append(l.p.Connections, c)
		}
	}
}

func (l *loader) loadConnection(e entry) *Connection {
	n := e.v
	if n.kind != mapNode {
		l.errs.add(n.pos(), "connection %s must be a mapping with a type", e.key)
		return nil
	}
	typeName := l.str(n, "type", false)
	if typeName == "" {
		l.errs.add(e.k.pos(), "connection %s has no type (one of %s)", e.key, strings.Join(l.reg.Names(), ", "))
		return nil
	}
	ct, ok := l.reg.Lookup(typeName)
	if !ok {
		l.errs.add(n.get("type").pos(), "unknown connection type %q%s", typeName, didYouMean(typeName, l.reg.Names()))
		return nil
	}
	c := &Connection{Name: e.key, Type: ct, Limits: ct.DefaultLimits, Pos: e.k.pos()}
	if v := n.get("concurrency"); v != nil {
		if i, ok := v.asInt(); ok && i >= 1 {
			c.Limits.MaxInFlight = int(i)
		} else {
			l.errs.add(v.pos(), "concurrency must be a whole number ≥ 1")
		}
	}
	if v := n.get("rate"); v != nil {
		if f, ok := v.asFloat(); ok && f >= 0 {
			c.Limits.Rate = f
		} else {
			l.errs.add(v.pos(), "rate must be a number of requests per second ≥ 0 (0 = unlimited)")
		}
	}
	if v := n.get("full_every"); v != nil {
		if i, ok := v.asInt(); ok && i >= 0 {
			c.FullEvery = int(i)
		} else {
			l.errs.add(v.pos(), "full_every must be a whole number of runs ≥ 0")
		}
	}
	settings := &node{kind: mapNode, line: n.line, col: n.col}
	for _, se := range n.entries {
		if !slices.Contains(connectionKeys, se.key) {
			settings.entries = append(settings.entries, se)
		}
	}
	cfg, secrets := l.decodeConfig(ct, settings, "connection "+e.key, connectionKeys)
	if cfg == nil {
		return nil
	}
	c.Config = cfg
	l.p.Secrets = append(l.p.Secrets, secrets...)
	res, err := ct.Resources(cfg)
	if err != nil {
		l.errs.add(e.k.pos(), "connection %s: %v", e.key, err)
		return nil
	}
	c.Resources = make(map[string]pipeline.Resource, len(res))
	for _, r := range res {
		c.Resources[r.Name] = r
	}
	return c
}

func (l *loader) stringList(v *node, what string) []string {
	if v.kind == scalarNode {
		if s, ok := v.value.(string); ok {
			return []string{s}
		}
	}
	if v.kind != seqNode {
		l.errs.add(v.pos(), "%s must be a list of names", what)
		return nil
	}
	var out []string
	for _, it := range v.items {
		s, ok := it.value.(string)
		if !ok || it.kind != scalarNode {
			l.errs.add(it.pos(), "%s entries must be names", what)
			continue
		}
		out = append(out, s)
	}
	return out
}
