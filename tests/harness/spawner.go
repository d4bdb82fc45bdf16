package harness

import (
	"os/exec"
	"runtime"
	"sync"
)

// Linux sends a child its Pdeathsig (SIGKILL for every daemon here) when
// the thread that forked it exits, not when the process does; and Go ends
// an OS thread whose goroutine returns while locked to it, as the tests'
// setns helper (inNetns) does on purpose. A daemon forked from a thread that
// such a helper later took over died with it: nginx "exited: signal:
// killed" at the start of a CI run, every test through 443 failing after.
// So every daemon is started from one thread that never exits.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

// StartProcess runs cmd.Start on the spawner thread: use it for every
// process with a Pdeathsig that must live longer than the calling goroutine.
func StartProcess(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked, never returns: the thread lives as long as the process
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnReqs <- spawnReq{cmd: cmd, done: done}
	return <-done
}
