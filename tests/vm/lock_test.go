package vm

import (
	"context"
	"testing"

	"github.com/nctalk/nctalk/tests/harness"
)

// machineLock is the lock that gives one VM test at a time this machine's
// shared test resources: the tap device tapDevice with its subnet
// hostTapNet, and cacheDir. Two runs side by side take each other's tap:
// the first one's setupTap deletes the second's, or its cleanup does, and
// the next QEMU then creates a tap of that name without an address, so the
// host sends the guest's public address out through its default route
// (seen once: a CI rehearsal started while a failed one's VM test still
// ran; every `nctalk verify` reached the sandbox's egress proxy).
const machineLock = "/run/lock/nctalk-vm-test.lock"

// lockMachine takes machineLock for the rest of the test, or fails at once
// naming the process that holds it.
func lockMachine(t *testing.T) {
	t.Helper()
	now, cancel := context.WithCancel(context.Background())
	cancel() // do not wait: a VM test runs for about 25 minutes
	f, err := harness.Lock(now, machineLock)
	if err != nil {
		t.Fatalf("another VM test: %v; it owns the tap %s (%s) on this machine, so this run would break it and itself: wait for it to end, or kill it", err, tapDevice, hostTapNet)
	}
	t.Cleanup(func() { f.Close() })
}
