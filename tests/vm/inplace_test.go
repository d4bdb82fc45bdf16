package vm

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"golang.org/x/crypto/ssh"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/talk"
	"github.com/nctalk/nctalk/tests/harness"
)

// access is the stack's way onto the box in the VM test, as infra builds
// it: a host key the user data installs and a deploy key whose line in the
// box's authorized keys forces cloudconfig.ApplyCommand. The test's own
// keys, generated per run.
type access struct {
	cloudconfig.Access
	deployKeyFile string // the deploy key's private half, for ssh -i
}

func newAccess(t *testing.T, dir string) access {
	t.Helper()
	gen := func() (ed25519.PrivateKey, string) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ssh.NewPublicKey(priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		return priv, string(ssh.MarshalAuthorizedKey(pub))
	}
	host, hostPub := gen()
	deploy, deployPub := gen()
	pemOf := func(k ed25519.PrivateKey) []byte {
		block, err := ssh.MarshalPrivateKey(k, "")
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(block)
	}
	a := access{Access: cloudconfig.Access{HostKey: string(pemOf(host)), HostPublicKey: hostPub, DeployPublicKey: deployPub},
		deployKeyFile: filepath.Join(dir, "deploy_ed25519")}
	if err := os.WriteFile(a.deployKeyFile, pemOf(deploy), 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// planFor is the plan the stack renders for settings, with the access.
func (a access) planFor(t *testing.T, s cloudconfig.Settings) cloudconfig.Plan {
	t.Helper()
	p, err := cloudconfig.NewPlan(s)
	if err != nil {
		t.Fatalf("settings: %v", err)
	}
	if p, err = p.WithAccess(a.Access); err != nil {
		t.Fatalf("access: %v", err)
	}
	return p
}

// apply sends a bundle as the stack does (infra's apply: pulumi-command
// over SSH with the deploy key, the host key pinned) and returns what
// nctalk-apply printed.
func (a access) apply(m *machine, b cloudconfig.Bundle) (string, error) {
	enc, err := b.Encode()
	if err != nil {
		return "", err
	}
	known := filepath.Join(m.dir, "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s", m.fwd["tcp/22"], strings.TrimSpace(a.HostPublicKey))
	if err := os.WriteFile(known, []byte(line+"\n"), 0o600); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// The command asked for does not matter: sshd runs the key's forced one.
	cmd := exec.CommandContext(ctx, "ssh", "-i", a.deployKeyFile, "-p", fmt.Sprint(m.fwd["tcp/22"]),
		"-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+known, "-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=10", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "root@127.0.0.1", "true")
	cmd.Stdin = strings.NewReader(enc)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// bundle renders the stack's bundle for settings and secrets.
func (a access) bundle(t *testing.T, s cloudconfig.Settings, sec cloudconfig.Secrets) cloudconfig.Bundle {
	t.Helper()
	b, err := a.planFor(t, s).Bundle(sec)
	if err != nil {
		t.Fatalf("bundle: %v", err)
	}
	return b
}

// probe checks one thing every interval while a change runs, and says how
// long it failed.
type probe struct {
	name     string
	mu       sync.Mutex
	results  []probeResult
	stop     chan struct{}
	finished chan struct{}
}

type probeResult struct {
	at  time.Time
	err error
}

func startProbe(name string, every time.Duration, check func(context.Context) error) *probe {
	p := &probe{name: name, stop: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(p.finished)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := check(ctx)
			cancel()
			p.mu.Lock()
			p.results = append(p.results, probeResult{time.Now(), err})
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// end stops the probe and returns the time from each first failure to the
// next success, summed (the downtime), the number of failed checks, the
// number of checks and the last error.
func (p *probe) end() (downtime time.Duration, failed, total int, last error) {
	close(p.stop)
	<-p.finished
	var since time.Time
	for _, r := range p.results {
		switch {
		case r.err != nil && since.IsZero():
			since, last = r.at, r.err
			failed++
		case r.err != nil:
			failed++
			last = r.err
		case !since.IsZero():
			downtime += r.at.Sub(since)
			since = time.Time{}
		}
	}
	if !since.IsZero() {
		downtime += p.results[len(p.results)-1].at.Sub(since)
	}
	return downtime, failed, len(p.results), last
}

// probes are the checks the in-place scenarios run from the host.
type probes struct {
	port443, port3478 int
	caPEM             []byte
	secrets           *cloudconfig.Secrets
	backend           string
}

func (pr probes) httpClient() *http.Client {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pr.caPEM)
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", pr.port443))
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: testDomain, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
		DisableKeepAlives: true,
	}}
}

// welcome: signaling's welcome through nginx on 443.
func (pr probes) welcome(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+testDomain+talk.SignalingPath+"/api/v1/welcome", nil)
	if err != nil {
		return err
	}
	resp, err := pr.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("nextcloud-spreed-signaling")) {
		return fmt.Errorf("welcome: HTTP %d", resp.StatusCode)
	}
	return nil
}

// hello: a new WebSocket session through nginx, as an internal client.
func (pr probes) hello(ctx context.Context) error {
	conn, err := harness.DialSignaling(ctx, "wss://"+testDomain+talk.SignalingPath+"/spreed", pr.httpClient())
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.HelloInternal(ctx, pr.secrets.InternalClientSecret, pr.backend)
}

// allocation: a new TURN allocation over TCP 3478 with the current secret.
func (pr probes) allocation(ctx context.Context) error {
	return allocateOnce(ctx, pr.port3478, pr.secrets.TURNSecret)
}

// fileDigests returns the SHA-256 of each file on the box.
func fileDigests(t *testing.T, m *machine, paths []string) map[string]string {
	t.Helper()
	out := m.mustSSH(time.Minute, "sha256sum "+strings.Join(paths, " ")+" 2>&1 || true")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			got[f[1]] = f[0]
		}
	}
	return got
}

// assertFilesAre: every file of the bundle is on the box as the bundle has it.
func assertFilesAre(t *testing.T, m *machine, b cloudconfig.Bundle) {
	t.Helper()
	var paths []string
	for _, f := range b.Files {
		paths = append(paths, f.Path)
	}
	got := fileDigests(t, m, paths)
	for _, f := range b.Files {
		sum := sha256.Sum256(f.Content)
		if got[f.Path] != hex.EncodeToString(sum[:]) {
			t.Errorf("%s on the box is not the bundle's", f.Path)
		}
	}
}

// withFile returns b with one file's content changed by edit, and its
// digests made again (what a stack would send for that content).
func withFile(t *testing.T, b cloudconfig.Bundle, path string, edit func([]byte) []byte) cloudconfig.Bundle {
	t.Helper()
	files := make([]cloudconfig.File, len(b.Files))
	copy(files, b.Files)
	found := false
	for i, f := range files {
		if f.Path == path {
			files[i].Content = edit(append([]byte(nil), f.Content...))
			found = true
		}
	}
	if !found {
		t.Fatalf("the bundle has no %s", path)
	}
	nb, err := cloudconfig.NewBundle(files)
	if err != nil {
		t.Fatal(err)
	}
	return nb
}

var errNoAllocation = errors.New("no relay")

// allocateOnce allocates a TURN relay over a new TCP connection to the
// forwarded 3478 and releases it: the check a client's ICE does.
func allocateOnce(ctx context.Context, port int, secret string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	s, err := newTURNClient(c, secret, "vmprobe")
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Listen(); err != nil {
		return err
	}
	relay, err := s.Allocate()
	if err != nil {
		return err
	}
	if relay == nil {
		return errNoAllocation
	}
	return relay.Close()
}

// inPlaceEnv is what the in-place scenarios need of TestFirstBoot.
type inPlaceEnv struct {
	m        *machine
	access   access
	settings *cloudconfig.Settings
	secrets  *cloudconfig.Secrets
	caPEM    []byte
	push     func(service, image string) (string, error) // pushes service's substitute image as image; returns it as the settings pin it
	figures  *phases
}

// runInPlace applies changes to the running backend the way the stack does
// and measures, with probes every 250 ms or less, what each costs: issue
// 20's scenarios. Each scenario asserts the behaviour (what the box says
// it did, PIDs kept, sessions kept, probes passing); the seconds are
// logged (docs/testing.md records them), not asserted.
func runInPlace(t *testing.T, e inPlaceEnv) {
	m, a := e.m, e.access
	pr := probes{port443: m.fwd["tcp/443"], port3478: m.fwd["tcp/3478"], caPEM: e.caPEM, secrets: e.secrets, backend: e.settings.NextcloudURLs[0]}
	apply := func(t *testing.T, b cloudconfig.Bundle, want string) (string, time.Duration) {
		t.Helper()
		start := time.Now()
		out, err := a.apply(m, b)
		d := time.Since(start)
		t.Logf("nctalk-apply (%.1f s):\n%s", d.Seconds(), out)
		if err != nil {
			t.Fatalf("apply: %v", err)
		}
		if !strings.Contains(out, want) {
			t.Errorf("nctalk-apply said %q; want %q", strings.TrimSpace(out), want)
		}
		return out, d
	}
	samePIDs := func(t *testing.T, before map[string]string, services ...string) {
		t.Helper()
		after := containerPIDs(t, m)
		for _, s := range services {
			c := "nctalk-" + s + "-1"
			if after[c] != before[c] {
				t.Errorf("%s: PID %s before, %s after; want it untouched", c, before[c], after[c])
			}
		}
	}

	t.Run("unchanged", func(t *testing.T) {
		// The first apply on a box fresh from its first boot: the bundle is
		// what it booted with.
		before := containerPIDs(t, m)
		apply(t, a.bundle(t, *e.settings, *e.secrets), "nothing to change")
		samePIDs(t, before, "nats", "janus", "coturn", "signaling", "nginx")
	})

	t.Run("nextcloud-url-added", func(t *testing.T) {
		ws := openSignaling(t, m.fwd["tcp/443"], e.caPEM, *e.secrets, pr.backend)
		before := containerPIDs(t, m)
		p := startProbe("welcome", 200*time.Millisecond, pr.welcome)
		e.settings.NextcloudURLs = append(e.settings.NextcloudURLs, "https://cloud2.nctalk-vm.example")
		_, d := apply(t, a.bundle(t, *e.settings, *e.secrets), "signaling reloaded")
		down, failed, total, last := p.end()
		e.figures.add("in place: Nextcloud URL added, apply", d.Seconds())
		e.figures.add("in place: Nextcloud URL added, signaling downtime (welcome every 200 ms)", down.Seconds())
		if failed > 0 {
			t.Errorf("%d of %d welcome probes failed during a reload (last: %v); want none", failed, total, last)
		}
		samePIDs(t, before, "nats", "janus", "coturn", "signaling", "nginx")
		if err := finalPing(ws); err != nil {
			t.Errorf("the WebSocket session opened before the change: %v; want it kept", err)
		}
		if err := pr.helloAs(context.Background(), "https://cloud2.nctalk-vm.example"); err != nil {
			t.Errorf("a hello for the new Nextcloud: %v", err)
		}
	})

	t.Run("signaling-image-bumped", func(t *testing.T) {
		image, err := e.push(cloudconfig.ServiceSignaling, bumped(e.settings, cloudconfig.ServiceSignaling))
		if err != nil {
			t.Fatal(err)
		}
		before := containerPIDs(t, m)
		p := startProbe("hello", 250*time.Millisecond, pr.hello)
		e.settings.Images[cloudconfig.ServiceSignaling] = image
		_, d := apply(t, a.bundle(t, *e.settings, *e.secrets), "signaling recreated")
		waitProbe(t, pr.hello, time.Minute)
		down, _, total, last := p.end()
		e.figures.add("in place: signaling image bumped, apply", d.Seconds())
		e.figures.add("in place: signaling image bumped, until a new hello succeeds", down.Seconds())
		t.Logf("hello probes: %d, downtime %.2f s (last error %v)", total, down.Seconds(), last)
		samePIDs(t, before, "nats", "janus", "coturn", "nginx")
		if got := m.mustSSH(time.Minute, "docker inspect -f '{{.Config.Image}}' nctalk-signaling-1"); !strings.Contains(got, image) {
			t.Errorf("signaling runs %s; want %s", strings.TrimSpace(got), image)
		}
	})

	t.Run("coturn-image-bumped", func(t *testing.T) {
		ws := openSignaling(t, m.fwd["tcp/443"], e.caPEM, *e.secrets, pr.backend)
		image, err := e.push(cloudconfig.ServiceCoturn, bumped(e.settings, cloudconfig.ServiceCoturn))
		if err != nil {
			t.Fatal(err)
		}
		before := containerPIDs(t, m)
		p := startProbe("allocation", 250*time.Millisecond, pr.allocation)
		e.settings.Images[cloudconfig.ServiceCoturn] = image
		_, d := apply(t, a.bundle(t, *e.settings, *e.secrets), "coturn recreated")
		waitProbe(t, pr.allocation, time.Minute)
		down, _, total, last := p.end()
		e.figures.add("in place: coturn image bumped, apply", d.Seconds())
		e.figures.add("in place: coturn image bumped, until a TURN allocation succeeds", down.Seconds())
		t.Logf("allocation probes: %d, downtime %.2f s (last error %v)", total, down.Seconds(), last)
		samePIDs(t, before, "nats", "janus", "signaling", "nginx")
		if err := finalPing(ws); err != nil {
			t.Errorf("the signaling session opened before the change: %v; want it kept", err)
		}
	})

	t.Run("turn-secret-rotated", func(t *testing.T) {
		old := e.secrets.TURNSecret
		before := containerPIDs(t, m)
		welcome := startProbe("welcome", 250*time.Millisecond, pr.welcome)
		e.secrets.TURNSecret = randomSecret(32)
		// TURN is up while coturn allocates with the secret it runs: the
		// old one until its restart, the new one after.
		alloc := startProbe("allocation", 250*time.Millisecond, func(ctx context.Context) error {
			if allocateOnce(ctx, pr.port3478, old) == nil {
				return nil
			}
			return pr.allocation(ctx)
		})
		_, d := apply(t, a.bundle(t, *e.settings, *e.secrets), "coturn restarted, signaling restarted")
		waitProbe(t, pr.allocation, time.Minute)
		waitProbe(t, pr.hello, time.Minute)
		wDown, _, _, _ := welcome.end()
		aDown, _, _, _ := alloc.end()
		e.figures.add("in place: TURN secret rotated, apply", d.Seconds())
		e.figures.add("in place: TURN secret rotated, signaling downtime (welcome)", wDown.Seconds())
		e.figures.add("in place: TURN secret rotated, TURN downtime (an allocation with either secret)", aDown.Seconds())
		samePIDs(t, before, "nats", "janus", "nginx")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := allocateOnce(ctx, pr.port3478, old); err == nil {
			t.Error("an allocation with the old TURN secret succeeded after the rotation")
		}
	})

	t.Run("rejected-signaling-config", func(t *testing.T) {
		good := a.bundle(t, *e.settings, *e.secrets)
		// A session block key of a length signaling refuses at start: a
		// restart-class change that signaling cannot take.
		bad := withFile(t, good, cloudconfig.SignalingConfig, func(b []byte) []byte {
			return bytes.Replace(b, []byte("blockkey = "), []byte("blockkey = tooShort"), 1)
		})
		out, err := a.apply(m, bad)
		t.Logf("nctalk-apply of a configuration signaling refuses:\n%s", out)
		if err == nil {
			t.Fatal("the apply succeeded; want it to fail and say so")
		}
		for _, want := range []string{"FAILED", "signaling", "last good files are back"} {
			if !strings.Contains(out, want) {
				t.Errorf("the failure does not say %q", want)
			}
		}
		waitProbe(t, pr.welcome, 2*time.Minute)
		waitProbe(t, pr.hello, time.Minute)
		assertFilesAre(t, m, good)
		// The next apply of the good bundle finds nothing to do.
		apply(t, good, "nothing to change")
	})
}

// helloAs says hello as an internal client of another Nextcloud.
func (pr probes) helloAs(ctx context.Context, backend string) error {
	pr.backend = backend
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return pr.hello(ctx)
}

// waitProbe waits until check passes, failing the test after d.
func waitProbe(t *testing.T, check func(context.Context) error, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := check(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not back after %s: %v", d, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// bumped is the service's image under a new tag (its digest, if pinned by
// one, left off: the push gives the new one): the same substitute image,
// pushed again, as a security update would be.
func bumped(s *cloudconfig.Settings, service string) string {
	image, _, _ := strings.Cut(s.EffectiveImages()[service], "@")
	return image + "-bump"
}

// finalPing checks a session opened before a change still carries frames.
func finalPing(ws *harness.SignalingConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return ws.FinalPing(ctx)
}

// TestBumpedImagesAreReferences: the bump of an image pinned by tag or by
// tag@digest is a reference Docker and the registry take (appending to a
// digest made "…:2.1.1@sha256:…-bump", which the push refused half way
// through the in-place scenarios).
func TestBumpedImagesAreReferences(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("ab", 32)
	for _, pin := range []string{"", digest} {
		s := cloudconfig.Settings{Images: map[string]string{}}
		for svc, image := range cloudconfig.DefaultImages {
			s.Images[svc] = image + pin
		}
		for _, svc := range []string{cloudconfig.ServiceSignaling, cloudconfig.ServiceCoturn} {
			got := bumped(&s, svc)
			if _, err := name.ParseReference(got); err != nil {
				t.Errorf("bumped(%s pinned as %q) = %q: %v", svc, s.Images[svc], got, err)
			}
			if !strings.HasSuffix(got, "-bump") {
				t.Errorf("bumped(%s) = %q: want the tag with -bump", svc, got)
			}
		}
	}
}
