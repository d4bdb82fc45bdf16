package infra

import (
	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// dnsTTL is the TTL of the A and AAAA records, in seconds.
const dnsTTL = 300

// newDNSRecords creates the A and AAAA RRsets of domain in zone, pointing
// at the primary IPs; the stack calls it for the domain and, with
// turnOn443, for the TURN name (resources <name>-turn-dns-A/AAAA). The server depends on them, so the name resolves by
// the time the VM asks Let's Encrypt for its first certificate.
func newDNSRecords(ctx *pulumi.Context, name, domain, zone string, addrs publicAddresses, labels pulumi.StringMap, opts ...pulumi.ResourceOption) ([]pulumi.Resource, error) {
	var records []pulumi.Resource
	for _, r := range []struct {
		typ  string
		addr pulumi.StringOutput
	}{{"A", addrs.v4}, {"AAAA", addrs.v6}} {
		rr, err := hcloud.NewZoneRrset(ctx, name+"-dns-"+r.typ, &hcloud.ZoneRrsetArgs{
			Zone:    pulumi.String(zone),
			Name:    pulumi.String(recordName(domain, zone)),
			Type:    pulumi.String(r.typ),
			Ttl:     pulumi.Int(dnsTTL),
			Records: hcloud.ZoneRrsetRecordArray{hcloud.ZoneRrsetRecordArgs{Value: r.addr}},
			Labels:  labels,
		}, opts...)
		if err != nil {
			return nil, err
		}
		records = append(records, rr)
	}
	return records, nil
}
