// Package spec loads and validates pipeline YAML files: strict keys with
// suggestions, ${env:…}/${file:…} interpolation, connector settings decoded
// into each connector's config, and every expression compiled against the
// resources' typed fields, so that mistakes fail `synk validate`.
package spec

import (
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
