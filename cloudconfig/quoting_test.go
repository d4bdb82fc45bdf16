package cloudconfig

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"text/template/parse"
)

// shellTemplates are the templates that become shell scripts: every
// file of fileSpecs rendered from a .sh template.
var shellTemplates = func() []string {
	var names []string
	for _, f := range fileSpecs {
		if strings.HasSuffix(f.template, ".sh") {
			names = append(names, f.template)
		}
	}
	return names
}()

// TestShellTemplatesAreTheScripts keeps shellTemplates equal to the
// rendered files that are shell scripts (a #!/bin/ line), so the quoting check
// below sees every script.
func TestShellTemplatesAreTheScripts(t *testing.T) {
	var scripts []string
	for _, f := range fileSpecs {
		content := mustFiles(t, referenceSettings())[f.path].Content
		if strings.HasPrefix(string(content), "#!/bin/") {
			scripts = append(scripts, f.template)
		}
	}
	if !slices.Equal(scripts, shellTemplates) || len(scripts) != 5 {
		t.Errorf("shell scripts rendered %v; shellTemplates %v; want the same 5", scripts, shellTemplates)
	}
}

// isIntField reports whether the view field at path (.Ports.HTTPS) holds
// an integer: it cannot carry a shell metacharacter, so it needs no quoting.
func isIntField(path []string) bool {
	t := reflect.TypeFor[view]()
	for _, name := range path {
		if t.Kind() != reflect.Struct {
			return false
		}
		f, ok := t.FieldByName(name)
		if !ok {
			return false
		}
		t = f.Type
	}
	return t.Kind() == reflect.Int
}

// TestShellTemplatesQuoteEveryValue walks the parse tree of every shell
// template: each action that prints something must end in the sh function
// (ShellQuote) or print an integer field. A new unquoted {{.Value}} in a
// script fails here, before any hostile value has to find it.
func TestShellTemplatesQuoteEveryValue(t *testing.T) {
	for _, name := range shellTemplates {
		tmpl := templates.Lookup(name)
		if tmpl == nil {
			t.Fatalf("no template %s", name)
		}
		var walk func(n parse.Node)
		walk = func(n parse.Node) {
			switch n := n.(type) {
			case *parse.ListNode:
				if n == nil {
					return
				}
				for _, c := range n.Nodes {
					walk(c)
				}
			case *parse.IfNode:
				walk(n.List)
				walk(n.ElseList)
			case *parse.RangeNode:
				walk(n.List)
				walk(n.ElseList)
			case *parse.WithNode:
				walk(n.List)
				walk(n.ElseList)
			case *parse.ActionNode:
				if len(n.Pipe.Decl) > 0 {
					return // an assignment prints nothing
				}
				cmds := n.Pipe.Cmds
				first := cmds[0].Args[0]
				if id, ok := first.(*parse.IdentifierNode); ok && id.Ident == "sh" && len(cmds) == 1 {
					return
				}
				if last := cmds[len(cmds)-1].Args[0]; len(cmds) > 1 {
					if id, ok := last.(*parse.IdentifierNode); ok && id.Ident == "sh" {
						return
					}
				}
				if f, ok := first.(*parse.FieldNode); ok && len(cmds) == 1 && len(cmds[0].Args) == 1 && isIntField(f.Ident) {
					return
				}
				if _, ok := first.(*parse.StringNode); ok && len(cmds) == 1 && len(cmds[0].Args) == 1 {
					return // a constant of the template itself, e.g. {{"{{"}}
				}
				t.Errorf("%s:%d: %s prints a value without sh (ShellQuote)", name, lineOf(t, name, n), n)
			}
		}
		walk(tmpl.Tree.Root)
	}
}

// lineOf is the line of a node in the template file, for the error message.
func lineOf(t *testing.T, name string, n parse.Node) int {
	raw, err := templateFS.ReadFile("templates/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(raw[:min(int(n.Position()), len(raw))]), "\n") + 1
}
