package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire"
)

const occAbout = `Reads the stack outputs, asks occ for Talk's signaling, TURN and STUN
settings and runs only the occ commands that bring them to this backend.
Running it again after a success changes nothing.

The prefix is how occ is reached, split into words like a shell would (no
pipes, no variables); occ's arguments are appended as separate words:
  --occ 'sudo -u www-data php /var/www/nextcloud/occ'
  --occ 'docker exec -u www-data nextcloud php occ'
  --occ 'docker exec -u www-data nextcloud-aio-nextcloud php /var/www/html/occ'
  --occ 'ssh cloud.example.com sudo -u www-data php /var/www/nextcloud/occ'

Entries the installed Talk would refuse (talk:stun:add '[2001:db8::1]:3478')
stop the run before any occ call (exit 2); entries Talk stores in another
spelling (host:03478 as host:3478) are planned in that spelling. An occ
command that fails, or exits 0 with a reason instead of Talk's output
(Cannot write into "config" directory!), is exit 1. At --timeout the whole
process tree of the prefix (sudo and the php below it) is killed. See
docs/occ.md.`

// runOcc is `nctalk occ`.
func runOcc(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("occ", "nctalk occ --occ PREFIX [--outputs SOURCE] [--stack NAME] [--pulumi PATH] [flags]", occAbout, stdout, stderr)
	prefix := fs.String("occ", "PREFIX", "", "the command that runs Nextcloud's occ (required)")
	outputsSource := fs.outputsFlag()
	stack := fs.stackFlag("")
	pulumiBin := fs.pulumiFlag()
	dryRun := fs.Bool("dry-run", "print the plan (secrets masked) and change nothing")
	replace := fs.Bool("replace", "also remove signaling, TURN and STUN entries of other servers")
	timeout := fs.Duration("timeout", 2*time.Minute, "limit for each occ command; at the limit the prefix's whole process tree is killed")
	if code, done := fs.parse(args); done {
		return code
	}
	if strings.TrimSpace(*prefix) == "" {
		return fs.fail(exitBadInput, "--occ is required, e.g. --occ 'sudo -u www-data php /var/www/nextcloud/occ'")
	}
	runner, err := occwire.NewRunner(*prefix)
	if err != nil {
		return fs.fail(exitBadInput, "--occ: %v", err)
	}
	runner.Timeout = *timeout

	want, err := readDesired(*outputsSource, *stack, *pulumiBin, stdin)
	if err != nil {
		return fs.fail(exitFor(err), "%v", err)
	}
	m := occwire.NewMasker(want.Secrets()...)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	cur, err := occwire.Read(ctx, runner)
	if err != nil {
		return reportOccError(stderr, runner, m, err, "")
	}
	m.Add(cur.Secrets()...)
	plan := occwire.MakePlan(cur, want, occwire.Options{Replace: *replace})
	for _, n := range plan.Notes {
		fmt.Fprintln(stdout, m.String("note: "+n))
	}
	if len(plan.Steps) == 0 {
		fmt.Fprintln(stdout, m.Printf("nothing to do: Nextcloud already uses %s and its TURN and STUN servers", want.SignalingURL))
		return exitOK
	}
	fmt.Fprintln(stdout, m.Printf("plan: %d occ command(s)", len(plan.Steps)))
	for _, s := range plan.Steps {
		fmt.Fprintln(stdout, m.Printf("  %s\n      # %s", runner.Display(s.Args, m), s.Reason))
	}
	if *dryRun {
		fmt.Fprintln(stdout, "dry run: nothing changed")
		return exitOK
	}

	done := 0
	err = occwire.Apply(ctx, runner, plan.Steps, func(s occwire.Step) {
		fmt.Fprintln(stdout, m.Printf("running: %s", runner.Display(s.Args, m)))
		done++
	})
	if err != nil {
		return reportOccError(stderr, runner, m, err, fmt.Sprintf(
			"%d of %d command(s) succeeded before the failure; fix the cause and run the same command again: it reads Nextcloud's state afresh and does the rest", done-1, len(plan.Steps)))
	}

	// Read back: occ may accept a value and store another (it strips
	// https:// from TURN servers, for one), and another admin may be at work.
	after, err := occwire.Read(ctx, runner)
	if err != nil {
		return reportOccError(stderr, runner, m, err, "the changes were applied, reading them back failed")
	}
	m.Add(after.Secrets()...)
	if rest := occwire.MakePlan(after, want, occwire.Options{Replace: *replace}); len(rest.Steps) > 0 {
		fmt.Fprintln(stderr, m.Printf("nctalk occ: occ reported success, but Nextcloud still differs; still to do:"))
		for _, s := range rest.Steps {
			fmt.Fprintln(stderr, m.Printf("  %s   # %s", runner.Display(s.Args, m), s.Reason))
		}
		return exitFailed
	}
	fmt.Fprintln(stdout, m.Printf("done: %d occ command(s) applied; Nextcloud now uses %s", len(plan.Steps), want.SignalingURL))
	return exitOK
}

// readDesired reads the stack outputs from source (readStackOutputs) into
// the desired Talk settings.
func readDesired(source, stack, pulumiBin string, stdin io.Reader) (occwire.Desired, error) {
	o, err := readStackOutputs(source, stack, pulumiBin, stdin)
	if err != nil {
		return occwire.Desired{}, err
	}
	return occwire.DesiredFrom(o)
}

// reportOccError prints a failed occ command and its output, masked, and
// returns the exit code for it.
func reportOccError(stderr io.Writer, r occwire.Runner, m *occwire.Masker, err error, hint string) int {
	var oe *occwire.OccError
	if !errors.As(err, &oe) {
		fmt.Fprintln(stderr, m.Printf("nctalk occ: %v", err))
		return exitFailed
	}
	fmt.Fprintln(stderr, m.Printf("nctalk occ: occ failed: %s\n  %v", r.Display(oe.Args, m), oe.Err))
	if out := strings.TrimSpace(m.String(string(oe.Output))); out != "" {
		fmt.Fprintln(stderr, "occ's output:")
		for _, line := range strings.Split(out, "\n") {
			fmt.Fprintln(stderr, "  | "+line)
		}
	}
	if hint != "" {
		fmt.Fprintln(stderr, m.String(hint))
	}
	return exitFailed
}
