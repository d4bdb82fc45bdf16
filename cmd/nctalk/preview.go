package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/previewsummary"
	"github.com/nctalk/nctalk/infra/outputs"
)

const previewSummaryAbout = `Writes a Markdown summary of a preview to stdout: resources by operation, a
loud line when the server is replaced, what the running box does, and the
diff of the redacted cloud-config. Prints no secret. On any error nothing
is written to stdout, so the workflow never posts half a comment. A file
that cannot be read, or that is not (exactly one) ` + "`pulumi preview --json`" + `
or plan, is exit 2; stdout that cannot be written is exit 1.`

// runPreviewSummary reads `pulumi preview --json` from --file or stdin and
// writes the Markdown summary to stdout.
func runPreviewSummary(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("preview-summary", "nctalk preview-summary [--file FILE] [--plan FILE] [--stack NAME] > summary.md", previewSummaryAbout, stdout, stderr)
	file := fs.String("file", "FILE", "-", "the output of `pulumi preview --json --show-sames`; - reads stdin")
	planFile := fs.String("plan", "FILE", "", "the update plan of the same preview (`pulumi preview --save-plan FILE`), for the new cloud-config")
	stack := fs.stackFlag("the stack the preview is of, for the heading and the comment marker (default: from the URNs)")
	if code, done := fs.parse(args); done {
		return code
	}

	raw, err := readInput(*file, "--file", stdin)
	if err != nil {
		return fs.fail(exitBadInput, "%v", err)
	}
	preview, err := previewsummary.ParsePreview(bytes.NewReader(raw))
	if err != nil {
		fmt.Fprintf(stderr, "nctalk preview-summary: %s: %v\n", inputName(*file), err)
		return exitBadInput
	}
	opt := previewsummary.Options{Stack: *stack, CloudConfigOutput: outputs.KeyCloudConfigRedacted, CloudConfigType: outputs.ComponentType}
	if *planFile != "" {
		raw, err := readInput(*planFile, "--plan", nil)
		if err != nil {
			return fs.fail(exitBadInput, "%v", err)
		}
		plan, err := previewsummary.ParsePlan(bytes.NewReader(raw))
		if err != nil {
			fmt.Fprintf(stderr, "nctalk preview-summary: %s: %v\n", *planFile, err)
			return exitBadInput
		}
		opt.Plan = &plan
	}
	if _, err := io.WriteString(stdout, previewsummary.Summarize(preview, opt).Markdown()); err != nil {
		fmt.Fprintf(stderr, "nctalk preview-summary: writing the summary: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// readInput reads a whole input file, or stdin for "-" (--file only).
// Reading first keeps "cannot read" apart from "not a preview" in the
// message.
func readInput(path, flagName string, stdin io.Reader) ([]byte, error) {
	if path == "-" && stdin != nil {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", flagName, err)
	}
	return b, nil
}

// inputName names the preview input in messages.
func inputName(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}
