// Package infra is the Hetzner Cloud side of nctalk: the TalkBackend
// component with its secrets, primary IPs, firewall, DNS records, volume and
// server, and the stack outputs Nextcloud needs.
package infra

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// talkBackendType is the component's type token.
const talkBackendType = outputs.ComponentType

// TalkBackendArgs are the inputs of a TalkBackend.
type TalkBackendArgs struct {
	// Config is the validated stack configuration (config.Load).
	Config config.Config
}

// TalkBackend is a Nextcloud Talk High-Performance Backend on Hetzner Cloud.
// Its fields are the values the stack exports (Outputs).
type TalkBackend struct {
	pulumi.ResourceState

	Domain              pulumi.StringOutput
	SignalingURL        pulumi.StringOutput
	SignalingSecret     pulumi.StringOutput // secret
	TURNSecret          pulumi.StringOutput // secret
	TURNServers         pulumi.ArrayOutput
	STUNServers         pulumi.StringArrayOutput
	TURNRelayPorts      pulumi.StringOutput
	JanusRTPPorts       pulumi.StringOutput
	IPv4                pulumi.StringOutput
	IPv6                pulumi.StringOutput // the server's …::1 address
	ServerName          pulumi.StringOutput
	SSHCommand          pulumi.StringOutput
	CloudConfigRedacted pulumi.StringOutput // not secret: every secret replaced by a marker
	CloudConfigDigest   pulumi.StringOutput // sha256 of CloudConfigRedacted
}

// NewTalkBackend builds the backend from a validated config (config.Load,
// or Config.Validated): its Plan says what to open, name and render. It
// first renders the plan once with stand-in secrets (the user data budget)
// and looks up the existing SSH keys, then registers the component and its
// children; it fails before registering anything when the cloud-config
// cannot be rendered or no SSH key would result.
func NewTalkBackend(ctx *pulumi.Context, name string, args *TalkBackendArgs, opts ...pulumi.ResourceOption) (*TalkBackend, error) {
	if args == nil {
		return nil, fmt.Errorf("TalkBackend %s: missing args", name)
	}
	cfg := args.Config
	if cfg.Plan.Names == nil {
		return nil, fmt.Errorf("TalkBackend %s: the config has no plan; load it with config.Load (or Config.Validated)", name)
	}
	if err := checkCatalogue(ctx, cfg); err != nil {
		return nil, err
	}
	countries, err := checkMediaCatalogue(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Plan, err = mediaPlan(cfg, countries); err != nil {
		return nil, err
	}
	if err := preflightRender(cfg); err != nil {
		return nil, err
	}
	projectKeys, err := lookupSSHKeys(ctx, cfg.SSHKeySelector)
	if err != nil {
		return nil, err
	}
	if len(cfg.Plan.Settings().SSHAuthorizedKeys) == 0 && len(projectKeys) == 0 {
		return nil, fmt.Errorf("%s:%s: %q matches no SSH key in the Hetzner project and %s:%s is empty; want at least one key",
			schema.Namespace, schema.KeySSHKeySelector, cfg.SSHKeySelector, schema.Namespace, schema.KeySSHPublicKeys)
	}
	if cfg.Plan, err = cfg.Plan.WithProjectKeys(projectKeys); err != nil {
		return nil, config.Namespaced(err)
	}

	b := &TalkBackend{}
	if err := ctx.RegisterComponentResource(talkBackendType, name, b, opts...); err != nil {
		return nil, err
	}
	if err := b.build(ctx, name, cfg); err != nil {
		return nil, fmt.Errorf("TalkBackend %s: %w", name, err)
	}
	return b, ctx.RegisterResourceOutputs(b, b.ComponentOutputs())
}

// build creates the children and sets the output fields.
func (b *TalkBackend) build(ctx *pulumi.Context, name string, cfg config.Config) error {
	child := pulumi.Parent(b)
	plan := cfg.Plan
	s := plan.Settings()
	labels := pulumi.StringMap{"app": pulumi.String("nctalk"), "stack": pulumi.String(ctx.Stack())}

	secrets, err := newSecrets(ctx, name, cfg, child)
	if err != nil {
		return err
	}
	addrs, err := newPublicAddresses(ctx, name, s.Domain, cfg.Location, cfg.KeepOnTeardown, labels, child)
	if err != nil {
		return err
	}
	firewall, err := newFirewall(ctx, name, s.Domain, plan.Firewall, labels, child)
	if err != nil {
		return err
	}
	if err := newSSHKeys(ctx, name, cfg, labels, child); err != nil {
		return err
	}
	keys, err := newAccess(ctx, name, child)
	if err != nil {
		return err
	}
	var records []pulumi.Resource
	if cfg.DNSZone != "" {
		if records, err = newDNSRecords(ctx, name, s.Domain, cfg.DNSZone, addrs, labels, child); err != nil {
			return err
		}
		if s.TURNOn443 { // the TURN name of 443 points at the same host
			turn, err := newDNSRecords(ctx, name+"-turn", s.TURNName(), cfg.DNSZone, addrs, labels, child)
			if err != nil {
				return err
			}
			records = append(records, turn...)
		}
	}
	var volume *hcloud.Volume
	var volumeID pulumi.IDOutput
	hasVolume := cfg.VolumeSize > 0
	if hasVolume {
		if volume, err = newVolume(ctx, name, cfg, labels, child); err != nil {
			return err
		}
		volumeID = volume.ID()
	}
	token, err := newProxyToken(ctx, name, cfg, child)
	if err != nil {
		return err
	}
	cc := renderCloudConfig(rendered{plan: plan, token: token, volumeID: volumeID, hasVolume: hasVolume}, secrets, keys)
	// What needs another machine: a change replaces the boot document, and
	// with it the server (sshPort too: the stack's own connection goes to
	// that port, so the new box must listen there from its first boot).
	machine := pulumi.StringArray{pulumi.String(cfg.Image), pulumi.String(cfg.Location), pulumi.String(strconv.Itoa(plan.SSHPort))}
	boot, err := bootDocument(ctx, name, cc.userData, machine, child)
	if err != nil {
		return err
	}
	server, err := newServer(ctx, name, serverInputs{
		cfg: cfg, addrs: addrs, firewall: firewall,
		userData: boot.Output.ApplyT(func(v any) string { s, _ := v.(string); return s }).(pulumi.StringOutput),
		labels:   labels, dependsOn: records,
	}, child)
	if err != nil {
		return err
	}
	after := []pulumi.Resource{firewall}
	for _, m := range cfg.MediaServerList() {
		apply, err := newMediaServer(ctx, name, mediaServerInputs{cfg: cfg, server: m, plan: plan, secrets: secrets, token: token, labels: labels}, child)
		if err != nil {
			return err
		}
		after = append(after, apply) // signaling lists the proxy once it answers
	}
	if hasVolume {
		attachment, err := attachVolume(ctx, name, server, volume, child)
		if err != nil {
			return err
		}
		after = append(after, attachment)
	}
	if _, err := applyInPlace(ctx, name, applyInputs{
		host: addrs.v4, sshPort: plan.SSHPort, access: keys,
		bundle: cc.bundle, units: cc.units, server: server, after: after,
	}, child); err != nil {
		return err
	}

	ends := plan.Endpoints
	b.Domain = pulumi.String(s.Domain).ToStringOutput()
	b.SignalingURL = pulumi.String(ends.SignalingURL()).ToStringOutput()
	b.SignalingSecret = secrets.signaling
	b.TURNSecret = secrets.turn
	b.TURNServers = turnServers(ends.TURNServers()).ToArrayOutput()
	b.STUNServers = pulumi.ToStringArray(ends.STUNServers()).ToStringArrayOutput()
	b.TURNRelayPorts = pulumi.String(plan.TURNRelayPorts.String()).ToStringOutput()
	b.JanusRTPPorts = pulumi.String(plan.JanusRTPPorts.String()).ToStringOutput()
	b.IPv4 = addrs.v4
	b.IPv6 = addrs.v6
	b.ServerName = server.Name
	b.SSHCommand = sshCommand(plan.SSHPort, addrs.v4)
	b.CloudConfigRedacted = cc.redacted
	b.CloudConfigDigest = cc.redacted.ApplyT(outputs.CloudConfigDigest).(pulumi.StringOutput)
	return nil
}

// ComponentOutputs are the outputs the component registers: the stack
// outputs and the redacted cloud-config (outputs.KeyCloudConfigRedacted),
// which stays out of the stack outputs so `pulumi up` prints a screen, not
// the document.
func (b *TalkBackend) ComponentOutputs() pulumi.Map {
	m := b.Outputs()
	m[outputs.KeyCloudConfigRedacted] = b.CloudConfigRedacted
	return m
}

// Outputs maps the stack output keys (infra/outputs) to the component's
// outputs; main exports exactly these.
func (b *TalkBackend) Outputs() pulumi.Map {
	return pulumi.Map{
		schema.OutputDomain:            b.Domain,
		schema.OutputSignalingURL:      b.SignalingURL,
		schema.OutputSignalingSecret:   b.SignalingSecret,
		schema.OutputTURNSecret:        b.TURNSecret,
		schema.OutputTURNServers:       b.TURNServers,
		schema.OutputSTUNServers:       b.STUNServers,
		schema.OutputTURNRelayPorts:    b.TURNRelayPorts,
		schema.OutputJanusRTPPorts:     b.JanusRTPPorts,
		schema.OutputIPv4:              b.IPv4,
		schema.OutputIPv6:              b.IPv6,
		schema.OutputServerName:        b.ServerName,
		schema.OutputSSHCommand:        b.SSHCommand,
		schema.OutputCloudConfigDigest: b.CloudConfigDigest,
	}
}

// Export exports every output of the backend under its stack output key,
// in a fixed order.
func (b *TalkBackend) Export(ctx *pulumi.Context) {
	m := b.Outputs()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ctx.Export(k, m[k])
	}
}

// turnServers are TURN entries (talk.Endpoints.TURNServers) as a Pulumi list
// of {schemes, server, protocols} objects (the JSON form `nctalk occ` reads).
func turnServers(servers []talk.TURNServer) pulumi.Array {
	var out pulumi.Array
	for _, t := range servers {
		out = append(out, pulumi.StringMap{
			"schemes":   pulumi.String(t.Schemes),
			"server":    pulumi.String(t.Server),
			"protocols": pulumi.String(t.Protocols),
		})
	}
	return out
}

// sshCommand is how the admin logs into the server.
func sshCommand(port int, ipv4 pulumi.StringOutput) pulumi.StringOutput {
	if port == schema.DefaultSSHPort {
		return pulumi.Sprintf("ssh root@%s", ipv4)
	}
	return pulumi.Sprintf("ssh -p %d root@%s", port, ipv4)
}
