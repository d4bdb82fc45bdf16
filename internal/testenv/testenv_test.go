package testenv

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// moduleRoot is the directory of go.mod above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// TestOnlyTestenvSkips holds every Go file of the module to the one rule:
// no test skips or reads CI itself; testenv decides, so that under CI=true
// every skip fails.
func TestOnlyTestenvSkips(t *testing.T) {
	root := moduleRoot(t)
	self, _ := filepath.Abs(".")
	var offenders []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (name == "testdata" || strings.HasPrefix(name, ".")) || path == self {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch name := sel.Sel.Name; {
			case slices.Contains([]string{"Skip", "Skipf", "SkipNow"}, name):
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "testenv" {
					return true
				}
				offenders = append(offenders, fset.Position(call.Pos()).String()[len(root)+1:]+": "+name)
			case name == "Getenv" || name == "LookupEnv":
				if len(call.Args) == 1 {
					if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Value == strconv.Quote("CI") {
						offenders = append(offenders, fset.Position(call.Pos()).String()[len(root)+1:]+": reads CI")
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(offenders) > 0 {
		t.Errorf("%d places skip or read CI without testenv (use testenv.Skip, SkipUnless, SkipShort, Tool, Root, Missing):\n%s",
			len(offenders), strings.Join(offenders, "\n"))
	}
}

// TestSkipFailsUnderCI runs this package's test binary on a test that
// skips, with and without CI=true: skipped on a developer machine, failed
// in CI.
func TestSkipFailsUnderCI(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ci       string
		wantFail bool
		wantText string
	}{
		{"true", true, "CI=true: a skip is a failure: the reason"},
		{"", false, "the reason"},
		{"false", false, "the reason"},
		{"1", false, "the reason"},
	} {
		cmd := exec.Command(exe, "-test.run", "^TestChildSkips$", "-test.v")
		cmd.Env = append(os.Environ(), "CI="+tc.ci, "TESTENV_CHILD=1")
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != tc.wantFail || !strings.Contains(string(out), tc.wantText) {
			t.Errorf("CI=%q: failed=%v, want %v, with %q in:\n%s", tc.ci, failed, tc.wantFail, tc.wantText, out)
		}
		if !tc.wantFail && !strings.Contains(string(out), "--- SKIP: TestChildSkips") {
			t.Errorf("CI=%q: the test did not skip:\n%s", tc.ci, out)
		}
	}
}

// TestChildSkips is run by TestSkipFailsUnderCI in a child process.
func TestChildSkips(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") != "1" {
		return
	}
	Skip(t, "the reason")
}
