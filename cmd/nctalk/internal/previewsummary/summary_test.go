package previewsummary

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The test documents are built from copies of the shapes `pulumi preview
// --json` serializes: display.PreviewDigest, display.PreviewStep,
// apitype.ResourceV3 and display.PropertyDiff (pulumi sdk/pkg/display and
// sdk/go/common/apitype), and apitype.DeploymentPlanV1 for --save-plan.

type digestDoc struct {
	Config        map[string]string `json:"config,omitempty"`
	Steps         []*stepDoc        `json:"steps,omitempty"`
	Diagnostics   []diagnosticDoc   `json:"diagnostics,omitempty"`
	Duration      int64             `json:"duration,omitempty"`
	ChangeSummary map[string]int    `json:"changeSummary,omitempty"`
	MaybeCorrupt  bool              `json:"maybeCorrupt,omitempty"`
}

type stepDoc struct {
	Op             string                     `json:"op"`
	URN            string                     `json:"urn"`
	Provider       string                     `json:"provider,omitempty"`
	OldState       *resourceV3Doc             `json:"oldState,omitempty"`
	NewState       *resourceV3Doc             `json:"newState,omitempty"`
	DiffReasons    []string                   `json:"diffReasons,omitempty"`
	ReplaceReasons []string                   `json:"replaceReasons,omitempty"`
	DetailedDiff   map[string]propertyDiffDoc `json:"detailedDiff"`
}

type resourceV3Doc struct {
	URN     string         `json:"urn"`
	Custom  bool           `json:"custom"`
	ID      string         `json:"id,omitempty"`
	Type    string         `json:"type"`
	Inputs  map[string]any `json:"inputs,omitempty"`
	Outputs map[string]any `json:"outputs,omitempty"`
	Parent  string         `json:"parent,omitempty"`
}

type propertyDiffDoc struct {
	Kind      string `json:"kind"`
	InputDiff bool   `json:"inputDiff"`
}

type diagnosticDoc struct {
	URN      string `json:"urn,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Message  string `json:"message,omitempty"`
	Severity string `json:"severity,omitempty"`
}

type planDoc struct {
	Manifest      map[string]any             `json:"manifest"`
	ResourcePlans map[string]resourcePlanDoc `json:"resourcePlans,omitempty"`
}

type resourcePlanDoc struct {
	Goal    map[string]any `json:"goal,omitempty"`
	Steps   []string       `json:"steps,omitempty"`
	Outputs map[string]any `json:"state"`
}

const (
	stackURN  = "urn:pulumi:dev::nctalk::pulumi:pulumi:Stack::nctalk-dev"
	serverURN = "urn:pulumi:dev::nctalk::hcloud:index/server:Server::talk"
	fwURN     = "urn:pulumi:dev::nctalk::hcloud:index/firewall:Firewall::talk"
	ipv4URN   = "urn:pulumi:dev::nctalk::hcloud:index/primaryIp:PrimaryIp::talk-v4"
	secretURN = "urn:pulumi:dev::nctalk::random:index/randomPassword:RandomPassword::signaling-secret"
)

// Canary values that stand for property values a summary must never show.
const (
	canaryLabel      = "CANARY-label-value-7f3a"
	canaryAddress    = "203.0.113.77"
	canaryCiphertext = "v1:CANARYciphertextAAAA=="
	canaryMessage    = "CANARY-diagnostic-text"
)

// cloud-config texts as the stack exports them: secrets already redacted.
const (
	ccOld = "#cloud-config\n" +
		"write_files:\n" +
		"  - path: /opt/nctalk/signaling/server.conf\n" +
		"    content: |\n" +
		"      [backend]\n" +
		"      secret = <redacted:signalingSecret>\n" +
		"runcmd:\n" +
		"  - [docker, compose, pull]\n" +
		"  - [docker, compose, up, -d]\n" +
		"image: strukturag/nextcloud-spreed-signaling:2.1.0\n"
	ccNew = "#cloud-config\n" +
		"write_files:\n" +
		"  - path: /opt/nctalk/signaling/server.conf\n" +
		"    content: |\n" +
		"      [backend]\n" +
		"      secret = <redacted:signalingSecret>\n" +
		"runcmd:\n" +
		"  - [docker, compose, pull]\n" +
		"  - [docker, compose, up, -d]\n" +
		"image: strukturag/nextcloud-spreed-signaling:2.1.1\n"
)

func state(urn, typ string, outputs map[string]any) *resourceV3Doc {
	return &resourceV3Doc{
		URN: urn, Custom: typ != stackType, Type: typ, ID: "4711",
		// Inputs a summary must not show: a secret, a plain label, an address.
		Inputs:  map[string]any{"userData": secretMask, "labels": map[string]any{"note": canaryLabel}},
		Outputs: outputs,
	}
}

func serverOutputs() map[string]any {
	return map[string]any{"userData": secretMask, "ipv4Address": canaryAddress, "labels": map[string]any{"note": canaryLabel}}
}

func stackStep(op string, oldCC, newCC any) *stepDoc {
	s := &stepDoc{Op: op, URN: stackURN}
	if oldCC != nil {
		s.OldState = state(stackURN, stackType, map[string]any{"cloudConfigRedacted": oldCC, "signalingSecret": secretMask, "ipv4": canaryAddress})
	}
	// The real CLI records the stack's new state before its outputs are
	// registered, so newState carries no outputs unless a test sets them.
	s.NewState = &resourceV3Doc{URN: stackURN, Type: stackType}
	if newCC != nil {
		s.NewState.Outputs = map[string]any{"cloudConfigRedacted": newCC, "signalingSecret": secretMask}
	}
	return s
}

func planWith(cc any) *planDoc {
	return &planDoc{
		Manifest: map[string]any{"time": "2026-11-24T18:00:00Z"},
		ResourcePlans: map[string]resourcePlanDoc{
			stackURN: {Steps: []string{"same"}, Outputs: map[string]any{
				"cloudConfigRedacted": cc,
				"signalingSecret":     map[string]any{secretSig: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": canaryCiphertext},
			}},
			serverURN: {Steps: []string{"replace"}, Outputs: map[string]any{"ipv4Address": canaryAddress}},
		},
	}
}

// roundTrip serializes the documents and reads them back through the
// parsers, as the command does.
func roundTrip(t *testing.T, d digestDoc, pl *planDoc) (Preview, *Plan) {
	t.Helper()
	raw, err := json.MarshalIndent(d, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePreview(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ParsePreview: %v\n%s", err, raw)
	}
	if pl == nil {
		return p, nil
	}
	raw, err = json.Marshal(pl)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := ParsePlan(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ParsePlan: %v", err)
	}
	return p, &plan
}

func summarize(t *testing.T, d digestDoc, pl *planDoc) (Summary, string) {
	t.Helper()
	p, plan := roundTrip(t, d, pl)
	s := Summarize(p, Options{CloudConfigOutput: "cloudConfigRedacted", Plan: plan})
	md := s.Markdown()
	// Whatever the case, no property value other than the redacted
	// cloud-config may reach the comment.
	for _, canary := range []string{canaryLabel, canaryAddress, canaryCiphertext, canaryMessage, secretMask} {
		if strings.Contains(md, canary) {
			t.Errorf("summary shows %q:\n%s", canary, md)
		}
	}
	return s, md
}

func TestSummarizeCreate(t *testing.T) {
	d := digestDoc{
		Steps: []*stepDoc{
			{Op: "create", URN: stackURN, NewState: &resourceV3Doc{URN: stackURN, Type: stackType}},
			{Op: "create", URN: secretURN, NewState: state(secretURN, "random:index/randomPassword:RandomPassword", map[string]any{"result": secretMask})},
			{Op: "create", URN: ipv4URN, NewState: state(ipv4URN, primaryIPType, map[string]any{"ipAddress": canaryAddress})},
			{Op: "create", URN: serverURN, NewState: state(serverURN, serverType, serverOutputs())},
		},
		ChangeSummary: map[string]int{"create": 4},
	}

	t.Run("without a plan the new cloud-config is missing", func(t *testing.T) {
		s, md := summarize(t, d, nil)
		if s.Stack != "dev" {
			t.Errorf("Stack = %q, want dev (from the URNs)", s.Stack)
		}
		wantGroups := []Group{{Op: groupCreate, Resources: []Resource{
			{Name: "nctalk-dev", Type: stackType, Reasons: []string{}},
			{Name: "signaling-secret", Type: "random:index/randomPassword:RandomPassword", Reasons: []string{}},
			{Name: "talk-v4", Type: primaryIPType, Reasons: []string{}},
			{Name: "talk", Type: serverType, Reasons: []string{}},
		}}}
		if !reflect.DeepEqual(s.Groups, wantGroups) {
			t.Errorf("Groups = %+v\nwant %+v", s.Groups, wantGroups)
		}
		if len(s.Alerts) != 0 {
			t.Errorf("a first create raised alerts: %+v", s.Alerts)
		}
		if s.CloudConfig.State != cloudConfigMissing {
			t.Errorf("CloudConfig.State = %v, want missing", s.CloudConfig.State)
		}
		for _, want := range []string{marker("dev") + "\n", "**Resources:** 4 to create · 0 unchanged", "**To create (4)**", "- `talk` `hcloud:index/server:Server`\n", "--save-plan"} {
			if !strings.Contains(md, want) {
				t.Errorf("summary lacks %q:\n%s", want, md)
			}
		}
	})

	t.Run("with the plan the whole cloud-config is new", func(t *testing.T) {
		s, md := summarize(t, d, planWith(ccNew))
		c := s.CloudConfig
		if c.State != cloudConfigChanged || !c.Created || c.Added != 10 || c.Removed != 0 || c.Lines != 10 {
			t.Fatalf("CloudConfig = %+v, want a created document of 10 added lines", c)
		}
		if !strings.Contains(md, "+image: strukturag/nextcloud-spreed-signaling:2.1.1\n") || !strings.Contains(md, "--- /dev/null") {
			t.Errorf("summary lacks the added cloud-config:\n%s", md)
		}
	})
}

func TestSummarizeUpdateInPlace(t *testing.T) {
	d := digestDoc{
		Steps: []*stepDoc{
			stackStep("same", ccOld, nil),
			{
				Op: "update", URN: fwURN,
				OldState:     state(fwURN, "hcloud:index/firewall:Firewall", map[string]any{"rules": []any{}}),
				NewState:     state(fwURN, "hcloud:index/firewall:Firewall", map[string]any{"rules": []any{}}),
				DiffReasons:  []string{"rules"},
				DetailedDiff: map[string]propertyDiffDoc{"rules[3].port": {Kind: "update", InputDiff: true}},
			},
			{
				Op: "update", URN: serverURN,
				OldState:     state(serverURN, serverType, serverOutputs()),
				NewState:     state(serverURN, serverType, serverOutputs()),
				DiffReasons:  []string{"serverType"},
				DetailedDiff: map[string]propertyDiffDoc{"serverType": {Kind: "update"}},
			},
		},
		ChangeSummary: map[string]int{"update": 2, "same": 7},
	}
	s, md := summarize(t, d, planWith(ccOld))
	want := []Group{{Op: groupUpdate, Resources: []Resource{
		{Name: "talk", Type: "hcloud:index/firewall:Firewall", Reasons: []string{"rules", "rules[3].port"}},
		{Name: "talk", Type: serverType, Reasons: []string{"serverType"}},
	}}}
	if !reflect.DeepEqual(s.Groups, want) {
		t.Errorf("Groups = %+v\nwant %+v", s.Groups, want)
	}
	if s.Unchanged != 7 {
		t.Errorf("Unchanged = %d, want 7 from changeSummary", s.Unchanged)
	}
	wantAlerts := []Alert{{Resource: want[0].Resources[1], Op: groupUpdate}}
	if !reflect.DeepEqual(s.Alerts, wantAlerts) {
		t.Errorf("Alerts = %+v\nwant the server type change only: %+v", s.Alerts, wantAlerts)
	}
	if s.CloudConfig.State != cloudConfigUnchanged || s.CloudConfig.Lines != 10 {
		t.Errorf("CloudConfig = %+v, want unchanged, 10 lines", s.CloudConfig)
	}
	for _, want := range []string{"**Resources:** 2 to update · 7 unchanged", "because of `serverType`", "Unchanged (10 lines).",
		"> [!WARNING]\n> **The server will be powered off** to change its type (a reboot): `talk`"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "CAUTION") || strings.Contains(md, "REPLACED") {
		t.Errorf("an in-place update reads like a replacement:\n%s", md)
	}
}

func TestSummarizeServerReplacement(t *testing.T) {
	replace := func(op string) *stepDoc {
		return &stepDoc{
			Op: op, URN: serverURN,
			OldState:       state(serverURN, serverType, serverOutputs()),
			NewState:       state(serverURN, serverType, serverOutputs()),
			DiffReasons:    []string{"image", "userData"},
			ReplaceReasons: []string{"userData"},
			DetailedDiff: map[string]propertyDiffDoc{
				"userData": {Kind: "update-replace", InputDiff: true},
				"labels":   {Kind: "update"},
			},
		}
	}
	d := digestDoc{
		// With --show-replacement-steps a replacement is three steps of one
		// URN; it must count once.
		Steps:         []*stepDoc{stackStep("same", ccOld, nil), replace("delete-replaced"), replace("replace"), replace("create-replacement")},
		ChangeSummary: map[string]int{"replace": 1, "same": 8},
	}
	s, md := summarize(t, d, planWith(ccNew))

	wantServer := Resource{Name: "talk", Type: serverType, Reasons: []string{"userData"}}
	if want := []Group{{Op: groupReplace, Resources: []Resource{wantServer}}}; !reflect.DeepEqual(s.Groups, want) {
		t.Errorf("Groups = %+v\nwant %+v", s.Groups, want)
	}
	if want := []Alert{{Resource: wantServer, Op: groupReplace}}; !reflect.DeepEqual(s.Alerts, want) {
		t.Errorf("Alerts = %+v\nwant %+v", s.Alerts, want)
	}
	if !strings.Contains(md, "> [!CAUTION]\n> 🚨 **THE SERVER WILL BE REPLACED:** `talk`") || !strings.Contains(md, "Because of: `userData`.") {
		t.Errorf("summary lacks the loud replacement line with its reason:\n%s", md)
	}
	// The loud line comes before the resource list.
	if strings.Index(md, "WILL BE REPLACED") > strings.Index(md, "**Resources:**") {
		t.Errorf("replacement warning is not at the top:\n%s", md)
	}

	wantDiff := "--- cloud-config (deployed)\n" +
		"+++ cloud-config (this change)\n" +
		"@@ -7,4 +7,4 @@\n" +
		" runcmd:\n" +
		"   - [docker, compose, pull]\n" +
		"   - [docker, compose, up, -d]\n" +
		"-image: strukturag/nextcloud-spreed-signaling:2.1.0\n" +
		"+image: strukturag/nextcloud-spreed-signaling:2.1.1\n"
	c := s.CloudConfig
	if c.State != cloudConfigChanged || c.Diff != wantDiff || c.Added != 1 || c.Removed != 1 || c.Created {
		t.Errorf("CloudConfig = %+v\nwant diff:\n%s", c, wantDiff)
	}
	if !strings.Contains(md, "```diff\n"+wantDiff+"```\n") {
		t.Errorf("summary lacks the fenced diff:\n%s", md)
	}
}

func TestSummarizeNoChange(t *testing.T) {
	d := digestDoc{
		Steps:         []*stepDoc{stackStep("same", ccOld, ccOld)},
		ChangeSummary: map[string]int{"same": 9},
	}
	s, md := summarize(t, d, nil)
	if len(s.Groups) != 0 || len(s.Alerts) != 0 || s.Unchanged != 9 {
		t.Errorf("Summary = %+v, want no groups, no alerts, 9 unchanged", s)
	}
	if s.CloudConfig.State != cloudConfigUnchanged {
		t.Errorf("CloudConfig.State = %v, want unchanged (new value from newState)", s.CloudConfig.State)
	}
	if !strings.Contains(md, "**No resource changes.** 9 unchanged.") {
		t.Errorf("summary lacks the no-change line:\n%s", md)
	}
}

func TestSummarizeSecretsStayHidden(t *testing.T) {
	tests := []struct {
		name     string
		old, new any
		plan     *planDoc
		want     CloudConfigState
	}{
		{name: "deployed output is secret", old: secretMask, plan: planWith(ccNew), want: cloudConfigSecret},
		{name: "new output is secret in the preview", old: ccOld, new: secretMask, want: cloudConfigSecret},
		{
			name: "new output is an encrypted secret in the plan", old: ccOld,
			plan: planWith(map[string]any{secretSig: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": canaryCiphertext}),
			want: cloudConfigSecret,
		},
		{name: "new output is unknown", old: ccOld, plan: planWith(unknownValue), want: cloudConfigUnknown},
		{name: "new output is not text", old: ccOld, plan: planWith(42.0), want: cloudConfigMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := digestDoc{
				Config: map[string]string{"nctalk:signalingSecret": secretMask, "nctalk:domain": "talk.example.com"},
				Steps: []*stepDoc{
					stackStep("same", tt.old, tt.new),
					{Op: "update", URN: secretURN,
						OldState:    state(secretURN, "random:index/randomPassword:RandomPassword", map[string]any{"result": secretMask}),
						NewState:    state(secretURN, "random:index/randomPassword:RandomPassword", map[string]any{"result": secretMask}),
						DiffReasons: []string{"keepers"}},
				},
			}
			s, md := summarize(t, d, tt.plan)
			if s.CloudConfig.State != tt.want {
				t.Errorf("CloudConfig.State = %v, want %v", s.CloudConfig.State, tt.want)
			}
			if strings.Contains(md, "```diff") {
				t.Errorf("a diff was printed although a side is not shown:\n%s", md)
			}
		})
	}
}

func TestSummarizeDeletionsAndAddresses(t *testing.T) {
	d := digestDoc{
		Steps: []*stepDoc{
			{Op: "replace", URN: ipv4URN, OldState: state(ipv4URN, primaryIPType, nil), NewState: state(ipv4URN, primaryIPType, nil),
				ReplaceReasons: []string{"location"}},
			{Op: "delete", URN: serverURN, OldState: state(serverURN, serverType, serverOutputs())},
		},
		Diagnostics: []diagnosticDoc{
			{URN: serverURN, Message: canaryMessage, Severity: "error"},
			{Message: canaryMessage, Severity: "warning"},
		},
	}
	s, md := summarize(t, d, nil)
	if len(s.Alerts) != 2 || s.Alerts[0].Resource.Type != serverType || s.Alerts[0].Op != groupDelete || s.Alerts[1].Op != groupReplace {
		t.Fatalf("Alerts = %+v, want server deletion first, then the address replacement", s.Alerts)
	}
	if s.Errors != 1 || s.Warnings != 1 {
		t.Errorf("Errors, Warnings = %d, %d, want 1, 1", s.Errors, s.Warnings)
	}
	for _, want := range []string{"THE SERVER WILL BE DELETED", "A public IP address will be replaced:** `talk-v4`", "Because of: `location`.", "reported 1 error(s)", "reported 1 warning(s)"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if s.CloudConfig.State != cloudConfigNotListed {
		t.Errorf("CloudConfig.State = %v, want not listed without a step of the component", s.CloudConfig.State)
	}
}

func TestSummarizeCutsLongDiffs(t *testing.T) {
	var old, new strings.Builder
	for i := 0; i < 400; i++ {
		old.WriteString("old line with some length to it\n")
		new.WriteString("new line with some length to it\n")
	}
	p, _ := roundTrip(t, digestDoc{Steps: []*stepDoc{stackStep("same", old.String(), new.String())}}, nil)
	s := Summarize(p, Options{MaxDiffBytes: 1000})
	c := s.CloudConfig
	if !c.Truncated || len(c.Diff) > 1000 || !strings.HasSuffix(c.Diff, "\n") {
		t.Fatalf("diff not cut at a line end within 1000 bytes: truncated=%v len=%d", c.Truncated, len(c.Diff))
	}
	if c.Added != 400 || c.Removed != 400 {
		t.Errorf("Added, Removed = %d, %d; want the counts of the whole diff, 400 and 400", c.Added, c.Removed)
	}
	if md := s.Markdown(); !strings.Contains(md, "The diff is cut here") {
		t.Errorf("summary does not say the diff is cut:\n%s", md)
	}
}

func TestMarkdownCannotBreakOut(t *testing.T) {
	// A resource name with backticks and a newline, and a cloud-config with
	// a code fence, must stay inside their code spans and blocks.
	urn := "urn:pulumi:dev::nctalk::hcloud:index/firewall:Firewall::evil`name\n# heading"
	d := digestDoc{Steps: []*stepDoc{
		stackStep("same", "a\n", "a\n```\nb\n"),
		{Op: "create", URN: urn},
	}}
	_, md := summarize(t, d, nil)
	if strings.Contains(md, "\n# heading") || strings.Contains(md, "evil`name") {
		t.Errorf("resource name broke out of its code span:\n%s", md)
	}
	if !strings.Contains(md, "````diff\n") {
		t.Errorf("diff fence is not longer than the fence inside the cloud-config:\n%s", md)
	}
}

func TestParsePreviewRejectsOtherJSON(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"not JSON", "Previewing update (dev):", "not the JSON"},
		{"step without op", `{"steps":[{"urn":"urn:pulumi:dev::p::t::n"}]}`, "step 0 has no op"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePreview(strings.NewReader(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePreview error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAlerting(t *testing.T) {
	server := func(reasons ...string) Resource { return Resource{Name: "talk", Type: serverType, Reasons: reasons} }
	tests := []struct {
		name string
		r    Resource
		op   string
		want bool
	}{
		{"server replaced", server("userData"), groupReplace, true},
		{"server deleted", server(), groupDelete, true},
		{"server type changed", server("labels", "serverType"), groupUpdate, true},
		{"server labels changed", server("labels"), groupUpdate, false},
		{"server created", server(), groupCreate, false},
		{"primary IP replaced", Resource{Type: primaryIPType}, groupReplace, true},
		{"primary IP updated", Resource{Type: primaryIPType, Reasons: []string{"labels"}}, groupUpdate, false},
		{"firewall replaced", Resource{Type: "hcloud:index/firewall:Firewall"}, groupReplace, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := alerting(tt.r, tt.op); got != tt.want {
				t.Errorf("alerting(%v, %s) = %v, want %v", tt.r, tt.op, got, tt.want)
			}
		})
	}
}
