// Package tests runs the rendered backend on the real daemons (nginx,
// coturn, Janus, NATS, nextcloud-spreed-signaling) on loopback and uses it
// as Nextcloud and Talk clients would. Every test shares one stack, started
// by TestMain: the daemons bind fixed ports, so two stacks cannot coexist.
package tests

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/tests/harness"
)

var (
	stack    *harness.Stack
	stackErr error
)

func TestMain(m *testing.M) {
	// The stack, its clients and every subprocess get a network namespace
	// of their own: the stack's fixed ports never meet the machine's.
	if code, done := harness.RunInOwnNetwork(); done {
		os.Exit(code)
	}
	stack, stackErr = startStack()
	if stackErr == nil {
		for _, c := range stack.Transforms {
			log.Printf("harness transform: %s", c)
		}
	}
	code := m.Run()
	if stack != nil {
		// Every daemon log of the whole run must be free of secrets.
		if leaks := secretsInLogs(stack); len(leaks) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: secrets in daemon logs: %s\n", strings.Join(leaks, "; "))
			code = 1
		}
		if code != 0 {
			for _, name := range stackServices(stack) {
				fmt.Fprintf(os.Stderr, "===== %s log (tail) =====\n%s\n", name, redactedTail(stack, name, 80))
			}
		}
		if err := stack.Close(); err != nil {
			log.Printf("closing the test stack: %v", err)
		}
	}
	os.Exit(code)
}

// Bounds of the shared stack's start: the substitute root is built (or
// reused) first, under a bound of its own (a cold build took 4 minutes on a
// busy 2-core machine), then the daemons have 90 s to come up.
const (
	imageRootBudget  = 20 * time.Minute
	stackStartBudget = 90 * time.Second
)

func startStack() (*harness.Stack, error) {
	ctx, cancel := context.WithTimeout(context.Background(), imageRootBudget)
	root, err := harness.BuildImageRoot(ctx, log.Printf)
	cancel()
	if err != nil {
		return nil, err
	}
	ctx, cancel = context.WithTimeout(context.Background(), stackStartBudget)
	defer cancel()
	return harness.Start(ctx, harness.Options{ImageRoot: root, Logf: log.Printf})
}

// needStack returns the shared stack, or skips (developer machine without
// the daemons) or fails (CI, or a stack that did not come up). On failure
// the tails of every daemon's log become test output.
func needStack(t testing.TB) *harness.Stack {
	t.Helper()
	if stackErr != nil {
		if errors.Is(stackErr, harness.ErrMissingDaemons) {
			testenv.Skip(t, "%v", stackErr)
		}
		t.Fatalf("the test stack did not start: %v", stackErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range stackServices(stack) {
				t.Logf("----- %s log (tail) -----\n%s", name, redactedTail(stack, name, 60))
			}
		}
	})
	return stack
}

// stackServices are the compose services the stack runs: those of its
// rendering's box (cloudconfig.Plan.Services; one box runs no proxy).
func stackServices(s *harness.Stack) []string {
	plan, err := cloudconfig.NewPlan(s.Settings)
	if err != nil {
		return cloudconfig.ServiceNames()
	}
	return plan.Services()
}

// redactedTail is the end of a daemon's log with every secret replaced by
// its name, fit for test output.
func redactedTail(s *harness.Stack, name string, lines int) string {
	return string(cloudconfig.Redact([]byte(tailLines(s.Logs(name), lines)), s.Secrets))
}

// secretsInLogs names each (service, secret) pair where a daemon wrote a
// secret to its log, without the value.
func secretsInLogs(s *harness.Stack) []string {
	var leaks []string
	for _, name := range stackServices(s) {
		logs := s.Logs(name)
		for _, sec := range s.Secrets.List() {
			if sec.Value != "" && strings.Contains(logs, sec.Value) {
				leaks = append(leaks, fmt.Sprintf("%s log contains %s", name, sec.Name))
			}
		}
	}
	return leaks
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// bounded returns a context for one test step.
func bounded(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
