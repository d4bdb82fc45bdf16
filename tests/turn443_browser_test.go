package tests

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/coder/websocket"

	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
	"github.com/nctalk/nctalk/tests/harness"
)

// TestBrowserRelayOn443 gathers ICE candidates in Debian's headless
// Chromium with only the turns: entry on 443 and iceTransportPolicy
// "relay": a relay candidate proves that a browser's TURN/TLS client gets
// through nginx's SNI front to coturn. It first records the TLS ClientHello
// that Chromium sends for a turns: URL (SNI and ALPN), the evidence for
// routing by SNI alone.
func TestBrowserRelayOn443(t *testing.T) {
	s := needStack(t)
	chromium := testenv.Tool(t, "chromium", "apt-get install chromium")
	certutil := testenv.Tool(t, "certutil", "apt-get install libnss3-tools")
	browserNetwork(t)
	name := s.Settings.TURNName()
	home := t.TempDir()
	nssdb := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(nssdb, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-d", "sql:" + nssdb, "-N", "--empty-password"},
		{"-d", "sql:" + nssdb, "-A", "-t", "C,,", "-n", "nctalk-test-ca", "-i", s.CAFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	b := startBrowser(t, chromium, home, name)
	user, pass := talk.TURNCredentials(s.Outputs.TURNSecret, "browser", time.Now().Add(time.Hour))

	t.Run("ClientHello of a turns: URL", func(t *testing.T) {
		// A TLS listener that only records the ClientHello, on a port of
		// its own: what nginx's ssl_preread sees.
		cert, err := s.CA.Issue(name)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(cert["fullchain.pem"], cert["privkey.pem"])
		if err != nil {
			t.Fatal(err)
		}
		hellos := make(chan *tls.ClientHelloInfo, 4)
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
			Certificates: []tls.Certificate{pair},
			GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
				select {
				case hellos <- h:
				default:
				}
				return nil, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		port := ln.Addr().(*net.TCPAddr).Port
		_, _ = b.gather(t, fmt.Sprintf("turns:%s:%d?transport=tcp", name, port), user, pass, 5*time.Second)
		select {
		case h := <-hellos:
			t.Logf("Chromium's ClientHello for turns:%s: SNI %q, ALPN %q", name, h.ServerName, h.SupportedProtos)
			if h.ServerName != name {
				t.Errorf("Chromium sent SNI %q for turns:%s; nginx routes TURN by this name", h.ServerName, name)
			}
			if len(h.SupportedProtos) != 0 {
				t.Errorf("Chromium sent ALPN %q for TURN over TLS; the docs say it sends none — update them (docs/architecture.md: TURN over TLS on 443)", h.SupportedProtos)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Chromium never opened TLS to the turns: URL")
		}
	})

	t.Run("relay candidate through 443", func(t *testing.T) {
		cands, raw := b.gather(t, fmt.Sprintf("turns:%s:%d?transport=tcp", name, schema.PortHTTPS), user, pass, 20*time.Second)
		relays := 0
		for _, c := range cands {
			f := strings.Fields(c)
			// candidate:<f> <component> <proto> <prio> <ip> <port> typ relay …
			if len(f) >= 8 && f[6] == "typ" && f[7] == "relay" {
				relays++
				port, _ := strconv.Atoi(f[5])
				if !s.TURNRelayPorts().Contains(port) {
					t.Errorf("relay candidate %q: port outside the relay range %s", c, s.TURNRelayPorts())
				}
			} else {
				t.Errorf("non-relay candidate %q with iceTransportPolicy relay", c)
			}
		}
		if relays == 0 {
			t.Fatalf("Chromium gathered no relay candidate through turns:%s:443 (nginx stream front -> coturn); page said %s", name, raw)
		}
		t.Logf("Chromium: %d relay candidate(s) through turns:%s:443: %q", relays, name, cands)
	})
}

// browserNetwork gives the tests' own network namespace (harness.RunInOwnNetwork:
// only lo) a TUN interface held open by the test, with an address and a
// default route: WebRTC gathers on running non-loopback interfaces only,
// and its TURN sockets are bound to that address (they still reach the
// stack on 127.0.0.1). Outside such a namespace nothing is changed.
func browserNetwork(t *testing.T) {
	t.Helper()
	if os.Getenv(harness.NetnsEnv) != "1" {
		return
	}
	if _, err := net.InterfaceByName("nctalk0"); err == nil {
		return
	}
	tun, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("/dev/net/tun: %v", err)
	}
	var req [40]byte // struct ifreq: name, then flags
	copy(req[:], "nctalk0")
	binary.LittleEndian.PutUint16(req[16:], 0x0001|0x1000) // IFF_TUN | IFF_NO_PI
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, tun.Fd(), 0x400454ca /* TUNSETIFF */, uintptr(unsafe.Pointer(&req[0]))); errno != 0 {
		tun.Close()
		t.Fatalf("TUNSETIFF nctalk0: %v", errno)
	}
	t.Cleanup(func() { tun.Close() })
	for _, args := range [][]string{
		{"addr", "add", "198.51.100.7/24", "dev", "nctalk0"},
		{"link", "set", "nctalk0", "up"},
		{"route", "add", "default", "dev", "nctalk0"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v in the test network namespace: %v: %s", args, err, out)
		}
	}
}

// browser is a headless Chromium driven over the DevTools protocol.
type browser struct {
	ws *websocket.Conn
	id int
}

// startBrowser starts Chromium with name (and name., as WebRTC looks up
// TURN hosts with a trailing dot) resolved to 127.0.0.1 and $HOME at home
// (its NSS db trusts the test CA), and connects to its page.
func startBrowser(t *testing.T, chromium, home, name string) *browser {
	t.Helper()
	profile := filepath.Join(home, "profile")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
		"--disable-features=WebRtcHideLocalIpsWithMdns", "--no-first-run", "--user-data-dir="+profile,
		fmt.Sprintf("--host-resolver-rules=MAP %[1]s 127.0.0.1, MAP %[1]s. 127.0.0.1", name),
		"--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+home)
	logs := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("chromium: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	var port string
	for deadline := time.Now().Add(30 * time.Second); port == ""; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort")); err == nil {
			port, _, _ = strings.Cut(string(b), "\n")
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium did not open its DevTools port in 30 s:\n%s", logs)
		}
	}
	var targets []struct {
		Type string `json:"type"`
		URL  string `json:"webSocketDebuggerUrl"`
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/json/list")
	if err != nil {
		t.Fatalf("DevTools: %v", err)
	}
	err = json.NewDecoder(resp.Body).Decode(&targets)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("DevTools /json/list: %v", err)
	}
	for _, tg := range targets {
		if tg.Type == "page" {
			ws, _, err := websocket.Dial(context.Background(), tg.URL, nil)
			if err != nil {
				t.Fatalf("DevTools page: %v", err)
			}
			ws.SetReadLimit(16 << 20)
			t.Cleanup(func() { ws.CloseNow() })
			return &browser{ws: ws}
		}
	}
	t.Fatalf("DevTools lists no page: %+v", targets)
	return nil
}

// gatherScript gathers candidates with one TURN URL and relay-only policy
// and resolves with them (and candidate errors) as JSON when gathering
// completes or after %[4]d ms.
const gatherScript = `new Promise(resolve => {
  const out = [];
  const pc = new RTCPeerConnection({iceServers: [{urls: [%[1]q], username: %[2]q, credential: %[3]q}], iceTransportPolicy: "relay"});
  const done = () => { pc.close(); resolve(JSON.stringify(out)); };
  pc.onicecandidate = e => { if (e.candidate) { if (e.candidate.candidate) out.push(e.candidate.candidate); } else done(); };
  pc.onicecandidateerror = e => out.push("error " + e.errorCode + " " + e.errorText + " " + e.url);
  pc.createDataChannel("probe");
  pc.createOffer().then(o => pc.setLocalDescription(o));
  setTimeout(done, %[4]d);
})`

// gather runs gatherScript in the page and returns the candidate lines
// (errors dropped) and the raw JSON.
func (b *browser) gather(t *testing.T, url, user, pass string, timeout time.Duration) ([]string, string) {
	t.Helper()
	b.id++
	req, _ := json.Marshal(map[string]any{"id": b.id, "method": "Runtime.evaluate", "params": map[string]any{
		"expression": fmt.Sprintf(gatherScript, url, user, pass, timeout.Milliseconds()), "awaitPromise": true, "returnByValue": true,
	}})
	ctx, cancel := context.WithTimeout(context.Background(), timeout+15*time.Second)
	defer cancel()
	if err := b.ws.Write(ctx, websocket.MessageText, req); err != nil {
		t.Fatalf("DevTools: %v", err)
	}
	for {
		_, msg, err := b.ws.Read(ctx)
		if err != nil {
			t.Fatalf("DevTools: %v", err)
		}
		var resp struct {
			ID     int `json:"id"`
			Result struct {
				Result struct {
					Value string `json:"value"`
				} `json:"result"`
				ExceptionDetails any `json:"exceptionDetails"`
			} `json:"result"`
		}
		if json.Unmarshal(msg, &resp) != nil || resp.ID != b.id {
			continue
		}
		if resp.Result.ExceptionDetails != nil {
			t.Fatalf("page script: %s", msg)
		}
		var all []string
		if err := json.Unmarshal([]byte(resp.Result.Result.Value), &all); err != nil {
			t.Fatalf("page script returned %q", resp.Result.Result.Value)
		}
		var cands []string
		for _, c := range all {
			if !strings.HasPrefix(c, "error ") {
				cands = append(cands, c)
			}
		}
		return cands, resp.Result.Result.Value
	}
}
