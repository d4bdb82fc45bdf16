package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for people: one line per check (status,
// title, reason), then its hint and warnings indented, then a summary.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "nctalk verify %s\n", r.Domain)
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%-4s %-29s %s\n", res.Status, res.Title, res.Reason)
		if res.Hint != "" && !res.OK() {
			fmt.Fprintf(&b, "     hint: %s\n", res.Hint)
		}
		for _, warn := range res.Warnings {
			fmt.Fprintf(&b, "     warning: %s\n", warn)
		}
	}
	failed := r.Failed()
	attempts := ""
	if r.Attempts > 1 {
		attempts = fmt.Sprintf(", %d attempts", r.Attempts)
	}
	if len(failed) == 0 {
		fmt.Fprintf(&b, "all %d checks passed (%.1fs%s)\n", len(r.Results), float64(r.ElapsedMS)/1000, attempts)
	} else {
		ids := make([]string, len(failed))
		for i, id := range failed {
			ids[i] = string(id)
		}
		fmt.Fprintf(&b, "%d of %d checks did not pass: %s (%.1fs%s)\n", len(failed), len(r.Results), strings.Join(ids, ", "), float64(r.ElapsedMS)/1000, attempts)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON object.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ExitCode is the process exit code for a report: 0 only when every check
// passed, 1 otherwise. (2 is for usage and input errors, see the command.)
func ExitCode(r Report) int {
	if r.OK && len(r.Results) > 0 {
		return 0
	}
	return 1
}
