package main

import (
	"go/ast"
	"go/types"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// configPath is the path a config key takes, top to bottom: the Pulumi
// program and the CLI read it (schema.Load), the stack's config check and
// the renderer validate it (cloudconfig.NewPlan), the renderer writes it into
// a file (talk computes the Talk-side values), the stack turns the plan into
// Hetzner resources (infra).
var configPath = []string{".", "cmd/nctalk", "infra", "infra/config", "cloudconfig", "talk", "schema"}

// TestConfigKeyPathRunsDownward: on a config key's path from the loader to
// the rendered file and to the Hetzner resource, every package imports only
// packages below it, and no package calls back up: no value of a type
// declared above is passed down where a non-empty interface is expected
// (its methods would run from below), no function value is passed down,
// and no package above sets a variable of one below.
func TestConfigKeyPathRunsDownward(t *testing.T) {
	pkgs, err := packages.Load(&packages.Config{Mode: packages.NeedName | packages.NeedImports | packages.NeedTypes | packages.NeedTypesInfo | packages.NeedSyntax}, "./...")
	if err != nil {
		t.Fatal(err)
	}
	level := map[string]int{}
	for i, dir := range configPath {
		p := module
		if dir != "." {
			p += "/" + dir
		}
		level[p] = i
	}
	below := func(from, to string) bool { // to is below from on the path
		lf, okf := level[from]
		lt, okt := level[to]
		return okf && okt && lt > lf
	}
	for _, p := range pkgs {
		if _, on := level[p.PkgPath]; !on {
			continue
		}
		for imp := range p.Imports {
			if _, on := level[imp]; on && !below(p.PkgPath, imp) {
				t.Errorf("%s imports %s, which is not below it on the config key's path %v", p.PkgPath, imp, configPath)
			}
		}
		for _, f := range p.Syntax {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					callee := typeutilCallee(p.TypesInfo, n)
					if callee == nil || callee.Pkg() == nil || !below(p.PkgPath, callee.Pkg().Path()) {
						return true
					}
					sig, ok := callee.Type().(*types.Signature)
					if !ok {
						return true
					}
					for i, arg := range n.Args {
						pt := paramType(sig, i)
						at := p.TypesInfo.TypeOf(arg)
						pos := p.Fset.Position(arg.Pos())
						if _, isFunc := types.Unalias(at).Underlying().(*types.Signature); isFunc {
							t.Errorf("%s: a function of %s is passed down to %s.%s: a call back up", pos, p.PkgPath, callee.Pkg().Path(), callee.Name())
						}
						if it, ok := types.Unalias(pt).Underlying().(*types.Interface); ok && it.NumMethods() > 0 {
							if n := namedIn(at); n != nil && n.Obj().Pkg() != nil && !below(p.PkgPath, n.Obj().Pkg().Path()) && strings.HasPrefix(n.Obj().Pkg().Path(), module) {
								t.Errorf("%s: %s (declared in %s) is passed down to %s.%s as %s: its methods would be called back up", pos, n.Obj().Name(), n.Obj().Pkg().Path(), callee.Pkg().Path(), callee.Name(), pt)
							}
						}
					}
				case *ast.AssignStmt:
					for _, lhs := range n.Lhs {
						if sel, ok := lhs.(*ast.SelectorExpr); ok {
							if o, ok := p.TypesInfo.Uses[sel.Sel].(*types.Var); ok && o.Pkg() != nil && below(p.PkgPath, o.Pkg().Path()) && o.Parent() == o.Pkg().Scope() {
								t.Errorf("%s: %s sets %s.%s: a hook that calls back up", p.Fset.Position(n.Pos()), p.PkgPath, o.Pkg().Path(), o.Name())
							}
						}
					}
				}
				return true
			})
		}
	}
	if len(level) != len(configPath) {
		t.Fatal("configPath has a duplicate")
	}
}

// typeutilCallee is the function or method a call calls, when it is one.
func typeutilCallee(info *types.Info, call *ast.CallExpr) *types.Func {
	switch fun := ast.Unparen(call.Fun).(type) {
	case *ast.Ident:
		f, _ := info.Uses[fun].(*types.Func)
		return f
	case *ast.SelectorExpr:
		if sel, ok := info.Selections[fun]; ok {
			f, _ := sel.Obj().(*types.Func)
			return f
		}
		f, _ := info.Uses[fun.Sel].(*types.Func)
		return f
	}
	return nil
}

// paramType is the type of a call's i-th argument's parameter.
func paramType(sig *types.Signature, i int) types.Type {
	n := sig.Params().Len()
	if sig.Variadic() && i >= n-1 {
		return sig.Params().At(n - 1).Type().(*types.Slice).Elem()
	}
	if i < n {
		return sig.Params().At(i).Type()
	}
	return types.Typ[types.Invalid]
}
