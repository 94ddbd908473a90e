// Package spec loads and validates pipeline YAML files: strict keys with
// suggestions, ${env:…}/${file:…} interpolation, connector settings decoded
// into each connector's config, and every expression compiled against the
// resources' typed fields, so that mistakes fail `synk validate`.
package spec

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// Conflict policies for a field both sides changed since the last sync.
const (
	ConflictNewest = "newest"
	ConflictSkip   = "skip"
)

// Overwrite modes for a flow's target field.
const (
	OverwriteAlways      = "always"
	OverwriteWhenChanged = "when_changed"
	OverwriteIfEmpty     = "if_empty"
	OverwriteNever       = "never"
	OverwriteWhen        = "when"
)

// Delete modes of a flow.
const (
	DeleteOff        = ""
	DeleteDelete     = "delete"
	DeleteDeactivate = "deactivate"
)

// Pipeline is a loaded, validated pipeline.
type Pipeline struct {
	File     string
	Dir      string
	Version  int
	Name     string
	Schedule string
	// State is the state file path from the YAML (resolved against Dir), or "".
	State       string
	Connections []*Connection
	Vars        map[string]any
	// Entities are in an order where every entity comes after its needs.
	Entities []*Entity
	// Secrets are the values of every secret setting, for redaction.
	Secrets []string
	// Views are SQL views synk (re)creates in the state file after every
	// snapshot, in file order: reconciliation queries, counter offsets.
	Views []*View
	// Warnings are problems that do not stop the file from loading (an
	// expression reading a field its system never returns), in file order.
	Warnings Errors
}

// View is one `views:` entry: a DuckDB view over the state file.
type View struct {
	// Name is schema.name; a name without a schema goes into recon.
	Name string
	SQL  string
	Pos  Pos
}

// Counter makes an entity a two-way counter (stock): instead of copying
// values, each side's change since the last sync is added up and both
// sides are set to the sum.
type Counter struct {
	// LeftField and RightField are the counted fields of each side.
	LeftField, RightField string
	// Initial names the side ("left" or "right") whose value both take on
	// a pair's first sync when both sides have a non-zero value.
	Initial string
	// LeftOffset and RightOffset are SQL queries returning (key, units):
	// units that synk's own writes elsewhere moved on that side (stock an
	// invoice drew), added to the side's value so they are not counted
	// twice. Empty means none.
	LeftOffset, RightOffset string
	Pos                     Pos
}

// Connection is one configured connection.
type Connection struct {
	Name      string
	Type      pipeline.ConnectorType
	Config    any
	Limits    pipeline.Limits
	FullEvery int
	Resources map[string]pipeline.Resource
	Pos       Pos
}

// Side is one resource of one connection, e.g. shop.products.
type Side struct {
	Conn     *Connection
	Resource pipeline.Resource
}

// String returns "connection.resource".
func (s Side) String() string { return s.Conn.Name + "." + s.Resource.Name }

// Entity is a pair of resources kept in step by one or more flows.
type Entity struct {
	Name string
	// Left is the first flow's source, Right its target. Links and base
	// rows are stored as (left key, right key).
	Left, Right Side
	// Match rules in order: the `key:` rule first, then `match:`.
	Match    []MatchRule
	Conflict string
	// Tie decides a `conflict: newest` that modification times cannot
	// settle (both on the same Fiken day): a connection name, or skip.
	// Empty: the first flow's source wins.
	Tie   string
	Needs []string
	Flows []*Flow
	// Counter is set for counter entities (stock).
	Counter *Counter
	// Fingerprint changes whenever anything that affects planning changes
	// (mappings, rules, vars), so unchanged records are re-evaluated.
	Fingerprint string
	Pos         Pos
}

// MatchRule pairs records whose rule values are equal and not empty.
type MatchRule struct {
	Left, Right *transforms.Program
}

// Flow moves values from one side of an entity to the other.
type Flow struct {
	Index    int
	From, To Side
	// Reverse is true when the flow goes from Right to Left.
	Reverse bool
	Where   *transforms.Program
	Create  bool
	Update  bool
	Delete  string
	Map     []*Mapping
	// Lookup names mapped target fields to look an unlinked source record
	// up by in the target system (its connector's Finder), before the
	// match rules and before any create: for keys the system filters on but
	// never returns in a listing (Fiken's memberNumberString).
	Lookup []string
	Pos    Pos
}

// Name is "from→to", e.g. "shop.products→fiken.products".
func (f *Flow) Name() string { return f.From.String() + "→" + f.To.String() }

// Mapping is one target field of a flow.
type Mapping struct {
	Field     string
	Type      pipeline.FieldType
	Expr      *transforms.Program
	Overwrite string
	When      *transforms.Program
	Pos       Pos
}

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
	l := &loader{reg: reg, errs: errs, p: &Pipeline{File: path, Dir: filepath.Dir(abs)}}
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

func (l *loader) loadEntities(n *node) {
	if n == nil {
		l.errs.add(Pos{1, 1}, "missing entities:")
		return
	}
	if n.kind != mapNode {
		l.errs.add(n.pos(), "entities must be a mapping of names to entities")
		return
	}
	var all []*Entity
	for _, e := range n.entries {
		l.entityNames = append(l.entityNames, e.key)
	}
	for _, e := range n.entries {
		if ent := l.loadEntity(e); ent != nil {
			all = append(all, ent)
		}
	}
	l.p.Entities = l.order(all)
}

func (l *loader) loadEntity(e entry) *Entity {
	n := e.v
	ent := &Entity{Name: e.key, Pos: e.k.pos(), Conflict: ConflictNewest}
	if n.kind != mapNode {
		l.errs.add(n.pos(), "entity %s must be a mapping with flows", e.key)
		return nil
	}
	l.checkKeys(n, entityKeys, "entity "+e.key)
	if v := n.get("conflict"); v != nil {
		s, _ := v.asString()
		valid := []string{ConflictNewest, ConflictSkip}
		for _, c := range l.conns {
			valid = append(valid, c.Name)
		}
		slices.Sort(valid)
		if !slices.Contains(valid, s) {
			l.errs.add(v.pos(), "unknown conflict policy %q%s", s, didYouMean(s, valid))
		}
		ent.Conflict = s
	}
	if v := n.get("tie"); v != nil {
		s, _ := v.asString()
		valid := []string{ConflictSkip}
		for _, c := range l.conns {
			valid = append(valid, c.Name)
		}
		slices.Sort(valid)
		switch {
		case !slices.Contains(valid, s):
			l.errs.add(v.pos(), "unknown tie rule %q%s", s, didYouMean(s, valid))
		case ent.Conflict != ConflictNewest:
			l.errs.add(v.pos(), "tie decides what conflict: newest cannot; this entity's conflict is %s", ent.Conflict)
		}
		ent.Tie = s
	}
	if v := n.get("needs"); v != nil {
		ent.Needs = l.stringList(v, "needs")
	}
	flows := n.get("flows")
	if flows == nil || flows.kind != seqNode || len(flows.items) == 0 {
		l.errs.add(e.k.pos(), "entity %s needs flows: a list of at least one flow", e.key)
		return nil
	}
	counter := n.get("counter")
	for i, fn := range flows.items {
		if f := l.loadFlow(ent, i, fn, counter != nil); f != nil {
			ent.Flows = append(ent.Flows, f)
		}
	}
	if len(ent.Flows) == 0 {
		return nil
	}
	l.loadMatch(ent, n.get("key"), n.get("match"))
	if counter != nil {
		l.loadCounter(ent, counter)
	}
	ent.Fingerprint = fingerprint(ent, l.p.Vars)
	return ent
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

func (l *loader) side(v *node, what string) (Side, bool) {
	if v == nil {
		return Side{}, false
	}
	s, _ := v.value.(string)
	conn, res, ok := strings.Cut(s, ".")
	if !ok {
		l.errs.add(v.pos(), "%s must be connection.resource, e.g. shop.products", what)
		return Side{}, false
	}
	c, ok := l.conns[conn]
	if !ok {
		names := make([]string, 0, len(l.conns))
		for n := range l.conns {
			names = append(names, n)
		}
		slices.Sort(names)
		l.errs.add(v.pos(), "unknown connection %q%s", conn, didYouMean(conn, names))
		return Side{}, false
	}
	r, ok := c.Resources[res]
	if !ok {
		names := make([]string, 0, len(c.Resources))
		for n := range c.Resources {
			names = append(names, n)
		}
		slices.Sort(names)
		l.errs.add(Pos{v.line, v.col + len(conn) + 1 + quoteOffset(v)}, "connection %s (%s) has no resource %q%s", conn, c.Type.Name, res, didYouMean(res, names))
		return Side{}, false
	}
	return Side{Conn: c, Resource: r}, true
}

func quoteOffset(v *node) int {
	if v.quoted {
		return 1
	}
	return 0
}

// loadCounter reads an entity's counter: block:
//
//	counter:
//	  fields: {shop: quantity, fiken: stock}
//	  initial: shop
//	  offsets: {fiken: "SELECT key, units FROM …"}
func (l *loader) loadCounter(ent *Entity, n *node) {
	if n.kind != mapNode {
		l.errs.add(n.pos(), "counter must be a mapping with fields:, initial: and optionally offsets:")
		return
	}
	l.checkKeys(n, counterKeys, "counter")
	c := &Counter{Pos: n.pos()}
	sideOf := func(k *node, key string) (string, bool) {
		switch key {
		case ent.Left.String():
			return "left", true
		case ent.Right.String():
			return "right", true
		case ent.Left.Conn.Name, ent.Right.Conn.Name:
			if ent.Left.Conn == ent.Right.Conn {
				l.errs.add(k.pos(), "both sides use connection %s: name the side as connection.resource", key)
				return "", false
			}
			if key == ent.Left.Conn.Name {
				return "left", true
			}
			return "right", true
		}
		l.errs.add(k.pos(), "counter side %q is neither %s nor %s", key, ent.Left, ent.Right)
		return "", false
	}
	fields := n.get("fields")
	if fields == nil || fields.kind != mapNode {
		l.errs.add(n.pos(), "counter needs fields: {%s: FIELD, %s: FIELD}", ent.Left.Conn.Name, ent.Right.Conn.Name)
		return
	}
	for _, e := range fields.entries {
		side, ok := sideOf(e.k, e.key)
		if !ok {
			continue
		}
		res := ent.Left.Resource
		if side == "right" {
			res = ent.Right.Resource
		}
		name, _ := e.v.asString()
		fld, ok := res.Field(name)
		switch {
		case !ok:
			l.errs.add(e.v.pos(), "%s has no field %q%s", res.Name, name, didYouMean(name, fieldNames(res, false)))
			continue
		case fld.Type != pipeline.TypeInt && fld.Type != pipeline.TypeFloat:
			l.errs.add(e.v.pos(), "counter field %s.%s must be a number, not %s", res.Name, name, fld.Type)
			continue
		case fld.ReadOnly:
			l.errs.add(e.v.pos(), "counter field %s.%s is read-only; synk could not set it", res.Name, name)
			continue
		}
		if side == "left" {
			c.LeftField = name
		} else {
			c.RightField = name
		}
	}
	if c.LeftField == "" || c.RightField == "" {
		if len(l.errs.errs) == 0 {
			l.errs.add(fields.pos(), "counter fields: needs both sides, %s and %s", ent.Left.Conn.Name, ent.Right.Conn.Name)
		}
		return
	}
	c.Initial = "left"
	if v := n.get("initial"); v != nil {
		s, _ := v.asString()
		if side, ok := sideOf(v, s); ok {
			c.Initial = side
		}
	}
	if o := n.get("offsets"); o != nil {
		if o.kind != mapNode {
			l.errs.add(o.pos(), "offsets must map a side to an SQL query returning (key, units)")
		} else {
			for _, e := range o.entries {
				side, ok := sideOf(e.k, e.key)
				if !ok {
					continue
				}
				q, _ := e.v.asString()
				if side == "left" {
					c.LeftOffset = q
				} else {
					c.RightOffset = q
				}
			}
		}
	}
	dirs := map[bool]bool{}
	for _, f := range ent.Flows {
		dirs[f.Reverse] = true
		if f.Create || f.Delete != DeleteOff {
			l.errs.add(f.Pos, "a counter entity only sets counts of linked records: no create or delete here (let another entity create the records)")
		}
	}
	if !dirs[false] || !dirs[true] {
		l.errs.add(ent.Pos, "counter entity %s needs a flow each way (%s → %s and back)", ent.Name, ent.Left, ent.Right)
	}
	ent.Counter = c
}

func (l *loader) loadFlow(ent *Entity, i int, n *node, counter bool) *Flow {
	if n.kind != mapNode {
		l.errs.add(n.pos(), "a flow is a mapping with from, to and map")
		return nil
	}
	l.checkKeys(n, flowKeys, "flow")
	from, ok1 := l.side(n.get("from"), "from")
	to, ok2 := l.side(n.get("to"), "to")
	if n.get("from") == nil || n.get("to") == nil {
		l.errs.add(n.pos(), "a flow needs from: and to:")
	}
	if !ok1 || !ok2 {
		return nil
	}
	f := &Flow{Index: i, From: from, To: to, Pos: n.pos()}
	if ent.Left.Conn == nil {
		ent.Left, ent.Right = from, to
	} else {
		switch {
		case from.String() == ent.Left.String() && to.String() == ent.Right.String():
		case from.String() == ent.Right.String() && to.String() == ent.Left.String():
			f.Reverse = true
		default:
			l.errs.add(n.pos(), "every flow of entity %s must go between %s and %s (either way)", ent.Name, ent.Left, ent.Right)
			return nil
		}
	}
	f.Create = l.boolean(n, "create", false)
	f.Update = l.boolean(n, "update", true)
	if v := n.get("delete"); v != nil {
		switch s, _ := v.asString(); s {
		case "true":
			f.Delete = DeleteDelete
		case "false":
		case DeleteDeactivate:
			if to.Resource.ActiveField == "" {
				l.errs.add(v.pos(), "%s has no active field to clear; use delete: true", to)
			}
			f.Delete = DeleteDeactivate
		default:
			l.errs.add(v.pos(), "delete must be true, false or deactivate")
		}
	}
	if f.Create && !to.Resource.Create {
		l.errs.add(n.get("create").pos(), "%s does not accept creates", to)
	}
	if f.Update && !to.Resource.Update && n.get("update") != nil {
		l.errs.add(n.get("update").pos(), "%s does not accept updates", to)
	}
	if f.Update && !to.Resource.Update {
		f.Update = false
	}
	if f.Delete == DeleteDelete && !to.Resource.Delete {
		l.errs.add(n.get("delete").pos(), "%s does not accept deletes", to)
	}
	env := l.recordEnv(from.Resource)
	if v := n.get("where"); v != nil {
		f.Where = l.compile(v, env, transforms.ExpectBool())
		l.warnWriteOnly(v, f.Where, from)
	}
	m := n.get("map")
	if counter {
		if m != nil {
			l.errs.add(m.pos(), "a counter entity's flows have no map: the counter's fields are what they move")
		}
		return f
	}
	if m == nil || m.kind != mapNode || len(m.entries) == 0 {
		l.errs.add(n.pos(), "a flow needs map: target field → expression")
		return nil
	}
	valid := fieldNames(to.Resource, true)
	for _, e := range m.entries {
		fld, ok := to.Resource.Field(e.key)
		if !ok {
			l.errs.add(e.k.pos(), "%s has no field %q%s", to, e.key, didYouMean(e.key, valid))
			continue
		}
		if fld.ReadOnly {
			l.errs.add(e.k.pos(), "%s.%s is read-only; it cannot be written", to, e.key)
			continue
		}
		mp := &Mapping{Field: e.key, Type: fld.Type, Overwrite: OverwriteWhenChanged, Pos: e.k.pos()}
		mp.Expr = l.compile(e.v, env, transforms.Entities(l.entityNames...))
		l.warnWriteOnly(e.v, mp.Expr, from)
		f.Map = append(f.Map, mp)
	}
	if ow := n.get("overwrite"); ow != nil {
		l.loadOverwrite(f, ow, from)
	}
	if v := n.get("lookup"); v != nil {
		l.loadLookup(f, v)
	}
	return f
}

// loadLookup reads a flow's lookup: the mapped target fields to find an
// existing target record by before creating one.
func (l *loader) loadLookup(f *Flow, v *node) {
	names := l.stringList(v, "lookup")
	if len(names) == 0 {
		l.errs.add(v.pos(), "lookup must list mapped target fields, e.g. lookup: [memberNumberString]")
		return
	}
	if !f.Create {
		l.errs.add(v.pos(), "lookup finds a record instead of creating it; it needs create: true")
	}
	var mapped []string
	for _, m := range f.Map {
		mapped = append(mapped, m.Field)
	}
	for _, name := range names {
		if !slices.Contains(mapped, name) {
			l.errs.add(v.pos(), "lookup names %q, which this flow does not map%s", name, didYouMean(name, mapped))
		}
	}
	f.Lookup = names
}

// warnWriteOnly warns when an expression over side s reads a field its
// system never returns: it always sees an empty value.
func (l *loader) warnWriteOnly(v *node, p *transforms.Program, s Side) {
	for _, name := range writeOnlyReads(p, s.Resource) {
		l.errs.warn(v.pos(), "%s never returns %s (it is write-only), so this expression always reads it as empty", s, name)
	}
}

func writeOnlyReads(p *transforms.Program, r pipeline.Resource) []string {
	if p == nil {
		return nil
	}
	var out []string
	for _, name := range p.Names() {
		if f, ok := r.Field(name); ok && f.WriteOnly {
			out = append(out, name)
		}
	}
	return out
}

func (l *loader) loadOverwrite(f *Flow, ow *node, from Side) {
	if ow.kind != mapNode {
		l.errs.add(ow.pos(), "overwrite must map target fields to always, when_changed, if_empty, never or {when: expr}")
		return
	}
	modes := []string{OverwriteAlways, OverwriteWhenChanged, OverwriteIfEmpty, OverwriteNever}
	var mapped []string
	for _, m := range f.Map {
		mapped = append(mapped, m.Field)
	}
	entries := ow.entries
	// "*" sets the rule of every field the other entries do not name.
	if i := slices.IndexFunc(entries, func(e entry) bool { return e.key == "*" }); i >= 0 {
		star := entries[i]
		entries = append(slices.Clone(entries[:i]), entries[i+1:]...)
		for _, m := range f.Map {
			if !slices.ContainsFunc(entries, func(e entry) bool { return e.key == m.Field }) {
				entries = append(entries, entry{key: m.Field, k: star.k, v: star.v})
			}
		}
	}
	for _, e := range entries {
		idx := slices.IndexFunc(f.Map, func(m *Mapping) bool { return m.Field == e.key })
		if idx < 0 {
			l.errs.add(e.k.pos(), "overwrite names %q, which this flow does not map%s", e.key, didYouMean(e.key, mapped))
			continue
		}
		mp := f.Map[idx]
		if e.v.kind == mapNode {
			l.checkKeys(e.v, []string{"when"}, "overwrite rule")
			w := e.v.get("when")
			if w == nil {
				l.errs.add(e.v.pos(), "an overwrite rule mapping needs when: <expression>")
				continue
			}
			zero := zeroValue(pipeline.Field{Type: mp.Type})
			env := map[string]any{"source": zero, "target": zero, "base": zero, "vars": l.p.Vars,
				"record": protoRecord(from.Resource), "target_record": protoRecord(f.To.Resource)}
			mp.Overwrite = OverwriteWhen
			mp.When = l.compile(w, env, transforms.ExpectBool())
			continue
		}
		s, _ := e.v.asString()
		if !slices.Contains(modes, s) {
			l.errs.add(e.v.pos(), "unknown overwrite rule %q%s", s, didYouMean(s, append(modes, "{when: …}")))
			continue
		}
		mp.Overwrite = s
	}
}

func (l *loader) loadMatch(ent *Entity, key, match *node) {
	var rules []*node
	if key != nil {
		rules = append(rules, key)
	}
	if match != nil {
		if match.kind != seqNode {
			l.errs.add(match.pos(), "match must be a list of rules like {shop: email, fiken: email}")
		} else {
			rules = append(rules, match.items...)
		}
	}
	for _, r := range rules {
		if r.kind != mapNode {
			l.errs.add(r.pos(), "a match rule maps each side to a field or expression, e.g. {shop: reference, fiken: productNumber}")
			continue
		}
		var mr MatchRule
		for _, e := range r.entries {
			var side Side
			switch e.key {
			case ent.Left.Conn.Name, ent.Left.String():
				side = ent.Left
			case ent.Right.Conn.Name, ent.Right.String():
				side = ent.Right
			default:
				l.errs.add(e.k.pos(), "match side %q is neither %s nor %s", e.key, ent.Left, ent.Right)
				continue
			}
			if ent.Left.Conn == ent.Right.Conn && e.key == side.Conn.Name {
				l.errs.add(e.k.pos(), "both sides use connection %s: name the side as connection.resource", e.key)
				continue
			}
			prog := l.compile(e.v, l.recordEnv(side.Resource))
			if names := writeOnlyReads(prog, side.Resource); len(names) > 0 {
				l.errs.add(e.v.pos(), "%s never returns %s (it is write-only), so this rule can never pair records; look records up by it with lookup: on the flow that creates them",
					side, strings.Join(names, ", "))
				continue
			}
			if side.String() == ent.Left.String() && (e.key == ent.Left.Conn.Name || e.key == ent.Left.String()) {
				mr.Left = prog
			} else {
				mr.Right = prog
			}
		}
		if mr.Left == nil || mr.Right == nil {
			if len(l.errs.errs) == 0 {
				l.errs.add(r.pos(), "a match rule needs both sides: %s and %s", ent.Left.Conn.Name, ent.Right.Conn.Name)
			}
			continue
		}
		ent.Match = append(ent.Match, mr)
	}
}

// compile compiles the expression in scalar v and reports errors at their
// position in the file.
func (l *loader) compile(v *node, env map[string]any, opts ...transforms.Option) *transforms.Program {
	src, ok := v.asString()
	if !ok {
		l.errs.add(v.pos(), "expected an expression, not %s", v.kindName())
		return nil
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
// record of r: its fields with typed zero values, and vars.
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
// views.customers_with_orders`): a view in recon by its short name, one
// in another schema as "schema.name". The engine fills in the sets.
func (l *loader) viewsEnv() map[string]any {
	views := make(map[string]any, len(l.p.Views))
	for _, v := range l.p.Views {
		views[strings.TrimPrefix(v.Name, "recon.")] = map[string]any{}
	}
	return views
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
// entities its link() calls name; unknown needs and cycles are errors.
func (l *loader) order(all []*Entity) []*Entity {
	byName := map[string]*Entity{}
	for _, e := range all {
		byName[e.Name] = e
	}
	deps := map[string][]string{}
	for _, e := range all {
		d := slices.Clone(e.Needs)
		for _, n := range e.Needs {
			if _, ok := byName[n]; !ok {
				names := make([]string, 0, len(byName))
				for k := range byName {
					names = append(names, k)
				}
				slices.Sort(names)
				l.errs.add(e.Pos, "entity %s needs unknown entity %q%s", e.Name, n, didYouMean(n, names))
			}
		}
		for _, f := range e.Flows {
			for _, m := range f.Map {
				if m.Expr == nil {
					continue
				}
				for _, target := range m.Expr.Links() {
					if _, ok := byName[target]; !ok {
						l.errs.add(m.Pos, "link(%q, …) names no entity", target)
					} else if target != e.Name && !slices.Contains(d, target) {
						d = append(d, target)
					}
				}
			}
		}
		deps[e.Name] = d
	}
	var out []*Entity
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(e *Entity, path []string)
	visit = func(e *Entity, path []string) {
		switch state[e.Name] {
		case 2:
			return
		case 1:
			l.errs.add(e.Pos, "entities depend on each other in a cycle: %s", strings.Join(append(path, e.Name), " → "))
			return
		}
		state[e.Name] = 1
		for _, d := range deps[e.Name] {
			if de, ok := byName[d]; ok {
				visit(de, append(path, e.Name))
			}
		}
		state[e.Name] = 2
		out = append(out, e)
	}
	for _, e := range all {
		visit(e, nil)
	}
	for _, e := range out {
		e.Needs = deps[e.Name]
	}
	return out
}

// fingerprint hashes what decides an entity's plan besides the data.
func fingerprint(e *Entity, vars map[string]any) string {
	h := sha256.New()
	fmt.Fprintln(h, e.Left, e.Right, e.Conflict, e.Tie)
	for _, m := range e.Match {
		fmt.Fprintln(h, "match", m.Left.Source(), m.Right.Source())
	}
	if c := e.Counter; c != nil {
		fmt.Fprintln(h, "counter", c.LeftField, c.RightField, c.Initial, c.LeftOffset, c.RightOffset)
	}
	for _, f := range e.Flows {
		fmt.Fprintln(h, "flow", f.Name(), f.Create, f.Update, f.Delete)
		if f.Where != nil {
			fmt.Fprintln(h, "where", f.Where.Source())
		}
		for _, m := range f.Map {
			if m.Expr == nil {
				continue
			}
			fmt.Fprintln(h, m.Field, m.Expr.Source(), m.Overwrite)
			if m.When != nil {
				fmt.Fprintln(h, m.When.Source())
			}
		}
	}
	vb, _ := json.Marshal(vars)
	h.Write(vb)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Connection returns the named connection.
func (p *Pipeline) Connection(name string) *Connection {
	for _, c := range p.Connections {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Entity returns the named entity.
func (p *Pipeline) Entity(name string) *Entity {
	for _, e := range p.Entities {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// Redact replaces every secret value in s with "[redacted]".
func (p *Pipeline) Redact(s string) string {
	secrets := slices.Clone(p.Secrets)
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
