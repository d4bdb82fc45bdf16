package tests

import (
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/tests/harness"
)

// publicPorts is the firewall's port table by protocol.
func publicPorts(s *harness.Stack) map[string][]schema.PortRange {
	out := map[string][]schema.PortRange{}
	for _, r := range cloudconfig.FirewallRules(s.Settings) {
		if r.Protocol == cloudconfig.ICMP || r.SSHOnly {
			continue
		}
		out[string(r.Protocol)] = append(out[string(r.Protocol)], r.Ports)
	}
	return out
}

func isPublic(ports map[string][]schema.PortRange, proto string, port int) bool {
	for _, r := range ports[proto] {
		if r.Contains(port) {
			return true
		}
	}
	return false
}

// listenerTable says which listening sockets each service may hold: the
// firewall rules it serves (any address: on the VM every address, here
// loopback after harness.Transform) and the loopback ports it owns. Every
// other listener of a stack process fails the exposure test, public or
// loopback: coturn's RFC 5780 alternate ports (3479/5350), its Prometheus
// exporter (9641), NATS monitoring (8222), Janus' HTTP and admin APIs
// (8088/7088/7188) are unnamed here on purpose.
var listenerTable = map[string]struct {
	rules    []string // FirewallRules names
	loopback []int    // loopback-only TCP ports
}{
	cloudconfig.ServiceNginx:     {rules: []string{"acme-http", "https"}, loopback: []int{schema.PortHTTPSLocal, schema.PortTURNSLocal}}, // the 443 front's HTTPS server and TURN hop
	cloudconfig.ServiceCoturn:    {rules: []string{"turn", "turns", "turn-relay"}},
	cloudconfig.ServiceJanus:     {rules: []string{"janus-rtp"}, loopback: []int{schema.PortJanusWS}},
	cloudconfig.ServiceSignaling: {loopback: []int{schema.PortSignalingHTTP}},
	cloudconfig.ServiceNATS:      {loopback: []int{schema.PortNATS}},
}

// allowedListener reports whether the service may listen on so, and why not.
func allowedListener(s *harness.Stack, name string, so harness.Socket) (bool, string) {
	entry, ok := listenerTable[name]
	if !ok {
		return false, "the service is missing from listenerTable"
	}
	proto := cloudconfig.Protocol(so.Proto[:3])
	port := int(so.Local.Port())
	for _, r := range cloudconfig.FirewallRules(s.Settings) {
		if slices.Contains(entry.rules, r.Name) && r.Protocol == proto && r.Ports.Contains(port) {
			return true, ""
		}
	}
	if proto == cloudconfig.TCP && slices.Contains(entry.loopback, port) {
		if so.Local.Addr().IsLoopback() {
			return true, ""
		}
		return false, "an internal port must bind loopback only"
	}
	if isPublic(publicPorts(s), string(proto), port) {
		return false, "a firewall port, but not one this service serves"
	}
	if so.Local.Addr().IsLoopback() {
		return false, "on loopback, but no port table names it (any process on the host, containers included, reaches it)"
	}
	return false, "not in the firewall's port table: open on every address of the VM"
}

// loopbackOnly reports whether a listener on addr:port is one of nginx's
// loopback-only ports of the 443 front (turnOn443), bound to loopback.
func loopbackOnly(addr netip.Addr, port int) bool {
	return addr.IsLoopback() && (port == schema.PortHTTPSLocal || port == schema.PortTURNSLocal)
}

// TestExposure checks every listening socket of the stack's processes
// against the firewall table, and that nginx refuses the signaling
// server's stats and metrics.
func TestExposure(t *testing.T) {
	s := needStack(t)
	public := publicPorts(s)

	t.Run("listening sockets", func(t *testing.T) {
		for _, name := range stackServices(s) {
			socks, err := s.ServiceSockets(name)
			if err != nil {
				t.Fatal(err)
			}
			listening := 0
			for _, so := range socks {
				if !so.Listening() {
					continue
				}
				listening++
				if ok, why := allowedListener(s, name, so); !ok {
					t.Errorf("%s listens on %s: %s (config %s)%s", name, so, why, harness.ConfigPath(name), listenerHint(name, int(so.Local.Port())))
				}
			}
			if listening == 0 {
				t.Errorf("%s: no listening socket found (is it running?)", name)
			}
		}
	})

	t.Run("public listeners present", func(t *testing.T) {
		want := map[string][]string{
			cloudconfig.ServiceNginx:  {fmt.Sprintf("tcp/%d", schema.PortHTTP), fmt.Sprintf("tcp/%d", schema.PortHTTPS)},
			cloudconfig.ServiceCoturn: {fmt.Sprintf("udp/%d", schema.PortTURN), fmt.Sprintf("tcp/%d", schema.PortTURN), fmt.Sprintf("tcp/%d", schema.PortTURNS)},
		}
		for name, ports := range want {
			socks, err := s.ServiceSockets(name)
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, so := range socks {
				if so.Listening() {
					have[fmt.Sprintf("%s/%d", so.Proto[:3], so.Local.Port())] = true
				}
			}
			for _, p := range ports {
				if !have[p] {
					t.Errorf("%s does not listen on %s (config %s)", name, p, harness.ConfigPath(name))
				}
			}
		}
	})

	t.Run("rendered configs name only firewall ports", func(t *testing.T) {
		nginx := string(s.Rendered[cloudconfig.NginxConfig].Content)
		for _, m := range regexp.MustCompile(`(?m)^\s*listen\s+(\S*:)?(\d+)\b`).FindAllStringSubmatch(nginx, -1) {
			port, _ := strconv.Atoi(m[2])
			if m[1] == "127.0.0.1:" && loopbackOnly(netip.MustParseAddr("127.0.0.1"), port) {
				continue // bound to loopback by the rendered config itself
			}
			if !isPublic(public, "tcp", port) {
				t.Errorf("nginx.conf: %q opens tcp/%d, which the firewall does not allow", m[0], port)
			}
		}
		coturn := string(s.Rendered[cloudconfig.CoturnConfig].Content)
		for key, want := range map[string]int{
			"listening-port": schema.PortTURN, "tls-listening-port": schema.PortTURNS,
			"min-port": s.TURNRelayPorts().First, "max-port": s.TURNRelayPorts().Last,
		} {
			if got := configValue(coturn, key, "="); got != strconv.Itoa(want) {
				t.Errorf("turnserver.conf: %s = %q, want %d (the firewall table)", key, got, want)
			}
		}
		janus := string(s.Rendered[cloudconfig.JanusConfigFile].Content)
		if got := configValue(janus, "rtp_port_range", "="); got != `"`+s.JanusRTPPorts().String()+`"` {
			t.Errorf("janus.jcfg: rtp_port_range = %s, want %q (the firewall's janus-rtp rule)", got, s.JanusRTPPorts().String())
		}
	})

	t.Run("stats and metrics refused through nginx", func(t *testing.T) {
		// serverinfo (2.0.3+: Janus, NATS and the NATS URL) and the pprof
		// handlers under /debug/ (with [app] debug) are the signaling
		// server's too: nginx refuses them itself (403), whatever the
		// version behind it answers.
		for _, path := range []string{"/api/v1/serverinfo", "/debug/pprof/"} {
			url := s.Outputs.SignalingURL + path
			req, _ := http.NewRequestWithContext(bounded(t, 10*time.Second), http.MethodGet, url, nil)
			resp, err := s.HTTPClient().Do(req)
			if err != nil {
				t.Fatalf("nginx: GET %s: %v", url, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("nginx: GET %s answered %s, want nginx's 403 (nginx.conf: deny the location)", url, resp.Status)
			}
		}
		for _, path := range []string{"/api/v1/stats", "/metrics"} {
			for _, spoof := range []string{"", "127.0.0.1"} {
				url := s.Outputs.SignalingURL + path
				req, _ := http.NewRequestWithContext(bounded(t, 10*time.Second), http.MethodGet, url, nil)
				if spoof != "" {
					req.Header.Set("X-Real-IP", spoof)
					req.Header.Set("X-Forwarded-For", spoof)
				}
				resp, err := s.HTTPClient().Do(req)
				if err != nil {
					t.Fatalf("nginx: GET %s: %v", url, err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					t.Errorf("nginx: GET %s (X-Real-IP %q) answered 200: stats/metrics must stay on loopback (nginx.conf: deny the location; set X-Real-IP $remote_addr)", url, spoof)
				}
			}
		}
		// Control: the same paths answer on the signaling server's loopback listener.
		if _, err := s.Stats(bounded(t, 10*time.Second)); err != nil {
			t.Errorf("signaling: %v", err)
		}
	})
}

// listenerHint explains listeners a daemon opens without a config line.
func listenerHint(name string, port int) string {
	switch {
	case name == cloudconfig.ServiceCoturn && (port == schema.PortTURN+1 || port == schema.PortTURNS+1):
		return ": coturn's RFC 5780 alternate listener (listening port + 1); turnserver.conf needs no-rfc5780"
	case name == cloudconfig.ServiceCoturn && port == 9641:
		return ": coturn's Prometheus exporter; turnserver.conf must not set prometheus"
	case name == cloudconfig.ServiceNATS && port == 8222:
		return ": NATS monitoring; nats.conf must not set http/http_port"
	case name == cloudconfig.ServiceJanus && (port == schema.PortJanusHTTP || port == schema.PortJanusAdminHTTP || port == schema.PortJanusAdminWS):
		return ": Janus' HTTP or admin API; janus.jcfg must disable the transport, janus.transport.websockets.jcfg admin_ws"
	}
	return ""
}

// configValue returns the value of the first `key <sep> value` line.
func configValue(conf, key, sep string) string {
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(key) + `\s*` + regexp.QuoteMeta(sep) + `\s*(.*?)\s*$`).FindStringSubmatch(conf)
	if m == nil {
		return ""
	}
	return m[1]
}
