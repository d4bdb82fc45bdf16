package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCloudConfigCommand(t *testing.T) {
	const doc = "#cloud-config\nwrite_files:\n- content: <redacted:signalingSecret>\n"
	withDoc := `{"version": 3, "deployment": {"resources": [
 {"urn": "urn:pulumi:dev::nctalk::pulumi:pulumi:Stack::nctalk-dev", "type": "pulumi:pulumi:Stack", "outputs": {"cloudConfigDigest": "sha256:00"}},
 {"urn": "urn:pulumi:dev::nctalk::nctalk:index:TalkBackend::nctalk", "type": "nctalk:index:TalkBackend",
  "outputs": {"cloudConfigRedacted": "#cloud-config\nwrite_files:\n- content: <redacted:signalingSecret>\n",
              "turnSecret": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:CIPHER"}}}]}}`
	secretDoc := strings.Replace(withDoc, `"cloudConfigRedacted": "#cloud-config\nwrite_files:\n- content: <redacted:signalingSecret>\n"`,
		`"cloudConfigRedacted": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:CIPHER"}`, 1)
	oldVersion := strings.Replace(withDoc, `"cloudConfigRedacted"`, `"somethingElse"`, 1)
	tests := []struct {
		name, export, failOn string
		args                 []string
		wantCode             int
		wantOut, wantErr     string
		wantCalls            string
	}{
		{"prints the document", withDoc, "", []string{"--stack", "prod"}, 0, doc, "", "stack export --stack prod"},
		{"secret output", secretDoc, "", nil, 1, "", "not plain text", "stack export"},
		{"deployed before this version", oldVersion, "", nil, 1, "", "run `pulumi up` with this version", "stack export"},
		{"empty stack", `{"version": 3, "deployment": {"resources": []}}`, "", nil, 1, "", "nothing is deployed", "stack export"},
		{"not json", "oops", "", nil, 1, "", "did not print a deployment", "stack export"},
		{"pulumi fails", withDoc, "stack", nil, 1, "", "boom", "stack export"},
		{"argument", withDoc, "", []string{"prod"}, 2, "", "unexpected argument", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin, log := fakePulumi(t, tt.export, tt.failOn)
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"cloud-config", "--pulumi", bin}, tt.args...), strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d; want %d; stderr: %s", code, tt.wantCode, stderr.String())
			}
			if stdout.String() != tt.wantOut {
				t.Errorf("stdout %q; want %q", stdout.String(), tt.wantOut)
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantErr)
			}
			if strings.Contains(stdout.String()+stderr.String(), "CIPHER") {
				t.Error("output shows a secret's ciphertext")
			}
			if calls := strings.TrimSpace(readFileOr(log)); calls != tt.wantCalls {
				t.Errorf("pulumi calls %q; want %q", calls, tt.wantCalls)
			}
		})
	}
}
