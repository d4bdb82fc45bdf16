package occwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

// transcriptCall is one occ call of testdata/<version>/transcript.json.
type transcriptCall struct {
	Args   []string `json:"args"`
	Stdout string   `json:"stdout"`
	Stderr string   `json:"stderr"`
	Exit   int      `json:"exit"`
}

// TestFakeReplaysTranscripts runs each version's transcript against the
// fake playing that version and wants the same stdout, stderr and exit
// status, call by call.
func TestFakeReplaysTranscripts(t *testing.T) {
	bin := occtest.Build(t, t.TempDir())
	for _, v := range occtest.Versions {
		t.Run(v.Dir, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", v.Dir, "transcript.json"))
			if err != nil {
				t.Fatal(err)
			}
			var tr struct {
				Calls          []transcriptCall `json:"calls"`
				ConfigReadOnly transcriptCall   `json:"configReadOnly"`
			}
			if err := json.Unmarshal(b, &tr); err != nil {
				t.Fatal(err)
			}
			if len(tr.Calls) == 0 {
				t.Fatal("empty transcript")
			}
			replay := func(f *occtest.Fake, c transcriptCall) {
				t.Helper()
				cmd := exec.Command(f.Bin, c.Args...)
				cmd.Env = append(f.Env(), occtest.EnvVersion+"="+v.Nextcloud)
				var stdout, stderr bytes.Buffer
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				err := cmd.Run()
				exit := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					exit = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				if stdout.String() != c.Stdout || stderr.String() != c.Stderr || exit != c.Exit {
					t.Errorf("%q:\n got exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q",
						c.Args, exit, stdout.String(), stderr.String(), c.Exit, c.Stdout, c.Stderr)
				}
			}
			f := occtest.New(t, bin, occtest.State{})
			for _, c := range tr.Calls {
				replay(f, c)
			}
			replay(occtest.New(t, bin, occtest.State{ConfigReadOnly: true}), tr.ConfigReadOnly)
		})
	}
}
