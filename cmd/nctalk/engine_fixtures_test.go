package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/tests/engine"
)

// fixtureFile writes an engine recording (tests/engine) to a file for a
// command's --file/--plan/--outputs flag.
func fixtureFile(t *testing.T, name string) string {
	t.Helper()
	b, err := engine.Fixture(name)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPreviewSummaryOnTheEngine runs `nctalk preview-summary` on what the
// real engine printed for each change of the recorded life, in the form
// the pull-request workflow produces (--show-sames, and the plan of the
// same preview), and checks what a reviewer must read in it. The engine's
// JSON without --show-sames, the form preview.yml used to produce, has no
// step of the component that holds the cloud-config: the summary must say
// how to get it rather than show nothing (the engine run found the old
// workflow's summary saying "Not available" for every change).
func TestPreviewSummaryOnTheEngine(t *testing.T) {
	tests := []struct {
		step      string
		want      []string
		forbidden []string
	}{
		{"url", []string{"**In place:** signaling reloaded; coturn, janus, nats, nginx untouched.", "+    [backend-2]", "+    url = https://cloud2.nctalk.test"},
			[]string{"WILL BE REPLACED", "To replace", "nctalk-apply"}},
		{"ssh", []string{"**In place:** host-firewall reloaded; coturn, janus, nats, nginx, signaling untouched.", "192.0.2.0/24"},
			[]string{"WILL BE REPLACED", "To replace"}},
		{"keep", []string{"No command reaches the running box."}, []string{"WILL BE REPLACED", "In place"}},
		{"resize", []string{"**The server will be powered off** to change its type (a reboot)", "No command reaches the running box."},
			[]string{"WILL BE REPLACED"}},
		{"image", []string{"THE SERVER WILL BE REPLACED", "A new server boots the current settings"}, []string{"In place"}},
		// Two media servers added: created, no alert, nothing drains.
		{"media-add", []string{"**To create (23)**", "`nctalk-media-2-server`", "`nctalk-proxy-token`"},
			[]string{"WILL BE", "drains", "To delete"}},
		// One removed: it drains, then goes; the main box's server stays.
		{"media-remove", []string{"- `media-2`: drains (no new calls; its calls go on up to 60 min), then deleted",
			"**In place:** signaling reloaded; coturn, nats, nginx untouched.", "`nctalk-media-2-server`"},
			[]string{"WILL BE", "A new server boots", "To create"}},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"preview-summary", "--stack", "engine", "--file", fixtureFile(t, tt.step+".preview-sames.json"),
				"--plan", fixtureFile(t, tt.step+".plan.json")}, nil, &stdout, &stderr)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			md := stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(md, w) {
					t.Errorf("the summary lacks %q:\n%s", w, md)
				}
			}
			for _, f := range tt.forbidden {
				if strings.Contains(md, f) {
					t.Errorf("the summary says %q:\n%s", f, md)
				}
			}
			if strings.Contains(md, "v1:") || strings.Contains(md, "ciphertext") {
				t.Errorf("the summary shows a secret's ciphertext:\n%s", md)
			}

			// The JSON without --show-sames: no cloud-config diff, and it says why.
			stdout.Reset()
			if code := run([]string{"preview-summary", "--file", fixtureFile(t, tt.step+".preview.json"),
				"--plan", fixtureFile(t, tt.step+".plan.json")}, nil, &stdout, &stderr); code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), "--show-sames") {
				t.Errorf("without --show-sames the summary does not say to use it:\n%s", stdout.String())
			}
		})
	}
}

// TestPreviewDiffShowsOneRule: the engine's `pulumi preview --diff` of one
// added SSH source shows the one rule that changes (the engine run found all
// ten rules shown as changed, position by position, when the program's
// order differed from the provider's).
func TestPreviewDiffShowsOneRule(t *testing.T) {
	b, err := engine.Fixture("ssh.preview.diff")
	if err != nil {
		t.Fatal(err)
	}
	diff := string(b)
	if n := strings.Count(diff, "description   :"); n > 1 {
		t.Errorf("%d firewall rules appear in the diff; want the one that changed:\n%s", n, diff)
	}
	if !strings.Contains(diff, `+ [2]: "2001:db8::/32"`) && !strings.Contains(diff, `"192.0.2.0/24"`) {
		t.Errorf("the diff does not show the added source:\n%s", diff)
	}
	if strings.Contains(diff, "server:Server: (replace)") || strings.Contains(diff, "+-hcloud:index/server:Server") {
		t.Errorf("an added SSH source replaces the server:\n%s", diff)
	}
}

// TestCloudConfigAfterTeardown: on the state the engine recorded after
// `nctalk teardown`, `nctalk cloud-config` says the backend is torn down
// (before, it printed the deleted server's document), and the outputs
// reader refuses the outputs with the same reason.
func TestCloudConfigAfterTeardown(t *testing.T) {
	export, err := engine.Fixture("teardown.export.json")
	if err != nil {
		t.Fatal(err)
	}
	bin, _ := fakePulumi(t, string(export), "")
	var stdout, stderr bytes.Buffer
	code := run([]string{"cloud-config", "--pulumi", bin}, nil, &stdout, &stderr)
	if code != exitFailed || stdout.Len() != 0 || !strings.Contains(stderr.String(), "the backend is torn down") {
		t.Errorf("exit %d, stdout %d bytes, stderr %q; want exit 1, nothing printed, \"the backend is torn down\"", code, stdout.Len(), stderr.String())
	}
	_, err = readStackOutputs(fixtureFile(t, "teardown.outputs.json"), "", "pulumi", nil)
	if err == nil || !strings.Contains(err.Error(), "torn down") {
		t.Errorf("reading the outputs after teardown: %v; want torn down", err)
	}
	// The running backend's recorded outputs read (secrets hidden, as
	// `pulumi stack output --json` prints them without --show-secrets).
	if _, err := readStackOutputs(fixtureFile(t, "url.outputs.json"), "", "pulumi", nil); err == nil || !strings.Contains(err.Error(), "--show-secrets") {
		t.Errorf("reading the recorded outputs: %v; want the hint to show the secrets", err)
	}
}
