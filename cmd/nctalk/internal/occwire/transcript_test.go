package occwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

// runFake runs the fake occ playing release v on f's state.
func runFake(t *testing.T, f *occtest.Fake, v occtest.Version, args ...string) occtest.Call {
	t.Helper()
	cmd := exec.Command(f.Bin, args...)
	cmd.Env = append(f.Env(), occtest.EnvVersion+"="+v.Nextcloud)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	exit := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return occtest.Call{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Exit: exit}
}

// sameAnswer reports a difference between what the fake answered and what
// occ was recorded answering.
func sameAnswer(t *testing.T, got, want occtest.Call) {
	t.Helper()
	if got.Stdout != want.Stdout || got.Stderr != want.Stderr || got.Exit != want.Exit {
		t.Errorf("%q:\n got exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q",
			want.Args, got.Exit, got.Stdout, got.Stderr, want.Exit, want.Stdout, want.Stderr)
	}
}

// TestFakeReplaysTranscripts plays each release's recording against the
// fake playing that release: the call sequence from a fresh Talk, every
// STUN and TURN add case on a fresh setting (answer and list after), the
// --generate-secret add, a disabled Talk and a read-only config. Each
// answer must be what the real occ printed, byte for byte, with its exit
// status.
func TestFakeReplaysTranscripts(t *testing.T) {
	bin := occtest.Build(t, t.TempDir())
	for _, v := range occtest.Versions {
		t.Run(v.Dir, func(t *testing.T) {
			t.Parallel()
			tr, err := occtest.LoadTranscript(v)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("calls", func(t *testing.T) {
				f := occtest.New(t, bin, occtest.State{})
				for _, c := range tr.Calls {
					sameAnswer(t, runFake(t, f, v, c.Args...), c)
				}
			})
			t.Run("stun:add cases", func(t *testing.T) {
				for _, c := range tr.STUNAdd {
					f := occtest.New(t, bin, occtest.State{})
					args := []string{"talk:stun:add", "--", c.Entry}
					sameAnswer(t, runFake(t, f, v, args...), occtest.Call{Args: args, Stdout: c.Stdout, Stderr: c.Stderr, Exit: c.Exit})
					if got := runFake(t, f, v, "talk:stun:list", "--output=json"); got.Stdout != c.List {
						t.Errorf("talk:stun:add %q, then the list: %q, occ's %q", c.Entry, got.Stdout, c.List)
					}
				}
			})
			t.Run("turn:add cases", func(t *testing.T) {
				for _, c := range tr.TURNAdd {
					f := occtest.New(t, bin, occtest.State{})
					args := []string{"talk:turn:add", "--secret=case-secret", "--", c.Schemes, c.Server, c.Protocols}
					sameAnswer(t, runFake(t, f, v, args...), occtest.Call{Args: args, Stdout: c.Stdout, Stderr: c.Stderr, Exit: c.Exit})
					if got := runFake(t, f, v, "talk:turn:list", "--output=json"); got.Stdout != c.List {
						t.Errorf("%q, then the list: %q, occ's %q", args, got.Stdout, c.List)
					}
				}
			})
			t.Run("generate-secret", func(t *testing.T) {
				f := occtest.New(t, bin, occtest.State{})
				add := tr.GeneratedSecret.Add
				sameAnswer(t, runFake(t, f, v, add.Args...), add)
				var list []occtest.TURNEntry
				if err := json.Unmarshal([]byte(runFake(t, f, v, "talk:turn:list", "--output=json").Stdout), &list); err != nil || len(list) != 1 {
					t.Fatalf("list after --generate-secret: %v %+v", err, list)
				}
				// Talk 21: sha1(uniqid()), 40 hex digits; Talk 23:
				// ISecureRandom::generate(128), base64's 64 characters.
				const hex, base64 = "0123456789abcdef", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
				got, want := list[0].Secret, tr.GeneratedSecret.Secrets
				wantHex := strings.Trim(strings.Join(want, ""), hex) == ""
				if len(got) != len(want[0]) || strings.Trim(got, base64) != "" || (strings.Trim(got, hex) == "") != wantHex {
					t.Errorf("generated secret %q (%d characters); occ generated %d characters like %q", got, len(got), len(want[0]), want[0])
				}
			})
			t.Run("talk disabled", func(t *testing.T) {
				f := occtest.New(t, bin, occtest.State{TalkDisabled: true})
				sameAnswer(t, runFake(t, f, v, tr.TalkDisabled.Args...), tr.TalkDisabled)
			})
			t.Run("config read-only", func(t *testing.T) {
				f := occtest.New(t, bin, occtest.State{ConfigReadOnly: true})
				sameAnswer(t, runFake(t, f, v, tr.ConfigReadOnly.Args...), tr.ConfigReadOnly)
			})
		})
	}
}

// TestFakeRefusesWhatWasNotRecorded: an add the recording has no case for
// ends the fake with exit 3 naming it, instead of a guess.
func TestFakeRefusesWhatWasNotRecorded(t *testing.T) {
	bin := occtest.Build(t, t.TempDir())
	v := occtest.Versions[len(occtest.Versions)-1]
	for _, args := range [][]string{
		{"talk:stun:add", "never-recorded.example:3478"},
		{"talk:turn:add", "turn", "never-recorded.example:3478", "udp", "--secret=s"},
		{"talk:unknown:command"},
		{"talk:stun:list", "--no-interaction"},
	} {
		f := occtest.New(t, bin, occtest.State{})
		got := runFake(t, f, v, args...)
		if got.Exit != 3 || !strings.Contains(got.Stderr, "is not in the recording") {
			t.Errorf("%q: exit %d, stderr %q; want exit 3 naming the missing recording", args, got.Exit, got.Stderr)
		}
		if s := f.State(); s.STUN != nil || s.TURN != nil {
			t.Errorf("%q changed the state: %+v", args, s)
		}
	}
}
