package occtest

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// fakePackage is the import path of the fake occ program.
const fakePackage = "github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/fakeocc"

// Fake is one fake Nextcloud: a built fake occ with its own state and log.
type Fake struct {
	// Bin is the fake occ executable.
	Bin string
	// StatePath and LogPath are the files the fake uses.
	StatePath, LogPath string
	// FailCall, when > 0, makes that call (1-based) fail.
	FailCall int
	t        testing.TB
}

// Build compiles the fake occ into dir (which may contain spaces) and
// returns the executable's path.
func Build(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "fakeocc")
	cmd := exec.Command("go", "build", "-o", bin, fakePackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the fake occ: %v\n%s", err, out)
	}
	touchSources(t)
	return bin
}

// touchSources reads the fake's source files from the test process, so
// that `go test`'s result cache notices when they change (it tracks the
// files a test opens, not what a `go build` child reads).
func touchSources(t testing.TB) {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", fakePackage).Output()
	if err != nil {
		t.Fatalf("locating the fake occ's sources: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".go") {
			if _, err := os.ReadFile(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// New returns a fake Nextcloud in a fresh temporary directory, using the
// executable bin from Build, with initial state s.
func New(t testing.TB, bin string, s State) *Fake {
	t.Helper()
	dir := t.TempDir()
	f := &Fake{Bin: bin, StatePath: filepath.Join(dir, "state.json"), LogPath: filepath.Join(dir, "calls.log"), t: t}
	if err := SaveState(f.StatePath, s); err != nil {
		t.Fatal(err)
	}
	return f
}

// Prefix is the --occ prefix that reaches this fake: `env VAR=… <bin>`,
// quoted so that paths with blanks survive the word splitting.
func (f *Fake) Prefix() string {
	words := []string{"env",
		quote(EnvState + "=" + f.StatePath),
		quote(EnvLog + "=" + f.LogPath),
	}
	if f.FailCall > 0 {
		words = append(words, EnvFailCall+"="+strconv.Itoa(f.FailCall))
	}
	return strings.Join(append(words, quote(f.Bin)), " ")
}

// Env is the environment for running the fake directly.
func (f *Fake) Env() []string {
	env := append(os.Environ(), EnvState+"="+f.StatePath, EnvLog+"="+f.LogPath)
	if f.FailCall > 0 {
		env = append(env, EnvFailCall+"="+strconv.Itoa(f.FailCall))
	}
	return env
}

// State reads the fake's current state.
func (f *Fake) State() State {
	f.t.Helper()
	s, err := LoadState(f.StatePath)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// Calls returns every argv (after the program name) the fake got, in order.
func (f *Fake) Calls() [][]string {
	f.t.Helper()
	file, err := os.Open(f.LogPath)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	defer file.Close()
	var calls [][]string
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var argv []string
		if err := json.Unmarshal(sc.Bytes(), &argv); err != nil {
			f.t.Fatalf("fake occ log line %q: %v", sc.Text(), err)
		}
		calls = append(calls, argv)
	}
	if err := sc.Err(); err != nil {
		f.t.Fatal(err)
	}
	return calls
}

// ResetLog forgets the calls so far.
func (f *Fake) ResetLog() {
	f.t.Helper()
	if err := os.Remove(f.LogPath); err != nil && !os.IsNotExist(err) {
		f.t.Fatal(err)
	}
}

// IsList reports whether argv is one of the read-only list commands.
func IsList(argv []string) bool {
	return len(argv) > 0 && strings.HasSuffix(argv[0], ":list")
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
