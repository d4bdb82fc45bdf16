// Command nctalk is the companion CLI of the nctalk Pulumi stack: it renders
// the cloud-config for other clouds, wires Nextcloud from the stack outputs,
// checks a live backend and summarises previews for pull requests.
package main

import (
	"fmt"
	"io"
	"os"
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
	{"preview-summary", "turn `pulumi preview --json` into a Markdown pull-request comment (no secrets)", runPreviewSummary},
	{"cloud-config", "print the deployed cloud-config with every secret redacted (from the stack state)", runCloudConfig},
	{"teardown", "delete the backend, keeping the primary IPs and state volume unless --release", runTeardown},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		usage(stderr)
		return exitBadInput
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help" && len(args) == 1:
		usage(stdout)
		return exitOK
	case args[0] == "help":
		// nctalk help <command>: that command's help, as --help gives it.
		return run([]string{args[1], "--help"}, stdin, stdout, stderr)
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
	fmt.Fprintln(w, "\nRun `nctalk <command> --help` (or `nctalk help <command>`) for a command's flags.")
	writeExitCodes(w)
}
