package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
)

// docFiles are the documents whose claims TestDocsClaimsResolve checks.
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md", "CONTRIBUTING.md"}, files...)
}

// goNames is what the module's Go code declares, by package name: every
// package-level name, Type.Method and Type.Field; and every test,
// benchmark and fuzz function.
type goNames struct {
	pkgs  map[string]map[string]bool // package name -> names
	types map[string]map[string]bool // type name -> its methods and fields
	tests map[string]bool
	files map[string]bool // base names of Go files
}

func readGoNames(t *testing.T) goNames {
	t.Helper()
	g := goNames{pkgs: map[string]map[string]bool{}, types: map[string]map[string]bool{}, tests: map[string]bool{}, files: map[string]bool{}}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		g.files[filepath.Base(p)] = true
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			return err
		}
		pkg := f.Name.Name
		if filepath.Dir(p) != "." && pkg == "main" {
			pkg = filepath.Base(filepath.Dir(p))
		}
		names := g.pkgs[pkg]
		if names == nil {
			names = map[string]bool{}
			g.pkgs[pkg] = names
		}
		member := func(typ, name string) {
			if g.types[typ] == nil {
				g.types[typ] = map[string]bool{}
			}
			g.types[typ][name] = true
		}
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
					if strings.HasSuffix(p, "_test.go") && regexp.MustCompile(`^(Test|Benchmark|Fuzz)`).MatchString(d.Name.Name) {
						g.tests[d.Name.Name] = true
					}
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if id, ok := recv.(*ast.Ident); ok {
					member(id.Name, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						names[s.Name.Name] = true
						if st, ok := s.Type.(*ast.StructType); ok {
							for _, fl := range st.Fields.List {
								for _, n := range fl.Names {
									member(s.Name.Name, n.Name)
								}
							}
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// slug is the anchor GitHub gives a heading.
func slug(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// headings returns the headings of a Markdown file (outside fenced code).
func headings(doc string) []string {
	var out []string
	for _, l := range prose(doc) {
		if m := regexp.MustCompile(`^#{1,6} (.+)$`).FindStringSubmatch(l.text); m != nil {
			out = append(out, strings.TrimSpace(m[1]))
		}
	}
	return out
}

// line is one line of a document and its number.
type line struct {
	n    int
	text string
}

// prose returns a document's lines outside fenced code blocks.
func prose(doc string) []line {
	var out []line
	fence := ""
	for i, l := range strings.Split(doc, "\n") {
		trim := strings.TrimSpace(l)
		ticks := len(trim) - len(strings.TrimLeft(trim, "`"))
		switch {
		case fence == "" && ticks >= 3:
			fence = trim[:ticks]
		case fence != "" && trim == fence:
			fence = ""
		case fence == "":
			out = append(out, line{i + 1, l})
		}
	}
	return out
}

var (
	linkRE    = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	codeRE    = regexp.MustCompile("`([^`]+)`")
	sectionRE = regexp.MustCompile(`\b(README|CONTRIBUTING|(?:docs/)?[a-z-]+\.md),? "([^"]+)"`)
	testRE    = regexp.MustCompile(`^(Test|Benchmark|Fuzz)[A-Z0-9]\w*\*?$`)
	identRE   = regexp.MustCompile(`^([A-Za-z]\w*)\.([A-Za-z_]\w*)(?:\.([A-Za-z_]\w*))?(?:\(\))?$`)
	pathRE    = regexp.MustCompile(`^\.?[\w.-]+(/[\w.*-]+)+/?$`)
)

// TestDocsClaimsResolve checks, in README, CONTRIBUTING and docs/, every
// claim a program can: each link's file and section exist; each quoted
// section reference ("docs/x.md, \"Heading\"") names a heading of that
// file; each test, benchmark or fuzz function named in code exists; each
// repository path named in code exists; each pkg.Name or Type.Member named
// in code is declared in a package of that name (or on that type).
func TestDocsClaimsResolve(t *testing.T) {
	g := readGoNames(t)
	var problems []string
	say := func(file string, n int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: ", file, n)+fmt.Sprintf(format, args...))
	}
	for _, file := range docFiles(t) {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range prose(string(raw)) {
			n, line := l.n, l.text
			for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				name, anchor, _ := strings.Cut(target, "#")
				dest := file
				if name != "" {
					dest = path.Join(path.Dir(file), name)
					if _, err := os.Stat(dest); err != nil {
						say(file, n, "link to %s: no such file", target)
						continue
					}
				}
				if anchor != "" {
					destDoc, _ := os.ReadFile(dest)
					if !slices.ContainsFunc(headings(string(destDoc)), func(h string) bool { return slug(h) == anchor }) {
						say(file, n, "link to %s: %s has no such section", target, dest)
					}
				}
			}
			for _, m := range sectionRE.FindAllStringSubmatch(line, -1) {
				dest := m[1]
				switch {
				case dest == "README" || dest == "CONTRIBUTING":
					dest += ".md"
				case !strings.Contains(dest, "/") && file != "README.md" && file != "CONTRIBUTING.md":
					dest = path.Join(path.Dir(file), dest)
				case !strings.Contains(dest, "/"):
					dest = "docs/" + dest
				}
				destDoc, err := os.ReadFile(dest)
				if err != nil {
					say(file, n, "%s, %q: no such file", m[1], m[2])
					continue
				}
				if !slices.ContainsFunc(headings(string(destDoc)), func(h string) bool { return strings.ReplaceAll(h, "`", "") == m[2] }) {
					say(file, n, "%s has no section %q", dest, m[2])
				}
			}
			for _, m := range codeRE.FindAllStringSubmatch(line, -1) {
				code := m[1]
				switch {
				case testRE.MatchString(code):
					prefix, wild := strings.CutSuffix(code, "*")
					found := g.tests[code]
					if wild {
						for name := range g.tests {
							found = found || strings.HasPrefix(name, prefix)
						}
					}
					if !found {
						say(file, n, "%s: no such test function", code)
					}
				case pathRE.MatchString(code) && !strings.HasPrefix(code, "/"):
					first := strings.Split(code, "/")[0]
					if _, err := os.Stat(first); err != nil || first == ".." || strings.ContainsAny(code, "<>") {
						continue // a path on the VM, relative to a package, outside the repository, or a pattern
					}
					if matches, _ := filepath.Glob(strings.TrimSuffix(code, "/")); len(matches) == 0 {
						say(file, n, "%s: no such file or directory", code)
					}
				case strings.HasSuffix(code, ".go") && !strings.Contains(code, "/"):
					if !g.files[code] {
						say(file, n, "%s: no such Go file", code)
					}
				case identRE.MatchString(code):
					p := identRE.FindStringSubmatch(code)
					notGo := p[3] != "" && !isUpper(p[2]) || // a host name: talk.example.com
						!isUpper(p[2]) && (slices.Contains([]string{"php", "log", "json", "yaml", "yml", "md", "sh", "conf", "txt", "go"}, p[2]) || isKey(p[1]))
					if names, isPkg := g.pkgs[p[1]]; isPkg && p[1] != "main" && !notGo {
						if !names[p[2]] {
							say(file, n, "%s: package %s declares no %s", code, p[1], p[2])
						} else if p[3] != "" && !g.types[p[2]][p[3]] {
							say(file, n, "%s: %s has no method or field %s", code, p[2], p[3])
						}
					} else if members, isType := g.types[p[1]]; isType && p[3] == "" && isUpper(p[1]) && isUpper(p[2]) && !members[p[2]] {
						say(file, n, "%s: %s has no method or field %s", code, p[1], p[2])
					}
				}
			}
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d claims in the docs do not resolve:\n%s", len(problems), strings.Join(problems, "\n"))
	}
}

// isKey reports whether name is a config key (images.janus is a key's
// path, not Go).
func isKey(name string) bool {
	_, ok := schema.Lookup(name)
	return ok
}

func isUpper(s string) bool { return s != "" && s[0] >= 'A' && s[0] <= 'Z' }

// TestFixedPortsSpelledOnce: the fixed ports (schema/ports.go) appear as a
// number in no other Go code of the stack, the renderer or the CLI: each
// reads schema's constant, so the port table, the firewalls and verify
// cannot disagree. (Tests, comments and messages may spell them.)
func TestFixedPortsSpelledOnce(t *testing.T) {
	ports := map[string]bool{}
	for _, p := range []int{schema.PortHTTP, schema.PortHTTPS, schema.PortTURN, schema.PortTURNS, schema.PortSignalingHTTP,
		schema.PortJanusWS, schema.PortNATS, schema.PortHTTPSLocal, schema.PortTURNSLocal} {
		ports[strconv.Itoa(p)] = true
	}
	var found []string
	for _, dir := range []string{".", "cloudconfig", "infra", "infra/config", "infra/outputs", "talk", "cmd/nctalk"} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != dir && (dir == "." || d.Name() == "testdata") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.Contains(p, "test/") {
				return nil
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if lit, ok := n.(*ast.BasicLit); ok {
					if lit.Kind == token.INT && ports[lit.Value] {
						found = append(found, fmt.Sprintf("%s: %s", fset.Position(lit.Pos()), lit.Value))
					}
				}
				return true
			})
			return nil
		})
	}
	if len(found) > 0 {
		t.Errorf("fixed ports spelled outside schema/ports.go (use schema's constants):\n%s", strings.Join(found, "\n"))
	}
}
