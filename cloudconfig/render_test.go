package cloudconfig

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite testdata/reference.golden.yaml")

// settingsCases are the settings every document-level check runs on.
func settingsCases() map[string]Settings {
	minimal := referenceSettings()
	minimal.SSHAuthorizedKeys, minimal.SSHAllowedCIDRs, minimal.StateDevice = nil, nil, ""
	staging := referenceSettings()
	staging.ACMEStaging = true
	many := referenceSettings()
	many.NextcloudURLs = []string{"https://a.example.com", "https://b.example.org/nextcloud", "https://c.example.net"}
	many.SSHAuthorizedKeys = []string{testSSHKey, testSSHKey2}
	custom := referenceSettings()
	custom.SSHPort = 2222
	custom.JanusRTPPorts = schema.PortRange{First: 20000, Last: 40000}
	custom.TURNRelayPorts = schema.PortRange{First: 40001, Last: 40100}
	custom.SSHAllowedCIDRs = []string{"198.51.100.7"}
	custom.Images = map[string]string{ServiceNATS: "nats:2.10.29-alpine", ServiceNginx: "nginx:1.26.3-alpine"}
	custom.TURNDomain = "relay.example.net"
	no443 := referenceSettings()
	no443.TURNOn443 = false
	return map[string]Settings{
		"reference": referenceSettings(), "minimal": minimal, "staging": staging,
		"many-backends": many, "custom-ports": custom, "turn443-off": no443,
	}
}

func mustRender(t testing.TB, s Settings) []byte {
	t.Helper()
	doc, err := Render(s, fakeSecrets())
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return doc
}

func mustFiles(t testing.TB, s Settings) map[string]File {
	t.Helper()
	p, err := NewPlan(s)
	if err != nil {
		t.Fatalf("NewPlan: %v", err)
	}
	return mustPlanFiles(t, p)
}

// mustPlanFiles is every file of the plan by path.
func mustPlanFiles(t testing.TB, p Plan) map[string]File {
	t.Helper()
	files, err := p.Files(fakeSecrets())
	if err != nil {
		t.Fatalf("RenderFiles: %v", err)
	}
	m := map[string]File{}
	for _, f := range files {
		if _, dup := m[f.Path]; dup {
			t.Fatalf("%s is written twice", f.Path)
		}
		m[f.Path] = f
	}
	return m
}

// documentFiles parses write_files out of a rendered document.
func documentFiles(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	var d struct {
		WriteFiles []struct{ Path, Content string } `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(doc, &d); err != nil {
		t.Fatalf("document is not YAML: %v", err)
	}
	m := map[string]string{}
	for _, f := range d.WriteFiles {
		m[f.Path] = f.Content
	}
	return m
}

func TestRenderWritesRenderFilesVerbatim(t *testing.T) {
	for name, s := range settingsCases() {
		t.Run(name, func(t *testing.T) {
			got := documentFiles(t, mustRender(t, s))
			files := mustFiles(t, s)
			if len(got) != len(files) {
				t.Errorf("document has %d files, RenderFiles %d", len(got), len(files))
			}
			for p, f := range files {
				if got[p] != string(f.Content) {
					t.Errorf("%s: document content differs from RenderFiles", p)
				}
			}
		})
	}
}

func TestRenderDeterministic(t *testing.T) {
	s := settingsCases()["custom-ports"]
	first := mustRender(t, s)
	for i := 0; i < 20; i++ {
		s2 := settingsCases()["custom-ports"] // fresh maps: new iteration order
		if again := mustRender(t, s2); !bytes.Equal(first, again) {
			t.Fatalf("render %d differs from the first", i)
		}
	}
}

func TestRenderRejectsInvalidInput(t *testing.T) {
	s := referenceSettings()
	s.Domain = "not a domain"
	if _, err := Render(s, fakeSecrets()); schema.KeyOf(err) != schema.KeyDomain {
		t.Errorf("bad domain: err = %v, want a %s error", err, schema.KeyDomain)
	}
	sec := fakeSecrets()
	sec.SessionBlockKey = "short"
	if _, err := Render(referenceSettings(), sec); schema.KeyOf(err) != "sessionBlockKey" {
		t.Errorf("bad block key: err = %v, want a sessionBlockKey error", err)
	}
}

func TestRenderSize(t *testing.T) {
	// As the stack renders it: with its access (the host key in ssh_keys).
	p, err := NewPlan(referenceSettings())
	if err != nil {
		t.Fatal(err)
	}
	if p, err = p.WithAccess(testAccess(t)); err != nil {
		t.Fatal(err)
	}
	doc, err := p.Render(fakeSecrets())
	if err != nil {
		t.Fatal(err)
	}
	ud := EncodeUserData(doc)
	t.Logf("reference cloud-config: %d bytes, user data %d bytes (target %d, limit %d)", len(doc), len(ud), targetUserDataBytes, MaxUserDataBytes)
	if len(ud) > targetUserDataBytes {
		t.Errorf("reference user data is %d bytes, over the %d-byte target", len(ud), targetUserDataBytes)
	}
	for name, s := range settingsCases() {
		doc := mustRender(t, s)
		n := len(EncodeUserData(doc))
		t.Logf("%s: %d bytes, user data %d bytes", name, len(doc), n)
		if n > maxTypicalUserDataBytes {
			t.Errorf("%s: user data %d bytes, over %d", name, n, maxTypicalUserDataBytes)
		}
	}
	// Within every key's grammar (entries, bytes) but over the user data
	// limit: 20 backends with 2000-byte URLs whose paths do not compress
	// (letters and digits from a fixed pseudo-random sequence).
	huge := referenceSettings()
	rng := rand.New(rand.NewPCG(1, 2))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := 0; len(huge.NextcloudURLs) < 20; i++ {
		u := []byte(fmt.Sprintf("https://cloud%d.example.com/", i))
		for len(u) < 2000 {
			u = append(u, alnum[rng.IntN(len(alnum))])
		}
		huge.NextcloudURLs = append(huge.NextcloudURLs, string(u))
	}
	_, err = Render(huge, fakeSecrets())
	if err == nil || !strings.Contains(err.Error(), "user data limit") || schema.KeyOf(err) == "" {
		t.Errorf("20 long backends: err = %v, want a config error about the user data limit", err)
	}
}

func BenchmarkRender(b *testing.B) {
	s, sec := referenceSettings(), fakeSecrets()
	var doc []byte
	for b.Loop() {
		var err error
		if doc, err = Render(s, sec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(doc)), "bytes/doc")
	b.ReportMetric(float64(len(EncodeUserData(doc))), "bytes/userdata")
}

// secretHomes says which files may carry each secret: only the daemons that need it.
var secretHomes = map[string][]string{
	"signalingSecret":      {SignalingConfig},
	"turnSecret":           {SignalingConfig, CoturnConfig},
	"sessionHashKey":       {SignalingConfig},
	"sessionBlockKey":      {SignalingConfig},
	"internalClientSecret": {SignalingConfig},
	"janusApiKey":          {SignalingConfig},
}

func TestSecretsOnlyWhereNeeded(t *testing.T) {
	files := mustFiles(t, referenceSettings())
	for _, ns := range fakeSecrets().List() {
		homes, ok := secretHomes[ns.Name]
		if !ok {
			t.Fatalf("secret %s has no entry in secretHomes", ns.Name)
		}
		for p, f := range files {
			has := bytes.Contains(f.Content, []byte(ns.Value))
			want := slices.Contains(homes, p)
			if has != want {
				t.Errorf("%s in %s: present=%v, want %v", ns.Name, p, has, want)
			}
			if has && (f.Perms != "0400" || fileOwners()[p] == 0) {
				t.Errorf("%s carries %s but has mode %s and owner %d, want 0400 and the uid of the one container user that reads it", p, ns.Name, f.Perms, fileOwners()[p])
			}
		}
	}
}

func TestRedact(t *testing.T) {
	for name, s := range settingsCases() {
		t.Run(name, func(t *testing.T) {
			doc := mustRender(t, s)
			red := Redact(doc, fakeSecrets())
			for _, ns := range fakeSecrets().List() {
				if !bytes.Contains(doc, []byte(ns.Value)) {
					t.Errorf("%s does not occur in the document: the check would prove nothing", ns.Name)
				}
				if bytes.Contains(red, []byte(ns.Value)) {
					t.Errorf("redacted document still contains %s", ns.Name)
				}
				if !bytes.Contains(red, []byte(fmt.Sprintf(RedactionMarker, ns.Name))) {
					t.Errorf("redacted document lacks the marker for %s", ns.Name)
				}
			}
		})
	}
	// A secret that contains another is redacted as a whole.
	sec := fakeSecrets()
	sec.JanusAPIKey = sec.TURNSecret + "XYZ"
	got := string(Redact([]byte("a="+sec.JanusAPIKey+" b="+sec.TURNSecret), sec))
	if want := "a=<redacted:janusApiKey> b=<redacted:turnSecret>"; got != want {
		t.Errorf("Redact nested = %q, want %q", got, want)
	}
}

func TestCloudInitSchema(t *testing.T) {
	ci := testenv.Tool(t, "cloud-init", "apt-get install cloud-init")
	dir := t.TempDir()
	for name, plan := range allCases(t) {
		t.Run(name, func(t *testing.T) {
			// As the stack renders it: with its access (ssh_keys; the VM's
			// cloud-init reported `ssh_genkeytypes: []` as a schema error).
			plan, err := plan.WithAccess(testAccess(t))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := plan.Render(fakeSecrets())
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, name+".yaml")
			if err := os.WriteFile(p, doc, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(ci, "schema", "--config-file", p).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Valid cloud-config") {
				t.Fatalf("cloud-init schema: %v\n%s", err, out)
			}
		})
	}
}

func loadCompose(t *testing.T, content []byte) *types.Project {
	t.Helper()
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  BaseDir,
		ConfigFiles: []types.ConfigFile{{Filename: ComposeFile, Content: content}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) { o.SkipResolveEnvironment = true })
	if err != nil {
		t.Fatalf("compose-go cannot load %s: %v", ComposeFile, err)
	}
	return p
}

func TestComposeFile(t *testing.T) {
	for name := range allCases(t) {
		t.Run(name, func(t *testing.T) {
			plan := allCases(t)[name]
			files := mustPlanFiles(t, plan)
			p := loadCompose(t, files[ComposeFile].Content)
			images := plan.Settings().EffectiveImages()
			// Compose's `up --wait` fails with "has no healthcheck configured" on
			// a service whose healthcheck is disabled (docker/compose#13522).
			setup := string(files[SetupScript].Content)
			for _, svc := range p.Services {
				if svc.HealthCheck != nil && svc.HealthCheck.Disable && strings.Contains(setup, "--wait") {
					t.Errorf("%s disables its healthcheck, so %s must not run compose with --wait", svc.Name, SetupScript)
				}
			}
			if got, want := slices.Sorted(slices.Values(p.ServiceNames())), plan.Services(); !slices.Equal(got, want) {
				t.Fatalf("services = %v, want %v", got, want)
			}
			for _, svc := range p.Services {
				if svc.Image != images[svc.Name] {
					t.Errorf("%s: image %q, want %q", svc.Name, svc.Image, images[svc.Name])
				}
				if svc.NetworkMode != "host" {
					t.Errorf("%s: network_mode %q, want host", svc.Name, svc.NetworkMode)
				}
				if svc.Restart != "unless-stopped" {
					t.Errorf("%s: restart %q", svc.Name, svc.Restart)
				}
				if !slices.Contains(svc.SecurityOpt, "no-new-privileges:true") {
					t.Errorf("%s: no no-new-privileges", svc.Name)
				}
				if !slices.Equal(svc.CapDrop, []string{"ALL"}) {
					t.Errorf("%s: cap_drop %v, want [ALL]", svc.Name, svc.CapDrop)
				}
				if svc.Name != ServiceNginx && (svc.User == "" || strings.HasPrefix(svc.User, "0")) {
					t.Errorf("%s: user %q, want a non-root uid", svc.Name, svc.User)
				}
				// Janus reads janus.jcfg and the plugin/transport configs from
				// --configs-folder only (janus.jcfg's configs_folder is ignored,
				// and without the folder websockets would listen on all addresses).
				if svc.Name == ServiceJanus && !slices.Contains(svc.Entrypoint, "--configs-folder="+JanusConfigDir) {
					t.Errorf("janus entrypoint %q does not pass --configs-folder=%s", svc.Entrypoint, JanusConfigDir)
				}
				if svc.Name == ServiceJanus && (svc.HealthCheck == nil || !svc.HealthCheck.Disable) {
					t.Errorf("janus: the aio-talk image's HEALTHCHECK (it probes signaling, NATS, eturnal) must be disabled (it would report janus unhealthy)")
				}
				if len(svc.Volumes) == 0 {
					t.Errorf("%s: mounts no config", svc.Name)
				}
				for _, v := range svc.Volumes {
					if !v.ReadOnly || v.Source != v.Target || !strings.HasPrefix(v.Source, BaseDir+"/") {
						t.Errorf("%s: volume %s:%s ro=%v, want a read-only mount of a %s path at the same path", svc.Name, v.Source, v.Target, v.ReadOnly, BaseDir)
					}
				}
			}
		})
	}
}

func TestShellScripts(t *testing.T) {
	sc := testenv.Tool(t, "shellcheck", "apt-get install shellcheck")
	dir := t.TempDir()
	for name, p := range allCases(t) {
		n := 0
		for _, f := range mustPlanFiles(t, p) {
			if !bytes.HasPrefix(f.Content, []byte("#!/bin/")) {
				continue
			}
			n++
			p := filepath.Join(dir, name+"-"+filepath.Base(f.Path))
			if err := os.WriteFile(p, f.Content, 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(sc, "--severity=style", p).CombinedOutput(); err != nil {
				t.Errorf("%s (%s): shellcheck: %v\n%s", f.Path, name, err, out)
			}
		}
		if n != 5 {
			t.Errorf("%s: %d shell scripts, want 5 (setup, first boot, cert deploy hook, readiness, apply)", name, n)
		}
	}
}

// TestNginxConfig runs `nginx -t` on the rendered nginx.conf at its real
// path: a private mount namespace puts a tmpfs over /opt and binds the
// rendered tree (plus a test certificate) at BaseDir.
func TestNginxConfig(t *testing.T) {
	nginx := testenv.Tool(t, "nginx", "apt-get install nginx")
	testenv.Tool(t, "unshare", "apt-get install util-linux")
	testenv.Tool(t, "openssl", "apt-get install openssl")
	testenv.Root(t, "nginx -t runs in a private mount namespace")
	if !strings.HasPrefix(BaseDir, "/opt/") {
		t.Fatalf("BaseDir %s is not under /opt; adjust the tmpfs in this test", BaseDir)
	}
	loadStream := nginxStreamModule(t, nginx)
	for _, name := range []string{"reference", "custom-ports", "turn443-off", "scale-out-signaling", "scale-out-media"} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			for _, f := range mustPlanFiles(t, allCases(t)[name]) {
				rel, ok := strings.CutPrefix(f.Path, BaseDir+"/")
				if !ok {
					continue
				}
				if f.Path == NginxConfig {
					f.Content = append([]byte(loadStream), f.Content...)
				}
				p := filepath.Join(root, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, f.Content, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			tls := filepath.Join(root, strings.TrimPrefix(NginxTLSDir, BaseDir+"/"))
			if err := os.MkdirAll(tls, 0o700); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
				"-subj", "/CN="+referenceSettings().Domain,
				"-keyout", filepath.Join(tls, TLSKeyFile), "-out", filepath.Join(tls, TLSCertFile)).CombinedOutput(); err != nil {
				t.Fatalf("openssl: %v\n%s", err, out)
			}
			// As in the container: the config mounted, a tmpfs for the
			// temp files (the root is read-only there).
			// The image has the workers' account (nginx.conf: user); this
			// machine gets it in the namespace's copy of passwd and group.
			accounts := t.TempDir()
			for _, db := range []string{"passwd", "group"} {
				b, err := os.ReadFile("/etc/" + db)
				if err != nil {
					t.Fatal(err)
				}
				line := fmt.Sprintf("%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\n", NginxWorkerUser, NginxWorkerUID, NginxWorkerUID)
				if db == "group" {
					line = fmt.Sprintf("%s:x:%d:\n", NginxWorkerUser, NginxWorkerUID)
				}
				if err := os.WriteFile(filepath.Join(accounts, db), append(b, line...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			script := `set -e
mount -t tmpfs tmpfs /opt
mkdir -p "$2"
mount --bind "$1" "$2"
mount -t tmpfs tmpfs "$(dirname "$5")"
mkdir -p "$5"
mount --bind "$6/passwd" /etc/passwd
mount --bind "$6/group" /etc/group
exec "$3" -t -c "$4"`
			cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", root, BaseDir, nginx, NginxConfig, nginxTempDir, accounts)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "test is successful") {
				t.Fatalf("nginx -t: %v\n%s", err, out)
			}
		})
	}
}

// nginxStreamModule is the load_module line this machine's nginx needs for
// the stream module, or "" when nginx has it built in. Debian builds it as
// a dynamic module (libnginx-mod-stream); the official image the VM runs
// builds it in (nginx/pkg-oss alpine/Makefile BASE_CONFIGURE_ARGS
// --with-stream --with-stream_ssl_preread_module).
func nginxStreamModule(t *testing.T, nginx string) string {
	t.Helper()
	out, err := exec.Command(nginx, "-V").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -V: %v\n%s", err, out)
	}
	v := string(out)
	if !strings.Contains(v, "--with-stream=dynamic") {
		return ""
	}
	dir := "/usr/lib/nginx/modules"
	if _, after, ok := strings.Cut(v, "--modules-path="); ok {
		dir, _, _ = strings.Cut(after, " ")
	}
	mod := filepath.Join(dir, "ngx_stream_module.so")
	if _, err := os.Stat(mod); err != nil {
		t.Fatalf("nginx builds the stream module dynamically and %s is missing: apt-get install libnginx-mod-stream", mod)
	}
	return "load_module " + mod + ";\n"
}

func TestNginxKeepsStatsInside(t *testing.T) {
	for _, name := range []string{"reference", "turn443-off"} {
		conf := string(mustFiles(t, settingsCases()[name])[NginxConfig].Content)
		for _, want := range []string{
			"location ^~ " + talk.SignalingPath + "/api/v1/stats { deny all; }",
			"location ^~ " + talk.SignalingPath + "/metrics { deny all; }",
			"proxy_set_header X-Real-IP $remote_addr;",
			"proxy_set_header Upgrade $http_upgrade;",
			"proxy_set_header Connection $http_connection;",
			"location " + talk.SignalingPath + "/ {",
			fmt.Sprintf("server 127.0.0.1:%d;", schema.PortSignalingHTTP),
		} {
			if !strings.Contains(conf, want) {
				t.Errorf("%s: nginx.conf lacks %q", name, want)
			}
		}
	}
}

// TestNginx443Front checks the routing of port 443: with turnOn443 the
// stream front owns 443 and sends the TURN name to coturn through the
// PROXY-stripping hop, everything else to the HTTPS server, which trusts
// the PROXY header only from loopback; without it the HTTPS server owns 443.
func TestNginx443Front(t *testing.T) {
	on := string(mustFiles(t, settingsCases()["custom-ports"])[NginxConfig].Content)
	for _, want := range []string{
		fmt.Sprintf("    listen %d;\n    listen [::]:%d;\n    limit_conn front %d;\n    ssl_preread on;\n", schema.PortHTTPS, schema.PortHTTPS, ConnectionsPerAddress),
		fmt.Sprintf("relay.example.net 127.0.0.1:%d;", schema.PortTURNSLocal),
		fmt.Sprintf("default 127.0.0.1:%d;", schema.PortHTTPSLocal),
		// The hop counts TURN connections per client address (PROXY header).
		fmt.Sprintf("listen 127.0.0.1:%d proxy_protocol;\n    set_real_ip_from 127.0.0.1;\n    limit_conn turn %d;\n    proxy_pass $coturn;",
			schema.PortTURNSLocal, TURNLimitsFor(settingsCases()["custom-ports"].turnRelayPorts()).AddressQuota),
		// The hop reaches coturn on the address the client reached 443 on
		// (coturn relays from it), never on loopback.
		fmt.Sprintf("~: [$proxy_protocol_server_addr]:%d;\n    default $proxy_protocol_server_addr:%d;", schema.PortTURNS, schema.PortTURNS),
		fmt.Sprintf("listen 127.0.0.1:%d ssl proxy_protocol;\n    set_real_ip_from 127.0.0.1;\n    real_ip_header proxy_protocol;", schema.PortHTTPSLocal),
	} {
		if !strings.Contains(on, want) {
			t.Errorf("turnOn443: nginx.conf lacks %q", want)
		}
	}
	if n := strings.Count(on, "proxy_protocol on;"); n != 1 {
		t.Errorf("turnOn443: %d servers send PROXY; want only the 443 front", n)
	}
	off := string(mustFiles(t, settingsCases()["turn443-off"])[NginxConfig].Content)
	for _, unwanted := range []string{"stream {", "proxy_protocol", "turn.talk.example.com", strconv.Itoa(schema.PortHTTPSLocal)} {
		if strings.Contains(off, unwanted) {
			t.Errorf("turnOn443 false: nginx.conf contains %q", unwanted)
		}
	}
	if !strings.Contains(off, fmt.Sprintf("listen %d ssl;", schema.PortHTTPS)) {
		t.Errorf("turnOn443 false: the HTTPS server does not listen on %d", schema.PortHTTPS)
	}
}

func TestSignalingConfig(t *testing.T) {
	s := settingsCases()["many-backends"]
	conf := string(mustFiles(t, s)[SignalingConfig].Content)
	for i, u := range s.NextcloudURLs {
		section := fmt.Sprintf("[backend-%d]\nurl = %s\nsecret = %s\n", i+1, u, fakeSecrets().SignalingSecret)
		if !strings.Contains(conf, section) {
			t.Errorf("server.conf lacks the section\n%s", section)
		}
	}
	for _, want := range []string{
		"backends = backend-1, backend-2, backend-3\n",
		fmt.Sprintf("listen = 127.0.0.1:%d\n", schema.PortSignalingHTTP),
		fmt.Sprintf("url = nats://127.0.0.1:%d\n", schema.PortNATS),
		fmt.Sprintf("url = ws://127.0.0.1:%d\n", schema.PortJanusWS),
		"apikey = " + fakeSecrets().JanusAPIKey + "\n",
		"allowall = false\n",
		"allowed_ips = 127.0.0.1\n",
		"servers = turn:talk.example.com:3478?transport=udp,turn:talk.example.com:3478?transport=tcp,turns:turn.talk.example.com:443?transport=tcp\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("server.conf lacks %q", want)
		}
	}
	// [mcu] blockedcandidates: clients' ICE candidates in these networks
	// are dropped (signaling 2.1.1 FilterCandidate), as the signaling
	// server's container.ParseIPList reads the comma-separated list.
	m := regexp.MustCompile(`(?m)^\[mcu\](?:\n[^\[].*)*\nblockedcandidates = (.+)$`).FindStringSubmatch(conf)
	if m == nil {
		t.Fatal("server.conf [mcu] lacks blockedcandidates")
	}
	var nets []netip.Prefix
	for _, e := range strings.Split(m[1], ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(e))
		if err != nil {
			t.Fatalf("blockedcandidates entry %q: %v", e, err)
		}
		nets = append(nets, p)
	}
	for _, ip := range []string{"127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.64.0.1", "169.254.169.254", "::1", "fd00::1", "fe80::1"} {
		if !slices.ContainsFunc(nets, func(p netip.Prefix) bool { return p.Contains(netip.MustParseAddr(ip)) }) {
			t.Errorf("blockedcandidates does not cover %s", ip)
		}
	}
}

func TestJanusAndCoturnUseTheFirewallRanges(t *testing.T) {
	s := settingsCases()["custom-ports"]
	files := mustFiles(t, s)
	janus := string(files[JanusConfigFile].Content)
	if want := `rtp_port_range = "20000-40000"`; !strings.Contains(janus, want) {
		t.Errorf("janus.jcfg lacks %s", want)
	}
	for _, m := range []string{"libjanus_videoroom.so", "libjanus_websockets.so"} {
		if strings.Contains(janus, m) {
			t.Errorf("janus.jcfg disables %s", m)
		}
	}
	for _, want := range []string{"full_trickle = true", "ipv6 = true"} {
		if !strings.Contains(janus, want) {
			t.Errorf("janus.jcfg lacks %s", want)
		}
	}
	if strings.Contains(janus, "stun_server") {
		t.Error("janus.jcfg sets a STUN server (Janus exits when it is unreachable)")
	}
	ws := string(files[JanusWebsocketsConfig].Content)
	if !strings.Contains(ws, `ws_ip = "127.0.0.1"`) || !strings.Contains(ws, fmt.Sprintf("ws_port = %d", schema.PortJanusWS)) {
		t.Errorf("websockets transport is not on 127.0.0.1:%d:\n%s", schema.PortJanusWS, ws)
	}
	turn := string(files[CoturnConfig].Content)
	for _, want := range []string{
		"min-port=40001\nmax-port=40100\n", "realm=talk.example.com\n", "use-auth-secret\n", "no-cli\n", "no-multicast-peers\n",
		"denied-peer-ip=127.0.0.0-127.255.255.255\n", "denied-peer-ip=10.0.0.0-10.255.255.255\n",
		"denied-peer-ip=100.64.0.0-100.127.255.255\n", "denied-peer-ip=fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n",
		"denied-peer-ip=::1\n", "no-rfc5780\n",
	} {
		if !strings.Contains(turn, want) {
			t.Errorf("turnserver.conf lacks %q", want)
		}
	}
}

// TestHostFirewallFollowsFirewallRules: the input chain of the custom-ports
// setting (sshPort 2222 from one IPv4 address, Janus 20000-40000, relay
// 40001-40100) opens exactly these ports, written out here, not derived
// from FirewallRules (the code under test).
func TestHostFirewallFollowsFirewallRules(t *testing.T) {
	nft := string(mustFiles(t, settingsCases()["custom-ports"])[HostFirewallConfig].Content)
	if !strings.Contains(nft, "policy drop;") {
		t.Error("input chain does not drop by default")
	}
	want := []string{
		`ip saddr { 198.51.100.7/32 } tcp dport 2222 accept comment "ssh"`,
		`tcp dport 80 accept comment "acme-http"`,
		`tcp dport 443 accept comment "https"`,
		`tcp dport 3478 accept comment "turn"`,
		`udp dport 3478 accept comment "turn"`,
		`tcp dport 5349 accept comment "turns"`,
		`udp dport 20000-40000 accept comment "janus-rtp"`,
		`udp dport 40001-40100 accept comment "turn-relay"`,
		`meta l4proto { icmp, ipv6-icmp } accept comment "icmp"`,
	}
	var got []string
	for _, line := range strings.Split(nft, "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, " accept comment ") && !strings.HasSuffix(line, `comment "dhcp"`) {
			got = append(got, line)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("the input chain accepts\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ref := string(mustFiles(t, referenceSettings())[HostFirewallConfig].Content)
	for _, rule := range []string{
		`ip saddr { 203.0.113.0/24 } tcp dport 22 accept comment "ssh"`,
		`ip6 saddr { 2001:db8::/32 } tcp dport 22 accept comment "ssh"`,
	} {
		if !strings.Contains(ref, rule) {
			t.Errorf("reference: %s missing", rule)
		}
	}
}

func TestGolden(t *testing.T) {
	doc := mustRender(t, referenceSettings())
	golden := filepath.Join("testdata", "reference.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (create it with: go test ./cloudconfig -run TestGolden -update)", err)
	}
	if !bytes.Equal(doc, want) {
		t.Errorf("rendered reference differs from %s; review the diff, then run: go test ./cloudconfig -run TestGolden -update", golden)
	}
}
