package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

const renderUsage = `usage: nctalk render --config FILE [--secrets FILE] > cloud-config.yaml

Renders the #cloud-config of the Talk backend from FILE (at most 256 KiB), a YAML file with the
stack's config keys without the "nctalk:" prefix, or a Pulumi stack file
(Pulumi.<stack>.yaml; its nctalk: keys are read). Cloud-only keys such as
location, serverType, image, sshKeySelector, dnsZone, volumeSize and
keepOnTeardown are ignored; stateDevice names a block device for the certificates. Missing
secrets are generated; with --secrets they are read from and saved to that
file (mode 0600), so rendering again gives the same document.

stdout gets the cloud-config and nothing else; stderr gets what to enter in
Nextcloud's Talk settings.

flags:
`

// maxInputFileBytes caps the --config and --secrets files: both are a few
// hundred bytes in practice, and the limit refuses a huge file before it is
// parsed (a 64 MiB file took over 300 MiB of memory to parse and render).
const maxInputFileBytes = 256 << 10

// readInputFile reads a --config or --secrets file of at most
// maxInputFileBytes; a larger one is refused without reading the rest.
func readInputFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxInputFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(raw) > maxInputFileBytes {
		return nil, fmt.Errorf("%s is over the %d KiB limit for input files; a config or secrets file is a few hundred bytes", path, maxInputFileBytes>>10)
	}
	return raw, nil
}

// renderKeys are the keys the render command reads from the config file.
var renderKeys = []string{
	cloudconfig.KeyDomain, cloudconfig.KeyNextcloudURLs, cloudconfig.KeyACMEEmail,
	cloudconfig.KeyACMEStaging, cloudconfig.KeyACMEServer, cloudconfig.KeyRegistryMirror, cloudconfig.KeySSHPublicKeys, cloudconfig.KeySSHAllowedCIDRs,
	cloudconfig.KeySSHPort, cloudconfig.KeyJanusRTPPorts, cloudconfig.KeyTURNRelayPorts,
	cloudconfig.KeyImages, cloudconfig.KeySignalingSecret, cloudconfig.KeyTURNSecret,
	cloudconfig.KeyStateDevice, cloudconfig.KeyTURNOn443, cloudconfig.KeyTURNDomain,
}

// cloudOnlyKeys are the stack's Hetzner keys; render accepts and ignores
// them so one file serves both. A test keeps this list equal to infra/config's.
var cloudOnlyKeys = []string{"location", "serverType", "image", "sshKeySelector", "dnsZone", "volumeSize", "keepOnTeardown"}

func runRender(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fl := newFlagSet("render", renderUsage, stderr)
	configPath := fl.String("config", "", "YAML file with the settings (required)")
	secretsPath := fl.String("secrets", "", "YAML file the secrets are read from and generated ones saved to")
	if code, done := parseFlags(fl, args); done {
		return code
	}
	if *configPath == "" || fl.NArg() > 0 {
		fmt.Fprintln(stderr, "nctalk render: --config FILE is required and no arguments are taken")
		fl.Usage()
		return exitBadInput
	}
	raw, err := readInputFile(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "nctalk render: %v\n", err)
		return exitBadInput
	}
	settings, sec, err := parseRenderConfig(raw)
	if err != nil {
		fmt.Fprintf(stderr, "nctalk render: %s: %v\n", *configPath, err)
		return exitBadInput
	}
	if err := settings.Validate(); err != nil {
		fmt.Fprintf(stderr, "nctalk render: %s: %v\n", *configPath, err)
		return exitBadInput
	}
	saved := cloudconfig.Secrets{}
	if *secretsPath != "" {
		if saved, err = readSecretsFile(*secretsPath, stderr); err != nil {
			fmt.Fprintf(stderr, "nctalk render: %v\n", err)
			return exitBadInput
		}
	}
	// The config file's shared secrets win over saved ones.
	for _, ns := range saved.List() {
		if ns.Value != "" && !isSet(sec, ns.Name) {
			sec.Set(ns.Name, ns.Value)
		}
	}
	generated, err := sec.FillMissing(nil)
	if err != nil {
		fmt.Fprintf(stderr, "nctalk render: %v\n", err)
		return exitFailed
	}
	doc, err := cloudconfig.Render(settings, sec)
	if err != nil {
		fmt.Fprintf(stderr, "nctalk render: %v\n", err)
		return exitBadInput
	}
	if *secretsPath != "" && sec != saved {
		if err := writeSecretsFile(*secretsPath, sec); err != nil {
			fmt.Fprintf(stderr, "nctalk render: %v\n", err)
			return exitFailed
		}
	}
	if _, err := stdout.Write(doc); err != nil {
		fmt.Fprintf(stderr, "nctalk render: writing the document: %v\n", err)
		return exitFailed
	}
	printNextcloudValues(stderr, settings, sec, len(doc), generated, *secretsPath)
	return exitOK
}

func isSet(sec cloudconfig.Secrets, name string) bool {
	for _, ns := range sec.List() {
		if ns.Name == name {
			return ns.Value != ""
		}
	}
	return false
}

// printNextcloudValues tells the admin what to enter in Nextcloud.
func printNextcloudValues(w io.Writer, s cloudconfig.Settings, sec cloudconfig.Secrets, size int, generated []string, secretsPath string) {
	fmt.Fprintf(w, "nctalk render: cloud-config for %s on stdout (%d bytes).\n", s.Domain, size)
	switch {
	case len(generated) > 0 && secretsPath != "":
		fmt.Fprintf(w, "Generated %s; saved in %s.\n", strings.Join(generated, ", "), secretsPath)
	case len(generated) > 0:
		fmt.Fprintf(w, "Generated %s; not saved (use --secrets FILE to render the same document again).\n", strings.Join(generated, ", "))
	}
	ends := s.Endpoints()
	fmt.Fprintf(w, "\nIn Nextcloud (Administration settings > Talk, or occ talk:signaling:add, talk:turn:add, talk:stun:add):\n")
	fmt.Fprintf(w, "  High-performance backend URL: %s (validate SSL certificate: on)\n", ends.SignalingURL())
	fmt.Fprintf(w, "  High-performance backend secret: %s\n", sec.SignalingSecret)
	for _, stun := range ends.STUNServers() {
		fmt.Fprintf(w, "  STUN server: %s\n", stun)
	}
	for _, turn := range ends.TURNServers() {
		fmt.Fprintf(w, "  TURN server: %s %s %s\n", turn.Schemes, turn.Server, turn.Protocols)
	}
	fmt.Fprintf(w, "  TURN secret: %s\n", sec.TURNSecret)
	fmt.Fprintf(w, "\nThe VM is ready when `cloud-init status --wait` returns (marker %s).\n", cloudconfig.ReadyMarker)
}

// parseRenderConfig reads the config file: every key is checked for its
// type, unknown keys are an error naming them, cloud-only keys are ignored.
func parseRenderConfig(raw []byte) (cloudconfig.Settings, cloudconfig.Secrets, error) {
	var s cloudconfig.Settings
	var sec cloudconfig.Secrets
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return s, sec, yamlSyntaxError(raw, err)
	}
	if stack, ok := doc["config"]; ok && len(doc) == 1 {
		// A Pulumi stack file (Pulumi.<stack>.yaml): read its `nctalk:` keys
		// and leave other namespaces (hcloud:token, …) alone.
		var all map[string]yaml.Node
		if err := stack.Decode(&all); err != nil {
			return s, sec, fmt.Errorf("config: not a mapping of config keys: %w", err)
		}
		doc = map[string]yaml.Node{}
		for k, v := range all {
			if !strings.Contains(k, ":") || strings.HasPrefix(k, "nctalk:") {
				doc[k] = v
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(doc)) {
		if n := doc[key]; n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "secure" {
			k := strings.TrimPrefix(key, "nctalk:")
			return s, sec, &cloudconfig.ConfigError{Key: k, Problem: "is encrypted by Pulumi; put the plain value in the --secrets file (or leave it out to generate one)"}
		}
	}
	var unknown []string
	for key := range doc {
		k := strings.TrimPrefix(key, "nctalk:")
		if !slices.Contains(renderKeys, k) && !slices.Contains(cloudOnlyKeys, k) {
			unknown = append(unknown, key)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return s, sec, &cloudconfig.ConfigError{Key: unknown[0], Problem: fmt.Sprintf(
			"unknown key(s) %s; known keys: %s (ignored: %s)", strings.Join(unknown, ", "),
			strings.Join(renderKeys, ", "), strings.Join(cloudOnlyKeys, ", "))}
	}
	get := func(key string) (*yaml.Node, bool) {
		if n, ok := doc[key]; ok {
			return &n, true
		}
		n, ok := doc["nctalk:"+key]
		return &n, ok
	}
	decode := func(key string, dst any, want string) error {
		n, ok := get(key)
		if !ok {
			return nil
		}
		if err := n.Decode(dst); err != nil {
			return &cloudconfig.ConfigError{Key: key, Problem: "want " + want}
		}
		return nil
	}
	portRange := func(key string, dst *schema.PortRange) error {
		n, ok := get(key)
		if !ok {
			return nil
		}
		r, err := schema.ParsePortRange(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			return &cloudconfig.ConfigError{Key: key, Problem: fmt.Sprintf("%q is not a port range; want first-last such as 20000-20100", n.Value)}
		}
		*dst = r
		return nil
	}
	var sshPort string
	turnOn443 := true
	errs := []error{
		decode(cloudconfig.KeyDomain, &s.Domain, "a host name such as talk.example.com"),
		decode(cloudconfig.KeyNextcloudURLs, &s.NextcloudURLs, "a list of URLs such as [https://cloud.example.com]"),
		decode(cloudconfig.KeyACMEEmail, &s.ACMEEmail, "an e-mail address"),
		decode(cloudconfig.KeyACMEStaging, &s.ACMEStaging, "true or false"),
		decode(cloudconfig.KeyACMEServer, &s.ACMEServer, "an ACME directory URL such as "+cloudconfig.LetsEncryptDirectory),
		decode(cloudconfig.KeyRegistryMirror, &s.RegistryMirror, "a registry mirror URL such as https://mirror.example.com"),
		decode(cloudconfig.KeySSHPublicKeys, &s.SSHAuthorizedKeys, "a list of OpenSSH public keys"),
		decode(cloudconfig.KeySSHAllowedCIDRs, &s.SSHAllowedCIDRs, "a list of CIDRs such as [203.0.113.0/24]"),
		decode(cloudconfig.KeySSHPort, &sshPort, "a port number such as 22"),
		portRange(cloudconfig.KeyJanusRTPPorts, &s.JanusRTPPorts),
		portRange(cloudconfig.KeyTURNRelayPorts, &s.TURNRelayPorts),
		decode(cloudconfig.KeyImages, &s.Images, "a mapping of service name to image, e.g. {nats: nats:2.11.9-alpine}"),
		decode(cloudconfig.KeyStateDevice, &s.StateDevice, "a device path such as /dev/disk/by-id/…"),
		decode(cloudconfig.KeySignalingSecret, &sec.SignalingSecret, "a string"),
		decode(cloudconfig.KeyTURNSecret, &sec.TURNSecret, "a string"),
		decode(cloudconfig.KeyTURNOn443, &turnOn443, "true or false"),
		decode(cloudconfig.KeyTURNDomain, &s.TURNDomain, "a host name such as turn.example.com"),
	}
	if err := errors.Join(errs...); err != nil {
		return s, sec, err
	}
	s.TURN443Disabled = !turnOn443
	if sshPort != "" {
		p, err := strconv.Atoi(sshPort)
		if err != nil {
			return s, sec, &cloudconfig.ConfigError{Key: cloudconfig.KeySSHPort, Problem: fmt.Sprintf("%q is not a port number; want 1-65535", sshPort)}
		}
		if p == 0 {
			return s, sec, &cloudconfig.ConfigError{Key: cloudconfig.KeySSHPort, Problem: "0 is not a port; want 1-65535"}
		}
		s.SSHPort = p
	}
	return s, sec, nil
}

// readSecretsFile reads a secrets file written by writeSecretsFile; a
// missing file is an empty set. It warns on stderr when the file is
// readable by group or others.
func readSecretsFile(path string, stderr io.Writer) (cloudconfig.Secrets, error) {
	var sec cloudconfig.Secrets
	raw, err := readInputFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return sec, nil
	}
	if err != nil {
		return sec, fmt.Errorf("secrets: %w", err)
	}
	if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "nctalk render: warning: %s is readable by others (mode %04o); run chmod 600 %s\n", path, info.Mode().Perm(), path)
	}
	var m map[string]string
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return sec, &cloudconfig.ConfigError{Key: "secrets", Problem: fmt.Sprintf("%s is not a mapping of secret names to strings", path)}
	}
	for _, name := range sortedNames(m) {
		if !sec.Set(name, m[name]) {
			return sec, &cloudconfig.ConfigError{Key: name, Problem: fmt.Sprintf("unknown secret in %s", path)}
		}
	}
	// Validate what the file holds; missing secrets are generated later.
	complete := sec
	if _, err := complete.FillMissing(nil); err != nil {
		return sec, err
	}
	if err := complete.Validate(); err != nil {
		return sec, fmt.Errorf("%s: %w", path, err)
	}
	return sec, nil
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// writeSecretsFile saves every secret with mode 0600, replacing the file
// atomically.
func writeSecretsFile(path string, sec cloudconfig.Secrets) error {
	var b bytes.Buffer
	b.WriteString("# nctalk render secrets: keep private; rendering with the same secrets gives the same document.\n")
	for _, ns := range sec.List() {
		fmt.Fprintf(&b, "%s: %s\n", ns.Name, ns.Value)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".nctalk-secrets-*")
	if err != nil {
		return fmt.Errorf("saving secrets: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("saving secrets: %w", err)
	}
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("saving secrets: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving secrets: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("saving secrets: %w", err)
	}
	return nil
}
