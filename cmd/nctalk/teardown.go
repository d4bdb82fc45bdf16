package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/hcloudapi"
	"github.com/nctalk/nctalk/infra/outputs"
)

const teardownAbout = `Deletes the backend, run where you run pulumi (the project directory,
logged in to the state backend, HCLOUD_TOKEN set).

Without --release it keeps the primary IPs and the state volume
(nctalk:keepOnTeardown, the default, protects them in Pulumi and at
Hetzner), so a later ` + "`pulumi up`" + ` builds the backend again on the same
addresses with the same certificates:

  1. pulumi state protect   what Hetzner protects but Pulumi no longer does
  2. pulumi destroy --exclude-protected
  3. pulumi stack import    the stack outputs become what is left: ipv4,
                            ipv6 and tornDown (nothing describes a deleted
                            server or secret)

--release deletes the addresses and the volume too, from any protection
state:

  1. Hetzner's delete protection off for the primary IPs and the volume
     (the Hetzner API: HCLOUD_TOKEN and HCLOUD_ENDPOINT, else the stack's
     hcloud:token and hcloud:endpoint)
  2. pulumi state unprotect --all
  3. pulumi destroy

--yes is passed on to pulumi; without it Pulumi asks before it deletes.
A pulumi command or the Hetzner API failing is exit 1 (its output is
shown; nothing is deleted before the destroy).`

// stateResource is one resource of `pulumi stack export`.
type stateResource struct {
	URN     string         `json:"urn"`
	Type    string         `json:"type"`
	ID      string         `json:"id"`
	Protect bool           `json:"protect"`
	Outputs map[string]any `json:"outputs"`
}

// Resource types teardown treats specially.
const (
	stackType     = "pulumi:pulumi:Stack"
	primaryIPType = "hcloud:index/primaryIp:PrimaryIp"
	volumeType    = "hcloud:index/volume:Volume"
)

// readState decodes `pulumi stack export`.
func readState(export []byte) ([]stateResource, error) {
	var doc struct {
		Deployment struct {
			Resources []stateResource `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(export, &doc); err != nil {
		return nil, fmt.Errorf("`pulumi stack export` did not print a deployment: %w", err)
	}
	return doc.Deployment.Resources, nil
}

// hetznerProtected says whether Hetzner protects the resource from
// deletion (its deleteProtection output).
func (r stateResource) hetznerProtected() bool {
	v, _ := r.Outputs["deleteProtection"].(bool)
	return v
}

// kept returns what a teardown keeps: every resource Pulumi or Hetzner
// protects.
func kept(res []stateResource) []stateResource {
	var out []stateResource
	for _, r := range res {
		if r.Protect || r.hetznerProtected() {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b stateResource) int { return strings.Compare(a.URN, b.URN) })
	return out
}

// urnName is the type and name at the end of a URN, for display.
func urnName(urn string) string {
	i := strings.LastIndex(urn, "$")
	if i < 0 {
		i = strings.LastIndex(urn, "::") - 1
	}
	return urn[i+1:]
}

// teardown is one run of the command.
type teardown struct {
	stack, pulumiBin string
	yes              bool
	stdin            io.Reader
	stdout, stderr   io.Writer
}

func runTeardown(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fl := newFlagSet("teardown", "nctalk teardown [--stack NAME] [--pulumi PATH] [--release] [--yes]", teardownAbout, stdout, stderr)
	stack := fl.stackFlag("")
	pulumiBin := fl.pulumiFlag()
	release := fl.Bool("release", "delete the primary IPs and the state volume too")
	yes := fl.Bool("yes", "pass --yes to pulumi (no confirmation prompts)")
	if code, done := fl.parse(args); done {
		return code
	}
	td := teardown{stack: *stack, pulumiBin: *pulumiBin, yes: *yes, stdin: stdin, stdout: stdout, stderr: stderr}
	var err error
	if *release {
		err = td.release()
	} else {
		err = td.keep()
	}
	if err != nil {
		return fl.fail(exitFailed, "%v", err)
	}
	return exitOK
}

// args adds --stack and, for commands that ask, --yes.
func (td teardown) args(a ...string) []string {
	if td.stack != "" {
		a = append(a, "--stack", td.stack)
	}
	if td.yes && (a[0] == "destroy" || a[0] == "state") {
		a = append(a, "--yes")
	}
	return a
}

// run runs a pulumi command that talks to the admin (its output shown).
func (td teardown) run(a ...string) error {
	a = td.args(a...)
	fmt.Fprintf(td.stderr, "nctalk teardown: running %s %s\n", td.pulumiBin, strings.Join(a, " "))
	c := exec.Command(td.pulumiBin, a...)
	c.Stdin, c.Stdout, c.Stderr = td.stdin, td.stdout, td.stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", td.pulumiBin, a[0], err)
	}
	return nil
}

// capture runs a pulumi command whose output is data (never shown: `config
// get hcloud:token` prints a secret).
func (td teardown) capture(a ...string) ([]byte, error) {
	a = td.args(a...)
	c := exec.Command(td.pulumiBin, a...)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Run(); err != nil {
		return nil, fmt.Errorf("%s %s %s: %w\n%s", td.pulumiBin, a[0], a[1], err, errOut.String())
	}
	return out.Bytes(), nil
}

func (td teardown) state() ([]stateResource, []byte, error) {
	export, err := td.capture("stack", "export")
	if err != nil {
		return nil, nil, err
	}
	res, err := readState(export)
	return res, export, err
}

// keep deletes everything but what is protected, then leaves outputs that
// describe only what is left.
func (td teardown) keep() error {
	res, _, err := td.state()
	if err != nil {
		return err
	}
	keep := kept(res)
	if len(keep) == 0 {
		fmt.Fprintln(td.stderr, "nctalk teardown: nothing is protected (nctalk:keepOnTeardown is false): the addresses and the volume are deleted too")
		return td.run("destroy", "--exclude-protected")
	}
	fmt.Fprintln(td.stderr, "nctalk teardown: keeping (protected):")
	var reprotect []string
	for _, r := range keep {
		fmt.Fprintf(td.stderr, "  %s\n", urnName(r.URN))
		if !r.Protect {
			reprotect = append(reprotect, r.URN)
		}
	}
	if len(reprotect) > 0 {
		// Hetzner refuses to delete them (423): protected in Pulumi too,
		// the destroy leaves them alone instead of failing on them.
		if err := td.run(append([]string{"state", "protect"}, reprotect...)...); err != nil {
			return fmt.Errorf("%w; nothing was deleted", err)
		}
	}
	if err := td.run("destroy", "--exclude-protected"); err != nil {
		return err
	}
	if err := td.markTornDown(); err != nil {
		return fmt.Errorf("the backend is deleted, but its stack outputs still describe it: %w", err)
	}
	fmt.Fprintln(td.stderr, "nctalk teardown: done; the kept addresses and volume are still billed by Hetzner. `pulumi up` rebuilds the backend on them (new secrets: run nctalk occ afterwards); `nctalk teardown --release` deletes them.")
	return nil
}

// markTornDown replaces the outputs of the stack and of the component,
// which still describe the deleted server and secrets, by what is left:
// the kept addresses and a tornDown note (outputs.KeyTornDown).
func (td teardown) markTornDown() error {
	res, export, err := td.state()
	if err != nil {
		return err
	}
	note := tornDownNote(res, time.Now().UTC())
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(export))
	dec.UseNumber() // the state's numbers as they are
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	deployment, _ := doc["deployment"].(map[string]any)
	resources, _ := deployment["resources"].([]any)
	for _, raw := range resources {
		r, _ := raw.(map[string]any)
		switch r["type"] {
		case stackType:
			old, _ := r["outputs"].(map[string]any)
			left := map[string]any{outputs.KeyTornDown: note}
			if keptType(res, primaryIPType) {
				for _, k := range []string{"ipv4", "ipv6"} {
					if v, ok := old[k]; ok {
						left[k] = v
					}
				}
			}
			r["outputs"] = left
		case outputs.ComponentType:
			r["outputs"] = map[string]any{outputs.KeyTornDown: note}
		}
	}
	f, err := os.CreateTemp("", "nctalk-teardown-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := json.NewEncoder(f).Encode(doc); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = td.capture("stack", "import", "--file", f.Name())
	return err
}

// keptType says whether a resource of typ is kept.
func keptType(res []stateResource, typ string) bool {
	return slices.ContainsFunc(res, func(r stateResource) bool { return r.Type == typ })
}

// tornDownNote says when the backend was torn down and what is left.
func tornDownNote(res []stateResource, now time.Time) string {
	var left []string
	for _, r := range res {
		if name, _ := r.Outputs["name"].(string); name != "" && (r.Type == primaryIPType || r.Type == volumeType) {
			left = append(left, name)
		}
	}
	slices.Sort(left)
	return fmt.Sprintf("torn down by nctalk teardown at %s; kept: %s. `pulumi up` builds the backend again on them; `nctalk teardown --release` deletes them",
		now.Format(time.RFC3339), strings.Join(left, ", "))
}

// release deletes everything, the kept addresses and volume included, from
// any protection state: Hetzner's delete protection off first (through its
// API: a `pulumi up` would run the whole program, and rebuild a torn-down
// backend), then Pulumi's, then a plain destroy.
func (td teardown) release() error {
	res, _, err := td.state()
	if err != nil {
		return err
	}
	var hetzner []stateResource
	for _, r := range res {
		if r.hetznerProtected() && (r.Type == primaryIPType || r.Type == volumeType) {
			hetzner = append(hetzner, r)
		}
	}
	if len(hetzner) > 0 {
		client, err := td.hetznerClient()
		if err != nil {
			return fmt.Errorf("%w; nothing was deleted", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		for _, r := range hetzner {
			kind := hcloudapi.PrimaryIPs
			if r.Type == volumeType {
				kind = hcloudapi.Volumes
			}
			fmt.Fprintf(td.stderr, "nctalk teardown: --release: Hetzner's delete protection off for %s\n", urnName(r.URN))
			if err := client.Unprotect(ctx, kind, r.ID); err != nil {
				return fmt.Errorf("%w; nothing was deleted", err)
			}
		}
	}
	if slices.ContainsFunc(res, func(r stateResource) bool { return r.Protect }) {
		if err := td.run("state", "unprotect", "--all"); err != nil {
			return fmt.Errorf("%w; nothing was deleted", err)
		}
	}
	if err := td.run("destroy"); err != nil {
		return err
	}
	fmt.Fprintln(td.stderr, "nctalk teardown: deleted everything, the addresses and the volume included. Remove the backend from Nextcloud (occ talk:signaling:delete, talk:turn:delete, talk:stun:delete) and any DNS records you made by hand.")
	return nil
}

// hetznerClient finds the API endpoint and token as the provider does: the
// environment first, then the stack's config.
func (td teardown) hetznerClient() (hcloudapi.Client, error) {
	c := hcloudapi.Client{Endpoint: os.Getenv("HCLOUD_ENDPOINT"), Token: os.Getenv("HCLOUD_TOKEN"), PollInterval: time.Second}
	get := func(key string) string {
		out, err := td.capture("config", "get", key)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if c.Endpoint == "" {
		c.Endpoint = get("hcloud:endpoint")
	}
	if c.Endpoint == "" {
		c.Endpoint = hcloudapi.DefaultEndpoint
	}
	if c.Token == "" {
		c.Token = get("hcloud:token")
	}
	if c.Token == "" {
		return c, fmt.Errorf("--release needs the Hetzner API token: set HCLOUD_TOKEN (or the stack's hcloud:token)")
	}
	return c, nil
}
