package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A replacement preview as `pulumi preview --json` prints it (shape of
// display.PreviewDigest), with a secret input, and the update plan of the
// same preview (apitype.DeploymentPlanV1) holding the new outputs.
const (
	replacePreviewJSON = `{
    "config": {"nctalk:domain": "talk.example.com", "nctalk:turnSecret": "[secret]"},
    "steps": [
        {"op": "same", "urn": "urn:pulumi:prod::nctalk::pulumi:pulumi:Stack::nctalk-prod",
         "oldState": {"urn": "urn:pulumi:prod::nctalk::pulumi:pulumi:Stack::nctalk-prod", "custom": false,
                      "type": "pulumi:pulumi:Stack",
                      "outputs": {"cloudConfigDigest": "sha256:0123 (2 lines)", "turnSecret": "[secret]"}},
         "newState": {"urn": "urn:pulumi:prod::nctalk::pulumi:pulumi:Stack::nctalk-prod", "custom": false,
                      "type": "pulumi:pulumi:Stack"},
         "detailedDiff": null},
        {"op": "same", "urn": "urn:pulumi:prod::nctalk::nctalk:index:TalkBackend::nctalk",
         "oldState": {"urn": "urn:pulumi:prod::nctalk::nctalk:index:TalkBackend::nctalk", "custom": false,
                      "type": "nctalk:index:TalkBackend",
                      "outputs": {"cloudConfigRedacted": "#cloud-config\nimage: janus:1.3.0\n", "turnSecret": "[secret]"}},
         "newState": {"urn": "urn:pulumi:prod::nctalk::nctalk:index:TalkBackend::nctalk", "custom": false,
                      "type": "nctalk:index:TalkBackend"},
         "detailedDiff": null},
        {"op": "replace", "urn": "urn:pulumi:prod::nctalk::hcloud:index/server:Server::talk",
         "oldState": {"urn": "urn:pulumi:prod::nctalk::hcloud:index/server:Server::talk", "custom": true, "id": "1234",
                      "type": "hcloud:index/server:Server", "inputs": {"userData": "[secret]", "name": "talk-prod"}},
         "newState": {"urn": "urn:pulumi:prod::nctalk::hcloud:index/server:Server::talk", "custom": true,
                      "type": "hcloud:index/server:Server", "inputs": {"userData": "[secret]", "name": "talk-prod"}},
         "replaceReasons": ["userData"], "diffReasons": ["userData"],
         "detailedDiff": {"userData": {"kind": "update-replace", "inputDiff": true}}}
    ],
    "changeSummary": {"replace": 1, "same": 9}
}`
	replacePlanJSON = `{
    "manifest": {"time": "2026-11-24T18:00:00Z", "magic": "", "version": ""},
    "resourcePlans": {
        "urn:pulumi:prod::nctalk::pulumi:pulumi:Stack::nctalk-prod": {
            "steps": ["same"],
            "state": {"cloudConfigDigest": "sha256:4567 (2 lines)",
                      "turnSecret": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:SECRETCIPHERTEXT"}}
        },
        "urn:pulumi:prod::nctalk::nctalk:index:TalkBackend::nctalk": {
            "steps": ["same"],
            "state": {"cloudConfigRedacted": "#cloud-config\nimage: janus:1.4.0\n",
                      "turnSecret": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:SECRETCIPHERTEXT"}}
        }
    }
}`
)

func TestPreviewSummaryCommand(t *testing.T) {
	dir := t.TempDir()
	previewPath := filepath.Join(dir, "preview.json")
	planPath := filepath.Join(dir, "plan.json")
	for path, body := range map[string]string{previewPath: replacePreviewJSON, planPath: replacePlanJSON} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name      string
		args      []string
		stdin     string
		wantCode  int
		wantOut   []string
		wantErr   string
		forbidOut []string
	}{
		{
			name:     "file and plan",
			args:     []string{"preview-summary", "--file", previewPath, "--plan", planPath},
			wantCode: 0,
			wantOut: []string{
				"<!-- nctalk-preview-summary stack=prod -->\n",
				"THE SERVER WILL BE REPLACED:** `talk`",
				"Because of: `userData`.",
				"-image: janus:1.3.0\n+image: janus:1.4.0\n",
			},
			forbidOut: []string{"SECRETCIPHERTEXT", "[secret]", "talk-prod", "talk.example.com"},
		},
		{
			name:     "stdin, stack named on the command line",
			args:     []string{"preview-summary", "--stack", "production"},
			stdin:    replacePreviewJSON,
			wantCode: 0,
			wantOut:  []string{"<!-- nctalk-preview-summary stack=production -->\n", "`cloudConfigRedacted` output", "--save-plan"},
		},
		{
			name:     "text output instead of JSON",
			args:     []string{"preview-summary"},
			stdin:    "Previewing update (prod):\n",
			wantCode: exitBadInput,
			wantErr:  "not the JSON of `pulumi preview --json`",
		},
		{
			name:     "missing file",
			args:     []string{"preview-summary", "--file", filepath.Join(dir, "nope.json")},
			wantCode: exitBadInput,
			wantErr:  "reading --file",
		},
		{
			name:     "plan that is not a plan",
			args:     []string{"preview-summary", "--file", previewPath, "--plan", previewPath + "x"},
			wantCode: exitBadInput,
			wantErr:  "reading --plan",
		},
		{
			name:     "unknown flag",
			args:     []string{"preview-summary", "--json"},
			wantCode: 2,
			wantErr:  "flag provided but not defined",
		},
		{
			name:     "stray argument",
			args:     []string{"preview-summary", "preview.json"},
			wantCode: 2,
			wantErr:  `unexpected argument "preview.json"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, forbidden := range tt.forbidOut {
				if strings.Contains(stdout.String(), forbidden) {
					t.Errorf("stdout shows %q:\n%s", forbidden, stdout.String())
				}
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantErr)
			}
		})
	}
}

// TestPreviewSummaryBadInput: every kind of bad input gets the documented
// exit code (docs/ci.md, "What the summary comment shows": 2 for bad flags and
// documents that are not a preview or plan, 1 for files that cannot be read
// or a stdout that cannot be written), a message naming what is wrong, and
// nothing on stdout, so the workflow never posts half a comment.
func TestPreviewSummaryBadInput(t *testing.T) {
	dir := t.TempDir()
	write := tempFiles(t, dir)
	preview := write("preview.json", replacePreviewJSON)
	unreadable := filepath.Join(dir, "a-directory")
	if err := os.Mkdir(unreadable, 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantCode int
		wantErr  string
	}{
		{"empty stdin", nil, "", exitBadInput, "preview is empty: pipe in `pulumi preview --json`"},
		{"text preview", nil, "Previewing update (prod):\n", exitBadInput, "not the JSON of `pulumi preview --json`"},
		{"JSON list", nil, "[1, 2]", exitBadInput, "not the JSON of `pulumi preview --json`"},
		{"JSON object without steps", nil, `{"foo": "bar"}`, exitBadInput, "has no steps"},
		{"null", nil, "null", exitBadInput, "has no steps"},
		{"step without urn", nil, `{"steps":[{"op":"same"}]}`, exitBadInput, "step 0 has no op or urn"},
		{"truncated", nil, replacePreviewJSON[:200], exitBadInput, "not the JSON of `pulumi preview --json`"},
		{"two documents", nil, replacePreviewJSON + replacePreviewJSON, exitBadInput, "more than one JSON document"},
		{"missing file", []string{"--file", filepath.Join(dir, "nope.json")}, "", exitBadInput, "reading --file"},
		{"file is a directory", []string{"--file", unreadable}, "", exitBadInput, "reading --file"},
		{"missing plan", []string{"--file", preview, "--plan", filepath.Join(dir, "nope.json")}, "", exitBadInput, "reading --plan"},
		{"preview given as plan", []string{"--file", preview, "--plan", preview}, "", exitBadInput, "has no resourcePlans"},
		{"plan not JSON", []string{"--file", preview, "--plan", write("plan.txt", "plan")}, "", exitBadInput, "plan is not the JSON of `pulumi preview --save-plan`"},
		{"empty plan", []string{"--file", preview, "--plan", write("empty.json", "")}, "", exitBadInput, "plan is empty"},
		{"unknown flag", []string{"--json"}, "", exitBadInput, "flag provided but not defined: -json"},
		{"stray argument", []string{"preview.json"}, "", exitBadInput, `unexpected argument "preview.json"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"preview-summary"}, tt.args...), strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d; want %d; stderr %q", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantErr)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q; want nothing on bad input", stdout.String())
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"preview-summary", "-h"}, strings.NewReader(""), &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "Exit codes") {
			t.Errorf("-h: exit %d, usage %q; want 0 and the exit codes on stdout", code, stdout.String())
		}
	})
}
