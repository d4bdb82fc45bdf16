package cloudconfig

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nctalk/nctalk/internal/testenv"
)

// applyBox runs the rendered nctalk-apply on a stand-in box: the places
// the script writes (/opt/nctalk, /etc/ssh/..., /var/lib/nctalk, …) are
// folders of the test bound over them in a private mount namespace, and
// the commands it acts with (docker, systemctl, nft, sshd, cloud-init) are
// fakes that log their arguments. The real programs' side is the VM test's
// (tests/vm, in-place scenarios); this is the script's decisions: what it
// writes, with which mode and owner, what it reloads, restarts or
// recreates, and what it restores when something fails.
type applyBox struct {
	t          *testing.T
	root, bin  string
	log        string
	signalled  string // what the stand-in signaling process received
	signalling *exec.Cmd
}

// boxDirs are the folders nctalk-apply writes under: each gets an overlay
// whose upper folder is the box's (writes land there, reads fall through
// to the machine's own files).
var boxDirs = []string{"/etc", "/opt", "/var/lib"}

func newApplyBox(t *testing.T) *applyBox {
	t.Helper()
	testenv.Root(t, "the apply script's test runs in a private mount namespace")
	testenv.Tool(t, "unshare", "apt-get install util-linux")
	dir := t.TempDir()
	b := &applyBox{t: t, root: filepath.Join(dir, "root"), bin: filepath.Join(dir, "bin"), log: filepath.Join(dir, "calls"), signalled: filepath.Join(dir, "signalled")}
	for _, d := range boxDirs {
		for _, p := range []string{filepath.Join(b.root, d), filepath.Join(dir, "work", d)} {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(b.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// A stand-in for the signaling server's main process, whose PID the
	// fake `docker inspect` reports: it records the signals it gets.
	b.signalling = exec.Command("bash", "-c", `trap 'echo HUP >>"$0"' HUP; while :; do sleep 0.1; done`, b.signalled)
	b.signalling.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.signalling.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.signalling.Process.Kill(); _ = b.signalling.Wait() })
	time.Sleep(200 * time.Millisecond) // the trap is set
	fakes := map[string]string{
		"docker": `echo "docker $*" >>"$FAKE_LOG"
case "$1 $2" in
"inspect -f") echo "$FAKE_SIGNALING_PID" ;;
"logs "*) [ -e "$FAKE_DIR/refuse-reload" ] && echo "Could not read configuration from /opt/nctalk/signaling/server.conf: bad"; true ;;
"exec "*) case "$*" in *" -t "*) [ ! -e "$FAKE_DIR/nginx-refuses" ] || { echo "nginx: [emerg] unknown directive" >&2; exit 1; } ;; esac ;;
esac
exit 0`,
		"systemctl":  `echo "systemctl $*" >>"$FAKE_LOG"`,
		"nft":        `echo "nft $*" >>"$FAKE_LOG"`,
		"sshd":       `echo "sshd $*" >>"$FAKE_LOG"`,
		"cloud-init": `echo "cloud-init $*" >>"$FAKE_LOG"`,
	}
	for name, body := range fakes {
		if err := os.WriteFile(filepath.Join(b.bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// boot writes files as cloud-init's write_files does (mode, root-owned),
// then chowns as the setup's prepare_files does: a box fresh from its
// first boot.
func (b *applyBox) boot(bundle Bundle) {
	b.t.Helper()
	for _, f := range bundle.Files {
		p := filepath.Join(b.root, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.t.Fatal(err)
		}
		var mode os.FileMode
		fmt.Sscanf(f.Perms, "%o", &mode)
		if err := os.WriteFile(p, f.Content, mode); err != nil {
			b.t.Fatal(err)
		}
		if uid := bundle.Owners[f.Path]; uid != 0 {
			if err := os.Chown(p, uid, uid); err != nil {
				b.t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(b.root, filepath.Dir(ReadyMarker)), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.root, ReadyMarker), []byte("ready\n"), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// apply runs the bundle's nctalk-apply on the box as ApplyCommand does (the
// bundle unpacked into a private folder) and returns its output, the
// commands it ran, and its error. Each run starts with an empty call log.
func (b *applyBox) apply(bundle Bundle, fakeState ...string) (string, []string, error) {
	b.t.Helper()
	enc, err := bundle.Encode()
	if err != nil {
		b.t.Fatal(err)
	}
	_ = os.Remove(b.log)
	_ = os.WriteFile(b.signalled, nil, 0o644)
	state := filepath.Dir(b.log)
	for _, f := range []string{"refuse-reload", "nginx-refuses"} {
		_ = os.Remove(filepath.Join(state, f))
	}
	for _, f := range fakeState {
		if err := os.WriteFile(filepath.Join(state, f), nil, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	var mounts strings.Builder
	for _, d := range boxDirs {
		fmt.Fprintf(&mounts, "mount -t overlay overlay -o lowerdir=%s,upperdir=%s,workdir=%s %s\n", d,
			ShellQuote(filepath.Join(b.root, d)), ShellQuote(filepath.Join(filepath.Dir(b.root), "work", d)), d)
	}
	mounts.WriteString("mount -t tmpfs tmpfs /run/lock\n")
	script := "set -e\n" + mounts.String() + "exec bash -c \"$0\"\n"
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "bash", "-c", script, ApplyCommand)
	cmd.Stdin = strings.NewReader(enc)
	cmd.Env = append(os.Environ(), "PATH="+b.bin+":"+os.Getenv("PATH"), "FAKE_LOG="+b.log, "FAKE_DIR="+state,
		fmt.Sprintf("FAKE_SIGNALING_PID=%d", b.signalling.Process.Pid))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	raw, _ := os.ReadFile(b.log)
	var calls []string
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if l != "" {
			calls = append(calls, l)
		}
	}
	if got, _ := os.ReadFile(b.signalled); len(got) > 0 {
		calls = append(calls, "signaling got "+strings.TrimSpace(string(got)))
	}
	return out.String(), calls, err
}

// file returns a file of the box with its mode and owner.
func (b *applyBox) file(path string) (content string, mode os.FileMode, uid int) {
	b.t.Helper()
	p := filepath.Join(b.root, path)
	st, err := os.Stat(p)
	if err != nil {
		b.t.Fatalf("%s: %v", path, err)
	}
	c, err := os.ReadFile(p)
	if err != nil {
		b.t.Fatal(err)
	}
	return string(c), st.Mode().Perm(), int(st.Sys().(*syscall.Stat_t).Uid)
}

// withReadyStub replaces the readiness script with one that fails while a
// file of the box exists: the services' answer is the VM test's business.
func withReadyStub(t *testing.T, b Bundle) Bundle {
	t.Helper()
	for i, f := range b.Files {
		if f.Path == ReadyScript {
			b.Files[i].Content = []byte("#!/bin/bash\n# nctalk-ready stand-in\n[ ! -e /var/lib/nctalk/not-ready ]\n")
		}
	}
	nb, err := NewBundle(b.Files)
	if err != nil {
		t.Fatal(err)
	}
	return nb
}

// TestApplyScript runs nctalk-apply through a box's life: what it runs for
// each kind of change, and what it leaves when a daemon refuses one.
func TestApplyScript(t *testing.T) {
	box := newApplyBox(t)
	render := func(change func(*Settings, *Secrets)) Bundle {
		s, sec := referenceSettings(), fakeSecrets()
		if change != nil {
			change(&s, &sec)
		}
		return withReadyStub(t, bundleOf(t, s, sec))
	}
	has := func(calls []string, want string) bool {
		for _, c := range calls {
			if strings.Contains(c, want) {
				return true
			}
		}
		return false
	}
	restarts := func(calls []string) []string {
		var out []string
		for _, c := range calls {
			for _, verb := range []string{" restart ", " up -d", "signaling got", " -s reload", "systemctl reload"} {
				if strings.Contains(c, verb) {
					out = append(out, c)
				}
			}
		}
		return out
	}
	base := render(nil)
	box.boot(base)

	t.Run("fresh from the first boot: nothing to change", func(t *testing.T) {
		out, calls, err := box.apply(base)
		if err != nil || !strings.Contains(out, "nothing to change") {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		if len(calls) != 0 {
			t.Errorf("commands run: %q; want none", calls)
		}
		if _, _, err := box.apply(base); err != nil {
			t.Fatalf("a second apply: %v", err)
		}
	})

	urlAdded := func(s *Settings, _ *Secrets) {
		s.NextcloudURLs = append(s.NextcloudURLs, "https://cloud3.example.com")
	}
	t.Run("a Nextcloud URL: signaling reloaded by SIGHUP, nothing else", func(t *testing.T) {
		b := render(urlAdded)
		out, calls, err := box.apply(b)
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		if got := restarts(calls); len(got) != 1 || got[0] != "signaling got HUP" {
			t.Errorf("actions %q; want only signaling's SIGHUP", got)
		}
		content, mode, uid := box.file(SignalingConfig)
		if !strings.Contains(content, "cloud3.example.com") || mode != 0o400 || uid != SignalingUID {
			t.Errorf("server.conf: mode %o, owner %d, new URL %v; want 0400, %d, true", mode, uid, strings.Contains(content, "cloud3.example.com"), SignalingUID)
		}
		if !strings.Contains(out, "signaling reloaded") {
			t.Errorf("output %q does not say signaling reloaded", out)
		}
	})

	t.Run("signaling refuses the reload: rolled back, the run fails", func(t *testing.T) {
		b := render(func(s *Settings, sec *Secrets) {
			urlAdded(s, sec)
			s.NextcloudURLs = append(s.NextcloudURLs, "https://cloud4.example.com")
		})
		before, _, _ := box.file(SignalingConfig)
		out, calls, err := box.apply(b, "refuse-reload")
		if err == nil {
			t.Fatalf("apply succeeded; want a failure\n%s", out)
		}
		for _, want := range []string{"FAILED", "signaling", "last good files are back"} {
			if !strings.Contains(out, want) {
				t.Errorf("output does not say %q:\n%s", want, out)
			}
		}
		if after, _, _ := box.file(SignalingConfig); after != before {
			t.Error("server.conf is not the last good one after the refused reload")
		}
		if !has(calls, "signaling got HUP") {
			t.Errorf("calls %q; want signaling signalled (then again for the rollback)", calls)
		}
	})

	t.Run("an image bump: that service pulled and recreated", func(t *testing.T) {
		b := render(func(s *Settings, sec *Secrets) {
			urlAdded(s, sec)
			s.Images = map[string]string{ServiceNginx: "nginx:1.30.7-alpine"}
		})
		out, calls, err := box.apply(b)
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		if got := restarts(calls); len(got) != 1 || !strings.HasSuffix(got[0], "up -d --no-deps --quiet-pull nginx") {
			t.Errorf("actions %q; want only nginx recreated", got)
		}
		if !has(calls, "pull --quiet nginx") {
			t.Errorf("calls %q; want the new image pulled first (the old container runs meanwhile)", calls)
		}
	})

	t.Run("nginx refuses its new config: nothing restarted, files back", func(t *testing.T) {
		b := render(func(s *Settings, sec *Secrets) {
			urlAdded(s, sec)
			s.Images = map[string]string{ServiceNginx: "nginx:1.30.7-alpine"}
			s.TURNDomain = "relay.example.com"
		})
		before, _, _ := box.file(NginxConfig)
		out, calls, err := box.apply(b, "nginx-refuses")
		if err == nil || !strings.Contains(out, "nginx -t rejects the new configuration") {
			t.Fatalf("apply: %v; want nginx -t's refusal\n%s", err, out)
		}
		if got := restarts(calls); len(got) != 0 {
			t.Errorf("actions %q; want none", got)
		}
		if after, _, _ := box.file(NginxConfig); after != before {
			t.Error("nginx.conf is not the last good one")
		}
	})

	t.Run("a rotated TURN secret: coturn and signaling restarted", func(t *testing.T) {
		b := render(func(s *Settings, sec *Secrets) {
			urlAdded(s, sec)
			s.Images = map[string]string{ServiceNginx: "nginx:1.30.7-alpine"}
			sec.TURNSecret = fakeSecret("rotatedTurn", 64)
		})
		out, calls, err := box.apply(b)
		if err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
		got := restarts(calls)
		if len(got) != 2 || !strings.HasSuffix(got[0], "restart coturn") || !strings.HasSuffix(got[1], "restart signaling") {
			t.Errorf("actions %q; want coturn, then signaling restarted", got)
		}
		if !strings.Contains(out, "done in ") || !strings.Contains(out, ": coturn restarted, signaling restarted;") {
			t.Errorf("output %q; want it to say \"coturn restarted, signaling restarted\"", out)
		}
		if _, mode, uid := box.file(CoturnConfig); mode != 0o400 || uid != CoturnUID {
			t.Errorf("turnserver.conf: mode %o owner %d; want 0400, %d", mode, uid, CoturnUID)
		}
	})

	t.Run("not ready after the change: rolled back, the run fails", func(t *testing.T) {
		good := render(func(s *Settings, sec *Secrets) {
			urlAdded(s, sec)
			s.Images = map[string]string{ServiceNginx: "nginx:1.30.7-alpine"}
			sec.TURNSecret = fakeSecret("rotatedTurn", 64)
		})
		b := render(func(s *Settings, sec *Secrets) {
			urlAdded(s, sec)
			s.Images = map[string]string{ServiceNginx: "nginx:1.30.7-alpine"}
			sec.TURNSecret = fakeSecret("rotatedTurn", 64)
			s.SSHAllowedCIDRs = append(s.SSHAllowedCIDRs, "192.0.2.0/24")
		})
		if err := os.WriteFile(filepath.Join(box.root, "/var/lib/nctalk/not-ready"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		out, calls, err := box.apply(b)
		_ = os.Remove(filepath.Join(box.root, "/var/lib/nctalk/not-ready"))
		if err == nil || !strings.Contains(out, "not ready after the change") {
			t.Fatalf("apply: %v; want the readiness failure\n%s", err, out)
		}
		if n := strings.Count(strings.Join(calls, "\n"), "systemctl restart nctalk-firewall"); n != 2 {
			t.Errorf("the host firewall was loaded %d times; want twice (the change, then the rollback)", n)
		}
		if !has(calls, "nft -c -f") {
			t.Errorf("calls %q; want the new ruleset checked first", calls)
		}
		// The good state is what runs: applying it again changes nothing.
		if out, calls, err := box.apply(good); err != nil || !strings.Contains(out, "nothing to change") || len(calls) != 0 {
			t.Errorf("after the rollback the last good bundle gives %v, %q, calls %q; want nothing to change", err, out, calls)
		}
	})
}
