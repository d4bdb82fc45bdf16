package main

import (
	"fmt"
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
	if preview.Permissions["contents"] != "read" || len(preview.Permissions) != 1 {
		t.Errorf("preview permissions = %v, want contents: read only (the pull request's program runs there)", preview.Permissions)
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

// TestPreviewCannotReachProd checks how preview.yml keeps the pull
// request's program away from what it must not reach (issue 22):
//   - the job that runs it gets credentials only from its stack's preview
//     environment (preview-<stack>: read-only state key, the stack's
//     passphrase behind required reviewers for prod, a read-only Hetzner
//     token), never a deploy environment's or a repository-wide secret;
//   - that job holds no token that can write (no pull-requests: write, no
//     github.token), so the program cannot post or edit a comment;
//   - the summary runs in another job, on another runner, after it: no
//     credential, the tool built from the base branch, the pull request's
//     output read from an artifact, so the program cannot replace the tool
//     or hide a "server will be replaced" line.
func TestPreviewCannotReachProd(t *testing.T) {
	w := readWorkflows(t)["preview.yml"]
	var programJob, summaryJob string
	for name, j := range w.Jobs {
		runsProgram := false
		for _, s := range j.Steps {
			if strings.Contains(s.Run, "pulumi preview --stack") || (strings.HasPrefix(s.Uses, "pulumi/actions@") && s.With["command"] != "") {
				runsProgram = true
			}
		}
		if runsProgram {
			programJob = name
		} else if strings.Contains(fmt.Sprint(j.Needs), "preview") {
			summaryJob = name
		}
	}
	if programJob == "" {
		t.Fatal("preview.yml: no job runs pulumi preview")
	}
	if summaryJob == "" {
		t.Errorf("preview.yml: no summary job after %s: the summary tool and the commenting token share the program's runner", programJob)
	}
	pj, sj := w.Jobs[programJob], w.Jobs[summaryJob]
	if pj.Environment != "preview-${{ matrix.stack }}" {
		t.Errorf("%s: environment %q; want preview-${{ matrix.stack }} (credentials of the stack's preview environment only)", programJob, pj.Environment)
	}
	for k, v := range pj.Env {
		if strings.Contains(v, "secrets.") {
			t.Errorf("%s: job env %s=%s: every step would see it", programJob, k, v)
		}
	}
	for _, s := range pj.Steps {
		program := strings.Contains(s.Run, "pulumi preview --stack")
		for k, v := range s.Env {
			if strings.Contains(v, "secrets.") && !program {
				t.Errorf("%s: step %q gets %s but runs no pulumi", programJob, s.Name, k)
			}
			if strings.Contains(v, "secrets[") || strings.Contains(v, "format(") {
				t.Errorf("%s: step %q picks a secret by name (%s=%s): a preview environment holds only its own stack's", programJob, s.Name, k, v)
			}
		}
		for _, v := range append(mapValues(s.Env), mapValues(s.With)...) {
			if strings.Contains(v, "github.token") || strings.Contains(v, "GITHUB_TOKEN") {
				t.Errorf("%s: step %q is given the job's GitHub token", programJob, s.Name)
			}
		}
		if s.With["ref"] == "${{ github.event.pull_request.base.sha }}" {
			t.Errorf("%s: checks out the base branch: the summary tool belongs to the summary job", programJob)
		}
	}
	if summaryJob == "" {
		return
	}
	if len(sj.Env) > 0 || sj.Environment != "" {
		t.Errorf("%s: env %v, environment %q; want none", summaryJob, sj.Env, sj.Environment)
	}
	var baseCheckout, built, artifact bool
	for _, s := range sj.Steps {
		for _, k := range credentialEnv {
			if _, ok := s.Env[k]; ok {
				t.Errorf("%s: step %q gets %s", summaryJob, s.Name, k)
			}
		}
		if strings.HasPrefix(s.Uses, "actions/checkout@") && s.With["ref"] != "${{ github.event.pull_request.base.sha }}" {
			t.Errorf("%s: step %q checks out the pull request", summaryJob, s.Name)
		}
		if strings.HasPrefix(s.Uses, "actions/checkout@") && s.With["path"] != "" {
			baseCheckout = true
		}
		if baseCheckout && goBuild.MatchString(s.Run) {
			built = true
		}
		if strings.HasPrefix(s.Uses, "actions/download-artifact@") {
			artifact = true
		}
		if strings.Contains(s.Run, "go run ./cmd/nctalk") {
			t.Errorf("%s: step %q runs the pull request's own nctalk", summaryJob, s.Name)
		}
	}
	if !baseCheckout || !built || !artifact {
		t.Errorf("%s: base-branch checkout %v, tool built from it %v, preview read from an artifact %v; want all", summaryJob, baseCheckout, built, artifact)
	}
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
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
