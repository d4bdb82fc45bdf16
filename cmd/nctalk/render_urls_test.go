package main

import (
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
)

// TestRenderRefusesNonBaseNextcloudURLs: a query, an empty query, a
// fragment, a lone "#" or user info can never match what Nextcloud sends;
// every way of writing one in the config file is refused with
// nextcloudUrls named, including the flow-list form YAML cannot parse
// unquoted (`[https://…/?a=b]`: `?` in a flow collection).
func TestRenderRefusesNonBaseNextcloudURLs(t *testing.T) {
	block := func(u string) string { return "nextcloudUrls:\n  - " + u + "\n" }
	flow := func(u string) string { return "nextcloudUrls: [" + u + "]\n" }
	quoted := func(u string) string { return "nextcloudUrls: [\"" + u + "\"]\n" }
	base := strings.Replace(renderTestConfig, "nextcloudUrls:\n  - https://cloud.example.com\n", "", 1)
	tests := []struct{ name, urls string }{
		{"flow query", flow("https://cloud.example.org/?a=b")},
		{"flow query without slash", flow("https://cloud.example.org?a=b")},
		{"flow empty query", flow("https://cloud.example.org?")},
		{"flow lone hash", flow("https://cloud.example.org/#")},
		{"flow hash after space", flow("https://cloud.example.org/ #")},
		{"flow user info", flow("https://admin@cloud.example.org")},
		{"block query", block("https://cloud.example.org/?a=b")},
		{"block empty query", block("https://cloud.example.org?")},
		{"block fragment", block("https://cloud.example.org/#talk")},
		{"block user and password", block("https://admin:pw@cloud.example.org/")},
		{"quoted query", quoted("https://cloud.example.org/?a=b")},
		{"quoted empty query", quoted("https://cloud.example.org/?")},
		{"quoted lone hash", quoted("https://cloud.example.org#")},
		{"quoted fragment", quoted("https://cloud.example.org/nc#x")},
		{"quoted empty user info", quoted("https://@cloud.example.org")},
		{"scalar instead of list", "nextcloudUrls: https://cloud.example.org/?a=b\n"},
		{"stack file flow query", "config:\n  nctalk:domain: talk.example.com\n  nctalk:nextcloudUrls: [https://cloud.example.org/?a=b]\n  nctalk:acmeEmail: admin@example.com\n"},
		{"stack file quoted query", "config:\n  nctalk:domain: talk.example.com\n  nctalk:nextcloudUrls: [\"https://cloud.example.org/?a=b\"]\n  nctalk:acmeEmail: admin@example.com\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeTemp(t, "render.yaml", base+tt.urls)
			if strings.HasPrefix(tt.name, "stack file") {
				cfg = writeTemp(t, "Pulumi.dev.yaml", tt.urls)
			}
			code, out, stderr := render(t, "--config", cfg)
			if code != exitBadInput || out != "" {
				t.Fatalf("exit %d, stdout %d bytes; want %d and nothing (stderr %q)", code, len(out), exitBadInput, stderr)
			}
			if !strings.Contains(stderr, schema.KeyNextcloudURLs+":") {
				t.Errorf("stderr does not name %s:\n%s", schema.KeyNextcloudURLs, stderr)
			}
		})
	}
}
