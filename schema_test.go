package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"gopkg.in/yaml.v3"

	"github.com/nctalk/nctalk/schema"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite Pulumi.yaml's config block from schema.Keys")

// TestSchemaIsTheOneSource holds everything that restates the schema
// (package schema: keys, secrets, outputs) against it, in one place:
// Pulumi.yaml is generated from schema.Keys (go test -run
// TestSchemaIsTheOneSource -update-schema rewrites it), the tables of
// docs/configuration.md and the example stack files are checked against
// it. (infra's tests hold the stack's exports against schema.Outputs.)
func TestSchemaIsTheOneSource(t *testing.T) {
	t.Run("Pulumi.yaml", func(t *testing.T) {
		want := pulumiYAML(t)
		if *updateSchema {
			if err := os.WriteFile("Pulumi.yaml", want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile("Pulumi.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Pulumi.yaml is not what schema.Keys generates; run go test . -run TestSchemaIsTheOneSource -update-schema and review the diff")
		}
		proj, err := workspace.LoadProject("Pulumi.yaml")
		if err != nil {
			t.Fatalf("Pulumi.yaml: %v", err)
		}
		if err := proj.Validate(); err != nil {
			t.Fatalf("Pulumi.yaml: %v", err)
		}
		if proj.Name.String() != schema.Namespace || proj.Runtime.Name() != "go" {
			t.Errorf("project %s runtime %s; want %s, go", proj.Name, proj.Runtime.Name(), schema.Namespace)
		}
	})

	doc := readDoc(t, "docs/configuration.md")
	t.Run("configuration table", func(t *testing.T) {
		var want [][]string
		for _, k := range schema.Keys {
			if k.Scope == schema.RenderOnly {
				continue
			}
			want = append(want, []string{"`" + k.Name + "`", docType(k.Kind), docDefault(k)})
		}
		checkTable(t, "configuration table", tableRows(section(doc, "## Configuration reference", "### ")), want)
	})
	t.Run("value grammar table", func(t *testing.T) {
		var want [][]string
		for _, k := range schema.Keys {
			if k.Grammar == nil {
				continue
			}
			entries := "—"
			if k.Grammar.MaxEntries > 0 {
				entries = strconv.Itoa(k.Grammar.MaxEntries)
			}
			want = append(want, []string{"`" + k.Name + "`", k.Grammar.Chars, strconv.Itoa(k.Grammar.MaxBytes), entries})
		}
		checkTable(t, "value grammar table", tableRows(section(doc, "### Value grammar", "## ")), want)
	})
	t.Run("outputs table", func(t *testing.T) {
		var want [][]string
		for _, o := range schema.Outputs {
			secret := "no"
			if o.Secret {
				secret = "yes"
			}
			want = append(want, []string{"`" + o.Name + "`", secret})
		}
		checkTable(t, "outputs table", tableRows(section(doc, "## Stack outputs", "## ")), want)
	})
	t.Run("example stack files", func(t *testing.T) {
		examples, _ := filepath.Glob("Pulumi.*.yaml.example")
		if len(examples) == 0 {
			t.Fatal("no Pulumi.*.yaml.example")
		}
		for _, ex := range examples {
			raw, err := os.ReadFile(ex)
			if err != nil {
				t.Fatal(err)
			}
			var stack struct {
				Config map[string]any `yaml:"config"`
			}
			if err := yaml.Unmarshal(raw, &stack); err != nil {
				t.Fatalf("%s: %v", ex, err)
			}
			for k := range stack.Config {
				name, ok := strings.CutPrefix(k, schema.Namespace+":")
				if !ok {
					t.Errorf("%s: key %s is not in the %s namespace", ex, k, schema.Namespace)
					continue
				}
				if key, ok := schema.Lookup(name); !ok || key.Scope == schema.RenderOnly {
					t.Errorf("%s: %s is not a stack config key", ex, k)
				}
			}
			for _, k := range schema.Keys {
				if _, ok := stack.Config[schema.Namespace+":"+k.Name]; k.Required && !ok {
					t.Errorf("%s lacks the required key %s", ex, k.Name)
				}
			}
		}
	})
}

// pulumiYAML generates Pulumi.yaml: the project, and one config entry per
// stack key of schema.Keys with its type, default and description.
func pulumiYAML(t *testing.T) []byte {
	t.Helper()
	var b strings.Builder
	b.WriteString(`name: nctalk
runtime: go
description: A Nextcloud Talk High-Performance Backend (signaling, Janus, NATS, coturn, nginx + Let's Encrypt) on Hetzner Cloud.
config:
  # Generated from schema.Keys (package schema) by
  #   go test . -run TestSchemaIsTheOneSource -update-schema
  # docs/configuration.md explains each key; the stack reads them as nctalk:<key>.
`)
	for _, k := range schema.Keys {
		if k.Scope == schema.RenderOnly {
			continue
		}
		b.WriteString("  " + k.Name + ":\n")
		switch k.Kind {
		case schema.KindBool:
			b.WriteString("    type: boolean\n")
		case schema.KindInt:
			b.WriteString("    type: integer\n")
		case schema.KindList:
			b.WriteString("    type: array\n    items:\n      type: string\n")
		case schema.KindMap:
			b.WriteString("    type: object\n")
		default:
			b.WriteString("    type: string\n")
		}
		if !k.Required {
			b.WriteString("    default: " + flowJSON(t, k.Default) + "\n")
		}
		b.WriteString("    description: " + yamlScalar(t, k.Doc) + "\n")
	}
	return []byte(b.String())
}

// flowJSON writes a default as JSON, which YAML reads as flow style, with
// a space after each comma.
func flowJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), `","`, `", "`)
}

// yamlScalar writes s as one YAML scalar, quoted only where YAML needs it.
func yamlScalar(t *testing.T, s string) string {
	t.Helper()
	out, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// docType is how the configuration table names a kind.
func docType(k schema.Kind) string {
	return map[schema.Kind]string{
		schema.KindString: "string", schema.KindBool: "bool", schema.KindInt: "int", schema.KindList: "list",
		schema.KindMap: "map", schema.KindPortRange: "string", schema.KindSecret: "secret",
	}[k]
}

// docDefault is how the configuration table writes a key's default.
func docDefault(k schema.Key) string {
	switch {
	case k.Required:
		return "required"
	case k.DefaultDoc == "generated":
		return k.DefaultDoc
	case k.DefaultDoc != "":
		return "`" + k.DefaultDoc + "`"
	}
	if s, ok := k.Default.(string); ok && s != "" {
		return "`" + s + "`"
	}
	b, _ := json.Marshal(k.Default)
	return "`" + strings.ReplaceAll(string(b), `","`, `", "`) + "`"
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// section returns the text after the heading line title up to the next
// heading that starts with next.
func section(doc, title, next string) string {
	_, rest, ok := strings.Cut(doc, "\n"+title+"\n")
	if !ok {
		return ""
	}
	if i := strings.Index(rest, "\n"+next); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// tableRows returns the cells of a Markdown table's body rows (lines that
// start with "| `").
func tableRows(text string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		line = strings.ReplaceAll(line, `\|`, "\x00")
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.ReplaceAll(strings.TrimSpace(c), "\x00", "|"))
		}
		rows = append(rows, cells)
	}
	return rows
}

// checkTable compares the first columns of each row with want, row by row.
func checkTable(t *testing.T, name string, rows, want [][]string) {
	t.Helper()
	if len(rows) != len(want) {
		var first []string
		for _, r := range rows {
			first = append(first, r[0])
		}
		var wantFirst []string
		for _, w := range want {
			wantFirst = append(wantFirst, w[0])
		}
		var missing []string
		for _, w := range want {
			if !slices.Contains(first, w[0]) {
				missing = append(missing, "| "+strings.Join(w, " | ")+" | … |")
			}
		}
		t.Fatalf("docs/configuration.md's %s has rows %v; the schema has %v; rows to add (in the schema's order):\n%s",
			name, first, wantFirst, strings.Join(missing, "\n"))
	}
	for i, w := range want {
		if len(rows[i]) < len(w) || !slices.Equal(rows[i][:len(w)], w) {
			t.Errorf("docs/configuration.md's %s row %d starts %q; the schema says %q", name, i+1, rows[i][:min(len(rows[i]), len(w))], w)
		}
	}
}
