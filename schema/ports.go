// Package schema declares, once, what a deployment is configured and
// described by: the config keys, the secrets, the stack outputs and the
// port table. Everything else (the stack and `nctalk render` loaders,
// Pulumi.yaml, the docs tables, the firewalls) derives from it or is checked
// against it. It imports nothing of the project.
package schema

import (
	"fmt"
	"strconv"
	"strings"
)

// Fixed public ports of the backend. The firewall (infra), the host firewall
// (nftables), coturn, nginx and docs/architecture.md all derive from these constants
// and from the configured ranges; nothing else spells these numbers.
const (
	PortHTTP  = 80   // ACME HTTP-01 challenges and the redirect to HTTPS
	PortHTTPS = 443  // nginx: /standalone-signaling, and TURN over TLS by SNI (turnOn443)
	PortTURN  = 3478 // coturn, STUN and TURN over UDP and TCP
	PortTURNS = 5349 // coturn, TURN over TLS (and DTLS)
)

// Loopback-only ports of the internal services. They never appear in a
// firewall rule; the exposure tests check that they listen on loopback only.
const (
	PortSignalingHTTP = 8080 // nextcloud-spreed-signaling HTTP API
	PortJanusWS       = 8188 // Janus websockets transport
	PortNATS          = 4222 // NATS client port
	// PortHTTPSLocal is nginx's HTTPS server behind the 443 front (turnOn443):
	// it reads the client address from the PROXY protocol header.
	PortHTTPSLocal = 8443
	// PortTURNSLocal is nginx's loopback hop of the 443 front's TURN route: it
	// takes the PROXY header off (coturn cannot read it on a TLS listener)
	// and passes the TLS bytes on to coturn's PortTURNS.
	PortTURNSLocal = 8444
	// PortProxyHTTP is a media server's signaling proxy (scale-out): nginx
	// passes its TLS server's proxy API to it.
	PortProxyHTTP = 9090
)

// Janus ports that Debian's and upstream's default configs open and the
// rendered config turns off. `nctalk verify` checks that none answers.
const (
	PortJanusHTTP      = 8088 // Janus HTTP transport (REST API)
	PortJanusAdminHTTP = 7088 // Janus admin API over HTTP
	PortJanusAdminWS   = 7188 // Janus admin API over WebSockets
)

// Defaults for the port ranges and the SSH port.
var (
	DefaultJanusRTPPorts  = PortRange{First: 20000, Last: 20100}
	DefaultTURNRelayPorts = PortRange{First: 49160, Last: 49200}
)

// DefaultSSHPort is the SSH port when sshPort is not set.
const DefaultSSHPort = 22

// PortRange is an inclusive range of ports; First == Last is a single port.
type PortRange struct {
	First int
	Last  int
}

// ParsePortRange parses "20000-20100" or a single port "3478".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, found := strings.Cut(strings.TrimSpace(s), "-")
	first, err := strconv.Atoi(strings.TrimSpace(lo))
	if err != nil {
		return PortRange{}, fmt.Errorf("%q is not a port range like 20000-20100", s)
	}
	last := first
	if found {
		if last, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil {
			return PortRange{}, fmt.Errorf("%q is not a port range like 20000-20100", s)
		}
	}
	return PortRange{First: first, Last: last}, nil
}

// String renders the range the way Hetzner firewall rules and the config
// keys write it: "20000-20100", or "443" for a single port.
func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(r.First)
	}
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Size is the number of ports in the range.
func (r PortRange) Size() int { return r.Last - r.First + 1 }

// Overlaps reports whether the two ranges share a port.
func (r PortRange) Overlaps(o PortRange) bool { return r.First <= o.Last && o.First <= r.Last }

// Contains reports whether port lies in the range.
func (r PortRange) Contains(port int) bool { return r.First <= port && port <= r.Last }
