package infra

import (
	"fmt"
	"strings"

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

// renderCloudConfig renders the plan's cloud-config and bundle inside an
// apply over the secrets and the stack's access keys, so the user data and
// the bundle are secret outputs. volumeID is nil when there is no state
// volume; otherwise the state device is the volume's by-id path. The
// settings are not validated again: the plan was.
func renderCloudConfig(plan cloudconfig.Plan, secrets secretOutputs, keys access, volumeID pulumi.IDOutput, hasVolume bool) cloudConfig {
	inputs := append(secrets.all(), keys.hostPrivate, keys.hostPublic, keys.deployPublic)
	if hasVolume {
		inputs = append(inputs, volumeID)
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
		if hasVolume {
			if p, err = p.WithStateDevice(volumeDevice(string(v[n+3].(pulumi.ID)))); err != nil {
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
	if cfg.VolumeSize > 0 {
		var err error
		if p, err = p.WithStateDevice(volumeDevice(probeVolumeID)); err != nil {
			return err
		}
	}
	if _, err := p.Render(sec); err != nil {
		if schema.KeyOf(err) != "" {
			return config.Namespaced(err)
		}
		return fmt.Errorf("rendering the cloud-config: %w", err)
	}
	return nil
}
