package cloudconfig

import (
	"fmt"
	"strconv"
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
		{Schemes: "turn", Server: hostPort(domain, PortTURN), Protocols: "udp,tcp"},
		{Schemes: "turns", Server: hostPort(domain, PortTURNS), Protocols: "tcp"},
	}
}

// STUNServers are the STUN entries (host:port) Nextcloud needs for this backend.
func STUNServers(domain string) []string { return []string{hostPort(domain, PortTURN)} }

func hostPort(host string, port int) string {
	return fmt.Sprintf("%s:%s", host, strconv.Itoa(port))
}
