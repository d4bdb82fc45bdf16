package infra

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/schema"
)

// cloudConfig is the server's user data (the rendered document packed by
// cloudconfig.EncodeUserData; secret, it carries every secret) and the
// document's redacted copy (not secret, for previews and the stack output).
type cloudConfig struct {
	userData, redacted pulumi.StringOutput
}

// renderCloudConfig renders the plan's cloud-config inside an apply over
// the secrets, so the user data is a secret output. volumeID is nil when
// there is no state volume; otherwise the state device is the volume's
// by-id path. The settings are not validated again: the plan was.
func renderCloudConfig(plan cloudconfig.Plan, secrets secretOutputs, volumeID pulumi.IDOutput, hasVolume bool) cloudConfig {
	inputs := secrets.all()
	if hasVolume {
		inputs = append(inputs, volumeID)
	}
	rendered := pulumi.All(inputs...).ApplyT(func(v []any) ([]string, error) {
		var sec cloudconfig.Secrets
		for i, spec := range schema.Secrets {
			sec.Set(spec.Name, v[i].(string))
		}
		p := plan
		if hasVolume {
			var err error
			if p, err = plan.WithStateDevice(volumeDevice(string(v[len(schema.Secrets)].(pulumi.ID)))); err != nil {
				return nil, err
			}
		}
		doc, err := p.Render(sec)
		if err != nil {
			return nil, fmt.Errorf("rendering the cloud-config: %w", err)
		}
		// Redacted by position (the same templates, markers for secrets),
		// not by searching the document for the secrets' values.
		redacted, err := p.RenderRedacted()
		if err != nil {
			return nil, fmt.Errorf("rendering the redacted cloud-config: %w", err)
		}
		return []string{cloudconfig.EncodeUserData(doc), string(redacted)}, nil
	}).(pulumi.StringArrayOutput)
	return cloudConfig{
		userData: rendered.Index(pulumi.Int(0)),
		redacted: pulumi.Unsecret(rendered.Index(pulumi.Int(1))).(pulumi.StringOutput),
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
