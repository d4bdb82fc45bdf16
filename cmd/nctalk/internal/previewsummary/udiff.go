package previewsummary

import (
	"fmt"
	"strings"
)

// maxDiffCells bounds the line-by-line comparison table (old lines × new
// lines after the common prefix and suffix are cut off). Past it the whole
// middle is shown as removed and added, which is still a correct diff.
const maxDiffCells = 16 << 20

// unifiedDiff returns a unified diff (the format of `diff -u`) from oldText
// to newText with the given lines of context, labelled oldName and newName.
// It returns "" when the texts are equal.
func unifiedDiff(oldName, newName, oldText, newText string, context int) string {
	if oldText == newText {
		return ""
	}
	a, b := splitLines(oldText), splitLines(newText)
	ops := diffLines(a, b)

	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", oldName, newName)
	for _, h := range hunks(ops, context) {
		writeHunk(&out, h, a, b)
	}
	return out.String()
}

// splitLines splits text into lines that keep their "\n"; only a last line
// without a newline lacks it, so it differs from the same line with one.
func splitLines(text string) []string {
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// opKind is one line of an edit script.
type opKind byte

const (
	opEqual  opKind = ' '
	opDelete opKind = '-'
	opInsert opKind = '+'
)

// editOp is one line of an edit script. a and b are the line's index in the
// old and new text; for an insert, a is the number of old lines before it,
// for a delete, b is the number of new lines before it.
type editOp struct {
	kind opKind
	a, b int
}

// diffLines returns a shortest edit script from a to b: the longest common
// subsequence of lines is kept, deletions come before insertions.
func diffLines(a, b []string) []editOp {
	prefix := 0
	for prefix < len(a) && prefix < len(b) && a[prefix] == b[prefix] {
		prefix++
	}
	suffix := 0
	for suffix < len(a)-prefix && suffix < len(b)-prefix && a[len(a)-1-suffix] == b[len(b)-1-suffix] {
		suffix++
	}
	ops := make([]editOp, 0, len(a)+len(b))
	for i := 0; i < prefix; i++ {
		ops = append(ops, editOp{opEqual, i, i})
	}
	ops = append(ops, diffMiddle(a[prefix:len(a)-suffix], b[prefix:len(b)-suffix], prefix, prefix)...)
	for k := suffix; k > 0; k-- {
		ops = append(ops, editOp{opEqual, len(a) - k, len(b) - k})
	}
	return ops
}

// diffMiddle diffs a and b (which start at offA and offB in the whole
// texts) with a longest-common-subsequence table.
func diffMiddle(a, b []string, offA, offB int) []editOp {
	n, m := len(a), len(b)
	var ops []editOp
	if n*m > maxDiffCells {
		for i := range a {
			ops = append(ops, editOp{opDelete, offA + i, offB})
		}
		for j := range b {
			ops = append(ops, editOp{opInsert, offA + n, offB + j})
		}
		return ops
	}
	// lcs[i][j] is the LCS length of a[i:] and b[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, editOp{opEqual, offA + i, offB + j})
			i++
			j++
		case j == m || (i < n && lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, editOp{opDelete, offA + i, offB + j})
			i++
		default:
			ops = append(ops, editOp{opInsert, offA + i, offB + j})
			j++
		}
	}
	return ops
}

// hunks cuts an edit script into hunks: each change with up to context
// equal lines around it, neighbouring hunks merged when their context
// would touch.
func hunks(ops []editOp, context int) [][]editOp {
	var out [][]editOp
	start, end := -1, -1 // current hunk is ops[start:end]
	for k, op := range ops {
		if op.kind == opEqual {
			continue
		}
		lo := max(k-context, 0)
		if start >= 0 && lo <= end {
			end = min(k+context+1, len(ops))
			continue
		}
		if start >= 0 {
			out = append(out, ops[start:end])
		}
		start, end = lo, min(k+context+1, len(ops))
	}
	if start >= 0 {
		out = append(out, ops[start:end])
	}
	return out
}

// writeHunk writes one hunk with its @@ header.
func writeHunk(out *strings.Builder, h []editOp, a, b []string) {
	aCount, bCount := 0, 0
	for _, op := range h {
		if op.kind != opInsert {
			aCount++
		}
		if op.kind != opDelete {
			bCount++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(h[0].a, aCount), hunkRange(h[0].b, bCount))
	for _, op := range h {
		var line string
		if op.kind == opInsert {
			line = b[op.b]
		} else {
			line = a[op.a]
		}
		out.WriteByte(byte(op.kind))
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange formats one side of a hunk header from the 0-based index of its
// first line: "start,count" with a 1-based start, "start" alone when count
// is 1, and "L,0" naming the line L before an empty range.
func hunkRange(start, count int) string {
	switch {
	case count == 0:
		return fmt.Sprintf("%d,0", start)
	case count == 1:
		return fmt.Sprintf("%d", start+1)
	default:
		return fmt.Sprintf("%d,%d", start+1, count)
	}
}
