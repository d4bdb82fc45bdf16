package tests

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/tests/harness"
)

// TestMetadataServiceClosedToContainers builds a VM-like topology out of
// network namespaces: a "host" with a Docker-like bridge and NAT, a
// "container" behind the bridge, and a "cloud" that holds a fake metadata
// service on 169.254.169.254 behind the host's default route (documentation
// addresses only). With the rendered host firewall loaded into the host,
// the container (forward path) and the host's non-root users (the stack's
// containers run with host networking as uids 850/65534) must not reach the
// metadata service; root on the host (cloud-init) still must.
func TestMetadataServiceClosedToContainers(t *testing.T) {
	needNetnsRoot(t)
	files, _ := renderedFiles(t, harness.TestSettings("meta.nctalk.test", "https://cloud.nctalk.test"))
	host, ctr, cloud := newNetns(t, "mhost"), newNetns(t, "mctr"), newNetns(t, "mcloud")

	// host <-> cloud: the host's "public" link, default route via the cloud.
	mustRun(t, "ip", "-n", host, "link", "add", "pub0", "type", "veth", "peer", "name", "eth0", "netns", cloud)
	mustRun(t, "ip", "-n", host, "addr", "add", "198.51.100.10/24", "dev", "pub0")
	mustRun(t, "ip", "-n", host, "link", "set", "pub0", "up")
	mustRun(t, "ip", "-n", host, "route", "add", "default", "via", "198.51.100.1")
	mustRun(t, "ip", "-n", cloud, "addr", "add", "198.51.100.1/24", "dev", "eth0")
	mustRun(t, "ip", "-n", cloud, "addr", "add", "169.254.169.254/32", "dev", "eth0")
	mustRun(t, "ip", "-n", cloud, "link", "set", "eth0", "up")
	// host <-> container: a bridge like docker0, NAT like Docker's MASQUERADE.
	mustRun(t, "ip", "-n", host, "link", "add", "nctbr0", "type", "bridge")
	mustRun(t, "ip", "-n", host, "addr", "add", "172.30.0.1/24", "dev", "nctbr0")
	mustRun(t, "ip", "-n", host, "link", "set", "nctbr0", "up")
	mustRun(t, "ip", "-n", host, "link", "add", "vctr0", "type", "veth", "peer", "name", "eth0", "netns", ctr)
	mustRun(t, "ip", "-n", host, "link", "set", "vctr0", "master", "nctbr0", "up")
	mustRun(t, "ip", "-n", ctr, "addr", "add", "172.30.0.2/24", "dev", "eth0")
	mustRun(t, "ip", "-n", ctr, "link", "set", "eth0", "up")
	mustRun(t, "ip", "-n", ctr, "route", "add", "default", "via", "172.30.0.1")
	mustRun(t, "ip", "netns", "exec", host, "sh", "-c", "echo 1 >/proc/sys/net/ipv4/ip_forward")
	mustRun(t, "ip", "netns", "exec", host, "nft",
		"add table ip dockernat; add chain ip dockernat post { type nat hook postrouting priority srcnat; }; "+
			"add rule ip dockernat post ip saddr 172.30.0.0/24 oifname != nctbr0 masquerade")

	// The fake metadata service, in the cloud namespace.
	const userdata = "#cloud-config\n# every secret of the stack\n"
	var ln net.Listener
	if err := inNetns(cloud, func() (err error) {
		ln, err = net.Listen("tcp4", "169.254.169.254:80")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(userdata))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	fetch := func(ns string, uid int) (string, error) {
		out, err := nsExec(ns, uid, 10*time.Second, "curl", "-sS", "-m", "3", "http://169.254.169.254/hetzner/v1/userdata")
		if err == nil && !strings.Contains(out, "#cloud-config") {
			err = errors.New("unexpected answer")
		}
		return out, err
	}
	// Control: without the firewall the topology works, so a refusal below
	// is the firewall's doing.
	if out, err := fetch(ctr, 0); err != nil {
		t.Fatalf("topology broken: the container cannot reach the fake metadata service even without the firewall: %v\n%s", err, out)
	}

	loadFirewall(t, host, files)

	cases := []struct {
		name  string
		ns    string
		uid   int
		allow bool
	}{
		{"container behind the bridge (forward path)", ctr, 0, false},
		{"host-network container as signaling's uid 850", host, 850, false},
		{"host-network container as uid 65534 (Janus, NATS, coturn)", host, 65534, false},
		{"root on the host (cloud-init)", host, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := fetch(c.ns, c.uid)
			switch {
			case c.allow && err != nil:
				t.Errorf("metadata service unreachable for %s with the host firewall loaded: %v\n%s (cloud-init needs it)", c.name, err, out)
			case !c.allow && err == nil:
				t.Errorf("%s read the user data from 169.254.169.254 through the host firewall: %q (nftables.nft must drop it)", c.name, out)
			}
		})
	}
}
