package occwire

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

// TestFakeOccInjectedFailure: FAKEOCC_FAIL_CALL=N makes the Nth call fail
// without changing the state.
func TestFakeOccInjectedFailure(t *testing.T) {
	bin := occtest.Build(t, t.TempDir())
	f := occtest.New(t, bin, occtest.State{})
	f.FailCall = 2
	for i, wantExit := range []int{0, 1, 0} {
		cmd := exec.Command(bin, "talk:stun:add", "a.example:"+string(rune('1'+i)))
		cmd.Env = f.Env()
		err := cmd.Run()
		exit := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			exit = ee.ExitCode()
		}
		if exit != wantExit {
			t.Errorf("call %d: exit %d, want %d", i+1, exit, wantExit)
		}
	}
	if got := f.State().STUN; strings.Join(got, " ") != "a.example:1 a.example:3" {
		t.Errorf("state %q: the failed call must change nothing", got)
	}
}
