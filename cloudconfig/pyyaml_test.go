package cloudconfig

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// pyyamlScript loads each document with PyYAML's pure-Python SafeLoader
// (cloud-init's loader derives from it; libyaml's CSafeLoader reads line
// breaks differently) and prints, per document, its top-level keys and
// write_files entries, or the error.
const pyyamlScript = `
import json, sys, yaml
out = []
for p in sys.argv[1:]:
    with open(p, 'rb') as f:
        raw = f.read()
    try:
        d = yaml.load(raw, Loader=yaml.SafeLoader)
        files = []
        for wf in (d.get('write_files') or []) if isinstance(d, dict) else []:
            c = wf.get('content')
            if isinstance(c, bytes):
                c = c.decode('utf-8', 'surrogateescape')
            files.append({'path': wf.get('path'), 'content': c})
        keys = sorted(d.keys()) if isinstance(d, dict) else None
        out.append({'keys': keys, 'files': files})
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

// requirePyYAML returns Debian's python3 when it can import yaml (package
// python3-yaml). With CI=true a missing module fails the test.
func requirePyYAML(t *testing.T) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import yaml").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import yaml (%v); CI must install python3-yaml", python, err)
		}
		t.Skipf("%s cannot import yaml (%v); install it with: apt-get install python3-yaml", python, err)
	}
	return python
}

// pyyamlLoad parses documents with PyYAML, in one python process.
func pyyamlLoad(t *testing.T, docs ...[]byte) []pyDoc {
	t.Helper()
	python := requirePyYAML(t)
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
var topLevelKeys = []string{"disable_root", "package_update", "package_upgrade", "packages", "runcmd", "ssh_pwauth", "write_files"}
