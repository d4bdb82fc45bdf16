package verify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"

	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// turnUser is the user part of verify's TURN credentials.
const turnUser = "nctalk-verify"

// localAddrFor returns the address to bind a UDP socket to for reaching
// ip: its own loopback when ip is loopback (tests stay on loopback),
// otherwise the unspecified address of its family.
func localAddrFor(ip net.IP) *net.UDPAddr {
	if ip.IsLoopback() {
		return &net.UDPAddr{IP: ip}
	}
	if ip.To4() != nil {
		return &net.UDPAddr{IP: net.IPv4zero}
	}
	return &net.UDPAddr{IP: net.IPv6unspecified}
}

// checkSTUN sends a binding request to every STUN server of the outputs
// but the media servers' (the media check's) and reports the address it saw.
func checkSTUN(ctx context.Context, e *env) Result {
	servers := notOnMediaServers(e.opts.Outputs, e.opts.Outputs.STUNServers)
	if len(servers) == 0 {
		return fail("the stack outputs list no STUN server", "stunServers is missing from the outputs")
	}
	var seen []string
	for _, s := range servers {
		mapped, err := e.stunBinding(ctx, s)
		if err != nil {
			return fail(fmt.Sprintf("STUN binding at %s/udp: %s", s, shortErr(err)),
				fmt.Sprintf("is coturn running and %d/udp open in the firewall? (`docker compose logs coturn`)", schema.PortTURN))
		}
		seen = append(seen, fmt.Sprintf("%s sees this machine as %s", s, mapped))
	}
	return ok(strings.Join(seen, "; "))
}

// stunBinding performs one STUN binding request over UDP.
func (e *env) stunBinding(ctx context.Context, hostport string) (net.Addr, error) {
	raddr, err := e.udpAddr(ctx, hostport, false)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", localAddrFor(raddr.IP))
	if err != nil {
		return nil, fmt.Errorf("local socket: %w", err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	buf := make([]byte, 1500)
	// Retransmit like RFC 5389 (UDP loses packets), until the context ends.
	for rto := 250 * time.Millisecond; ; rto *= 2 {
		if _, err := conn.WriteToUDP(req.Raw, raddr); err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(rto))
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
					break // retransmit
				}
				if ctx.Err() != nil {
					return nil, fmt.Errorf("no answer from %s", raddr)
				}
				return nil, err
			}
			if !from.IP.Equal(raddr.IP) {
				continue
			}
			var res stun.Message
			res.Raw = append(res.Raw[:0], buf[:n]...)
			if err := res.Decode(); err != nil || res.TransactionID != req.TransactionID {
				continue
			}
			var xor stun.XORMappedAddress
			if err := xor.GetFrom(&res); err != nil {
				return nil, fmt.Errorf("answer without XOR-MAPPED-ADDRESS: %w", err)
			}
			return &net.UDPAddr{IP: xor.IP, Port: xor.Port}, nil
		}
	}
}

// udpAddr resolves host:port to one address, IPv4 first (or only).
func (e *env) udpAddr(ctx context.Context, hostport string, v4only bool) (*net.UDPAddr, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("port of %q: %w", hostport, err)
	}
	ips, _, err := e.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if !v4only || ip.To4() != nil {
			return &net.UDPAddr{IP: ip, Port: p}, nil
		}
	}
	return nil, fmt.Errorf("%s has no IPv4 address", host)
}

// turnProbe is one allocation to try: an entry of the outputs' turnServers
// over one transport.
type turnProbe struct {
	server    string // host:port
	transport string // udp, tcp or tls
}

func (p turnProbe) String() string { return p.transport + " " + p.server }

// turnProbes expands the outputs' TURN entries into probes: turn over each
// listed protocol, turns over TLS. turns over udp (DTLS) is not probed.
func turnProbes(servers []talk.TURNServer) (probes []turnProbe, warnings []string) {
	for _, s := range servers {
		for _, scheme := range strings.Split(s.Schemes, ",") {
			for _, proto := range strings.Split(s.Protocols, ",") {
				scheme, proto = strings.TrimSpace(scheme), strings.TrimSpace(proto)
				switch {
				case scheme == "turn" && (proto == "udp" || proto == "tcp"):
					probes = append(probes, turnProbe{s.Server, proto})
				case scheme == "turns" && proto == "tcp":
					probes = append(probes, turnProbe{s.Server, "tls"})
				default:
					warnings = append(warnings, fmt.Sprintf("%s:%s over %s not probed (Talk cannot use it)", scheme, s.Server, proto))
				}
			}
		}
	}
	return probes, warnings
}

// checkTURN allocates a relay on every probe with credentials computed from
// the TURN secret and checks that the relayed port lies in the relay range.
// The media servers' entries are the media check's.
func checkTURN(ctx context.Context, e *env) Result {
	relay, err := relayRange(e)
	if err != nil {
		return fail("stack output turnRelayPorts: "+err.Error(), "fix the outputs")
	}
	probes, warnings := turnProbes(mainBoxTURNServers(e.opts.Outputs))
	_, probes = turnProbesOn443(probes) // 443 is the turn-443 check's
	if len(probes) == 0 {
		return fail("the stack outputs list no TURN server Talk can use", "turnServers is missing from the outputs")
	}
	user, pass := talk.TURNCredentials(e.opts.Outputs.TURNSecret, turnUser, e.opts.Now().Add(time.Hour))
	type outcome struct {
		probe turnProbe
		addr  *net.UDPAddr
		err   error
	}
	outcomes := make([]outcome, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr, err := e.allocate(ctx, p, user, pass)
			outcomes[i] = outcome{p, addr, err}
		}()
	}
	wg.Wait()

	var okParts, failParts []string
	authFailed, outOfRange := false, false
	for _, o := range outcomes {
		a := judgeAllocation(o.probe, o.addr, o.err, relay)
		if a.ok {
			okParts = append(okParts, a.text)
			continue
		}
		failParts = append(failParts, a.text)
		authFailed = authFailed || a.authFailed
		outOfRange = outOfRange || a.outOfRange
	}
	sort.Strings(warnings)
	if len(failParts) > 0 {
		hint := fmt.Sprintf("is coturn running, and are %d/udp+tcp and %d/tcp open in the firewall? (`docker compose logs coturn`)", schema.PortTURN, schema.PortTURNS)
		switch {
		case authFailed:
			hint = "coturn's static-auth-secret is not the stack's turnSecret (or the clocks differ by hours): re-render with `pulumi up`, then run `nctalk occ` so Nextcloud gets the same secret"
		case outOfRange:
			hint = "coturn's min-port/max-port must equal turnRelayPorts, which the firewall opens"
		}
		r := fail(strings.Join(failParts, "; "), hint)
		r.Warnings = warnings
		r.authFailed = authFailed
		return r
	}
	r := ok(fmt.Sprintf("%s (inside %s)", strings.Join(okParts, ", "), relay))
	r.Warnings = warnings
	return r
}

// allocation is the verdict on one TURN allocation: text describes it
// ("udp host:3478 → relay port 50123" or what failed).
type allocation struct {
	text       string
	ok         bool
	authFailed bool // the server refused the credentials
	outOfRange bool // the relayed port lies outside turnRelayPorts
}

// judgeAllocation is the pure part of a TURN probe: the outcome of
// allocate on p (addr or err) against the relay range.
func judgeAllocation(p turnProbe, addr *net.UDPAddr, err error, relay schema.PortRange) allocation {
	var te *stun.TurnError
	switch {
	case err != nil && errors.As(err, &te) && te.ErrorCodeAttr.Code == stun.CodeUnauthorized:
		return allocation{text: fmt.Sprintf("%s: credentials refused (401 Unauthorized)", p), authFailed: true}
	case err != nil && errors.As(err, &te) && te.ErrorCodeAttr.Code == stun.CodeBadRequest:
		// coturn says 401; pion-based servers answer a wrong password with 400.
		return allocation{text: fmt.Sprintf("%s: credentials refused (400 Bad Request)", p), authFailed: true}
	case err != nil:
		return allocation{text: fmt.Sprintf("%s: %s", p, shortErr(err))}
	case !relay.Contains(addr.Port):
		return allocation{text: fmt.Sprintf("%s: relay port %d outside turnRelayPorts %s", p, addr.Port, relay), outOfRange: true}
	}
	return allocation{text: fmt.Sprintf("%s → relay port %d", p, addr.Port), ok: true}
}

// allocate performs one TURN allocation and returns the relayed address.
// pion/turn resolves server addresses as IPv4, so probes use IPv4.
func (e *env) allocate(ctx context.Context, p turnProbe, user, pass string) (*net.UDPAddr, error) {
	raddr, err := e.udpAddr(ctx, p.server, true)
	if err != nil {
		return nil, err
	}
	var pc net.PacketConn
	switch p.transport {
	case "udp":
		c, err := net.ListenUDP("udp4", localAddrFor(raddr.IP))
		if err != nil {
			return nil, fmt.Errorf("local socket: %w", err)
		}
		pc = c
	case "tcp", "tls":
		d := net.Dialer{Timeout: dialTimeout}
		c, err := d.DialContext(ctx, "tcp4", raddr.String())
		if err != nil {
			return nil, err
		}
		if p.transport == "tls" {
			host, _, _ := net.SplitHostPort(p.server)
			tc := tls.Client(c, e.strictTLS(host))
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, fmt.Errorf("TLS: %w", err)
			}
			c = tc
		}
		pc = turn.NewSTUNConn(c)
	default:
		return nil, fmt.Errorf("unknown transport %q", p.transport)
	}
	defer pc.Close()

	lf := &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled, ScopeLevels: map[string]logging.LogLevel{}}
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: raddr.String(),
		TURNServerAddr: raddr.String(),
		Conn:           pc,
		Username:       user,
		Password:       pass,
		LoggerFactory:  lf,
	})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := client.Listen(); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { client.Close(); pc.Close() })
	defer stop()
	relayConn, err := client.Allocate()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no answer in time (%w)", err)
		}
		return nil, err
	}
	defer relayConn.Close()
	addr, ok := relayConn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil, fmt.Errorf("relayed address %v is not UDP", relayConn.LocalAddr())
	}
	return addr, nil
}

// relayRange is the stack output turnRelayPorts, or the default range when
// the outputs do not say.
func relayRange(e *env) (schema.PortRange, error) {
	if e.opts.Outputs.TURNRelayPorts == "" {
		return schema.DefaultTURNRelayPorts, nil
	}
	return schema.ParsePortRange(e.opts.Outputs.TURNRelayPorts)
}
