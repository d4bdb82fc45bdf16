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
	if err := schema.Load(stackValues(ctx), schema.StackReader, &c); err != nil {
		return Config{}, fmt.Errorf("stack configuration: %w", Namespaced(err))
	}
	return c.Validated()
}

// stackValues reads every key the stack reads from its Pulumi config
// (`nctalk:<key>`), as Pulumi holds it: text (lists and maps as JSON), and
// whether it is stored encrypted. schema.Load then reads the values, not
// the Pulumi context: the config key's path only runs down.
func stackValues(ctx *pulumi.Context) schema.Values {
	v := schema.Values{}
	for _, key := range schema.KeysFor(schema.StackReader) {
		full := schema.Namespace + ":" + key
		if text, ok := ctx.GetConfig(full); ok {
			v[key] = schema.Value{Text: text, Encrypted: ctx.IsConfigSecret(full)}
		}
	}
	return v
}
