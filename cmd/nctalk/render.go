package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

const renderAbout = `Renders the #cloud-config of the Talk backend from FILE (at most 256 KiB), a YAML file with the
stack's config keys without the "nctalk:" prefix, or a Pulumi stack file
(Pulumi.<stack>.yaml; its nctalk: keys are read). The stack's Hetzner keys
(location, serverType, image, sshKeySelector, dnsZone, volumeSize,
keepOnTeardown) are ignored; stateDevice names a block device for the certificates. Missing
secrets are generated; with --secrets they are read from and saved to that
file (mode 0600), so rendering again gives the same document.

stdout gets the cloud-config and nothing else; stderr gets what to enter in
Nextcloud's Talk settings. A bad value is exit 2 with an error naming its key.`

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

func runRender(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fl := newFlagSet("render", "nctalk render --config FILE [--secrets FILE] > cloud-config.yaml", renderAbout, stdout, stderr)
	configPath := fl.String("config", "FILE", "", "YAML file with the settings (required)")
	secretsPath := fl.String("secrets", "FILE", "", "YAML file the secrets are read from and generated ones saved to")
	if code, done := fl.parse(args); done {
		return code
	}
	if *configPath == "" {
		fmt.Fprintln(stderr, "nctalk render: --config FILE is required")
		fmt.Fprintln(stderr)
		fl.usage(stderr)
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
	plan, err := cloudconfig.NewPlan(settings)
	if err != nil {
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
	doc, err := plan.Render(sec)
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
	printNextcloudValues(stderr, plan, sec, len(doc), generated, *secretsPath)
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
func printNextcloudValues(w io.Writer, plan cloudconfig.Plan, sec cloudconfig.Secrets, size int, generated []string, secretsPath string) {
	ends := plan.Endpoints
	fmt.Fprintf(w, "nctalk render: cloud-config for %s on stdout (%d bytes).\n", ends.Domain, size)
	switch {
	case len(generated) > 0 && secretsPath != "":
		fmt.Fprintf(w, "Generated %s; saved in %s.\n", strings.Join(generated, ", "), secretsPath)
	case len(generated) > 0:
		fmt.Fprintf(w, "Generated %s; not saved (use --secrets FILE to render the same document again).\n", strings.Join(generated, ", "))
	}
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

// parseRenderConfig reads the config file with schema.Load, the loader the
// stack uses: every key is checked for its type, unknown keys are an error
// naming them, stack-only keys are ignored.
func parseRenderConfig(raw []byte) (cloudconfig.Settings, cloudconfig.Secrets, error) {
	var in struct {
		Settings cloudconfig.Settings
		Secrets  cloudconfig.Secrets
	}
	src, err := schema.ParseYAML(raw)
	var ke *schema.KeyError
	if errors.As(err, &ke) {
		return in.Settings, in.Secrets, err
	}
	if err != nil {
		return in.Settings, in.Secrets, yamlSyntaxError(raw, err)
	}
	err = schema.Load(src, schema.RenderReader, &in)
	return in.Settings, in.Secrets, err
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
		return sec, &schema.KeyError{Key: "secrets", Problem: fmt.Sprintf("%s is not a mapping of secret names to strings", path)}
	}
	for _, name := range sortedNames(m) {
		if !sec.Set(name, m[name]) {
			return sec, &schema.KeyError{Key: name, Problem: fmt.Sprintf("unknown secret in %s", path)}
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
