package cloudconfig

import (
	"os"
	"os/exec"
	"testing"
)

// requireTool returns the path of an external checker. In CI (CI=true) a
// missing tool fails the test; on a dev machine the test is skipped with the
// install hint.
func requireTool(t *testing.T, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed (CI must install it: %s)", name, hint)
	}
	t.Skipf("%s is not installed; install it with: %s", name, hint)
	return ""
}
