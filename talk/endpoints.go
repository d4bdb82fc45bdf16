// Package talk holds the Nextcloud Talk side of one backend, shared by the
// renderer (cloudconfig), the stack (infra), the CLI and the tests: where
// Nextcloud and clients reach the backend (the signaling URL, the STUN and
// TURN entries that occ takes, the TURN URIs the signaling server hands out)
// and the two HMACs that Nextcloud, the signaling server and coturn agree on
// (TURN REST credentials, the backend checksum). It imports nothing of the
// project but schema.
package talk

import (
	"fmt"
	"strconv"

	"github.com/nctalk/nctalk/schema"
)

// SignalingPath is where nginx serves the signaling server.
const SignalingPath = "/standalone-signaling"

// Endpoints is where Nextcloud and clients reach one backend.
type Endpoints struct {
	// Domain is the backend's name: signaling over HTTPS, STUN and TURN on
	// schema.PortTURN, TURN over TLS on schema.PortTURNS.
	Domain string
	// TURNName is the name TURN over TLS answers to on schema.PortHTTPS
	// (turnOn443); "" when TURN on 443 is off.
	TURNName string
	// MediaHosts are the host names of the media servers of a scale-out:
	// each runs coturn like the backend's box (STUN and TURN on
	// schema.PortTURN, TURN over TLS on schema.PortTURNS), so TURN capacity
	// grows with them.
	MediaHosts []string
}

// SignalingURL is the URL Nextcloud's talk:signaling:add takes.
func (e Endpoints) SignalingURL() string { return "https://" + e.Domain + SignalingPath }

// TURNServer is one TURN entry exactly as `occ talk:turn:add <schemes>
// <server> <protocols>` takes it.
type TURNServer struct {
	Schemes   string `json:"schemes"`
	Server    string `json:"server"`
	Protocols string `json:"protocols"`
}

// TURNServers are the TURN entries Nextcloud needs for this backend: TURN
// over UDP and TCP on schema.PortTURN, TURN over TLS on schema.PortTURNS, and
// with a TURNName the entry TURN over TLS on port 443 by that name
// (`turns:<turn name>:443?transport=tcp`), which networks that allow only
// HTTPS let through. `turns` is offered over TCP only: TLS over UDP yields
// unusable URLs.
func (e Endpoints) TURNServers() []TURNServer {
	out := []TURNServer{
		{Schemes: "turn", Server: hostPort(e.Domain, schema.PortTURN), Protocols: "udp,tcp"},
		{Schemes: "turns", Server: hostPort(e.Domain, schema.PortTURNS), Protocols: "tcp"},
	}
	if e.TURNName != "" {
		out = append(out, TURNServer{Schemes: "turns", Server: hostPort(e.TURNName, schema.PortHTTPS), Protocols: "tcp"})
	}
	for _, h := range e.MediaHosts {
		out = append(out,
			TURNServer{Schemes: "turn", Server: hostPort(h, schema.PortTURN), Protocols: "udp,tcp"},
			TURNServer{Schemes: "turns", Server: hostPort(h, schema.PortTURNS), Protocols: "tcp"})
	}
	return out
}

// TURNURIs are the TURN URIs (RFC 7065) the signaling server hands to
// clients ([turn] servers): TURN over UDP and TCP on schema.PortTURN, and with
// a TURNName TURN over TLS on 443 by that name. Not the media servers':
// signaling 2.1.1 rereads [turn] only when it restarts (Hub.Reload does not),
// so listing them would drop every session whenever a media server comes or
// goes; Talk clients take TURN servers from Nextcloud (TURNServers).
func (e Endpoints) TURNURIs() []string {
	uris := []string{
		fmt.Sprintf("turn:%s?transport=udp", hostPort(e.Domain, schema.PortTURN)),
		fmt.Sprintf("turn:%s?transport=tcp", hostPort(e.Domain, schema.PortTURN)),
	}
	if e.TURNName != "" {
		uris = append(uris, fmt.Sprintf("turns:%s?transport=tcp", hostPort(e.TURNName, schema.PortHTTPS)))
	}
	return uris
}

// STUNServers are the STUN entries (host:port) Nextcloud needs for this
// backend: its box's and each media server's.
func (e Endpoints) STUNServers() []string {
	out := []string{hostPort(e.Domain, schema.PortTURN)}
	for _, h := range e.MediaHosts {
		out = append(out, hostPort(h, schema.PortTURN))
	}
	return out
}

func hostPort(host string, port int) string {
	return fmt.Sprintf("%s:%s", host, strconv.Itoa(port))
}
