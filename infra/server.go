package infra

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"golang.org/x/crypto/ssh"

	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/schema"
)

// lookupSSHKeys returns the IDs of the keys in the Hetzner project that
// match the label selector; none for an empty selector.
func lookupSSHKeys(ctx *pulumi.Context, selector string) ([]string, error) {
	if selector == "" {
		return nil, nil
	}
	res, err := hcloud.GetSshKeys(ctx, &hcloud.GetSshKeysArgs{WithSelector: &selector})
	if err != nil {
		return nil, fmt.Errorf("looking up SSH keys with %s:%s %q: %w", schema.Namespace, schema.KeySSHKeySelector, selector, err)
	}
	// In ID order: the server's key list forces a replacement when it
	// changes, so it must not follow the order the API happens to answer in.
	nums := make([]int, 0, len(res.SshKeys))
	for _, k := range res.SshKeys {
		nums = append(nums, k.Id)
	}
	slices.Sort(nums)
	ids := make([]string, 0, len(nums))
	for _, n := range nums {
		ids = append(ids, strconv.Itoa(n))
	}
	return ids, nil
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

// newSSHKeys uploads the configured public keys and returns the IDs of
// every key the server gets: the uploaded ones, then the existing ones.
// Each uploaded key is named after its content (sshKeySuffix). A replaced
// SshKey (e.g. a changed comment: Hetzner cannot change a key in place)
// keeps its name, which Hetzner keeps unique per project: the old key must
// go first (DeleteBeforeReplace), or the create fails with uniqueness_error.
func newSSHKeys(ctx *pulumi.Context, name string, cfg config.Config, existing []string, labels pulumi.StringMap, opts ...pulumi.ResourceOption) (pulumi.StringArray, error) {
	var ids pulumi.StringArray
	base := resourceBase(cfg.Settings.Domain)
	keyOpts := append(append([]pulumi.ResourceOption{}, opts...), pulumi.DeleteBeforeReplace(true))
	for _, pub := range cfg.Settings.SSHAuthorizedKeys {
		suffix, err := sshKeySuffix(pub)
		if err != nil {
			return nil, err
		}
		k, err := hcloud.NewSshKey(ctx, fmt.Sprintf("%s-ssh-key-%s", name, suffix), &hcloud.SshKeyArgs{
			Name:      pulumi.Sprintf("%s-%s", base, suffix),
			PublicKey: pulumi.String(pub),
			Labels:    labels,
		}, keyOpts...)
		if err != nil {
			return nil, err
		}
		ids = append(ids, k.ID().ToStringOutput())
	}
	for _, id := range existing {
		ids = append(ids, pulumi.String(id))
	}
	return ids, nil
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
	sshKeys   pulumi.StringArray
	userData  pulumi.StringOutput
	labels    pulumi.StringMap
	dependsOn []pulumi.Resource
}

// newServer creates the VM. It holds the primary IPs, so a replacement must
// delete the old server first (DeleteBeforeReplace); the firewall is
// attached at creation so it guards the first boot.
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
		SshKeys:     in.sshKeys,
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
func attachVolume(ctx *pulumi.Context, name string, server *hcloud.Server, volume *hcloud.Volume, opts ...pulumi.ResourceOption) error {
	_, err := hcloud.NewVolumeAttachment(ctx, name+"-state-attachment", &hcloud.VolumeAttachmentArgs{
		ServerId:  hcloudID(server.ID()),
		VolumeId:  hcloudID(volume.ID()),
		Automount: pulumi.Bool(false),
	}, opts...)
	return err
}
