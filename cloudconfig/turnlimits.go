package cloudconfig

import "github.com/nctalk/nctalk/schema"

// turnSessionBytesPerSecond is coturn's max-bps: the bandwidth one TURN
// allocation may use in each direction, 375000 bytes/s = 3 Mbit/s (a Talk
// HD video stream with audio and headroom; Janus caps publishers at 1 Mbit/s
// and screen shares at 2 Mbit/s by default).
const turnSessionBytesPerSecond = 375000

// turnAllocationLifetime is coturn's max-allocate-lifetime in seconds: an
// allocation lives at most this long without a refresh (clients ask for
// 600 s and refresh before). The host firewall keeps a TURN client's UDP
// flow (its conntrack entry) a minute longer, so a flow is counted against
// the client's share (AddressQuota) while its allocation can live: with the
// kernel's 30 s for a quiet UDP flow, a client that allocated and fell
// silent freed its share every 30 s and held ever more allocations.
const turnAllocationLifetime = 600

// turnFlowTimeout is how long the host firewall keeps a replied UDP flow to
// coturn (nftables ct timeout): turnAllocationLifetime and a minute.
const turnFlowTimeout = turnAllocationLifetime + 60

// turnUserShare is the part of the relay range one TURN user may hold: a
// user gets at most 1/turnUserShare of the relay ports (at least one).
const turnUserShare = 4

// TURNLimits are coturn's allocation quotas and bandwidth caps, all sized
// from the relay range: one relay port carries one allocation, i.e. one
// relayed PeerConnection.
type TURNLimits struct {
	// UserQuota is coturn's user-quota: concurrent allocations per TURN
	// username. It does not limit one client: coturn counts by the REST
	// username's part after the colon, and Talk mints a new
	// "<expiry>:<random>" name on every signaling-settings request.
	UserQuota int
	// AddressQuota is the allocations one client address may hold: the
	// host firewall caps new TURN flows (UDP and TCP, 3478 and 5349) per
	// IPv4 address or IPv6 /64, and nginx's TURN hop on 443 caps TURN
	// connections per address; each allocation needs a flow or connection
	// of its own. One address holds at most twice this (direct and 443).
	AddressQuota int
	// TotalQuota is coturn's total-quota: one allocation per relay port.
	TotalQuota int
	// MaxBPS is coturn's max-bps: bytes per second per allocation and direction.
	MaxBPS int
	// BPSCapacity is coturn's bps-capacity: MaxBPS for every relay port.
	BPSCapacity int
	// AllocationLifetime is coturn's max-allocate-lifetime and FlowTimeout
	// the host firewall's timeout of a replied UDP flow to coturn, in
	// seconds (turnAllocationLifetime, turnFlowTimeout).
	AllocationLifetime, FlowTimeout int
}

// TURNLimitsFor returns the quotas and caps for r as coturn's relay range.
func TURNLimitsFor(r schema.PortRange) TURNLimits {
	total := r.Size()
	return TURNLimits{
		UserQuota:          max(1, total/turnUserShare),
		AddressQuota:       max(1, total/turnUserShare),
		TotalQuota:         total,
		MaxBPS:             turnSessionBytesPerSecond,
		BPSCapacity:        turnSessionBytesPerSecond * total,
		AllocationLifetime: turnAllocationLifetime,
		FlowTimeout:        turnFlowTimeout,
	}
}
