package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/previewsummary"
	"github.com/nctalk/nctalk/infra/outputs"
)

func init() {
	register("preview-summary", "turn `pulumi preview --json` into a Markdown PR comment (no secrets)", runPreviewSummary)
}

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
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "nctalk preview-summary: unexpected argument %q\n", fs.Arg(0))
		return 2
	}

	preview, err := readPreview(*file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "nctalk preview-summary: %v\n", err)
		return 1
	}
	opt := previewsummary.Options{Stack: *stack, CloudConfigOutput: outputs.KeyCloudConfigRedacted, CloudConfigType: outputs.ComponentType}
	if *planFile != "" {
		plan, err := readPlan(*planFile)
		if err != nil {
			fmt.Fprintf(stderr, "nctalk preview-summary: %v\n", err)
			return 1
		}
		opt.Plan = &plan
	}
	if _, err := io.WriteString(stdout, previewsummary.Summarize(preview, opt).Markdown()); err != nil {
		fmt.Fprintf(stderr, "nctalk preview-summary: writing the summary: %v\n", err)
		return 1
	}
	return 0
}

// readPreview decodes the preview JSON from path, or from stdin for "-".
func readPreview(path string, stdin io.Reader) (previewsummary.Preview, error) {
	if path == "-" {
		return previewsummary.ParsePreview(stdin)
	}
	f, err := os.Open(path)
	if err != nil {
		return previewsummary.Preview{}, fmt.Errorf("reading --file: %w", err)
	}
	defer f.Close()
	p, err := previewsummary.ParsePreview(f)
	if err != nil {
		return previewsummary.Preview{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// readPlan decodes the update plan at path.
func readPlan(path string) (previewsummary.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return previewsummary.Plan{}, fmt.Errorf("reading --plan: %w", err)
	}
	defer f.Close()
	p, err := previewsummary.ParsePlan(f)
	if err != nil {
		return previewsummary.Plan{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
