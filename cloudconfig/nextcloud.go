package cloudconfig

import (
	"fmt"
	"strconv"

	"github.com/nctalk/nctalk/schema"
)

// SignalingPath is where nginx serves the signaling server.
const SignalingPath = "/standalone-signaling"

// SignalingURL is the URL Nextcloud's talk:signaling:add takes.
func SignalingURL(domain string) string { return "https://" + domain + SignalingPath }

// TURNServer is one TURN entry exactly as `occ talk:turn:add <schemes>
// <server> <protocols>` takes it.
type TURNServer struct {
	Schemes   string `json:"schemes"`
	Server    string `json:"server"`
	Protocols string `json:"protocols"`
}

// TURNServers are the TURN entries Nextcloud needs for this backend.
// `turns` is offered over TCP only: TLS over UDP yields unusable URLs.
func TURNServers(domain string) []TURNServer {
	return []TURNServer{
		{Schemes: "turn", Server: hostPort(domain, schema.PortTURN), Protocols: "udp,tcp"},
		{Schemes: "turns", Server: hostPort(domain, schema.PortTURNS), Protocols: "tcp"},
	}
}

// TURNServersFor are the TURN entries Nextcloud needs for a rendering:
// TURNServers, and with turnOn443 the entry TURN over TLS on port 443 by
// the TURN name (`turns:<turn name>:443?transport=tcp`), which networks
// that allow only HTTPS let through.
func TURNServersFor(s Settings) []TURNServer {
	out := TURNServers(s.Domain)
	if s.TURN443() {
		out = append(out, TURNServer{Schemes: "turns", Server: hostPort(s.TURNName(), schema.PortHTTPS), Protocols: "tcp"})
	}
	return out
}

// TURNURIs are the TURN URIs (RFC 7065) the signaling server hands to
// clients ([turn] servers): TURN over UDP and TCP on schema.PortTURN, and with
// turnOn443 TURN over TLS on 443 by the TURN name.
func TURNURIs(s Settings) []string {
	uris := []string{
		fmt.Sprintf("turn:%s?transport=udp", hostPort(s.Domain, schema.PortTURN)),
		fmt.Sprintf("turn:%s?transport=tcp", hostPort(s.Domain, schema.PortTURN)),
	}
	if s.TURN443() {
		uris = append(uris, fmt.Sprintf("turns:%s?transport=tcp", hostPort(s.TURNName(), schema.PortHTTPS)))
	}
	return uris
}

// STUNServers are the STUN entries (host:port) Nextcloud needs for this backend.
func STUNServers(domain string) []string { return []string{hostPort(domain, schema.PortTURN)} }

func hostPort(host string, port int) string {
	return fmt.Sprintf("%s:%s", host, strconv.Itoa(port))
}
