package occwire

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

// TestFakeOccMatchesTalk checks that the fake occ behaves like the Talk
// app's commands (facts.md, "Nextcloud occ (Talk app)", and the app's
// lib/Command sources): the plan tests elsewhere are only as good as it is.
func TestFakeOccMatchesTalk(t *testing.T) {
	bin := occtest.Build(t, t.TempDir())
	type call struct {
		args     string // split on blanks
		wantExit int
		wantOut  string // exact stdout, when not ""
	}
	tests := []struct {
		name  string
		calls []call
	}{
		{"lists of an empty Nextcloud", []call{
			{"talk:signaling:list --output=json", 0, "[]\n"},
			{"talk:turn:list --output=json", 0, "[]\n"},
			{"talk:stun:list --output=json", 0, "[]\n"},
		}},
		{"signaling add appends without a duplicate check and sets the one secret", []call{
			{"talk:signaling:add https://a.example/sig s1 --verify", 0, "Added signaling server https://a.example/sig.\n"},
			{"talk:signaling:add https://a.example/sig s2", 0, ""},
			{"talk:signaling:list --output=json", 0,
				`{"servers":[{"server":"https:\/\/a.example\/sig","verify":true},{"server":"https:\/\/a.example\/sig","verify":false}],"secret":"s2"}` + "\n"},
		}},
		{"signaling delete removes exact matches only, exit 0 when none", []call{
			{"talk:signaling:delete https://a.example/sig", 0, "There is nothing to delete.\n"},
			{"talk:signaling:list --output=json", 0, `{"servers":[],"secret":""}` + "\n"},
			{"talk:signaling:add https://a.example/sig/ s1", 0, ""},
			{"talk:signaling:delete https://a.example/sig", 0, "There is nothing to delete.\n"},
			{"talk:signaling:delete https://a.example/sig/", 0, "Deleted https://a.example/sig/.\n"},
		}},
		{"a secret that looks like an option needs --", []call{
			{"talk:signaling:add https://a.example/sig -x", 1, ""},
			{"talk:signaling:add --verify -- https://a.example/sig -x", 0, ""},
		}},
		{"TURN: identical entry exits 1 whatever the secret; delete is exact", []call{
			{"talk:turn:add turn a.example:3478 udp,tcp --secret=s1", 0, "Added a.example:3478.\n"},
			{"talk:turn:add turn a.example:3478 udp,tcp --secret=s2", 1, "Server already exists with the same configuration.\n"},
			{"talk:turn:add turns a.example:5349 tcp --secret s2", 0, ""},
			{"talk:turn:add turns a.example:5349 udp --secret", 1, ""},
			{"talk:turn:add turn a.example:3478 sctp --secret=s", 1, "Not allowed protocols, must be udp or tcp or udp,tcp.\n"},
			{"talk:turn:add stun a.example:3478 udp --secret=s", 1, "Not allowed schemes, must be turn or turns or turn,turns.\n"},
			{"talk:turn:add turn b.example:3478 udp", 1, "You must provide --secret or --generate-secret.\n"},
			{"talk:turn:delete turn a.example:3478 udp", 0, "There is nothing to delete.\n"},
			{"talk:turn:delete turn a.example:3478 udp,tcp", 0, "Deleted a.example:3478.\n"},
			{"talk:turn:list --output=json", 0, `[{"schemes":"turns","server":"a.example:5349","secret":"s2","protocols":"tcp"}]` + "\n"},
		}},
		{"STUN: duplicate exits 1; deleting the last one brings the default back", []call{
			{"talk:stun:add a.example:3478", 0, "Added a.example:3478.\n"},
			{"talk:stun:add a.example:3478", 1, "Server already exists.\n"},
			{"talk:stun:add a.example", 1, "Incorrect value. Must be stunserver:port.\n"},
			{"talk:stun:delete b.example:3478", 0, "There is nothing to delete.\n"},
			{"talk:stun:delete a.example:3478", 0, "You deleted all STUN servers. A default STUN server was added.\n"},
			{"talk:stun:list --output=json", 0, `["stun.nextcloud.com:443"]` + "\n"},
		}},
		{"Symfony argument checks", []call{
			{"talk:stun:add", 1, ""},
			{"talk:stun:add a:1 b:2", 1, ""},
			{"talk:stun:list --output=json --bogus", 1, ""},
			{"talk:nope", 1, ""},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := occtest.New(t, bin, occtest.State{})
			for _, c := range tt.calls {
				cmd := exec.Command(bin, strings.Fields(c.args)...)
				cmd.Env = f.Env()
				out, err := cmd.Output()
				exit := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					exit = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				if exit != c.wantExit {
					t.Errorf("%s: exit %d, want %d (stdout %q)", c.args, exit, c.wantExit, out)
				}
				if c.wantOut != "" && string(out) != c.wantOut {
					t.Errorf("%s:\n got %q\nwant %q", c.args, out, c.wantOut)
				}
			}
			if got := len(f.Calls()); got != len(tt.calls) {
				t.Errorf("log has %d calls, want %d", got, len(tt.calls))
			}
		})
	}
}

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
