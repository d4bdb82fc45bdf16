// Command lifecycle runs the nctalk Pulumi program with the real Pulumi
// engine and providers against the Hetzner API double, through the whole
// life of a backend, and records what the engine prints as the fixtures in
// tests/engine/testdata (see tests/engine and docs/testing.md, "The real
// Pulumi engine").
//
//	go run ./tests/engine/lifecycle -toolchain DIR [-out DIR] [-double DIR]
//
// DIR is an offline Pulumi toolchain built by
// ../shared/tools/pulumi-toolchain (its env.sh: the pulumi CLI, the Go
// language host, and the hcloud, random, command and tls plugins). It runs
// as root: the engine, the double and the stand-in for the server's sshd
// run in a network namespace of their own (only a loopback, on which the
// double's address ranges are local), so nothing reaches the network.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nctalk/nctalk/tests/engine"
	"github.com/nctalk/nctalk/tests/harness"
)

func main() {
	toolchain := flag.String("toolchain", os.Getenv("PULUMI_TOOLCHAIN"), "the offline Pulumi toolchain (`DIR` with env.sh, bin/ and home/)")
	out := flag.String("out", "tests/engine/testdata", "where the fixtures are written (`DIR`)")
	double := flag.String("double", "../shared/tools/hcloud-api-double", "the Hetzner API double's source (`DIR`)")
	work := flag.String("work", "", "scratch `DIR` (default: a new temporary one, removed unless the run fails)")
	flag.Parse()
	if err := run(*toolchain, *out, *double, *work); err != nil {
		fmt.Fprintf(os.Stderr, "lifecycle: %v\n", err)
		os.Exit(1)
	}
}

func run(toolchain, out, doubleSrc, work string) error {
	if os.Getenv(harness.NetnsEnv) != "1" {
		if os.Geteuid() != 0 {
			return errors.New("run as root: the engine runs in a network namespace of its own")
		}
		if toolchain == "" {
			return errors.New("-toolchain (or PULUMI_TOOLCHAIN) is required: build it with ../shared/tools/pulumi-toolchain")
		}
		// Build what runs inside the namespace while the module proxy is
		// still reachable: the double, nctalk, and the program's modules.
		if work == "" {
			var err error
			if work, err = os.MkdirTemp("", "nctalk-engine-"); err != nil {
				return err
			}
		}
		if err := prepare(work, doubleSrc); err != nil {
			return err
		}
		os.Setenv("NCTALK_ENGINE_WORK", work)
		code, _ := harness.RunInOwnNetwork()
		if code != 0 {
			return fmt.Errorf("the run failed (exit %d); its scratch files are in %s", code, work)
		}
		return os.RemoveAll(work)
	}
	if code, done := harness.RunInOwnNetwork(); done {
		return fmt.Errorf("bringing up the namespace's loopback failed (exit %d)", code)
	}
	l, err := newLifecycle(toolchain, out, os.Getenv("NCTALK_ENGINE_WORK"))
	if err != nil {
		return err
	}
	defer l.close()
	return l.run()
}

// prepare builds the double and nctalk into work/bin and downloads every
// module the program needs, so nothing is fetched inside the namespace.
func prepare(work, doubleSrc string) error {
	bin := filepath.Join(work, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	src, err := filepath.Abs(doubleSrc)
	if err != nil {
		return err
	}
	steps := []*exec.Cmd{
		exec.Command("go", "build", "-o", filepath.Join(bin, "fakehcloud"), "."),
		exec.Command("go", "build", "-o", filepath.Join(bin, "nctalk"), "./cmd/nctalk"),
		exec.Command("go", "build", "-o", filepath.Join(bin, "program"), "."),
		exec.Command("go", "mod", "download"),
	}
	steps[0].Dir = src
	for _, c := range steps {
		c.Stdout, c.Stderr = os.Stderr, os.Stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(c.Args, " "), err)
		}
	}
	return nil
}

// lifecycle is one run: the double, the stack's scratch files, and what
// was recorded.
type lifecycle struct {
	// repo is the checkout (the program); project the scratch Pulumi
	// project that runs it (Pulumi.yaml with main: repo, and the stack's
	// Pulumi.<stack>.yaml, as in a deployer's checkout).
	toolchain, out, work, repo, project string
	revealedSecrets                     map[string]string
	oldSecrets                          []string // rotated away, still never to appear
	stateSecrets                        []string // read from the state: the proxy token's private key
	double                              *exec.Cmd
	api                                 string // the double's endpoint, http://127.0.0.1:PORT/v1
	box                                 *fakeBox
	env                                 []string
	log                                 *os.File
	figures                             []figure
}

// figure is one step's measured time.
type figure struct {
	step    string
	seconds float64
}

const (
	stackName  = "engine"
	passphrase = "nctalk engine lifecycle (a test passphrase, not a secret)"
	token      = "nctalkengineLIFECYCLEtoken0123456789abcdefghijklmnopqrstuvwxyzAB"
)

func newLifecycle(toolchain, out, work string) (*lifecycle, error) {
	repo, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	l := &lifecycle{toolchain: toolchain, out: out, work: work, repo: repo, project: filepath.Join(work, "project")}
	if err := writeProject(repo, l.project); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	if l.log, err = os.Create(filepath.Join(work, "lifecycle.log")); err != nil {
		return nil, err
	}
	// The double's address ranges are local in this namespace, so the
	// engine's SSH connections to "the server" reach the stand-in sshd.
	for _, cidr := range engine.DoubleIPv4Ranges {
		if out, err := exec.Command("ip", "addr", "add", cidr, "dev", "lo").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ip addr add %s: %v: %s", cidr, err, out)
		}
	}
	if err := l.startDouble(); err != nil {
		return nil, err
	}
	if l.box, err = startFakeBox(l.api, l.work); err != nil {
		return nil, err
	}
	l.env = append(os.Environ(),
		"PATH="+filepath.Join(toolchain, "bin")+":"+filepath.Join(work, "bin")+":"+os.Getenv("PATH"),
		"PULUMI_HOME="+filepath.Join(toolchain, "home"),
		"PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS=true",
		"NO_COLOR=1",
		"PULUMI_BACKEND_URL=file://"+filepath.Join(work, "state"),
		"PULUMI_CONFIG_PASSPHRASE="+passphrase,
		"HCLOUD_TOKEN="+token,
		"HCLOUD_ENDPOINT="+l.api,
		"GOPROXY=off",
		"GOFLAGS=-mod=mod",
	)
	if err := os.MkdirAll(filepath.Join(work, "state"), 0o700); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *lifecycle) startDouble() error {
	urlFile := filepath.Join(l.work, "double.url")
	l.double = exec.Command(filepath.Join(l.work, "bin", "fakehcloud"),
		"-addr", "127.0.0.1:0", "-url-file", urlFile, "-quiet",
		"-log", filepath.Join(l.work, "double-requests.jsonl"),
		"-state-out", filepath.Join(l.work, "double-state.json"),
		"-action-polls", "0",
		// A type that Hetzner deprecated after the stack was built is
		// still orderable: the check must warn, not lock the stack.
		"-deprecate-type", engine.DeprecatedServerType)
	l.double.Stdout, l.double.Stderr = l.log, l.log
	if err := l.double.Start(); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		if b, err := os.ReadFile(urlFile); err == nil && len(b) > 0 {
			l.api = strings.TrimSpace(string(b))
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("the double did not write its URL within 10 s")
}

func (l *lifecycle) close() {
	if l.box != nil {
		l.box.close()
	}
	if l.double != nil && l.double.Process != nil {
		_ = l.double.Process.Signal(os.Interrupt)
		_ = l.double.Wait()
	}
	if l.log != nil {
		l.log.Close()
	}
}

// result is what one command printed.
type result struct {
	stdout, stderr []byte
	code           int
	seconds        float64
}

// cmd runs name (pulumi or nctalk) in the project with the run's
// environment; the stack's config lives in the scratch folder.
func (l *lifecycle) cmd(name string, args ...string) result {
	if name == "pulumi" {
		args = append(args, "--non-interactive", "--color", "never")
		if needsStack(args[0]) {
			args = append(args, "--stack", stackName)
		}
	}
	bin := name // exec looks names up in this process's PATH, not c.Env's
	switch name {
	case "pulumi":
		bin = filepath.Join(l.toolchain, "bin", "pulumi")
	case "nctalk":
		bin = filepath.Join(l.work, "bin", "nctalk")
	}
	c := exec.Command(bin, args...)
	c.Dir = l.project
	c.Env = l.env
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	start := time.Now()
	err := c.Run()
	r := result{stdout: stdout.Bytes(), stderr: stderr.Bytes(), seconds: time.Since(start).Seconds()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		r.code = -1
		r.stderr = append(r.stderr, []byte(err.Error())...)
	}
	shown := r.stdout
	if slices.Contains(args, "--show-secrets") {
		shown = []byte("(stdout not logged: it holds the secrets)\n")
	}
	fmt.Fprintf(l.log, "\n$ %s %s   (exit %d, %.1f s)\n%s%s", name, strings.Join(args, " "), r.code, r.seconds, shown, r.stderr)
	fmt.Fprintf(os.Stderr, "lifecycle: %s %s: exit %d, %.1f s\n", name, strings.Join(args, " "), r.code, r.seconds)
	return r
}

// needsStack says whether a pulumi subcommand takes --stack/--config-file.
func needsStack(sub string) bool {
	switch sub {
	case "login", "version", "plugin", "stack":
		return false
	}
	return true
}

func (l *lifecycle) configFile() string {
	return filepath.Join(l.project, "Pulumi."+stackName+".yaml")
}

// writeProject makes the scratch Pulumi project: the checkout's Pulumi.yaml
// with main pointing at the checkout.
func writeProject(repo, dir string) error {
	b, err := os.ReadFile(filepath.Join(repo, "Pulumi.yaml"))
	if err != nil {
		return err
	}
	if bytes.Contains(b, []byte("\nmain:")) {
		return errors.New("the checkout's Pulumi.yaml sets main: the scratch project cannot point it at the checkout")
	}
	b = append(b, []byte("main: "+repo+"\n")...)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), b, 0o644)
}

// must runs a command that has to succeed.
func (l *lifecycle) must(name string, args ...string) (result, error) {
	r := l.cmd(name, args...)
	if r.code != 0 {
		return r, fmt.Errorf("%s %s: exit %d:\n%s%s", name, strings.Join(args, " "), r.code, tail(r.stdout, 40), tail(r.stderr, 40))
	}
	return r, nil
}

// tail is the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// record writes a fixture, with the run's scratch paths replaced.
func (l *lifecycle) record(name string, b []byte) error {
	b = bytes.ReplaceAll(b, []byte(l.project), []byte("$PROJECT"))
	b = bytes.ReplaceAll(b, []byte(l.work), []byte("$WORK"))
	b = bytes.ReplaceAll(b, []byte(l.repo), []byte("$REPO"))
	b = bytes.ReplaceAll(b, []byte(l.api), []byte("$HCLOUD_ENDPOINT"))
	return os.WriteFile(filepath.Join(l.out, name), b, 0o644)
}

// step times one named step for the figures.
func (l *lifecycle) step(name string, f func() error) error {
	start := time.Now()
	fmt.Fprintf(os.Stderr, "lifecycle: == %s\n", name)
	fmt.Fprintf(l.log, "\n== %s\n", name)
	err := f()
	l.figures = append(l.figures, figure{name, time.Since(start).Seconds()})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// routeCount is one route of the double's /__stats.
type routeCount struct {
	Route string `json:"route"`
	Count int    `json:"count"`
}

// stats reads the double's request counts by route.
func (l *lifecycle) stats() (int, []routeCount, error) {
	resp, err := http.Get(strings.TrimSuffix(l.api, "/v1") + "/__stats")
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var doc struct {
		Total  int          `json:"total"`
		Routes []routeCount `json:"routes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return 0, nil, fmt.Errorf("/__stats: %w", err)
	}
	return doc.Total, doc.Routes, nil
}

// writeFigures writes the run's figures (seconds per step, API calls by
// route) to figures.txt in the fixtures.
func (l *lifecycle) writeFigures() error {
	var b strings.Builder
	seconds := 0.0
	fmt.Fprintln(&b, "# seconds per step (real engine, hcloud double on loopback)")
	for _, f := range l.figures {
		fmt.Fprintf(&b, "%-40s %7.1f\n", f.step, f.seconds)
		seconds += f.seconds
	}
	fmt.Fprintf(&b, "%-40s %7.1f\n", "total", seconds)
	total, routes, err := l.stats()
	if err != nil {
		return err
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Route < routes[j].Route })
	fmt.Fprintf(&b, "\n# API calls by route (%d in all)\n", total)
	for _, r := range routes {
		fmt.Fprintf(&b, "%-60s %5d\n", r.Route, r.Count)
	}
	return l.record("figures.txt", []byte(b.String()))
}
