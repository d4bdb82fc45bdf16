package harness

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nctalk/nctalk/cloudconfig"
)

// TransformEnv is what the transforms need to know about this machine.
type TransformEnv struct {
	Domain string
	// JanusLibDir is Debian's Janus module folder, e.g.
	// /usr/lib/x86_64-linux-gnu/janus; found by JanusLibDir when empty.
	JanusLibDir string
}

// Change records one transform applied to one config file.
type Change struct {
	Path   string // the write_files path
	Rule   string // the rule's name
	Before string // the matched text
	After  string // its replacement
}

func (c Change) String() string {
	return fmt.Sprintf("%s: %s: %q -> %q", c.Path, c.Rule, c.Before, c.After)
}

// rule is one unavoidable difference between the VM (containers) and this
// machine (Debian's packages on loopback).
type rule struct {
	name string
	path string
	re   *regexp.Regexp
	// repl returns the replacement of one match.
	repl func(env TransformEnv, match []string) string
}

// transformRules is THE list of differences between the rendered configs
// and what runs here. Each rule must match its file (a rule that no longer
// matches is an error, so the list cannot silently go stale). Everything
// else runs byte for byte as rendered.
var transformRules = []rule{
	{
		// The Janus image keeps its modules under /usr/local/lib/janus (or
		// /opt/janus/lib/janus); Debian's package under /usr/lib/<triplet>/janus.
		name: "janus module folders: image path -> Debian package path",
		path: cloudconfig.JanusConfigDir + "/janus.jcfg",
		re:   regexp.MustCompile(`(?m)^(\s*)(plugins|transports|events|loggers)_folder\s*=\s*"([^"]*)"`),
		repl: func(env TransformEnv, m []string) string {
			return fmt.Sprintf(`%s%s_folder = "%s/%s"`, m[1], m[2], env.JanusLibDir, m[2])
		},
	},
}

// JanusLibDir finds Debian's Janus module folder.
func JanusLibDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/*/janus/plugins")
	if len(matches) == 0 {
		return "", fmt.Errorf("%w: Janus modules (/usr/lib/*/janus/plugins); %s", ErrMissingDaemons, InstallHint)
	}
	return filepath.Dir(matches[0]), nil
}

// Transform applies transformRules to the files in place and returns what
// it changed. A rule whose file is missing or that matches nothing is an
// error naming the file and the rule.
func Transform(files map[string]WrittenFile, env TransformEnv) ([]Change, error) {
	if env.JanusLibDir == "" {
		dir, err := JanusLibDir()
		if err != nil {
			return nil, err
		}
		env.JanusLibDir = dir
	}
	var changes []Change
	for _, r := range transformRules {
		f, ok := files[r.path]
		if !ok {
			return nil, fmt.Errorf("transform %q: the cloud-config writes no %s", r.name, r.path)
		}
		matched := false
		out := r.re.ReplaceAllStringFunc(string(f.Content), func(s string) string {
			matched = true
			after := r.repl(env, r.re.FindStringSubmatch(s))
			if after != s {
				changes = append(changes, Change{Path: r.path, Rule: r.name, Before: strings.TrimSpace(s), After: strings.TrimSpace(after)})
			}
			return after
		})
		if !matched {
			return nil, fmt.Errorf("transform %q matches nothing in %s: update tests/harness/transform.go", r.name, r.path)
		}
		f.Content = []byte(out)
		files[r.path] = f
	}
	return changes, nil
}
