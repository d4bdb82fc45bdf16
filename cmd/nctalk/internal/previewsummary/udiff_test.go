package previewsummary

import (
	"fmt"
	"strings"
	"testing"
)

// The expected outputs are what GNU `diff -u --label old --label new`
// prints for the same inputs (checked when the tests were written).
func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		context  int
		want     string
	}{
		{
			name: "equal texts give no diff",
			old:  "a\nb\n", new: "a\nb\n", context: 3,
			want: "",
		},
		{
			name:    "two changes far apart make two hunks",
			old:     "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n",
			new:     "a\nX\nc\nd\ne\nf\ng\nh\ni\nj\nY\nl\n",
			context: 2,
			want: "--- old\n+++ new\n" +
				"@@ -1,4 +1,4 @@\n a\n-b\n+X\n c\n d\n" +
				"@@ -9,4 +9,4 @@\n i\n j\n-k\n+Y\n l\n",
		},
		{
			name:    "changes whose context touches share a hunk",
			old:     "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n",
			new:     "a\nb\nc\nX\ne\nf\ng\nh\ni\nY\n",
			context: 3,
			want: "--- old\n+++ new\n" +
				"@@ -1,10 +1,10 @@\n a\n b\n c\n-d\n+X\n e\n f\n g\n h\n i\n-j\n+Y\n",
		},
		{
			name:    "insertion in the middle",
			old:     "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
			new:     "1\n2\n3\n4\n5\n6\n6.5\n7\n8\n9\n10\n11\n12\n",
			context: 3,
			want:    "--- old\n+++ new\n@@ -4,6 +4,7 @@\n 4\n 5\n 6\n+6.5\n 7\n 8\n 9\n",
		},
		{
			name:    "pure insertion without context names the line before",
			old:     "a\nb\nc\n",
			new:     "a\nb\nnew\nc\n",
			context: 0,
			want:    "--- old\n+++ new\n@@ -2,0 +3 @@\n+new\n",
		},
		{
			name: "from nothing",
			old:  "", new: "a\nb\n", context: 3,
			want: "--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n",
		},
		{
			name: "to nothing",
			old:  "a\nb\n", new: "", context: 3,
			want: "--- old\n+++ new\n@@ -1,2 +0,0 @@\n-a\n-b\n",
		},
		{
			name: "a missing final newline is a change",
			old:  "a\nb", new: "a\nb\n", context: 3,
			want: "--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unifiedDiff("old", "new", tt.old, tt.new, tt.context)
			if got != tt.want {
				t.Errorf("UnifiedDiff:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// applyUnified applies a diff made by unifiedDiff to old, to check that
// the hunks' line numbers and bodies really turn old into new.
func applyUnified(t *testing.T, old, diff string) string {
	t.Helper()
	oldLines := splitLines(old)
	var out []string
	next := 0 // next old line to copy
	lines := strings.SplitAfter(diff, "\n")
	for i := 2; i < len(lines); i++ { // skip the --- and +++ lines
		l := lines[i]
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "@@") {
			var start, count int
			spec := strings.Fields(l)[1][1:] // "-s,c" without '-'
			if _, err := fmt.Sscanf(strings.Replace(spec, ",", " ", 1), "%d %d", &start, &count); err != nil {
				fmt.Sscanf(spec, "%d", &start)
				count = 1
			}
			first := start - 1
			if count == 0 {
				first = start
			}
			out = append(out, oldLines[next:first]...)
			next = first
			continue
		}
		body := l[1:]
		if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "\\ No newline") {
			body = strings.TrimSuffix(body, "\n")
			i++
		}
		switch l[0] {
		case ' ':
			if oldLines[next] != body {
				t.Fatalf("context line %q does not match old line %d %q", body, next+1, oldLines[next])
			}
			out = append(out, body)
			next++
		case '-':
			if oldLines[next] != body {
				t.Fatalf("removed line %q does not match old line %d %q", body, next+1, oldLines[next])
			}
			next++
		case '+':
			out = append(out, body)
		default:
			t.Fatalf("unexpected diff line %q", l)
		}
	}
	out = append(out, oldLines[next:]...)
	return strings.Join(out, "")
}

func TestUnifiedDiffAppliesBack(t *testing.T) {
	// Every pair of these small texts, with several context sizes: the
	// diff applied to the old text must give the new one.
	texts := []string{
		"", "a\n", "a", "a\nb\n", "b\na\n", "a\nb\nc\nd\ne\nf\ng\n", "a\nc\ne\ng\n",
		"x\na\nb\nc\nd\ne\nf\ng\ny\n", "a\nb\nc\nd\ne\nf\ng", "a\na\na\nb\na\n", "c\nb\na\n",
	}
	for _, old := range texts {
		for _, new := range texts {
			for _, ctx := range []int{0, 1, 3} {
				d := unifiedDiff("old", "new", old, new, ctx)
				if old == new {
					if d != "" {
						t.Errorf("equal texts %q gave a diff", old)
					}
					continue
				}
				if got := applyUnified(t, old, d); got != new {
					t.Errorf("old %q new %q context %d:\ndiff:\n%s\napplied gives %q", old, new, ctx, d, got)
				}
			}
		}
	}
}

func TestUnifiedDiffOverCellLimitStaysCorrect(t *testing.T) {
	// Two texts with nothing in common and more lines than the comparison
	// table allows: the diff is a full delete and insert, and still applies.
	var a, b strings.Builder
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&a, "old %d\n", i)
		fmt.Fprintf(&b, "new %d\n", i)
	}
	d := unifiedDiff("old", "new", a.String(), b.String(), 3)
	if !strings.HasPrefix(d, "--- old\n+++ new\n@@ -1,5000 +1,5000 @@\n-old 0\n") {
		t.Fatalf("diff starts %q", d[:80])
	}
	if got := applyUnified(t, a.String(), d); got != b.String() {
		t.Fatal("diff over the cell limit does not apply back")
	}
}

func BenchmarkUnifiedDiffCloudConfig(b *testing.B) {
	// A cloud-config sized document (about 30 KiB, 900 lines) with three
	// scattered edits, the shape of a real image bump.
	var old strings.Builder
	for i := 0; i < 900; i++ {
		fmt.Fprintf(&old, "      line %d of a cloud-config file with some text\n", i)
	}
	oldText := old.String()
	newText := strings.NewReplacer("line 100 ", "LINE 100 ", "line 450 ", "LINE 450 ", "line 800 ", "LINE 800 ").Replace(oldText)
	b.SetBytes(int64(len(oldText)))
	for b.Loop() {
		unifiedDiff("old", "new", oldText, newText, 3)
	}
}
