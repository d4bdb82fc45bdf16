package infra

import (
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/infra/config"
)

// secretOutputs are the backend's shared secrets, every one a secret output.
type secretOutputs struct {
	signaling, turn, sessionHashKey, sessionBlockKey, internalClient, janusAPIKey pulumi.StringOutput
}

// all returns the secrets in the order render expects them.
func (s secretOutputs) all() []any {
	return []any{s.signaling, s.turn, s.sessionHashKey, s.sessionBlockKey, s.internalClient, s.janusAPIKey}
}

// Lengths of the generated secrets. The session keys take the lengths the
// signaling server requires (hash key 32 or 64, block key 16, 24 or 32).
const (
	sharedSecretLength    = 64
	sessionHashKeyLength  = 64
	sessionBlockKeyLength = 32
)

// newSecrets generates every secret with RandomPassword (stable across
// updates) except the shared secrets given in config.
func newSecrets(ctx *pulumi.Context, name string, cfg config.Config, opts ...pulumi.ResourceOption) (secretOutputs, error) {
	password := func(suffix string, length int) (pulumi.StringOutput, error) {
		p, err := random.NewRandomPassword(ctx, name+"-"+suffix, &random.RandomPasswordArgs{
			Length:  pulumi.Int(length),
			Special: pulumi.Bool(false),
		}, opts...)
		if err != nil {
			return pulumi.StringOutput{}, err
		}
		return pulumi.ToSecret(p.Result).(pulumi.StringOutput), nil
	}
	given := func(s config.Secret, suffix string) (pulumi.StringOutput, error) {
		if s.IsSet() {
			return pulumi.ToSecret(pulumi.String(s.Reveal())).(pulumi.StringOutput), nil
		}
		return password(suffix, sharedSecretLength)
	}
	var s secretOutputs
	var err error
	steps := []func() error{
		func() (e error) { s.signaling, e = given(cfg.SignalingSecret, "signaling-secret"); return },
		func() (e error) { s.turn, e = given(cfg.TURNSecret, "turn-secret"); return },
		func() (e error) { s.sessionHashKey, e = password("session-hash-key", sessionHashKeyLength); return },
		func() (e error) { s.sessionBlockKey, e = password("session-block-key", sessionBlockKeyLength); return },
		func() (e error) { s.internalClient, e = password("internal-client-secret", sharedSecretLength); return },
		func() (e error) { s.janusAPIKey, e = password("janus-api-key", sharedSecretLength); return },
	}
	for _, step := range steps {
		if err = step(); err != nil {
			return secretOutputs{}, err
		}
	}
	return s, nil
}
