package harness

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestDaemonOutlivesTheThreadThatStartedIt: a daemon started from a
// goroutine whose OS thread then ends (a goroutine that returns locked to
// its thread, as inNetns does) keeps running: its Pdeathsig follows the
// spawner thread, which never ends.
func TestDaemonOutlivesTheThreadThatStartedIt(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan *daemonProcess)
	var start func()
	start = func() {
		runtime.LockOSThread() // never unlocked: Go ends this thread when the goroutine returns
		if syscall.Gettid() == os.Getpid() {
			// The main thread is parked, not ended, when its goroutine
			// returns locked: it would prove nothing. Try on another thread.
			go start()
			return
		}
		p, err := startCmd("sleep", cmd, newLogBuffer(1<<10, nil))
		if err != nil {
			t.Error(err)
		}
		started <- p
	}
	go start()
	p := <-started
	if p == nil {
		t.FailNow()
	}
	defer p.stop(syscall.SIGKILL, 0)
	// The starting thread is gone within milliseconds, and a SIGKILL from
	// its end arrives at once. Look for two seconds.
	for range 20 {
		if done, err := p.exited(); done {
			t.Fatalf("the daemon died when the thread that started it ended: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
