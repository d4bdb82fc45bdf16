package infra

import (
	"errors"
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

// renderCloudConfig renders the VM's cloud-config inside an apply over the
// secrets, so the user data is a secret output. volumeID is nil when there
// is no state volume; otherwise StateDevice is the volume's by-id path.
func renderCloudConfig(s cloudconfig.Settings, secrets secretOutputs, volumeID pulumi.IDOutput, hasVolume bool) cloudConfig {
	inputs := secrets.all()
	if hasVolume {
		inputs = append(inputs, volumeID)
	}
	rendered := pulumi.All(inputs...).ApplyT(func(v []any) ([]string, error) {
		sec := cloudconfig.Secrets{
			SignalingSecret:      v[0].(string),
			TURNSecret:           v[1].(string),
			SessionHashKey:       v[2].(string),
			SessionBlockKey:      v[3].(string),
			InternalClientSecret: v[4].(string),
			JanusAPIKey:          v[5].(string),
		}
		if err := sec.Validate(); err != nil {
			return nil, fmt.Errorf("secrets for the cloud-config: %w", err)
		}
		settings := s
		if hasVolume {
			settings.StateDevice = volumeDevice(string(v[6].(pulumi.ID)))
		}
		doc, err := cloudconfig.Render(settings, sec)
		if err != nil {
			return nil, fmt.Errorf("rendering the cloud-config: %w", err)
		}
		// Redacted by position (the same templates, markers for secrets),
		// not by searching the document for the secrets' values.
		redacted, err := cloudconfig.RenderRedacted(settings, sec)
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

// preflightRender renders the cloud-config once with stand-in secrets of the
// real lengths, before anything is registered, so a document that cannot be
// rendered (e.g. over Hetzner's 32 KiB user data limit) fails as a config
// error instead of halfway through an update.
func preflightRender(cfg config.Config) error {
	pad := func(s config.Secret, n int) string {
		if s.IsSet() {
			return s.Reveal()
		}
		return strings.Repeat("x", n)
	}
	sec := cloudconfig.Secrets{
		SignalingSecret:      pad(cfg.SignalingSecret, sharedSecretLength),
		TURNSecret:           pad(cfg.TURNSecret, sharedSecretLength),
		SessionHashKey:       strings.Repeat("x", sessionHashKeyLength),
		SessionBlockKey:      strings.Repeat("x", sessionBlockKeyLength),
		InternalClientSecret: strings.Repeat("x", sharedSecretLength),
		JanusAPIKey:          strings.Repeat("x", sharedSecretLength),
	}
	s := cfg.Settings
	if cfg.VolumeSize > 0 {
		s.StateDevice = volumeDevice(probeVolumeID)
	}
	if _, err := cloudconfig.Render(s, sec); err != nil {
		var ce *schema.KeyError
		if errors.As(err, &ce) {
			return &config.KeyError{Err: ce}
		}
		return fmt.Errorf("rendering the cloud-config: %w", err)
	}
	return nil
}
