package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// Exit codes, the same for every command (exitCodes says what each means;
// TestCLIGrammar holds every command to them).
const (
	exitOK       = 0 // the command did what it was asked
	exitFailed   = 1 // the world said no
	exitBadInput = 2 // bad input: nothing was changed
)

// exitCodes is the one exit-code table, printed by `nctalk --help` and by
// every command's help.
var exitCodes = []struct {
	code    int
	meaning string
}{
	{exitOK, "done"},
	{exitFailed, "the world said no: a check failed; occ, pulumi or the Hetzner API failed or is missing; output could not be written"},
	{exitBadInput, "bad input: a flag, an argument, a file named on the command line that cannot be read or does not hold what it should, stack outputs that are incomplete; nothing was changed"},
}

// writeExitCodes writes the exit-code table.
func writeExitCodes(w io.Writer) {
	fmt.Fprintln(w, "\nExit codes (every command):")
	for _, e := range exitCodes {
		fmt.Fprintf(w, "  %d  %s\n", e.code, e.meaning)
	}
}

// worldError is a failure outside the input (pulumi or another program
// refused or is missing): exit 1, not 2.
type worldError struct{ err error }

func (e worldError) Error() string { return e.err.Error() }
func (e worldError) Unwrap() error { return e.err }

// exitFor is the exit code of an error: 1 for a worldError, 2 otherwise.
func exitFor(err error) int {
	var w worldError
	if errors.As(err, &w) {
		return exitFailed
	}
	return exitBadInput
}

// flagDoc is one flag as the help lists it.
type flagDoc struct{ name, placeholder, help, def string }

// flagSet is one command's command line: the flag package parses it (-x and
// --x alike); the help lists every flag as --name PLACEHOLDER, goes to
// stdout when asked for (-h, --help, `nctalk help <command>`) and to stderr
// with the error on misuse. No command takes arguments besides its flags.
type flagSet struct {
	fs             *flag.FlagSet
	name           string // the command
	synopsis       string // the usage line after "usage: "
	about          string // what the command does, a paragraph or two
	docs           []flagDoc
	stdout, stderr io.Writer
}

func newFlagSet(name, synopsis, about string, stdout, stderr io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are written by parse
	fs.Usage = func() {}
	return &flagSet{fs: fs, name: name, synopsis: synopsis, about: about, stdout: stdout, stderr: stderr}
}

func (f *flagSet) doc(name, placeholder, help string, def any) {
	d := ""
	switch v := def.(type) {
	case string:
		if v != "" {
			d = v
		}
	case time.Duration:
		if v != 0 {
			d = v.String()
		}
	case int:
		d = fmt.Sprint(v)
	}
	f.docs = append(f.docs, flagDoc{name, placeholder, help, d})
}

// String defines --name PLACEHOLDER.
func (f *flagSet) String(name, placeholder, def, help string) *string {
	f.doc(name, placeholder, help, def)
	return f.fs.String(name, def, help)
}

// Bool defines --name.
func (f *flagSet) Bool(name, help string) *bool {
	f.doc(name, "", help, nil)
	return f.fs.Bool(name, false, help)
}

// Duration defines --name DURATION.
func (f *flagSet) Duration(name string, def time.Duration, help string) *time.Duration {
	f.doc(name, "DURATION", help, def)
	return f.fs.Duration(name, def, help)
}

// Int defines --name N.
func (f *flagSet) Int(name string, def int, help string) *int {
	f.doc(name, "N", help, def)
	return f.fs.Int(name, def, help)
}

// Var defines --name PLACEHOLDER for a flag.Value.
func (f *flagSet) Var(v flag.Value, name, placeholder, help string) {
	f.doc(name, placeholder, help, nil)
	f.fs.Var(v, name, help)
}

// The flags every command that needs them spells the same way.

// stackFlag is --stack NAME: the Pulumi stack.
func (f *flagSet) stackFlag(help string) *string {
	if help == "" {
		help = "the Pulumi stack (default: the selected one)"
	}
	return f.String("stack", "NAME", "", help)
}

// pulumiFlag is --pulumi PATH: the Pulumi CLI that is run.
func (f *flagSet) pulumiFlag() *string {
	return f.String("pulumi", "PATH", "pulumi", "the Pulumi CLI")
}

// outputsFlag is --outputs SOURCE: where the stack outputs come from.
func (f *flagSet) outputsFlag() *string {
	return f.String("outputs", "SOURCE", "-", "the stack outputs: - reads stdin (pipe in `pulumi stack output --json --show-secrets`), "+
		"pulumi runs that command (for --stack, with --pulumi), anything else is a JSON file")
}

// usage writes the command's help.
func (f *flagSet) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", f.synopsis, strings.TrimSpace(f.about))
	for _, d := range f.docs {
		left := "--" + d.name
		if d.placeholder != "" {
			left += " " + d.placeholder
		}
		line := fmt.Sprintf("  %-24s %s", left, d.help)
		if d.def != "" {
			line += fmt.Sprintf(" (default %s)", d.def)
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "  -h, --help               this help")
	writeExitCodes(w)
}

// parse parses the command line. With done the command returns code at
// once: 0 after the help was asked for (on stdout), 2 after a flag or an
// argument the command does not take (the error and the help on stderr).
func (f *flagSet) parse(args []string) (code int, done bool) {
	err := f.fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.usage(f.stdout)
		return exitOK, true
	case err != nil:
		fmt.Fprintf(f.stderr, "nctalk %s: %v\n\n", f.name, err)
		f.usage(f.stderr)
		return exitBadInput, true
	case f.fs.NArg() > 0:
		fmt.Fprintf(f.stderr, "nctalk %s: unexpected argument %q (the command takes only flags)\n\n", f.name, f.fs.Arg(0))
		f.usage(f.stderr)
		return exitBadInput, true
	}
	return exitOK, false
}

// fail reports a problem of the command and returns code.
func (f *flagSet) fail(code int, format string, args ...any) int {
	fmt.Fprintf(f.stderr, "nctalk %s: %s\n", f.name, fmt.Sprintf(format, args...))
	return code
}
