package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakePulumiStackOutput puts a `pulumi` on PATH that records its arguments and prints
// outputs (or fails), as the real CLI does.
func fakePulumiStackOutput(t *testing.T, stdout string, exit int) (argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	out := filepath.Join(dir, "stdout")
	if err := os.WriteFile(out, []byte(stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + argsFile + "\n" +
		"[ " + map[bool]string{true: "1", false: "0"}[exit == 0] + " = 1 ] || { echo 'error: no stack named dev found' >&2; exit 1; }\n" +
		"cat " + out + "\n"
	if err := os.WriteFile(filepath.Join(dir, "pulumi"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return argsFile
}

const sampleOutputs = `{"domain":"talk.example.com","signalingUrl":"https://talk.example.com/standalone-signaling",
"signalingSecret":"sigSecretValue0123456789","turnSecret":"turnSecretValue0123456789",
"turnServers":[{"schemes":"turn","server":"talk.example.com:3478","protocols":"udp,tcp"}],
"stunServers":["talk.example.com:3478"]}`

func TestReadStackOutputs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "outputs.json")
	if err := os.WriteFile(file, []byte(sampleOutputs), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, source, stack, stdin string
		wantArgs                   string // the fake pulumi's arguments, "" when it must not run
	}{
		{"stdin", "-", "", sampleOutputs, ""},
		{"stdin by default", "", "", sampleOutputs, ""},
		{"file", file, "", "", ""},
		{"pulumi, current stack", "pulumi", "", "", "stack output --json --show-secrets"},
		{"pulumi, named stack", "pulumi", "prod", "", "stack output --json --show-secrets --stack prod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argsFile := fakePulumiStackOutput(t, sampleOutputs, 0)
			o, err := readStackOutputs(tt.source, tt.stack, "pulumi", strings.NewReader(tt.stdin))
			if err != nil {
				t.Fatalf("readStackOutputs(%q): %v", tt.source, err)
			}
			if o.SignalingSecret != "sigSecretValue0123456789" || o.Domain != "talk.example.com" {
				t.Errorf("parsed %+v", o)
			}
			args, _ := os.ReadFile(argsFile)
			if got := strings.Join(strings.Fields(string(args)), " "); got != tt.wantArgs {
				t.Errorf("pulumi ran with %q; want %q", got, tt.wantArgs)
			}
		})
	}
}

func TestReadStackOutputsErrors(t *testing.T) {
	fakePulumiStackOutput(t, sampleOutputs, 1)
	huge := strings.Repeat(" ", maxOutputsBytes+1)
	tests := []struct {
		name, source, stdin, want string
		code                      int
	}{
		{"missing file", filepath.Join(t.TempDir(), "nope.json"), "", "--outputs", exitBadInput},
		{"pulumi fails", "pulumi", "", "no stack named dev", exitFailed},
		{"the old pulumi:STACK", "pulumi:dev", "", "--outputs pulumi --stack dev", exitBadInput},
		{"too large", "-", huge, "over", exitBadInput},
		{"not JSON", "-", "Current stack outputs (2):", "not valid JSON", exitBadInput},
		{"empty (</dev/null)", "-", "", "empty", exitBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readStackOutputs(tt.source, "dev", "pulumi", strings.NewReader(tt.stdin))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want one saying %q", err, tt.want)
			}
			if exitFor(err) != tt.code {
				t.Errorf("exit %d for %v; want %d", exitFor(err), err, tt.code)
			}
			if strings.Contains(err.Error(), "sigSecretValue") {
				t.Errorf("error repeats a secret: %v", err)
			}
		})
	}
}

// TestOutputsFromDevNull: stdin from /dev/null (a character device, not a
// terminal) is empty input, not a terminal.
func TestOutputsFromDevNull(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = readStackOutputs("-", "", "pulumi", f)
	if err == nil || strings.Contains(err.Error(), "terminal") || !strings.Contains(err.Error(), "empty") {
		t.Errorf("</dev/null: %v; want the outputs are empty, not a terminal", err)
	}
}
