package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// stackFile is a Pulumi.<stack>.yaml file.
type stackFile struct {
	Config map[string]any `yaml:"config"`
}

// projectFile is the part of Pulumi.yaml that declares the config keys.
type projectFile struct {
	Name   string         `yaml:"name"`
	Config map[string]any `yaml:"config"`
}

func readYAML(t *testing.T, name string, dst any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, dst); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestEnvironmentExamples keeps the dev and prod examples side by side:
// the same keys, all declared in Pulumi.yaml, no secret in plain text,
// and the differences the README promises.
func TestEnvironmentExamples(t *testing.T) {
	var project projectFile
	readYAML(t, "Pulumi.yaml", &project)
	var dev, prod stackFile
	readYAML(t, "Pulumi.dev.yaml.example", &dev)
	readYAML(t, "Pulumi.prod.yaml.example", &prod)

	keys := func(f stackFile) []string {
		var out []string
		for k := range f.Config {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	devKeys, prodKeys := keys(dev), keys(prod)
	if !slices.Equal(devKeys, prodKeys) {
		t.Errorf("examples set different keys:\n dev  %v\n prod %v", devKeys, prodKeys)
	}
	for _, k := range prodKeys {
		ns, key, _ := strings.Cut(k, ":")
		if ns != project.Name {
			t.Errorf("prod example key %q is not in the %q namespace", k, project.Name)
			continue
		}
		if _, ok := project.Config[key]; !ok {
			t.Errorf("prod example key %q is not declared in Pulumi.yaml", k)
		}
	}
	for _, f := range []struct {
		name string
		file stackFile
	}{{"dev", dev}, {"prod", prod}} {
		for _, secret := range []string{"signalingSecret", "turnSecret"} {
			if v, ok := f.file.Config[project.Name+":"+secret]; ok {
				t.Errorf("%s example sets %s in plain text (%v): secrets go in with `pulumi config set --secret`", f.name, secret, v)
			}
		}
		if _, ok := f.file.Config["hcloud:token"]; ok {
			t.Errorf("%s example holds hcloud:token", f.name)
		}
	}

	get := func(f stackFile, key string) any { return f.Config[project.Name+":"+key] }
	for _, key := range []string{"domain", "serverType"} {
		if get(dev, key) == get(prod, key) {
			t.Errorf("dev and prod share %s %v; the examples should show two environments", key, get(dev, key))
		}
	}
	if get(dev, "acmeStaging") != true || get(prod, "acmeStaging") != false {
		t.Errorf("acmeStaging: dev %v, prod %v; want staging on dev only", get(dev, "acmeStaging"), get(prod, "acmeStaging"))
	}
}
