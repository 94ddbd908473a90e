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
}

// Empty reports whether the plan would write nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }
