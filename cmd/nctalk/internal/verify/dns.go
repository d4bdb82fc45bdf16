package verify

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// expectedAddrs are the stack's public addresses from the outputs: the IPv4
// address and the IPv6 host address (a network such as 2a01:db8::/64 or
// 2a01:db8:: stands for its ::1 host, as the stack's AAAA record does).
func expectedAddrs(ipv4, ipv6 string) (v4, v6 net.IP) {
	v4 = net.ParseIP(strings.TrimSpace(ipv4))
	v6s := strings.TrimSpace(ipv6)
	if ip, _, err := net.ParseCIDR(v6s); err == nil {
		v6 = hostOne(ip)
	} else if ip := net.ParseIP(v6s); ip != nil {
		v6 = ip
		if strings.HasSuffix(v6s, "::") {
			v6 = hostOne(ip)
		}
	}
	return v4, v6
}

// hostOne returns network::1.
func hostOne(ip net.IP) net.IP {
	h := make(net.IP, net.IPv6len)
	copy(h, ip.To16())
	h[15] |= 1
	return h
}

// checkDNS compares what the domain resolves to with the stack's addresses.
func checkDNS(ctx context.Context, e *env) Result {
	domain := e.opts.Outputs.Domain
	ips, overridden, err := e.lookup(ctx, domain)
	source := "DNS"
	if overridden {
		source = "--resolve (not DNS)"
	}
	wantV4, wantV6 := expectedAddrs(e.opts.Outputs.IPv4, e.opts.Outputs.IPv6)
	if err != nil {
		return fail(fmt.Sprintf("%s does not resolve: %s", domain, shortErr(err)),
			recordHint(domain, wantV4, wantV6))
	}
	var got4, got6 []net.IP
	for _, ip := range ips {
		if ip.To4() != nil {
			got4 = append(got4, ip)
		} else {
			got6 = append(got6, ip)
		}
	}
	if wantV4 == nil && wantV6 == nil {
		return ok(fmt.Sprintf("%s → %s via %s", domain, joinIPs(ips), source),
			"the stack outputs name no ipv4/ipv6, so the addresses were not compared")
	}
	var problems []string
	problems = append(problems, compareFamily("A", got4, wantV4)...)
	problems = append(problems, compareFamily("AAAA", got6, wantV6)...)
	if len(problems) > 0 {
		return fail(fmt.Sprintf("%s via %s: %s", domain, source, strings.Join(problems, "; ")),
			recordHint(domain, wantV4, wantV6)+"; after a change, wait for the old record's TTL")
	}
	return ok(fmt.Sprintf("%s → %s via %s, as the stack's addresses", domain, joinIPs(ips), source))
}

// compareFamily reports missing and stale records of one address family.
func compareFamily(rr string, got []net.IP, want net.IP) []string {
	var problems []string
	found := false
	for _, ip := range got {
		if want != nil && ip.Equal(want) {
			found = true
			continue
		}
		if want == nil {
			problems = append(problems, fmt.Sprintf("stale %s record %s (the stack has no %s address)", rr, ip, familyName(rr)))
		} else {
			problems = append(problems, fmt.Sprintf("stale %s record %s (the stack has %s)", rr, ip, want))
		}
	}
	if want != nil && !found {
		problems = append(problems, fmt.Sprintf("missing %s record %s", rr, want))
	}
	return problems
}

func familyName(rr string) string {
	if rr == "A" {
		return "IPv4"
	}
	return "IPv6"
}

func recordHint(domain string, v4, v6 net.IP) string {
	var recs []string
	if v4 != nil {
		recs = append(recs, fmt.Sprintf("A %s → %s", domain, v4))
	}
	if v6 != nil {
		recs = append(recs, fmt.Sprintf("AAAA %s → %s", domain, v6))
	}
	if len(recs) == 0 {
		return "point the domain at the server's public addresses"
	}
	return "set exactly " + strings.Join(recs, " and ") + " at the DNS provider (remove any other A/AAAA)"
}

func joinIPs(ips []net.IP) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ", ")
}
