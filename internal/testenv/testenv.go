// Package testenv decides, for every package's tests, what happens when a
// test cannot run here: on a developer machine it skips and says what is
// missing; under CI=true every skip is a failure. No test calls t.Skip
// itself (TestOnlyTestenvSkips holds the tree to that).
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CI reports whether the tests run as CI runs them: the environment
// variable CI is exactly "true" (GitHub Actions and .ci/run set it so).
func CI() bool { return os.Getenv("CI") == "true" }

// Skip ends the test as skipped with the reason, or, under CI=true, as
// failed with it: CI runs every test.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	reason := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatalf("CI=true: a skip is a failure: %s", reason)
	}
	t.Skip(reason)
}

// SkipUnless calls Skip with the reason when ok is false.
func SkipUnless(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if !ok {
		Skip(t, format, args...)
	}
}

// SkipShort skips a long test under -short (go test -short), saying what
// it would have done; under CI=true -short is a failure like any skip.
func SkipShort(t testing.TB, what string) {
	t.Helper()
	if testing.Short() {
		Skip(t, "-short: %s", what)
	}
}

// Tool returns the path of an external program the test runs, or skips
// with the install hint (a failure under CI=true).
func Tool(t testing.TB, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Skip(t, "%s is not installed; install it with: %s", name, hint)
	}
	return p
}

// Root skips unless the test runs as root, saying what needs it.
func Root(t testing.TB, why string) {
	t.Helper()
	SkipUnless(t, os.Geteuid() == 0, "needs root: %s", why)
}

// Missing skips when what is not empty, naming every missing
// prerequisite at once.
func Missing(t testing.TB, what []string, hint string) {
	t.Helper()
	if len(what) > 0 {
		Skip(t, "missing %s; %s", strings.Join(what, ", "), hint)
	}
}
