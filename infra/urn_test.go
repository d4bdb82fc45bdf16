package infra

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/infra/infratest"
	"github.com/nctalk/nctalk/tests/engine"
)

var updateURNs = flag.Bool("update-urns", false, "rewrite testdata/urns.golden from the current program")

// urnsGolden records the URN of every resource the reference stack
// registers (every optional resource on: SSH key upload, DNS records, volume).
const urnsGolden = "testdata/urns.golden"

// stackURNPrefix is the URN prefix of the mocked stack (project nctalk, stack dev).
const stackURNPrefix = "urn:pulumi:dev::nctalk::"

// TestURNsAreStable fails when a change renames a resource, changes its
// type or moves it to another parent: Pulumi identifies resources by URN,
// so such a change deletes the old resource and creates a new one (the
// server is rebuilt, the protected primary IPs refuse and the update stops)
// unless the resource carries an alias for its old URN.
func TestURNsAreStable(t *testing.T) {
	d := mustDeploy(t, testConfig(t), infratest.New(defaultSeed))
	regs := d.mocks.Registrations()
	urns := map[string]string{} // resource name -> URN
	for _, r := range regs {
		if r.Type == "pulumi:pulumi:Stack" || strings.HasPrefix(r.Type, "pulumi:providers:") {
			continue
		}
		urns[r.Name] = urnOf(r)
	}
	got := make([]string, 0, len(urns))
	for _, u := range urns {
		got = append(got, u)
	}
	slices.Sort(got)

	if *updateURNs {
		if err := os.WriteFile(urnsGolden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(urnsGolden)
	if err != nil {
		t.Fatalf("%v (create it with go test ./infra -run TestURNsAreStable -update-urns)", err)
	}
	want := strings.Fields(string(raw))
	aliased := map[string]string{} // old URN -> the resource that claims it
	for _, r := range regs {
		for _, a := range aliasURNs(r) {
			aliased[a] = urnOf(r)
		}
	}
	var problems []string
	for _, w := range want {
		if slices.Contains(got, w) {
			continue
		}
		if by, ok := aliased[w]; ok {
			problems = append(problems, fmt.Sprintf("moved with an alias (fine; now record it): %s -> %s", w, by))
			continue
		}
		problems = append(problems, "GONE: "+w)
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			problems = append(problems, "NEW:  "+g)
		}
	}
	if len(problems) > 0 {
		t.Errorf("the stack's resource URNs changed:\n  %s\n\n"+
			"A GONE URN means Pulumi deletes that resource and creates the NEW one on the next `pulumi up`:\n"+
			"the server is rebuilt, and protected resources (the primary IPs) stop the update.\n"+
			"If you renamed or moved a resource on purpose, keep it by adding its old identity to its options:\n"+
			"  pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(\"<old name>\")}})   // renamed\n"+
			"  pulumi.Aliases([]pulumi.Alias{{NoParent: pulumi.Bool(true)}})          // was at the top level\n"+
			"  pulumi.Aliases([]pulumi.Alias{{ParentURN: pulumi.URN(\"<old parent URN>\")}}) // had another parent\n"+
			"then record the new URNs: go test ./infra -run TestURNsAreStable -update-urns\n"+
			"(keep the alias for as long as any deployed stack may still have the old URN).",
			strings.Join(problems, "\n  "))
	}
}

// urnOf is the URN the engine gives a registration: its type qualified by
// the types of its parents (the stack itself is left out).
func urnOf(r infratest.Registration) string {
	return urnFor(r.Parent, r.Type, r.Name)
}

// urnFor builds the URN of a resource of type typ named name under parent.
func urnFor(parent, typ, name string) string {
	qualified := typ
	if parent != "" && !strings.Contains(parent, "::pulumi:pulumi:Stack::") {
		rest := strings.TrimPrefix(parent, stackURNPrefix)
		parentType, _, _ := strings.Cut(rest, "::")
		qualified = parentType + "$" + typ
	}
	return stackURNPrefix + qualified + "::" + name
}

// aliasURNs are the old URNs a registration claims through pulumi.Aliases.
func aliasURNs(r infratest.Registration) []string {
	var out []string
	for _, a := range r.Aliases {
		if u := a.GetUrn(); u != "" {
			out = append(out, u)
			continue
		}
		spec := a.GetSpec()
		if spec == nil {
			continue
		}
		name, typ, parent := r.Name, r.Type, r.Parent
		if spec.GetName() != "" {
			name = spec.GetName()
		}
		if spec.GetType() != "" {
			typ = spec.GetType()
		}
		switch {
		case spec.GetNoParent():
			parent = ""
		case spec.GetParentUrn() != "":
			parent = spec.GetParentUrn()
		}
		out = append(out, urnFor(parent, typ, name))
	}
	return out
}

// TestMocksMatchTheEngineRecording: the resources the program registers
// under mocks are those the real engine recorded (tests/engine), by type
// and name. It fails when the program's resources change and the engine's
// fixtures were not recorded again (go run ./tests/engine/lifecycle), so the
// CLI's tests never run on the output of another program.
func TestMocksMatchTheEngineRecording(t *testing.T) {
	normal := func(urn string) string {
		_, rest, _ := strings.Cut(urn, "::") // drop urn:pulumi:<stack>
		if i := strings.Index(rest, "::nctalk-ssh-key-"); i >= 0 {
			rest = rest[:i] + "::nctalk-ssh-key-<content>" // named after the key, which differs
		}
		return rest
	}
	d := mustDeploy(t, testConfig(t), infratest.New(defaultSeed))
	var got []string
	for _, r := range d.mocks.Registrations() {
		if r.Type != "pulumi:pulumi:Stack" && !strings.HasPrefix(r.Type, "pulumi:providers:") {
			got = append(got, normal(urnOf(r)))
		}
	}
	raw, err := engine.Fixture("create.export.json")
	if err != nil {
		t.Fatal(err)
	}
	var export struct {
		Deployment struct {
			Resources []struct {
				URN  string `json:"urn"`
				Type string `json:"type"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(raw, &export); err != nil {
		t.Fatal(err)
	}
	var recorded []string
	for _, r := range export.Deployment.Resources {
		if r.Type != "pulumi:pulumi:Stack" && !strings.HasPrefix(r.Type, "pulumi:providers:") {
			recorded = append(recorded, normal(r.URN))
		}
	}
	slices.Sort(got)
	slices.Sort(recorded)
	if !slices.Equal(got, recorded) {
		t.Errorf("the program registers (mocks):\n  %s\nthe engine recorded:\n  %s\nrecord the engine run again: go run ./tests/engine/lifecycle -toolchain DIR (docs/testing.md)",
			strings.Join(got, "\n  "), strings.Join(recorded, "\n  "))
	}
}
