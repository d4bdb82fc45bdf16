package infra

import (
	"cmp"
	"slices"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/cloudconfig"
)

// publicAddresses are the primary IPs of the backend and its addresses.
type publicAddresses struct {
	ipv4, ipv6 *hcloud.PrimaryIp
	// v4 is the IPv4 address; v6 the server's IPv6 host address (…::1).
	v4, v6 pulumi.StringOutput
}

// newPublicAddresses creates the primary IPv4 and IPv6 and their reverse
// DNS. The IPs outlive the server (AutoDelete false) and, with keep
// (nctalk:keepOnTeardown, the default), are protected twice: Hetzner's
// delete protection and Pulumi's protect, so neither a server replacement
// nor a teardown loses the addresses DNS points at. The server assigns them through PublicNets, so no assignee is
// set here.
func newPublicAddresses(ctx *pulumi.Context, name, domain, location string, keep bool, labels pulumi.StringMap, opts ...pulumi.ResourceOption) (publicAddresses, error) {
	base := resourceBase(domain)
	ipOpts := append(append([]pulumi.ResourceOption{}, opts...), pulumi.Protect(keep))
	newIP := func(family string) (*hcloud.PrimaryIp, error) {
		return hcloud.NewPrimaryIp(ctx, name+"-"+family, &hcloud.PrimaryIpArgs{
			Name:             pulumi.String(base + "-" + family),
			Type:             pulumi.String(family),
			Location:         pulumi.String(location),
			AutoDelete:       pulumi.Bool(false),
			DeleteProtection: pulumi.Bool(keep),
			Labels:           labels,
		}, ipOpts...)
	}
	var a publicAddresses
	var err error
	if a.ipv4, err = newIP("ipv4"); err != nil {
		return a, err
	}
	if a.ipv6, err = newIP("ipv6"); err != nil {
		return a, err
	}
	a.v4 = a.ipv4.IpAddress
	a.v6 = a.ipv6.IpAddress.ApplyT(ipv6HostAddress).(pulumi.StringOutput)

	for _, r := range []struct {
		family string
		ip     *hcloud.PrimaryIp
		addr   pulumi.StringOutput
	}{{"ipv4", a.ipv4, a.v4}, {"ipv6", a.ipv6, a.v6}} {
		if _, err := hcloud.NewRdns(ctx, name+"-rdns-"+r.family, &hcloud.RdnsArgs{
			PrimaryIpId: hcloudID(r.ip.ID()),
			IpAddress:   r.addr,
			DnsPtr:      pulumi.String(domain),
		}, opts...); err != nil {
			return a, err
		}
	}
	return a, nil
}

// anywhere are the source networks of the rules open to the internet.
var anywhere = []string{"0.0.0.0/0", "::/0"}

// newFirewall builds the Hetzner firewall from the plan's port table: SSH
// from sshAllowedCidrs only, every other rule from anywhere. The rules go
// in the order the provider keeps them in the state (by description, then
// protocol and port) and the sources sorted, so that the preview of a
// changed rule shows that rule, not every rule after a shifted position.
func newFirewall(ctx *pulumi.Context, name, domain string, table []cloudconfig.Rule, labels pulumi.StringMap, opts ...pulumi.ResourceOption) (*hcloud.Firewall, error) {
	table = slices.Clone(table)
	slices.SortStableFunc(table, func(a, b cloudconfig.Rule) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.PortString(), b.PortString()))
	})
	var rules hcloud.FirewallRuleArray
	for _, r := range table {
		sources := anywhere
		if r.SSHOnly {
			sources = make([]string, len(r.Sources))
			for i, p := range r.Sources {
				sources[i] = p.String()
			}
			slices.Sort(sources)
		}
		rule := hcloud.FirewallRuleArgs{
			Description: pulumi.String(r.Name),
			Direction:   pulumi.String("in"),
			Protocol:    pulumi.String(string(r.Protocol)),
			SourceIps:   pulumi.ToStringArray(sources),
		}
		if p := r.PortString(); p != "" {
			rule.Port = pulumi.String(p)
		}
		rules = append(rules, rule)
	}
	return hcloud.NewFirewall(ctx, name+"-firewall", &hcloud.FirewallArgs{
		Name:   pulumi.String(resourceBase(domain)),
		Rules:  rules,
		Labels: labels,
	}, opts...)
}
