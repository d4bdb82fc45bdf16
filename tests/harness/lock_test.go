package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLock: a second holder is refused, naming the first, until the first
// lets go.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "machine.lock")
	first, err := Lock(context.Background(), path)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	now, cancel := context.WithCancel(context.Background())
	cancel() // try once
	_, err = Lock(now, path)
	if !errors.Is(err, errLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())+" ") {
		t.Fatalf("second lock while the first is held: %v; want refused, naming pid %d", err, os.Getpid())
	}
	first.Close()
	second, err := Lock(now, path)
	if err != nil {
		t.Fatalf("lock after the first let go: %v", err)
	}
	second.Close()
}
