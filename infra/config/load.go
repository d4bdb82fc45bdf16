package config

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/schema"
)

// Load reads every `nctalk:` key with schema.Load, applying the defaults of
// the keys that are not set, and validates the result once (Validated),
// which derives its Plan. It registers
// nothing; every error names its key as `nctalk:<key>` and says what would
// be valid.
func Load(ctx *pulumi.Context) (Config, error) {
	var c Config
	if err := schema.Load(stackSource{ctx}, schema.StackReader, &c); err != nil {
		return Config{}, fmt.Errorf("stack configuration: %w", Namespaced(err))
	}
	return c.Validated()
}

// stackSource is the stack's Pulumi config as a schema.Source.
type stackSource struct{ ctx *pulumi.Context }

// Lookup returns `nctalk:<key>` as Pulumi holds it: text (lists and maps
// as JSON), and whether it is stored encrypted.
func (s stackSource) Lookup(key string) (schema.Value, bool, error) {
	full := schema.Namespace + ":" + key
	text, ok := s.ctx.GetConfig(full)
	if !ok {
		return schema.Value{}, false, nil
	}
	return schema.Value{Text: text, Encrypted: s.ctx.IsConfigSecret(full)}, true, nil
}

// Names returns nil: a Pulumi program cannot list the stack's keys.
func (stackSource) Names() []string { return nil }
