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

// Documentation addresses that stand in for the server's own public
// addresses inside the test's network namespace (never routed anywhere).
var (
	selfV4 = net.ParseIP("203.0.113.10")
	selfV6 = net.ParseIP("2001:db8:1::10")
)

// TestTURNRelayToOwnAddress runs the rendered coturn (as its container's
// uid) behind the rendered host firewall in a network namespace whose
// "public" addresses are documentation addresses, as on the VM (coturn
// listens and relays on the public addresses, host networking). Clients
// behind strict NATs reach Janus through TURN, so relaying to the server's
// own address must work on Janus' RTP range, and only there: a UDP service
// on any other port of the same address (a stand-in for whatever listens
// there) must receive nothing, over IPv4 and IPv6.
func TestTURNRelayToOwnAddress(t *testing.T) {
	needNetnsRoot(t)
	settings := harness.TestSettings("turn.nctalk.test", "https://cloud.nctalk.test")
	files, sec := renderedFiles(t, settings)
	srv := newNetns(t, "turn")
	mustRun(t, "ip", "-n", srv, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	mustRun(t, "ip", "-n", srv, "link", "set", "eth1", "up")
	mustRun(t, "ip", "-n", srv, "addr", "add", selfV4.String()+"/24", "dev", "eth0")
	mustRun(t, "ip", "-n", srv, "addr", "add", selfV6.String()+"/64", "dev", "eth0", "nodad")
	mustRun(t, "ip", "-n", srv, "link", "set", "eth0", "up")
	loadFirewall(t, srv, files)

	// The rendered turnserver.conf plus the addresses coturn finds by itself
	// on the VM (it binds every address; here only the stand-ins), and no
	// TLS (no certificate here; the TLS listener is tested on the stack).
	conf := string(files[cloudconfig.CoturnConfig].Content)
	var kept []string
	for _, line := range strings.Split(conf, "\n") {
		if !strings.HasPrefix(line, "cert=") && !strings.HasPrefix(line, "pkey=") && line != "dtls" {
			kept = append(kept, line)
		}
	}
	conf = strings.Join(kept, "\n") + fmt.Sprintf("listening-ip=%s\nrelay-ip=%s\nlistening-ip=%s\nrelay-ip=%s\nno-tls\n", selfV4, selfV4, selfV6, selfV6)
	// Readable by coturn's uid (t.TempDir's parent is root-only).
	dir, err := os.MkdirTemp("", "nctalk-turnself-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "turnserver.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := startContainerInNetns(t, srv, files, cloudconfig.ServiceCoturn, dir, path.Dir(cloudconfig.CoturnConfig))
	// coturn's last start-up line: its listeners and relays are up. (An
	// allocation sent earlier meets a closed port, and the client's
	// connected UDP socket then reports ICMP errors instead of retrying.)
	waitForLog(t, logs, "Total auth threads", 30*time.Second)

	var rtp schema.PortRange
	for _, r := range cloudconfig.FirewallRules(settings) {
		if r.Name == "janus-rtp" {
			rtp = r.Ports
		}
	}
	user, pass := talk.TURNCredentials(sec.TURNSecret, "alice", time.Now().Add(time.Hour))
	for _, fam := range []struct {
		name   string
		family int
		self   net.IP
	}{{"IPv4", 4, selfV4}, {"IPv6", 6, selfV6}} {
		t.Run(fam.name, func(t *testing.T) {
			// Stand-ins on the server's own address: Janus on its first RTP
			// port, and another UDP service outside the range.
			var janus, other *net.UDPConn
			var client *rawTURN
			err := inNetns(srv, func() (err error) {
				if janus, err = net.ListenUDP("udp", &net.UDPAddr{IP: fam.self, Port: rtp.First}); err != nil {
					return err
				}
				if other, err = net.ListenUDP("udp", &net.UDPAddr{IP: fam.self, Port: 5000}); err != nil {
					return err
				}
				// coturn may still be starting: retry the allocation.
				server := &net.UDPAddr{IP: fam.self, Port: schema.PortTURN}
				if client, err = dialRawTURN(server, user, pass, settings.Domain); err != nil {
					return err
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			defer janus.Close()
			defer other.Close()
			defer client.Close()
			var relay *net.UDPAddr
			for deadline := time.Now().Add(10 * time.Second); ; {
				if relay, err = client.AllocateUDP(fam.family); err == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("coturn: allocation failed: %v\n%s", err, logs)
			}
			if !settings.TURNRelayPorts.Contains(relay.Port) {
				t.Fatalf("relay %s outside the relay range %s: coturn did not read the rendered turnserver.conf\n%s", relay, settings.TURNRelayPorts, logs)
			}
			for _, target := range []struct {
				conn *net.UDPConn
				want bool
				what string
			}{
				{janus, true, fmt.Sprintf("Janus' RTP port %d", rtp.First)},
				{other, false, "a non-RTP port (5000)"},
			} {
				peer := target.conn.LocalAddr().(*net.UDPAddr)
				if err := client.CreatePermission(peer); err != nil {
					if target.want {
						t.Errorf("coturn refused a permission to %s on the server's own address %s: %v (clients behind strict NATs need it)", target.what, peer, err)
					}
					continue
				}
				if err := client.SendIndication(peer, []byte("relayed")); err != nil {
					t.Fatal(err)
				}
				_ = target.conn.SetReadDeadline(time.Now().Add(time.Second))
				buf := make([]byte, 64)
				n, from, err := target.conn.ReadFromUDP(buf)
				switch {
				case target.want && err != nil:
					t.Errorf("relayed datagram to %s (%s) did not arrive: %v (nftables.nft output chain, turnserver.conf peers)", target.what, peer, err)
				case target.want && !from.IP.Equal(relay.IP):
					t.Errorf("datagram to %s came from %s, not the relay %s", target.what, from, relay)
				case !target.want && err == nil:
					t.Errorf("coturn relayed %q from %s to %s (%s) on the server's own address: only Janus' RTP range may be reached (nftables.nft output chain)", buf[:n], from, target.what, peer)
				}
			}
		})
	}
}
