package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/tests/images"
)

// Mount is one bind mount in a daemon's private mount namespace.
type Mount struct {
	Source string // a path of the harness' temp tree
	Target string // the absolute path the config names
	// Tmpfs mounts an empty tmpfs at Target instead of binding Source.
	Tmpfs bool
}

// daemonProcess is one running process: a daemon in a container of its
// substitute image, or a setup step in the host's view; either in its own
// mount and PID namespace, so the bind mounts are its alone and killing it
// kills every process it forked.
type daemonProcess struct {
	cmd  *exec.Cmd
	logs *logBuffer
	done chan struct{}
	err  error // exit status, valid after done is closed
}

// namespaceScript is the shell run as PID 1 of the new namespaces: it makes
// the bind mounts, mounts a /proc of the new PID namespace and execs the
// daemon ("$@"), optionally as an unprivileged user.
func namespaceScript(mounts []Mount, user string) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, m := range mounts {
		if m.Tmpfs {
			fmt.Fprintf(&b, "mount -t tmpfs -o mode=0755 tmpfs %s\n", shellQuote(m.Target))
			continue
		}
		fmt.Fprintf(&b, "mount --bind %s %s\n", shellQuote(m.Source), shellQuote(m.Target))
	}
	b.WriteString("mount -t proc proc /proc\n")
	if user != "" {
		uid, gid, _ := strings.Cut(user, ":")
		fmt.Fprintf(&b, "exec setpriv --pdeathsig KILL --reuid=%s --regid=%s --clear-groups -- \"$@\"\n", uid, gid)
	} else {
		b.WriteString("exec \"$@\"\n")
	}
	return b.String()
}

// shellQuote is the project's one shell quoting function.
func shellQuote(s string) string { return cloudconfig.ShellQuote(s) }

// startDaemon starts argv in new mount and PID namespaces with the mounts,
// in the host's file system view (the setup script's steps run there).
// The process dies with the test process (Pdeathsig) and takes its
// children along (it is PID 1 of its namespace).
func startDaemon(name string, argv []string, env []string, mounts []Mount, user string, logs *logBuffer) (*daemonProcess, error) {
	args := append([]string{"-c", namespaceScript(mounts, user), name}, argv...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:      true,
		Pdeathsig:    syscall.SIGKILL,
		Cloneflags:   syscall.CLONE_NEWPID,
		Unshareflags: syscall.CLONE_NEWNS, // Go makes / private (MS_REC|MS_PRIVATE) first
	}
	return startCmd(name, cmd, logs)
}

// startContainer starts one service as a container of its substitute
// image (images.RunSpec: overlay root, chroot, user, capabilities).
func startContainer(spec images.RunSpec, imageRoot, stateDir string, logs *logBuffer) (*daemonProcess, error) {
	cmd, err := spec.Command(imageRoot, stateDir)
	if err != nil {
		return nil, err
	}
	return startCmd(spec.Service, cmd, logs)
}

func startCmd(name string, cmd *exec.Cmd, logs *logBuffer) (*daemonProcess, error) {
	cmd.Stdout = logs
	cmd.Stderr = logs
	if err := StartProcess(cmd); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", name, cmd.Args[0], err)
	}
	p := &daemonProcess{cmd: cmd, logs: logs, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *daemonProcess) exited() (bool, error) {
	select {
	case <-p.done:
		if p.err == nil {
			return true, errors.New("exited with status 0")
		}
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends sig, waits up to grace for the exit, then kills.
func (p *daemonProcess) stop(sig syscall.Signal, grace time.Duration) {
	if done, _ := p.exited(); done {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	// PID 1 of the namespace: killing it kills every process in it.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	_ = p.cmd.Process.Kill()
	<-p.done
}

// logBuffer keeps the last max bytes a daemon wrote to stdout and stderr.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
	tee *os.File // optional full copy on disk
}

func newLogBuffer(max int, tee *os.File) *logBuffer { return &logBuffer{max: max, tee: tee} }

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tee != nil {
		_, _ = l.tee.Write(p)
	}
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - l.max; over > 0 {
		l.buf = append(l.buf[:0], l.buf[over:]...)
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
