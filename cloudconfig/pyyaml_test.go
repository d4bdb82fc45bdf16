package cloudconfig

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/internal/testenv"
)

// pyyamlScript loads each document with PyYAML's pure-Python SafeLoader
// (libyaml's CSafeLoader reads line breaks differently) and with cloud-init's
// own loader (cloudinit.safeyaml, derived from SafeLoader); it prints, per
// document, the top-level keys and write_files entries, or the error (also
// when the loaders disagree). Both loaders are required (requireYAMLLoaders).
const pyyamlScript = `
import json, sys, yaml
from cloudinit import safeyaml
loaders = [('PyYAML SafeLoader', lambda text: yaml.load(text, Loader=yaml.SafeLoader)),
           ('cloudinit.safeyaml', safeyaml.load)]

def view(d):
    files = []
    for wf in (d.get('write_files') or []) if isinstance(d, dict) else []:
        c = wf.get('content')
        if isinstance(c, bytes):
            c = c.decode('utf-8', 'surrogateescape')
        files.append({'path': wf.get('path'), 'content': c})
    return {'keys': sorted(d.keys()) if isinstance(d, dict) else None, 'files': files}

out = []
for p in sys.argv[1:]:
    with open(p, 'rb') as f:
        text = f.read().decode('utf-8')  # as cloud-init's util.load_yaml does
    views = []
    try:
        for name, load in loaders:
            views.append(view(load(text)))
        if any(v != views[0] for v in views):
            out.append({'error': 'the loaders disagree: ' + ', '.join(n for n, _ in loaders)})
        else:
            out.append(views[0])
    except Exception as e:
        out.append({'error': str(e)})
json.dump(out, sys.stdout)
`

// pyDoc is PyYAML's view of one document.
type pyDoc struct {
	Keys  []string `json:"keys"`
	Files []struct {
		Path    string `json:"path"`
		Content string `json:"content"`
	} `json:"files"`
	Error string `json:"error"`
}

// requireYAMLLoaders returns Debian's python3 when it can import both
// loaders the documents are read with: PyYAML (python3-yaml) and cloud-init's
// (cloud-init). Without either the test skips (fails under CI=true): a run
// with one loader only would prove less than the test says.
func requireYAMLLoaders(t *testing.T) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import yaml; from cloudinit import safeyaml").CombinedOutput(); err != nil {
		testenv.Skip(t, "%s cannot import PyYAML and cloud-init's loader (%v: %s); install them with: apt-get install python3-yaml cloud-init",
			python, err, strings.TrimSpace(string(out)))
	}
	return python
}

// pyyamlLoad parses documents with PyYAML, in one python process.
func pyyamlLoad(t *testing.T, docs ...[]byte) []pyDoc {
	t.Helper()
	python := requireYAMLLoaders(t)
	dir := t.TempDir()
	args := []string{"-c", pyyamlScript}
	for i, d := range docs {
		p := filepath.Join(dir, strconv.Itoa(i)+".yaml")
		if err := os.WriteFile(p, d, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out, err := exec.Command(python, args...).Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	var res []pyDoc
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("python3 output: %v", err)
	}
	if len(res) != len(docs) {
		t.Fatalf("python3 parsed %d documents, want %d", len(res), len(docs))
	}
	return res
}

// topLevelKeys are the keys every rendered document has, in PyYAML's order.
var topLevelKeys = []string{"apt", "disable_root", "package_update", "package_upgrade", "packages", "runcmd", "ssh_pwauth", "write_files"}

// hostileYAMLContents are file contents that break a naive block scalar.
var hostileYAMLContents = []string{
	"a\u2028bootcmd: [touch /pwned]\n",
	"a\u2029bootcmd: [touch /pwned]\n",
	"a\u0085bootcmd: [touch /pwned]\n",
	"a\rbootcmd: [touch /pwned]\n",
	"a\r\nbootcmd: [touch /pwned]\n",
	"\ufeffa\n",
	"a\x00b\x01c\x1b\x7f\n",
	"no final newline",
	"two final newlines\n\n",
	"",
	"\n",
	"  leading blanks\nbootcmd: x\n",
	"\tleading tab\n",
	"blank line\n   \nafter\n",
	"trailing blanks   \n",
	"---\n...\n%YAML 1.1\n",
	"é ü 日本 \U0001F600\n",
	"ends in \u2028",
	"#!/bin/sh\n'\"\\ $x `y`\n",
}

// TestYAMLBlockRoundTripsInPyYAML writes each hostile content with
// yamlBlock into a write_files entry and reads it back with PyYAML: the
// document keeps its keys and the content arrives byte for byte.
func TestYAMLBlockRoundTripsInPyYAML(t *testing.T) {
	var docs [][]byte
	for _, c := range hostileYAMLContents {
		block, err := yamlBlock(4, []byte(c))
		if err != nil {
			t.Fatalf("yamlBlock(%q): %v", c, err)
		}
		path, _ := yamlScalar("/x")
		docs = append(docs, []byte("#cloud-config\nwrite_files:\n- path: "+path+"\n  content: "+block+"\nruncmd: []\n"))
	}
	for i, d := range pyyamlLoad(t, docs...) {
		c := hostileYAMLContents[i]
		switch {
		case d.Error != "":
			t.Errorf("%q: PyYAML: %s\n%s", c, d.Error, docs[i])
		case !slices.Equal(d.Keys, []string{"runcmd", "write_files"}) || len(d.Files) != 1:
			t.Errorf("%q: PyYAML sees keys %q and %d files\n%s", c, d.Keys, len(d.Files), docs[i])
		case d.Files[0].Content != c:
			t.Errorf("%q: PyYAML reads the content as %q\n%s", c, d.Files[0].Content, docs[i])
		}
	}
}

// TestReferenceFilesAreLiteralBlocks keeps the document readable: every
// rendered file of the reference setting is a literal block scalar, not an
// escaped line.
func TestReferenceFilesAreLiteralBlocks(t *testing.T) {
	for _, f := range mustFiles(t, referenceSettings()) {
		if !literalBlockSafe(string(f.Content)) {
			t.Errorf("%s would be written as a double-quoted line", f.Path)
		}
	}
}
