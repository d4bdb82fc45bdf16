package cloudconfig

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/internal/testenv"
)

// TestHostFirewallLoads loads the rendered ruleset twice (boot, then the
// setup script's restart) into a private network namespace with the real
// nft and checks what the kernel holds.
func TestHostFirewallLoads(t *testing.T) {
	nft := testenv.Tool(t, "nft", "apt-get install nftables")
	testenv.Tool(t, "unshare", "apt-get install util-linux")
	testenv.Root(t, "the rules load into a private network namespace")
	for _, name := range []string{"reference", "custom-ports", "minimal", "scale-out-signaling", "scale-out-media"} {
		t.Run(name, func(t *testing.T) {
			plan := allCases(t)[name]
			s := plan.Settings()
			p := filepath.Join(t.TempDir(), "nftables.nft")
			if err := os.WriteFile(p, mustPlanFiles(t, plan)[HostFirewallConfig].Content, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("unshare", "--net", "sh", "-c", `"$1" -f "$2" && "$1" -f "$2" && "$1" list ruleset`, "sh", nft, p).CombinedOutput()
			if err != nil {
				t.Fatalf("nft: %v\n%s", err, out)
			}
			got := string(out)
			if n := strings.Count(got, "table inet nctalk"); n != 1 {
				t.Errorf("ruleset holds %d nctalk tables after two loads, want 1:\n%s", n, got)
			}
			for _, r := range plan.Firewall {
				if !strings.Contains(got, "comment \""+r.Name+"\"") {
					t.Errorf("loaded ruleset lacks rule %s:\n%s", r.Name, got)
				}
			}
			// DHCP replies come from an address the request did not go to
			// (broadcast, ff02::1:2), so conntrack does not admit them: v4 and v6
			// (clouds that assign IPv6 by DHCPv6 lose it otherwise).
			if !strings.Contains(got, "udp sport { 67, 547 } udp dport { 68, 546 } accept") {
				t.Errorf("ruleset does not admit DHCPv4 and DHCPv6 replies:\n%s", got)
			}
			if !strings.Contains(got, "policy drop;") {
				t.Errorf("input chain does not drop by default:\n%s", got)
			}
			// The output chain's relay rule follows the configured ranges
			// (the namespace tests in tests/ check what it does).
			relay := fmt.Sprintf("meta skuid %d udp sport %s fib daddr type local udp dport != %s drop", CoturnUID, s.turnRelayPorts(), s.janusRTPPorts())
			if !strings.Contains(got, relay) {
				t.Errorf("ruleset lacks %q:\n%s", relay, got)
			}
		})
	}
}

// TestHostFirewallUnit checks the systemd unit that loads the ruleset at
// boot with `systemd-analyze verify`.
func TestHostFirewallUnit(t *testing.T) {
	sa := testenv.Tool(t, "systemd-analyze", "apt-get install systemd")
	testenv.Tool(t, "nft", "apt-get install nftables") // verify checks that ExecStart exists
	p := filepath.Join(t.TempDir(), filepath.Base(hostFirewallUnit))
	unit := mustFiles(t, referenceSettings())[hostFirewallUnit].Content
	if err := os.WriteFile(p, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", p).CombinedOutput(); err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/sbin/nft -f "+HostFirewallConfig+"\n") {
		t.Errorf("unit does not load %s:\n%s", HostFirewallConfig, unit)
	}
}
