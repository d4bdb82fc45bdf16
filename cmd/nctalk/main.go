// Command nctalk is the companion CLI of the nctalk Pulumi stack: it renders
// the cloud-config for other clouds, wires Nextcloud from the stack outputs,
// checks a live backend and summarises previews for pull requests.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes, the same for every command.
const (
	exitOK       = 0 // the command did what it was asked
	exitFailed   = 1 // the world said no: a check failed, occ failed, a file could not be read or written
	exitBadInput = 2 // bad flags, config, secrets or stack outputs: nothing was changed
)

// command is one subcommand. run returns the process exit code.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands is the command table, in the order `nctalk --help` lists it.
var commands = []command{
	{"render", "render the backend's cloud-config for any cloud that takes user data", runRender},
	{"occ", "wire Nextcloud Talk to the backend through occ (idempotent)", runOcc},
	{"verify", "check a live backend the way Nextcloud and Talk clients use it", runVerify},
	{"preview-summary", "turn `pulumi preview --json` into a Markdown PR comment (no secrets)", runPreviewSummary},
	{"cloud-config", "print the deployed cloud-config with every secret redacted (from the stack state)", runCloudConfig},
	{"teardown", "delete the backend, keeping the primary IPs and state volume unless --release", runTeardown},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			usage(stderr)
			return exitBadInput
		}
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "nctalk: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitBadInput
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: nctalk <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, `
Run `+"`nctalk <command> -h`"+` for a command's flags.

Exit codes (every command):
  %d  done
  %d  the world said no: a check failed, occ failed, a file could not be read or written
  %d  bad input: flags, config, secrets or stack outputs; nothing was changed
`, exitOK, exitFailed, exitBadInput)
}

// newFlagSet is a command's flag set: parse errors and usage go to stderr,
// and the usage is text followed by the flags.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprint(stderr, usage)
		fl.PrintDefaults()
	}
	return fl
}

// parseFlags parses a command's flags. When done is true the command
// returns code at once: exitOK after -h, exitBadInput after a flag the
// flag package refused (it has said why on stderr).
func parseFlags(fl *flag.FlagSet, args []string) (code int, done bool) {
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, true
		}
		return exitBadInput, true
	}
	return exitOK, false
}
