package tests

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
	"github.com/nctalk/nctalk/tests/harness"
	"github.com/nctalk/nctalk/tests/images"
)

// verifyMediaAddr is the media server's address on its link to the test's
// network namespace (a documentation /25; the test's side has .129).
const verifyMediaAddr = "198.51.100.130"

// TestVerifyMediaServer runs `nctalk verify` against the stack with one
// media server: the media server's rendering (cloudconfig.Plan.ForMediaServer
// of the stack's settings and secrets) with its real nginx, signaling proxy,
// Janus and coturn, in a network namespace of its own linked to the test's,
// its certificate for its own name from the stack's CA, and verify's
// --resolve pointing its name there. Healthy, every check passes and the
// media check names it; with another TURN secret the media check fails
// with coturn's 401 (the main box's turn check too); with its proxy
// stopped, only the media check fails, on nginx's 502 for /welcome.
func TestVerifyMediaServer(t *testing.T) {
	s := needStack(t)
	needNetnsRoot(t)
	begin := time.Now()

	m := &mediaServer{name: "media-v", ns: newNetns(t, "vmedia"), proxyAddr: verifyMediaAddr}
	host := mediaServers(m)[0].Host
	link(t, "", m.ns, "vm0", verifyMediaAddr)
	files := mediaServerFiles(t, s, m, newProxyToken(t))
	tlsDir := mediaCertificateDir(t, s, host)

	m.janus = startJanus(t, m.ns, files)
	m.proxy = startProxy(t, m, files)
	coturn := startWithTLS(t, m.ns, files, cloudconfig.ServiceCoturn, cloudconfig.CoturnConfig, tlsDir, cloudconfig.ContainerUIDs[cloudconfig.ServiceCoturn])
	nginx := startWithTLS(t, m.ns, files, cloudconfig.ServiceNginx, cloudconfig.NginxConfig, tlsDir, 0)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("----- media server: proxy log (tail) -----\n%s", tailLines(m.proxy.logs.String(), 30))
			t.Logf("----- media server: nginx log (tail) -----\n%s", tailLines(nginx.String(), 20))
			t.Logf("----- media server: coturn log (tail) -----\n%s", tailLines(coturn.String(), 20))
			t.Logf("----- media server: Janus log (tail) -----\n%s", tailLines(m.janus.String(), 15))
		}
	})
	waitForLog(t, coturn, "Total auth threads", 30*time.Second)
	ctx := bounded(t, 60*time.Second)
	if err := pollFor(ctx, 45*time.Second, func() error { return proxyWelcomes(ctx, m.ns) }); err != nil {
		t.Fatalf("the media server's proxy does not answer on loopback: %v", err)
	}
	t.Logf("media server up in %s", time.Since(begin).Round(time.Millisecond))

	out := withMediaServer(s.Outputs, host)
	resolve := []string{"--cert-days", "0", "--resolve", host + "=" + verifyMediaAddr}

	t.Run("healthy", func(t *testing.T) {
		code, rep, _ := runVerify(t, s, out, resolve...)
		expectGreen(t, code, rep)
		_, reason, _ := rep.check("media")
		for _, want := range []string{"1 media server: " + host, "certificate valid for " + host, "welcomes",
			"udp " + host + ":3478", "tcp " + host + ":3478", "tls " + host + ":5349"} {
			if !strings.Contains(reason, want) {
				t.Errorf("media reason %q does not contain %q", reason, want)
			}
		}
		for _, id := range []string{"stun", "turn"} {
			if _, reason, _ := rep.check(id); strings.Contains(reason, host) {
				t.Errorf("%s probed the media server (the media check's): %q", id, reason)
			}
		}
	})
	t.Run("wrong TURN secret", func(t *testing.T) {
		wrong := out
		wrong.TURNSecret = "not-" + wrong.TURNSecret
		code, rep, _ := runVerify(t, s, wrong, resolve...)
		if f := rep.failed(); code != 1 || !slices.Equal(f, []string{"turn", "media"}) {
			t.Fatalf("exit %d, failed %v; want 1 and [turn media] (the main box's coturn refuses too)", code, f)
		}
		_, reason, hint := rep.check("media")
		for _, want := range []string{host + ": TURN udp " + host + ":3478: credentials refused (401 Unauthorized)", "tcp " + host, "tls " + host} {
			if !strings.Contains(reason, want) {
				t.Errorf("media reason %q does not contain %q", reason, want)
			}
		}
		if strings.Contains(reason, "welcome") || strings.Contains(reason, "certificate") {
			t.Errorf("media reason %q blames more than TURN", reason)
		}
		if !strings.Contains(hint, "turnSecret") || !strings.Contains(hint, host) {
			t.Errorf("media hint %q names neither turnSecret nor %s", hint, host)
		}
	})
	t.Run("proxy stopped", func(t *testing.T) {
		_ = syscall.Kill(-m.proxy.PID(), syscall.SIGKILL)
		<-m.proxy.done
		code, rep, _ := runVerify(t, s, out, resolve...)
		expectOnly(t, code, rep, "media", nil, host+": GET https://"+host+"/welcome answered 502 Bad Gateway")
		if _, _, hint := rep.check("media"); !strings.Contains(hint, "ssh root@"+host+" docker compose -f "+cloudconfig.ComposeFile+" logs proxy") {
			t.Errorf("media hint %q does not say how to read the proxy's log on %s", hint, host)
		}
	})
	t.Logf("whole test: %s", time.Since(begin).Round(time.Millisecond))
}

// withMediaServer returns the outputs with host's TURN and STUN entries
// added, as the stack lists a media server (talk.Endpoints.MediaHosts).
func withMediaServer(o outputs.Outputs, host string) outputs.Outputs {
	media := talk.Endpoints{Domain: o.Domain, MediaHosts: []string{host}}
	o.TURNServers = append(slices.Clone(o.TURNServers), media.TURNServers()[2:]...)
	o.STUNServers = append(slices.Clone(o.STUNServers), media.STUNServers()[1:]...)
	return o
}

// mediaCertificateDir issues the media server's certificate from the
// stack's CA, in the layout the setup leaves in nginx's and coturn's tls
// directories (cloudconfig.TLSCertFile, cloudconfig.TLSKeyFile).
func mediaCertificateDir(t testing.TB, s *harness.Stack, host string) map[string][]byte {
	t.Helper()
	issued, err := s.CA.Issue(host)
	if err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{cloudconfig.TLSCertFile: issued["fullchain.pem"], cloudconfig.TLSKeyFile: issued["privkey.pem"]}
}

// startWithTLS runs service in ns with its rendered config file (conf) in
// its config directory and the certificate (tls) in that directory's tls/,
// readable by uid (0: root, nginx's master) as the setup leaves it.
func startWithTLS(t testing.TB, ns string, files map[string]harness.WrittenFile, service, conf string, tls map[string][]byte, uid int) *lockedBuffer {
	t.Helper()
	dir := configDir(t, files, conf)
	tlsDir := filepath.Join(dir, "tls")
	if err := os.Mkdir(tlsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range tls {
		p := filepath.Join(tlsDir, name)
		if err := os.WriteFile(p, content, 0o400); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	spec, err := harness.ContainerSpec(files, service)
	if err != nil {
		t.Fatal(err)
	}
	spec.Binds = append(spec.Binds, images.Bind{Source: dir, Target: path.Dir(conf), ReadOnly: true})
	return runInNetns(t, ns, spec).logs
}

// proxyWelcomes asks the proxy in ns for its welcome on loopback, where
// the media server's nginx reaches it.
func proxyWelcomes(ctx context.Context, ns string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+loopback(schema.PortProxyHTTP)+"/welcome", nil)
	if err != nil {
		return err
	}
	resp, err := nsHTTPClient(ns).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /welcome: %s", resp.Status)
	}
	return nil
}
