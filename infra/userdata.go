package infra

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/schema"
)

// cloudConfig is what the stack renders from the plan: the server's user
// data (the document packed by cloudconfig.EncodeUserData; secret, it
// carries every secret), the document's redacted copy (not secret, for
// previews and the stack output), and the in-place change of the same
// files: the encoded bundle (secret) and its unit digests (not secret: the
// apply's triggers, which the preview shows).
type cloudConfig struct {
	userData, redacted, bundle pulumi.StringOutput
	units                      pulumi.AnyOutput
}

// rendered says what renderCloudConfig renders: the plan's box, or one
// of its media servers (media); with media servers, the proxy token
// (token, nil without).
type rendered struct {
	plan      cloudconfig.Plan
	media     string
	token     *proxyToken
	volumeID  pulumi.IDOutput
	hasVolume bool
}

// renderCloudConfig renders a box's cloud-config and bundle inside an
// apply over the secrets, the proxy token and the box's access keys, so the
// user data and the bundle are secret outputs. Without a volume there is
// no state device; otherwise it is the volume's by-id path. The settings
// are not validated again: the plan was.
func renderCloudConfig(what rendered, secrets secretOutputs, keys access) cloudConfig {
	plan, hasVolume := what.plan, what.hasVolume
	inputs := append(secrets.all(), keys.hostPrivate, keys.hostPublic, keys.deployPublic)
	if what.token != nil {
		inputs = append(inputs, what.token.private, what.token.public)
	}
	if hasVolume {
		inputs = append(inputs, what.volumeID)
	}
	type rendering struct {
		userData, redacted, bundle string
		units                      cloudconfig.UnitDigests
	}
	rendered := pulumi.All(inputs...).ApplyT(func(v []any) (rendering, error) {
		var sec cloudconfig.Secrets
		for i, spec := range schema.Secrets {
			sec.Set(spec.Name, v[i].(string))
		}
		n := len(schema.Secrets)
		p, err := plan.WithAccess(cloudconfig.Access{HostKey: v[n].(string), HostPublicKey: v[n+1].(string), DeployPublicKey: v[n+2].(string)})
		if err != nil {
			return rendering{}, fmt.Errorf("the stack's SSH keys: %w", err)
		}
		n += 3
		if what.token != nil {
			if p, err = p.WithProxyToken(cloudconfig.ProxyToken{ID: proxyTokenID, PrivateKey: v[n].(string), PublicKey: v[n+1].(string)}); err != nil {
				return rendering{}, fmt.Errorf("the stack's proxy token: %w", err)
			}
			n += 2
		}
		if what.media != "" {
			if p, err = p.ForMediaServer(what.media); err != nil {
				return rendering{}, err
			}
		}
		if hasVolume {
			if p, err = p.WithStateDevice(volumeDevice(string(v[n].(pulumi.ID)))); err != nil {
				return rendering{}, err
			}
		}
		doc, err := p.Render(sec)
		if err != nil {
			return rendering{}, fmt.Errorf("rendering the cloud-config: %w", err)
		}
		// Redacted by position (the same templates, markers for secrets),
		// not by searching the document for the secrets' values.
		redacted, err := p.RenderRedacted()
		if err != nil {
			return rendering{}, fmt.Errorf("rendering the redacted cloud-config: %w", err)
		}
		b, err := p.Bundle(sec)
		if err != nil {
			return rendering{}, fmt.Errorf("rendering the in-place bundle: %w", err)
		}
		encoded, err := b.Encode()
		if err != nil {
			return rendering{}, fmt.Errorf("packing the in-place bundle: %w", err)
		}
		return rendering{cloudconfig.EncodeUserData(doc), string(redacted), encoded, b.Units}, nil
	})
	field := func(f func(rendering) string) pulumi.StringOutput {
		return rendered.ApplyT(func(r any) string { return f(r.(rendering)) }).(pulumi.StringOutput)
	}
	return cloudConfig{
		userData: field(func(r rendering) string { return r.userData }),
		redacted: pulumi.Unsecret(field(func(r rendering) string { return r.redacted })).(pulumi.StringOutput),
		bundle:   field(func(r rendering) string { return r.bundle }),
		// The digests are not secret (cloudconfig.UnitDigests says why).
		units: pulumi.Unsecret(rendered.ApplyT(func(r any) any { return r.(rendering).units.AsMap() })).(pulumi.AnyOutput),
	}
}

// probeVolumeID stands in for the volume's ID before it exists: as long as
// the longest ID Hetzner hands out, so the probe is not shorter than the
// real document.
const probeVolumeID = "999999999999"

// preflightRender renders the plan once with stand-in secrets of the real
// lengths, before anything is registered, so a document over Hetzner's
// 32 KiB user data limit fails as a config error instead of halfway through
// an update. It is the one render outside the apply: the settings are not
// validated again, only the user data's size is learnt.
func preflightRender(cfg config.Config) error {
	var sec cloudconfig.Secrets
	for _, spec := range schema.Secrets {
		v := strings.Repeat("x", spec.Length)
		if s := cfg.GivenSecret(spec.Name); s.IsSet() {
			v = s.Reveal()
		}
		sec.Set(spec.Name, v)
	}
	p := cfg.Plan
	var err error
	if cfg.VolumeSize > 0 {
		if p, err = p.WithStateDevice(volumeDevice(probeVolumeID)); err != nil {
			return err
		}
	}
	boxes := []cloudconfig.Plan{p}
	if media := p.MediaServers(); len(media) > 0 {
		token, err := probeProxyToken()
		if err != nil {
			return err
		}
		if p, err = p.WithProxyToken(token); err != nil {
			return err
		}
		boxes[0] = p
		for _, m := range media {
			mp, err := p.ForMediaServer(m.Name)
			if err != nil {
				return err
			}
			boxes = append(boxes, mp)
		}
	}
	for _, box := range boxes {
		if _, err := box.Render(sec); err != nil {
			if schema.KeyOf(err) != "" {
				return config.Namespaced(err)
			}
			return fmt.Errorf("rendering the cloud-config: %w", err)
		}
	}
	return nil
}

// probeProxyToken stands in for the stack's proxy token before it
// exists: a key pair of the same size, generated once.
var probeProxyToken = sync.OnceValues(func() (cloudconfig.ProxyToken, error) {
	return cloudconfig.NewProxyToken(proxyTokenID)
})
