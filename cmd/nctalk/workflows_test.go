package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// workflow is the part of a GitHub workflow file the checks below read.
type workflow struct {
	Permissions any            `yaml:"permissions"`
	Jobs        map[string]job `yaml:"jobs"`
	// raw is the file's text, for what YAML drops (comments).
	raw string
}

type job struct {
	If          string            `yaml:"if"`
	Uses        string            `yaml:"uses"`
	With        map[string]string `yaml:"with"`
	Needs       any               `yaml:"needs"`
	Environment string            `yaml:"environment"`
	Permissions map[string]any    `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress bool   `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Steps []step `yaml:"steps"`
}

type step struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
	Env  map[string]string `yaml:"env"`
}

// pinnedLine matches a `uses:` line of a remote action pinned to a full
// commit SHA, with the release it is in a comment: a tag can be moved to
// other code, a commit cannot.
var pinnedLine = regexp.MustCompile(`^\s*(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$`)

// usesLine matches any `uses:` line.
var usesLine = regexp.MustCompile(`^\s*(- )?uses: `)

func readWorkflows(t *testing.T) map[string]workflow {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", ".github", "workflows", "*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no workflows found (%v)", err)
	}
	out := map[string]workflow{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var w workflow
		if err := yaml.Unmarshal(raw, &w); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		w.raw = string(raw)
		out[filepath.Base(p)] = w
	}
	return out
}

// TestWorkflowsSafeByDefault checks what actionlint does not: pinned
// actions, no default permissions, no secrets for forks, and updates that
// run behind an environment one at a time.
func TestWorkflowsSafeByDefault(t *testing.T) {
	workflows := readWorkflows(t)
	for name, w := range workflows {
		if m, ok := w.Permissions.(map[string]any); !ok || len(m) != 0 {
			t.Errorf("%s: top-level permissions = %v, want {} (jobs ask for what they need)", name, w.Permissions)
		}
		for jobName, j := range w.Jobs {
			if j.Uses != "" && !strings.HasPrefix(j.Uses, "./") {
				t.Errorf("%s/%s: calls a workflow of another repository: %s", name, jobName, j.Uses)
			}
			if j.Uses == "" && j.Permissions == nil {
				t.Errorf("%s/%s: no job permissions", name, jobName)
			}
		}
		for i, line := range strings.Split(w.raw, "\n") {
			if usesLine.MatchString(line) && !strings.Contains(line, "uses: ./") && !pinnedLine.MatchString(line) {
				t.Errorf("%s:%d: %q is not pinned to a full commit SHA with its version in a comment (uses: owner/repo@<40 hex> # vX.Y.Z)", name, i+1, strings.TrimSpace(line))
			}
		}
	}

	preview, ok := workflows["preview.yml"].Jobs["preview"]
	if !ok {
		t.Fatal("preview.yml has no preview job")
	}
	if !strings.Contains(preview.If, "github.event.pull_request.head.repo.full_name == github.repository") {
		t.Errorf("preview job runs for forks: if = %q", preview.If)
	}
	if preview.Permissions["pull-requests"] != "write" || preview.Permissions["contents"] != "read" || len(preview.Permissions) != 2 {
		t.Errorf("preview permissions = %v, want contents: read, pull-requests: write", preview.Permissions)
	}

	up, ok := workflows["pulumi-up.yml"].Jobs["up"]
	if !ok {
		t.Fatal("pulumi-up.yml has no up job")
	}
	if !strings.Contains(up.Environment, "inputs.stack") {
		t.Errorf("up job environment = %q, want the stack's environment", up.Environment)
	}
	if !strings.Contains(up.Concurrency.Group, "inputs.stack") || up.Concurrency.CancelInProgress {
		t.Errorf("up job concurrency = %+v, want one group per stack, never cancelled", up.Concurrency)
	}
	if len(up.Permissions) != 1 || up.Permissions["contents"] != "read" {
		t.Errorf("up job permissions = %v, want contents: read", up.Permissions)
	}
}

// credentialEnv are the environment variables that carry cloud or state
// credentials in the workflows.
var credentialEnv = []string{
	"HCLOUD_TOKEN", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
}

// TestPreviewKeepsCredentialsFromPullRequestTools checks that the preview
// job hands credentials only to the Pulumi steps (the pull request's
// program must run with them, read-only), and that the summary tool, which
// runs after them, is built from the base branch, not from the pull request.
func TestPreviewKeepsCredentialsFromPullRequestTools(t *testing.T) {
	preview := readWorkflows(t)["preview.yml"].Jobs["preview"]
	for _, k := range credentialEnv {
		if _, ok := preview.Env[k]; ok {
			t.Errorf("preview job env has %s: every step would see it; give it only to the pulumi steps", k)
		}
	}
	var baseCheckout, built bool
	for _, s := range preview.Steps {
		pulumiStep := strings.HasPrefix(s.Uses, "pulumi/actions@") || strings.Contains(s.Run, "pulumi preview")
		for _, k := range credentialEnv {
			if _, ok := s.Env[k]; ok && !pulumiStep {
				t.Errorf("step %q gets %s but runs no pulumi command", s.Name, k)
			}
		}
		if strings.HasPrefix(s.Uses, "actions/checkout@") && s.With["ref"] == "${{ github.event.pull_request.base.sha }}" && s.With["path"] != "" {
			baseCheckout = true
		}
		if strings.Contains(s.Run, "go run ./cmd/nctalk") {
			t.Errorf("step %q runs the pull request's own nctalk (go run ./cmd/nctalk); build it from the base branch", s.Name)
		}
		if baseCheckout && goBuild.MatchString(s.Run) {
			if pulumiStep {
				t.Errorf("step %q builds the tool and runs pulumi", s.Name)
			}
			built = true
		}
	}
	if !baseCheckout || !built {
		t.Errorf("preview job: base-branch checkout %v, summary tool built from it %v; want both", baseCheckout, built)
	}
}

// TestDeployRunsTestsFirst checks that deploy.yml runs the test command
// before any `pulumi up`, and that the up jobs deploy the commit that was
// tested.
func TestDeployRunsTestsFirst(t *testing.T) {
	deploy := readWorkflows(t)["deploy.yml"]
	test, ok := deploy.Jobs["test"]
	if !ok {
		t.Fatal("deploy.yml has no test job")
	}
	ranCI := false
	for _, s := range test.Steps {
		if strings.Contains(s.Run, "bash .ci/run") {
			ranCI = true
		}
	}
	if !ranCI {
		t.Error("deploy.yml's test job does not run `bash .ci/run`, the README's test command")
	}
	if !needs(deploy.Jobs["dev"], "test") {
		t.Errorf("deploy.yml's dev job needs = %v; want it to need test", deploy.Jobs["dev"].Needs)
	}
	for _, name := range []string{"dev", "prod"} {
		if ref := deploy.Jobs[name].With["ref"]; ref != "${{ github.sha }}" {
			t.Errorf("deploy.yml's %s job deploys ref %q; want ${{ github.sha }}, the tested commit", name, ref)
		}
	}
	up := readWorkflows(t)["pulumi-up.yml"].Jobs["up"]
	checkedOut := false
	for _, s := range up.Steps {
		if strings.HasPrefix(s.Uses, "actions/checkout@") && s.With["ref"] == "${{ inputs.ref }}" {
			checkedOut = true
		}
	}
	if !checkedOut {
		t.Error("pulumi-up.yml does not check out inputs.ref")
	}
}

// needs reports whether j needs the job named.
func needs(j job, name string) bool {
	switch n := j.Needs.(type) {
	case string:
		return n == name
	case []any:
		for _, x := range n {
			if x == name {
				return true
			}
		}
	}
	return false
}

// goBuild matches a build of the nctalk command from the base checkout.
var goBuild = regexp.MustCompile(`go -C base build .*\./cmd/nctalk`)
