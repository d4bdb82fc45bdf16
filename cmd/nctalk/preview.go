package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/previewsummary"
	"github.com/nctalk/nctalk/infra/outputs"
)

// runPreviewSummary reads `pulumi preview --json` from --file or stdin and
// writes the Markdown summary to stdout.
func runPreviewSummary(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("preview-summary", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "-", "the output of `pulumi preview --json`; - reads stdin")
	planFile := fs.String("plan", "", "the update plan of the same preview (`pulumi preview --save-plan FILE`), for the new cloud-config")
	stack := fs.String("stack", "", "stack name for the heading and the comment marker (default: from the URNs)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nctalk preview-summary [--file preview.json] [--plan plan.json] [--stack NAME]")
		fmt.Fprintln(stderr, "\nWrites a Markdown summary of a preview: resources by operation, a loud line when the")
		fmt.Fprintln(stderr, "server is replaced, and the diff of the redacted cloud-config. Prints no secret.")
		fmt.Fprintln(stderr, "\nExit codes: 0 summary written; 1 a file could not be read or stdout not written;")
		fmt.Fprintln(stderr, "2 bad flags, or a document that is not (exactly one) `pulumi preview --json` or plan.")
		fmt.Fprintln(stderr, "On any error nothing is written to stdout.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nctalk preview-summary: unexpected argument %q\n", fs.Arg(0))
		return exitBadInput
	}

	raw, err := readInput(*file, "--file", stdin)
	if err != nil {
		fmt.Fprintf(stderr, "nctalk preview-summary: %v\n", err)
		return exitFailed
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
			fmt.Fprintf(stderr, "nctalk preview-summary: %v\n", err)
			return exitFailed
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
// Reading first keeps "cannot read" (exit 1) apart from "not a preview"
// (exit 2).
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
