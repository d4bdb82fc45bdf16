package infra

import (
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/schema"
)

// secretOutputs are the backend's secrets, every one a secret output, in
// schema.Secrets' order; signaling and turn are the two shared with
// Nextcloud, which the stack exports.
type secretOutputs struct {
	list            []pulumi.StringOutput
	signaling, turn pulumi.StringOutput
}

// all returns the secrets in schema.Secrets' order, for pulumi.All.
func (s secretOutputs) all() []any {
	out := make([]any, len(s.list))
	for i, o := range s.list {
		out[i] = o
	}
	return out
}

// newSecrets generates every secret of schema.Secrets with RandomPassword
// (stable across updates: the resource names are the specs' Resource),
// except the shared secrets given in config.
func newSecrets(ctx *pulumi.Context, name string, cfg config.Config, opts ...pulumi.ResourceOption) (secretOutputs, error) {
	var s secretOutputs
	for _, spec := range schema.Secrets {
		var out pulumi.StringOutput
		if v := cfg.GivenSecret(spec.Name); v.IsSet() {
			out = pulumi.ToSecret(pulumi.String(v.Reveal())).(pulumi.StringOutput)
		} else {
			p, err := random.NewRandomPassword(ctx, name+"-"+spec.Resource, &random.RandomPasswordArgs{
				Length:  pulumi.Int(spec.Length),
				Special: pulumi.Bool(false),
			}, opts...)
			if err != nil {
				return secretOutputs{}, err
			}
			out = pulumi.ToSecret(p.Result).(pulumi.StringOutput)
		}
		s.list = append(s.list, out)
		switch spec.Name {
		case schema.KeySignalingSecret:
			s.signaling = out
		case schema.KeyTURNSecret:
			s.turn = out
		}
	}
	return s, nil
}
