package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// failingWriter refuses every write, as a closed pipe does.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// cliCase is one command line of a command and what it must exit with.
type cliCase struct {
	name   string
	args   []string
	stdin  string
	stdout func() (w io.Writer) // nil: a buffer
	code   int
	stderr string // a part of stderr
}

// cliCases are, per command, command lines beyond the ones every command
// shares (help, an unknown flag, a stray argument): at least one where the
// input is bad (2) and one where the world says no (1).
func cliCases(t *testing.T) map[string][]cliCase {
	dir := t.TempDir()
	write := tempFiles(t, dir)
	config := write("talk.yaml", "domain: talk.example.com\nnextcloudUrls: [https://cloud.example.com]\nacmeEmail: admin@example.com\n")
	outputsFile := write("outputs.json", sampleOutputs)
	preview := write("preview.json", replacePreviewJSON)
	missing := filepath.Join(dir, "missing.json")
	noPulumi := filepath.Join(dir, "no-such-pulumi")
	broken := func() (w io.Writer) { return failingWriter{} }
	return map[string][]cliCase{
		"render": {
			{"config file missing", []string{"--config", missing}, "", nil, exitBadInput, "missing.json"},
			{"no --config", nil, "", nil, exitBadInput, "--config FILE is required"},
			{"a bad value", []string{"--config", write("bad.yaml", "domain: Talk\n")}, "", nil, exitBadInput, "domain"},
			{"stdout refuses", []string{"--config", config}, "", broken, exitFailed, "writing the document"},
		},
		"occ": {
			{"no --occ", []string{"--outputs", outputsFile}, "", nil, exitBadInput, "--occ is required"},
			{"outputs file missing", []string{"--occ", "false", "--outputs", missing}, "", nil, exitBadInput, "--outputs"},
			{"outputs empty (</dev/null)", []string{"--occ", "false"}, "", nil, exitBadInput, "the stack outputs are empty"},
			{"the old pulumi:STACK", []string{"--occ", "false", "--outputs", "pulumi:dev"}, "", nil, exitBadInput, "--outputs pulumi --stack dev"},
			{"pulumi missing", []string{"--occ", "false", "--outputs", "pulumi", "--pulumi", noPulumi}, "", nil, exitFailed, "no-such-pulumi"},
			{"occ fails", []string{"--occ", "false", "--outputs", outputsFile}, "", nil, exitFailed, "occ failed"},
		},
		"verify": {
			{"outputs file missing", []string{"--outputs", missing}, "", nil, exitBadInput, "--outputs"},
			{"outputs empty (</dev/null)", nil, "", nil, exitBadInput, "the stack outputs are empty"},
			{"negative --wait", []string{"--wait", "-1s"}, sampleOutputs, nil, exitBadInput, "must not be negative"},
			{"bad --resolve", []string{"--resolve", "talk.example.com"}, sampleOutputs, nil, exitBadInput, "is not host=address"},
			{"pulumi missing", []string{"--outputs", "pulumi", "--pulumi", noPulumi}, "", nil, exitFailed, "no-such-pulumi"},
		},
		"preview-summary": {
			{"preview file missing", []string{"--file", missing}, "", nil, exitBadInput, "reading --file"},
			{"not a preview", nil, "Previewing update (prod):\n", nil, exitBadInput, "not the JSON of `pulumi preview --json`"},
			{"stdout refuses", []string{"--file", preview}, "", broken, exitFailed, "writing the summary"},
		},
		"cloud-config": {
			{"pulumi missing", []string{"--pulumi", noPulumi}, "", nil, exitFailed, "no-such-pulumi"},
		},
		"teardown": {
			{"pulumi missing", []string{"--pulumi", noPulumi}, "", nil, exitFailed, "no-such-pulumi"},
		},
	}
}

// helpFlag is one flag line of a command's help: "  --name PLACEHOLDER  …".
var helpFlag = regexp.MustCompile(`(?m)^  --([a-z0-9-]+)(?: ([A-Z][A-Z=_]*))?  `)

// TestCLIGrammar holds every command of the command table to one grammar:
// help on stdout when asked for (-h, --help, nctalk help <command>), with
// every flag as --name PLACEHOLDER and the one exit-code table; on misuse
// the error and the help on stderr and exit 2; a flag name means the same
// thing, with the same placeholder, in every command, and the commands
// that run pulumi or read the stack outputs spell --stack, --pulumi and
// --outputs alike; each command exits 2 for bad input and 1 when the world
// says no, with nothing on stdout and its name in front of the message.
func TestCLIGrammar(t *testing.T) {
	var top bytes.Buffer
	if code := run([]string{"--help"}, strings.NewReader(""), &top, &bytes.Buffer{}); code != exitOK {
		t.Fatalf("nctalk --help exit %d; want %d", code, exitOK)
	}
	for _, e := range exitCodes {
		if want := fmt.Sprintf("  %d  %s\n", e.code, e.meaning); !strings.Contains(top.String(), want) {
			t.Errorf("nctalk --help does not state %q", want)
		}
	}
	for _, args := range [][]string{nil, {"no-such-command"}, {"help", "no-such-command"}} {
		var out, errOut bytes.Buffer
		if code := run(args, strings.NewReader(""), &out, &errOut); code != exitBadInput || out.Len() != 0 || !strings.Contains(errOut.String(), "usage: nctalk <command>") {
			t.Errorf("nctalk %q: exit %d, stdout %q; want %d, the usage on stderr and nothing on stdout", args, code, out.String(), exitBadInput)
		}
	}
	placeholders := map[string]map[string]string{} // flag -> placeholder -> command
	cases := cliCases(t)
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(top.String(), "\n  "+c.name+" ") {
				t.Errorf("nctalk --help does not list %s", c.name)
			}
			var help string
			for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
				var out, errOut bytes.Buffer
				code := run(args, strings.NewReader(""), &out, &errOut)
				if code != exitOK || errOut.Len() != 0 || !strings.HasPrefix(out.String(), "usage: nctalk "+c.name) {
					t.Errorf("nctalk %s: exit %d, stderr %q, stdout %.40q; want 0 and the help on stdout", strings.Join(args, " "), code, errOut.String(), out.String())
				}
				help = out.String()
			}
			if !strings.Contains(help, writeExitCodesText()) {
				t.Errorf("nctalk %s --help lacks the exit-code table", c.name)
			}
			flags := map[string]string{}
			for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
				flags[m[1]] = m[2]
				if placeholders[m[1]] == nil {
					placeholders[m[1]] = map[string]string{}
				}
				placeholders[m[1]][m[2]] = c.name
			}
			if _, reads := flags["outputs"]; reads || flags["pulumi"] != "" {
				for _, f := range []string{"stack", "pulumi"} {
					if _, ok := flags[f]; !ok {
						t.Errorf("nctalk %s runs pulumi or reads the stack outputs but has no --%s", c.name, f)
					}
				}
			}
			shared := []cliCase{
				{"unknown flag", []string{"--no-such-flag"}, "", nil, exitBadInput, "flag provided but not defined: -no-such-flag"},
				{"stray argument", []string{"extra"}, "", nil, exitBadInput, `unexpected argument "extra"`},
			}
			codes := map[int]bool{}
			for _, tc := range append(shared, cases[c.name]...) {
				codes[tc.code] = true
				t.Run(tc.name, func(t *testing.T) {
					var out bytes.Buffer
					var stdout io.Writer = &out
					if tc.stdout != nil {
						stdout = tc.stdout()
					}
					var errOut bytes.Buffer
					code := run(append([]string{c.name}, tc.args...), strings.NewReader(tc.stdin), stdout, &errOut)
					if code != tc.code {
						t.Errorf("exit %d; want %d\nstderr: %s", code, tc.code, errOut.String())
					}
					if out.Len() != 0 {
						t.Errorf("stdout %q; want nothing", out.String())
					}
					if !strings.HasPrefix(errOut.String(), "nctalk "+c.name+": ") || !strings.Contains(errOut.String(), tc.stderr) {
						t.Errorf("stderr %q; want \"nctalk %s: …%s…\"", errOut.String(), c.name, tc.stderr)
					}
					if tc.code == exitBadInput && (tc.name == "unknown flag" || tc.name == "stray argument") && !strings.Contains(errOut.String(), "usage: nctalk "+c.name) {
						t.Errorf("misuse without the help on stderr: %q", errOut.String())
					}
				})
			}
			for _, code := range []int{exitBadInput, exitFailed} {
				if !codes[code] {
					t.Errorf("no command line of nctalk %s exits %d: add one to cliCases", c.name, code)
				}
			}
		})
	}
	for flag, by := range placeholders {
		if len(by) > 1 {
			t.Errorf("--%s has different placeholders in different commands: %v", flag, by)
		}
	}
	for c := range cases {
		if !slices.ContainsFunc(commands, func(x command) bool { return x.name == c }) {
			t.Errorf("cliCases has cases for %s, which is no command", c)
		}
	}
}

// writeExitCodesText is the exit-code table as the help prints it.
func writeExitCodesText() string {
	var b bytes.Buffer
	writeExitCodes(&b)
	return b.String()
}

// TestCommandLineDocs: docs/operations.md's command table lists every
// command of the table, and its exit-code table is exitCodes.
func TestCommandLineDocs(t *testing.T) {
	raw, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	var names []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| ").FindAllStringSubmatch(doc, -1) {
		names = append(names, m[1])
	}
	var want []string
	for _, c := range commands {
		want = append(want, c.name)
	}
	if !slices.Equal(names, want) {
		t.Errorf("docs/operations.md's command table lists %q; the command table has %q", names, want)
	}
	for _, e := range exitCodes {
		if row := fmt.Sprintf("| %d | %s |", e.code, e.meaning); !strings.Contains(doc, row) {
			t.Errorf("docs/operations.md lacks the exit-code row %q", row)
		}
	}
}

// tempFiles returns a function that writes a file in dir and returns its
// path.
func tempFiles(t *testing.T, dir string) func(name, body string) string {
	return func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
}
