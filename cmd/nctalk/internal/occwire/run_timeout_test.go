package occwire

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// timeoutScene is occ behind a wrapper that, like sudo, runs the command as
// its child. Wrapper and child block on FIFOs, so neither finishes on its
// own: what ends them is Run's timeout, or the test writing to the FIFOs.
type timeoutScene struct {
	runner          Runner
	pidFile         string
	childGo, wrapGo string // the FIFOs the child and the wrapper wait on
}

func newTimeoutScene(t testing.TB, launch string) timeoutScene {
	t.Helper()
	dir := t.TempDir()
	sc := timeoutScene{pidFile: filepath.Join(dir, "pid"), childGo: filepath.Join(dir, "child-go"), wrapGo: filepath.Join(dir, "wrapper-go")}
	for _, f := range []string{sc.childGo, sc.wrapGo} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	wrapper, child := filepath.Join(dir, "sudo"), filepath.Join(dir, "php")
	// The wrapper starts the child as launch says, then waits on its FIFO;
	// the child holds stdout and stderr and waits on its own.
	write(wrapper, "#!/bin/sh\n"+launch+"\nread x < "+shellQuote(sc.wrapGo)+"\n")
	write(child, "#!/bin/sh\necho $$ > "+shellQuote(sc.pidFile)+"\necho started\nread x < "+shellQuote(sc.childGo)+"\n")
	sc.runner = Runner{Prefix: []string{wrapper, child}, Timeout: time.Second}
	return sc
}

// release lets whatever still waits on the FIFOs finish (a FIFO opened
// for writing and closed ends the reader's read).
func (sc timeoutScene) release() {
	for _, f := range []string{sc.childGo, sc.wrapGo} {
		if w, err := os.OpenFile(f, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	}
}

// TestRunnerTimeoutBehindWrapper: at the timeout the wrapper dies, but its
// child still holds the output pipes. Run must kill the wrapper's whole tree
// (sudo's use_pty puts the command in a session of its own, still below
// sudo), and must not wait for a process that escaped the tree. Nothing
// here depends on how long Run takes: the processes never end by
// themselves, so a Run that waited for them would return only after the
// test released them, which the test sees.
func TestRunnerTimeoutBehindWrapper(t *testing.T) {
	for _, tc := range []struct {
		name string
		// launch starts the child from the wrapper script.
		launch string
		// killed says whether the child must be dead once Run returns.
		killed bool
	}{
		{"child in the wrapper's process group", `"$@" &`, true},
		{"child in a session of its own (sudo's use_pty)", `setsid "$@" &`, true},
		{"child that escaped the tree", `( setsid "$@" & )`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newTimeoutScene(t, tc.launch)
			t.Cleanup(sc.release)
			var released atomic.Bool
			done := make(chan struct{})
			// A Run that waits for the child would never return: after a
			// minute let everything finish, and say so below.
			go func() {
				select {
				case <-done:
				case <-time.After(time.Minute):
					released.Store(true)
					sc.release()
				}
			}()
			_, err := sc.runner.Run(context.Background(), "talk:stun:list")
			close(done)
			if !errors.Is(err, errTimeout) {
				t.Fatalf("Run = %v, want ErrTimeout", err)
			}
			if released.Load() {
				t.Fatal("Run returned only once the test let the child finish: it waited on the pipes past the timeout")
			}
			pidText, readErr := os.ReadFile(sc.pidFile)
			if readErr != nil {
				t.Fatalf("the child never started: %v", readErr)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			if tc.killed {
				if alive := waitDead(pid); alive {
					t.Errorf("the child (pid %d) below occ survived the timeout", pid)
				}
			} else if !alive(pid) {
				t.Errorf("the escaped child (pid %d) is gone; the case tests nothing", pid)
			}
		})
	}
}

// alive reports whether pid runs; a killed process may linger as a zombie
// until init reaps it, which counts as dead.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

// waitDead gives the kernel a moment to finish a SIGKILL, and reports
// whether pid is still alive.
func waitDead(pid int) bool {
	for i := 0; i < 500 && alive(pid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return alive(pid)
}

// BenchmarkRunnerTimeout measures how long Run takes to return for occ
// behind a sudo-like wrapper that never finishes: its Timeout (1 s) plus
// what killing the tree and closing the pipes cost. Figures are recorded
// in docs/occ.md, not asserted.
func BenchmarkRunnerTimeout(b *testing.B) {
	for range b.N {
		sc := newTimeoutScene(b, `setsid "$@" &`)
		if _, err := sc.runner.Run(context.Background(), "talk:stun:list"); !errors.Is(err, errTimeout) {
			b.Fatalf("Run = %v, want ErrTimeout", err)
		}
		sc.release()
	}
}

// TestRunnerKeepsOccInTheForeground: occ runs in nctalk's own process group,
// the terminal's foreground group, so that sudo's password prompt and ssh's
// questions can read the terminal (a group of its own would be stopped by
// SIGTTIN).
func TestRunnerKeepsOccInTheForeground(t *testing.T) {
	// Field 5 of /proc/PID/stat is the process group.
	r := Runner{Prefix: []string{"sh", "-c", "cut -d' ' -f5 /proc/$$/stat"}}
	res, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
	if want := syscall.Getpgrp(); got != want {
		t.Errorf("occ ran in process group %d, nctalk is in %d", got, want)
	}
}
