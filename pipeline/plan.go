package pipeline

import (
	"time"
)

// Action is what a change does to its target record.
type Action string

// Actions of a change. NoOp changes are counted, not listed.
const (
	Create Action = "create"
	Update Action = "update"
	Delete Action = "delete"
	NoOp   Action = "noop"
)

// Change is one planned write.
type Change struct {
	Seq    int    `json:"seq"`
	Entity string `json:"entity"`
	// Flow is "from→to", e.g. "shop.products→fiken.products".
	Flow      string `json:"flow"`
	FlowIndex int    `json:"flow_index"`
	Action    Action `json:"action"`
	SourceKey string `json:"source_key"`
	// TargetKey is empty for a create.
	TargetKey string `json:"target_key,omitempty"`
	// Fields are the target fields written, sorted.
	Fields []string `json:"fields"`
	// Before and After hold the target values of Fields before and after.
	Before map[string]any `json:"before,omitempty"`
	After  map[string]any `json:"after,omitempty"`
	// Waits names entities whose links this change needs; it is mapped
	// again once they are applied in the same run.
	Waits []string `json:"waits,omitempty"`
	// Notes explain decisions the plan made for this change, such as a
	// conflict that modification times could not settle.
	Notes []string `json:"notes,omitempty"`
}

// Reject is a record that could not be planned or written, with the reason.
type Reject struct {
	Entity     string `json:"entity"`
	Connection string `json:"connection"`
	Resource   string `json:"resource"`
	Key        string `json:"key"`
	Reason     string `json:"reason"`
}

// Summary counts a plan's changes per entity and action.
type Summary map[string]map[Action]int

// Plan is the set of changes a run would make. `synk plan` prints or saves
// it; `synk apply --plan` applies a saved one if nothing moved since.
type Plan struct {
	Pipeline  string    `json:"pipeline"`
	RunID     string    `json:"run_id"`
	CreatedAt time.Time `json:"created_at"`
	// Snapshot fingerprints the data and state the plan was made from.
	Snapshot string   `json:"snapshot"`
	Summary  Summary  `json:"summary"`
	Changes  []Change `json:"changes"`
	Rejects  []Reject `json:"rejects,omitempty"`

	// more yields the changes after Changes (see SetMore); extra counts
	// them.
	more  func(yield func(Change) error) error
	extra int
}

// SetMore gives the plan n more changes after Changes, which each yields
// in seq order, one at a time, every time it is called. The engine plans
// the creates of a first sync of many records this way: they are made
// chunk by chunk from the state file whenever the plan is read, so a
// million of them are never held in memory at once. Marshalling the plan
// with encoding/json leaves them out; WriteJSON and WriteReport include
// them.
func (p *Plan) SetMore(n int, each func(yield func(Change) error) error) {
	p.extra, p.more = n, each
	if each == nil {
		p.extra = 0
	}
}

// Len is the number of changes: Changes and those SetMore added.
func (p *Plan) Len() int { return len(p.Changes) + p.extra }

// Streamed reports whether some of the plan's changes are not in Changes
// but made on demand (see SetMore).
func (p *Plan) Streamed() bool { return p.more != nil }

// Each calls fn with every change in seq order, Changes first, stopping at
// the first error, which it returns.
func (p *Plan) Each(fn func(Change) error) error {
	for _, c := range p.Changes {
		if err := fn(c); err != nil {
			return err
		}
	}
	if p.more == nil {
		return nil
	}
	return p.more(fn)
}

// Empty reports whether the plan would write nothing.
func (p *Plan) Empty() bool { return p.Len() == 0 }
