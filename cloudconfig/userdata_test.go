package cloudconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/internal/testenv"
)

// cloudInitDecode is what cloud-init does with user data fetched from
// Hetzner: its Hetzner datasource's maybe_b64decode (DataSourceHetzner.py
// in 22.4 and 25.1), then user-data processing's gunzip and text decoding.
// It runs Debian's cloud-init.
const cloudInitDecode = `
import sys
from cloudinit import util
try:
    maybe_b64decode = util.maybe_b64decode  # cloud-init 23+ (Debian 13)
except AttributeError:
    from cloudinit.sources.helpers.hetzner import maybe_b64decode  # 22.4 (Debian 12)
raw = open(sys.argv[1], "rb").read()
data = maybe_b64decode(raw)
sys.stdout.write(util.decode_binary(util.decomp_gzip(data, quiet=False)))
`

func TestEncodeUserDataIsWhatCloudInitReads(t *testing.T) {
	testenv.Tool(t, "cloud-init", "apt-get install cloud-init")
	python := "/usr/bin/python3" // the interpreter Debian's cloud-init is installed for
	doc, err := Render(referenceSettings(), fakeSecrets())
	if err != nil {
		t.Fatal(err)
	}
	ud := EncodeUserData(doc)
	if ud != EncodeUserData(doc) {
		t.Fatal("EncodeUserData is not deterministic")
	}
	f := filepath.Join(t.TempDir(), "userdata")
	if err := os.WriteFile(f, []byte(ud), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(python, "-c", cloudInitDecode, f).Output()
	if err != nil {
		t.Fatalf("cloud-init's decoding failed: %v", err)
	}
	if string(out) != string(doc) {
		t.Errorf("cloud-init reads back %d bytes that differ from the %d-byte document", len(out), len(doc))
	}
	t.Logf("document %d bytes, user data %d bytes (%.0f%%)", len(doc), len(ud), 100*float64(len(ud))/float64(len(doc)))
	if !strings.HasPrefix(ud, "H4sI") {
		t.Errorf("user data %q… does not start with base64 of the gzip magic", ud[:8])
	}
}
