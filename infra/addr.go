package infra

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ipv6HostAddress returns the server's own address in the IPv6 network
// Hetzner reports for a primary IP ("2001:db8:1::" or "2001:db8:1::/64"):
// the network's ::1 address, which rDNS and the AAAA record point at.
func ipv6HostAddress(network string) (string, error) {
	addrPart, _, _ := strings.Cut(network, "/")
	a, err := netip.ParseAddr(addrPart)
	if err != nil || !a.Is6() || a.Is4In6() {
		return "", fmt.Errorf("primary IPv6 %q is not an IPv6 network address", network)
	}
	b := a.As16()
	for i := 8; i < 16; i++ {
		b[i] = 0
	}
	b[15] = 1
	return netip.AddrFrom16(b).String(), nil
}

// hcloudID converts a resource ID to the integer the hcloud provider's
// reference fields (FirewallIds, PublicNets, PrimaryIpId, …) take.
func hcloudID(id pulumi.IDOutput) pulumi.IntOutput {
	return id.ApplyT(func(id pulumi.ID) (int, error) {
		n, err := strconv.Atoi(string(id))
		if err != nil {
			return 0, fmt.Errorf("hcloud resource ID %q is not numeric: %w", id, err)
		}
		return n, nil
	}).(pulumi.IntOutput)
}

// recordName is the RRset name of domain inside zone: "@" for the apex.
func recordName(domain, zone string) string {
	if domain == zone {
		return "@"
	}
	return strings.TrimSuffix(domain, "."+zone)
}

// resourceBase is the domain made safe for Hetzner resource names:
// talk.example.com becomes talk-example-com.
func resourceBase(domain string) string { return strings.ReplaceAll(domain, ".", "-") }

// volumeDevice is the stable device path of a Hetzner volume on the server.
func volumeDevice(volumeID string) string { return "/dev/disk/by-id/scsi-0HC_Volume_" + volumeID }
