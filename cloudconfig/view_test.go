package cloudconfig

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template"
	"text/template/parse"
)

// TestViewFieldsAreUsed walks the parse tree of every template and fails on
// a field of the view (or of a struct it groups: view.Paths.ComposeFile)
// that no template reads, so a field left behind when a template stops
// using it is caught. The reverse, a template naming a field the view
// lacks, fails when the template executes (every test renders every
// template). A struct printed whole ({{.RelayPorts}}) counts as reading its
// fields.
func TestViewFieldsAreUsed(t *testing.T) {
	read := map[string]bool{}
	for _, tmpl := range templates.Templates() {
		if tmpl.Tree == nil {
			continue
		}
		walkViewReads(tmpl.Tree.Root, []string{}, func(path []string) { read[strings.Join(path, ".")] = true })
	}
	if len(read) == 0 {
		t.Fatal("no template reads any field: the walk is broken")
	}
	for _, field := range viewFields(reflect.TypeFor[view](), "") {
		if !readAny(read, field) {
			t.Errorf("view field %s is read by no template in templates/: use it or drop it", field)
		}
	}
}

// TestTemplatesReadOnlyViewFields resolves every view path a template
// reads against the view's type, in every branch: executing the templates
// finds a misspelt field only in the branches the test settings take.
func TestTemplatesReadOnlyViewFields(t *testing.T) {
	for _, tmpl := range templates.Templates() {
		if tmpl.Tree == nil {
			continue
		}
		walkViewReads(tmpl.Tree.Root, []string{}, func(path []string) {
			if !resolves(reflect.TypeFor[view](), path) {
				t.Errorf("%s reads .%s, which the view has not", tmpl.Name(), strings.Join(path, "."))
			}
		})
	}
}

// resolves reports whether path names a field (or, last, a method) of t.
func resolves(t reflect.Type, path []string) bool {
	for i, name := range path {
		if _, ok := t.MethodByName(name); ok {
			return i == len(path)-1
		}
		if t.Kind() != reflect.Struct {
			return false
		}
		f, ok := t.FieldByName(name)
		if !ok || !f.IsExported() {
			return false
		}
		t = f.Type
	}
	return true
}

// viewFields lists the exported fields of t, and of the structs among
// them, as dotted paths.
func viewFields(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		out = append(out, prefix+f.Name)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, viewFields(f.Type, prefix+f.Name+".")...)
		}
	}
	return out
}

// readAny reports whether field, a field under it, or a struct holding it
// is read.
func readAny(read map[string]bool, field string) bool {
	for r := range read {
		if r == field || strings.HasPrefix(r, field+".") || r == "" || strings.HasPrefix(field, r+".") {
			return true
		}
	}
	return false
}

// walkViewReads calls read with every view path the node reads. dot is the
// path of the template's dot in the view, nil where dot is not a part of
// the view (inside a range: an element).
func walkViewReads(n parse.Node, dot []string, read func([]string)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			walkViewReads(c, dot, read)
		}
	case *parse.ActionNode:
		walkViewReads(n.Pipe, dot, read)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			walkViewReads(n.Pipe, dot, read)
		}
	case *parse.IfNode:
		walkViewReads(n.Pipe, dot, read)
		walkViewReads(n.List, dot, read)
		walkViewReads(n.ElseList, dot, read)
	case *parse.RangeNode:
		walkViewReads(n.Pipe, dot, read)
		walkViewReads(n.List, nil, read)
		walkViewReads(n.ElseList, dot, read)
	case *parse.WithNode:
		walkViewReads(n.Pipe, dot, read)
		walkViewReads(n.List, fieldOf(n.Pipe, dot), read)
		walkViewReads(n.ElseList, dot, read)
	case *parse.PipeNode:
		for _, c := range n.Cmds {
			walkViewReads(c, dot, read)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			walkViewReads(a, dot, read)
		}
	case *parse.ChainNode:
		walkViewReads(n.Node, dot, read)
	case *parse.FieldNode:
		if dot != nil {
			read(append(append([]string{}, dot...), n.Ident...))
		}
	case *parse.DotNode:
		if dot != nil {
			read(dot)
		}
	case *parse.VariableNode:
		if n.Ident[0] == "$" { // the template's data: the view
			read(n.Ident[1:])
		}
	}
}

// fieldOf is the view path a with's pipeline selects ({{with .Paths}}), nil
// if it is not a plain field.
func fieldOf(p *parse.PipeNode, dot []string) []string {
	if dot == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return nil
	}
	if f, ok := p.Cmds[0].Args[0].(*parse.FieldNode); ok {
		return append(append([]string{}, dot...), f.Ident...)
	}
	return nil
}

// TestWalkViewReads pins what the walk counts as reading a view field.
func TestWalkViewReads(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`{{.Domain}}`, "Domain"},
		{`{{sh (dir .Paths.ReadyMarker)}}`, "Paths.ReadyMarker"},
		{`{{if .TURN443}}x{{else}}{{.Ports.HTTPS}}{{end}}`, "Ports.HTTPS TURN443"},
		{`{{range .Files}}{{.Path}}{{end}}`, "Files"},
		{`{{range .Backends}}{{$.Secrets.TURNSecret}}{{end}}`, "Backends Secrets.TURNSecret"},
		{`{{range $i, $r := .Resolvers}}{{$r}}{{end}}`, "Resolvers"},
		{`{{with .Paths}}{{.ComposeFile}}{{end}}`, "Paths Paths.ComposeFile"},
		{`{{/* {{.Domain}} */}}text`, ""},
	} {
		tmpl, err := template.Must(templates.Clone()).New("t").Parse(c.text)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		walkViewReads(tmpl.Tree.Root, []string{}, func(p []string) { got = append(got, strings.Join(p, ".")) })
		slices.Sort(got)
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s reads %q, want %q", c.text, g, c.want)
		}
	}
}
