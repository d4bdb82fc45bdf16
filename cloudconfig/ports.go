package cloudconfig

import (
	"net/netip"

	"github.com/nctalk/nctalk/schema"
)

// Protocol is a firewall rule's protocol.
type Protocol string

// Protocols used by the backend's firewall rules.
const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	ICMP Protocol = "icmp"
)

// Rule is one inbound firewall rule: one protocol, one port or range.
type Rule struct {
	// Name says what the rule is for, e.g. "https" or "janus-rtp".
	Name string
	// Protocol is tcp, udp or icmp.
	Protocol Protocol
	// Ports is the zero schema.PortRange for ICMP.
	Ports schema.PortRange
	// SSHOnly marks the rule that admits only sshAllowedCidrs; every other
	// rule is open to the whole internet (0.0.0.0/0 and ::/0).
	SSHOnly bool
	// Sources are the networks an SSHOnly rule admits (sshAllowedCidrs,
	// parsed and normalised once here for both firewalls); nil for the
	// rules open to the internet. Settings that fail validation give an
	// SSHOnly rule no sources: closed, never open.
	Sources []netip.Prefix
}

// PortString is the rule's port as Hetzner and nftables write it, "" for ICMP.
func (r Rule) PortString() string {
	if r.Protocol == ICMP {
		return ""
	}
	return r.Ports.String()
}

// ruleJanusRTP names the rule of Janus' RTP range.
const ruleJanusRTP = "janus-rtp"

// FirewallRules is the one port table of the backend: every inbound port the
// host must accept. The Hetzner firewall, the host's nftables rules and the
// port table in docs/architecture.md are all built from it. (The signaling
// server of a scale-out runs no Janus and drops ruleJanusRTP: derivedFrom.)
func FirewallRules(s Settings) []Rule {
	single := func(p int) schema.PortRange { return schema.PortRange{First: p, Last: p} }
	sshSources, err := parseSSHCIDRs(s.SSHAllowedCIDRs)
	if err != nil {
		sshSources = nil // invalid settings: no SSH source rather than any
	}
	return []Rule{
		{Name: "ssh", Protocol: TCP, Ports: single(s.sshPort()), SSHOnly: true, Sources: sshSources},
		{Name: "acme-http", Protocol: TCP, Ports: single(schema.PortHTTP)},
		{Name: "https", Protocol: TCP, Ports: single(schema.PortHTTPS)},
		{Name: "turn", Protocol: TCP, Ports: single(schema.PortTURN)},
		{Name: "turn", Protocol: UDP, Ports: single(schema.PortTURN)},
		{Name: "turns", Protocol: TCP, Ports: single(schema.PortTURNS)},
		{Name: ruleJanusRTP, Protocol: UDP, Ports: s.janusRTPPorts()},
		{Name: "turn-relay", Protocol: UDP, Ports: s.turnRelayPorts()},
		{Name: "icmp", Protocol: ICMP},
	}
}
