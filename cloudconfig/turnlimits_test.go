package cloudconfig

import (
	"testing"

	"github.com/nctalk/nctalk/schema"
)

func TestTURNLimits(t *testing.T) {
	for _, c := range []struct {
		name string
		r    schema.PortRange
		want TURNLimits
	}{
		// 41 ports: 41 allocations, 10 per user and per client address, 41 × 3 Mbit/s.
		{"default", schema.DefaultTURNRelayPorts, TURNLimits{UserQuota: 10, AddressQuota: 10, TotalQuota: 41, MaxBPS: 375000, BPSCapacity: 15375000, AllocationLifetime: 600, FlowTimeout: 660}},
		{"test stack", schema.PortRange{First: 49160, Last: 49260}, TURNLimits{UserQuota: 25, AddressQuota: 25, TotalQuota: 101, MaxBPS: 375000, BPSCapacity: 37875000, AllocationLifetime: 600, FlowTimeout: 660}},
		{"upstream", schema.PortRange{First: 49152, Last: 65535}, TURNLimits{UserQuota: 4096, AddressQuota: 4096, TotalQuota: 16384, MaxBPS: 375000, BPSCapacity: 6144000000, AllocationLifetime: 600, FlowTimeout: 660}},
		// Fewer ports than the share: one user may still hold one.
		{"three ports", schema.PortRange{First: 50000, Last: 50002}, TURNLimits{UserQuota: 1, AddressQuota: 1, TotalQuota: 3, MaxBPS: 375000, BPSCapacity: 1125000, AllocationLifetime: 600, FlowTimeout: 660}},
		{"one port", schema.PortRange{First: 50000, Last: 50000}, TURNLimits{UserQuota: 1, AddressQuota: 1, TotalQuota: 1, MaxBPS: 375000, BPSCapacity: 375000, AllocationLifetime: 600, FlowTimeout: 660}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := TURNLimitsFor(c.r); got != c.want {
				t.Errorf("TURNLimitsFor(%s) = %+v, want %+v", c.r, got, c.want)
			}
		})
	}
}
