package vm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// machineLock is the file whose flock gives one VM test at a time this
// machine's shared test resources: the tap device tapDevice with its
// subnet hostTapNet, and cacheDir. Two runs side by side take each
// other's tap: the first one's setupTap deletes the second's, or its
// cleanup does, and the next QEMU then creates a tap of that name without
// an address, so the host sends the guest's public address out through its
// default route (seen once: a CI rehearsal started while a failed one's VM
// test still ran; every `nctalk verify` reached the sandbox's egress proxy).
var machineLock = "/run/lock/nctalk-vm-test.lock"

// lockMachine takes machineLock for the rest of the test, or fails at once
// naming the process that holds it.
func lockMachine(t *testing.T) {
	t.Helper()
	f, err := acquireMachineLock(machineLock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}

// errLocked is the cause when another process holds the lock.
var errLocked = errors.New("held by another process")

// acquireMachineLock takes an exclusive flock on path without waiting and
// writes this process's PID into it; the lock lasts until the file is
// closed or the process ends.
func acquireMachineLock(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("VM test lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("VM test lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another VM test (pid %s) holds %s: %w; it owns the tap %s (%s) on this machine, so this run would break it and itself: wait for it to end, or kill it", strings.TrimSpace(string(holder)), path, errLocked, tapDevice, hostTapNet)
		}
		return nil, fmt.Errorf("VM test lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// TestMachineLock needs no VM: a second holder is refused, naming the
// first, until the first lets go.
func TestMachineLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vm.lock")
	first, err := acquireMachineLock(path)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	_, err = acquireMachineLock(path)
	if !errors.Is(err, errLocked) || !strings.Contains(err.Error(), "(pid "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("second lock while the first is held: %v; want refused, naming pid %d", err, os.Getpid())
	}
	first.Close()
	second, err := acquireMachineLock(path)
	if err != nil {
		t.Fatalf("lock after the first let go: %v", err)
	}
	second.Close()
}
