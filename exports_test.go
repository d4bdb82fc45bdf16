package main

import (
	"go/types"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// module is this module's path.
const module = "github.com/nctalk/nctalk"

// apiOf is what one package exports, and which of it no other package
// uses.
type apiOf struct {
	exported []string
	unused   []string
}

// moduleAPI loads every package of the module with its tests and returns,
// per package directory ("." for the root), its exported package-level
// identifiers and those no other package of the module uses. A use is a
// name another package spells (its tests count), a value of the type that
// another package handles, or a type in the signature or the exported
// fields of a used identifier: the API another package needs.
func moduleAPI(t *testing.T) map[string]apiOf {
	t.Helper()
	pkgs, err := packages.Load(&packages.Config{
		Mode:  packages.NeedName | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedSyntax,
		Tests: true,
	}, "./...")
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ pkg, name string }
	objects := map[key]types.Object{}
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			t.Fatalf("%s: %v", p.ID, p.Errors)
		}
		if p.ID != p.PkgPath { // a test variant
			continue
		}
		for _, n := range p.Types.Scope().Names() {
			if o := p.Types.Scope().Lookup(n); o.Exported() {
				objects[key{p.PkgPath, n}] = o
			}
		}
	}
	used := map[key]bool{}
	mark := func(user string, o types.Object) bool {
		if o == nil || o.Pkg() == nil || o.Pkg().Path() == user || !o.Exported() {
			return false
		}
		k := key{o.Pkg().Path(), o.Name()}
		if _, ours := objects[k]; !ours || used[k] {
			return false
		}
		used[k] = true
		return true
	}
	for _, p := range pkgs {
		user := strings.TrimSuffix(p.PkgPath, "_test")
		for _, o := range p.TypesInfo.Uses {
			if o.Pkg() != nil && o.Parent() == o.Pkg().Scope() {
				mark(user, o)
			}
		}
		for _, tv := range p.TypesInfo.Types {
			if n := namedIn(tv.Type); n != nil {
				mark(user, n.Obj())
			}
		}
	}
	// The types a used identifier's signature and fields reach are used too.
	var reach func(t types.Type) bool
	reach = func(t types.Type) bool {
		switch x := types.Unalias(t).(type) {
		case *types.Pointer:
			return reach(x.Elem())
		case *types.Slice:
			return reach(x.Elem())
		case *types.Array:
			return reach(x.Elem())
		case *types.Map:
			return reach(x.Key()) || reach(x.Elem())
		case *types.Chan:
			return reach(x.Elem())
		case *types.Signature:
			more := false
			for _, tup := range []*types.Tuple{x.Params(), x.Results()} {
				for i := range tup.Len() {
					more = reach(tup.At(i).Type()) || more
				}
			}
			return more
		case *types.Named:
			return mark("", x.Obj())
		}
		return false
	}
	for more := true; more; {
		more = false
		for k := range used {
			o := objects[k]
			more = reach(o.Type()) || more
			n, ok := o.Type().(*types.Named)
			if _, isType := o.(*types.TypeName); !isType || !ok {
				continue
			}
			if st, ok := n.Underlying().(*types.Struct); ok {
				for i := range st.NumFields() {
					if st.Field(i).Exported() {
						more = reach(st.Field(i).Type()) || more
					}
				}
			}
			if it, ok := n.Underlying().(*types.Interface); ok {
				for i := range it.NumMethods() {
					more = reach(it.Method(i).Type()) || more
				}
			}
			for i := range n.NumMethods() {
				if m := n.Method(i); m.Exported() {
					more = reach(m.Type()) || more
				}
			}
		}
	}
	out := map[string]apiOf{}
	for _, p := range pkgs {
		if p.ID == p.PkgPath && !strings.HasSuffix(p.PkgPath, "_test") && !strings.HasSuffix(p.PkgPath, ".test") {
			out[dirOf(p.PkgPath)] = apiOf{}
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(objects), func(a, b key) int {
		return strings.Compare(a.pkg+"."+a.name, b.pkg+"."+b.name)
	}) {
		a := out[dirOf(k.pkg)]
		a.exported = append(a.exported, k.name)
		if !used[k] {
			a.unused = append(a.unused, k.name)
		}
		out[dirOf(k.pkg)] = a
	}
	return out
}

// namedIn is the named type t is or holds (through pointers, slices,
// arrays, maps and channels), or nil.
func namedIn(t types.Type) *types.Named {
	for {
		switch x := types.Unalias(t).(type) {
		case *types.Pointer:
			t = x.Elem()
		case *types.Slice:
			t = x.Elem()
		case *types.Array:
			t = x.Elem()
		case *types.Map:
			t = x.Elem()
		case *types.Chan:
			t = x.Elem()
		case *types.Named:
			return x
		default:
			return nil
		}
	}
}

// dirOf is a package's directory in the repository, as the layout table
// writes it ("schema/", "main.go" for the root).
func dirOf(pkg string) string {
	if pkg == module {
		return "main.go"
	}
	return strings.TrimPrefix(pkg, module+"/") + "/"
}

// TestEachPackageExportsWhatOthersUse: a package exports only what another
// package of the module uses (its own tests use the unexported names), and
// CONTRIBUTING's layout table gives each package's count of exported
// identifiers, so that a growth shows in review.
func TestEachPackageExportsWhatOthersUse(t *testing.T) {
	api := moduleAPI(t)
	for _, dir := range slices.Sorted(maps.Keys(api)) {
		if u := api[dir].unused; len(u) > 0 {
			t.Errorf("%s exports what no other package uses: %s (unexport it; the package's own tests see it)", dir, strings.Join(u, ", "))
		}
	}
	counts := map[string]int{}
	row := regexp.MustCompile("^\\| `([^`]+)` \\| (\\d+|—) \\|")
	for _, line := range strings.Split(readDoc(t, "CONTRIBUTING.md"), "\n") {
		if m := row.FindStringSubmatch(line); m != nil && m[2] != "—" {
			counts[m[1]], _ = strconv.Atoi(m[2])
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(api)) {
		got, listed := counts[dir]
		switch n := len(api[dir].exported); {
		case !listed:
			t.Errorf("CONTRIBUTING's layout table has no row for the package %s; add: | `%s` | %d | <its job> |", dir, dir, n)
		case got != n:
			t.Errorf("CONTRIBUTING's layout table says %s exports %d identifiers; it exports %d: %s", dir, got, n, strings.Join(api[dir].exported, ", "))
		}
	}
	for dir := range counts {
		if _, ok := api[dir]; !ok {
			t.Errorf("CONTRIBUTING's layout table counts the exports of %s, which is no package", dir)
		}
	}
}
