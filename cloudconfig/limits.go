package cloudconfig

// Per-client limits: no single client address exhausts nginx (ports 80 and
// 443) or coturn's relay range. A client is one IPv4 address or one IPv6
// /64 (a host gets a whole /64) in the host firewall, which sees every
// client; nginx sees the real address on every path (the 443 front passes
// it on in the PROXY header) and keys by the whole address. The TURN share
// per address is TURNLimits.AddressQuota.
const (
	// ConnectionsPerAddress caps the TCP connections one client holds to
	// nginx: per IPv4 address or IPv6 /64 on 80 and 443 together in the
	// host firewall, and per address in nginx's 443 front and HTTPS
	// server. A Talk client holds one WebSocket and, per PeerConnection,
	// at most one TURN connection on 443; 128 leaves room for dozens of
	// clients behind one NAT, while a worker's 4096 connections (a client
	// on 443 costs nginx about 4) carry about 1000 clients each.
	ConnectionsPerAddress = 128
	// newConnectionsPerSecond and newConnectionsBurst cap how fast one
	// client opens TCP connections to 80 and 443 (host firewall): beyond
	// them its new connections are dropped (TCP retries).
	newConnectionsPerSecond = 50
	newConnectionsBurst     = 200
	// requestsPerSecond and requestBurst cap one address's HTTP requests
	// to the signaling server (nginx limit_req; a WebSocket is one request,
	// and every hello makes the signaling server ask Nextcloud).
	requestsPerSecond = 20
	requestBurst      = 100
	// nginxWorkerConnections is each nginx worker's connection limit.
	nginxWorkerConnections = 4096
)

// ipv6ClientPrefix is the prefix length that counts as one client in the
// host firewall's per-client limits.
const ipv6ClientPrefix = 64

// acmeFailuresPerHour is how many failed certbot attempts the setup makes
// in any hour: Let's Encrypt allows 5 failed validations per account,
// name and hour, and a failed attempt fails each name once. The setup
// keeps the times of failed attempts (acmeFailureLog) across its runs.
const acmeFailuresPerHour = 4
