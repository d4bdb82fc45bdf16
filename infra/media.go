package infra

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/schema"
)

// Scale-out (nctalk:mediaServers): the backend's box becomes the signaling
// server, and each media server is a box of its own (primary IPs, reverse
// DNS, firewall, DNS records, server, in-place apply) running the signaling
// proxy, Janus and coturn (cloudconfig.Plan.ForMediaServer).

// proxyTokenID names the stack's proxy token: signaling's token_id and the
// key of the proxies' [tokens].
const proxyTokenID = "nctalk"

// proxyTokenBits is the RSA key size of the proxy token (RS256).
const proxyTokenBits = 2048

// proxyToken is the key pair signaling signs its requests to the proxies
// with: the private key (PEM, secret) stays on the signaling server, the
// public key goes to every media server.
type proxyToken struct {
	private, public pulumi.StringOutput
}

// newProxyToken generates the proxy token (pulumi-tls, RSA: the key type
// the proxy verifies), or none without media servers.
func newProxyToken(ctx *pulumi.Context, name string, cfg config.Config, opts ...pulumi.ResourceOption) (*proxyToken, error) {
	if len(cfg.MediaServers) == 0 {
		return nil, nil
	}
	k, err := tls.NewPrivateKey(ctx, name+"-proxy-token", &tls.PrivateKeyArgs{
		Algorithm: pulumi.String("RSA"),
		RsaBits:   pulumi.Int(proxyTokenBits),
	}, opts...)
	if err != nil {
		return nil, err
	}
	return &proxyToken{private: pulumi.ToSecret(k.PrivateKeyPem).(pulumi.StringOutput), public: k.PublicKeyPem}, nil
}

// mediaPlan returns the plan with the config's media servers: each at
// https://<name>.<domain>/, in the country of its location (countries, from
// Hetzner's catalogue).
func mediaPlan(cfg config.Config, countries map[string]string) (cloudconfig.Plan, error) {
	var servers []cloudconfig.MediaServer
	for _, m := range cfg.MediaServerList() {
		host := m.Host(cfg.Settings.Domain)
		servers = append(servers, cloudconfig.MediaServer{Name: m.Name, Host: host, URL: "https://" + host + "/", Country: countries[m.Location]})
	}
	p, err := cfg.Plan.WithMediaServers(servers)
	if err != nil {
		return cloudconfig.Plan{}, config.KeyErrorf(schema.KeyMediaServers, "%v", err)
	}
	if p, err = p.WithMediaDrain(cfg.MediaDrain()); err != nil {
		return cloudconfig.Plan{}, config.KeyErrorf(schema.KeyMediaDrain, "%v", err)
	}
	if p, err = p.WithGeoIP(cfg.GeoIP()); err != nil {
		return cloudconfig.Plan{}, config.KeyErrorf(schema.KeyGeoIPOverrides, "%v", err) // validated: not reached
	}
	return p, nil
}

// checkMediaCatalogue asks Hetzner's catalogue whether each media server's
// location exists and offers its server type, and returns each location's
// country (the proxy reports it; signaling prefers a proxy in the
// client's country).
func checkMediaCatalogue(ctx *pulumi.Context, cfg config.Config) (map[string]string, error) {
	if len(cfg.MediaServers) == 0 {
		return nil, nil
	}
	locs, err := hcloud.GetLocations(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s:%s: asking Hetzner for its locations: %w", schema.Namespace, schema.KeyMediaServers, err)
	}
	countries := map[string]string{}
	for _, l := range locs.Locations {
		countries[l.Name] = l.Country
	}
	types, err := hcloud.GetServerTypes(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s:%s: asking Hetzner for its server types: %w", schema.Namespace, schema.KeyMediaServers, err)
	}
	for _, m := range cfg.MediaServerList() {
		if _, ok := countries[m.Location]; !ok {
			return nil, config.KeyErrorf(schema.KeyMediaServers, "%s: %q is not a Hetzner location", m.Name, m.Location)
		}
		if _, _, err := pickServerType(types.ServerTypes, m.ServerType, m.Location, false); err != nil {
			problem := err.Error()
			if ke := (*schema.KeyError)(nil); errors.As(err, &ke) {
				problem = ke.Problem
			}
			return nil, config.KeyErrorf(schema.KeyMediaServers, "%s: %s", m.Name, problem)
		}
	}
	return countries, nil
}

// mediaServerInputs are what one media server is built from.
type mediaServerInputs struct {
	cfg     config.Config
	server  config.MediaServer
	plan    cloudconfig.Plan // the signaling server's (WithMediaServers)
	secrets secretOutputs
	token   *proxyToken
	labels  pulumi.StringMap
}

// newMediaServer builds one media server and returns its apply, which the
// signaling server's apply waits for. Removing the media server from the
// config deletes its resources after the signaling server's apply has
// dropped its proxy from signaling's list (signaling then places no new
// calls there and closes the connection once its calls have ended); the
// apply's delete first drains the proxy on the box (compose stops it with
// its stop signal SIGUSR1 and waits up to mediaDrainMinutes), then the
// server goes.
func newMediaServer(ctx *pulumi.Context, name string, in mediaServerInputs, opts ...pulumi.ResourceOption) (pulumi.Resource, error) {
	m, cfg := in.server, in.cfg
	host := m.Host(cfg.Settings.Domain)
	media, err := in.plan.ForMediaServer(m.Name)
	if err != nil {
		return nil, err
	}
	name = name + "-" + m.Name
	// Not protected: removing a media server deletes its addresses (its
	// name is what Nextcloud and signaling know); a rebuild keeps them.
	addrs, err := newPublicAddresses(ctx, name, host, m.Location, false, in.labels, opts...)
	if err != nil {
		return nil, err
	}
	firewall, err := newFirewall(ctx, name, host, media.Firewall, in.labels, opts...)
	if err != nil {
		return nil, err
	}
	var records []pulumi.Resource
	if cfg.DNSZone != "" {
		if records, err = newDNSRecords(ctx, name, host, cfg.DNSZone, addrs, in.labels, opts...); err != nil {
			return nil, err
		}
	}
	keys, err := newAccess(ctx, name, opts...)
	if err != nil {
		return nil, err
	}
	cc := renderCloudConfig(rendered{plan: in.plan, media: m.Name, token: in.token}, in.secrets, keys)
	machine := pulumi.StringArray{pulumi.String(cfg.Image), pulumi.String(m.Location), pulumi.String(strconv.Itoa(media.SSHPort))}
	boot, err := bootDocument(ctx, name, cc.userData, machine, opts...)
	if err != nil {
		return nil, err
	}
	serverCfg := cfg
	serverCfg.Settings.Domain, serverCfg.Location, serverCfg.ServerType = host, m.Location, m.ServerType
	server, err := newServer(ctx, name, serverInputs{
		cfg: serverCfg, addrs: addrs, firewall: firewall,
		userData: boot.Output.ApplyT(func(v any) string { s, _ := v.(string); return s }).(pulumi.StringOutput),
		labels:   in.labels, dependsOn: records,
	}, opts...)
	if err != nil {
		return nil, err
	}
	return applyInPlace(ctx, name, applyInputs{
		host: addrs.v4, sshPort: media.SSHPort, access: keys,
		bundle: cc.bundle, units: cc.units, server: server, after: []pulumi.Resource{firewall},
		drain: cfg.MediaDrain(),
	}, opts...)
}
