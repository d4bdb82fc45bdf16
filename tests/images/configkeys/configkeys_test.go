package configkeys

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/tests/images"
)

// programVersion is, for one service, the version its pinned image runs
// and the version whose contract is recorded for it, with what differs from
// the pin or the substitute (images.SubstituteVersion) and why.
type programVersion struct {
	pinned, recorded string
	// gap names a difference between the recorded contract and the pin or
	// the substitute that no recording here closes.
	gap string
}

var versions = map[string]programVersion{
	cloudconfig.ServiceSignaling: {pinned: "2.1.1", recorded: "2.1.1"},
	cloudconfig.ServiceJanus:     {pinned: "1.4.1", recorded: "1.4.1"},
	cloudconfig.ServiceProxy:     {pinned: "2.1.1", recorded: "2.1.1"},
	cloudconfig.ServiceNATS: {pinned: "2.14.5", recorded: "2.14.5",
		gap: "the substitute's nats-server 2.15.1: its source is not in the mirror (newest tag v2.14.5), so no contract is recorded for it; its own parser, which refuses unknown top-level keys, reads the rendered file in the daemon tests"},
	cloudconfig.ServiceCoturn: {pinned: "4.18.0", recorded: "4.18.0",
		gap: "recorded from Debian's coturn 4.18.0 build (the mirror's newest tag is 4.17.1); options behind build flags (databases, Prometheus) may differ from the image's build; the renderer uses none of them"},
	cloudconfig.ServiceNginx: {pinned: "1.30.6", recorded: "1.30.4",
		gap: "recorded from nginx release-1.30.4, the mirror's newest tag of the pinned 1.30 stable branch (1.30.5 and 1.30.6 are its later bugfix releases); the substitute is Debian's 1.30.6 build, which loads the stream module dynamically"},
}

// acknowledgedDeprecated are the deprecated keys the renderer still writes,
// per service, with why: a new deprecation fails the test, and so does a
// key that is no longer written.
var acknowledgedDeprecated = map[string][]string{
	// 2.1.1 documents "urls"; the substitute 2.0.2 reads only "url".
	cloudconfig.ServiceSignaling: {"[backend-id] url"},
	// coturn 4.18.0: the CLI is off unless --cli, RFC 5780 off unless
	// --rfc5780, the software attribute off unless --software-attribute.
	cloudconfig.ServiceCoturn: {"no-cli", "no-rfc5780", "no-software-attribute"},
}

// configFile is one rendered config file and whose it is.
type configFile struct {
	path, service, grammar string
}

var configFiles = []configFile{
	{cloudconfig.SignalingConfig, cloudconfig.ServiceSignaling, GrammarINI},
	{cloudconfig.NATSConfig, cloudconfig.ServiceNATS, GrammarNATS},
	{cloudconfig.CoturnConfig, cloudconfig.ServiceCoturn, GrammarCoturn},
	{cloudconfig.JanusConfigFile, cloudconfig.ServiceJanus, GrammarJanus},
	{cloudconfig.JanusVideoRoomConfig, cloudconfig.ServiceJanus, GrammarJanus},
	{cloudconfig.JanusWebsocketsConfig, cloudconfig.ServiceJanus, GrammarJanus},
	{cloudconfig.NginxConfig, cloudconfig.ServiceNginx, GrammarNginx},
	{proxyConfig, cloudconfig.ServiceProxy, GrammarINI},
}

// proxyConfig is a media server's proxy.conf (cloudconfig keeps its path
// unexported; the media server's rendering must hold it, or the test fails).
const proxyConfig = cloudconfig.BaseDir + "/proxy/proxy.conf"

// renderings are the settings the test renders: TURN on 443 on and off, one
// and two Nextcloud servers (one and two backend sections), and a
// scale-out's signaling server (signaling's [mcu] on proxies) and one of
// its media servers (the proxy's proxy.conf).
func renderings(t *testing.T) map[string]map[string][]byte {
	t.Helper()
	base := cloudconfig.Settings{Domain: "talk.example.com", NextcloudURLs: []string{"https://cloud.example.com"}, ACMEEmail: "admin@example.com", TURNOn443: true}
	two := base
	two.NextcloudURLs = []string{"https://cloud.example.com", "https://cloud.example.org/nextcloud"}
	off := two
	off.TURNOn443 = false
	var sec cloudconfig.Secrets
	if _, err := sec.FillMissing(nil); err != nil {
		t.Fatal(err)
	}
	plans := map[string]cloudconfig.Plan{}
	for name, s := range map[string]cloudconfig.Settings{"one Nextcloud, TURN on 443": base, "two Nextclouds": two, "TURN on 443 off": off} {
		p, err := cloudconfig.NewPlan(s)
		if err != nil {
			t.Fatal(err)
		}
		plans[name] = p
	}
	scaleOut, err := plans["one Nextcloud, TURN on 443"].WithMediaServers([]cloudconfig.MediaServer{
		{Name: "media-1", Host: "media-1.talk.example.com", URL: "https://media-1.talk.example.com/", Country: "DE"},
		{Name: "media-2", Host: "media-2.talk.example.com", URL: "https://media-2.talk.example.com/", Country: "FI"},
	})
	if err == nil {
		scaleOut, err = scaleOut.WithProxyToken(proxyToken(t))
	}
	if err != nil {
		t.Fatal(err)
	}
	plans["a scale-out's signaling server"] = scaleOut
	if plans["a scale-out's media server"], err = scaleOut.ForMediaServer("media-1"); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string][]byte{}
	for name, p := range plans {
		files, err := p.Files(sec)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = map[string][]byte{}
		for _, f := range files {
			out[name][f.Path] = f.Content
		}
	}
	return out
}

// proxyToken is a fresh RS256 key pair for a scale-out's rendering.
func proxyToken(t *testing.T) cloudconfig.ProxyToken {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return cloudconfig.ProxyToken{
		ID:         "nctalk",
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		PublicKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}
}

// findings checks every rendered config file of one service against c.
func findings(t *testing.T, c Contract, service string, files map[string][]byte) []Finding {
	t.Helper()
	var all []Finding
	for _, cf := range configFiles {
		if cf.service != service {
			continue
		}
		content, ok := files[cf.path]
		if !ok {
			continue // not on this box (renderedSomewhere checks each is on one)
		}
		uses, err := parse(cf.grammar, content)
		if err != nil {
			t.Fatalf("%s: %v", cf.path, err)
		}
		if len(uses) == 0 {
			t.Fatalf("%s: no keys read", cf.path)
		}
		for _, f := range c.Check(path.Base(cf.path), uses) {
			if f.Problem != "" {
				f.Problem = cf.path + " " + f.String() + ": " + f.Problem
			}
			all = append(all, f)
		}
	}
	return all
}

// TestRenderedConfigsKnownToPinnedVersions: every key, section and
// directive the renderer writes is one the pinned image's version reads
// there, by its recorded contract; the deprecated ones are the
// acknowledged ones.
func TestRenderedConfigsKnownToPinnedVersions(t *testing.T) {
	rendered := renderings(t)
	for _, cf := range configFiles {
		found := false
		for _, files := range rendered {
			_, ok := files[cf.path]
			found = found || ok
		}
		if !found {
			t.Errorf("no rendering writes %s (%s)", cf.path, cf.service)
		}
	}
	for _, service := range cloudconfig.ServiceNames() {
		t.Run(service, func(t *testing.T) {
			v, ok := versions[service]
			if !ok {
				t.Fatalf("no program version for service %s", service)
			}
			checkPin(t, service, v.pinned)
			c, err := load(service, v.recorded)
			if err != nil {
				t.Fatal(err)
			}
			if v.recorded != v.pinned {
				t.Logf("named difference: %s %s is pinned, the contract is recorded from %s: %s", c.Program, v.pinned, v.recorded, v.gap)
				if v.gap == "" {
					t.Errorf("the contract of %s is recorded from %s, the pin is %s: name the difference (gap)", service, v.recorded, v.pinned)
				}
			}
			deprecated := map[string]bool{}
			for name, files := range rendered {
				for _, f := range findings(t, c, service, files) {
					if f.Problem != "" {
						t.Errorf("%s: %s", name, f.Problem)
					}
					if f.Deprecated {
						deprecated[key(c, f)] = true
					}
				}
			}
			var got []string
			for k := range deprecated {
				got = append(got, k)
			}
			slices.Sort(got)
			if want := acknowledgedDeprecated[service]; !slices.Equal(got, want) {
				t.Errorf("deprecated in %s %s and written: %q; acknowledged: %q", c.Program, c.Version, got, want)
			}
		})
	}
}

// key names a finding the way acknowledgedDeprecated does: the contract's
// section (the template for named sections) and the key.
func key(c Contract, f Finding) string {
	section := f.Section
	if c.NamedSections != nil && section != c.NamedSections.Section && c.Sections[section] == nil {
		section = c.NamedSections.Template
	}
	if section == "" || c.Grammar == GrammarNginx {
		return f.Key
	}
	return "[" + section + "] " + f.Key
}

// checkPin wants the pinned image to run the version the table says.
func checkPin(t *testing.T, service, version string) {
	t.Helper()
	image := cloudconfig.DefaultImages[service]
	if service == cloudconfig.ServiceJanus {
		// The aio-talk tag is a date; its Dockerfile names Janus' version.
		ic, err := images.ContractOf(service)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ic.Source, "JANUS_VERSION=v"+version) {
			t.Errorf("%s: the image contract's source does not say JANUS_VERSION=v%s: %s", image, version, ic.Source)
		}
		return
	}
	_, tag, _ := strings.Cut(image, ":")
	if tag != version && !strings.HasPrefix(tag, version+"-") {
		t.Errorf("%s is pinned; the config contract is for %s %s: record the new version's contract (go run ./tests/images/configkeys/record)", image, service, version)
	}
}

// TestSubstitutesReadTheRenderedConfigs: where a substitute runs another
// version than the pin, the rendered keys must be ones it reads too (or the
// daemon tests run a config the substitute ignores), and the differences
// between the two versions in what the renderer writes are named here.
func TestSubstitutesReadTheRenderedConfigs(t *testing.T) {
	rendered := renderings(t)
	wantDiff := map[string][]string{
		cloudconfig.ServiceSignaling: {
			"[backend-id] url: deprecated (documented: [backend-id] urls) in 2.1.1, read as documented in 2.0.2",
			// 2.0.2 ignores the key (go-ini reads only what it asks for), so
			// the daemon tests run without the candidate filter; the pinned
			// 2.1.1 reads it.
			"[mcu] blockedcandidates: read as documented in 2.1.1, unknown in 2.0.2",
		},
		// The same for the proxy: the daemon test's proxies (sid's 2.0.2) run
		// without the candidate filter the image's 2.1.1 reads.
		cloudconfig.ServiceProxy: {
			"[mcu] blockedcandidates: read as documented in 2.1.1, unknown in 2.0.2",
		},
	}
	for _, service := range cloudconfig.ServiceNames() {
		v := versions[service]
		substitute := images.SubstituteVersion(service)
		if substitute == v.recorded {
			continue
		}
		t.Run(service, func(t *testing.T) {
			pin, err := load(service, v.recorded)
			if err != nil {
				t.Fatal(err)
			}
			sub, err := load(service, substitute)
			if err != nil {
				if v.gap == "" {
					t.Fatalf("the substitute runs %s, the pin %s, and no contract is recorded for %s: %v", substitute, v.pinned, substitute, err)
				}
				t.Logf("named difference: %s", v.gap)
				return
			}
			var diff []string
			for _, files := range rendered {
				p, s := findings(t, pin, service, files), findings(t, sub, service, files)
				for i := range s {
					d := fmt.Sprintf("%s: %s in %s, %s in %s", key(pin, p[i]), status(pin, p[i]), pin.Version, status(sub, s[i]), sub.Version)
					if s[i].Problem != "" && !slices.Contains(wantDiff[service], d) {
						t.Errorf("the substitute's %s %s: %s", sub.Program, sub.Version, s[i].Problem)
					}
					if p[i].Deprecated != s[i].Deprecated || (p[i].Problem == "") != (s[i].Problem == "") {
						if !slices.Contains(diff, d) {
							diff = append(diff, d)
						}
					}
				}
			}
			slices.Sort(diff)
			for _, d := range diff {
				t.Logf("named difference: %s", d)
			}
			if !slices.Equal(diff, wantDiff[service]) {
				t.Errorf("differences between %s %s and the substitute's %s in what the renderer writes:\n got %q\nwant %q", pin.Program, pin.Version, sub.Version, diff, wantDiff[service])
			}
		})
	}
}

func status(c Contract, f Finding) string {
	switch {
	case f.Problem != "":
		return "unknown"
	case f.Deprecated:
		section := c.NamedSections.Template
		var documented []string
		for _, k := range c.Sections[section] {
			if strings.HasPrefix(k, f.Key) && k != f.Key && !slices.Contains(c.Deprecated[section], k) {
				documented = append(documented, "["+section+"] "+k)
			}
		}
		if len(documented) > 0 {
			return "deprecated (documented: " + strings.Join(documented, ", ") + ")"
		}
		return "deprecated"
	}
	return "read as documented"
}

// TestRecordedContracts: each recorded file says where it came from, when,
// and holds lists.
func TestRecordedContracts(t *testing.T) {
	all, err := all()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, c := range all {
		have[c.Service+" "+c.Version] = true
		if _, err := time.Parse(time.RFC3339, c.Recorded); err != nil {
			t.Errorf("%s %s: recorded %q", c.Service, c.Version, c.Recorded)
		}
		if len(c.Sections)+len(c.Directives) == 0 || len(c.Sources) == 0 {
			t.Errorf("%s %s: no lists or no sources", c.Service, c.Version)
		}
		for _, s := range c.Sources {
			if s.Repo == "" || s.Ref == "" || len(s.Commit) < 40 || len(s.Paths) == 0 || s.How == "" {
				t.Errorf("%s %s: source %+v does not say repo, ref, commit, paths and how", c.Service, c.Version, s)
			}
		}
	}
	for service, v := range versions {
		if !have[service+" "+v.recorded] {
			t.Errorf("no recorded contract for %s %s", service, v.recorded)
		}
	}
}

// TestCheckCatches: the checker, on files with a key, a section or a
// directive the version does not take (each added on purpose).
func TestCheckCatches(t *testing.T) {
	for _, tc := range []struct {
		service, version, grammar, file, content, want string
	}{
		{"coturn", "4.18.0", GrammarCoturn, "turnserver.conf", "listening-port=3478\nno-such-option\n", `does not know "no-such-option"`},
		{"nats", "2.14.5", GrammarNATS, "nats.conf", "listen: 127.0.0.1:4222\nlistne: 1\n", `does not know "listne"`},
		{"nats", "2.14.5", GrammarNATS, "nats.conf", "cluster {\n  name: x\n}\n", `ignores section "cluster"`},
		{"signaling", "2.1.1", GrammarINI, "server.conf", "[http]\nlisten = 1\n[htttp]\nlisten = 1\n", `ignores section "htttp"`},
		{"signaling", "2.1.1", GrammarINI, "server.conf", "[backend]\nbackends = a\n[a]\nurls = x\n[b]\nurl = y\n", `ignores section "b"`},
		{"signaling", "2.1.1", GrammarINI, "server.conf", "[backend]\nbackends = a\n[a]\nsecrets = x\n", `does not know "secrets" in "backend-id"`},
		{"janus", "1.4.1", GrammarJanus, "janus.transport.websockets.jcfg", "general: {\n\tws_ip = \"127.0.0.1\"\n}\nmedia: {\n}\n", `ignores section "janus.transport.websockets.jcfg/media"`},
		{"nginx", "1.30.4", GrammarNginx, "nginx.conf", "http {\n  server {\n    ssl_preread on;\n  }\n}\n", `does not allow "ssl_preread" in http/server`},
		{"nginx", "1.30.4", GrammarNginx, "nginx.conf", "events { worker_connection 1; }\n", `has no directive "worker_connection"`},
		{"proxy", "2.1.1", GrammarINI, "proxy.conf", "[tokens]\nserver1 = a.pem\n[backend]\nbackends = x\n", `ignores section "backend"`},
	} {
		c, err := load(tc.service, tc.version)
		if err != nil {
			t.Fatal(err)
		}
		uses, err := parse(tc.grammar, []byte(tc.content))
		if err != nil {
			t.Fatalf("%s: %v", tc.content, err)
		}
		var problems []string
		for _, f := range c.Check(tc.file, uses) {
			if f.Problem != "" {
				problems = append(problems, f.Problem)
			}
		}
		if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), tc.want) {
			t.Errorf("%s %q: problems %q, want one with %q", tc.service, tc.content, problems, tc.want)
		}
	}
}
