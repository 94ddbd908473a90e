package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"
)

// FieldType is the type of a resource field, as a connector declares it. It
// decides the DuckDB column type and how expressions are type-checked.
type FieldType string

// Field types a connector can declare.
const (
	TypeString FieldType = "string"
	TypeInt    FieldType = "int"
	TypeFloat  FieldType = "float"
	TypeBool   FieldType = "bool"
	TypeDate   FieldType = "date" // "2006-01-02" strings in records
	TypeTime   FieldType = "time" // RFC 3339 strings in records
	TypeList   FieldType = "list" // []any; with Fields, a list of objects (a child table)
	TypeObject FieldType = "object"
	TypeAny    FieldType = "any"
)

// Field describes one field of a resource.
type Field struct {
	Name string
	Type FieldType
	// ReadOnly fields are read but never written by a sink; a flow mapping
	// into one is a validation error.
	ReadOnly bool
	// WriteOnly fields are accepted in writes but never returned by reads
	// (Fiken's writeOnly properties, PrestaShop's hidden fields). A snapshot
	// never holds them, so the engine compares them with the value synk last
	// wrote, hands that value to the sink in Write.Known, and `synk validate`
	// warns about an expression that reads one.
	WriteOnly bool
	// Fields are the element fields of a TypeList of objects, or the members
	// of a TypeObject. Lists of objects become child tables in the state file.
	Fields []Field
}

// Resource is one kind of record a connector reads or writes.
type Resource struct {
	Name string
	// Key is the field that identifies a record on this side (e.g. "id").
	Key    string
	Fields []Field
	// Incremental resources honour ReadQuery.Since.
	Incremental bool
	// Create, Update and Delete say which writes the connector's Sink accepts.
	Create, Update, Delete bool
	// ActiveField, when set, is the boolean field a `delete: deactivate` flow clears.
	ActiveField string
	// ModifiedField, when set, is the field holding the record's last
	// modification time as the system reports it; `conflict: newest`
	// compares it. Empty: the resource has none.
	ModifiedField string
	// ModifiedPrecision is how finely ModifiedField tells time: 0 for a
	// second or finer, 24h for a date only (Fiken's lastModifiedDate).
	// Newest compares two sides at the coarser of their precisions.
	ModifiedPrecision time.Duration
	// ModifiedZone is the IANA time zone of ModifiedField values written
	// without one (a shop's local date_upd, a date); empty means UTC.
	ModifiedZone string
}

// Field returns the named field.
func (r Resource) Field(name string) (Field, bool) {
	for _, f := range r.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Record is one record as plain values: string, int64, float64, bool, nil,
// []any and map[string]any. Dates and times are strings.
type Record map[string]any

// Connector is an opened connection to one system. What it can do is found
// by type assertion: Source, Sink, BatchSink, Finder, Checker, io.Closer.
type Connector interface{}

// ReadQuery says what a Source should read.
type ReadQuery struct {
	// Since, when not zero, asks for records changed at or after it. A source
	// whose resource is not Incremental reads everything.
	Since time.Time
}

// Emitter receives what a Source reads. An error from either method ends the
// read; the source returns it.
type Emitter interface {
	// Emit hands over one record.
	Emit(rec Record) error
	// Reject reports one record the connector could not decode; the engine
	// stores it in synk.rejects and the read goes on.
	Reject(key string, raw []byte, reason error) error
}

// Source reads the records of a resource.
type Source interface {
	Read(ctx context.Context, resource string, q ReadQuery, out Emitter) error
}

// Write is one write the engine asks a Sink to make.
type Write struct {
	Resource string
	// Key is the target record's key; empty for a create.
	Key string
	// IdempotencyKey is stable across runs for the same logical create
	// (entity, flow, source key). Connectors store it where Find can look it
	// up (an order reference, a draft uuid, a natural key).
	IdempotencyKey string
	// Current is the target record as last read (nil for a create). Sinks
	// that must PUT whole records merge Set into it.
	Current Record
	// Set holds the fields to write: every mapped field on create, only the
	// changed ones on update.
	Set Record
	// Known holds, for the target's WriteOnly fields that the flow maps and
	// Set leaves out, the value synk last wrote (else the mapped value).
	// Current never has them, so a sink that replaces whole records sends
	// Known with Set on top; a write that would replace a WriteOnly field
	// found in neither must be refused with a *RecordError naming the field,
	// never sent without it (that would erase what a person typed).
	Known Record
	// Fresh reports that Current was read from the system just now, with
	// the connector's Getter, for this write (a counter write reads the
	// record to fold in a change made since the snapshot). A sink that
	// reads a record fresh before replacing it whole may use Current
	// instead of reading it again.
	Fresh bool
}

// Sink writes records. Create returns the created record, at least with the
// resource's key field set. A sink that does not read the record back may
// return what it sent: a field whose value the system assigns or derives
// (a number, a date, an amount) and the sink does not know is then absent
// from the record, not nil, and the engine reads the record with the
// connector's Getter when a flow back from it reads such a field. Update
// returns the record as far as the sink knows it; the engine does not use
// it.
type Sink interface {
	Create(ctx context.Context, w Write) (Record, error)
	Update(ctx context.Context, w Write) (Record, error)
	Delete(ctx context.Context, w Write) error
}

// BatchSink is the optional Sink capability of making many writes to one
// resource at once: the file connector rewrites its file once per batch
// instead of once per record. The engine hands a BatchSink its writes in
// batches of at most MaxBatch, still journaling every create before the
// batch is sent and settling each one on its own afterwards, so a create
// stays exactly-once per record. Connectors whose systems take one record
// per request (Fiken, PrestaShop) do not implement it.
type BatchSink interface {
	// MaxBatch is how many writes one WriteBatch call may carry (> 0).
	MaxBatch() int
	// WriteBatch makes ops, all on resource, and returns one result per op
	// in order. A non-nil error means the batch as a whole failed and it
	// is not known which writes were made (the engine then asks Finder for
	// each create, as after a lost answer); with a nil error every op's
	// own outcome is in its result.
	WriteBatch(ctx context.Context, resource string, ops []Op) ([]OpResult, error)
}

// Op is one write of a batch.
type Op struct {
	// Action is Create, Update or Delete.
	Action Action
	Write  Write
}

// OpResult is the outcome of one Op.
type OpResult struct {
	// Record is what Create or Update would have returned; nil for a
	// delete and for a failed op.
	Record Record
	// Err is this op's own failure, nil when it was made: a *RecordError
	// for a record the system refused, which the engine rejects.
	Err error
}

// Finder is the optional Sink capability that makes creates exactly-once:
// before a create whose earlier attempt may have reached the system (a
// journal intent left unresolved by a crash or a lost response), the engine
// asks Find whether the record exists. found=false means it is safe to create.
type Finder interface {
	Find(ctx context.Context, w Write) (rec Record, found bool, err error)
}

// Refuser is the optional Sink capability that names, before any request,
// an update the sink would refuse whatever the system answers: one that
// would replace a WriteOnly field synk never knew (see Write.Known). The
// engine asks at plan time, so such a pair is a reject in the plan, not a
// change that fails in every run. RefuseUpdate returns the *RecordError
// Update would return, or nil.
type Refuser interface {
	RefuseUpdate(w Write) error
}

// Getter is the optional Source capability that reads one record fresh, as
// Read would emit it. Counter entities read the record just before writing,
// so a change made since the snapshot is folded into the value written.
type Getter interface {
	Get(ctx context.Context, resource, key string) (rec Record, found bool, err error)
}

// Checker is the optional capability behind `synk check`: online checks with
// one result per line.
type Checker interface {
	Check(ctx context.Context) []CheckResult
}

// CheckResult is one line of `synk check`.
type CheckResult struct {
	Name string
	OK   bool
	// Detail explains a failure or adds context to a success; never a secret.
	Detail string
	// Warning marks a check that did not pass but need not fail the
	// command: what it found may well be right (a payment module nobody
	// has paid with yet), so it is shown, not counted.
	Warning bool
	// Skipped marks a check that did not run because the settings make it
	// moot; Detail says why.
	Skipped bool
}

// RecordError is returned by a Sink when the system refused one record for a
// reason a retry cannot fix (validation); the engine rejects that change
// with the reason and goes on.
type RecordError struct {
	Resource string
	Key      string
	Err      error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Resource, e.Key, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// Limits are a connection's write and request limits.
type Limits struct {
	// MaxInFlight is how many requests may run at once (0 = unlimited).
	MaxInFlight int
	// Rate is requests per second (0 = unlimited); Burst defaults to 1.
	Rate  float64
	Burst int
}

// Env is what the engine gives a connector when it opens a connection.
type Env struct {
	// Connection is the connection's name in the pipeline (e.g. "shop").
	Connection string
	// Limiter is shared by everything that uses this connection. HTTP
	// connectors get it for free through HTTP; others call Limiter.Do.
	Limiter *Limiter
	// HTTP is a client whose transport waits on Limiter, retries retryable
	// failures and records synk_http_* metrics. Connectors must use it.
	HTTP *http.Client
	// Logger carries the pipeline and connection attributes.
	Logger *slog.Logger
	// BaseDir is the directory of the pipeline file; relative paths in a
	// connection's settings are relative to it.
	BaseDir string
	// StateDir is the directory of the state file, for files a connector
	// keeps (an OAuth refresh token), written 0600.
	StateDir string
}

// ConnectorType is a kind of connector ("file", "fiken", "prestashop").
type ConnectorType struct {
	Name string
	// NewConfig returns a pointer to a zero config struct. The loader decodes
	// the connection's settings into it strictly (unknown keys are errors
	// with a suggestion). Fields tagged `secret:"true"` are redacted
	// everywhere. `yaml` tags name the keys; a Validate() error method, if
	// present, is called after decoding.
	NewConfig func() any
	// Resources declares the resources and typed fields for a decoded
	// config. It must not do I/O: `synk validate` compiles every expression
	// against it offline.
	Resources func(config any) ([]Resource, error)
	// Open opens a connection with a decoded config.
	Open func(ctx context.Context, env Env, config any) (Connector, error)
	// DefaultLimits apply when the connection does not set concurrency/rate.
	DefaultLimits Limits
}

// Registry holds the connector types main registers.
type Registry struct {
	types map[string]ConnectorType
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]ConnectorType{}} }

// Register adds a connector type; registering a name twice panics, since it
// is a wiring mistake in main.
func (r *Registry) Register(t ConnectorType) {
	if _, dup := r.types[t.Name]; dup {
		panic("pipeline: connector type registered twice: " + t.Name)
	}
	r.types[t.Name] = t
}

// Lookup returns the connector type with the given name.
func (r *Registry) Lookup(name string) (ConnectorType, bool) {
	t, ok := r.types[name]
	return t, ok
}

// Names returns the registered type names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
