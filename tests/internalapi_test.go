package tests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/tests/harness"
)

// TestInternalAPIsOnlyForSignaling runs the rendered NATS and Janus (as
// their containers' uid) behind the rendered host firewall in a network
// namespace, and connects to them on loopback as the users that share the
// host's network on the VM: the signaling server (uid 850) and root must
// get through, every other container's uid (Janus, NATS, coturn; 101:
// nginx's workers) and nobody must be refused. Neither daemon can check a
// credential the signaling server sends (see docs/security.md#network), so
// the firewall's owner match is what keeps them private.
func TestInternalAPIsOnlyForSignaling(t *testing.T) {
	needNetnsRoot(t)
	bins := map[string]string{}
	for _, b := range []string{"curl"} {
		bins[b] = testenv.Tool(t, b, "apt-get install "+b)
	}
	files, _ := renderedFiles(t, harness.TestSettings("api.nctalk.test", "https://cloud.nctalk.test"))
	ns := newNetns(t, "api")
	loadFirewall(t, ns, files)

	// The rendered configs, readable by the daemons' uid.
	dir, err := os.MkdirTemp("", "nctalk-internalapi-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cloudconfig.NATSConfig, cloudconfig.JanusConfigFile, cloudconfig.JanusVideoRoomConfig, cloudconfig.JanusWebsocketsConfig} {
		f, ok := files[p]
		if !ok {
			t.Fatalf("the cloud-config writes no %s", p)
		}
		if err := os.WriteFile(filepath.Join(dir, path.Base(p)), f.Content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	natsLog := startContainerInNetns(t, ns, files, cloudconfig.ServiceNATS, dir, path.Dir(cloudconfig.NATSConfig))
	janusLog := startContainerInNetns(t, ns, files, cloudconfig.ServiceJanus, dir, cloudconfig.JanusConfigDir)

	natsProbe := []string{"timeout", "3", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d && head -c 4 <&3", schema.PortNATS)}
	janusProbe := []string{bins["curl"], "-s", "-m", "2", "-o", "/dev/null", "-w", "%{http_code}",
		"-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
		"-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "-H", "Sec-WebSocket-Protocol: janus-protocol",
		fmt.Sprintf("http://127.0.0.1:%d/", schema.PortJanusWS)}
	answers := map[string]func(out string) bool{
		"NATS":  func(out string) bool { return strings.HasPrefix(out, "INFO") },
		"Janus": func(out string) bool { return strings.HasPrefix(out, "101") }, // curl then times out on the open socket
	}
	probes := map[string][]string{"NATS": natsProbe, "Janus": janusProbe}
	logs := map[string]*lockedBuffer{"NATS": natsLog, "Janus": janusLog}

	// Wait until both answer root (allowed by the firewall).
	for name, argv := range probes {
		deadline := time.Now().Add(20 * time.Second)
		for {
			out, _ := nsExec(ns, 0, 5*time.Second, argv...)
			if answers[name](out) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer root on loopback (last answer %q)\n%s", name, out, logs[name])
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	for _, c := range []struct {
		who   string
		uid   int
		allow bool
	}{
		{"signaling (uid 850)", cloudconfig.SignalingUID, true},
		{"root", 0, true},
		{"nobody (65534)", 65534, false},
		{"Janus' uid", cloudconfig.JanusUID, false},
		{"NATS' uid", cloudconfig.NATSUID, false},
		{"coturn's uid", cloudconfig.CoturnUID, false},
		{"nginx worker's uid 101", 101, false},
	} {
		for _, name := range []string{"NATS", "Janus"} {
			t.Run(name+" as "+c.who, func(t *testing.T) {
				out, _ := nsExec(ns, c.uid, 5*time.Second, probes[name]...)
				got := answers[name](out)
				switch {
				case c.allow && !got:
					t.Errorf("%s refused %s: %q (nftables.nft output chain must admit it)", name, c.who, out)
				case !c.allow && got:
					t.Errorf("%s answered %s on loopback: %q (nftables.nft output chain must refuse every uid but root and signaling's)", name, c.who, out)
				}
			})
		}
	}
}

// TestLoopbackPortsGatedByUID loads the rendered host firewall into a
// network namespace with a stand-in listener on each local port a
// container could abuse, and connects as each container's uid: the
// loopback HTTP ports (signaling's API, the 443 front's HTTPS server and
// TURN hop, which trust X-Real-IP and the PROXY header) only for root and
// nginx's workers; NATS and Janus only for root and the signaling server;
// and the signaling server's uid, whose federation client dials any URL a
// client names, reaches no other local TCP port than those and 443 (another
// stand-in here for sshd and everything else: 2222). Before, every uid
// reached 8080, 8443, 8444 and 2222.
func TestLoopbackPortsGatedByUID(t *testing.T) {
	needNetnsRoot(t)
	files, _ := renderedFiles(t, harness.TestSettings("gate.nctalk.test", "https://cloud.nctalk.test"))
	ns := newNetns(t, "gate")
	loadFirewall(t, ns, files)
	ports := []int{schema.PortSignalingHTTP, schema.PortHTTPSLocal, schema.PortTURNSLocal, schema.PortNATS, schema.PortJanusWS, schema.PortHTTPS, 2222}
	// The signaling server's own listener (8080) belongs to its uid: its
	// answers (SYN-ACK and data, owned by 850, to a local ephemeral port)
	// must pass the gate on 850's own connections (which took the VM down
	// before the gate matched new connections only).
	signalingListener := exec.Command("ip", "netns", "exec", ns, "setpriv", fmt.Sprintf("--reuid=%d", cloudconfig.SignalingUID),
		fmt.Sprintf("--regid=%d", cloudconfig.SignalingUID), "--clear-groups", "--", "/usr/bin/python3", "-c",
		fmt.Sprintf(`import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", %d)); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(b"ok"); c.close()`, schema.PortSignalingHTTP))
	if err := signalingListener.Start(); err != nil {
		t.Fatalf("/usr/bin/python3 listener as uid %d: %v", cloudconfig.SignalingUID, err)
	}
	t.Cleanup(func() { _ = signalingListener.Process.Kill(); _ = signalingListener.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if out, _ := nsExec(ns, 0, 3*time.Second, "timeout", "2", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d && head -c 2 <&3", schema.PortSignalingHTTP)); out == "ok" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("root does not reach the signaling uid's listener on %d (%q): the gate drops its answers", schema.PortSignalingHTTP, out)
		}
	}
	for _, p := range ports {
		if p == schema.PortSignalingHTTP {
			continue
		}
		var l net.Listener
		if err := inNetns(ns, func() (err error) { l, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); return err }); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte("ok"))
				c.Close()
			}
		}()
	}
	nginx, signaling := cloudconfig.NginxWorkerUID, cloudconfig.SignalingUID
	allowed := map[int][]int{
		schema.PortSignalingHTTP: {0, nginx}, schema.PortHTTPSLocal: {0, nginx}, schema.PortTURNSLocal: {0, nginx},
		schema.PortNATS: {0, signaling}, schema.PortJanusWS: {0, signaling},
	}
	uids := []int{0, 65534}
	for _, service := range cloudconfig.ServiceNames() {
		uids = append(uids, cloudconfig.ContainerUIDs[service])
	}
	for _, p := range ports {
		for _, uid := range uids {
			want := true
			if list, ok := allowed[p]; ok {
				want = slices.Contains(list, uid)
			} else if uid == signaling && p != schema.PortHTTPS {
				want = false
			}
			out, _ := nsExec(ns, uid, 5*time.Second, "timeout", "3", "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d && head -c 2 <&3", p))
			if got := out == "ok"; got != want {
				t.Errorf("uid %d to 127.0.0.1:%d: connected %v, want %v (nftables.nft output chain; answer %q)", uid, p, got, want, out)
			}
		}
	}
}
