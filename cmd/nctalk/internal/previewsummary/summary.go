package previewsummary

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
)

// Pulumi's encodings of values a preview must not or cannot show.
const (
	// secretMask is what `pulumi preview --json` prints for a secret value.
	secretMask = "[secret]"
	// secretSig is the key that marks a serialized secret in a plan or
	// checkpoint ({"4dabf…": "1b47…", "ciphertext": …}).
	secretSig = "4dabf18193072939515e22adb298388d"
	// unknownValue stands for a value that is not known before the update.
	unknownValue = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
)

// Operation groups of the summary, in the order they are listed.
const (
	groupReplace = "replace"
	groupDelete  = "delete"
	groupCreate  = "create"
	groupUpdate  = "update"
	groupSame    = "same"
)

// replacementOps are the step ops that belong to replacing a resource.
var replacementOps = []string{
	"replace", "create-replacement", "delete-replaced", "discard-replaced",
	"import-replacement", "read-replacement",
}

// Options tune a summary.
type Options struct {
	// Stack names the stack in the heading and the marker; "" takes it from
	// the URNs.
	Stack string
	// CloudConfigOutput is the output that holds the redacted
	// cloud-config (outputs.KeyCloudConfigRedacted).
	CloudConfigOutput string
	// CloudConfigType is the type of the resource whose output that is
	// (outputs.ComponentType); "" means the stack (stackType).
	CloudConfigType string
	// Plan, when set, supplies the stack's proposed outputs.
	Plan *Plan
	// MaxDiffBytes cuts the cloud-config diff (GitHub comments hold 65536
	// characters); 0 means defaultMaxDiffBytes.
	MaxDiffBytes int
}

// defaultMaxDiffBytes leaves room in a 65536-character comment for the rest.
const defaultMaxDiffBytes = 48 << 10

// Summary is what a preview changes, reduced to what a reviewer may see.
type Summary struct {
	// Stack is the stack name.
	Stack string
	// Groups lists changed resources by operation (replace, delete, create,
	// update, then any other op), empty groups left out.
	Groups []Group
	// Unchanged counts resources the preview leaves as they are.
	Unchanged int
	// Alerts are the loud lines: the server replaced, deleted or powered
	// off for a new type; a primary IP replaced or deleted.
	Alerts []Alert
	// CloudConfig is the change of the redacted cloud-config.
	CloudConfig CloudConfigChange
	// Box is what the running box does to take the change in place.
	Box BoxChange
	// Drains are the media servers the update removes: each drains
	// before its resources are deleted.
	Drains []Drain
	// Errors and Warnings count the preview's diagnostics by severity.
	Errors, Warnings int
}

// Drain is a media server the update removes: the stack deletes its apply
// by draining the box (cloudconfig.DrainCommand), then deletes the rest.
type Drain struct {
	// Name is the media server's name (mediaServers' key).
	Name string
	// Minutes bounds the drain (mediaDrainMinutes); 0 when the preview
	// does not say.
	Minutes int
}

// Group is the resources that undergo one operation.
type Group struct {
	Op        string
	Resources []Resource
}

// Resource is one changed resource.
type Resource struct {
	Name, Type string
	// Reasons are the names of the properties that cause the change.
	Reasons []string
}

// Alert is a change that costs downtime or moves an address.
type Alert struct {
	Resource Resource
	// Op is groupReplace, groupDelete, or groupUpdate for a server type change.
	Op string
}

// BoxState says what the summary knows about the in-place change.
type BoxState int

// In-place change states.
const (
	// boxNotListed: the preview lists no step of the apply command (it
	// was made without --show-sames and the command is unchanged, or the
	// stack has none).
	boxNotListed BoxState = iota
	// boxUnchanged: no command reaches the box.
	boxUnchanged
	// boxInPlace: the box takes the change in place; Words says how.
	boxInPlace
	// boxNew: the first apply on a new server (created or replaced).
	boxNew
	// boxUnknown: the box takes the change in place, but what it does
	// depends on values the update creates (a rotated secret, a new key such as the proxy token).
	boxUnknown
)

// BoxChange is what the running box does with the change.
type BoxChange struct {
	State BoxState
	// Words says what reloads, restarts or is recreated (boxInPlace).
	Words string
}

// CloudConfigState says what the summary knows about the cloud-config.
type CloudConfigState int

// Cloud-config states.
const (
	// cloudConfigMissing: the preview has no new value (no plan given, or
	// no stack resource, or the program does not export the output).
	cloudConfigMissing CloudConfigState = iota
	// cloudConfigUnchanged: old and new are the same text.
	cloudConfigUnchanged
	// cloudConfigChanged: Diff holds the unified diff.
	cloudConfigChanged
	// cloudConfigSecret: the output is a secret, so it is not shown.
	cloudConfigSecret
	// cloudConfigUnknown: the new value is known only during the update.
	cloudConfigUnknown
	// cloudConfigNotListed: the preview lists no step of the resource that
	// holds it: `pulumi preview --json` leaves unchanged ("same") steps out
	// unless --show-sames is given, and a component is always "same".
	cloudConfigNotListed
)

// CloudConfigChange is the change of the redacted cloud-config output.
type CloudConfigChange struct {
	State CloudConfigState
	// Diff is the unified diff (cloudConfigChanged).
	Diff string
	// Added and Removed count the diff's lines; Lines counts the new text.
	Added, Removed, Lines int
	// Truncated is set when Diff was cut to fit a comment.
	Truncated bool
	// Created is set when the stack has no deployed cloud-config yet.
	Created bool
}

// Summarize reduces a preview to a Summary.
func Summarize(p Preview, opt Options) Summary {
	s := Summary{Stack: opt.Stack}
	if opt.CloudConfigOutput == "" {
		opt.CloudConfigOutput = "cloudConfigRedacted"
	}

	// One entry per URN, in the order of first appearance.
	type entry struct {
		steps []Step
	}
	var order []string
	byURN := map[string]*entry{}
	for _, st := range p.Steps {
		if s.Stack == "" {
			s.Stack = stackName(st.URN)
		}
		e, ok := byURN[st.URN]
		if !ok {
			e = &entry{}
			byURN[st.URN] = e
			order = append(order, st.URN)
		}
		e.steps = append(e.steps, st)
	}

	// A media server that goes drains first: its server's delete is no
	// outage of the backend, so it gets the drain's line, not an alert.
	var drainPrefixes []string
	for _, urn := range order {
		if d, prefix, ok := drainOf(byURN[urn].steps); ok {
			s.Drains = append(s.Drains, d)
			drainPrefixes = append(drainPrefixes, prefix)
		}
	}

	groups := map[string][]Resource{}
	sameSteps := 0
	for _, urn := range order {
		steps := byURN[urn].steps
		op := headlineOp(steps)
		if op == groupSame {
			sameSteps++
			continue
		}
		if steps[0].resourceType() == stashType && op == groupUpdate {
			// The boot document keeps what a new server boots; its
			// update changes nothing that runs.
			sameSteps++
			continue
		}
		if steps[0].resourceType() == applyType {
			// A run on the box, not a resource that is built or
			// replaced (pulumi-command replaces the command when its
			// triggers change): Box says what it does.
			continue
		}
		r := Resource{Name: steps[0].resourceName(), Type: steps[0].resourceType(), Reasons: reasons(steps, op)}
		groups[op] = append(groups[op], r)
		drained := slices.ContainsFunc(drainPrefixes, func(p string) bool { return strings.HasPrefix(r.Name, p) })
		if alerting(r, op) && !drained {
			s.Alerts = append(s.Alerts, Alert{Resource: r, Op: op})
		}
	}
	for _, op := range groupOrder(groups) {
		s.Groups = append(s.Groups, Group{Op: op, Resources: groups[op]})
	}
	// The JSON lists unchanged resources only with --show-sames; the
	// engine's change summary counts them all.
	s.Unchanged = sameSteps
	if n, ok := p.ChangeSummary[groupSame]; ok {
		s.Unchanged = n
	}
	// Server alerts first: they are the ones that cost downtime.
	sort.SliceStable(s.Alerts, func(i, j int) bool {
		return s.Alerts[i].Resource.Type == serverType && s.Alerts[j].Resource.Type != serverType
	})
	for _, d := range p.Diagnostics {
		switch d.Severity {
		case "error":
			s.Errors++
		case "warning":
			s.Warnings++
		}
	}
	s.CloudConfig = cloudConfigChange(p, opt)
	s.Box = boxChange(p, s.Alerts)
	return s
}

// drainOf says whether a resource's steps delete a media server's apply,
// whose delete drains the box, and returns the drain and the name prefix
// of the media server's resources (the apply's name without "apply").
func drainOf(steps []Step) (Drain, string, bool) {
	st := steps[0]
	if st.resourceType() != applyType || headlineOp(steps) != groupDelete || !drains(st.OldState) {
		return Drain{}, "", false
	}
	prefix := strings.TrimSuffix(st.resourceName(), "apply")
	// The component's name, then the media server's: nctalk-media-2-.
	_, name, _ := strings.Cut(strings.TrimSuffix(prefix, "-"), "-")
	d := Drain{Name: name}
	if t := st.OldState.CustomTimeouts; t != nil && t.Delete > 0 {
		d.Minutes = int((time.Duration(t.Delete*float64(time.Second)) - cloudconfig.DrainSlack).Minutes())
	}
	return d, prefix, true
}

// drains says whether st is a media server's apply, whose delete drains
// its box.
func drains(st *State) bool {
	if st == nil {
		return false
	}
	del, _ := st.Inputs["delete"].(string)
	return del == cloudconfig.DrainCommand
}

// boxChange reads the main box's apply command's step (a media server's
// drains on delete): its triggers[0] are the unit digests of what the box
// runs (cloudconfig.UnitDigests), old and new.
func boxChange(p Preview, alerts []Alert) BoxChange {
	var step *Step
	for i := range p.Steps {
		if st := p.Steps[i]; st.resourceType() == applyType && !drains(st.OldState) && !drains(st.NewState) {
			step = &p.Steps[i]
		}
	}
	if step == nil {
		return BoxChange{State: boxNotListed}
	}
	for _, a := range alerts {
		if a.Resource.Type == serverType && (a.Op == groupReplace || a.Op == groupDelete) {
			return BoxChange{State: boxNew}
		}
	}
	switch headlineOp([]Step{*step}) {
	case groupSame:
		return BoxChange{State: boxUnchanged}
	case groupCreate:
		return BoxChange{State: boxNew}
	}
	if step.NewState != nil {
		if triggers, _ := step.NewState.Inputs["triggers"].([]any); len(triggers) > 0 && triggers[0] == unknownValue {
			return BoxChange{State: boxUnknown}
		}
	}
	old, new := unitDigests(step.OldState), unitDigests(step.NewState)
	if old == nil || new == nil {
		return BoxChange{State: boxNew}
	}
	return BoxChange{State: boxInPlace, Words: cloudconfig.DescribeChanges(old, new)}
}

// unitDigests reads the digests from a state's triggers[0].
func unitDigests(st *State) cloudconfig.UnitDigests {
	if st == nil {
		return nil
	}
	triggers, _ := st.Inputs["triggers"].([]any)
	if len(triggers) == 0 {
		return nil
	}
	units, _ := triggers[0].(map[string]any)
	if units == nil {
		return nil
	}
	out := cloudconfig.UnitDigests{}
	for unit, v := range units {
		byAction, _ := v.(map[string]any)
		out[unit] = map[string]string{}
		for a, d := range byAction {
			out[unit][a], _ = d.(string)
		}
	}
	return out
}

// alerting says whether a change gets a loud line: the server or a primary
// IP replaced or deleted, or the server updated in a way that powers it off
// (a new server type).
func alerting(r Resource, op string) bool {
	switch {
	case op == groupReplace || op == groupDelete:
		return r.Type == serverType || r.Type == primaryIPType
	case op == groupUpdate && r.Type == serverType:
		return slices.Contains(r.Reasons, serverTypeProperty)
	}
	return false
}

// serverTypeProperty is the server property whose change powers it off.
const serverTypeProperty = "serverType"

// headlineOp is the operation a resource's steps amount to.
func headlineOp(steps []Step) string {
	for _, st := range steps {
		if slices.Contains(replacementOps, st.Op) {
			return groupReplace
		}
	}
	return steps[0].Op
}

// reasons returns the sorted, de-duplicated property names behind a change:
// for a replacement the replace reasons and the detailed diff's replacing
// properties (falling back to the diff reasons), otherwise the diff reasons
// and the detailed diff's properties.
func reasons(steps []Step, op string) []string {
	set := map[string]bool{}
	for _, st := range steps {
		if op == groupReplace {
			for _, k := range st.ReplaceReasons {
				set[k] = true
			}
			for k, d := range st.DetailedDiff {
				if strings.HasSuffix(d.Kind, "-replace") {
					set[k] = true
				}
			}
			continue
		}
		for _, k := range st.DiffReasons {
			set[k] = true
		}
		for k := range st.DetailedDiff {
			set[k] = true
		}
	}
	if op == groupReplace && len(set) == 0 {
		for _, st := range steps {
			for _, k := range st.DiffReasons {
				set[k] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// groupOrder lists the operations present: the main ones in a fixed order,
// then any other op alphabetically.
func groupOrder(groups map[string][]Resource) []string {
	main := []string{groupReplace, groupDelete, groupCreate, groupUpdate}
	var out, rest []string
	for _, op := range main {
		if len(groups[op]) > 0 {
			out = append(out, op)
		}
	}
	for op := range groups {
		if !slices.Contains(main, op) {
			rest = append(rest, op)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// valueKind classifies an output value.
type valueKind int

const (
	valueAbsent valueKind = iota
	valueText
	valueSecret
	valueUnknown
	valueOther
)

// classify says what an output value is; only valueText values are shown.
func classify(v any, present bool) (string, valueKind) {
	if !present {
		return "", valueAbsent
	}
	switch x := v.(type) {
	case string:
		switch x {
		case secretMask:
			return "", valueSecret
		case unknownValue:
			return "", valueUnknown
		}
		return x, valueText
	case map[string]any:
		if _, ok := x[secretSig]; ok {
			return "", valueSecret
		}
	case nil:
		return "", valueAbsent
	}
	return "", valueOther
}

// cloudConfigChange finds the redacted cloud-config before and after.
func cloudConfigChange(p Preview, opt Options) CloudConfigChange {
	typ := opt.CloudConfigType
	if typ == "" {
		typ = stackType
	}
	var stack *Step
	for i := range p.Steps {
		if p.Steps[i].resourceType() == typ {
			stack = &p.Steps[i]
			break
		}
	}
	if stack == nil {
		return CloudConfigChange{State: cloudConfigNotListed}
	}
	key := opt.CloudConfigOutput
	var oldV, newV any
	var oldOK, newOK bool
	if stack.OldState != nil {
		oldV, oldOK = stack.OldState.Outputs[key]
	}
	if stack.NewState != nil {
		newV, newOK = stack.NewState.Outputs[key]
	}
	if !newOK && opt.Plan != nil {
		newV, newOK = opt.Plan.ResourcePlans[stack.URN].Outputs[key]
	}
	oldText, oldKind := classify(oldV, oldOK)
	newText, newKind := classify(newV, newOK)
	switch {
	case oldKind == valueSecret || newKind == valueSecret:
		return CloudConfigChange{State: cloudConfigSecret}
	case newKind == valueUnknown:
		return CloudConfigChange{State: cloudConfigUnknown}
	case newKind != valueText || (oldKind != valueText && oldKind != valueAbsent):
		return CloudConfigChange{State: cloudConfigMissing}
	}
	c := CloudConfigChange{Lines: strings.Count(newText, "\n"), Created: oldKind == valueAbsent}
	if oldText == newText {
		c.State = cloudConfigUnchanged
		return c
	}
	c.State = cloudConfigChanged
	oldName := "cloud-config (deployed)"
	if c.Created {
		oldName = "/dev/null (no deployed value)"
	}
	c.Diff = unifiedDiff(oldName, "cloud-config (this change)", oldText, newText, 3)
	for _, line := range strings.Split(c.Diff, "\n") {
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
		case strings.HasPrefix(line, "+"):
			c.Added++
		case strings.HasPrefix(line, "-"):
			c.Removed++
		}
	}
	limit := opt.MaxDiffBytes
	if limit <= 0 {
		limit = defaultMaxDiffBytes
	}
	if len(c.Diff) > limit {
		cut := strings.LastIndexByte(c.Diff[:limit], '\n')
		c.Diff = c.Diff[:cut+1]
		c.Truncated = true
	}
	return c
}

// marker is the first line of a summary: an HTML comment the workflow finds
// to edit its earlier comment for the same stack instead of adding one.
func marker(stack string) string {
	return fmt.Sprintf("<!-- nctalk-preview-summary stack=%s -->", strings.ReplaceAll(stack, "--", "-"))
}
