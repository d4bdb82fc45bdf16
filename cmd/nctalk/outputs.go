package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/nctalk/nctalk/infra/outputs"
)

// maxOutputsBytes caps what is read as stack outputs: a real stack's
// outputs are a few KiB.
const maxOutputsBytes = 1 << 20

// pulumiTimeout bounds `pulumi stack output`.
const pulumiTimeout = 2 * time.Minute

// readStackOutputs reads and parses the stack outputs from source (the
// --outputs flag): "-" stdin, "pulumi" `pulumi stack output` of stack run
// with pulumiBin, anything else a JSON file. It is the one reader every
// command uses. A failure of pulumi is a worldError (exit 1); everything
// else is bad input (exit 2).
func readStackOutputs(source, stack, pulumiBin string, stdin io.Reader) (outputs.Outputs, error) {
	var raw []byte
	var err error
	switch {
	case source == "" || source == "-":
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return outputs.Outputs{}, errors.New("stdin is a terminal: pipe in `pulumi stack output --json --show-secrets`, or pass --outputs pulumi or --outputs FILE")
		}
		raw, err = readCapped(stdin, "stdin")
	case source == "pulumi":
		raw, err = pulumiStackOutput(pulumiBin, stack)
	case strings.HasPrefix(source, "pulumi:"):
		return outputs.Outputs{}, fmt.Errorf("--outputs %s: name the stack with --stack: --outputs pulumi --stack %s", source, strings.TrimPrefix(source, "pulumi:"))
	default:
		var f *os.File
		if f, err = os.Open(source); err != nil {
			return outputs.Outputs{}, fmt.Errorf("--outputs: %w", err)
		}
		defer f.Close()
		raw, err = readCapped(f, source)
	}
	if err != nil {
		return outputs.Outputs{}, err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return outputs.Outputs{}, errors.New("the stack outputs are empty: pipe in `pulumi stack output --json --show-secrets`, or pass --outputs pulumi or --outputs FILE")
	}
	return outputs.Parse(bytes.NewReader(raw))
}

// readCapped reads r whole, refusing more than maxOutputsBytes.
func readCapped(r io.Reader, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxOutputsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the stack outputs from %s: %w", name, err)
	}
	if len(b) > maxOutputsBytes {
		return nil, fmt.Errorf("the stack outputs in %s are over %d bytes; want the output of `pulumi stack output --json --show-secrets`", name, maxOutputsBytes)
	}
	return b, nil
}

// pulumiStackOutput runs `pulumi stack output --json --show-secrets` (for
// stack, when given). Its stderr is shown only on failure, and never its
// stdout, which holds the secrets.
func pulumiStackOutput(pulumiBin, stack string) ([]byte, error) {
	args := []string{"stack", "output", "--json", "--show-secrets"}
	if stack != "" {
		args = append(args, "--stack", stack)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pulumiTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, pulumiBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, worldError{fmt.Errorf("%s %s: %w: %s", pulumiBin, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))}
	}
	return readCapped(&stdout, "`pulumi stack output`")
}
