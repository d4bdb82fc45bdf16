package harness

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// NetnsEnv marks a test process that runs in the private network namespace
// RunInOwnNetwork made for it.
const NetnsEnv = "NCTALK_TEST_NETNS"

// RunInOwnNetwork runs the calling test binary again, with the same
// arguments, in a new network namespace of its own (only a loopback
// interface), and returns its exit code with done = true; the caller
// exits with it. In that child (or without root, where no namespace can
// be made and the stack skips anyway) it returns done = false after
// bringing the loopback up, and the caller goes on with its tests.
//
// So the stack's fixed ports (80, 443, 3478, …) never meet the machine's
// own services, and nothing the tests start can reach the machine's
// network: the stack, its clients and subprocesses (`nctalk verify`,
// browsers) share the namespace's loopback.
func RunInOwnNetwork() (code int, done bool) {
	if os.Getenv(NetnsEnv) == "1" {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "harness: loopback of the test network namespace: %v: %s\n", err, out)
			return 1, true
		}
		return 0, false
	}
	if os.Geteuid() != 0 {
		return 0, false
	}
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), NetnsEnv+"=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &exit):
		return exit.ExitCode(), true
	default:
		fmt.Fprintf(os.Stderr, "harness: run the tests in their own network namespace: %v\n", err)
		return 1, true
	}
}
