package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errLocked is the cause when another process held a lock until the
// caller's context ended.
var errLocked = errors.New("held by another process")

// Lock takes an exclusive flock on path for a test that needs what the lock
// guards on this machine (ports, a tap device), retrying every 200 ms until
// ctx ends (an already ended ctx tries once), and writes this process's PID
// into the file. The lock lasts until the file is closed or the process
// ends. When ctx ends first, the error wraps errLocked and names the
// holder's PID.
func Lock(ctx context.Context, path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if err := f.Truncate(0); err == nil {
				_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			}
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			holder, _ := os.ReadFile(path)
			f.Close()
			return nil, fmt.Errorf("pid %s holds %s: %w", strings.TrimSpace(string(holder)), path, errLocked)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
