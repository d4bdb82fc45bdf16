package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

const teardownUsage = `usage: nctalk teardown [--stack NAME] [--release] [--yes]

Deletes the backend with the Pulumi CLI, from the project directory:

  pulumi destroy --exclude-protected [--stack NAME] [--yes]

With nctalk:keepOnTeardown (the default) the primary IPs and the state
volume are protected (Pulumi protect, Hetzner delete protection): they and
the component that holds them stay, so a later ` + "`pulumi up`" + ` builds the backend
again on the same addresses with the same certificates. Everything else
(server, firewall, SSH keys, DNS records, reverse DNS, generated secrets)
is deleted. It lists what it keeps before Pulumi asks for confirmation.

--release deletes the addresses and the volume too:

  pulumi config set --path nctalk:keepOnTeardown false   (a boolean in Pulumi.<stack>.yaml)
  pulumi up        (drops the protection; nothing else changes)
  pulumi destroy

flags:
`

// stateResource is one resource of `pulumi stack export`.
type stateResource struct {
	URN     string `json:"urn"`
	Type    string `json:"type"`
	Protect bool   `json:"protect"`
}

// protectedResources reads `pulumi stack export` and returns the URNs of the
// protected resources.
func protectedResources(export []byte) ([]string, error) {
	var doc struct {
		Deployment struct {
			Resources []stateResource `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, fmt.Errorf("`pulumi stack export` did not print a deployment: %w", err)
	}
	var urns []string
	for _, r := range doc.Deployment.Resources {
		if r.Protect {
			urns = append(urns, r.URN)
		}
	}
	slices.Sort(urns)
	return urns, nil
}

// urnName is the type and name at the end of a URN, for display.
func urnName(urn string) string {
	i := strings.LastIndex(urn, "$")
	if i < 0 {
		i = strings.LastIndex(urn, "::") - 1
	}
	return urn[i+1:]
}

func runTeardown(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := newFlagSet("teardown", teardownUsage, stderr)
	stack := fl.String("stack", "", "Pulumi stack (default: the selected one)")
	release := fl.Bool("release", false, "delete the primary IPs and the state volume too")
	yes := fl.Bool("yes", false, "pass --yes to pulumi (no confirmation prompts)")
	pulumiBin := fl.String("pulumi", "pulumi", "the Pulumi CLI")
	if code, done := parseFlags(fl, args); done {
		return code
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "nctalk teardown: no arguments are taken (got %q)\n", fl.Arg(0))
		return exitBadInput
	}
	stackArgs := func(a ...string) []string {
		if *stack != "" {
			a = append(a, "--stack", *stack)
		}
		if *yes && (a[0] == "up" || a[0] == "destroy") {
			a = append(a, "--yes")
		}
		return a
	}
	pulumi := func(a ...string) error {
		fmt.Fprintf(stderr, "nctalk teardown: running %s %s\n", *pulumiBin, strings.Join(a, " "))
		c := exec.Command(*pulumiBin, a...)
		c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
		if err := c.Run(); err != nil {
			return fmt.Errorf("%s %s: %w", *pulumiBin, a[0], err)
		}
		return nil
	}

	export := exec.Command(*pulumiBin, stackArgs("stack", "export")...)
	var out, errOut bytes.Buffer
	export.Stdout, export.Stderr = &out, &errOut
	if err := export.Run(); err != nil {
		fmt.Fprintf(stderr, "nctalk teardown: %s stack export: %v\n%s", *pulumiBin, err, errOut.String())
		return exitFailed
	}
	protected, err := protectedResources(out.Bytes())
	if err != nil {
		fmt.Fprintf(stderr, "nctalk teardown: %v\n", err)
		return exitFailed
	}

	if *release {
		if len(protected) > 0 {
			fmt.Fprintln(stderr, "nctalk teardown: --release: dropping the protection of the primary IPs and the state volume first")
			if err := pulumi(stackArgs("config", "set", "--path", "nctalk:keepOnTeardown", "false")...); err != nil {
				fmt.Fprintf(stderr, "nctalk teardown: %v\n", err)
				return exitFailed
			}
			if err := pulumi(stackArgs("up")...); err != nil {
				fmt.Fprintf(stderr, "nctalk teardown: %v; nothing was deleted\n", err)
				return exitFailed
			}
		}
		if err := pulumi(stackArgs("destroy")...); err != nil {
			fmt.Fprintf(stderr, "nctalk teardown: %v\n", err)
			return exitFailed
		}
		fmt.Fprintln(stderr, "nctalk teardown: deleted everything, the addresses and the volume included. Remove the backend from Nextcloud (occ talk:signaling:delete, talk:turn:delete, talk:stun:delete) and any DNS records you made by hand.")
		return exitOK
	}

	if len(protected) == 0 {
		fmt.Fprintln(stderr, "nctalk teardown: nothing is protected (nctalk:keepOnTeardown is false): the addresses and the volume are deleted too")
	} else {
		fmt.Fprintln(stderr, "nctalk teardown: keeping (protected):")
		for _, urn := range protected {
			fmt.Fprintf(stderr, "  %s\n", urnName(urn))
		}
	}
	if err := pulumi(stackArgs("destroy", "--exclude-protected")...); err != nil {
		fmt.Fprintf(stderr, "nctalk teardown: %v\n", err)
		return exitFailed
	}
	if len(protected) > 0 {
		fmt.Fprintln(stderr, "nctalk teardown: done; the kept addresses and volume are still billed by Hetzner. `pulumi up` rebuilds the backend on them (new secrets: run nctalk occ afterwards); `nctalk teardown --release` deletes them.")
	}
	return exitOK
}
