package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/tests/engine"
)

// fakePulumi writes a pulumi stand-in that logs each call's arguments (one
// line per call) and answers `stack export` with export; failOn makes the
// call whose first argument matches exit 1.
func fakePulumi(t *testing.T, export, failOn string) (bin, log string) {
	t.Helper()
	return fakePulumiState(t, export, "", failOn)
}

// fakePulumiState is fakePulumi with a state: `stack export` prints the
// current state; `destroy --exclude-protected` leaves afterDestroy (when
// given); `stack import --file F` makes F the state and keeps a copy as
// <dir>/imported.json.
func fakePulumiState(t *testing.T, export, afterDestroy, failOn string) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls")
	state := filepath.Join(dir, "state.json")
	after := filepath.Join(dir, "after.json")
	for f, body := range map[string]string{state: export, after: afterDestroy} {
		if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bin = filepath.Join(dir, "pulumi")
	script := "#!/bin/sh\necho \"$*\" >> '" + log + "'\n" +
		"if [ \"$1\" = '" + failOn + "' ]; then echo 'error: boom' >&2; exit 1; fi\n" +
		"case \"$1 $2\" in\n" +
		"'stack export') cat '" + state + "' ;;\n" +
		"'stack import') cp \"$4\" '" + state + "'; cp \"$4\" '" + filepath.Join(dir, "imported.json") + "' ;;\n" +
		"'destroy --exclude-protected') if [ -s '" + after + "' ]; then cp '" + after + "' '" + state + "'; fi ;;\n" +
		"esac\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

// recordedExport is the engine's `pulumi stack export` of the running
// backend (keepOnTeardown: IPs and volume protected in Pulumi and at
// Hetzner), with edit applied to each resource.
func recordedExport(t *testing.T, edit func(r map[string]any) bool) string {
	t.Helper()
	raw, err := engine.Fixture("url.export.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	d := doc["deployment"].(map[string]any)
	var kept []any
	for _, r := range d["resources"].([]any) {
		if edit == nil || edit(r.(map[string]any)) {
			kept = append(kept, r)
		}
	}
	d["resources"] = kept
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// afterExcludeProtected is what `pulumi destroy --exclude-protected` leaves
// of a state: the protected resources, their providers, their parents.
func afterExcludeProtected(r map[string]any) bool {
	typ, _ := r["type"].(string)
	protect, _ := r["protect"].(bool)
	return protect || strings.HasPrefix(typ, "pulumi:") || typ == outputs.ComponentType
}

// unprotectedByHand is the state after `pulumi state unprotect --all`:
// Hetzner still protects the IPs and the volume.
func unprotectedByHand(r map[string]any) bool {
	delete(r, "protect")
	return true
}

// hetznerAPI is a stand-in for the API's change_protection action (the
// engine run checks the real provider's double against the same calls).
func hetznerAPI(t *testing.T, status int) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status >= 300 {
			_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"insufficient permissions"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"action":{"id":5001,"command":"change_protection","status":"success","error":null}}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(calls) }
}

func TestTeardown(t *testing.T) {
	running := recordedExport(t, nil)
	left := recordedExport(t, afterExcludeProtected)
	byHand := recordedExport(t, unprotectedByHand)
	leftByHand := recordedExport(t, func(r map[string]any) bool {
		unprotectedByHand(r)
		outs, _ := r["outputs"].(map[string]any)
		hetzner, _ := outs["deleteProtection"].(bool)
		typ, _ := r["type"].(string)
		return hetzner || strings.HasPrefix(typ, "pulumi:") || typ == outputs.ComponentType
	})
	const (
		ipv4 = "urn:pulumi:engine::nctalk::nctalk:index:TalkBackend$hcloud:index/primaryIp:PrimaryIp::nctalk-ipv4"
		ipv6 = "urn:pulumi:engine::nctalk::nctalk:index:TalkBackend$hcloud:index/primaryIp:PrimaryIp::nctalk-ipv6"
		vol  = "urn:pulumi:engine::nctalk::nctalk:index:TalkBackend$hcloud:index/volume:Volume::nctalk-state"
	)
	tests := []struct {
		name         string
		args         []string
		export, left string
		failOn       string
		apiStatus    int
		wantCode     int
		wantCalls    []string
		wantAPI      int // change_protection calls
		wantErr      []string
		wantImport   bool
	}{
		{"keeps addresses and volume, outputs marked", []string{"--stack", "dev"}, running, left, "", 201, exitOK,
			[]string{"stack export --stack dev", "destroy --exclude-protected --stack dev", "stack export --stack dev", "stack import --file"},
			0, []string{"keeping (protected):", "hcloud:index/primaryIp:PrimaryIp::nctalk-ipv4", "hcloud:index/volume:Volume::nctalk-state", "--release"}, true},
		{"yes is passed on", []string{"--yes"}, running, left, "", 201, exitOK,
			[]string{"stack export", "destroy --exclude-protected --yes", "stack export", "stack import --file"}, 0, nil, true},
		{"unprotected in Pulumi by hand: protected again, then kept", nil, byHand, leftByHand, "", 201, exitOK,
			[]string{"stack export", "state protect " + ipv4 + " " + ipv6 + " " + vol, "destroy --exclude-protected", "stack export", "stack import --file"},
			0, []string{"keeping (protected):"}, true},
		{"release from the protected state", []string{"--stack", "prod", "--release", "--yes"}, running, "", "", 201, exitOK,
			[]string{"stack export --stack prod", "state unprotect --all --stack prod --yes", "destroy --stack prod --yes"},
			3, []string{"addresses and the volume included"}, false},
		{"release, unprotected in Pulumi by hand", []string{"--release"}, byHand, "", "", 201, exitOK,
			[]string{"stack export", "destroy"}, 3, nil, false},
		{"release: the API refuses, nothing deleted", []string{"--release"}, running, "", "", 403, exitFailed,
			[]string{"stack export"}, 1, []string{"forbidden", "nothing was deleted"}, false},
		{"export fails", nil, running, "", "stack", 201, exitFailed, []string{"stack export"}, 0, []string{"stack export", "boom"}, false},
		{"export not json", nil, "not json", "", "", 201, exitFailed, []string{"stack export"}, 0, []string{"did not print a deployment"}, false},
		{"destroy fails", nil, running, left, "destroy", 201, exitFailed,
			[]string{"stack export", "destroy --exclude-protected"}, 0, []string{"destroy"}, false},
		{"argument", []string{"dev"}, running, "", "", 201, exitBadInput, nil, 0, []string{"unexpected argument"}, false},
		{"unknown flag", []string{"--force"}, running, "", "", 201, exitBadInput, nil, 0, []string{"-force"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin, log := fakePulumiState(t, tt.export, tt.left, tt.failOn)
			api, apiCalls := hetznerAPI(t, tt.apiStatus)
			t.Setenv("HCLOUD_ENDPOINT", api.URL+"/v1")
			t.Setenv("HCLOUD_TOKEN", "test-token")
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"teardown", "--pulumi", bin}, tt.args...), strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d; want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			raw, _ := os.ReadFile(log)
			var calls []string
			for _, c := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
				if c != "" {
					calls = append(calls, strings.SplitN(c, " /", 2)[0]) // the import's temp file name varies
				}
			}
			if strings.Join(calls, "|") != strings.Join(tt.wantCalls, "|") {
				t.Errorf("pulumi calls:\n  %s\nwant\n  %s", strings.Join(calls, "\n  "), strings.Join(tt.wantCalls, "\n  "))
			}
			got := apiCalls()
			if len(got) != tt.wantAPI {
				t.Errorf("Hetzner API calls %q; want %d", got, tt.wantAPI)
			}
			for _, c := range got {
				if !strings.HasPrefix(c, "POST /v1/") || !strings.Contains(c, "/actions/change_protection Bearer test-token") {
					t.Errorf("Hetzner API call %q; want POST …/actions/change_protection with the token", c)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stdout.String()+stderr.String(), "test-token") {
				t.Error("the output shows the Hetzner token")
			}
			imported, err := os.ReadFile(filepath.Join(filepath.Dir(log), "imported.json"))
			if (err == nil) != tt.wantImport {
				t.Fatalf("stack import: %v; want an import %v", err, tt.wantImport)
			}
			if tt.wantImport {
				checkTornDown(t, imported)
			}
		})
	}
}

// checkTornDown: after a teardown the outputs describe only what is left:
// the stack's the kept addresses and tornDown, the component's tornDown.
func checkTornDown(t *testing.T, export []byte) {
	t.Helper()
	res, err := readState(export)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		switch r.Type {
		case stackType:
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range r.Outputs {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(keys, []string{"ipv4", "ipv6", outputs.KeyTornDown}) {
				t.Errorf("stack outputs after teardown: %v; want ipv4, ipv6, tornDown", keys)
			}
			if note, _ := r.Outputs[outputs.KeyTornDown].(string); !strings.Contains(note, "talk-nctalk-test-ipv4") || !strings.Contains(note, "talk-nctalk-test-state") {
				t.Errorf("tornDown = %q; want the kept addresses and volume named", note)
			}
		case outputs.ComponentType:
			if _, ok := r.Outputs[outputs.KeyCloudConfigRedacted]; ok || len(r.Outputs) != 1 {
				t.Errorf("component outputs after teardown: %v; want only tornDown", r.Outputs)
			}
		}
	}
}

// readFileOr returns the file's content, or "" when it cannot be read.
func readFileOr(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}
