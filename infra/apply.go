package infra

import (
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/remote"
	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi-tls/sdk/v5/go/tls"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/cloudconfig"
)

// access is the stack's way onto the box (cloudconfig.Access): the deploy
// key it logs in with (private half secret, public half in the box's
// authorized keys, restricted to cloudconfig.ApplyCommand) and the box's
// SSH host key (private half secret, in the user data; public half pinned
// by the connection). Both are generated once and kept in the state.
type access struct {
	deployPrivate, deployPublic pulumi.StringOutput
	hostPrivate, hostPublic     pulumi.StringOutput
}

// newAccess generates the deploy key and the host key (ed25519).
func newAccess(ctx *pulumi.Context, name string, opts ...pulumi.ResourceOption) (access, error) {
	key := func(suffix string) (*tls.PrivateKey, error) {
		return tls.NewPrivateKey(ctx, name+"-"+suffix, &tls.PrivateKeyArgs{Algorithm: pulumi.String("ED25519")}, opts...)
	}
	deploy, err := key("deploy-key")
	if err != nil {
		return access{}, err
	}
	host, err := key("ssh-host-key")
	if err != nil {
		return access{}, err
	}
	return access{
		deployPrivate: pulumi.ToSecret(deploy.PrivateKeyOpenssh).(pulumi.StringOutput),
		deployPublic:  deploy.PublicKeyOpenssh,
		hostPrivate:   pulumi.ToSecret(host.PrivateKeyOpenssh).(pulumi.StringOutput),
		hostPublic:    host.PublicKeyOpenssh,
	}, nil
}

// Connection settings of the apply: a fresh server's sshd answers within
// a minute or two; a box being replaced may take its first boot.
const (
	applyDialAttempts = 60
	applyDialSeconds  = 10
)

// bootDocument keeps the user data a server is created with. Hetzner takes
// user data only at creation, so the running box takes every later change
// in place (applyInPlace); the document the server is created with changes
// only when the server is replaced anyway: another image or location (the
// trigger), or this resource replaced by hand for a rebuild with the current
// settings (docs/operations.md). A changed byte of its output would replace
// the server.
func bootDocument(ctx *pulumi.Context, name string, userData pulumi.StringOutput, machine pulumi.Input, opts ...pulumi.ResourceOption) (*pulumi.Stash, error) {
	opts = append(append([]pulumi.ResourceOption{}, opts...), pulumi.ReplacementTrigger(machine))
	return pulumi.NewStash(ctx, name+"-boot-document", &pulumi.StashArgs{Input: userData}, opts...)
}

// applyInputs are what an in-place change needs.
type applyInputs struct {
	host    pulumi.StringOutput // the server's IPv4 (its primary IP: it survives replacements)
	sshPort int
	access  access
	bundle  pulumi.StringOutput // cloudconfig.Bundle, encoded; secret
	units   pulumi.AnyOutput    // cloudconfig.UnitDigests; not secret
	server  *hcloud.Server
	after   []pulumi.Resource
	// drain, when set, makes the apply's delete drain the box first
	// (cloudconfig.DrainCommand), bounded by drain: a media server's.
	drain time.Duration
}

// applyInPlace runs cloudconfig.ApplyCommand on the box over SSH whenever
// what the box runs changes (the unit digests, or the server, so a new
// server gets the current files too). The digests are the command's
// triggers, so `pulumi preview --diff` shows which units change; the bundle
// travels on standard input (secret). The box decides from the digests
// what to reload, restart or recreate (nctalk-apply).
func applyInPlace(ctx *pulumi.Context, name string, in applyInputs, opts ...pulumi.ResourceOption) (*remote.Command, error) {
	opts = append(append([]pulumi.ResourceOption{}, opts...), pulumi.DependsOn(append([]pulumi.Resource{in.server}, in.after...)))
	cmd := pulumi.String(cloudconfig.ApplyCommand)
	var drain pulumi.StringPtrInput
	if in.drain > 0 {
		drain = pulumi.String(cloudconfig.DrainCommand)
		opts = append(opts, pulumi.Timeouts(&pulumi.CustomTimeouts{Delete: (in.drain + cloudconfig.DrainSlack).String()}))
	}
	return remote.NewCommand(ctx, name+"-apply", &remote.CommandArgs{
		Connection: remote.ConnectionArgs{
			Host:           in.host,
			Port:           pulumi.Float64(float64(in.sshPort)),
			User:           pulumi.String("root"),
			PrivateKey:     in.access.deployPrivate,
			HostKey:        in.access.hostPublic,
			DialErrorLimit: pulumi.Int(applyDialAttempts),
			PerDialTimeout: pulumi.Int(applyDialSeconds),
		},
		Create:                 cmd,
		Update:                 cmd,
		Delete:                 drain,
		Stdin:                  in.bundle,
		Triggers:               pulumi.Array{in.units, in.server.ID()},
		AddPreviousOutputInEnv: pulumi.Bool(false),
	}, opts...)
}
