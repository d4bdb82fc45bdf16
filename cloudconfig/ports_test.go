package cloudconfig

import (
	"net/netip"
	"slices"
	"testing"
)

// TestFirewallRulesCarryTheSSHSources: the SSH rule carries
// sshAllowedCidrs parsed and normalised (both firewalls take them from
// here), and settings that fail validation leave it closed, never open.
func TestFirewallRulesCarryTheSSHSources(t *testing.T) {
	tests := []struct {
		name  string
		cidrs []string
		want  []netip.Prefix
	}{
		{"normalised", []string{"203.0.113.7/24", "2001:db8::1"}, []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::1/128")}},
		{"invalid entry closes SSH", []string{"203.0.113.0/24", "not-a-cidr"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := referenceSettings()
			s.SSHAllowedCIDRs = tt.cidrs
			var ssh []Rule
			for _, r := range FirewallRules(s) {
				if r.SSHOnly {
					ssh = append(ssh, r)
				} else if r.Sources != nil {
					t.Errorf("rule %s %s has sources %v; only the SSH rule has any", r.Name, r.Protocol, r.Sources)
				}
			}
			if len(ssh) != 1 {
				t.Fatalf("%d SSH rules; want 1", len(ssh))
			}
			got := slices.Clone(ssh[0].Sources)
			slices.SortFunc(got, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
			if !slices.Equal(got, tt.want) {
				t.Errorf("SSH sources %v; want %v", got, tt.want)
			}
		})
	}
}
