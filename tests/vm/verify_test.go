package vm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
)

// The guest's public address as the host reaches it: a second NIC on a tap
// device with an address of TEST-NET-2, so `nctalk verify` dials the real
// ports (443, 3478, 5349) on a real, non-loopback address, as an admin
// does, and its exposure check probes the internal ports there. (QEMU's
// user-mode forwards cannot stand in: they are on loopback, which verify
// rightly does not probe, and slirp completes the host's handshake before
// it asks the guest, so every forwarded port would look open. They also
// answer UDP only to 127.0.0.1.) The guest sets its address in bootcmd
// (vendorData), before docker starts, so coturn binds it at every boot.
const (
	tapDevice  = "nctalkvm0"
	hostTapNet = "198.51.100.1/24"
	publicAddr = "198.51.100.2"
	publicNet  = publicAddr + "/24"
	publicMAC  = "52:54:00:6e:63:74"
)

// checkTapRoute makes sure the host reaches the guest's public address
// through the tap, not through its default route: one CI run's verify
// reached the machine's egress proxy instead (the tap's route was not in
// effect; cause not found). It logs the route, sets the tap's address and
// link again when the route is wrong, and fails precisely if that does not
// help.
func checkTapRoute(t *testing.T) {
	t.Helper()
	route, _ := runErr(time.Minute, "ip", "route", "get", publicAddr)
	if strings.Contains(route, "dev "+tapDevice) {
		return
	}
	addrs, _ := runErr(time.Minute, "ip", "addr", "show", "dev", tapDevice)
	t.Logf("the host's route to %s is %q, not via %s (tap: %s); setting the tap's address and link again", publicAddr, strings.TrimSpace(route), tapDevice, strings.TrimSpace(addrs))
	_, _ = runErr(time.Minute, "ip", "addr", "replace", hostTapNet, "dev", tapDevice)
	_, _ = runErr(time.Minute, "ip", "link", "set", tapDevice, "up")
	if route, _ = runErr(time.Minute, "ip", "route", "get", publicAddr); !strings.Contains(route, "dev "+tapDevice) {
		t.Fatalf("the host's route to %s is %q, not via the tap %s: nctalk verify would not reach the guest", publicAddr, strings.TrimSpace(route), tapDevice)
	}
}

// setupTap creates the host's tap device for the machines' public NIC
// (removing one a killed run left behind) and removes it when the test ends.
func setupTap(t *testing.T) {
	t.Helper()
	_, _ = runErr(time.Minute, "ip", "link", "del", tapDevice)
	run(t, time.Minute, "ip", "tuntap", "add", "dev", tapDevice, "mode", "tap")
	t.Cleanup(func() { _, _ = runErr(time.Minute, "ip", "link", "del", tapDevice) })
	run(t, time.Minute, "ip", "addr", "add", hostTapNet, "dev", tapDevice)
	run(t, time.Minute, "ip", "link", "set", tapDevice, "up")
}

// publicNICScript brings the NIC with publicMAC up with publicNet, in the
// guest (bootcmd, every boot).
var publicNICScript = fmt.Sprintf(`for d in /sys/class/net/*; do if [ "$(cat $d/address)" = %s ]; then ip link set "${d##*/}" up && ip addr replace %s dev "${d##*/}"; fi; done`, publicMAC, publicNet)

// stackOutputs are the outputs `pulumi stack output --json --show-secrets`
// prints for these settings and secrets, each value from the plan the
// stack derives them from (infra/backend.go); ipv4 is the server's address
// as this host reaches it.
func stackOutputs(t *testing.T, s cloudconfig.Settings, sec cloudconfig.Secrets, ipv4 string) outputs.Outputs {
	t.Helper()
	plan, err := cloudconfig.NewPlan(s)
	if err != nil {
		t.Fatalf("settings: %v", err)
	}
	ends := plan.Endpoints
	return outputs.Outputs{
		Domain:          ends.Domain,
		SignalingURL:    ends.SignalingURL(),
		SignalingSecret: sec.SignalingSecret,
		TURNSecret:      sec.TURNSecret,
		TURNServers:     ends.TURNServers(),
		STUNServers:     ends.STUNServers(),
		TURNRelayPorts:  plan.TURNRelayPorts.String(),
		JanusRTPPorts:   plan.JanusRTPPorts.String(),
		IPv4:            ipv4,
		ServerName:      "nctalk-vm",
		SSHCommand:      "ssh root@" + ipv4,
	}
}

// verifyTargets are the host names and the ports `nctalk verify` dials for
// these outputs: the signaling URL's TCP port, every STUN entry over UDP
// and every TURN entry over the transports Talk uses (turn: UDP and TCP,
// turns: TCP).
func verifyTargets(o outputs.Outputs) (hosts []string, fwds []forward, err error) {
	add := func(hostport, proto string) error {
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return err
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("port of %q: %w", hostport, err)
		}
		if !slices.Contains(hosts, host) {
			hosts = append(hosts, host)
		}
		if f := (forward{proto, p}); !slices.Contains(fwds, f) {
			fwds = append(fwds, f)
		}
		return nil
	}
	u, err := url.Parse(o.SignalingURL)
	if err != nil {
		return nil, nil, err
	}
	port := u.Port()
	if port == "" {
		port = strconv.Itoa(schema.PortHTTPS)
	}
	if err := add(net.JoinHostPort(u.Hostname(), port), "tcp"); err != nil {
		return nil, nil, err
	}
	for _, s := range o.STUNServers {
		if err := add(s, "udp"); err != nil {
			return nil, nil, err
		}
	}
	for _, s := range o.TURNServers {
		for _, scheme := range strings.Split(s.Schemes, ",") {
			for _, proto := range strings.Split(s.Protocols, ",") {
				if scheme == "turns" && proto != "tcp" {
					continue // DTLS: verify does not probe it
				}
				if err := add(s.Server, proto); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	return hosts, fwds, nil
}

// verifyCLI is `nctalk verify` as an admin runs it against this VM.
type verifyCLI struct {
	bin     string   // the built nctalk
	args    []string // --outputs, --ca, --resolve
	secrets []string // must appear in no output
}

// buildNctalk builds the CLI from this checkout into dir.
func buildNctalk(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: the test builds cmd/nctalk: %v", err)
	}
	bin := filepath.Join(dir, "nctalk")
	run(t, 10*time.Minute, goBin, "build", "-o", bin, "github.com/nctalk/nctalk/cmd/nctalk")
	return bin
}

// newVerifyCLI writes the stack outputs and the ACME CA's root into dir and
// returns the command line: every name of the outputs resolves to
// publicAddr, and the certificate must chain to caPEM.
func newVerifyCLI(t *testing.T, bin, dir string, o outputs.Outputs, hosts []string, caPEM []byte) *verifyCLI {
	t.Helper()
	raw, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := outputs.Parse(bytes.NewReader(raw)); err != nil {
		t.Fatalf("the test's stack outputs do not parse: %v", err)
	}
	outFile, caFile := filepath.Join(dir, "stack-outputs.json"), filepath.Join(dir, "acme-root.pem")
	if err := os.WriteFile(outFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "--outputs", outFile, "--ca", caFile}
	for _, h := range hosts {
		args = append(args, "--resolve", h+"="+publicAddr)
	}
	return &verifyCLI{bin: bin, args: args, secrets: []string{o.SignalingSecret, o.TURNSecret}}
}

// verifyReport is the part of `nctalk verify --json` the test reads.
type verifyReport struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Check    string   `json:"check"`
		Status   string   `json:"status"`
		Reason   string   `json:"reason"`
		Warnings []string `json:"warnings"`
	} `json:"checks"`
}

// wantVerifyChecks are the checks `nctalk verify` runs; every one must pass.
var wantVerifyChecks = []string{"dns", "tls", "signaling", "backend-secret", "websocket", "stun", "turn", "turn-443", "exposure", "media"}

// run runs `nctalk verify` (with extra flags) and returns its stdout,
// stderr and exit code.
func (v *verifyCLI) run(t *testing.T, extra ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(v.bin, append(slices.Clone(v.args), extra...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("nctalk verify: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("nctalk verify did not finish in 3 min:\n%s%s", stdout.String(), stderr.String())
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("nctalk verify: %v", err)
	}
	for _, s := range v.secrets {
		if strings.Contains(stdout.String()+stderr.String(), s) {
			t.Errorf("nctalk verify printed a secret")
		}
	}
	return stdout.String(), stderr.String(), code
}

// assertVerify runs `nctalk verify` against the machine as an admin does,
// first for people (the log shows it), then with --json: every check must
// pass.
func assertVerify(t *testing.T, v *verifyCLI) {
	t.Helper()
	checkTapRoute(t)
	text, stderr, code := v.run(t)
	t.Logf("$ nctalk %s\n%s%s(exit %d)", strings.Join(v.args, " "), text, stderr, code)
	if code != 0 || !strings.Contains(text, "all 10 checks passed (") {
		t.Errorf("nctalk verify: exit %d; want 0, every check passed", code)
	}
	out, stderr, code := v.run(t, "--json")
	var rep verifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("nctalk verify --json (exit %d): %v\n%s%s", code, err, out, stderr)
	}
	if code != 0 || !rep.OK {
		t.Errorf("nctalk verify --json: exit %d, ok %v; want 0, true", code, rep.OK)
	}
	var got []string
	for _, c := range rep.Checks {
		got = append(got, c.Check)
		if c.Status != "ok" {
			t.Errorf("check %s: %s: %s", c.Check, c.Status, c.Reason)
		}
		// What each passing check must have seen, beyond "ok".
		wants := map[string]string{
			"dns":       "via --resolve",
			"tls":       "issuer \"Pebble Intermediate",
			"websocket": "invalid_backend",
			"turn":      "udp " + testDomain,
			"turn-443":  "SNI ",
			"stun":      "sees this machine as " + strings.Split(hostTapNet, "/")[0],
			"exposure":  "closed on " + publicAddr,
			"media":     "none: ", // the VM test's stack has no media servers
		}
		if w, ok := wants[c.Check]; ok && !strings.Contains(c.Reason, w) {
			t.Errorf("check %s: reason %q lacks %q", c.Check, c.Reason, w)
		}
		for _, w := range c.Warnings {
			if strings.Contains(w, "no MCU") {
				t.Errorf("check %s: %s", c.Check, w)
			}
		}
	}
	if !slices.Equal(got, wantVerifyChecks) {
		t.Errorf("nctalk verify ran %v, want %v", got, wantVerifyChecks)
	}
}

// TestVerifyTargets needs no VM: the names and ports the VM test forwards
// for `nctalk verify` follow the product's outputs, with and without
// turnOn443.
func TestVerifyTargets(t *testing.T) {
	for _, tc := range []struct {
		name      string
		off443    bool
		wantHosts []string
	}{
		{"turnOn443", false, []string{testDomain, "turn." + testDomain}},
		{"turnOn443 off", true, []string{testDomain}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := cloudconfig.Settings{Domain: testDomain, NextcloudURLs: []string{"https://cloud.nctalk-vm.example"},
				ACMEEmail: "admin@nctalk-vm.example", TURNOn443: !tc.off443}
			o := stackOutputs(t, s, cloudconfig.Secrets{SignalingSecret: "s", TURNSecret: "t"}, publicAddr)
			hosts, fwds, err := verifyTargets(o)
			if err != nil {
				t.Fatal(err)
			}
			want := []forward{{"tcp", schema.PortHTTPS}, {"udp", schema.PortTURN}, {"tcp", schema.PortTURN}, {"tcp", schema.PortTURNS}}
			if !slices.Equal(hosts, tc.wantHosts) || !slices.Equal(fwds, want) {
				t.Errorf("verifyTargets = %v, %v; want %v, %v", hosts, fwds, tc.wantHosts, want)
			}
		})
	}
}
