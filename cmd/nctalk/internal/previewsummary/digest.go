// Package previewsummary turns the output of `pulumi preview --json` into
// a Markdown summary for a pull-request comment: resources by operation, a
// loud warning when the server will be replaced or deleted, and the diff of
// the redacted cloud-config. It shows resource names, types, operations,
// the names of the properties that cause a change and the redacted
// cloud-config, and nothing else from the preview: no property values, no
// diagnostics text, no config.
package previewsummary

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Preview is the part of `pulumi preview --json` the summary reads. Its
// JSON shape is Pulumi's display.PreviewDigest (sdk/pkg/display/json.go):
// steps with op, urn, oldState/newState (apitype.ResourceV3), diffReasons,
// replaceReasons and detailedDiff, plus changeSummary and diagnostics.
type Preview struct {
	Steps         []Step         `json:"steps"`
	Diagnostics   []Diagnostic   `json:"diagnostics"`
	ChangeSummary map[string]int `json:"changeSummary"`
}

// Step is one operation the engine intends to perform on a resource.
type Step struct {
	Op             string                  `json:"op"`
	URN            string                  `json:"urn"`
	OldState       *State                  `json:"oldState"`
	NewState       *State                  `json:"newState"`
	DiffReasons    []string                `json:"diffReasons"`
	ReplaceReasons []string                `json:"replaceReasons"`
	DetailedDiff   map[string]PropertyDiff `json:"detailedDiff"`
}

// State is a resource's state as serialized in a preview step. Secret
// values appear as the string "[secret]".
type State struct {
	URN     string         `json:"urn"`
	Type    string         `json:"type"`
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
	// CustomTimeouts are the resource's timeouts in seconds (a media
	// server's apply bounds its delete, the drain, with one).
	CustomTimeouts *struct {
		Delete float64 `json:"delete"`
	} `json:"customTimeouts"`
}

// PropertyDiff is the kind of change to one property, e.g. "update" or
// "update-replace".
type PropertyDiff struct {
	Kind      string `json:"kind"`
	InputDiff bool   `json:"inputDiff"`
}

// Diagnostic is a message the preview emitted; only its severity is used.
type Diagnostic struct {
	Severity string `json:"severity"`
}

// Plan is the part of an update plan (`pulumi preview --save-plan FILE`,
// apitype.DeploymentPlanV1) the summary reads: the proposed outputs of each
// resource. The preview JSON carries only the old outputs of the stack
// resource (its new outputs are registered after the step is recorded), so
// the new cloud-config comes from the plan.
type Plan struct {
	ResourcePlans map[string]ResourcePlan `json:"resourcePlans"`
}

// ResourcePlan is one resource's entry in an update plan.
type ResourcePlan struct {
	// Outputs are the proposed outputs, secrets encrypted.
	Outputs map[string]any `json:"state"`
}

// ParsePreview decodes `pulumi preview --json` output.
func ParsePreview(r io.Reader) (Preview, error) {
	var p Preview
	if err := decodeOne(r, &p, "preview", "`pulumi preview --json`"); err != nil {
		return Preview{}, err
	}
	if p.Steps == nil {
		return Preview{}, errors.New("preview has no steps: is this the output of `pulumi preview --json`?")
	}
	for i, s := range p.Steps {
		if s.Op == "" || s.URN == "" {
			return Preview{}, fmt.Errorf("preview step %d has no op or urn: is this the output of `pulumi preview --json`?", i)
		}
	}
	return p, nil
}

// ParsePlan decodes an update plan written by `pulumi preview --save-plan`.
func ParsePlan(r io.Reader) (Plan, error) {
	var p Plan
	if err := decodeOne(r, &p, "plan", "`pulumi preview --save-plan`"); err != nil {
		return Plan{}, err
	}
	if p.ResourcePlans == nil {
		return Plan{}, errors.New("plan has no resourcePlans: is this the file `pulumi preview --save-plan` wrote?")
	}
	return p, nil
}

// decodeOne decodes exactly one JSON document from r into v. Its errors
// name what was expected and never repeat the input (the decoder's own
// errors name a type or one character).
func decodeOne(r io.Reader, v any, what, source string) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s is empty: pipe in %s or pass the file", what, source)
		}
		return fmt.Errorf("%s is not the JSON of %s: %w", what, source, err)
	}
	if err := dec.Decode(&json.RawMessage{}); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s holds more than one JSON document (or trailing text): want only the output of %s", what, source)
	}
	return nil
}

// Type tokens the summary knows.
const (
	stackType     = "pulumi:pulumi:Stack"
	serverType    = "hcloud:index/server:Server"
	primaryIPType = "hcloud:index/primaryIp:PrimaryIp"
	// applyType is the in-place change's command (infra's apply).
	applyType = "command:remote:Command"
	// stashType is the boot document (infra's bootDocument).
	stashType = "pulumi:index:Stash"
)

// resourceType returns the step's resource type: from its state, else from
// the URN (urn:pulumi:<stack>::<project>::<parent$type>::<name>).
func (s Step) resourceType() string {
	for _, st := range []*State{s.NewState, s.OldState} {
		if st != nil && st.Type != "" {
			return st.Type
		}
	}
	parts := strings.Split(s.URN, "::")
	if len(parts) < 4 {
		return ""
	}
	qualified := parts[len(parts)-2]
	return qualified[strings.LastIndex(qualified, "$")+1:]
}

// resourceName returns the name part of the step's URN.
func (s Step) resourceName() string {
	i := strings.LastIndex(s.URN, "::")
	if i < 0 {
		return s.URN
	}
	return s.URN[i+2:]
}

// stackName returns the stack part of a URN, or "".
func stackName(urn string) string {
	rest, ok := strings.CutPrefix(urn, "urn:pulumi:")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "::")
	return name
}
