package infra

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/cloudconfig"
)

// cloudConfig is the rendered user data (secret, it carries every secret)
// and its redacted copy (not secret, for previews and the stack output).
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
		return []string{string(doc), string(cloudconfig.Redact(doc, sec))}, nil
	}).(pulumi.StringArrayOutput)
	return cloudConfig{
		userData: rendered.Index(pulumi.Int(0)),
		redacted: pulumi.Unsecret(rendered.Index(pulumi.Int(1))).(pulumi.StringOutput),
	}
}
