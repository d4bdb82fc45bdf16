package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

// These tests play behaviours of the real occ (Nextcloud 31.0.8/Talk 21.1.3
// and 34.0.1/Talk 23.0.6) that the contract table in occtest describes.

// TestOccExitZeroWithReason: occ exits 0 with its reason on stdout when it
// cannot write config/ (row exit0-config). nctalk shows the reason, with
// every known secret masked, and exits 1.
func TestOccExitZeroWithReason(t *testing.T) {
	bin := occFixture(t)
	for _, v := range occtest.Versions {
		t.Run("lists on "+v.Nextcloud, func(t *testing.T) {
			f := occtest.New(t, bin, occtest.State{ConfigReadOnly: true})
			r := runOccWith(t, stackOutputs(t, nil), "--occ", "env "+occtest.EnvVersion+"="+v.Nextcloud+" "+f.Prefix())
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			for _, line := range strings.Split(strings.TrimSpace(occtest.ConfigReadOnlyMessage(v)), "\n") {
				if !strings.Contains(r.stderr, line) {
					t.Errorf("stderr lacks occ's line %q:\n%s", line, r.stderr)
				}
			}
		})
	}
	t.Run("changes", func(t *testing.T) {
		// The lists work; every change prints the reason and exits 0.
		f := occtest.New(t, bin, occtest.State{})
		script := filepath.Join(t.TempDir(), "ro-occ")
		body := "#!/bin/sh\ncase \"$1\" in *:list) exec \"$0.fake\" \"$@\";; esac\necho \"$1\" >> \"$0.changes\"\nprintf '%s' " +
			shellQuoteTest(occtest.ConfigReadOnlyMessage(occtest.Versions[0])) + "\nexit 0\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(f.Bin, script+".fake"); err != nil {
			t.Fatal(err)
		}
		f.Bin = script
		r := runOccWith(t, stackOutputs(t, nil), "--occ", f.Prefix())
		if r.code != 1 || !strings.Contains(r.stderr, `Cannot write into "config" directory!`) {
			t.Errorf("exit %d, want 1 with occ's reason\nstderr:\n%s", r.code, r.stderr)
		}
		changes, _ := os.ReadFile(script + ".changes")
		if n := strings.Count(string(changes), "\n"); n != 1 {
			t.Errorf("%d changing calls (%q), want to stop after the first", n, changes)
		}
	})
	t.Run("reason holding a known secret", func(t *testing.T) {
		script := filepath.Join(t.TempDir(), "chatty-occ")
		body := "#!/bin/sh\necho 'Something went wrong with secret '" + shellQuoteTest(occSigSecret) + "\nexit 0\n"
		if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		r := runOccWith(t, stackOutputs(t, nil), "--occ", shellQuoteTest(script))
		if r.code != 1 || !strings.Contains(r.stderr, "Something went wrong with secret ") {
			t.Errorf("exit %d, want 1 with occ's reason (masked)\nstderr:\n%s", r.code, r.stderr)
		}
	})
}

// TestOccAppliesTalksRules: entries Talk would refuse stop the run before
// any call (exit 2, the entry and Talk's rule named); entries Talk stores
// in another spelling are planned in that spelling, so a run converges.
func TestOccAppliesTalksRules(t *testing.T) {
	bin := occFixture(t)
	for _, tc := range []struct {
		name, key string
		entry     any
		wantErr   string
	}{
		{"bracketed IPv6 STUN", "stunServers", []string{"[2001:db8::1]:3478"}, `stunServers[0]: "[2001:db8::1]:3478" is refused by Talk's talk:stun:add ("Incorrect value. Must be stunserver:port.")`},
		{"STUN port 0", "stunServers", []string{occTestDomain + ":0"}, "stunServers[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := occtest.New(t, bin, occtest.State{})
			r := runOccWith(t, stackOutputs(t, func(o map[string]any) { o[tc.key] = tc.entry }), "--occ", f.Prefix())
			if r.code != 2 || !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("exit %d, want 2 with %q\nstderr:\n%s", r.code, tc.wantErr, r.stderr)
			}
			if calls := f.Calls(); len(calls) != 0 {
				t.Errorf("occ was called: %q", commandNames(calls))
			}
		})
	}
	t.Run("STUN port with a leading zero converges", func(t *testing.T) {
		f := occtest.New(t, bin, occtest.State{})
		in := stackOutputs(t, func(o map[string]any) { o["stunServers"] = []string{occTestDomain + ":03478"} })
		if r := runOccWith(t, in, "--occ", f.Prefix()); r.code != 0 {
			t.Fatalf("first run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if got, want := f.State().STUN, []string{occTestDomain + ":3478"}; !reflect.DeepEqual(got, want) {
			t.Errorf("STUN %q, want %q", got, want)
		}
		f.ResetLog()
		if r := runOccWith(t, in, "--occ", f.Prefix()); r.code != 0 || !strings.Contains(r.stdout, "nothing to do") {
			t.Errorf("second run: exit %d, want nothing to do\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		if m := mutatingCalls(f.Calls()); len(m) != 0 {
			t.Errorf("second run changed things: %q", m)
		}
	})
	t.Run("TURN server with https:// converges", func(t *testing.T) {
		f := occtest.New(t, bin, occtest.State{})
		in := stackOutputs(t, func(o map[string]any) {
			o["turnServers"] = []map[string]string{{"schemes": "turn", "server": "HTTPS://" + occTestDomain + ":3478", "protocols": "udp,tcp"}}
		})
		if r := runOccWith(t, in, "--occ", f.Prefix()); r.code != 0 {
			t.Fatalf("first run: exit %d\nstderr:\n%s", r.code, r.stderr)
		}
		f.ResetLog()
		if r := runOccWith(t, in, "--occ", f.Prefix()); r.code != 0 || len(mutatingCalls(f.Calls())) != 0 {
			t.Errorf("second run: exit %d, calls %q\nstderr:\n%s", r.code, mutatingCalls(f.Calls()), r.stderr)
		}
	})
}

// TestOccReadsFormattedLists: Talk's list JSON passes Symfony's formatter,
// which turns a value's `\<` into invalid JSON (row formatter). A Nextcloud
// whose secrets were set by hand with `\<` and `<` must still be read, and
// the run must converge.
func TestOccReadsFormattedLists(t *testing.T) {
	bin := occFixture(t)
	for _, v := range occtest.Versions {
		t.Run(v.Nextcloud, func(t *testing.T) {
			st := wired()
			st.Signaling.Secret = `hand\<set<secret`
			st.TURN[0].Secret = `turn\>hand`
			f := occtest.New(t, bin, st)
			prefix := "env " + occtest.EnvVersion + "=" + v.Nextcloud + " " + f.Prefix()
			r := runOccWith(t, stackOutputs(t, nil), "--occ", prefix)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			got := f.State()
			if got.Signaling.Secret != occSigSecret || len(got.TURN) != len(occTURN) {
				t.Errorf("state %+v, want the stack's secrets", got)
			}
			for _, e := range got.TURN {
				if e.Secret != occTURNSecret {
					t.Errorf("TURN %+v, want the stack's secret", e)
				}
			}
			f.ResetLog()
			if r := runOccWith(t, stackOutputs(t, nil), "--occ", prefix); r.code != 0 || len(mutatingCalls(f.Calls())) != 0 {
				t.Errorf("second run: exit %d, calls %q", r.code, mutatingCalls(f.Calls()))
			}
			if strings.Contains(r.stdout+r.stderr, `hand\<set`) || strings.Contains(r.stdout+r.stderr, `turn\>hand`) {
				t.Errorf("a secret read from Nextcloud was printed:\n%s\n%s", r.stdout, r.stderr)
			}
		})
	}
}

func shellQuoteTest(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestOccTimeoutBehindSudo: `--timeout 1s` behind a sudo-like wrapper
// whose child (php) keeps the output pipes open in a session of its own
// (row timeout-pipes): nctalk must return, exit 1, before the child exits.
func TestOccTimeoutBehindSudo(t *testing.T) {
	dir := t.TempDir()
	done := filepath.Join(dir, "done")
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	php := write("php", "sleep 6\ntouch "+shellQuoteTest(done)+"\n")
	sudo := write("sudo", "setsid \"$@\" &\nwait\n")
	r := runOccWith(t, stackOutputs(t, nil), "--occ", shellQuoteTest(sudo)+" "+shellQuoteTest(php), "--timeout", "1s")
	if _, err := os.Stat(done); err == nil {
		t.Fatalf("nctalk returned only after the child finished\nstderr:\n%s", r.stderr)
	}
	if r.code != 1 || !strings.Contains(r.stderr, "did not finish within --timeout") {
		t.Errorf("exit %d, want 1 naming the timeout\nstderr:\n%s", r.code, r.stderr)
	}
}
