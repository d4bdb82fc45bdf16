package occtest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestSymfonyFormatMatchesRecorded checks the port against what the real
// Symfony Console of each recorded Nextcloud release printed.
func TestSymfonyFormatMatchesRecorded(t *testing.T) {
	files, _ := filepath.Glob("../testdata/*/formatter.json")
	if len(files) != len(Versions) {
		t.Fatalf("want a formatter.json for each of %d versions, found %v", len(Versions), files)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			Rows []struct{ JSON, Stdout string } `json:"rows"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, row := range rec.Rows {
			if got := SymfonyFormat(row.JSON) + "\n"; got != row.Stdout {
				t.Errorf("%s: SymfonyFormat(%s) = %q, Symfony printed %q", file, row.JSON, got, row.Stdout)
			}
		}
	}
}
