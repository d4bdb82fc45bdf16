package harness

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/stun/v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/tests/images"
)

// probes are the readiness checks of the services, by compose service name.
var probes = map[string]func(ctx context.Context, s *Stack) error{
	cloudconfig.ServiceNATS:      func(ctx context.Context, _ *Stack) error { return probeNATS(ctx) },
	cloudconfig.ServiceJanus:     func(ctx context.Context, _ *Stack) error { return probeJanus(ctx) },
	cloudconfig.ServiceSignaling: func(ctx context.Context, _ *Stack) error { return probeSignaling(ctx) },
	cloudconfig.ServiceCoturn:    probeCoturn,
	cloudconfig.ServiceNginx:     probeNginx,
}

// serviceConfigs name each service's main config, for messages.
var serviceConfigs = map[string]string{
	cloudconfig.ServiceNATS:      cloudconfig.NATSConfig,
	cloudconfig.ServiceJanus:     cloudconfig.JanusConfigFile,
	cloudconfig.ServiceSignaling: cloudconfig.SignalingConfig,
	cloudconfig.ServiceCoturn:    cloudconfig.CoturnConfig,
	cloudconfig.ServiceNginx:     cloudconfig.NginxConfig,
}

// defineServices takes each daemon's container from the rendered compose
// file: the service's substitute image (tests/images, same contract as the
// pinned image), its entrypoint/command, user, capabilities and
// no-new-privileges, its volumes at their VM paths (here from the temp
// tree), and a readiness probe on the port the config should make it
// listen on.
func (s *Stack) defineServices() error {
	compose, ok := s.Files[cloudconfig.ComposeFile]
	if !ok {
		return fmt.Errorf("the cloud-config writes no %s", cloudconfig.ComposeFile)
	}
	services, err := parseCompose(compose.Content)
	if err != nil {
		return err
	}
	for _, name := range startOrder {
		cs, ok := services[name]
		if !ok {
			return fmt.Errorf("%s has no service %q", cloudconfig.ComposeFile, name)
		}
		spec, err := containerSpec(name, cs)
		if err != nil {
			return err
		}
		vols, err := cs.volumes(name)
		if err != nil {
			return err
		}
		for _, v := range vols {
			host, err := s.HostPath(v.Source)
			if err != nil {
				return fmt.Errorf("compose service %s volume %s: %w", name, v.Source, err)
			}
			spec.Binds = append(spec.Binds, images.Bind{Source: host, Target: v.Target, ReadOnly: v.ReadOnly})
		}
		spec.Binds = append(spec.Binds, s.binds...)
		s.services[name] = &service{
			name: name, spec: spec, user: spec.User, config: serviceConfigs[name],
			ready: probes[name], logs: newLogBuffer(256<<10, nil),
		}
	}
	return nil
}

// ConfigPath is the main config file of the named service, for messages.
func ConfigPath(name string) string {
	if p, ok := serviceConfigs[name]; ok {
		return p
	}
	return "(no config for " + name + ")"
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// probeNATS reads the INFO line NATS sends on connect.
func probeNATS(ctx context.Context) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", loopback(schema.PortNATS))
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no INFO from NATS: %w", err)
	}
	if !strings.HasPrefix(line, "INFO ") {
		return fmt.Errorf("NATS said %q, want INFO", line)
	}
	return nil
}

// probeJanus asks Janus' websockets transport for its server info and
// checks that the VideoRoom plugin is loaded.
func probeJanus(ctx context.Context) error {
	info, err := janusInfo(ctx)
	if err != nil {
		return err
	}
	if _, ok := info.Plugins["janus.plugin.videoroom"]; !ok {
		return fmt.Errorf("janus runs without the VideoRoom plugin (plugins: %v)", keys(info.Plugins))
	}
	return nil
}

// janusServerInfo is the part of Janus' "info" answer the tests read.
type janusServerInfo struct {
	Janus        string                     `json:"janus"`
	Version      string                     `json:"version_string"`
	DataChannels bool                       `json:"data_channels"`
	FullTrickle  bool                       `json:"full-trickle"`
	IPv6         bool                       `json:"ipv6"`
	Plugins      map[string]json.RawMessage `json:"plugins"`
	Transports   map[string]json.RawMessage `json:"transports"`
	Events       map[string]json.RawMessage `json:"events"`
	Loggers      map[string]json.RawMessage `json:"loggers"`
}

// janusInfo asks Janus (websockets on loopback) for its server info.
func janusInfo(ctx context.Context) (*janusServerInfo, error) {
	c, _, err := websocket.Dial(ctx, "ws://"+loopback(schema.PortJanusWS), &websocket.DialOptions{Subprotocols: []string{"janus-protocol"}})
	if err != nil {
		return nil, err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"janus":"info","transaction":"harness"}`)); err != nil {
		return nil, err
	}
	_, msg, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var info janusServerInfo
	if err := json.Unmarshal(msg, &info); err != nil {
		return nil, fmt.Errorf("janus info answer %q: %w", msg, err)
	}
	if info.Janus != "server_info" {
		return nil, fmt.Errorf("janus answered %q to info", msg)
	}
	return &info, nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// probeSignaling asks the signaling server's own HTTP listener for welcome.
func probeSignaling(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+loopback(schema.PortSignalingHTTP)+"/api/v1/welcome", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("welcome answered %s", resp.Status)
	}
	return nil
}

// probeCoturn sends a STUN binding request over UDP and completes a TLS
// handshake (test CA, domain name) on the TURNS port: coturn silently runs
// without TLS when it cannot read the key.
func probeCoturn(ctx context.Context, s *Stack) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", loopback(schema.PortTURN))
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(300 * time.Millisecond))
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	if _, err := c.Write(req.Raw); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		return fmt.Errorf("no STUN answer on udp/%d: %w", schema.PortTURN, err)
	}
	var res stun.Message
	res.Raw = buf[:n]
	if err := res.Decode(); err != nil || res.Type != stun.BindingSuccess {
		return fmt.Errorf("bad STUN answer on udp/%d: %v %v", schema.PortTURN, res.Type, err)
	}
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", loopback(schema.PortTURNS), s.TLSConfig())
	if err != nil {
		return fmt.Errorf("no TLS on tcp/%d (coturn needs cert= and pkey= it can read as its compose user %s): %w", schema.PortTURNS, s.services[cloudconfig.ServiceCoturn].user, err)
	}
	tc.Close()
	return nil
}

// probeNginx fetches the welcome through nginx over TLS.
func probeNginx(ctx context.Context, s *Stack) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Outputs.SignalingURL+"/api/v1/welcome", nil)
	resp, err := s.HTTPClient().Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/api/v1/welcome answered %s", s.Outputs.SignalingURL, resp.Status)
	}
	return nil
}
