package tests

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
	"github.com/nctalk/nctalk/tests/harness"
)

// TestOneAddressCannotStarveTURN runs the rendered coturn (its container,
// its uid) behind the rendered host firewall in a network namespace, with
// clients in a second namespace, as on the VM. Talk mints a new REST
// username ("<expiry>:<random>") on every signaling-settings request, and
// coturn's user-quota counts by that name, so one client can hold
// credentials by the dozen: with them, one address allocates until the
// relay range (total-quota) is gone and everyone else is refused. The host
// firewall caps new TURN flows per client (IPv4 address, IPv6 /64), and
// each allocation needs a flow of its own: the attacker gets at most
// TURNLimits.AddressQuota allocations, over UDP and TCP together, and a
// second address still allocates.
func TestOneAddressCannotStarveTURN(t *testing.T) {
	needNetnsRoot(t)
	settings := harness.TestSettings("quota.nctalk.test", "https://cloud.nctalk.test")
	settings.TURNRelayPorts = schema.PortRange{} // the default range: 41 ports
	limits := cloudconfig.TURNLimitsFor(schema.DefaultTURNRelayPorts)
	files, sec := renderedFiles(t, settings)

	srv, cli := newNetns(t, "tq-srv"), newNetns(t, "tq-cli")
	mustRun(t, "ip", "-n", srv, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1", "netns", cli)
	server4, server6 := net.ParseIP("203.0.113.10"), net.ParseIP("2001:db8:1::10")
	attacker4, victim4 := net.ParseIP("203.0.113.20"), net.ParseIP("203.0.113.21")
	// Two addresses of one /64 are one client; another /64 is another.
	attacker6a, attacker6b, victim6 := net.ParseIP("2001:db8:1::20"), net.ParseIP("2001:db8:1::21"), net.ParseIP("2001:db8:2::20")
	for _, a := range []string{server4.String() + "/24", server6.String() + "/64", "2001:db8:2::10/64"} {
		mustRun(t, "ip", "-n", srv, "addr", "add", a, "dev", "eth0", "nodad")
	}
	for _, a := range []string{attacker4.String() + "/24", victim4.String() + "/24", attacker6a.String() + "/64", attacker6b.String() + "/64", victim6.String() + "/64"} {
		mustRun(t, "ip", "-n", cli, "addr", "add", a, "dev", "eth1", "nodad")
	}
	mustRun(t, "ip", "-n", srv, "link", "set", "eth0", "up")
	mustRun(t, "ip", "-n", cli, "link", "set", "eth1", "up")
	loadFirewall(t, srv, files)

	// The rendered turnserver.conf with the namespace's addresses and no
	// TLS (no certificate here; TLS is tested on the stack).
	var kept []string
	for _, line := range strings.Split(string(files[cloudconfig.CoturnConfig].Content), "\n") {
		if !strings.HasPrefix(line, "cert=") && !strings.HasPrefix(line, "pkey=") {
			kept = append(kept, line)
		}
	}
	conf := strings.Join(kept, "\n") + fmt.Sprintf("listening-ip=%s\nrelay-ip=%s\nlistening-ip=%s\nrelay-ip=%s\nno-tls\n", server4, server4, server6, server6)
	dir, err := os.MkdirTemp("", "nctalk-turnquota-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, path.Base(cloudconfig.CoturnConfig)), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := startContainerInNetns(t, srv, files, cloudconfig.ServiceCoturn, dir, path.Dir(cloudconfig.CoturnConfig))
	waitForLog(t, logs, "Total auth threads", 30*time.Second)

	n := 0
	// allocate opens a new UDP flow from local with a fresh credential, as
	// a client that fetched the signaling settings once more would.
	allocate := func(local, server net.IP) error {
		n++
		user, pass := talk.TURNCredentials(sec.TURNSecret, fmt.Sprintf("client-%d", n), time.Now().Add(time.Hour))
		var conn *net.UDPConn
		err := inNetns(cli, func() (err error) {
			conn, err = net.DialUDP("udp", &net.UDPAddr{IP: local}, &net.UDPAddr{IP: server, Port: schema.PortTURN})
			return err
		})
		if err != nil {
			return err
		}
		c := newRawTURN(conn, user, pass, settings.Domain)
		t.Cleanup(c.Close) // the flow stays open while the test runs
		_, err = c.AllocateUDP(4)
		return err
	}
	// the first allocation may meet coturn still binding its sockets
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if err := allocate(victim4, server4); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("coturn: no allocation at all: %v\n%s", err, logs)
		}
	}

	// Two rounds per client, the second after a quiet while longer than
	// the kernel's 30 s for a quiet UDP flow: allocations live 600 s
	// without a refresh, so the flows must stay counted that long.
	attack := func(from []net.IP, server net.IP) int {
		got := 0
		for i := range limits.AddressQuota + 3 {
			if allocate(from[i%len(from)], server) == nil {
				got++
			}
		}
		return got
	}
	clients := []struct {
		name           string
		from           []net.IP
		server, victim net.IP
	}{
		{"IPv4", []net.IP{attacker4}, server4, victim4},
		{"IPv6, a /64 is one client", []net.IP{attacker6a, attacker6b}, server6, victim6},
	}
	got := make([]int, len(clients))
	for i, c := range clients {
		got[i] = attack(c.from, c.server)
	}
	time.Sleep(35 * time.Second)
	for i, c := range clients {
		got[i] += attack(c.from, c.server)
	}
	for i, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Logf("%v: %d allocations of %d tries, each with a fresh credential, in two rounds 35 s apart", c.from, got[i], 2*(limits.AddressQuota+3))
			if got[i] > limits.AddressQuota {
				t.Errorf("one client (%v) holds %d allocations with fresh credentials, over its share %d (relay range %d): nftables.nft must cap new TURN flows per client, as long as an allocation lives", c.from, got[i], limits.AddressQuota, limits.TotalQuota)
			}
			// TCP counts with UDP: the client has used its share.
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: c.from[0]}, Timeout: 2 * time.Second}
			err := inNetns(cli, func() error {
				conn, err := d.Dial("tcp", net.JoinHostPort(c.server.String(), fmt.Sprint(schema.PortTURN)))
				if err == nil {
					conn.Close()
				}
				return err
			})
			if err == nil {
				t.Errorf("%s opened a TCP connection to coturn after using its share over UDP", c.from[0])
			}
			if err := allocate(c.victim, c.server); err != nil {
				t.Errorf("another client (%s) is refused while one client holds many credentials: %v\n%s", c.victim, err, tailLines(logs.String(), 20))
			}
		})
	}
}
