package harness

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/tests/images"
)

// Defaults of a test stack.
const (
	defaultDomain        = "talk.nctalk.test"
	defaultNextcloudHost = "cloud.nctalk.test"
	// installHint says how to get everything the stack needs on a Debian machine.
	installHint = "as root: apt-get install mmdebstrap libcap2-bin util-linux mount iproute2 ca-certificates curl openssl; the daemons come from the sid root that tests/images.BuildRoot builds (.ci/run builds it first, in $NCTALK_IMAGE_CACHE or /var/cache/nctalk-images)"
)

// ErrMissingDaemons wraps the error Start returns when a prerequisite is
// missing (root, mmdebstrap, a host tool): tests skip on a developer
// machine and fail in CI. A substitute root that fails to build is not
// missing: that error does not wrap it.
var ErrMissingDaemons = errors.New("test stack prerequisites missing")

// Options configure Start. The zero value is a complete test stack.
type Options struct {
	// Domain is the backend's test domain; defaultDomain when empty.
	Domain string
	// NextcloudHost is the host name of the fake Nextcloud; defaultNextcloudHost when empty.
	NextcloudHost string
	// ImageRoot is a root built by images.BuildRoot; empty builds (or
	// reuses) the one in images.CacheDir().
	ImageRoot string
	// Logf receives progress lines (e.g. t.Logf); nil for none.
	Logf func(format string, args ...any)
}

// Stack is a running backend on loopback, built from the exact bytes that
// cloudconfig.Render wrote into write_files.
type Stack struct {
	Domain   string
	Settings cloudconfig.Settings
	Secrets  cloudconfig.Secrets
	// CAFile is the PEM file of the test CA that issued the domain's certificate.
	CAFile string
	// CA is the test CA (also trusted by the daemons, for the fake Nextcloud).
	CA *TestCA
	// Outputs are the stack outputs `pulumi stack output --json --show-secrets`
	// would give for this backend (ipv4 127.0.0.1, ipv6 ::1); OutputsJSON is that JSON.
	Outputs     outputs.Outputs
	OutputsJSON []byte
	// CloudConfig is the rendered document; Rendered its write_files by
	// path, exactly as rendered; Files the same after Transform, as the
	// daemons get them.
	CloudConfig []byte
	Rendered    map[string]WrittenFile
	Files       map[string]WrittenFile
	// Transforms lists what the harness changed for this machine (see Transform).
	Transforms []Change
	// Nextcloud is the fake Nextcloud the signaling server calls back.
	Nextcloud *FakeNextcloud
	// ColdStart is the time from the first daemon start to all-ready.
	ColdStart time.Duration

	opts      Options
	root      string        // temp tree
	imageRoot string        // images.BuildRoot: the daemons' root file system
	mounts    []Mount       // the host view of setup steps (prepare_files, Run)
	binds     []images.Bind // what every container gets besides its volumes
	starts    int           // containers started, for their state directories
	env       []string
	services  map[string]*service
	created   []string // mount points the harness created on the host
	lock      *os.File // held while the stack runs: one stack per machine
	mu        sync.Mutex
}

// service is one daemon of the stack.
type service struct {
	name   string
	spec   images.RunSpec // the container, as compose and the image define it
	user   string         // "uid:gid" it runs as, "" for root
	config string         // main config path, for messages
	ready  func(ctx context.Context, s *Stack) error
	logs   *logBuffer
	proc   *daemonProcess
}

// startOrder is the order the daemons start in: dependencies first.
var startOrder = []string{
	cloudconfig.ServiceNATS,
	cloudconfig.ServiceJanus,
	cloudconfig.ServiceSignaling,
	cloudconfig.ServiceCoturn,
	cloudconfig.ServiceNginx,
}

// Start renders the cloud-config for a test domain, lays its files out in a
// temp tree, issues the domain's certificate from a test CA and starts every
// daemon with those files at their absolute paths. It returns when every
// service is ready, or with an error naming the service and its logs.
// Start needs root; ports 80, 443, 3478, 5349 and the internal ports must be free.
func Start(ctx context.Context, opts Options) (st *Stack, err error) {
	if opts.Domain == "" {
		opts.Domain = defaultDomain
	}
	if opts.NextcloudHost == "" {
		opts.NextcloudHost = defaultNextcloudHost
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if err := checkPrerequisites(); err != nil {
		return nil, err
	}
	s := &Stack{Domain: opts.Domain, opts: opts, services: map[string]*service{}, imageRoot: opts.ImageRoot}
	if s.imageRoot == "" {
		if s.imageRoot, err = BuildImageRoot(ctx, opts.Logf); err != nil {
			return nil, err
		}
	}
	versions, err := images.DaemonVersions(s.imageRoot)
	if err != nil {
		return nil, err
	}
	opts.Logf("daemons of the substitute images (Debian sid, pinned): %s", strings.Join(versions, ", "))
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	if s.lock, err = lockMachine(ctx); err != nil {
		return nil, err
	}
	if err := checkPortsFree(); err != nil {
		return nil, err
	}
	if s.root, err = os.MkdirTemp("", "nctalk-stack-"); err != nil {
		return nil, fmt.Errorf("temp tree: %w", err)
	}
	if s.CA, err = newTestCA(); err != nil {
		return nil, err
	}
	s.CAFile = filepath.Join(s.root, "ca.pem")
	if err := os.WriteFile(s.CAFile, s.CA.CertPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write CA: %w", err)
	}
	if s.Nextcloud, err = startFakeNextcloud(s.CA, opts.NextcloudHost); err != nil {
		return nil, err
	}
	s.Settings = TestSettings(opts.Domain, s.Nextcloud.URL)
	if s.Secrets, err = RandomSecrets(); err != nil {
		return nil, err
	}
	s.Nextcloud.SetSecret(s.Secrets.SignalingSecret)
	plan, err := cloudconfig.NewPlan(s.Settings)
	if err != nil {
		return nil, fmt.Errorf("test settings: %w", err)
	}
	if s.CloudConfig, err = plan.Render(s.Secrets); err != nil {
		return nil, fmt.Errorf("cloudconfig.Render: %w", err)
	}
	if s.Rendered, err = WriteFiles(s.CloudConfig); err != nil {
		return nil, err
	}
	if s.Files, err = WriteFiles(s.CloudConfig); err != nil {
		return nil, err
	}
	if err := s.layOut(); err != nil {
		return nil, err
	}
	if err := s.buildOutputs(plan); err != nil {
		return nil, err
	}
	if err := s.prepareFiles(ctx); err != nil {
		return nil, err
	}
	if err := s.defineServices(); err != nil {
		return nil, err
	}

	begin := time.Now()
	for _, name := range startOrder {
		if err := s.StartService(name); err != nil {
			return nil, err
		}
		if err := s.waitService(ctx, s.services[name]); err != nil {
			return nil, err
		}
	}
	s.ColdStart = time.Since(begin)
	opts.Logf("test stack ready in %v (domain %s, temp tree %s)", s.ColdStart.Round(time.Millisecond), s.Domain, s.root)
	return s, nil
}

// testRelayPorts is the test stack's TURN relay range: set explicitly (not
// the default) so the stack carries the 50 concurrent allocations of the
// load test (one relay port per allocation; the default 49160-49200 has 41)
// and so a non-default range is checked to reach coturn and the firewall.
var testRelayPorts = schema.PortRange{First: 49160, Last: 49260}

// TestSettings are the settings of a test rendering: the domain, one
// Nextcloud, testRelayPorts, the default Janus RTP range.
func TestSettings(domain, nextcloudURL string) cloudconfig.Settings {
	return cloudconfig.Settings{
		Domain:         domain,
		NextcloudURLs:  []string{nextcloudURL},
		ACMEEmail:      "admin@nctalk.test",
		TURNRelayPorts: testRelayPorts,
		TURNOn443:      true,
	}
}

// RandomSecrets returns fresh secrets as `nctalk render` generates them
// (cloudconfig.Secrets.FillMissing).
func RandomSecrets() (cloudconfig.Secrets, error) {
	var sec cloudconfig.Secrets
	if _, err := sec.FillMissing(nil); err != nil {
		return sec, fmt.Errorf("random secrets: %w", err)
	}
	return sec, nil
}

// BuildImageRoot builds (or reuses) the substitute images' sid root in
// images.CacheDir(). Without root or mmdebstrap it returns ErrMissingDaemons
// (a skip on a developer machine); a build that fails or runs out of ctx's
// time is an error of its own, a failure everywhere. Callers give it a
// bound of its own: a cold build takes minutes on a busy machine.
func BuildImageRoot(ctx context.Context, logf func(string, ...any)) (string, error) {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		missing = append(missing, "mmdebstrap")
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: the substitute images' root needs %s; %s", ErrMissingDaemons, strings.Join(missing, ", "), installHint)
	}
	begin := time.Now()
	root, err := images.BuildRoot(ctx, images.CacheDir())
	if err != nil {
		return "", fmt.Errorf("substitute images: %w", err)
	}
	if logf != nil {
		logf("substitute image root %s ready in %v", root, time.Since(begin).Round(time.Millisecond))
	}
	return root, nil
}

func checkPrerequisites() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (mount namespaces and ports 80/443)")
	}
	for _, b := range []string{"mount", "chroot", "setpriv", "bash", "ss", "curl", "openssl"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s; %s", ErrMissingDaemons, strings.Join(missing, ", "), installHint)
	}
	return nil
}

// publicTCPPorts and internal ports the stack binds; a port taken by
// another process makes Start fail with the culprit named.
func checkPortsFree() error {
	ports := []struct {
		network string
		port    int
	}{
		{"tcp", schema.PortHTTP}, {"tcp", schema.PortHTTPS}, {"tcp", schema.PortTURN},
		{"udp", schema.PortTURN}, {"tcp", schema.PortTURNS}, {"tcp", schema.PortSignalingHTTP},
		{"tcp", schema.PortJanusWS}, {"tcp", schema.PortNATS},
		{"tcp", schema.PortHTTPSLocal}, {"tcp", schema.PortTURNSLocal},
	}
	for _, p := range ports {
		addr := fmt.Sprintf("127.0.0.1:%d", p.port)
		var err error
		if p.network == "tcp" {
			var l net.Listener
			if l, err = net.Listen("tcp", addr); err == nil {
				l.Close()
			}
		} else {
			var c net.PacketConn
			if c, err = net.ListenPacket("udp", addr); err == nil {
				c.Close()
			}
		}
		if err != nil {
			out, _ := exec.Command("ss", "-Hlnp", fmt.Sprintf("( sport = :%d )", p.port)).CombinedOutput()
			return fmt.Errorf("port %s/%d is taken (is another test stack running?): %s", p.network, p.port, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// layOut writes every write_files entry into the temp tree, the test
// certificate into the Let's Encrypt layout and the coturn TLS copy, and the
// hosts file and CA bundle the daemons see.
func (s *Stack) layOut() error {
	changes, err := transform(s.Files, transformEnv{Domain: s.Domain})
	if err != nil {
		return err
	}
	s.Transforms = changes
	optDir := filepath.Join(s.root, "opt-nctalk")
	leDir := filepath.Join(s.root, "letsencrypt")
	for _, d := range []string{optDir, leDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("temp tree: %w", err)
		}
	}
	paths := make([]string, 0, len(s.Files))
	for p := range s.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		f := s.Files[p]
		var host string
		switch {
		case strings.HasPrefix(p, cloudconfig.BaseDir+"/"):
			host = filepath.Join(optDir, strings.TrimPrefix(p, cloudconfig.BaseDir+"/"))
		case strings.HasPrefix(p, cloudconfig.LetsEncryptDir+"/"):
			host = filepath.Join(leDir, strings.TrimPrefix(p, cloudconfig.LetsEncryptDir+"/"))
		default:
			continue // host setup (systemd units, scripts): not part of the daemons' view
		}
		perm := os.FileMode(f.Permissions)
		if perm == 0 {
			perm = 0o644 // cloud-init's default
		}
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			return fmt.Errorf("temp tree: %w", err)
		}
		if err := os.WriteFile(host, f.Content, perm); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := os.Chmod(host, perm); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}

	cert, err := s.CA.Issue(s.certNames()...)
	if err != nil {
		return err
	}
	live := filepath.Join(leDir, "live", s.Domain)
	if err := os.MkdirAll(live, 0o700); err != nil {
		return fmt.Errorf("temp tree: %w", err)
	}
	for name, b := range cert {
		mode := os.FileMode(0o644)
		if name == "privkey.pem" {
			mode = 0o600 // as certbot writes it: root only
		}
		if err := os.WriteFile(filepath.Join(live, name), b, mode); err != nil {
			return fmt.Errorf("write certificate: %w", err)
		}
	}

	names := strings.Join(append(s.certNames(), s.opts.NextcloudHost), " ")
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost %[1]s\n::1\tlocalhost ip6-localhost %[1]s\n", names)
	if err := os.WriteFile(filepath.Join(s.root, "hosts"), []byte(hosts), 0o644); err != nil {
		return fmt.Errorf("write hosts: %w", err)
	}
	// Daemons resolve only through /etc/hosts: a misconfigured daemon that
	// looks up another name gets no answer instead of asking the network.
	if err := os.WriteFile(filepath.Join(s.root, "resolv.conf"), []byte("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n"), 0o644); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	bundle, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		bundle = nil // no system bundle: the test CA alone
	}
	bundle = append(append(bundle, '\n'), s.CA.CertPEM...)
	if err := os.WriteFile(filepath.Join(s.root, "ca-certificates.crt"), bundle, 0o644); err != nil {
		return fmt.Errorf("write CA bundle: %w", err)
	}

	// Directories the configs name: created as empty mount points on the
	// host when missing (and removed again by Close).
	for _, dir := range []string{cloudconfig.BaseDir, cloudconfig.LetsEncryptDir} {
		if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("mount point %s: %w", dir, err)
			}
			s.created = append(s.created, dir)
		}
	}
	s.mounts = []Mount{
		{Source: optDir, Target: cloudconfig.BaseDir},
		{Source: leDir, Target: cloudconfig.LetsEncryptDir},
		{Source: filepath.Join(s.root, "hosts"), Target: "/etc/hosts"},
		{Source: filepath.Join(s.root, "ca-certificates.crt"), Target: "/etc/ssl/certs/ca-certificates.crt"},
	}
	// A regular /etc/resolv.conf is replaced; a symlink (e.g. into
	// systemd-resolved's /run) dangles once /run is the daemon's own, and
	// the resolver then falls back to 127.0.0.1 as well.
	if fi, err := os.Lstat("/etc/resolv.conf"); err == nil && fi.Mode().IsRegular() {
		s.mounts = append(s.mounts, Mount{Source: filepath.Join(s.root, "resolv.conf"), Target: "/etc/resolv.conf"})
	}
	// Last, so no bind mount above is resolved through it: the step's own /run.
	s.mounts = append(s.mounts, Mount{Target: "/run", Tmpfs: true})
	// Containers with host networking get the host's /etc/hosts and
	// /etc/resolv.conf; the CA bundle adds the test CA (for the fake Nextcloud).
	s.binds = []images.Bind{
		{Source: filepath.Join(s.root, "hosts"), Target: "/etc/hosts", ReadOnly: true},
		{Source: filepath.Join(s.root, "resolv.conf"), Target: "/etc/resolv.conf", ReadOnly: true},
		{Source: filepath.Join(s.root, "ca-certificates.crt"), Target: "/etc/ssl/certs/ca-certificates.crt", ReadOnly: true},
	}
	for _, m := range s.mounts {
		if _, err := os.Stat(m.Target); err != nil && !m.Tmpfs {
			return fmt.Errorf("mount point %s: %w", m.Target, err)
		}
	}
	s.env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	return nil
}

// HostPath returns where a path under cloudconfig.BaseDir or
// cloudconfig.LetsEncryptDir (as the daemons see it) lies in the harness'
// temp tree, so a test can put files there (e.g. an ACME challenge).
func (s *Stack) HostPath(vmPath string) (string, error) {
	for prefix, dir := range map[string]string{cloudconfig.BaseDir: "opt-nctalk", cloudconfig.LetsEncryptDir: "letsencrypt"} {
		if vmPath == prefix || strings.HasPrefix(vmPath, prefix+"/") {
			return filepath.Join(s.root, dir, strings.TrimPrefix(vmPath, prefix)), nil
		}
	}
	return "", fmt.Errorf("%s is neither under %s nor %s", vmPath, cloudconfig.BaseDir, cloudconfig.LetsEncryptDir)
}

// buildOutputs builds the stack outputs the stack would export for the
// plan, as infra does.
func (s *Stack) buildOutputs(plan cloudconfig.Plan) error {
	redacted, err := plan.RenderRedacted()
	if err != nil {
		return fmt.Errorf("redacted cloud-config: %w", err)
	}
	ends := plan.Endpoints
	o := outputs.Outputs{
		Domain:            s.Domain,
		SignalingURL:      ends.SignalingURL(),
		SignalingSecret:   s.Secrets.SignalingSecret,
		TURNSecret:        s.Secrets.TURNSecret,
		TURNServers:       ends.TURNServers(),
		STUNServers:       ends.STUNServers(),
		TURNRelayPorts:    plan.TURNRelayPorts.String(),
		JanusRTPPorts:     plan.JanusRTPPorts.String(),
		IPv4:              "127.0.0.1",
		IPv6:              "::1",
		ServerName:        "nctalk-test",
		SSHCommand:        "ssh root@127.0.0.1",
		CloudConfigDigest: outputs.CloudConfigDigest(string(redacted)),
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return fmt.Errorf("outputs JSON: %w", err)
	}
	s.Outputs, s.OutputsJSON = o, b
	return nil
}

// TURNRelayPorts is coturn's relay range of this stack (from the firewall table).
func (s *Stack) TURNRelayPorts() schema.PortRange { return ruleRange(s.Settings, "turn-relay") }

// JanusRTPPorts is Janus' RTP range of this stack (from the firewall table).
func (s *Stack) JanusRTPPorts() schema.PortRange { return ruleRange(s.Settings, "janus-rtp") }

func ruleRange(set cloudconfig.Settings, name string) schema.PortRange {
	for _, r := range cloudconfig.FirewallRules(set) {
		if r.Name == name {
			return r.Ports
		}
	}
	return schema.PortRange{}
}

// StartService starts the named daemon (a cloudconfig.Service* name). It
// does not wait for readiness: see WaitReady.
func (s *Stack) StartService(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[name]
	if !ok {
		return fmt.Errorf("no service %q in the test stack", name)
	}
	if svc.proc != nil {
		if done, _ := svc.proc.exited(); !done {
			return fmt.Errorf("%s is already running", name)
		}
	}
	fmt.Fprintf(svc.logs, "---- harness: starting %s (user %q, capabilities %v, no_new_privs %v)\n",
		strings.Join(svc.spec.Argv, " "), svc.spec.User, svc.spec.Caps, svc.spec.NoNewPrivs)
	s.starts++
	state := filepath.Join(s.root, "containers", fmt.Sprintf("%s-%d", name, s.starts))
	p, err := startContainer(svc.spec, s.imageRoot, state, svc.logs)
	if err != nil {
		return err
	}
	svc.proc = p
	return nil
}

// StopService stops the named daemon gracefully (SIGTERM, then SIGKILL after 5s).
func (s *Stack) StopService(name string) error { return s.signalService(name, syscall.SIGTERM) }

// KillService kills the named daemon at once (SIGKILL), as a crash would.
func (s *Stack) KillService(name string) error { return s.signalService(name, syscall.SIGKILL) }

func (s *Stack) signalService(name string, sig syscall.Signal) error {
	s.mu.Lock()
	svc, ok := s.services[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("no service %q in the test stack", name)
	}
	if svc.proc == nil {
		return nil
	}
	fmt.Fprintf(svc.logs, "---- harness: stopping %s with %v\n", name, sig)
	svc.proc.stop(sig, 5*time.Second)
	return nil
}

// PID returns the host PID of the named daemon (0 when not running).
func (s *Stack) PID(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[name]
	if !ok || svc.proc == nil {
		return 0
	}
	if done, _ := svc.proc.exited(); done {
		return 0
	}
	return svc.proc.cmd.Process.Pid
}

// Logs returns the tail of the named daemon's output.
func (s *Stack) Logs(name string) string {
	s.mu.Lock()
	svc, ok := s.services[name]
	s.mu.Unlock()
	if !ok {
		return ""
	}
	return svc.logs.String()
}

// AllLogs returns every daemon's log tail, headed by its name.
func (s *Stack) AllLogs() string {
	var b strings.Builder
	for _, name := range startOrder {
		fmt.Fprintf(&b, "===== %s logs =====\n%s\n", name, s.Logs(name))
	}
	return b.String()
}

// WaitReady polls every service until it answers (bounded by ctx).
func (s *Stack) WaitReady(ctx context.Context) error {
	for _, name := range startOrder {
		if err := s.waitService(ctx, s.services[name]); err != nil {
			return err
		}
	}
	return nil
}

// WaitServiceReady polls one service until it answers (bounded by ctx).
func (s *Stack) WaitServiceReady(ctx context.Context, name string) error {
	svc, ok := s.services[name]
	if !ok {
		return fmt.Errorf("no service %q in the test stack", name)
	}
	return s.waitService(ctx, svc)
}

func (s *Stack) waitService(ctx context.Context, svc *service) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		if svc.proc == nil {
			return fmt.Errorf("%s is not running", svc.name)
		}
		if done, exitErr := svc.proc.exited(); done {
			return fmt.Errorf("%s (config %s) exited: %v\n%s", svc.name, svc.config, exitErr, tail(svc.logs.String(), 40))
		}
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		last = svc.ready(pctx, s)
		pcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s (config %s) not ready: %v\n%s", svc.name, svc.config, last, tail(svc.logs.String(), 40))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// Close stops every daemon and the fake Nextcloud, and removes the temp
// tree and the mount points it created.
func (s *Stack) Close() error {
	var wg sync.WaitGroup
	for _, svc := range s.services {
		if svc.proc != nil {
			wg.Add(1)
			go func(p *daemonProcess) {
				defer wg.Done()
				p.stop(syscall.SIGTERM, 3*time.Second)
			}(svc.proc)
		}
	}
	wg.Wait()
	if s.Nextcloud != nil {
		s.Nextcloud.Close()
	}
	for i := len(s.created) - 1; i >= 0; i-- {
		_ = os.Remove(s.created[i]) // only if still empty
	}
	var err error
	if s.root != "" {
		err = os.RemoveAll(s.root)
	}
	if s.lock != nil {
		_ = s.lock.Close() // releases the flock
	}
	return err
}

// lockFile serialises test stacks on one machine (they bind the same ports).
const lockFile = "/tmp/nctalk-test-stack.lock"

// lockMachine waits (bounded by ctx) until no other test stack runs.
func lockMachine(ctx context.Context) (*os.File, error) {
	f, err := Lock(ctx, lockFile)
	if err != nil {
		return nil, fmt.Errorf("another test stack (another `go test` of tests/ or cmd/nctalk running?): %w", err)
	}
	return f, nil
}

// DialContext dials like net.Dialer but resolves the test domain and the
// fake Nextcloud's host to 127.0.0.1, as DNS would resolve them to the VM.
// It dials nothing but loopback: other names and addresses are an error.
func (s *Stack) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if host == s.Domain || host == s.opts.NextcloudHost || host == "localhost" || (s.Settings.TURNOn443 && host == s.Settings.TURNName()) {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("test stack dials loopback only; %q is neither %s, %s nor a loopback address", host, s.Domain, s.opts.NextcloudHost)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, net.JoinHostPort(host, port))
}

// certNames are the names of the stack's certificate, as the setup script
// asks Let's Encrypt for them: the domain, and the TURN name with turnOn443.
func (s *Stack) certNames() []string {
	if s.Settings.TURNOn443 {
		return []string{s.Domain, s.Settings.TURNName()}
	}
	return []string{s.Domain}
}

// TLSConfig trusts only the test CA and checks the domain's certificate.
func (s *Stack) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CA.Pool(), ServerName: s.Domain, MinVersion: tls.VersionTLS12}
}

// HTTPClient trusts the test CA and dials through DialContext.
func (s *Stack) HTTPClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			DialContext:         s.DialContext,
			TLSClientConfig:     &tls.Config{RootCAs: s.CA.Pool(), MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 64,
			ForceAttemptHTTP2:   true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
