package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exportProtected is `pulumi stack export` (apitype.UntypedDeployment) of a
// stack deployed with keepOnTeardown: the IPs and the volume protected.
const exportProtected = `{"version": 3, "deployment": {"manifest": {"time": "2026-12-05T20:00:00Z"}, "resources": [
 {"urn": "urn:pulumi:dev::nctalk::pulumi:pulumi:Stack::nctalk-dev", "custom": false, "type": "pulumi:pulumi:Stack"},
 {"urn": "urn:pulumi:dev::nctalk::nctalk:index:TalkBackend::nctalk", "custom": false, "type": "nctalk:index:TalkBackend"},
 {"urn": "urn:pulumi:dev::nctalk::nctalk:index:TalkBackend$hcloud:index/primaryIp:PrimaryIp::nctalk-ipv4", "custom": true, "id": "101", "type": "hcloud:index/primaryIp:PrimaryIp", "protect": true},
 {"urn": "urn:pulumi:dev::nctalk::nctalk:index:TalkBackend$hcloud:index/primaryIp:PrimaryIp::nctalk-ipv6", "custom": true, "id": "102", "type": "hcloud:index/primaryIp:PrimaryIp", "protect": true},
 {"urn": "urn:pulumi:dev::nctalk::nctalk:index:TalkBackend$hcloud:index/volume:Volume::nctalk-state", "custom": true, "id": "103", "type": "hcloud:index/volume:Volume", "protect": true},
 {"urn": "urn:pulumi:dev::nctalk::nctalk:index:TalkBackend$hcloud:index/server:Server::nctalk-server", "custom": true, "id": "104", "type": "hcloud:index/server:Server"}
]}}`

// exportUnprotected is the same stack after keepOnTeardown false and up.
var exportUnprotected = strings.ReplaceAll(exportProtected, `"protect": true`, `"protect": false`)

// fakePulumi writes a pulumi stand-in that logs each call's arguments (one
// line per call) and answers `stack export` with export; failOn makes the
// call whose first argument matches exit 1.
func fakePulumi(t *testing.T, export, failOn string) (bin, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls")
	exportFile := filepath.Join(dir, "export.json")
	if err := os.WriteFile(exportFile, []byte(export), 0o600); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "pulumi")
	script := "#!/bin/sh\necho \"$*\" >> '" + log + "'\n" +
		"if [ \"$1\" = '" + failOn + "' ]; then echo 'error: boom' >&2; exit 1; fi\n" +
		"if [ \"$1 $2\" = 'stack export' ]; then cat '" + exportFile + "'; fi\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

func TestTeardown(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		export    string
		failOn    string
		wantCode  int
		wantCalls []string
		wantErr   []string // substrings of stderr
	}{
		{"keeps addresses and volume", []string{"--stack", "dev"}, exportProtected, "", exitOK,
			[]string{"stack export --stack dev", "destroy --exclude-protected --stack dev"},
			[]string{"keeping (protected):", "hcloud:index/primaryIp:PrimaryIp::nctalk-ipv4", "hcloud:index/primaryIp:PrimaryIp::nctalk-ipv6", "hcloud:index/volume:Volume::nctalk-state", "--release"}},
		{"yes is passed on", []string{"--yes"}, exportProtected, "", exitOK,
			[]string{"stack export", "destroy --exclude-protected --yes"}, nil},
		{"nothing protected", nil, exportUnprotected, "", exitOK,
			[]string{"stack export", "destroy --exclude-protected"}, []string{"nothing is protected"}},
		{"release drops protection first", []string{"--stack", "prod", "--release", "--yes"}, exportProtected, "", exitOK,
			[]string{"stack export --stack prod", "config set --path nctalk:keepOnTeardown false --stack prod", "up --stack prod --yes", "destroy --stack prod --yes"},
			[]string{"addresses and the volume included"}},
		{"release when already unprotected", []string{"--release"}, exportUnprotected, "", exitOK,
			[]string{"stack export", "destroy"}, nil},
		{"failed up deletes nothing", []string{"--release"}, exportProtected, "up", exitFailed,
			[]string{"stack export", "config set --path nctalk:keepOnTeardown false", "up"}, []string{"nothing was deleted"}},
		{"export fails", nil, exportProtected, "stack", exitFailed,
			[]string{"stack export"}, []string{"stack export", "boom"}},
		{"export not json", nil, "not json", "", exitFailed,
			[]string{"stack export"}, []string{"did not print a deployment"}},
		{"destroy fails", nil, exportProtected, "destroy", exitFailed,
			[]string{"stack export", "destroy --exclude-protected"}, []string{"destroy"}},
		{"argument", []string{"dev"}, exportProtected, "", exitBadInput, nil, []string{"no arguments"}},
		{"unknown flag", []string{"--force"}, exportProtected, "", exitBadInput, nil, []string{"-force"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin, log := fakePulumi(t, tt.export, tt.failOn)
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"teardown", "--pulumi", bin}, tt.args...), strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d; want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			raw, _ := os.ReadFile(log)
			calls := strings.Split(strings.TrimSpace(string(raw)), "\n")
			if len(raw) == 0 {
				calls = nil
			}
			if strings.Join(calls, "|") != strings.Join(tt.wantCalls, "|") {
				t.Errorf("pulumi calls:\n  %s\nwant\n  %s", strings.Join(calls, "\n  "), strings.Join(tt.wantCalls, "\n  "))
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr.String())
				}
			}
		})
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
