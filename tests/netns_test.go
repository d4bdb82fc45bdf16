package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/tests/harness"
	"github.com/nctalk/nctalk/tests/images"
)

// needNetnsRoot skips (developer machine) or fails (CI) when the test cannot
// build network namespaces: it needs root, ip, nft and setpriv.
func needNetnsRoot(t testing.TB) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"ip", "nft", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	switch {
	case os.Geteuid() != 0:
		missing = append(missing, "root")
	case len(missing) == 0:
		return
	}
	testenv.Missing(t, missing, "the network namespace tests need them")
}

// newNetns creates a named network namespace with loopback up and removes
// it (with every process and interface in it) when the test ends.
func newNetns(t testing.TB, role string) string {
	t.Helper()
	name := fmt.Sprintf("nct-%s-%d", role, os.Getpid())
	_ = exec.Command("ip", "netns", "del", name).Run() // a leftover of a killed run
	mustRun(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		// Kill what still runs in it, then drop it. Never this test
		// process: `ip netns pids` reads /proc/<pid>/ns/net, the main
		// thread's, which inNetns leaves in the namespace should its way
		// back fail.
		if out, err := exec.Command("ip", "netns", "pids", name).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				if pid == strconv.Itoa(os.Getpid()) {
					continue
				}
				_ = exec.Command("kill", "-9", pid).Run()
			}
		}
		_ = exec.Command("ip", "netns", "del", name).Run()
	})
	mustRun(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// mustRun runs a command to completion and fails the test on error.
func mustRun(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// nsExec runs argv in the namespace as uid (0: root; otherwise uid:gid
// uid:uid without supplementary groups, as a container's user) and returns
// its combined output. It is bounded by timeout.
func nsExec(ns string, uid int, timeout time.Duration, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := []string{"netns", "exec", ns}
	if uid != 0 {
		full = append(full, "setpriv", fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups", "--")
	}
	out, err := exec.CommandContext(ctx, "ip", append(full, argv...)...).CombinedOutput()
	return string(out), err
}

// inNetns runs fn on an OS thread that has entered the named network
// namespace. Sockets fn creates belong to that namespace and can be used
// from any goroutine afterwards. The thread goes back to its own namespace
// before it runs anything else: Go never ends the main thread, so a thread
// left in ns could be the main thread, whose namespace /proc/net and `ip
// netns pids` read. Where the way back fails, the thread stays locked and
// exits with the goroutine (TestInNetnsLeavesNoThreadBehind).
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- fmt.Errorf("this thread's network namespace: %w", err)
			return
		}
		defer home.Close()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		err = fn()
		if back := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); back != nil {
			errc <- errors.Join(err, fmt.Errorf("setns back from %s: %w", ns, back))
			return // still locked: the thread ends with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// renderedFiles renders the cloud-config for s with fresh secrets and
// returns its write_files by path, and the secrets.
func renderedFiles(t *testing.T, s cloudconfig.Settings) (map[string]harness.WrittenFile, cloudconfig.Secrets) {
	t.Helper()
	sec, err := harness.RandomSecrets()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := cloudconfig.Render(s, sec)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	files, err := harness.WriteFiles(doc)
	if err != nil {
		t.Fatalf("write_files: %v", err)
	}
	return files, sec
}

// loadFirewall loads the rendered host firewall into the namespace with the
// real nft, as nctalk-firewall.service does at boot.
func loadFirewall(t *testing.T, ns string, files map[string]harness.WrittenFile) {
	t.Helper()
	f, ok := files[cloudconfig.HostFirewallConfig]
	if !ok {
		t.Fatalf("the cloud-config writes no %s", cloudconfig.HostFirewallConfig)
	}
	p := t.TempDir() + "/nftables.nft"
	if err := os.WriteFile(p, f.Content, 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "ip", "netns", "exec", ns, "nft", "-f", p)
}

// lockedBuffer is an io.Writer safe for a daemon's output and a reader.
type lockedBuffer struct {
	ch  chan struct{}
	buf bytes.Buffer
}

func newLockedBuffer() *lockedBuffer {
	b := &lockedBuffer{ch: make(chan struct{}, 1)}
	b.ch <- struct{}{}
	return b
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	<-b.ch
	defer func() { b.ch <- struct{}{} }()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	<-b.ch
	defer func() { b.ch <- struct{}{} }()
	return b.buf.String()
}

// startContainerInNetns runs service in the network namespace ns the way the
// test stack runs it: from its substitute image (tests/images), with the
// rendered compose file's entrypoint, command, user, capabilities and
// no-new-privileges (harness.ContainerSpec), and confDir bound read-only at
// vmDir, the service's config directory on the VM. It is killed when the
// test ends; its output is in the returned buffer.
func startContainerInNetns(t testing.TB, ns string, files map[string]harness.WrittenFile, service, confDir, vmDir string) *lockedBuffer {
	t.Helper()
	spec, err := harness.ContainerSpec(files, service)
	if err != nil {
		t.Fatal(err)
	}
	spec.Binds = append(spec.Binds, images.Bind{Source: confDir, Target: vmDir, ReadOnly: true})
	return runInNetns(t, ns, spec).logs
}

// nsContainer is a container runInNetns started.
type nsContainer struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	// done is closed when the container's process has exited.
	done chan struct{}
}

// PID is the container's process on the host: its PID 1, which the image's
// entrypoint replaces with the daemon (exec).
func (c *nsContainer) PID() int { return c.cmd.Process.Pid }

// exited says whether the container's process has ended.
func (c *nsContainer) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// runInNetns starts the container spec describes (its substitute image
// from tests/images) in the network namespace ns. It is killed when the
// test ends.
func runInNetns(t testing.TB, ns string, spec images.RunSpec) *nsContainer {
	t.Helper()
	root, err := images.BuildRoot(context.Background(), images.CacheDir())
	if err != nil {
		t.Fatalf("substitute images: %v", err)
	}
	state, err := os.MkdirTemp("", "nctalk-"+spec.Service+"-")
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := spec.Command(root, state)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Path = ip
	cmd.Args = append([]string{"ip", "netns", "exec", ns}, cmd.Args...)
	out := newLockedBuffer()
	cmd.Stdout, cmd.Stderr = out, out
	if err := harness.StartProcess(cmd); err != nil { // Pdeathsig: from a thread that never ends
		t.Fatalf("starting %s: %v", spec.Service, err)
	}
	c := &nsContainer{cmd: cmd, logs: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
		_ = exec.Command("umount", "-R", state+"/merged").Run() // normally gone with the mount namespace
		_ = os.RemoveAll(state)
	})
	return c
}

// waitForLog waits until logs holds want, failing the test with the logs
// after timeout.
func waitForLog(t *testing.T, logs *lockedBuffer, want string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !strings.Contains(logs.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after %v:\n%s", want, timeout, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestInNetnsLeavesNoThreadBehind: after inNetns, every thread of this
// process is back in the test's own network namespace. Go does not end the
// main thread when a goroutine locked to it exits; it parks it for good.
// When inNetns' goroutine ran there and did not switch back, the main
// thread stayed in the other namespace, and /proc/net (the main thread's
// namespace) then listed that namespace's sockets: the stack's checks saw
// no connection to NATS (CI, TestResilience after TestMediaOnProxies).
func TestInNetnsLeavesNoThreadBehind(t *testing.T) {
	needNetnsRoot(t)
	ns := newNetns(t, "threads")
	home, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := inNetns(ns, func() error { return nil }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if got, err := os.Readlink(task); err == nil && got != home {
			t.Errorf("thread %s is in %s, not in the test's namespace %s: inNetns must switch back before its thread runs anything else", task, got, home)
		}
	}
}
