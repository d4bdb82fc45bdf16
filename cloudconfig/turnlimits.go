package cloudconfig

import "github.com/nctalk/nctalk/schema"

// TURNSessionBytesPerSecond is coturn's max-bps: the bandwidth one TURN
// allocation may use in each direction, 375000 bytes/s = 3 Mbit/s (a Talk
// HD video stream with audio and headroom; Janus caps publishers at 1 Mbit/s
// and screen shares at 2 Mbit/s by default).
const TURNSessionBytesPerSecond = 375000

// TURNUserShare is the part of the relay range one TURN user may hold: a
// user gets at most 1/TURNUserShare of the relay ports (at least one).
const TURNUserShare = 4

// TURNLimits are coturn's allocation quotas and bandwidth caps, all sized
// from the relay range: one relay port carries one allocation, i.e. one
// relayed PeerConnection.
type TURNLimits struct {
	// UserQuota is coturn's user-quota: concurrent allocations per TURN
	// username (Talk's REST credentials name one client session).
	UserQuota int
	// TotalQuota is coturn's total-quota: one allocation per relay port.
	TotalQuota int
	// MaxBPS is coturn's max-bps: bytes per second per allocation and direction.
	MaxBPS int
	// BPSCapacity is coturn's bps-capacity: MaxBPS for every relay port.
	BPSCapacity int
}

// TURNLimitsFor returns the quotas and caps for r as coturn's relay range.
func TURNLimitsFor(r schema.PortRange) TURNLimits {
	total := r.Size()
	return TURNLimits{
		UserQuota:   max(1, total/TURNUserShare),
		TotalQuota:  total,
		MaxBPS:      TURNSessionBytesPerSecond,
		BPSCapacity: TURNSessionBytesPerSecond * total,
	}
}
