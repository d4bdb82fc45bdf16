package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestExitCodeConvention holds every command in the table to the one
// convention `nctalk --help` states: -h is not an error, a flag the command
// does not know is bad input (2) and says so on stderr, stdout stays empty.
func TestExitCodeConvention(t *testing.T) {
	var help bytes.Buffer
	if code := run([]string{"--help"}, strings.NewReader(""), &help, &bytes.Buffer{}); code != exitOK {
		t.Fatalf("nctalk --help exit %d; want %d", code, exitOK)
	}
	for _, want := range []string{
		fmt.Sprintf("  %d  done", exitOK),
		fmt.Sprintf("  %d  the world said no", exitFailed),
		fmt.Sprintf("  %d  bad input", exitBadInput),
	} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("nctalk --help does not state %q:\n%s", want, help.String())
		}
	}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(help.String(), "  "+c.name+" ") {
				t.Errorf("nctalk --help does not list %s", c.name)
			}
			var out, errOut bytes.Buffer
			if code := run([]string{c.name, "-h"}, strings.NewReader(""), &out, &errOut); code != exitOK {
				t.Errorf("nctalk %s -h exit %d; want %d\n%s", c.name, code, exitOK, errOut.String())
			}
			out.Reset()
			errOut.Reset()
			code := run([]string{c.name, "--no-such-flag"}, strings.NewReader(""), &out, &errOut)
			if code != exitBadInput {
				t.Errorf("nctalk %s --no-such-flag exit %d; want %d", c.name, code, exitBadInput)
			}
			if !strings.Contains(errOut.String(), "no-such-flag") {
				t.Errorf("nctalk %s --no-such-flag: stderr does not name the flag:\n%s", c.name, errOut.String())
			}
			if out.Len() != 0 {
				t.Errorf("nctalk %s --no-such-flag wrote to stdout:\n%s", c.name, out.String())
			}
		})
	}
	for _, args := range [][]string{nil, {"no-such-command"}} {
		var out, errOut bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errOut); code != exitBadInput || out.Len() != 0 {
			t.Errorf("nctalk %v: exit %d, stdout %q; want %d and nothing on stdout", args, code, out.String(), exitBadInput)
		}
	}
}
