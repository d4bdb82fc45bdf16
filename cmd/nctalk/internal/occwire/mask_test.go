package occwire

import "testing"

func TestMasker(t *testing.T) {
	m := NewMasker("s/e\"c", "", "  ", "short")
	m.Add("short-and-longer", "grün")
	tests := []struct{ in, want string }{
		{`raw s/e"c here`, "raw " + mask + " here"},
		{`php json "s\/e\"c"`, `php json "` + mask + `"`},
		{`go json "s/e\"c"`, `go json "` + mask + `"`},
		{"longest first: short-and-longer", "longest first: " + mask},
		{"short", mask},
		{`php unicode "gr\u00fcn"`, `php unicode "` + mask + `"`},
		{"blank secrets are not masked:   two spaces", "blank secrets are not masked:   two spaces"},
	}
	for _, tt := range tests {
		if got := m.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
