package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/tests/harness"
)

// TestReadyScript runs the rendered readiness script (the VM's last
// provisioning step) against the running stack: every check must pass on
// the first round and the marker must be written.
func TestReadyScript(t *testing.T) {
	s := needStack(t)
	// The marker's folder does not exist on this machine: give the script
	// its own empty /var/lib.
	varLib := t.TempDir()
	markerDir := filepath.Dir(filepath.Dir(cloudconfig.ReadyMarker))
	if markerDir != "/var/lib" {
		t.Fatalf("ReadyMarker %s moved out of /var/lib: update this test", cloudconfig.ReadyMarker)
	}
	out, err := s.Run(bounded(t, 25*time.Second), []harness.Mount{{Source: varLib, Target: markerDir}}, "bash", "-x", cloudconfig.ReadyScript)
	trace := string(cloudconfig.Redact(out, s.Secrets))
	if err != nil {
		t.Fatalf("%s failed against the running stack: %v\n%s", cloudconfig.ReadyScript, err, tailLines(trace, 60))
	}
	marker, err := os.ReadFile(filepath.Join(varLib, strings.TrimPrefix(cloudconfig.ReadyMarker, markerDir+"/")))
	if err != nil {
		t.Fatalf("%s exited 0 but wrote no %s: %v\n%s", cloudconfig.ReadyScript, cloudconfig.ReadyMarker, err, tailLines(trace, 30))
	}
	if !strings.Contains(string(marker), "ready") {
		t.Errorf("%s: marker %q does not say ready", cloudconfig.ReadyMarker, marker)
	}
	t.Logf("%s", strings.TrimSpace(string(marker)))
}
