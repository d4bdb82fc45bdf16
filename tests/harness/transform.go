package harness

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/nctalk/nctalk/cloudconfig"
)

// transformEnv is what the transforms need to know about this machine.
type transformEnv struct {
	Domain string
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
	repl func(env transformEnv, match []string) string
}

// transformRules is THE list of differences between the rendered configs
// and what runs here. Each rule must match its file (a rule that no longer
// matches is an error, so the list cannot silently go stale). Everything
// else runs byte for byte as rendered.
//
// Outside the config bytes the test machine differs from the VM only in:
// the substitute images (tests/images: Debian sid's programs with each
// pinned image's contract) run in place of the images, each as a
// namespace-and-chroot container instead of Docker's; the certificate comes from a test
// CA instead of Let's Encrypt; /etc/hosts resolves the domain and the fake
// Nextcloud to 127.0.0.1; Janus loads its plugins from Debian's compiled-in
// folder (the rendered janus.jcfg names none).
var transformRules = []rule{
	{
		// On the VM nginx listens on every address; here only on loopback,
		// so the test never opens a port to the machine's network.
		name: "nginx listens on loopback only",
		path: cloudconfig.NginxConfig,
		// Only listen lines on every address: the loopback-only ones (the
		// 443 front's HTTPS server and TURN hop) stay as rendered.
		re: regexp.MustCompile(`(?m)^(\s*)listen\s+(\[::\]:|0\.0\.0\.0:|\*:)?(\d+)((?:\s[^;]*)?);`),
		repl: func(_ transformEnv, m []string) string {
			addr := "127.0.0.1"
			if m[2] == "[::]:" {
				addr = "[::1]"
			}
			return fmt.Sprintf("%slisten %s:%s%s;", m[1], addr, m[3], m[4])
		},
	},
	{
		// On the VM coturn listens and relays on every address (no NAT on
		// Hetzner); here on loopback only, so relays stay on 127.0.0.1.
		name: "coturn listens and relays on loopback only",
		path: cloudconfig.CoturnConfig,
		re:   regexp.MustCompile(`\z`),
		repl: func(transformEnv, []string) string {
			return "listening-ip=127.0.0.1\nlistening-ip=::1\nrelay-ip=127.0.0.1\nrelay-ip=::1\n"
		},
	},
}

// forbidden are settings a rule's file must not already contain: the rule
// would then silently change their meaning.
var forbidden = map[string]*regexp.Regexp{
	cloudconfig.CoturnConfig: regexp.MustCompile(`(?m)^\s*(listening-ip|relay-ip|external-ip)\s*=`),
}

// transform applies transformRules to the files in place and returns what
// it changed. A rule whose file is missing or that matches nothing is an
// error naming the file and the rule.
func transform(files map[string]WrittenFile, env transformEnv) ([]Change, error) {
	var changes []Change
	for _, r := range transformRules {
		f, ok := files[r.path]
		if !ok {
			return nil, fmt.Errorf("transform %q: the cloud-config writes no %s", r.name, r.path)
		}
		if re, ok := forbidden[r.path]; ok && re.Match(f.Content) {
			return nil, fmt.Errorf("transform %q: %s already sets %q; review tests/harness/transform.go", r.name, r.path, re.Find(f.Content))
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
