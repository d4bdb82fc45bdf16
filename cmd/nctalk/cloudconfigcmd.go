package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/nctalk/nctalk/infra/outputs"
)

const cloudConfigAbout = `Prints the deployed #cloud-config of the stack with every secret replaced by
<redacted:name>, read with ` + "`pulumi stack export`" + ` from the TalkBackend
component's cloudConfigRedacted output (it is not a stack output, so
` + "`pulumi up`" + ` does not print its ~300 lines; the stack output
cloudConfigDigest says when it changes). pulumi failing, or a state without
the document (deployed by an older version, or torn down), is exit 1.`

func runCloudConfig(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fl := newFlagSet("cloud-config", "nctalk cloud-config [--stack NAME] [--pulumi PATH] > cloud-config.yaml", cloudConfigAbout, stdout, stderr)
	stack := fl.stackFlag("")
	pulumiBin := fl.pulumiFlag()
	if code, done := fl.parse(args); done {
		return code
	}
	a := []string{"stack", "export"}
	if *stack != "" {
		a = append(a, "--stack", *stack)
	}
	c := exec.Command(*pulumiBin, a...)
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Run(); err != nil {
		return fl.fail(exitFailed, "%s stack export: %v\n%s", *pulumiBin, err, strings.TrimSpace(errOut.String()))
	}
	doc, err := redactedFromExport(out.Bytes())
	if err != nil {
		return fl.fail(exitFailed, "%v", err)
	}
	if _, err := io.WriteString(stdout, doc); err != nil {
		return fl.fail(exitFailed, "writing the document: %v", err)
	}
	return exitOK
}

// redactedFromExport finds the TalkBackend component's redacted
// cloud-config in `pulumi stack export`.
func redactedFromExport(export []byte) (string, error) {
	var doc struct {
		Deployment struct {
			Resources []struct {
				Type    string         `json:"type"`
				Outputs map[string]any `json:"outputs"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(export, &doc); err != nil {
		return "", fmt.Errorf("`pulumi stack export` did not print a deployment: %w", err)
	}
	for _, r := range doc.Deployment.Resources {
		if r.Type != outputs.ComponentType {
			continue
		}
		if note, ok := r.Outputs[outputs.KeyTornDown].(string); ok {
			return "", fmt.Errorf("the backend is torn down: %s", note)
		}
		switch v := r.Outputs[outputs.KeyCloudConfigRedacted].(type) {
		case string:
			return v, nil
		case nil:
			return "", fmt.Errorf("the %s component has no %s output: run `pulumi up` with this version first", outputs.ComponentType, outputs.KeyCloudConfigRedacted)
		default:
			return "", fmt.Errorf("the %s output is not plain text (a secret?)", outputs.KeyCloudConfigRedacted)
		}
	}
	return "", fmt.Errorf("the stack has no %s component: nothing is deployed", outputs.ComponentType)
}
