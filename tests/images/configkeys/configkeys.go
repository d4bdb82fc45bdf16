// Package configkeys holds, for each pinned image (cloudconfig.DefaultImages)
// and each substitute of another version (tests/images), the config keys
// and directives that version of the program accepts, recorded from its own
// source or build (testdata/*.json, written by ./record with the repository,
// tag, commit and file each list comes from), and checks a rendered config
// file against them: a key the version does not know, a section it ignores
// or a directive in a context it is not allowed in is an error.
package configkeys

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Grammars of the rendered config files.
const (
	// GrammarINI is nextcloud-spreed-signaling's goconf: [section], key = value.
	GrammarINI = "ini"
	// GrammarCoturn is turnserver.conf: one option a line, name or name=value.
	GrammarCoturn = "coturn"
	// GrammarNATS is nats-server's config: key: value, key = value, key { … }.
	GrammarNATS = "nats"
	// GrammarJanus is Janus' libconfig (.jcfg): section: { key = value }.
	GrammarJanus = "janus"
	// GrammarNginx is nginx.conf: directives and blocks in contexts.
	GrammarNginx = "nginx"
)

// Contract is what one version of one program accepts in its config file.
type Contract struct {
	// Service is the compose service (cloudconfig.Service*).
	Service string `json:"service"`
	// Program and Version name what the lists are of.
	Program string `json:"program"`
	Version string `json:"version"`
	// Grammar is the config file's grammar (Grammar*).
	Grammar string `json:"grammar"`
	// Sources say where each list was recorded from.
	Sources []Source `json:"sources"`
	// Recorded is when ./record wrote the file (UTC, RFC 3339).
	Recorded string `json:"recorded"`
	// Sections maps a section (INI, Janus: per file, "<file>/<section>";
	// coturn, NATS: "" for the top level) to the keys the version reads in
	// it. Nginx: "" maps each directive to nothing; see Directives.
	Sections map[string][]string `json:"sections,omitempty"`
	// Deprecated are keys the version still reads but documents as
	// deprecated, or reads only as an undocumented fallback, by section.
	Deprecated map[string][]string `json:"deprecated,omitempty"`
	// NamedSections: INI sections whose names are listed in another
	// section's key take their keys from a template section
	// (signaling: the ids in [backend] backends use [backend-id]).
	NamedSections *NamedSections `json:"namedSections,omitempty"`
	// Directives maps an nginx directive to the contexts it is allowed
	// in ("main", "events", "http", "http/server", "http/location",
	// "http/upstream", "stream", "stream/server", "stream/upstream", …;
	// "any" for NGX_ANY_CONF).
	Directives map[string][]string `json:"directives,omitempty"`
}

// Source is where a list was recorded from.
type Source struct {
	// Repo is the upstream repository (or the Debian package).
	Repo string `json:"repo"`
	// Ref is the tag or package version; Commit the commit it names (or the
	// package file's SHA-256).
	Ref    string `json:"ref"`
	Commit string `json:"commit"`
	// Paths are the files read.
	Paths []string `json:"paths"`
	// How says what was taken from them.
	How string `json:"how"`
}

// NamedSections says which INI sections are named by a key's value.
type NamedSections struct {
	Section  string `json:"section"`
	Key      string `json:"key"`
	Template string `json:"template"`
}

//go:embed testdata/*.json
var recorded embed.FS

// AnyKey in a section's key list: the section takes any key (e.g. the
// signaling proxy's [tokens], keyed by token id).
const AnyKey = "*"

// FileName is the testdata file of a program version.
func FileName(service, version string) string { return service + "-" + version + ".json" }

// load returns the recorded contract of service at version.
func load(service, version string) (Contract, error) {
	b, err := fs.ReadFile(recorded, path.Join("testdata", FileName(service, version)))
	if err != nil {
		return Contract{}, fmt.Errorf("no recorded config contract for %s %s (go run ./tests/images/configkeys/record): %w", service, version, err)
	}
	var c Contract
	if err := json.Unmarshal(b, &c); err != nil {
		return Contract{}, fmt.Errorf("testdata/%s: %w", FileName(service, version), err)
	}
	if c.Service != service || c.Version != version {
		return Contract{}, fmt.Errorf("testdata/%s holds %s %s", FileName(service, version), c.Service, c.Version)
	}
	return c, nil
}

// all returns every recorded contract, by file name.
func all() ([]Contract, error) {
	names, err := fs.Glob(recorded, "testdata/*.json")
	if err != nil {
		return nil, err
	}
	var out []Contract
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".json")
		i := strings.LastIndex(base, "-")
		service, version := base[:i], base[i+1:]
		c, err := load(service, version)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Use is one key or directive a rendered file sets.
type Use struct {
	// Section is where it is set ("" at the top level; nginx: the
	// context, e.g. "http/server").
	Section string
	// Key is the key or directive; "" for the opening of a section.
	Key string
	// Value is the value as written (INI only).
	Value string
	// Line is its line in the file (1-based).
	Line int
}

func (u Use) String() string {
	if u.Section == "" {
		return fmt.Sprintf("line %d: %s", u.Line, u.Key)
	}
	if u.Key == "" {
		return fmt.Sprintf("line %d: [%s]", u.Line, u.Section)
	}
	return fmt.Sprintf("line %d: [%s] %s", u.Line, u.Section, u.Key)
}

// Finding is one rendered key measured against a contract.
type Finding struct {
	Use
	// Problem is "" when the version reads the key as written.
	Problem string
	// Deprecated is set when the version reads it but calls it deprecated.
	Deprecated bool
}

// Check measures the uses of one rendered file (parsed by Parse) against
// the contract. file is the file's base name, for grammars whose sections
// are per file (Janus).
func (c Contract) Check(file string, uses []Use) []Finding {
	named := map[string]bool{}
	if ns := c.NamedSections; ns != nil {
		for _, u := range uses {
			if u.Section == ns.Section && u.Key == ns.Key {
				for _, id := range strings.Split(u.Value, ",") {
					named[strings.TrimSpace(id)] = true
				}
			}
		}
	}
	var out []Finding
	for _, u := range uses {
		f := Finding{Use: u}
		if c.Grammar == GrammarNginx {
			ctxs, ok := c.Directives[u.Key]
			switch {
			case !ok:
				f.Problem = fmt.Sprintf("%s %s has no directive %q", c.Program, c.Version, u.Key)
			case !slices.Contains(ctxs, u.Section) && !slices.Contains(ctxs, "any"):
				f.Problem = fmt.Sprintf("%s %s does not allow %q in %s (only in %s)", c.Program, c.Version, u.Key, u.Section, strings.Join(ctxs, ", "))
			}
			out = append(out, f)
			continue
		}
		section := u.Section
		if c.Grammar == GrammarJanus {
			section = file + "/" + u.Section
		}
		if c.NamedSections != nil && named[u.Section] {
			section = c.NamedSections.Template
		}
		keys, ok := c.Sections[section]
		switch {
		case !ok:
			f.Problem = fmt.Sprintf("%s %s ignores section %q", c.Program, c.Version, section)
			if ns := c.NamedSections; ns != nil {
				f.Problem += fmt.Sprintf(" (not one of its sections, not named in [%s] %s)", ns.Section, ns.Key)
			}
		case u.Key != "" && !slices.Contains(keys, u.Key) && !slices.Contains(keys, AnyKey):
			f.Problem = fmt.Sprintf("%s %s does not know %q in %q", c.Program, c.Version, u.Key, section)
		}
		f.Deprecated = slices.Contains(c.Deprecated[section], u.Key)
		out = append(out, f)
	}
	return out
}
