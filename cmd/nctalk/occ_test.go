package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
	"github.com/nctalk/nctalk/talk"
)

const occTestDomain = "talk.example.com"

// Secrets with characters that JSON and shells treat specially, so masking
// of escaped forms and quoting are exercised.
const (
	occSigSecret  = `S1g/secret+"q'x`
	occTURNSecret = `TURN/secret+2 $x`
	oldSigSecret  = "old-signaling/secret"
	oldTURNSecret = "old-turn/secret"
)

var (
	occEnds    = talk.Endpoints{Domain: occTestDomain} // TURN on 443 off
	occSigURL  = occEnds.SignalingURL()
	occTURN    = occEnds.TURNServers()
	occSTUN    = occEnds.STUNServers()
	allSecrets = []string{occSigSecret, occTURNSecret, oldSigSecret, oldTURNSecret}
)

// stackOutputs is what `pulumi stack output --json --show-secrets` prints.
func stackOutputs(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	o := map[string]any{
		"domain":          occTestDomain,
		"signalingUrl":    occSigURL,
		"signalingSecret": occSigSecret,
		"turnSecret":      occTURNSecret,
		"turnServers":     occTURN,
		"stunServers":     occSTUN,
		"ipv4":            "203.0.113.7",
	}
	if edit != nil {
		edit(o)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wired is the state of a Nextcloud wired to the test backend.
func wired() occtest.State {
	var turn []occtest.TURNEntry
	for _, s := range occTURN {
		turn = append(turn, occtest.TURNEntry{Schemes: s.Schemes, Server: s.Server, Secret: occTURNSecret, Protocols: s.Protocols})
	}
	return occtest.State{
		Signaling: &occtest.SignalingConfig{Servers: []occtest.SignalingServer{{Server: occSigURL, Verify: true}}, Secret: occSigSecret},
		TURN:      turn,
		STUN:      append([]string(nil), occSTUN...),
	}
}

var (
	foreignSignaling = occtest.SignalingServer{Server: "https://hpb.other.org/", Verify: true}
	foreignTURN      = occtest.TURNEntry{Schemes: "turn", Server: "turn.other.org:3478", Secret: oldTURNSecret, Protocols: "udp"}
)

// withForeign is a Nextcloud that uses another backend.
func withForeign() occtest.State {
	return occtest.State{
		Signaling: &occtest.SignalingConfig{Servers: []occtest.SignalingServer{foreignSignaling}, Secret: oldSigSecret},
		TURN:      []occtest.TURNEntry{foreignTURN},
		STUN:      []string{"stun.other.org:3478", "stun.nextcloud.com:443"},
	}
}

// occFixture builds the fake occ once per test, into a directory whose
// name has a blank, so the --occ prefix needs quoting.
func occFixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "occ dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return occtest.Build(t, dir)
}

type occRun struct {
	code           int
	stdout, stderr string
}

func runOccWith(t *testing.T, stdin string, args ...string) occRun {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(append([]string{"occ"}, args...), strings.NewReader(stdin), &out, &errOut)
	r := occRun{code: code, stdout: out.String(), stderr: errOut.String()}
	assertNoSecrets(t, r)
	return r
}

// assertNoSecrets fails when any secret, raw or JSON-escaped, was printed.
func assertNoSecrets(t *testing.T, r occRun) {
	t.Helper()
	for _, s := range allSecrets {
		forms := []string{s, strings.ReplaceAll(s, "/", `\/`)}
		if b, err := json.Marshal(s); err == nil {
			forms = append(forms, string(b[1:len(b)-1]))
		}
		for _, f := range forms {
			if strings.Contains(r.stdout, f) || strings.Contains(r.stderr, f) {
				t.Errorf("secret %q printed:\nstdout:\n%s\nstderr:\n%s", f, r.stdout, r.stderr)
			}
		}
	}
}

func mutatingCalls(calls [][]string) [][]string {
	var m [][]string
	for _, c := range calls {
		if !occtest.IsList(c) {
			m = append(m, c)
		}
	}
	return m
}

func commandNames(calls [][]string) []string {
	var names []string
	for _, c := range calls {
		names = append(names, c[0])
	}
	return names
}

func TestOccConverges(t *testing.T) {
	bin := occFixture(t)
	tests := []struct {
		name      string
		initial   occtest.State
		flags     []string
		want      occtest.State
		wantCalls []string // mutating commands of the first run, in order
	}{
		{
			name:      "empty Nextcloud",
			initial:   occtest.State{},
			want:      wired(),
			wantCalls: []string{"talk:signaling:add", "talk:turn:add", "talk:turn:add", "talk:stun:add"},
		},
		{
			name:      "already configured",
			initial:   wired(),
			want:      wired(),
			wantCalls: nil,
		},
		{
			name: "changed secrets",
			initial: func() occtest.State {
				s := wired()
				s.Signaling.Secret = oldSigSecret
				for i := range s.TURN {
					s.TURN[i].Secret = oldTURNSecret
				}
				return s
			}(),
			want: wired(),
			wantCalls: []string{"talk:signaling:delete", "talk:signaling:add",
				"talk:turn:delete", "talk:turn:add", "talk:turn:delete", "talk:turn:add"},
		},
		{
			name: "trailing slash and missing verify",
			initial: func() occtest.State {
				s := wired()
				s.Signaling.Servers = []occtest.SignalingServer{{Server: occSigURL + "/", Verify: true}, {Server: occSigURL, Verify: false}}
				return s
			}(),
			want:      wired(),
			wantCalls: []string{"talk:signaling:delete", "talk:signaling:delete", "talk:signaling:add"},
		},
		{
			name:    "another backend, kept without --replace",
			initial: withForeign(),
			want: func() occtest.State {
				w := wired()
				w.Signaling.Servers = append([]occtest.SignalingServer{foreignSignaling}, w.Signaling.Servers...)
				w.TURN = append([]occtest.TURNEntry{foreignTURN}, w.TURN...)
				w.STUN = []string{"stun.other.org:3478", occSTUN[0]}
				return w
			}(),
			wantCalls: []string{"talk:signaling:add", "talk:turn:add", "talk:turn:add", "talk:stun:add", "talk:stun:delete"},
		},
		{
			name:    "another backend, removed with --replace",
			initial: withForeign(),
			flags:   []string{"--replace"},
			want:    wired(),
			wantCalls: []string{"talk:signaling:add", "talk:signaling:delete",
				"talk:turn:add", "talk:turn:add", "talk:turn:delete",
				"talk:stun:add", "talk:stun:delete", "talk:stun:delete"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := occtest.New(t, bin, tt.initial)
			args := append([]string{"--occ", f.Prefix()}, tt.flags...)
			r := runOccWith(t, stackOutputs(t, nil), args...)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if got := commandNames(mutatingCalls(f.Calls())); !reflect.DeepEqual(got, tt.wantCalls) {
				t.Errorf("mutating calls %q, want %q", got, tt.wantCalls)
			}
			if got := f.State(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("state\n got %+v\nwant %+v", got, tt.want)
			}
			if len(tt.wantCalls) == 0 && !strings.Contains(r.stdout, "nothing to do") {
				t.Errorf("stdout does not say nothing to do:\n%s", r.stdout)
			}

			// The second run issues no mutating command and says so.
			f.ResetLog()
			r = runOccWith(t, stackOutputs(t, nil), args...)
			if r.code != 0 || !strings.Contains(r.stdout, "nothing to do") {
				t.Errorf("second run: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			calls := f.Calls()
			if m := mutatingCalls(calls); len(m) != 0 || len(calls) != 3 {
				t.Errorf("second run called %q, want only the three lists", commandNames(calls))
			}
		})
	}
}

func TestOccSTUNAddedBeforeDefaultRemoved(t *testing.T) {
	f := occtest.New(t, occFixture(t), occtest.State{STUN: []string{"stun.nextcloud.com:443"}})
	if r := runOccWith(t, stackOutputs(t, nil), "--occ", f.Prefix()); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var stun [][]string
	for _, c := range f.Calls() {
		if strings.HasPrefix(c[0], "talk:stun:") && !occtest.IsList(c) {
			stun = append(stun, c)
		}
	}
	want := [][]string{{"talk:stun:add", occSTUN[0]}, {"talk:stun:delete", "stun.nextcloud.com:443"}}
	if !reflect.DeepEqual(stun, want) {
		t.Errorf("STUN calls %q, want %q", stun, want)
	}
	if got := f.State().STUN; !reflect.DeepEqual(got, occSTUN) {
		t.Errorf("STUN servers %q, want %q", got, occSTUN)
	}
}

func TestOccArgvIsExact(t *testing.T) {
	f := occtest.New(t, occFixture(t), occtest.State{})
	if r := runOccWith(t, stackOutputs(t, nil), "--occ", f.Prefix()); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := [][]string{
		{"talk:signaling:list", "--output=json"},
		{"talk:turn:list", "--output=json"},
		{"talk:stun:list", "--output=json"},
		{"talk:signaling:add", occSigURL, occSigSecret, "--verify"},
		{"talk:turn:add", "turn", occTestDomain + ":3478", "udp,tcp", "--secret=" + occTURNSecret},
		{"talk:turn:add", "turns", occTestDomain + ":5349", "tcp", "--secret=" + occTURNSecret},
		{"talk:stun:add", occTestDomain + ":3478"},
		{"talk:signaling:list", "--output=json"},
		{"talk:turn:list", "--output=json"},
		{"talk:stun:list", "--output=json"},
	}
	if got := f.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls\n got %q\nwant %q", got, want)
	}
}

func TestOccFailsMidwayAndRerunConverges(t *testing.T) {
	bin := occFixture(t)
	// Calls 1-3 are the lists; the plan for withForeign+--replace has 8
	// steps. Fail the first, two in the middle, the last one and the read-back.
	for _, failAt := range []int{4, 6, 8, 11, 12} {
		t.Run("fail call "+string(rune('0'+failAt/10))+string(rune('0'+failAt%10)), func(t *testing.T) {
			f := occtest.New(t, bin, withForeign())
			f.FailCall = failAt
			r := runOccWith(t, stackOutputs(t, nil), "--occ", f.Prefix(), "--replace")
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			calls := f.Calls()
			if len(calls) != failAt {
				t.Fatalf("%d calls, want the run to stop at the failing call %d", len(calls), failAt)
			}
			failed := calls[failAt-1][0]
			if !strings.Contains(r.stderr, "occ failed: ") || !strings.Contains(r.stderr, failed) {
				t.Errorf("stderr does not name the failed command %s:\n%s", failed, r.stderr)
			}
			// The fake echoes its argv, secrets included: it must show up masked.
			if !strings.Contains(r.stderr, "occ's output:") || !strings.Contains(r.stderr, "An unhandled exception") {
				t.Errorf("stderr does not show occ's output:\n%s", r.stderr)
			}
			if strings.Contains(failed, ":add") && strings.Contains(failed, "signaling") && !strings.Contains(r.stderr, "********") {
				t.Errorf("stderr shows no masked secret:\n%s", r.stderr)
			}

			f.FailCall = 0
			if r := runOccWith(t, stackOutputs(t, nil), "--occ", f.Prefix(), "--replace"); r.code != 0 {
				t.Fatalf("rerun: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if got := f.State(); !reflect.DeepEqual(got, wired()) {
				t.Errorf("after the rerun\n got %+v\nwant %+v", got, wired())
			}
			f.ResetLog()
			if r := runOccWith(t, stackOutputs(t, nil), "--occ", f.Prefix(), "--replace"); r.code != 0 || len(mutatingCalls(f.Calls())) != 0 {
				t.Errorf("third run: exit %d, calls %q", r.code, commandNames(f.Calls()))
			}
		})
	}
}

func TestOccDryRunChangesNothing(t *testing.T) {
	bin := occFixture(t)
	for _, initial := range []occtest.State{{}, withForeign()} {
		f := occtest.New(t, bin, initial)
		before, err := os.ReadFile(f.StatePath)
		if err != nil {
			t.Fatal(err)
		}
		r := runOccWith(t, stackOutputs(t, nil), "--occ", f.Prefix(), "--dry-run", "--replace")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		after, err := os.ReadFile(f.StatePath)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Errorf("dry run changed the state:\n%s", after)
		}
		if m := mutatingCalls(f.Calls()); len(m) != 0 {
			t.Errorf("dry run ran %q", commandNames(m))
		}
		for _, want := range []string{"plan:", "talk:signaling:add " + occSigURL + " '********' --verify", "'--secret=********'", "dry run: nothing changed"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("dry-run output lacks %q:\n%s", want, r.stdout)
			}
		}
	}
}

func TestOccBadInput(t *testing.T) {
	bin := occFixture(t)
	tests := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"malformed JSON", `{"signalingUrl":`, nil, 2, "not valid JSON"},
		{"missing key", stackOutputs(t, func(o map[string]any) { delete(o, "turnSecret") }), nil, 2, "turnSecret"},
		{"secrets hidden", stackOutputs(t, func(o map[string]any) { o["turnSecret"] = "[secret]" }), nil, 2, "--show-secrets"},
		{"http URL", stackOutputs(t, func(o map[string]any) { o["signalingUrl"] = "http://" + occTestDomain + "/standalone-signaling" }), nil, 2, "signalingUrl"},
		{"turns over udp", stackOutputs(t, func(o map[string]any) {
			o["turnServers"] = []map[string]string{{"schemes": "turns", "server": occTestDomain + ":5349", "protocols": "udp"}}
		}), nil, 2, "turnServers[0]"},
		{"no --occ", stackOutputs(t, nil), []string{"--occ", ""}, 2, "--occ is required"},
		{"unterminated quote", stackOutputs(t, nil), []string{"--occ", "php 'occ"}, 2, "unterminated quote"},
		{"shell syntax in the prefix", stackOutputs(t, nil), []string{"--occ", "php occ | tee"}, 2, "without a shell"},
		{"stray argument", stackOutputs(t, nil), []string{"talk:stun:list"}, 2, "unexpected argument"},
		{"unknown flag", stackOutputs(t, nil), []string{"--force"}, 2, "flag provided but not defined"},
		{"missing outputs file", "", []string{"--outputs", "/nonexistent/outputs.json"}, 2, "--outputs"},
		{"occ not found", stackOutputs(t, nil), []string{"--occ", "/nonexistent/occ"}, 1, "occ failed: /nonexistent/occ talk:signaling:list --output=json"},
		{"occ prints no JSON", stackOutputs(t, nil), []string{"--occ", "echo"}, 1, "occ exited 0 but printed no JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := occtest.New(t, bin, occtest.State{})
			args := append([]string{"--occ", f.Prefix()}, tt.args...)
			r := runOccWith(t, tt.stdin, args...)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantErr, r.stderr)
			}
			if tt.wantCode == 2 && len(f.Calls()) != 0 {
				t.Errorf("bad input, yet occ was called: %q", commandNames(f.Calls()))
			}
		})
	}
}

func TestOccOutputsFile(t *testing.T) {
	f := occtest.New(t, occFixture(t), occtest.State{})
	path := filepath.Join(t.TempDir(), "outputs.json")
	if err := os.WriteFile(path, []byte(stackOutputs(t, nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runOccWith(t, "", "--occ", f.Prefix(), "--outputs", path); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := f.State(); !reflect.DeepEqual(got, wired()) {
		t.Errorf("state %+v, want %+v", got, wired())
	}
}

// TestOccReadBackCatchesIgnoredChanges uses an occ that answers the lists
// but ignores every change while exiting 0 and confirming it: nctalk must
// notice on reading back and exit 1.
func TestOccReadBackCatchesIgnoredChanges(t *testing.T) {
	f := occtest.New(t, occFixture(t), occtest.State{})
	script := filepath.Join(t.TempDir(), "lazy-occ")
	body := "#!/bin/sh\ncase \"$1\" in *:list) exec \"$0.fake\" \"$@\";; *:add) echo Added it.;; *) echo Deleted it.;; esac\nexit 0\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(f.Bin, script+".fake"); err != nil {
		t.Fatal(err)
	}
	f.Bin = script
	r := runOccWith(t, stackOutputs(t, nil), "--occ", f.Prefix())
	if r.code != 1 || !strings.Contains(r.stderr, "still differs") || !strings.Contains(r.stderr, "talk:signaling:add") {
		t.Errorf("exit %d, want 1 with the steps still to do\nstderr:\n%s", r.code, r.stderr)
	}
	if got := f.State(); !reflect.DeepEqual(got, occtest.State{}) {
		t.Errorf("the lazy occ changed the state: %+v", got)
	}
}
