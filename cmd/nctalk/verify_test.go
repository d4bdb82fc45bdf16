package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/verify"
	"github.com/nctalk/nctalk/cmd/nctalk/internal/verify/verifytest"
	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/schema"
)

// standIn starts the in-process backend and returns it with the flags that
// point verify at it (test CA, --resolve) and the CA file.
func standIn(t *testing.T) (*verifytest.Backend, []string) {
	t.Helper()
	b := verifytest.Start(t, verifytest.Config{})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, b.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		testenv.Skip(t, "no IPv6 loopback (verify resolves the stand-in to ::1 too): %v", err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	old := verifyInternalPorts
	verifyInternalPorts = []verify.Port{{Name: "closed test port", Port: closed}}
	t.Cleanup(func() { verifyInternalPorts = old })
	return b, []string{"--ca", ca, "--resolve", verifytest.Domain + "=127.0.0.1", "--resolve", verifytest.Domain + "=::1"}
}

func runCLI(t *testing.T, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"verify"}, args...), bytes.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

type jsonReport struct {
	OK       bool `json:"ok"`
	Attempts int  `json:"attempts"`
	Checks   []struct {
		Check  string `json:"check"`
		Status string `json:"status"`
		Reason string `json:"reason"`
	} `json:"checks"`
}

func TestVerifyCLIHealthyJSONFromStdin(t *testing.T) {
	b, flags := standIn(t)
	code, out, errOut := runCLI(t, b.OutputsJSON(t), append(flags, "--json")...)
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if !rep.OK || len(rep.Checks) != len(verify.Checks) || rep.Attempts != 1 {
		t.Fatalf("report %+v", rep)
	}
	for _, c := range rep.Checks {
		if c.Status != "ok" {
			t.Errorf("%s: %s %s", c.Check, c.Status, c.Reason)
		}
	}
}

func TestVerifyCLIOutputsFileWrongSecret(t *testing.T) {
	b, flags := standIn(t)
	good := b.Outputs.SignalingSecret
	b.Outputs.SignalingSecret = "wrong-" + good
	file := filepath.Join(t.TempDir(), "outputs.json")
	if err := os.WriteFile(file, b.OutputsJSON(t), 0o600); err != nil {
		t.Fatal(err)
	}
	// --wait must stop at once: a rejected signature is final.
	code, out, errOut := runCLI(t, nil, append(flags, "--outputs", file, "--wait", "1m")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "FAIL backend secret") || !strings.Contains(out, fmt.Sprintf("1 of %d checks did not pass: backend-secret", len(verify.Checks))) {
		t.Fatalf("text report does not name the failed check:\n%s", out)
	}
	if strings.Contains(out, "attempts") || errOut != "" {
		t.Fatalf("--wait polled again after a rejected signature:\n%s\n%s", out, errOut)
	}
	for _, secret := range []string{good, b.Outputs.SignalingSecret, b.Outputs.TURNSecret} {
		if strings.Contains(out+errOut, secret) {
			t.Fatal("a secret appears in the output")
		}
	}
}

// fakeClock stands still while the checks run and moves only when --wait
// sleeps; it records every sleep.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) bool {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return true
}

// TestVerifyCLIWaitRetries: with --wait 6s and checks that keep failing
// (not finally), verify tries at 0 s, after the 5 s interval, and once more
// when the last second of the wait is up: three attempts, whatever the time
// the checks take (the clock is a fake one).
func TestVerifyCLIWaitRetries(t *testing.T) {
	b, flags := standIn(t)
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	old := verifyClock
	verifyClock = clk
	t.Cleanup(func() { verifyClock = old })
	b.Outputs.TURNSecret = "wrong" // not final: coturn could still be starting
	code, out, errOut := runCLI(t, b.OutputsJSON(t), append(flags, "--json", "--wait", "6s")...)
	var rep jsonReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 1 || rep.Attempts != 3 || !slices.Equal(clk.sleeps, []time.Duration{5 * time.Second, time.Second}) {
		t.Fatalf("exit %d, %d attempts, slept %v; want 1, 3 attempts, slept [5s 1s]", code, rep.Attempts, clk.sleeps)
	}
	for _, line := range []string{"attempt 1: not passing yet: turn, turn-443; next try in 5s", "attempt 2: not passing yet: turn, turn-443; next try in 1s"} {
		if !strings.Contains(errOut, line) {
			t.Errorf("stderr lacks the progress line %q:\n%s", line, errOut)
		}
	}
}

func TestVerifyCLIBadInput(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		inErr string
	}{
		{"bad --resolve", `{}`, []string{"--resolve", "talk.example.com"}, "is not host=address"},
		{"bad --resolve address", `{}`, []string{"--resolve", "talk.example.com=nowhere"}, "is not host=address"},
		{"not JSON", `pulumi says hi`, nil, "not valid JSON"},
		{"missing turnSecret", `{"signalingUrl":"https://t.example.com/standalone-signaling","signalingSecret":"s"}`, nil, `"turnSecret" is missing`},
		{"hidden secrets", `{"signalingUrl":"https://t.example.com/standalone-signaling","signalingSecret":"[secret]","turnSecret":"[secret]"}`, nil, "--show-secrets"},
		{"stray argument", `{}`, []string{"extra"}, `unexpected argument "extra"`},
		{"missing CA file", `{"signalingUrl":"https://t.example.com/standalone-signaling","signalingSecret":"s","turnSecret":"t","turnServers":[{"schemes":"turn","server":"t.example.com:3478","protocols":"udp"}],"stunServers":["t.example.com:3478"]}`, []string{"--ca", "/nonexistent/ca.pem"}, "--ca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, []byte(tt.stdin), tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.inErr) || out != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q; want 2 and an error containing %q", code, errOut, out, tt.inErr)
			}
		})
	}
}

// TestVerifyCLINeverPrintsSecrets feeds outputs whose every field carries a
// marker and asserts that no line verify prints (stdout or stderr, text or
// JSON) contains a secret marker, on the input error paths (where no value
// may be echoed at all) and on the check paths (where the secrets are in
// use and may reach URLs and error texts).
func TestVerifyCLINeverPrintsSecrets(t *testing.T) {
	const (
		sigMarker  = "SIGmarker0123456789abcdefSECRET"
		turnMarker = "TURNmarker0123456789abcdefSECRET"
	)
	allMarkers := map[string]any{}
	for _, k := range schema.OutputNames() {
		allMarkers[k] = "MARK-" + k + "-0123456789abcdef"
	}
	allMarkers[schema.OutputTURNServers] = []map[string]string{{"schemes": "MARK-schemes-0123", "server": "MARK-server-0123", "protocols": "MARK-protocols-0123"}}
	allMarkers[schema.OutputSTUNServers] = []string{"MARK-stun-0123456789abcdef"}
	withField := func(k string, v any) []byte {
		m := map[string]any{}
		for kk, vv := range allMarkers {
			m[kk] = vv
		}
		m[k] = v
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	inputErrors := []struct {
		name  string
		stdin []byte
	}{
		{"every field a marker", withField(schema.OutputSignalingSecret, "MARK-signalingSecret-0123456789abcdef")},
		{"unparsable URL", withField(schema.OutputSignalingURL, "https://%zz/MARK-url-0123456789abcdef")},
		{"http URL", withField(schema.OutputSignalingURL, "http://MARK-host-0123456789abcdef/x")},
		{"URL without host", withField(schema.OutputSignalingURL, "https:///MARK-path-0123456789abcdef")},
		{"wrong type", withField(schema.OutputTURNSecret, 12345)},
		{"wrong list type", withField(schema.OutputTURNServers, "MARK-turnServers-list-0123456789abcdef")},
		{"truncated JSON", withField(schema.OutputDomain, "MARK")[:60]},
		{"trailing garbage", append(withField(schema.OutputDomain, "MARK-domain"), []byte(` MARK-garbage-0123456789abcdef`)...)},
	}
	for _, tt := range inputErrors {
		t.Run(tt.name, func(t *testing.T) {
			for _, format := range [][]string{nil, {"--json"}} {
				code, out, errOut := runCLI(t, tt.stdin, format...)
				if code == 0 {
					t.Fatalf("exit 0 on %s", tt.stdin)
				}
				for _, line := range strings.Split(out+errOut, "\n") {
					if strings.Contains(line, "MARK-") || strings.Contains(line, "0123456789abcdef") {
						t.Errorf("output line repeats a stack output value: %q", line)
					}
				}
			}
		})
	}

	// Check paths: a stand-in backend, outputs with marker secrets that are
	// also part of the URL (query and user info), so the secrets reach
	// request URLs, url.Error texts and the report.
	b, flags := standIn(t)
	b.Outputs.SignalingSecret = sigMarker
	b.Outputs.TURNSecret = turnMarker
	// Every check runs (backend-secret answers 403, TURN 400) with the
	// markers as secrets; then the same with the markers in the URL too.
	withSecretsInURL := b.Outputs
	withSecretsInURL.SignalingURL = "https://" + verifytest.Domain + "/standalone-signaling?" + turnMarker + "=" + sigMarker
	var runs [][]byte
	runs = append(runs, b.OutputsJSON(t))
	b.Outputs = withSecretsInURL
	runs = append(runs, b.OutputsJSON(t))
	for i, format := range [][]string{nil, {"--json"}, nil, {"--json"}} {
		code, out, errOut := runCLI(t, runs[i/2], append(flags, format...)...)
		if code != 1 {
			t.Errorf("exit %d; want 1 (wrong secrets)\n%s", code, out)
		}
		if i == 0 && (!strings.Contains(out, "FAIL backend secret") || !strings.Contains(out, "FAIL TURN allocations") || !strings.Contains(out, "ok   TLS certificate")) {
			t.Errorf("the checks did not run to the secret paths:\n%s", out)
		}
		for _, line := range strings.Split(out+errOut, "\n") {
			for _, s := range []string{sigMarker, turnMarker} {
				if strings.Contains(line, s) {
					t.Errorf("output line contains a secret: %q", line)
				}
			}
		}
	}
}
