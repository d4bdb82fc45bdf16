package cloudconfig

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nctalk/nctalk/schema"
)

// testTokens are two test-only proxy tokens, generated once per test
// binary.
var testTokens = sync.OnceValue(func() [2]ProxyToken {
	var out [2]ProxyToken
	for i := range out {
		t, err := NewProxyToken("nctalk")
		if err != nil {
			panic(err)
		}
		out[i] = t
	}
	return out
})

// testProxyToken is a valid token (the first of testTokens).
func testProxyToken() ProxyToken { return testTokens()[0] }

// twoMediaServers are two media servers, given out of name order.
func twoMediaServers() []MediaServer {
	return []MediaServer{
		{Name: "media-2", Host: "media-2.talk.example.com", URL: "https://media-2.talk.example.com/", Country: "FI"},
		{Name: "media-1", Host: "media-1.talk.example.com", URL: "https://media-1.talk.example.com/", Country: "DE"},
	}
}

// mediaPlan is the reference plan with media servers.
func mediaPlan(t testing.TB, servers []MediaServer) Plan {
	t.Helper()
	p, err := NewPlan(referenceSettings())
	if err != nil {
		t.Fatal(err)
	}
	if p, err = p.WithMediaServers(servers); err != nil {
		t.Fatal(err)
	}
	if p, err = p.WithProxyToken(testProxyToken()); err != nil {
		t.Fatal(err)
	}
	return p
}

// fileNamed returns the file at path, or fails.
func fileNamed(t *testing.T, files []File, path string) File {
	t.Helper()
	for _, f := range files {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("no file %s", path)
	return File{}
}

// TestSignalingUsesTheProxies: with media servers, signaling's [mcu] is
// the proxies' url list in name order with the token, its Janus is no
// longer named, and the token's private key is a file only signaling's uid
// reads. Without media servers the document is byte for byte the one box's.
func TestSignalingUsesTheProxies(t *testing.T) {
	one, err := NewPlan(referenceSettings())
	if err != nil {
		t.Fatal(err)
	}
	none, err := one.WithMediaServers(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := one.Render(fakeSecrets())
	b, _ := none.Render(fakeSecrets())
	if !bytes.Equal(a, b) {
		t.Error("no media servers changed the document")
	}

	files, err := mediaPlan(t, twoMediaServers()).Files(fakeSecrets())
	if err != nil {
		t.Fatal(err)
	}
	conf := string(fileNamed(t, files, SignalingConfig).Content)
	want := "[mcu]\ntype = proxy\nurltype = static\n" +
		"url = https://media-1.talk.example.com/ https://media-2.talk.example.com/\n" +
		"token_id = nctalk\ntoken_key = /opt/nctalk/signaling/proxy-token.key\n\n[turn]"
	if !strings.Contains(conf, want) {
		t.Errorf("server.conf lacks\n%s\ngot:\n%s", want, conf)
	}
	if strings.Contains(conf, "8188") {
		t.Error("server.conf still names the local Janus")
	}
	key := fileNamed(t, files, proxyTokenKey)
	if key.Perms != "0400" || string(key.Content) != testProxyToken().PrivateKey {
		t.Errorf("token key file: mode %s, content equal %v", key.Perms, string(key.Content) == testProxyToken().PrivateKey)
	}
	b2, err := mediaPlan(t, twoMediaServers()).Bundle(fakeSecrets())
	if err != nil {
		t.Fatal(err)
	}
	if b2.Owners[proxyTokenKey] != SignalingUID {
		t.Errorf("token key owned by %d, want signaling's %d", b2.Owners[proxyTokenKey], SignalingUID)
	}
	setup := string(fileNamed(t, files, SetupScript).Content)
	if !strings.Contains(setup, "chown "+ShellQuote("850:850")+" "+ShellQuote(proxyTokenKey)) {
		t.Error("the setup does not give the token key to signaling's uid")
	}
}

// TestProxyTokenKeyIsRedacted: the redacted document has the token key's
// marker and not a line of the key.
func TestProxyTokenKeyIsRedacted(t *testing.T) {
	doc, err := mediaPlan(t, twoMediaServers()).RenderRedacted()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte("<redacted:proxyTokenKey>")) {
		t.Error("no marker of the proxy token key")
	}
	for _, line := range strings.Split(testProxyToken().PrivateKey, "\n")[1:3] {
		if bytes.Contains(doc, []byte(line)) {
			t.Fatalf("the redacted document holds a line of the token's private key")
		}
	}
}

// TestMediaServerChangesActOnSignalingOnly: a media server added or removed
// reloads signaling (its url list), nothing else; the token rotated
// restarts it; the first media server switches signaling from its Janus to
// the proxies, the last one back.
func TestMediaServerChangesActOnSignalingOnly(t *testing.T) {
	bundle := func(p Plan) Bundle {
		b, err := p.Bundle(fakeSecrets())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one, _ := NewPlan(referenceSettings())
	two := mediaPlan(t, twoMediaServers())
	three := mediaPlan(t, append(twoMediaServers(), MediaServer{Name: "media-3", Host: "media-3.talk.example.com", URL: "https://media-3.talk.example.com/", Country: "US"}))
	rotated, err := two.WithProxyToken(testTokens()[1])
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		old, new Plan
		want     string
	}{
		{"a media server added", two, three, "signaling reloaded; coturn, nats, nginx untouched"},
		{"a media server removed", three, two, "signaling reloaded; coturn, nats, nginx untouched"},
		{"the token rotated", two, rotated, "signaling restarted; coturn, nats, nginx untouched"},
		// The topology switches: Janus moves to the media servers (its RTP
		// range closes), signaling's container loses its dependency on it.
		{"the first media server", one, two, "files updated, host-firewall reloaded, janus removed, signaling recreated; coturn, nats, nginx untouched"},
		{"the last media server removed", two, one, "files updated, host-firewall reloaded, janus started, signaling recreated; coturn, nats, nginx untouched"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DescribeChanges(bundle(tt.old).Units, bundle(tt.new).Units); got != tt.want {
				t.Errorf("the box does: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestWithMediaServersRefuses: each bad value is refused, naming what is
// wrong, and no error quotes a key.
func TestWithMediaServersRefuses(t *testing.T) {
	p, err := NewPlan(referenceSettings())
	if err != nil {
		t.Fatal(err)
	}
	ok := MediaServer{Name: "media-1", Host: "media-1.talk.example.com", URL: "https://media-1.talk.example.com/", Country: "DE"}
	with := func(change func(*MediaServer)) []MediaServer {
		m := ok
		change(&m)
		return []MediaServer{m}
	}
	k0, k1 := [2]string{testTokens()[0].PrivateKey, testTokens()[0].PublicKey}, [2]string{testTokens()[1].PrivateKey, testTokens()[1].PublicKey}
	tests := []struct {
		name    string
		servers []MediaServer
		token   ProxyToken
		want    string
	}{
		{"upper-case name", with(func(m *MediaServer) { m.Name = "Media-1" }), testProxyToken(), "DNS label"},
		{"name with a dot", with(func(m *MediaServer) { m.Name = "media.1" }), testProxyToken(), "DNS label"},
		{"a name twice", []MediaServer{ok, ok}, testProxyToken(), "is taken"},
		{"the domain as host", with(func(m *MediaServer) { m.Host = "talk.example.com" }), testProxyToken(), "is taken"},
		{"the TURN name as host", with(func(m *MediaServer) { m.Host = "turn.talk.example.com" }), testProxyToken(), "is taken"},
		{"country in lower case", with(func(m *MediaServer) { m.Country = "de" }), testProxyToken(), "ISO 3166-1"},
		{"no country", with(func(m *MediaServer) { m.Country = "" }), testProxyToken(), "ISO 3166-1"},
		{"ftp URL", with(func(m *MediaServer) { m.URL = "ftp://media-1.example.com/" }), testProxyToken(), "http|https|ws|wss"},
		{"a space in the URL (signaling splits the list on it)", with(func(m *MediaServer) { m.URL = "https://a.example.com/ https://evil.example.com/" }), testProxyToken(), "printable ASCII"},
		{"a line break in the URL", with(func(m *MediaServer) { m.URL = "https://a.example.com/\n[mcu]" }), testProxyToken(), "printable ASCII"},
		{"a Unicode line separator", with(func(m *MediaServer) { m.URL = "https://a.example.com/\u2028" }), testProxyToken(), "printable ASCII"},
		{"a path without a final /", with(func(m *MediaServer) { m.URL = "https://a.example.com/sub" }), testProxyToken(), "end its path with /"},
		{"user in the URL", with(func(m *MediaServer) { m.URL = "https://u:p@a.example.com/" }), testProxyToken(), "no user"},
		{"too many", make([]MediaServer, schema.MaxMediaServers+1), testProxyToken(), "at most 16"},
		{"token ID with =", []MediaServer{ok}, ProxyToken{ID: "a=b", PrivateKey: k0[0], PublicKey: k0[1]}, "token ID"},
		{"keys that do not match", []MediaServer{ok}, ProxyToken{ID: "nctalk", PrivateKey: k0[0], PublicKey: k1[1]}, "does not match"},
		{"public key as private key", []MediaServer{ok}, ProxyToken{ID: "nctalk", PrivateKey: k0[1], PublicKey: k0[1]}, "PEM block of type"},
		{"text after the key", []MediaServer{ok}, ProxyToken{ID: "nctalk", PrivateKey: k0[0] + "[mcu]\n", PublicKey: k0[1]}, "PEM block of type"},
		{"a carriage return in the key", []MediaServer{ok}, ProxyToken{ID: "nctalk", PrivateKey: strings.ReplaceAll(k0[0], "\n", "\r\n"), PublicKey: k0[1]}, "carriage return"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := p.WithMediaServers(tt.servers)
			if err == nil {
				_, err = q.WithProxyToken(tt.token)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), strings.Split(k0[0], "\n")[1]) || strings.Contains(err.Error(), strings.Split(k0[1], "\n")[1]) {
				t.Errorf("the error quotes a key: %v", err)
			}
		})
	}
}

// TestMediaServerBox: a media server's box runs the proxy, Janus, coturn
// and nginx and writes their files, not signaling's or NATS'; its proxy
// listens on loopback for nginx, trusts only loopback's forwarded
// addresses, reports its country, accepts the token by its ID and reaches
// its own Janus on loopback with the candidates signaling's Janus refuses
// refused too; its certificate carries its host name; its firewalls keep
// Janus' RTP range open, the signaling server's close it.
func TestMediaServerBox(t *testing.T) {
	p := allCases(t)["scale-out-media"]
	files := mustPlanFiles(t, p)
	want := `# nextcloud-spreed-signaling proxy of a media server (rendered by nctalk)
[app]
country = FI
trustedproxies = 127.0.0.1/32, ::1/128

[http]
listen = 127.0.0.1:9090

[tokens]
nctalk = /opt/nctalk/proxy/token.pub

[mcu]
type = janus
url = ws://127.0.0.1:8188
blockedcandidates = ` + strings.Join(DeniedPeerNetworks, ", ") + `

[stats]
allowed_ips = 127.0.0.1
`
	if got := string(files[proxyConfig].Content); got != want {
		t.Errorf("proxy.conf:\n%s\nwant:\n%s", got, want)
	}
	if got := string(files[proxyTokenPublicKey].Content); got != testProxyToken().PublicKey {
		t.Errorf("token.pub is not the token's public key")
	}
	for _, path := range []string{SignalingConfig, NATSConfig, proxyTokenKey} {
		if _, ok := files[path]; ok {
			t.Errorf("a media server writes %s", path)
		}
	}
	if got, want := p.Services(), []string{ServiceCoturn, ServiceJanus, ServiceNginx, ServiceProxy}; !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	if !slices.Equal(p.Names, []string{"media-2.talk.example.com"}) {
		t.Errorf("certificate names %v", p.Names)
	}
	hasRTP := func(rules []Rule) bool {
		return slices.ContainsFunc(rules, func(r Rule) bool { return r.Name == ruleJanusRTP })
	}
	if !hasRTP(p.Firewall) || hasRTP(allCases(t)["scale-out-signaling"].Firewall) {
		t.Errorf("Janus' RTP range: media server %v, signaling server %v; want open, closed", hasRTP(p.Firewall), hasRTP(allCases(t)["scale-out-signaling"].Firewall))
	}
	doc, err := p.Render(fakeSecrets())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{fakeSecrets().SignalingSecret, fakeSecrets().SessionHashKey, fakeSecrets().InternalClientSecret, strings.Split(testProxyToken().PrivateKey, "\n")[1]} {
		if bytes.Contains(doc, []byte(secret)) {
			t.Errorf("a media server's document holds a secret it has no use for: %.12s…", secret)
		}
	}
}

// TestMediaNeedsTheToken: a plan with media servers renders neither box
// without the proxy token.
func TestMediaNeedsTheToken(t *testing.T) {
	p, err := NewPlan(referenceSettings())
	if err != nil {
		t.Fatal(err)
	}
	if p, err = p.WithMediaServers(twoMediaServers()); err != nil {
		t.Fatal(err)
	}
	media, err := p.ForMediaServer("media-1")
	if err != nil {
		t.Fatal(err)
	}
	for name, plan := range map[string]Plan{"signaling": p, "media": media} {
		if _, err := plan.Render(fakeSecrets()); err == nil || !strings.Contains(err.Error(), "no proxy token") {
			t.Errorf("%s server without a token: %v", name, err)
		}
	}
}

// allCases are the plans of settingsCases, and the two boxes of a
// scale-out of the reference settings: the signaling server and a media
// server.
func allCases(t testing.TB) map[string]Plan {
	t.Helper()
	out := map[string]Plan{}
	for name, s := range settingsCases() {
		p, err := NewPlan(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = p
	}
	out["scale-out-signaling"] = mediaPlan(t, twoMediaServers())
	var err error
	if out["scale-out-media"], err = out["scale-out-signaling"].ForMediaServer("media-2"); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMediaDrainBound: the drain bound (mediaDrainMinutes) reaches a media
// server's nctalk-apply, which stops the proxy when the stack deletes the
// server, and nothing else: compose's own stop grace period is fixed, so a
// change of the bound rewrites the script and restarts nothing.
func TestMediaDrainBound(t *testing.T) {
	server := func(t *testing.T, drain time.Duration) Plan {
		t.Helper()
		p := mediaPlan(t, twoMediaServers())
		if drain != 0 {
			var err error
			if p, err = p.WithMediaDrain(drain); err != nil {
				t.Fatal(err)
			}
		}
		m, err := p.ForMediaServer("media-1")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tt := range []struct {
		name  string
		drain time.Duration
		stop  string
	}{
		{"unset: an hour", 0, "compose stop --timeout 3600 proxy"},
		{"10 minutes", 10 * time.Minute, "compose stop --timeout 600 proxy"},
		{"a day", 24 * time.Hour, "compose stop --timeout 86400 proxy"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			files := mustPlanFiles(t, server(t, tt.drain))
			if script := string(files[applyScript].Content); !strings.Contains(script, tt.stop) {
				t.Errorf("nctalk-apply's drain does not run %q:\n%s", tt.stop, script)
			}
			if compose := string(files[ComposeFile].Content); !strings.Contains(compose, "stop_grace_period: 3600s") {
				t.Errorf("compose.yaml's proxy stop grace period is not the fixed hour:\n%s", compose)
			}
		})
	}
	units := func(p Plan) UnitDigests {
		b, err := p.Bundle(fakeSecrets())
		if err != nil {
			t.Fatal(err)
		}
		return b.Units
	}
	if got, want := DescribeChanges(units(server(t, time.Hour)), units(server(t, 10*time.Minute))), "files updated; coturn, janus, nginx, proxy untouched"; got != want {
		t.Errorf("a media server told of a new drain bound does: %s\nwant: %s", got, want)
	}
	for _, d := range []time.Duration{0, 30 * time.Second, 90 * time.Second, 24*time.Hour + time.Minute} {
		if _, err := mediaPlan(t, twoMediaServers()).WithMediaDrain(d); err == nil || !strings.Contains(err.Error(), "whole minutes from 1m0s to 24h0m0s") {
			t.Errorf("drain bound %v: %v, want a refusal saying what is valid", d, err)
		}
	}
}
