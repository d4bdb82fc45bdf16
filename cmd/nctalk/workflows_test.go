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
}

type job struct {
	If          string         `yaml:"if"`
	Uses        string         `yaml:"uses"`
	Environment string         `yaml:"environment"`
	Permissions map[string]any `yaml:"permissions"`
	Concurrency struct {
		Group            string `yaml:"group"`
		CancelInProgress bool   `yaml:"cancel-in-progress"`
	} `yaml:"concurrency"`
	Steps []struct {
		Uses string `yaml:"uses"`
	} `yaml:"steps"`
}

// pinned matches an action reference pinned to an exact release tag or a
// full commit SHA.
var pinned = regexp.MustCompile(`^[\w.-]+/[\w./-]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$`)

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
			for _, s := range j.Steps {
				if s.Uses != "" && !strings.HasPrefix(s.Uses, "./") && !pinned.MatchString(s.Uses) {
					t.Errorf("%s/%s: %s is not pinned to an exact version or commit", name, jobName, s.Uses)
				}
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
