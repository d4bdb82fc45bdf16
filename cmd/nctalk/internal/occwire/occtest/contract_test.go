package occtest

import (
	"os"
	"strings"
	"testing"
)

// TestContractDocumented keeps docs/occ.md's contract table in step with
// Contract and Versions.
func TestContractDocumented(t *testing.T) {
	b, err := os.ReadFile("../../../../../docs/occ.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, row := range contract {
		if !strings.Contains(doc, "\n| "+row.ID+" | ") {
			t.Errorf("docs/occ.md has no contract row %q", row.ID)
		}
	}
	if n := strings.Count(doc[strings.Index(doc, "## Contract"):strings.Index(doc, "## What nctalk does")], "\n| ") - 1; n != len(contract) {
		t.Errorf("docs/occ.md's contract table has %d rows, Contract %d", n, len(contract))
	}
	for _, v := range Versions {
		if !strings.Contains(doc, "| "+v.Nextcloud+" | "+v.Talk+" | "+v.Symfony+" |") {
			t.Errorf("docs/occ.md's version table lacks %+v", v)
		}
	}
}
