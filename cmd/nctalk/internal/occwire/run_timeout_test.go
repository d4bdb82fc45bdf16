package occwire

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunnerTimeoutBehindWrapper runs occ behind a wrapper that, like sudo,
// runs the command as its child and waits for it. At the timeout the
// wrapper dies, but its child still holds the output pipes: Run must kill
// the wrapper's whole tree (sudo's use_pty puts the command in a session
// of its own, still below sudo), and must not wait for a process that
// escaped the tree.
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
		// The wrapper runs on till the deadline; its child left the tree.
		{"child that escaped the tree", "( setsid \"$@\" & )\nsleep 8 &", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			wrapper := filepath.Join(dir, "sudo")
			child := filepath.Join(dir, "php")
			pidFile, doneFile := filepath.Join(dir, "pid"), filepath.Join(dir, "done")
			write := func(path, body string) {
				if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write(wrapper, "#!/bin/sh\n"+tc.launch+"\nwait\n")
			// The child holds stdout and stderr; it marks when it would
			// have finished on its own.
			write(child, "#!/bin/sh\necho $$ > "+ShellQuote(pidFile)+"\necho started\nsleep 8\ntouch "+ShellQuote(doneFile)+"\n")
			r := Runner{Prefix: []string{wrapper, child}, Timeout: time.Second}
			_, err := r.Run(context.Background(), "talk:stun:list")
			if err == nil {
				t.Fatal("Run succeeded, want the timeout's error")
			}
			if _, statErr := os.Stat(doneFile); statErr == nil {
				t.Fatalf("Run returned only after the child finished (%v): it waited on the pipes past the timeout", err)
			}
			pidText, readErr := os.ReadFile(pidFile)
			if readErr != nil {
				t.Fatalf("the child never started: %v", readErr)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(pidText)))
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			alive := func() bool {
				// A killed child may linger as a zombie until init reaps it.
				if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
					return false
				}
				stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
				return err == nil && !strings.Contains(string(stat), ") Z ")
			}
			if tc.killed {
				for i := 0; i < 100 && alive(); i++ {
					time.Sleep(20 * time.Millisecond)
				}
				if alive() {
					t.Errorf("the child (pid %d) below occ survived the timeout", pid)
				}
			}
		})
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
