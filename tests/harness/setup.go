package harness

import (
	"context"
	"fmt"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
)

// prepareFiles runs the rendered setup script's prepare_files step in the
// daemons' view of the file system: it sets the owners and modes of the
// configs and runs the rendered certificate deploy hook, which copies the
// (test CA's) certificate for nginx and coturn. So the daemons read files
// with exactly the permissions they get on the VM.
func (s *Stack) prepareFiles(ctx context.Context) error {
	// The script's top-level variables and one-line helpers, then the function.
	script := fmt.Sprintf(`set -euo pipefail
setup=%[1]s
eval "$(grep -E '^[A-Za-z_][A-Za-z0-9_]*=|^[A-Za-z_]+\(\) \{.*\}$' "$setup")"
fn=$(sed -n '/^prepare_files() {/,/^}/p' "$setup")
[ -n "$fn" ] || { echo "$setup has no prepare_files() function" >&2; exit 3; }
eval "$fn"
prepare_files
`, shellQuote(cloudconfig.SetupScript))
	logs := newLogBuffer(64<<10, nil)
	p, err := startDaemon("prepare-files", []string{"bash", "-c", script}, s.env, s.mounts, "", logs)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop(9, 0)
		return fmt.Errorf("prepare_files of %s: %w", cloudconfig.SetupScript, ctx.Err())
	case <-time.After(30 * time.Second):
		p.stop(9, 0)
		return fmt.Errorf("prepare_files of %s did not finish in 30s:\n%s", cloudconfig.SetupScript, logs)
	}
	if p.err != nil {
		return fmt.Errorf("prepare_files of %s failed (%v):\n%s", cloudconfig.SetupScript, p.err, strings.TrimSpace(logs.String()))
	}
	return nil
}

// Run runs argv to completion in the daemons' view of the file system (the
// stack's mounts plus extra), as root, and returns its combined output.
func (s *Stack) Run(ctx context.Context, extra []Mount, argv ...string) ([]byte, error) {
	logs := newLogBuffer(256<<10, nil)
	mounts := append(append([]Mount{}, s.mounts...), extra...)
	p, err := startDaemon(path.Base(argv[0]), argv, s.env, mounts, "", logs)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop(syscall.SIGKILL, 0)
		return []byte(logs.String()), fmt.Errorf("%s: %w", strings.Join(argv, " "), ctx.Err())
	}
	if p.err != nil {
		return []byte(logs.String()), fmt.Errorf("%s: %w", strings.Join(argv, " "), p.err)
	}
	return []byte(logs.String()), nil
}
