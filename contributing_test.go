package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/internal/testenv"
)

// inScratchCopy is set in the copy TestContributingAddsAKey tests, so the
// copy's own run of this package does not start another copy.
const inScratchCopy = "NCTALK_SCRATCH_COPY"

// scratchEdits are CONTRIBUTING's "Adding a config key" steps 1 to 4 done
// by hand on a scratch key (a string of a-z, at most 8 bytes, with no
// structural check of its own), each as an insertion after an anchor
// (before it when before is set).
var scratchEdits = []struct {
	step, file, anchor, text string
	before                   bool
}{
	{"1", "schema/keys.go", "\n}\n\n// ImageServices", `
	{Name: "scratchKey", Kind: KindString, Default: "", Sample: "abc",
		Doc:     "A scratch key of TestContributingAddsAKey.",
		Grammar: grammar("scratchKey", Grammar{Chars: "a-z", MaxBytes: 8, allowed: func(r rune) bool { return r >= 'a' && r <= 'z' }})},`, true},
	{"2", "cloudconfig/settings.go", "type Settings struct {\n", "\t// Scratch is the scratch key.\n\tScratch string `nctalk:\"scratchKey\"`\n", false},
	{"3", "cloudconfig/render.go", "type view struct {\n", "\t// nats.conf: the scratch key.\n\tScratch string\n", false},
	{"3", "cloudconfig/render.go", "\tv := view{\n", "\t\tScratch: s.Scratch,\n", false},
	{"3", "cloudconfig/templates/nats.conf", "", "{{if .Scratch}}# scratch {{.Scratch}}\n{{end}}", false},
	{"4", "docs/configuration.md", "\n\nThe Hetzner token", "\n| `scratchKey` | string | `\"\"` | A scratch key. |", true},
	{"4", "docs/configuration.md", "\n\n## Stack outputs", "\n| `scratchKey` | a-z | 8 | — | lower-case letters |", true},
}

// TestContributingAddsAKey follows CONTRIBUTING's steps for adding a config
// key literally on a scratch key, in a copy of the repository: the edits
// of steps 1 to 4 in the files the steps name, then every `go test`
// command of the section, as written, must pass. Then the scratch key's
// grammar holds without a check of its own: `BAD $(id); rm -rf /` is
// refused naming it, and its Sample reaches nats.conf.
func TestContributingAddsAKey(t *testing.T) {
	if os.Getenv(inScratchCopy) != "" {
		return // this is the copy's own run, inside the test below
	}
	testenv.SkipShort(t, "copies the repository and runs the tests CONTRIBUTING names on a scratch key (about 3 minutes)")
	goBin := testenv.Tool(t, "go", "https://go.dev/dl/")
	git := testenv.Tool(t, "git", "apt-get install git")
	steps := section(readDoc(t, "CONTRIBUTING.md"), "## Adding a config key", "## ")
	for _, e := range scratchEdits {
		name := e.file
		if strings.HasPrefix(name, "cloudconfig/templates/") {
			name = "cloudconfig/templates/"
		}
		if !strings.Contains(steps, "`"+name+"`") {
			t.Errorf("CONTRIBUTING's step %s does not name %s, which the step edits", e.step, name)
		}
	}
	var commands []string
	for _, m := range regexp.MustCompile("`(go test [^`]+)`").FindAllStringSubmatch(steps, -1) {
		commands = append(commands, m[1])
	}
	if len(commands) != 2 {
		t.Fatalf("CONTRIBUTING's steps name the commands %q; the test expects the schema update and the test run", commands)
	}

	dir := copyRepository(t, git)
	for _, e := range scratchEdits {
		p := filepath.Join(dir, e.file)
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		s := string(raw)
		i := strings.Index(s, e.anchor)
		switch {
		case e.anchor == "":
			i = len(s)
		case i < 0:
			t.Fatalf("step %s: %s has no %q any more: update scratchEdits to the file", e.step, e.file, e.anchor)
		case !e.before:
			i += len(e.anchor)
		}
		if err := os.WriteFile(p, []byte(s[:i]+e.text+s[i:]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	probe := `package cloudconfig

import (
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
)

func TestScratchKeyProbe(t *testing.T) {
	s := referenceSettings()
	s.Scratch = "BAD $(id); rm -rf /"
	if _, err := Render(s, fakeSecrets()); schema.KeyOf(err) != "scratchKey" {
		t.Errorf("a value outside the scratch key's grammar: err = %v, want a scratchKey error", err)
	}
	s.Scratch = "abc"
	files, err := renderFilesOf(s, fakeSecrets())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == NATSConfig && !strings.Contains(string(f.Content), "# scratch abc\n") {
			t.Errorf("nats.conf lacks the scratch key:\n%s", f.Content)
		}
	}
}
`
	if err := os.WriteFile(filepath.Join(dir, "cloudconfig", "scratch_probe_test.go"), []byte(probe), 0o644); err != nil {
		t.Fatal(err)
	}
	commands = append(commands, "go test ./cloudconfig -run TestScratchKeyProbe")
	for _, c := range commands {
		args := strings.Fields(c)
		if args[0] != "go" {
			t.Fatalf("%q is not a go command", c)
		}
		cmd := exec.Command(goBin, append([]string{args[1], "-count=1"}, args[2:]...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), inScratchCopy+"=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s (in the copy with the scratch key): %v\n%s", c, err, out.String())
		}
		t.Logf("%s: ok", c)
	}
}

// copyRepository copies the files git tracks (and the working tree's
// changes to them) into a temporary directory.
func copyRepository(t *testing.T, git string) string {
	t.Helper()
	out, err := exec.Command(git, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	dir := t.TempDir()
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		info, err := os.Lstat(name)
		if err != nil || !info.Mode().IsRegular() {
			continue // deleted in the working tree, or a link
		}
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, raw, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
