package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"

	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/schema"
)

// lookupSSHKeys returns the public keys of the keys in the Hetzner project
// that match the label selector, in ID order (so the rendered
// authorized keys do not follow the order the API happens to answer in);
// none for an empty selector.
func lookupSSHKeys(ctx *pulumi.Context, selector string) ([]string, error) {
	if selector == "" {
		return nil, nil
	}
	res, err := hcloud.GetSshKeys(ctx, &hcloud.GetSshKeysArgs{WithSelector: &selector})
	if err != nil {
		return nil, fmt.Errorf("looking up SSH keys with %s:%s %q: %w", schema.Namespace, schema.KeySSHKeySelector, selector, err)
	}
	keys := slices.Clone(res.SshKeys)
	slices.SortFunc(keys, func(a, b hcloud.GetSshKeysSshKey) int { return a.Id - b.Id })
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k.PublicKey)
	}
	return out, nil
}

// sshKeySuffix names an uploaded key after its content (the first 12 hex
// digits of the SHA-256 of the key blob), not its position in the list, so
// reordering or removing an entry never recreates another key under a name
// that still exists in the Hetzner project.
func sshKeySuffix(authorizedKey string) (string, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return "", fmt.Errorf("%s:%s: %w", schema.Namespace, schema.KeySSHPublicKeys, err)
	}
	sum := sha256.Sum256(pub.Marshal())
	return hex.EncodeToString(sum[:6]), nil
}

// newSSHKeys uploads the configured public keys to the Hetzner project
// (where the rescue system can use them). The box takes its keys from the
// rendered cloudconfig.AuthorizedKeys, which every in-place change
// rewrites, not from Hetzner, which hands keys to a server only when it is
// created. Each uploaded key is named after its content (sshKeySuffix). A
// replaced SshKey (e.g. a changed comment: Hetzner cannot change a key in
// place) keeps its name, which Hetzner keeps unique per project: the old
// key must go first (DeleteBeforeReplace), or the create fails with
// uniqueness_error.
func newSSHKeys(ctx *pulumi.Context, name string, cfg config.Config, labels pulumi.StringMap, opts ...pulumi.ResourceOption) error {
	base := resourceBase(cfg.Settings.Domain)
	keyOpts := append(append([]pulumi.ResourceOption{}, opts...), pulumi.DeleteBeforeReplace(true))
	for _, pub := range cfg.Settings.SSHAuthorizedKeys {
		suffix, err := sshKeySuffix(pub)
		if err != nil {
			return err
		}
		if _, err := hcloud.NewSshKey(ctx, fmt.Sprintf("%s-ssh-key-%s", name, suffix), &hcloud.SshKeyArgs{
			Name:      pulumi.Sprintf("%s-%s", base, suffix),
			PublicKey: pulumi.String(pub),
			Labels:    labels,
		}, keyOpts...); err != nil {
			return err
		}
	}
	return nil
}

// newVolume creates the state volume unformatted: the cloud-config formats
// the device (ext4, label nctalk-state) only while it holds no filesystem,
// so one place decides the filesystem and later servers mount the volume
// with its certificates as it is. With cfg.KeepOnTeardown it is protected
// like the primary IPs (Pulumi protect, Hetzner delete protection).
func newVolume(ctx *pulumi.Context, name string, cfg config.Config, labels pulumi.StringMap, opts ...pulumi.ResourceOption) (*hcloud.Volume, error) {
	opts = append(append([]pulumi.ResourceOption{}, opts...), pulumi.Protect(cfg.KeepOnTeardown))
	return hcloud.NewVolume(ctx, name+"-state", &hcloud.VolumeArgs{
		Name:             pulumi.String(resourceBase(cfg.Settings.Domain) + "-state"),
		Size:             pulumi.Int(cfg.VolumeSize),
		Location:         pulumi.String(cfg.Location),
		DeleteProtection: pulumi.Bool(cfg.KeepOnTeardown),
		Labels:           labels,
	}, opts...)
}

// serverInputs are what the server is built from.
type serverInputs struct {
	cfg       config.Config
	addrs     publicAddresses
	firewall  *hcloud.Firewall
	userData  pulumi.StringOutput
	labels    pulumi.StringMap
	dependsOn []pulumi.Resource
}

// newServer creates the VM. It holds the primary IPs, so a replacement must
// delete the old server first (DeleteBeforeReplace); the firewall is
// attached at creation so it guards the first boot. It gets no Hetzner SSH
// keys: those reach a server only at creation, and would stay on it after
// they were removed from the config; the rendered authorized keys carry
// the keys instead. userData is the boot document (bootDocument), which
// changes only together with what replaces the server anyway.
func newServer(ctx *pulumi.Context, name string, in serverInputs, opts ...pulumi.ResourceOption) (*hcloud.Server, error) {
	opts = append(append([]pulumi.ResourceOption{}, opts...), pulumi.DeleteBeforeReplace(true))
	if len(in.dependsOn) > 0 {
		opts = append(opts, pulumi.DependsOn(in.dependsOn))
	}
	return hcloud.NewServer(ctx, name+"-server", &hcloud.ServerArgs{
		Name:        pulumi.String(in.cfg.Settings.Domain),
		ServerType:  pulumi.String(in.cfg.ServerType),
		Image:       pulumi.String(in.cfg.Image),
		Location:    pulumi.String(in.cfg.Location),
		Labels:      in.labels,
		FirewallIds: pulumi.IntArray{hcloudID(in.firewall.ID())},
		PublicNets: hcloud.ServerPublicNetArray{hcloud.ServerPublicNetArgs{
			Ipv4Enabled: pulumi.Bool(true),
			Ipv4:        hcloudID(in.addrs.ipv4.ID()),
			Ipv6Enabled: pulumi.Bool(true),
			Ipv6:        hcloudID(in.addrs.ipv6.ID()),
		}},
		UserData: in.userData,
	}, opts...)
}

// attachVolume attaches the state volume; cloudconfig mounts it.
func attachVolume(ctx *pulumi.Context, name string, server *hcloud.Server, volume *hcloud.Volume, opts ...pulumi.ResourceOption) (*hcloud.VolumeAttachment, error) {
	return hcloud.NewVolumeAttachment(ctx, name+"-state-attachment", &hcloud.VolumeAttachmentArgs{
		ServerId:  hcloudID(server.ID()),
		VolumeId:  hcloudID(volume.ID()),
		Automount: pulumi.Bool(false),
	}, opts...)
}
