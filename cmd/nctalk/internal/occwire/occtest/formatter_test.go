package occtest

import "testing"

// TestSymfonyFormatMatchesRecorded checks the port against what the real
// Symfony Console of each recorded Nextcloud release printed.
func TestSymfonyFormatMatchesRecorded(t *testing.T) {
	for _, v := range Versions {
		rec, err := LoadFormatter(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rec.Rows {
			if got := SymfonyFormat(row.JSON) + "\n"; got != row.Stdout {
				t.Errorf("%s: SymfonyFormat(%s) = %q, Symfony printed %q", v.Dir, row.JSON, got, row.Stdout)
			}
		}
	}
}
