// Package engine holds what the real Pulumi engine printed when it ran the
// nctalk program through a backend's life (tests/engine/lifecycle, against
// the Hetzner API double), and the inputs of that run. The CLI's tests read
// these fixtures, so CI tests `nctalk preview-summary`, `cloud-config`,
// `teardown` and the outputs reader on what the engine really prints, not
// on what a test author believed it prints.
//
// Re-record after a change of infra/, main.go, the workflows or the CLI's
// Pulumi-facing code (docs/testing.md, "The real Pulumi engine"):
//
//	go run ./tests/engine/lifecycle -toolchain DIR
package engine

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed testdata
var fixtures embed.FS

// Fixture returns the recorded file name (e.g. "url.preview.json").
func Fixture(name string) ([]byte, error) {
	b, err := fixtures.ReadFile("testdata/" + name)
	if err != nil {
		return nil, fmt.Errorf("engine fixture %s: %w (re-record: go run ./tests/engine/lifecycle)", name, err)
	}
	return b, nil
}

// The run's fixed inputs. The addresses the double hands out and the names
// are documentation values.
const (
	// Domain is the backend's domain; Zone the DNS zone that gets its records.
	Domain = "talk.nctalk.test"
	Zone   = "nctalk.test"
	// DeprecatedServerType is the type the double reports deprecated (still
	// orderable) from the start, the type the stack is built on: Hetzner
	// deprecating the type of a running stack must not lock it.
	DeprecatedServerType = "cx23"
	// adminKey is the admin's SSH public key (sshPublicKeys).
	adminKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF6vBETkDs1Y2lfftnHZ44axD+n6mqcrcffWJB5jey08 admin@nctalk.test"
)

// DoubleIPv4Ranges are the ranges the double hands out IPv4 primary IPs
// from; the run makes them local, so "the server" answers on them.
var DoubleIPv4Ranges = []string{"203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24"}

// BoxSSHPorts are the ports the run's stand-in for the server's sshd
// listens on (sshPort's values in the run).
var BoxSSHPorts = []int{22}

// BoxRecord is what the stand-in box recorded of one in-place change it
// was sent (box/apply-NNN.json in the run's scratch folder).
type BoxRecord struct {
	// Apply counts the bundles the box was sent, from 1.
	Apply int
	// Units are the bundle's digests; Changes what nctalk-apply does with
	// them (cloudconfig.DescribeChanges of what the box ran before).
	Units   map[string]map[string]string
	Changes string
	// Files are the paths the bundle writes.
	Files []string
	// Failed is set when the box was told to refuse the change.
	Failed bool
	// Server is the name of the server whose address the engine reached
	// (the main box's is Domain, a media server's <name>.Domain).
	Server string
	// Command is what the client asked for (SSH_ORIGINAL_COMMAND): the
	// forced command runs whatever it is; cloudconfig.DrainCommand drains.
	Command string
	// Began and At are when the box got the command and when it finished
	// it (RFC 3339, UTC, nanoseconds), to order it against the double's
	// requests.
	Began, At string
}

// Setting is one `pulumi config set`.
type Setting struct {
	Key, Value string
	// Path passes --path (list entries); Type passes --type (bool, int).
	Path bool
	Type string
}

// BaseConfig is the stack's config before the changes.
func BaseConfig() []Setting {
	return []Setting{
		{Key: "nctalk:domain", Value: Domain},
		{Key: "nctalk:nextcloudUrls[0]", Value: "https://cloud.nctalk.test", Path: true},
		{Key: "nctalk:acmeEmail", Value: "admin@nctalk.test"},
		{Key: "nctalk:acmeStaging", Value: "true", Type: "bool"},
		{Key: "nctalk:sshPublicKeys[0]", Value: adminKey, Path: true},
		{Key: "nctalk:sshAllowedCidrs[0]", Value: "203.0.113.0/24", Path: true},
		{Key: "nctalk:sshAllowedCidrs[1]", Value: "2001:db8::/32", Path: true},
		{Key: "nctalk:dnsZone", Value: Zone},
		{Key: "nctalk:serverType", Value: DeprecatedServerType},
	}
}

// The changes the run makes, in order.
var (
	// AddedNextcloudURL can be applied on the running box.
	AddedNextcloudURL = Setting{Key: "nctalk:nextcloudUrls[1]", Value: "https://cloud2.nctalk.test", Path: true}
	// AddedSSHSource can be applied on the running box.
	AddedSSHSource = Setting{Key: "nctalk:sshAllowedCidrs[2]", Value: "192.0.2.0/24", Path: true}
	// OtherImage needs another machine: the server is replaced.
	OtherImage = Setting{Key: "nctalk:image", Value: "debian-12"}
	// OtherServerType is a resize: in place, with a power cycle.
	OtherServerType = Setting{Key: "nctalk:serverType", Value: "cx33"}
	// NotOnTheBox changes nothing the box uses: no command reaches it.
	NotOnTheBox = Setting{Key: "nctalk:keepOnTeardown", Value: "false", Type: "bool"}
	// ThirdNextcloudURL is the change whose apply the box refuses once.
	ThirdNextcloudURL = Setting{Key: "nctalk:nextcloudUrls[2]", Value: "https://cloud3.nctalk.test", Path: true}
	// MediaServers are the media servers the stack scales out to, in two
	// locations, at the end of the life; the last is then removed again
	// (it drains, then goes).
	MediaServers = []Setting{
		{Key: "nctalk:mediaServers.media-1", Value: "hel1/cx33", Path: true},
		{Key: "nctalk:mediaServers.media-2", Value: "ash/cpx32", Path: true},
	}
)

// TURNSecretURN is the generated TURN secret's resource, replaced by the
// run to rotate it.
const TURNSecretURN = "urn:pulumi:engine::nctalk::nctalk:index:TalkBackend$random:index/randomPassword:RandomPassword::nctalk-turn-secret"

// WorkflowPreviewCommand returns the shell line of preview.yml's step
// "pulumi preview --json" (in the checkout at repo), the command whose
// output the pull-request summary reads.
func WorkflowPreviewCommand(repo string) (string, error) {
	path := filepath.Join(repo, ".github", "workflows", "preview.yml")
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string `yaml:"name"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			if s.Name == previewStepName {
				return strings.TrimSpace(s.Run), nil
			}
		}
	}
	return "", fmt.Errorf("%s has no step named %q", path, previewStepName)
}

// SecretOutputs are the stack outputs that are secrets.
var SecretOutputs = []string{"signalingSecret", "turnSecret"}

// previewStepName is the name of preview.yml's step that writes the JSON
// preview and the plan for the summary.
const previewStepName = "pulumi preview --json"
