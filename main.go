// Command nctalk is the Pulumi program: it loads the stack configuration,
// builds a Nextcloud Talk High-Performance Backend on Hetzner Cloud and
// exports what Nextcloud needs. Run it with `pulumi up`.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/nctalk/nctalk/infra"
	"github.com/nctalk/nctalk/infra/config"
)

func main() { pulumi.Run(program) }

// program validates the whole configuration before registering anything.
func program(ctx *pulumi.Context) error {
	cfg, err := config.Load(ctx)
	if err != nil {
		return err
	}
	backend, err := infra.NewTalkBackend(ctx, "nctalk", &infra.TalkBackendArgs{Config: cfg})
	if err != nil {
		return err
	}
	backend.Export(ctx)
	return nil
}
