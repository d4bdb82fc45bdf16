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
	if s.signaling, err = given(cfg.SignalingSecret, "signaling-secret"); err != nil {
		return secretOutputs{}, err
	}
	if s.turn, err = given(cfg.TURNSecret, "turn-secret"); err != nil {
		return secretOutputs{}, err
	}
	if s.sessionHashKey, err = password("session-hash-key", sessionHashKeyLength); err != nil {
		return secretOutputs{}, err
	}
	if s.sessionBlockKey, err = password("session-block-key", sessionBlockKeyLength); err != nil {
		return secretOutputs{}, err
	}
	if s.internalClient, err = password("internal-client-secret", sharedSecretLength); err != nil {
		return secretOutputs{}, err
	}
	if s.janusAPIKey, err = password("janus-api-key", sharedSecretLength); err != nil {
		return secretOutputs{}, err
	}
	return s, nil
}
