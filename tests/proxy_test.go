package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/pion/webrtc/v4"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/tests/harness"
	"github.com/nctalk/nctalk/tests/images"
)

// proxyTokenID is the id signaling's proxy token carries and the proxies'
// [tokens] know its public key by.
const proxyTokenID = "nctalk"

// mediaServer is one media server of the test: a signaling proxy in front
// of its own Janus, in a network namespace of its own, linked to the
// signaling server's namespace by a veth pair on a documentation subnet.
type mediaServer struct {
	// name is the media server's name (cloudconfig.MediaServer.Name).
	name string
	// ns is the media server's network namespace; proxyAddr its address
	// on the link (the signaling side has the first address of its /25).
	ns, proxyAddr string
	// wrongKey: the proxy's [tokens] has the public key of another pair.
	wrongKey bool
	// country is the media server's (its proxy reports it); "" for DE.
	country string

	proxy *nsContainer
	janus *lockedBuffer
}

// URL is where signaling reaches the proxy (cloudconfig.MediaServer.URL).
func (m *mediaServer) URL() string {
	return "ws://" + net.JoinHostPort(m.proxyAddr, strconv.Itoa(schema.PortProxyHTTP))
}

// mediaServers are the servers as cloudconfig.Plan.WithMediaServers takes them.
func mediaServers(servers ...*mediaServer) []cloudconfig.MediaServer {
	var out []cloudconfig.MediaServer
	for _, m := range servers {
		country := m.country
		if country == "" {
			country = "DE"
		}
		out = append(out, cloudconfig.MediaServer{Name: m.name, Host: m.name + ".nctalk.test", URL: m.URL(), Country: country})
	}
	return out
}

// TestMediaOnProxies runs signaling with [mcu] type = proxy against real
// signaling proxies, each in front of its own Janus in a network namespace
// of its own (issue 23, "scale media out"), with an RS256 key pair made
// here: signaling gets through to the proxies that know its public key and
// not to one that has another; two Talk publishers (SDP offers made by
// pion, sent through signaling as a client does) land on different proxies,
// by load; a proxy told SIGUSR1 gets no new publisher, keeps its session
// and exits when it ends; a proxy added to signaling's url list reaches it
// on SIGHUP, without a restart, and takes the next publisher; and with
// a country database (geoipDatabaseUrl) and geoipOverrides reloaded, a
// caller from a network either puts in DE goes to the DE proxy although it
// carries more load.
func TestMediaOnProxies(t *testing.T) {
	s := needStack(t)
	needNetnsRoot(t)
	begin := time.Now()

	token, otherToken := newProxyToken(t), newProxyToken(t)

	sig := newNetns(t, "psig")
	a := &mediaServer{name: "media-a", ns: newNetns(t, "pa"), proxyAddr: "192.0.2.2"}
	b := &mediaServer{name: "media-b", ns: newNetns(t, "pb"), proxyAddr: "198.51.100.2"}
	c := &mediaServer{name: "media-c", ns: newNetns(t, "pc"), proxyAddr: "203.0.113.2", country: "FI"}
	d := &mediaServer{name: "media-d-wrong-key", ns: newNetns(t, "pd"), proxyAddr: "192.0.2.130", wrongKey: true}
	all := []*mediaServer{a, b, c, d}
	for i, m := range all {
		link(t, sig, m.ns, fmt.Sprintf("m%d", i), m.proxyAddr)
	}

	files := s.Files
	for _, m := range all {
		signedBy := token
		if m.wrongKey {
			signedBy = otherToken
		}
		media := mediaServerFiles(t, s, m, signedBy)
		m.janus = startJanus(t, m.ns, media)
		m.proxy = startProxy(t, m, media)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range all {
				t.Logf("----- proxy %s log (tail) -----\n%s", m.name, tailLines(m.proxy.logs.String(), 40))
				t.Logf("----- Janus %s log (tail) -----\n%s", m.name, tailLines(m.janus.String(), 15))
			}
		}
	})

	// The main box: NATS and signaling from the stack's settings and
	// secrets with the media servers, in their own namespace; the fake
	// Nextcloud reached through a forward.
	forwardNextcloud(t, sig, s.Nextcloud.URL)
	// A country database as geoipDatabaseUrl names one: served over HTTPS
	// (a certificate of the test CA, which signaling's container trusts, as
	// the real one trusts a public CA) under the fake Nextcloud's name.
	geo := cloudconfig.GeoIP{DatabaseURL: serveCountryDatabase(t, s, sig, map[string]string{
		"198.18.42.0/24": "DE", // a caller's network the database puts in DE
		"198.18.23.0/24": "FI", // overridden to DE below
	})}
	natsDir := configDir(t, files, cloudconfig.NATSConfig)
	startContainerInNetns(t, sig, files, cloudconfig.ServiceNATS, natsDir, path.Dir(cloudconfig.NATSConfig))
	sigDir := configDir(t, nil)
	sigFiles := writeSignalingDir(t, s, sigDir, mediaServers(a, b, d), token, geo)
	signaling := startSignaling(t, s, sig, sigFiles, sigDir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("----- signaling (proxy mode) log (tail) -----\n%s", tailLines(signaling.logs.String(), 60))
		}
	})
	sigClient := nsHTTPClient(sig)
	ctx := bounded(t, 150*time.Second)
	startedAt := time.Now()
	if err := pollFor(ctx, 30*time.Second, func() error {
		st, err := proxyStats(ctx, sigClient)
		if err != nil {
			return err
		}
		for _, m := range []*mediaServer{a, b} {
			if p := st.of(m); p == nil || !p.Connected || p.Load == nil {
				return fmt.Errorf("proxy %s not connected: %v", m.name, p)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("signaling does not connect to the proxies A and B with its RS256 token: %v", err)
	}
	t.Logf("figure: signaling connected to the proxies A and B %v after its start (%v since the test began)",
		time.Since(startedAt).Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))

	t.Run("proxy user", func(t *testing.T) {
		for _, m := range all {
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", m.proxy.PID()))
			if err != nil {
				t.Fatal(err)
			}
			want := strconv.Itoa(cloudconfig.ProxyUID)
			if f := regexp.MustCompile(`(?m)^Uid:\s+(\d+)`).FindSubmatch(status); f == nil || string(f[1]) != want {
				t.Errorf("proxy %s runs as uid %q, the compose file says %s", m.name, f, want)
			}
		}
	})

	t.Run("token", func(t *testing.T) {
		// Signaling's stats call a proxy connected once its WebSocket is up,
		// before the hello that makes (or is refused) a session (2.0.2
		// GetStats): the proxies' own counters say what the hello did.
		for _, m := range []*mediaServer{a, b, d} {
			want := func(sessions, tokenErrors float64) error {
				if m.wrongKey && (sessions != 0 || tokenErrors == 0) {
					return fmt.Errorf("proxy %s has another public key for %q: signaling got %v sessions and %v token errors, want none and some", m.name, proxyTokenID, sessions, tokenErrors)
				}
				if !m.wrongKey && (sessions != 1 || tokenErrors != 0) {
					return fmt.Errorf("proxy %s: %v sessions and %v token errors, want signaling's one session and no token error", m.name, sessions, tokenErrors)
				}
				return nil
			}
			met, err := waitProxyMetrics(ctx, m, want)
			t.Logf("proxy %s: signaling_proxy_sessions %v, signaling_proxy_token_errors_total %v %v", m.name, met.sum("signaling_proxy_sessions"), met.sum("signaling_proxy_token_errors_total"), met.labels("signaling_proxy_token_errors_total"))
			if err != nil {
				t.Error(err)
			}
		}
		refused := "Hello connection to " + d.URL() + " failed with The token could not be authenticated"
		if err := pollFor(ctx, 10*time.Second, func() error {
			if line := lastLine(signaling.logs.String(), "Hello connection to "+d.URL()); !strings.Contains(line, refused) {
				return fmt.Errorf("signaling's log does not say %s refused its token: %q", d.name, line)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	})

	room := "conversation-23"
	var publishers []*publisher
	t.Cleanup(func() {
		for _, p := range publishers {
			_ = p.conn.Close()
		}
	})
	publishFrom := func(t *testing.T, user string, client *http.Client) (*publisher, *mediaServer) {
		t.Helper()
		servers := []*mediaServer{a, b, c}
		before, err := publisherCounts(ctx, sigClient, servers)
		if err != nil {
			t.Fatal(err)
		}
		p, err := newPublisher(ctx, s, client, user, room)
		if err != nil {
			t.Fatalf("publisher %s: %v", user, err)
		}
		publishers = append(publishers, p)
		on, err := placedOn(ctx, sigClient, before, servers)
		if err != nil {
			t.Fatalf("publisher %s: %v", user, err)
		}
		t.Logf("publisher %s (session %s) is on proxy %s (Janus answered %d bytes of SDP)", user, p.conn.Hello.SessionID, on.name, len(p.answer))
		return p, on
	}
	publish := func(t *testing.T, user string) (*publisher, *mediaServer) {
		t.Helper()
		return publishFrom(t, user, sigClient)
	}

	var first, second *mediaServer
	var secondPub *publisher
	t.Run("placement", func(t *testing.T) {
		_, first = publish(t, "pub1")
		// The proxies report their load every second, and signaling sorts
		// its connections by it at most once a second: wait until it knows.
		if err := pollFor(ctx, 10*time.Second, func() error {
			st, err := proxyStats(ctx, sigClient)
			if err != nil {
				return err
			}
			if p := st.of(first); p == nil || p.Load == nil || *p.Load == 0 {
				return fmt.Errorf("proxy %s: signaling has no load for it yet: %v", first.name, p)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // signaling's connectionSortInterval (1 s)
		secondPub, second = publish(t, "pub2")
		if second == first {
			t.Errorf("both publishers are on proxy %s; the other proxy has no load", first.name)
		}
		for _, m := range []*mediaServer{a, b} {
			met, err := proxyMetrics(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if got := met.sum("signaling_proxy_publishers"); got != 1 {
				t.Errorf("proxy %s: signaling_proxy_publishers %v, want 1", m.name, got)
			}
		}
	})
	if t.Failed() {
		return
	}

	t.Run("drain with SIGUSR1", func(t *testing.T) {
		drained, kept := second, first
		sent := time.Now()
		if err := syscall.Kill(drained.proxy.PID(), syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		if err := pollFor(ctx, 10*time.Second, func() error {
			st, err := proxyStats(ctx, sigClient)
			if err != nil {
				return err
			}
			if p := st.of(drained); p == nil || p.Shutdown == nil || !*p.Shutdown {
				return fmt.Errorf("signaling does not see proxy %s's shutdown: %v", drained.name, p)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		t.Logf("figure: signaling saw proxy %s's scheduled shutdown %v after SIGUSR1", drained.name, time.Since(sent).Round(time.Millisecond))
		time.Sleep(1100 * time.Millisecond) // a resort: the drained proxy has the lower load now or never
		_, on := publish(t, "pub3")
		if on != kept {
			t.Errorf("the publisher after SIGUSR1 to %s is on %s, want %s", drained.name, on.name, kept.name)
		}
		met, err := proxyMetrics(ctx, drained)
		if err != nil {
			t.Fatalf("proxy %s after SIGUSR1, with a publisher: %v", drained.name, err)
		}
		if drained.proxy.exited() || met.sum("signaling_proxy_publishers") != 1 || met.sum("signaling_proxy_sessions") != 1 {
			t.Errorf("proxy %s after SIGUSR1: exited %v, publishers %v, sessions %v; want it running with its publisher and signaling's session",
				drained.name, drained.proxy.exited(), met.sum("signaling_proxy_publishers"), met.sum("signaling_proxy_sessions"))
		}
		// The publisher's client leaves: its publisher ends, and with the
		// proxy's last client the proxy exits.
		if err := secondPub.conn.Send(ctx, map[string]any{"type": "bye", "bye": map[string]any{}}); err != nil {
			t.Fatal(err)
		}
		left := time.Now()
		select {
		case <-drained.proxy.done:
			t.Logf("figure: proxy %s exited %v after its last publisher's client left (%v after SIGUSR1): %s", drained.name,
				time.Since(left).Round(time.Millisecond), time.Since(sent).Round(time.Millisecond), lastLine(drained.proxy.logs.String(), "shutting down"))
		case <-time.After(20 * time.Second):
			t.Errorf("proxy %s still runs 20 s after its last publisher's client left", drained.name)
		}
	})

	t.Run("proxy added on SIGHUP", func(t *testing.T) {
		before := publishers[0]
		pid := signaling.PID()
		writeSignalingDir(t, s, sigDir, mediaServers(a, b, c), token, geo)
		sent := time.Now()
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if err := pollFor(ctx, 30*time.Second, func() error {
			st, err := proxyStats(ctx, sigClient)
			if err != nil {
				return err
			}
			if p := st.of(c); p == nil || !p.Connected || p.Load == nil {
				return fmt.Errorf("proxy %s not connected: %v", c.name, p)
			}
			return nil
		}); err != nil {
			t.Fatalf("after SIGHUP with %s in [mcu] url: %v", c.URL(), err)
		}
		t.Logf("figure: signaling connected to the added proxy %s %v after SIGHUP", c.name, time.Since(sent).Round(time.Millisecond))
		if signaling.exited() || signaling.PID() != pid {
			t.Errorf("signaling restarted on SIGHUP (PID %d, exited %v)", pid, signaling.exited())
		}
		if _, err := waitProxyMetrics(ctx, c, func(sessions, _ float64) error {
			if sessions != 1 {
				return fmt.Errorf("proxy %s: signaling_proxy_sessions %v, want signaling's one", c.name, sessions)
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
		st, err := proxyStats(ctx, sigClient)
		if err != nil {
			t.Fatal(err)
		}
		if p := st.of(d); p != nil {
			t.Errorf("signaling keeps proxy %s, which the reloaded url list dropped: %v", d.name, p)
		}
		time.Sleep(1100 * time.Millisecond)
		_, on := publish(t, "pub4")
		if on != c {
			t.Errorf("the publisher after adding %s (no load) is on %s", c.name, on.name)
		}
		if err := before.conn.FinalPing(ctx); err != nil {
			t.Errorf("the session of %s opened before the SIGHUP: %v", before.user, err)
		}
	})
	t.Run("country by geoipDatabaseUrl and geoipOverrides", func(t *testing.T) {
		// The kept proxy (DE) carries two publishers, media-c (FI) one: by
		// load the next publisher goes to media-c. Callers come through
		// nginx, which hands signaling their address as X-Real-IP (signaling
		// trusts loopback). One the database puts in DE, and then one the
		// database puts in FI but an override in DE, must land on the DE
		// proxy all the same; one from elsewhere (country unknown) after
		// them by load, on media-c.
		kept := first
		if c.country == "" || kept.country != "" {
			t.Fatalf("the test needs %s in another country than %s", c.name, kept.name)
		}
		if err := pollFor(ctx, 20*time.Second, func() error {
			if !regexp.MustCompile(`Using \S+ GeoIP database from ` + regexp.QuoteMeta(geo.DatabaseURL)).MatchString(signaling.logs.String()) {
				return fmt.Errorf("signaling has not loaded %s", geo.DatabaseURL)
			}
			return nil
		}); err != nil {
			t.Fatalf("%v; its log: %q", err, lastLine(signaling.logs.String(), "GeoIP"))
		}
		t.Logf("signaling: %s", lastLine(signaling.logs.String(), "GeoIP database from"))
		time.Sleep(1100 * time.Millisecond) // a resort by load
		_, on := publishFrom(t, "pub-de-by-database", withRealIP(sigClient, "198.18.42.7"))
		if on != kept {
			t.Errorf("a caller from 198.18.42.0/24 (DE in the database) is on %s (country %q), want %s (DE, the higher load)", on.name, on.country, kept.name)
		}

		pid := signaling.PID()
		overridden := geo
		overridden.Overrides = []string{"198.18.23.0/24=DE"}
		sigFiles := writeSignalingDir(t, s, sigDir, mediaServers(a, b, c), token, overridden)
		if conf := string(sigFiles[cloudconfig.SignalingConfig].Content); !strings.Contains(conf, "[geoip-overrides]\n198.18.23.0/24 = DE\n") {
			t.Fatalf("the rendered server.conf has no override:\n%s", conf)
		}
		reloads := strings.Count(signaling.logs.String(), "Received SIGHUP")
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		if err := pollFor(ctx, 10*time.Second, func() error {
			if strings.Count(signaling.logs.String(), "Received SIGHUP") == reloads {
				return fmt.Errorf("signaling has not logged the SIGHUP")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // the reload done, a resort by load
		_, on = publishFrom(t, "pub-de-by-override", withRealIP(sigClient, "198.18.23.7"))
		if on != kept {
			t.Errorf("a caller from 198.18.23.0/24 (FI in the database, DE by geoipOverrides) is on %s (country %q), want %s (DE, the higher load)", on.name, on.country, kept.name)
		}
		time.Sleep(1100 * time.Millisecond)
		_, on = publishFrom(t, "pub-elsewhere", withRealIP(sigClient, "198.18.99.7"))
		if on != c {
			t.Errorf("a caller of unknown country is on %s, want %s (the lower load)", on.name, c.name)
		}
		if signaling.exited() || signaling.PID() != pid {
			t.Errorf("signaling restarted on SIGHUP (PID %d, exited %v)", pid, signaling.exited())
		}
	})
	t.Logf("figure: the whole test took %v", time.Since(begin).Round(time.Millisecond))

	// As for the stack's daemons: no secret in any log, the token's
	// private key included.
	secrets := append(s.Secrets.List(), cloudconfig.NamedSecret{Name: "the proxy token key", Value: pemBody(token.PrivateKey)})
	logs := map[string]string{"signaling (proxy mode)": signaling.logs.String()}
	for _, m := range all {
		logs["proxy "+m.name] = m.proxy.logs.String()
	}
	for name, l := range logs {
		for _, sec := range secrets {
			if sec.Value != "" && strings.Contains(l, sec.Value) {
				t.Errorf("the %s log contains %s", name, sec.Name)
			}
		}
	}
}

// newProxyToken is a fresh proxy token under proxyTokenID.
func newProxyToken(t testing.TB) cloudconfig.ProxyToken {
	t.Helper()
	token, err := cloudconfig.NewProxyToken(proxyTokenID)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// pemBody is the first base64 line of a PEM block, what a log that
// leaked the key would hold.
func pemBody(text string) string {
	lines := strings.Split(text, "\n")
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}

// link connects the namespaces sig ("": the test's own) and media with a
// veth pair on addr's /25: addr in media, the /25's first address in sig.
func link(t testing.TB, sig, media, name, addr string) {
	t.Helper()
	ip := net.ParseIP(addr).To4()
	gw := net.IPv4(ip[0], ip[1], ip[2], ip[3]&0x80+1).String()
	in := func(ns string, argv ...string) []string {
		if ns == "" {
			return append([]string{"ip"}, argv...)
		}
		return append([]string{"ip", "-n", ns}, argv...)
	}
	mustRun(t, in(sig, "link", "add", name, "type", "veth", "peer", "name", "eth-"+name, "netns", media)...)
	if sig == "" {
		t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() }) // gone with the namespace too
	}
	mustRun(t, in(sig, "addr", "add", gw+"/25", "dev", name)...)
	mustRun(t, in(media, "addr", "add", addr+"/25", "dev", "eth-"+name)...)
	mustRun(t, in(sig, "link", "set", name, "up")...)
	mustRun(t, in(media, "link", "set", "eth-"+name, "up")...)
	// Janus (libnice) fails a handle's gathering while an address of the
	// namespace cannot be bound yet: wait until IPv6 duplicate address
	// detection has finished on the new link (BenchmarkMediaServerForwarding
	// met it on its first publisher).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := pollFor(ctx, 15*time.Second, func() error {
		if out := mustRun(t, in(media, "addr", "show", "tentative")...); strings.TrimSpace(out) != "" {
			return fmt.Errorf("tentative addresses: %s", out)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// configDir writes the rendered files into a fresh directory readable by
// every daemon uid and returns it.
func configDir(t testing.TB, files map[string]harness.WrittenFile, paths ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "nctalk-proxytest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		f, ok := files[p]
		if !ok {
			t.Fatalf("the cloud-config writes no %s", p)
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(p)), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// startJanus runs the rendered Janus (127.0.0.1:8188) in ns.
func startJanus(t testing.TB, ns string, files map[string]harness.WrittenFile) *lockedBuffer {
	t.Helper()
	dir := configDir(t, files, cloudconfig.JanusConfigFile, cloudconfig.JanusVideoRoomConfig, cloudconfig.JanusWebsocketsConfig)
	return startContainerInNetns(t, ns, files, cloudconfig.ServiceJanus, dir, cloudconfig.JanusConfigDir)
}

// mediaServerFiles renders m's box (cloudconfig.Plan.ForMediaServer of the
// stack's settings with m as a media server and token as the proxies'
// key) and returns its write_files by path.
func mediaServerFiles(t testing.TB, s *harness.Stack, m *mediaServer, token cloudconfig.ProxyToken) map[string]harness.WrittenFile {
	t.Helper()
	plan, err := cloudconfig.NewPlan(s.Settings)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err = plan.WithMediaServers(mediaServers(m)); err != nil {
		t.Fatalf("WithMediaServers: %v", err)
	}
	if plan, err = plan.WithProxyToken(token); err != nil {
		t.Fatalf("WithProxyToken: %v", err)
	}
	if plan, err = plan.ForMediaServer(m.name); err != nil {
		t.Fatalf("ForMediaServer(%s): %v", m.name, err)
	}
	doc, err := plan.Render(s.Secrets)
	if err != nil {
		t.Fatalf("the media server %s: %v", m.name, err)
	}
	files, err := harness.WriteFiles(doc)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// startProxy runs m's proxy as the media server's rendered compose file
// does (harness.ContainerSpec: its substitute image, entrypoint, user,
// capabilities, read-only root), with its rendered config directory (the
// directory of the -config file: proxy.conf and the token's public key)
// at its path. The rendered proxy listens on loopback for the media
// server's nginx; here a plain forward from the link's address stands in.
func startProxy(t testing.TB, m *mediaServer, files map[string]harness.WrittenFile) *nsContainer {
	t.Helper()
	spec, err := harness.ContainerSpec(files, cloudconfig.ServiceProxy)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(spec.Argv, "-config")
	if i < 0 || i+1 >= len(spec.Argv) {
		t.Fatalf("the proxy's compose command %q has no -config", spec.Argv)
	}
	conf := spec.Argv[i+1]
	if _, ok := files[conf]; !ok {
		t.Fatalf("the media server's rendering writes no %s", conf)
	}
	vmDir := path.Dir(conf)
	dir := configDir(t, nil)
	for p, f := range files {
		if path.Dir(p) != vmDir {
			continue
		}
		mode := os.FileMode(f.Permissions)
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(p)), f.Content, mode); err != nil {
			t.Fatal(err)
		}
	}
	forward(t, m.ns, net.JoinHostPort(m.proxyAddr, strconv.Itoa(schema.PortProxyHTTP)), m.ns, loopback(schema.PortProxyHTTP))
	spec.Binds = append(spec.Binds, images.Bind{Source: dir, Target: vmDir, ReadOnly: true})
	return runInNetns(t, m.ns, spec)
}

// writeSignalingDir renders the stack's settings and secrets with the
// media servers (cloudconfig.Plan.WithMediaServers) and writes signaling's
// config directory into dir: server.conf and the token's private key with
// the rendered modes, owned by signaling's uid (as the setup's
// prepare_files leaves them). It returns the rendering's files.
func writeSignalingDir(t testing.TB, s *harness.Stack, dir string, servers []cloudconfig.MediaServer, token cloudconfig.ProxyToken, geo cloudconfig.GeoIP) map[string]harness.WrittenFile {
	t.Helper()
	plan, err := cloudconfig.NewPlan(s.Settings)
	if err != nil {
		t.Fatal(err)
	}
	if plan, err = plan.WithMediaServers(servers); err != nil {
		t.Fatalf("WithMediaServers: %v", err)
	}
	if plan, err = plan.WithProxyToken(token); err != nil {
		t.Fatalf("WithProxyToken: %v", err)
	}
	if plan, err = plan.WithGeoIP(geo); err != nil {
		t.Fatalf("WithGeoIP: %v", err)
	}
	doc, err := plan.Render(s.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	files, err := harness.WriteFiles(doc)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := iniValue(files[cloudconfig.SignalingConfig].Content, "mcu", "token_key")
	if path.Dir(keyPath) != path.Dir(cloudconfig.SignalingConfig) {
		t.Fatalf("signaling's token_key %q is not in its config directory %s", keyPath, path.Dir(cloudconfig.SignalingConfig))
	}
	for _, p := range []string{cloudconfig.SignalingConfig, keyPath} {
		f, ok := files[p]
		if !ok {
			t.Fatalf("the rendering with media servers writes no %s", p)
		}
		mode := os.FileMode(f.Permissions)
		if mode == 0 {
			mode = 0o644
		}
		host := filepath.Join(dir, path.Base(p))
		if err := os.WriteFile(host+".new", f.Content, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(host+".new", mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(host+".new", cloudconfig.SignalingUID, cloudconfig.SignalingUID); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(host+".new", host); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// iniValue is the value of key in section of an INI file ("" when none).
func iniValue(conf []byte, section, key string) string {
	in := false
	for _, line := range strings.Split(string(conf), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			in = line == "["+section+"]"
			continue
		}
		if k, v, ok := strings.Cut(line, "="); in && ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// startSignaling runs the rendered signaling server in ns as the stack
// does, with dir as its config directory, the fake Nextcloud's name on
// loopback and the test CA trusted.
func startSignaling(t testing.TB, s *harness.Stack, ns string, files map[string]harness.WrittenFile, dir string) *nsContainer {
	t.Helper()
	spec, err := harness.ContainerSpec(files, cloudconfig.ServiceSignaling)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := url.Parse(s.Nextcloud.URL)
	if err != nil {
		t.Fatal(err)
	}
	etc := configDir(t, nil)
	hosts := filepath.Join(etc, "hosts")
	if err := os.WriteFile(hosts, []byte("127.0.0.1\tlocalhost "+nc.Hostname()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	bundle = append(append(bundle, '\n'), s.CA.CertPEM...)
	cas := filepath.Join(etc, "ca-certificates.crt")
	if err := os.WriteFile(cas, bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	spec.Binds = append(spec.Binds,
		images.Bind{Source: dir, Target: path.Dir(cloudconfig.SignalingConfig), ReadOnly: true},
		images.Bind{Source: hosts, Target: "/etc/hosts", ReadOnly: true},
		images.Bind{Source: cas, Target: "/etc/ssl/certs/ca-certificates.crt", ReadOnly: true})
	return runInNetns(t, ns, spec)
}

// forwardNextcloud makes the fake Nextcloud (on the test's loopback)
// reachable on the same port of ns's loopback.
func forwardNextcloud(t testing.TB, ns, nextcloudURL string) {
	t.Helper()
	u, err := url.Parse(nextcloudURL)
	if err != nil {
		t.Fatal(err)
	}
	addr := loopback(mustAtoi(t, u.Port()))
	forward(t, ns, addr, "", addr)
}

func mustAtoi(t testing.TB, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// forward listens on listen in the namespace fromNS and copies each
// connection to target, dialled in toNS ("": the test's own namespace).
func forward(t testing.TB, fromNS, listen, toNS, target string) {
	t.Helper()
	var l net.Listener
	if err := inNetns(fromNS, func() (err error) { l, err = net.Listen("tcp", listen); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	dial := func() (net.Conn, error) { return net.Dial("tcp", target) }
	if toNS != "" {
		dial = func() (conn net.Conn, err error) {
			err = inNetns(toNS, func() error { conn, err = net.Dial("tcp", target); return err })
			return conn, err
		}
	}
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer in.Close()
				out, err := dial()
				if err != nil {
					return
				}
				defer out.Close()
				go func() { _, _ = io.Copy(out, in) }()
				_, _ = io.Copy(in, out)
			}()
		}
	}()
}

// nsHTTPClient is an HTTP/1.1 client whose connections are made in ns.
func nsHTTPClient(ns string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (conn net.Conn, err error) {
			err = inNetns(ns, func() error {
				var d net.Dialer
				conn, err = d.DialContext(ctx, network, addr)
				return err
			})
			return conn, err
		},
	}}
}

// proxyConnStats is one proxy connection in signaling's /api/v1/stats.
type proxyConnStats struct {
	URL        string `json:"url"`
	Connected  bool   `json:"connected"`
	Publishers int64  `json:"publishers"`
	Load       *int64 `json:"load"`
	Shutdown   *bool  `json:"shutdown"`
}

// String shows the connection for messages (nil pointers as "-").
func (p *proxyConnStats) String() string {
	if p == nil {
		return "no connection"
	}
	load, shutdown := "-", "-"
	if p.Load != nil {
		load = strconv.FormatInt(*p.Load, 10)
	}
	if p.Shutdown != nil {
		shutdown = strconv.FormatBool(*p.Shutdown)
	}
	return fmt.Sprintf("%s connected %v publishers %d load %s shutdown %s", p.URL, p.Connected, p.Publishers, load, shutdown)
}

// signalingProxyStats is signaling's /api/v1/stats in proxy mode.
type signalingProxyStats struct {
	MCU struct {
		Publishers int64            `json:"publishers"`
		Details    []proxyConnStats `json:"details"`
	} `json:"mcu"`
}

// of returns the connection to m's proxy, nil when signaling has none.
func (st *signalingProxyStats) of(m *mediaServer) *proxyConnStats {
	for i, p := range st.MCU.Details {
		if strings.TrimSuffix(p.URL, "/") == m.URL() {
			return &st.MCU.Details[i]
		}
	}
	return nil
}

func proxyStats(ctx context.Context, client *http.Client) (*signalingProxyStats, error) {
	var st signalingProxyStats
	if err := getJSON(ctx, client, fmt.Sprintf("http://127.0.0.1:%d/api/v1/stats", schema.PortSignalingHTTP), &st); err != nil {
		return nil, fmt.Errorf("signaling stats: %w", err)
	}
	return &st, nil
}

func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// metrics are Prometheus samples: the line's name with labels, and value.
type metrics map[string]float64

// sum adds every sample of the metric name (all label sets).
func (m metrics) sum(name string) float64 {
	var total float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			total += v
		}
	}
	return total
}

// labels lists the samples of name with their labels, for the log.
func (m metrics) labels(name string) []string {
	var out []string
	for k, v := range m {
		if strings.HasPrefix(k, name+"{") {
			out = append(out, fmt.Sprintf("%s=%v", strings.TrimPrefix(k, name), v))
		}
	}
	return out
}

// proxyMetrics reads m's proxy's /metrics on its namespace's loopback.
// waitProxyMetrics reads m's metrics until check accepts its
// signaling_proxy_sessions and signaling_proxy_token_errors_total, for up
// to 10 s, and returns the last reading with check's last complaint.
func waitProxyMetrics(ctx context.Context, m *mediaServer, check func(sessions, tokenErrors float64) error) (metrics, error) {
	var met metrics
	err := pollFor(ctx, 10*time.Second, func() (err error) {
		if met, err = proxyMetrics(ctx, m); err != nil {
			return err
		}
		return check(met.sum("signaling_proxy_sessions"), met.sum("signaling_proxy_token_errors_total"))
	})
	return met, err
}

func proxyMetrics(ctx context.Context, m *mediaServer) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/metrics", schema.PortProxyHTTP), nil)
	if err != nil {
		return nil, err
	}
	resp, err := nsHTTPClient(m.ns).Do(req)
	if err != nil {
		return nil, fmt.Errorf("proxy %s metrics: %w", m.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("proxy %s metrics: %s", m.name, resp.Status)
	}
	out := metrics{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// publisher is a Talk client in the room that published its video through
// signaling's MCU.
type publisher struct {
	user   string
	conn   *harness.SignalingConn
	answer string
}

// newPublisher says hello as a Nextcloud user (auth by the fake
// Nextcloud), joins room and sends an SDP offer (pion, audio and video,
// send only) for its own "video" stream, as Talk does; it returns once
// the MCU's answer arrived.
func newPublisher(ctx context.Context, s *harness.Stack, client *http.Client, user, room string) (*publisher, error) {
	conn, err := harness.DialSignaling(ctx, fmt.Sprintf("ws://127.0.0.1:%d/spreed", schema.PortSignalingHTTP), client)
	if err != nil {
		return nil, err
	}
	if err := conn.HelloClient(ctx, s.Nextcloud.BackendURL(), map[string]any{"userid": user}); err != nil {
		conn.Close()
		return nil, err
	}
	if err := conn.Send(ctx, map[string]any{"id": "join-" + user, "type": "room", "room": map[string]any{"roomid": room, "sessionid": "nc-" + user}}); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := conn.ReadType(ctx, "room"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("join %s: %w", room, err)
	}
	offer, err := sdpOffer()
	if err != nil {
		conn.Close()
		return nil, err
	}
	own := conn.Hello.SessionID
	if err := conn.Send(ctx, map[string]any{"id": "offer-" + user, "type": "message", "message": map[string]any{
		"recipient": map[string]any{"type": "session", "sessionid": own},
		"data": map[string]any{"to": own, "type": "offer", "roomType": "video", "sid": "sid-" + user,
			"payload": map[string]any{"type": "offer", "sdp": offer}},
	}}); err != nil {
		conn.Close()
		return nil, err
	}
	for {
		m, err := conn.ReadType(ctx, "message")
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("offer: %w", err)
		}
		var msg struct {
			Message struct {
				Data struct {
					Type    string `json:"type"`
					Payload struct {
						SDP string `json:"sdp"`
					} `json:"payload"`
				} `json:"data"`
			} `json:"message"`
		}
		if err := json.Unmarshal(m.Raw, &msg); err == nil && msg.Message.Data.Type == "answer" {
			return &publisher{user: user, conn: conn, answer: msg.Message.Data.Payload.SDP}, nil
		}
	}
}

// sdpOffer is a browser-like SDP offer: audio and video, send only.
func sdpOffer() (string, error) {
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", err
	}
	defer pc.Close()
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return "", err
		}
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	return offer.SDP, nil
}

// publisherCounts is each media server's count of publishers in
// signaling's stats (0 when signaling has no connection to it).
func publisherCounts(ctx context.Context, client *http.Client, servers []*mediaServer) (map[*mediaServer]int64, error) {
	st, err := proxyStats(ctx, client)
	if err != nil {
		return nil, err
	}
	out := map[*mediaServer]int64{}
	for _, m := range servers {
		if c := st.of(m); c != nil {
			out[m] = c.Publishers
		}
	}
	return out, nil
}

// placedOn finds the media server that gained the one new publisher since
// before, by signaling's per-proxy count, and checks that the proxy
// counts it too (its signaling_proxy_publishers).
func placedOn(ctx context.Context, client *http.Client, before map[*mediaServer]int64, servers []*mediaServer) (*mediaServer, error) {
	var found *mediaServer
	err := pollFor(ctx, 5*time.Second, func() error {
		now, err := publisherCounts(ctx, client, servers)
		if err != nil {
			return err
		}
		found = nil
		var gained []string
		for _, m := range servers {
			if now[m] > before[m] {
				gained = append(gained, fmt.Sprintf("%s +%d", m.name, now[m]-before[m]))
				found = m
			}
		}
		if len(gained) != 1 || now[found]-before[found] != 1 {
			return fmt.Errorf("publishers per proxy in signaling's stats went from %v to %v (gained: %v), want one more on one proxy", named(before), named(now), gained)
		}
		met, err := proxyMetrics(ctx, found)
		if err != nil {
			return err
		}
		if got := int64(met.sum("signaling_proxy_publishers")); got != now[found] {
			return fmt.Errorf("proxy %s counts %d publishers, signaling %d", found.name, got, now[found])
		}
		return nil
	})
	return found, err
}

// named is a count per media server by name, for messages.
func named(counts map[*mediaServer]int64) map[string]int64 {
	out := map[string]int64{}
	for m, n := range counts {
		out[m.name] = n
	}
	return out
}

// pollFor polls check every 200 ms until it returns nil, for at most
// limit (and ctx); it returns check's last error.
func pollFor(ctx context.Context, limit time.Duration, check func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lastLine is the last line of logs that contains want, or "".
func lastLine(logs, want string) string {
	lines := strings.Split(logs, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], want) {
			return strings.TrimSpace(lines[i])
		}
	}
	return ""
}

// withRealIP is client with every request carrying X-Real-IP: addr, as
// nginx hands signaling the caller's address.
func withRealIP(client *http.Client, addr string) *http.Client {
	c := *client
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Real-IP", addr)
		return next.RoundTrip(r)
	})
	return &c
}

// roundTripFunc is a function as an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// serveCountryDatabase serves a MaxMind-format country database of
// networks (prefix → ISO code, as signaling reads a record:
// country.iso_code) over HTTPS, with a certificate of the stack's CA for
// the fake Nextcloud's name, on a loopback port of the test's namespace
// forwarded into ns, and returns its URL.
func serveCountryDatabase(t testing.TB, s *harness.Stack, ns string, networks map[string]string) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: "nctalk-test-Country", RecordSize: 24, IncludeReservedNetworks: true,
		// signaling 2.0.2's reader refuses a database whose metadata has no
		// description ("Expected: non-empty slice Actual: map[]").
		Description: map[string]string{"en": "nctalk test country database"}, Languages: []string{"en"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for prefix, country := range networks {
		_, network, err := net.ParseCIDR(prefix)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(network, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(country)}}); err != nil {
			t.Fatalf("country database: %s: %v", prefix, err)
		}
	}
	var db bytes.Buffer
	if _, err := tree.WriteTo(&db); err != nil {
		t.Fatal(err)
	}
	nc, err := url.Parse(s.Nextcloud.URL)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := s.CA.Issue(nc.Hostname())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(cert["fullchain.pem"], cert["privkey.pem"])
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/geoip/country.mmdb" {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write(db.Bytes())
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
	}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	forward(t, ns, loopback(port), "", loopback(port))
	return "https://" + net.JoinHostPort(nc.Hostname(), strconv.Itoa(port)) + "/geoip/country.mmdb"
}
