// Package vm boots the exact bytes of cloudconfig.Render on a real Debian 13
// (trixie) VM under QEMU, with substitute images from a local registry,
// Pebble as the ACME CA and pebble-challtestsrv as the public DNS, and
// proves the backend comes up by itself, comes back after a reboot, and
// reuses its certificate when rebuilt on the same volume.
package vm

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/tests/images"
)

const (
	testDomain = "talk.nctalk-vm.example"
	cacheDir   = "/var/cache/nctalk-vm"
)

// prerequisites are the host tools the test runs.
var prerequisites = []string{"qemu-system-x86_64", "qemu-img", "mmdebstrap", "mkfs.ext4", "genisoimage", "ssh", "ssh-keygen", "ip"}

func requireVM(t *testing.T) {
	t.Helper()
	testenv.SkipUnless(t, testenv.CI(), "boots Debian 13 VMs under QEMU (docs/testing.md, \"The first boot on a real VM\"): set CI=true and run as root")
	testenv.Root(t, "mmdebstrap and mkfs.ext4 -d with ownership")
	for _, p := range prerequisites {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("%s missing (CI=true): apt-get install qemu-system-x86 qemu-utils mmdebstrap e2fsprogs genisoimage openssh-client iproute2", p)
		}
	}
}

// randomSecret is n characters of [A-Za-z0-9].
func randomSecret(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// mirrorPath is where a Docker Hub image lives on a registry mirror
// (official images under library/), or the path of another registry's image.
func mirrorPath(image string) string {
	p := images.RepoPath(image)
	if p == image && !strings.Contains(strings.SplitN(p, ":", 2)[0], "/") {
		return "library/" + p
	}
	return p
}

// pinByDigest pins a Docker Hub image the test pushed to reg as tag@digest
// (the digest of the substitute just pushed), as an admin pins a release:
// Docker then asks registryMirror for the manifest by digest.
func pinByDigest(ctx context.Context, reg *imageRegistry, image string) (string, error) {
	tagged, _, _ := strings.Cut(image, "@")
	ref, err := name.ParseReference(reg.pushHost()+"/"+mirrorPath(tagged), name.Insecure)
	if err != nil {
		return "", err
	}
	desc, err := remote.Head(ref, remote.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("digest of the pushed %s: %w", ref, err)
	}
	return tagged + "@" + desc.Digest.String(), nil
}

// isDockerHub reports whether Docker's registry-mirrors apply to image.
func isDockerHub(image string) bool { return images.RepoPath(image) == image }

// phases records boot-to-ready seconds.
type phases struct {
	names []string
	secs  map[string]float64
}

func (p *phases) add(name string, s float64) {
	if p.secs == nil {
		p.secs = map[string]float64{}
	}
	p.names = append(p.names, name)
	p.secs[name] = s
}

func (p *phases) print(t *testing.T, title string) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n", title)
	for _, n := range p.names {
		fmt.Fprintf(&b, "  %-48s %7.1f s\n", n, p.secs[n])
	}
	t.Log(b.String())
	fmt.Print(b.String())
}

func TestFirstBoot(t *testing.T) {
	requireVM(t)
	lockMachine(t)
	ctx := context.Background()
	var host phases
	work := t.TempDir()
	if d := os.Getenv("NCTALK_VM_WORKDIR"); d != "" {
		work = d
		_ = os.RemoveAll(work)
		if err := os.MkdirAll(work, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logs := logFile(t, work, "host-services.log")
	t.Logf("work dir %s (serial logs, seed, host service log)", work)

	img := buildImage(t, cacheDir)
	host.add("VM image (mmdebstrap, 0 = cached)", img.BuildSeconds)

	start := time.Now()
	root, err := images.BuildRoot(ctx, images.CacheDir())
	if err != nil {
		t.Fatalf("substitute images: %v", err)
	}
	host.add("substitute images root (images.BuildRoot)", time.Since(start).Seconds())
	versions, err := images.DaemonVersions(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("daemons of the substitute images (Debian sid, pinned): %s", strings.Join(versions, ", "))

	ca := newTestCA(t)
	tlsCert := ca.serverCert(t)
	reg := startRegistry(t, logs, tlsCert)

	// Settings as an admin writes them; the registry mirror stands in for
	// Docker Hub (its images pinned by digest below), the janus image
	// (ghcr.io) is overridden to the registry.
	settings := cloudconfig.Settings{
		Domain:         testDomain,
		NextcloudURLs:  []string{"https://cloud.nctalk-vm.example"},
		ACMEEmail:      "admin@nctalk-vm.example",
		RegistryMirror: "https://" + reg.host(),
		StateDevice:    stateDevice,
		Images:         map[string]string{},
		TURNOn443:      true,
	}
	refs := map[string]string{}
	for svc, image := range cloudconfig.DefaultImages {
		refs[svc] = mirrorPath(image)
		if !isDockerHub(image) {
			settings.Images[svc] = reg.host() + "/" + mirrorPath(image)
		}
	}
	start = time.Now()
	if err := images.Push(ctx, root, reg.pushHost(), refs); err != nil {
		t.Fatalf("push: %v", err)
	}
	host.add("push to the registry", time.Since(start).Seconds())
	// The Docker Hub images are pinned as tag@digest (the digest of the
	// substitute just pushed) and pulled through registryMirror: Docker
	// asks the mirror for the manifest by digest.
	for svc, image := range cloudconfig.DefaultImages {
		if !isDockerHub(image) {
			continue
		}
		if settings.Images[svc], err = pinByDigest(ctx, reg, image); err != nil {
			t.Fatal(err)
		}
	}

	sshKey := filepath.Join(work, "id_ed25519")
	run(t, time.Minute, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "nctalk-vm-test", "-f", sshKey)
	pub, err := os.ReadFile(sshKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	settings.SSHAuthorizedKeys = []string{strings.TrimSpace(string(pub))}
	secrets := cloudconfig.Secrets{
		SignalingSecret: randomSecret(32), TURNSecret: randomSecret(32),
		SessionHashKey: randomSecret(64), SessionBlockKey: randomSecret(32),
		InternalClientSecret: randomSecret(32), JanusAPIKey: randomSecret(32),
	}

	// `nctalk verify` from the host, as an admin runs it: the stack outputs
	// from the product's functions, the guest's public address on a tap
	// device (publicAddr).
	start = time.Now()
	nctalkBin := buildNctalk(t, work)
	host.add("go build ./cmd/nctalk", time.Since(start).Seconds())
	stackOut := stackOutputs(t, settings, secrets, publicAddr)
	verifyHosts, publicPorts, err := verifyTargets(stackOut)
	if err != nil {
		t.Fatalf("stack outputs: %v", err)
	}
	t.Logf("nctalk verify dials %v on %v at %s (tap %s)", verifyHosts, publicPorts, publicAddr, tapDevice)
	setupTap(t)

	m := newMachine(t, filepath.Join(work, "vm1"), img, "", sshKey)
	m.attachTap(tapDevice)
	// Public DNS as the guest sees it (the record points at the guest), and
	// as Pebble sees it (the guest's port 80 is a host port on loopback).
	// Both certificate names: the domain and, with turnOn443, the TURN name.
	names := []string{testDomain, settings.TURNName()}
	guestDNS := startDNS(t, logs, guestAddr, names...)
	pebbleDNS := startStaticDNS(t, "127.0.0.1", names...)
	acme := startPebble(t, logs, tlsCert, m.fwd["tcp/80"], pebbleDNS)
	settings.ACMEServer = acme.directory()

	// The stack's access to the box (infra: a host key in the user data, a
	// deploy key restricted to the apply), for the in-place changes.
	acc := newAccess(t, work)
	userData := hetznerUserData(t, acc.planFor(t, settings), secrets)
	vendor := vendorData(ca.certPEM, acme.rootPEM(), guestDNS.port)
	verifyCmd := newVerifyCLI(t, nctalkBin, work, stackOut, verifyHosts, acme.rootPEM())
	m.writeSeed(userData, vendor, "nctalk-vm-1")

	// With NCTALK_VM_PACKAGE_RATIO=1, first a boot of the same document
	// with the package phase as it was (a full upgrade and recommended
	// packages before the setup), on a machine of its own, so the two
	// package phases are measured on the same machine in one run.
	if os.Getenv("NCTALK_VM_PACKAGE_RATIO") == "1" {
		legacy := legacyPackagePhase(t, userData)
		ml := newMachine(t, filepath.Join(work, "vm-legacy"), img, "", sshKey)
		ml.writeSeed(legacy, vendor, "nctalk-vm-legacy")
		start := time.Now()
		ml.start()
		ml.waitSSH(20 * time.Minute)
		// Its certificate cannot be validated (Pebble reaches the main
		// machine's port 80): the package phases end where the containers are up.
		waitJournal(t, ml, "nctalk-setup: containers: up", 40*time.Minute)
		host.add("legacy package phase: QEMU start to containers up", time.Since(start).Seconds())
		old := guestPhases(t, ml)
		old.print(t, "first boot with the old package phase (full upgrade, recommends), seconds since kernel start")
		ml.kill()
		packagePhases = old
		acme.orders.Store(0)
	}

	// The first boot meets a registry and an ACME server that refuse at
	// first: the setup must retry and recover by itself.
	reg.gate.open.Store(false)
	reg.gate.openAfterFirstRefusal(20 * time.Second)
	acme.gate.open.Store(false)
	acme.gate.openAfterFirstRefusal(20 * time.Second)

	_, accelName := accel()
	t.Logf("booting (%s)", accelName)
	bootStart := time.Now()
	m.start()
	m.waitSSH(20 * time.Minute)
	waitReady(t, m, 30*time.Minute)
	host.add("first boot: QEMU start to ready marker (host clock)", time.Since(bootStart).Seconds())
	firstBoot := guestPhases(t, m)
	firstBoot.print(t, "first boot, seconds since kernel start")
	if packagePhases != nil {
		for _, name := range []string{"setup: start", "setup: images pulled, compose up done"} {
			if o, n := packagePhases.secs[name], firstBoot.secs[name]; o > 0 && n > 0 {
				t.Logf("package phase ratio: %s at %.0f s, was %.0f s with the old package phase: %.2f", name, n, o, n/o)
			}
		}
	}

	journal := m.mustSSH(time.Minute, "journalctl -b -u nctalk-setup -o cat")
	t.Logf("nctalk-setup journal:\n%s", journal)
	for _, want := range []string{"nctalk-setup: compose up: attempt 1 of 5 failed", "nctalk-setup: certbot: attempt 1 of 4 failed", "nctalk-setup: ready"} {
		if !strings.Contains(journal, want) {
			t.Errorf("nctalk-setup journal lacks %q (registry refused %d, ACME refused %d requests)", want, reg.gate.refused.Load(), acme.gate.refused.Load())
		}
	}
	// The failures the setup recovered from were the refusals, not chance.
	if reg.gate.refused.Load() == 0 || acme.gate.refused.Load() == 0 {
		t.Errorf("the registry refused %d and the ACME server %d requests during the first boot; want both > 0 (the retry path did not run)", reg.gate.refused.Load(), acme.gate.refused.Load())
	}
	assertHealthy(t, m, settings)
	if n := acme.orders.Load(); n != 1 {
		t.Errorf("Pebble saw %d new orders after the first boot, want 1", n)
	}
	issuer := m.mustSSH(time.Minute, "openssl x509 -noout -issuer -in /etc/letsencrypt/live/"+testDomain+"/cert.pem")
	if !strings.Contains(issuer, "Pebble") {
		t.Errorf("certificate issuer %q, want Pebble's intermediate (the real certbot path)", strings.TrimSpace(issuer))
	}
	demonstrateCoturnCaps(t, m, settings)

	t.Run("nctalk-verify", func(t *testing.T) { assertVerify(t, verifyCmd) })

	t.Run("turn-over-tls-on-443", func(t *testing.T) {
		relay := allocateOn443(t, m.fwd["tcp/443"], acme.rootPEM(), settings.TURNName(), secrets.TURNSecret)
		relayPorts := settings.TURNRelayPorts
		if relayPorts == (schema.PortRange{}) {
			relayPorts = schema.DefaultTURNRelayPorts
		}
		if udp, ok := relay.(*net.UDPAddr); !ok || !relayPorts.Contains(udp.Port) || udp.IP.IsLoopback() {
			t.Errorf("relay %v through 443: want a port in the relay range %s on the server's own address, not loopback (coturn relays from the address the client reached it on)", relay, relayPorts)
		}
		t.Logf("TURN over TLS on 443 (SNI %s): relay %v", settings.TURNName(), relay)
		names := m.mustSSH(time.Minute, "openssl x509 -noout -ext subjectAltName -in /etc/letsencrypt/live/"+testDomain+"/cert.pem")
		for _, n := range []string{testDomain, settings.TURNName()} {
			if !strings.Contains(names, "DNS:"+n) {
				t.Errorf("the certificate does not name %s: %s", n, strings.TrimSpace(names))
			}
		}
	})

	t.Run("reboot", func(t *testing.T) {
		start := time.Now()
		m.reboot()
		m.waitSSH(15 * time.Minute)
		waitReady(t, m, 20*time.Minute)
		host.add("reboot: QEMU start to ready marker", time.Since(start).Seconds())
		guestPhases(t, m).print(t, "reboot, seconds since kernel start")
		assertHealthy(t, m, settings)
		assertVerify(t, verifyCmd)
		if n := acme.orders.Load(); n != 1 {
			t.Errorf("Pebble saw %d orders after the reboot, want still 1", n)
		}
	})

	t.Run("live-restore", func(t *testing.T) {
		before := containerPIDs(t, m)
		m.mustSSH(5*time.Minute, "systemctl restart docker && sleep 5")
		after := containerPIDs(t, m)
		for c, pid := range before {
			if after[c] != pid {
				t.Errorf("%s: PID %s before `systemctl restart docker`, %s after; want the same (live-restore)", c, pid, after[c])
			}
		}
		t.Logf("container PIDs across a dockerd restart: %v -> %v", before, after)
	})

	t.Run("renewal", func(t *testing.T) {
		turnSess := openTURN(t, m.fwd["tcp/3478"], secrets.TURNSecret)
		if err := turnSess.alive("1.1.1.1:9"); err != nil {
			t.Fatalf("TURN allocation before the renewal: %v", err)
		}
		t.Logf("TURN allocation %s open over TCP", turnSess.relay.LocalAddr())
		ws := openSignaling(t, m.fwd["tcp/443"], acme.rootPEM(), secrets, settings.NextcloudURLs[0])
		t.Logf("signaling session %s open through nginx", ws.Hello.SessionID)
		before := containerPIDs(t, m)
		startedBefore := m.mustSSH(time.Minute, "docker inspect -f '{{.Name}} {{.State.StartedAt}}' $(docker ps -aq)")
		out := m.mustSSH(10*time.Minute, "certbot renew --force-renewal --no-random-sleep-on-renew 2>&1")
		t.Logf("certbot renew:\n%s", out)
		if n := acme.orders.Load(); n != 2 {
			t.Errorf("Pebble saw %d orders after the forced renewal, want 2", n)
		}
		// A new peer needs a new permission on the old allocation.
		if err := turnSess.alive("1.0.0.1:9"); err != nil {
			t.Errorf("TURN allocation after the renewal: %v; want it kept (coturn reloads on SIGUSR2)", err)
		}
		// nginx reloads: its old workers keep the open WebSocket.
		pingCtx, cancelPing := context.WithTimeout(context.Background(), 30*time.Second)
		if err := ws.FinalPing(pingCtx); err != nil {
			t.Errorf("signaling WebSocket after the renewal: %v; want it kept (nginx -s reload keeps open connections)", err)
		}
		cancelPing()
		after := containerPIDs(t, m)
		startedAfter := m.mustSSH(time.Minute, "docker inspect -f '{{.Name}} {{.State.StartedAt}}' $(docker ps -aq)")
		for c, pid := range before {
			if after[c] != pid {
				t.Errorf("%s: PID %s before the renewal, %s after; want no restart", c, pid, after[c])
			}
		}
		if startedBefore != startedAfter {
			t.Errorf("container start times changed by the renewal:\n%s\n->\n%s", startedBefore, startedAfter)
		}
		serial := m.mustSSH(time.Minute, "openssl x509 -noout -serial -in /etc/letsencrypt/live/"+testDomain+"/cert.pem; "+
			"openssl s_client -connect 127.0.0.1:443 -servername "+testDomain+" </dev/null 2>/dev/null | openssl x509 -noout -serial; "+
			"openssl s_client -connect 127.0.0.1:5349 -servername "+testDomain+" </dev/null 2>/dev/null | openssl x509 -noout -serial")
		lines := strings.Fields(serial)
		if len(lines) != 3 || lines[0] != lines[1] || lines[0] != lines[2] {
			t.Errorf("after the renewal nginx and coturn must serve the new certificate: file, :443, :5349 serials = %q", lines)
		}
	})

	// Changes applied in place, as the stack applies them, with what each
	// costs (issue 20). They change the settings and secrets that the later
	// subtests and nctalk verify then check.
	t.Run("in-place", func(t *testing.T) {
		runInPlace(t, inPlaceEnv{
			m: m, access: acc, settings: &settings, secrets: &secrets, caPEM: acme.rootPEM(), figures: &host,
			push: func(service, image string) (string, error) {
				if err := images.Push(ctx, root, reg.pushHost(), map[string]string{service: mirrorPath(image)}); err != nil {
					return "", fmt.Errorf("push %s as %s: %w", service, image, err)
				}
				if !isDockerHub(image) {
					return image, nil
				}
				return pinByDigest(ctx, reg, image)
			},
		})
		stackOut = stackOutputs(t, settings, secrets, publicAddr)
		verifyCmd = newVerifyCLI(t, nctalkBin, work, stackOut, verifyHosts, acme.rootPEM())
		assertVerify(t, verifyCmd)
	})

	// Why the deploy hook reloads nginx with `docker exec`: a signal sent
	// with `docker kill` marks a `restart: unless-stopped` container as
	// stopped by hand, and dockerd does not start it after a reboot. (The
	// setup, which runs at every boot, is kept out of this boot: it would
	// start nginx again with `compose up`.)
	t.Run("docker-kill-hup-keeps-nginx-down", func(t *testing.T) {
		m.mustSSH(time.Minute, "systemctl disable nctalk-setup && docker kill -s HUP nctalk-nginx-1")
		m.reboot()
		m.waitSSH(15 * time.Minute)
		out := m.mustSSH(5*time.Minute, "while ! systemctl is-active -q docker; do sleep 2; done; sleep 20; "+
			"docker inspect -f '{{.State.Status}}' nctalk-nginx-1 nctalk-coturn-1; systemctl enable nctalk-setup")
		f := strings.Fields(out)
		t.Logf("after `docker kill -s HUP nctalk-nginx-1` and a reboot (setup not run): nginx, coturn = %v", f)
		if len(f) < 2 || f[0] != "exited" || f[1] != "running" {
			t.Errorf("nginx, coturn = %v; want exited (stopped by hand), running", f)
		}
	})

	t.Run("rebuild-same-volume", func(t *testing.T) {
		serialCmd := "openssl x509 -noout -serial -in /etc/letsencrypt/live/" + testDomain + "/cert.pem"
		serialBefore := strings.TrimSpace(m.mustSSH(time.Minute, serialCmd))
		m.kill()
		m2 := newMachine(t, filepath.Join(work, "vm2"), img, m.volume, sshKey)
		m2.attachTap(tapDevice)
		// The new machine's ports differ: Pebble validates on the old
		// port, but a rebuild must not ask Pebble at all.
		m2.writeSeed(userData, vendor, "nctalk-vm-2")
		ordersBefore := acme.orders.Load()
		// The registry is down for the setup's whole first run (five
		// compose attempts, about 4 min): the setup gives up and says so,
		// and nctalk-setup.service runs it again 60 s later, by which time
		// the registry is back.
		reg.gate.open.Store(false)
		refusedBefore := reg.gate.refused.Load()
		start := time.Now()
		m2.start()
		m2.waitSSH(20 * time.Minute)
		waitJournal(t, m2, setupGaveUp, 20*time.Minute)
		reg.gate.open.Store(true)
		host.add("rebuild: QEMU start to the first run giving up", time.Since(start).Seconds())
		waitReady(t, m2, 20*time.Minute)
		host.add("rebuild on the same volume: QEMU start to ready", time.Since(start).Seconds())
		guestPhases(t, m2).print(t, "rebuild, seconds since kernel start")
		if n := reg.gate.refused.Load() - refusedBefore; n == 0 {
			t.Errorf("the registry refused no request during the rebuild: the setup's first run did not meet the outage")
		}
		assertRetriedBySystemd(t, m2)
		// The new server booted the document it was created with (the
		// stack's boot document, from before the in-place changes); the
		// stack's apply, which runs for every new server, brings it to the
		// settings of the last update.
		current := acc.bundle(t, settings, secrets)
		start = time.Now()
		out, err := acc.apply(m2, current)
		host.add("rebuild: apply of the current settings", time.Since(start).Seconds())
		t.Logf("nctalk-apply on the rebuilt server:\n%s", out)
		if err != nil {
			t.Fatalf("apply on the rebuilt server: %v", err)
		}
		assertFilesAre(t, m2, current)
		waitReady(t, m2, 5*time.Minute)
		assertHealthy(t, m2, settings)
		if n := acme.orders.Load(); n != ordersBefore {
			t.Errorf("Pebble saw %d new orders during the rebuild, want 0 (the certificate is on the volume)", n-ordersBefore)
		}
		if serial := strings.TrimSpace(m2.mustSSH(time.Minute, serialCmd)); serial != serialBefore {
			t.Errorf("certificate after the rebuild: %s, before: %s; want the same certificate from the volume", serial, serialBefore)
		}
		assertVerify(t, verifyCmd)
	})
	host.print(t, "host-side phases, seconds")
}

// vendorData holds the test-only settings: trust the test CA (registry,
// Pebble's API) and Pebble's issuing root, send the DNS wait's queries
// for the public resolvers to challtestsrv on the host (the internet's DNS
// in this test, as Pebble is its CA), and give the public NIC on the host's
// tap device its address (publicNICScript).
func vendorData(testCA, pebbleRoot []byte, dnsPort int) []byte {
	indent := func(b []byte) string {
		return "    " + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n    ")
	}
	resolvers := strings.Join(cloudconfig.PublicResolvers, ", ")
	nft := fmt.Sprintf(`table ip nctalk_vmtest
delete table ip nctalk_vmtest
table ip nctalk_vmtest {
  chain out {
    type nat hook output priority -100;
    ip daddr { %[1]s } udp dport 53 dnat to %[2]s:%[3]d
    ip daddr { %[1]s } tcp dport 53 dnat to %[2]s:%[3]d
  }
}`, resolvers, hostGateway, dnsPort)
	return fmt.Appendf(nil, `#cloud-config
# test-only (nctalk tests/vm): not part of the product
ca_certs:
  trusted:
  - |
%s
  - |
%s
bootcmd:
- [sh, -c, %q]
- [sh, -c, %q]
`, indent(testCA), indent(pebbleRoot), "printf '%s\\n' '"+strings.ReplaceAll(nft, "\n", "' '")+"' | nft -f -", publicNICScript)
}

// waitReady waits until this boot's nctalk-setup has written the ready
// marker and cloud-init has finished (done or error: assertHealthy tells
// which).
func waitReady(t *testing.T, m *machine, d time.Duration) {
	t.Helper()
	if _, ok := pollGuest(m, d, `b=$(awk '/^btime/{print $2}' /proc/stat); `+
		`[ -f `+cloudconfig.ReadyMarker+` ] && [ "$(stat -c %Y `+cloudconfig.ReadyMarker+`)" -ge "$b" ] && cloud-init status | grep -qE '^status: (done|error)$' && echo READY`, "READY"); !ok {
		diag, _ := m.ssh(time.Minute, "cloud-init status --long; systemctl --failed --no-legend; journalctl -b -u nctalk-setup -o cat | tail -40; docker ps -a")
		t.Fatalf("not ready after %s:\n%s", d, diag)
	}
}

// pollGuest runs cmd on the machine every 10 s until its output contains
// want or d has passed; it returns the last output and whether want came.
func pollGuest(m *machine, d time.Duration, cmd, want string) (string, bool) {
	deadline := time.Now().Add(d)
	for {
		out, err := m.ssh(time.Minute, cmd)
		if err == nil && strings.Contains(out, want) {
			return out, true
		}
		if time.Now().After(deadline) {
			return out, false
		}
		time.Sleep(10 * time.Second)
	}
}

// setupGaveUp is the line the setup logs when a run fails for good because
// no image could be pulled (nctalk-setup.sh's fail).
const setupGaveUp = "nctalk-setup: FAILED: containers did not start (image pull?); nctalk-setup.service runs the setup again in 60 s"

// waitJournal waits until this boot's nctalk-setup journal holds line.
func waitJournal(t *testing.T, m *machine, line string, d time.Duration) {
	t.Helper()
	if out, ok := pollGuest(m, d, "journalctl -b -u nctalk-setup -o cat", line); !ok {
		t.Fatalf("nctalk-setup did not log %q within %s:\n%s", line, d, out)
	}
}

// assertRetriedBySystemd checks a first boot whose first setup run gave
// up: the run names what failed, systemd ran the setup once more, that run
// finished, and cloud-init's runcmd waited for it.
func assertRetriedBySystemd(t *testing.T, m *machine) {
	t.Helper()
	journal := m.mustSSH(time.Minute, "journalctl -b -u nctalk-setup -o cat")
	t.Logf("nctalk-setup journal:\n%s", journal)
	order := []string{
		"nctalk-setup: start",
		"nctalk-setup: compose up: attempt 1 of 5 failed; next attempt in 15s",
		"nctalk-setup: compose up: attempt 4 of 5 failed; next attempt in 120s",
		"nctalk-setup: compose up: attempt 5 of 5 failed",
		setupGaveUp,
		"nctalk-setup.service: Scheduled restart job, restart counter is at 1.",
		"nctalk-setup: start",
		"nctalk-setup: containers: up",
		"nctalk-setup: ready",
	}
	rest := journal
	for _, want := range order {
		i := strings.Index(rest, want)
		if i < 0 {
			t.Errorf("nctalk-setup journal lacks %q after the lines before it in %q", want, order)
			break
		}
		rest = rest[i+len(want):]
	}
	if n := strings.TrimSpace(m.mustSSH(time.Minute, "systemctl show -P NRestarts nctalk-setup")); n != "1" {
		t.Errorf("nctalk-setup.service NRestarts = %s, want 1 (one run by systemd after the failed one)", n)
	}
	// cloud-init's runcmd (nctalk-first-boot) waited through the retry:
	// the first boot is done once the backend answers.
	out := m.mustSSH(time.Minute, "grep '^nctalk-first-boot: ' /var/log/cloud-init-output.log || true")
	t.Logf("nctalk-first-boot in /var/log/cloud-init-output.log:\n%s", out)
	for _, want := range []string{"nctalk-first-boot: the setup's first run failed", "nctalk-first-boot: ready: a later run of the setup succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("/var/log/cloud-init-output.log lacks %q", want)
		}
	}
}

// assertHealthy checks cloud-init, systemd, the ready marker, the public
// listeners against the port table and the containers' users and capabilities.
func assertHealthy(t *testing.T, m *machine, s cloudconfig.Settings) {
	t.Helper()
	status := m.mustSSH(time.Minute, "cloud-init status --long || true")
	if !regexp.MustCompile(`(?m)^status: done$`).MatchString(status) || !regexp.MustCompile(`(?m)^errors: \[\]$`).MatchString(status) {
		t.Errorf("cloud-init status --long:\n%s\nwant status: done and no errors", status)
	}
	// Warnings (deprecated keys, a module that logged a failure and went
	// on) are cloud-init's recoverable errors: status done, extended
	// status "degraded done".
	var st struct {
		Extended    *string                    `json:"extended_status"`
		Errors      []string                   `json:"errors"`
		Recoverable map[string]json.RawMessage `json:"recoverable_errors"`
	}
	raw := m.mustSSH(time.Minute, "cloud-init status --format json || true")
	if err := json.Unmarshal([]byte(raw), &st); err != nil || st.Extended == nil || *st.Extended != "done" || len(st.Errors) > 0 || len(st.Recoverable) > 0 {
		t.Errorf("cloud-init status --format json: %v\n%s\nwant extended_status done, no errors and no recoverable errors", err, raw)
	}
	if failed := strings.TrimSpace(m.mustSSH(time.Minute, "systemctl --failed --no-legend --plain")); failed != "" {
		t.Errorf("failed units:\n%s", failed)
	}
	if marker := m.mustSSH(time.Minute, "cat "+cloudconfig.ReadyMarker); !strings.Contains(marker, "ready after") {
		t.Errorf("ready marker: %q", marker)
	}
	assertListeners(t, m, s)
	assertContainers(t, m)
}

// assertListeners compares every socket listening on a non-loopback address
// with cloudconfig.FirewallRules.
func assertListeners(t *testing.T, m *machine, s cloudconfig.Settings) {
	t.Helper()
	out := m.mustSSH(time.Minute, "ss -H -lntup")
	allowed := func(proto string, port int) bool {
		for _, r := range cloudconfig.FirewallRules(s) {
			if string(r.Protocol) == proto && r.Ports.Contains(port) {
				return true
			}
		}
		return proto == "udp" && (port == 68 || port == 546) // DHCP clients (the host firewall's dhcp rule)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		local := f[4]
		i := strings.LastIndex(local, ":")
		addr, port := local[:i], local[i+1:]
		addr = strings.Trim(strings.SplitN(addr, "%", 2)[0], "[]")
		if strings.HasPrefix(addr, "127.") || addr == "::1" {
			continue
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			continue
		}
		if !allowed(f[0], p) {
			t.Errorf("listens publicly but not in the port table: %s", line)
		}
	}
}

// wantContainers are the users and bounding sets each container must run
// with (compose.yaml): nothing but nginx's and coturn's added capabilities.
var wantContainers = map[string]struct {
	uid    string
	capBnd uint64
}{
	"nctalk-nats-1":      {strconv.Itoa(cloudconfig.NATSUID), 0},
	"nctalk-janus-1":     {strconv.Itoa(cloudconfig.JanusUID), 0},
	"nctalk-coturn-1":    {strconv.Itoa(cloudconfig.CoturnUID), 1 << 10}, // NET_BIND_SERVICE
	"nctalk-signaling-1": {strconv.Itoa(cloudconfig.SignalingUID), 0},    //
	"nctalk-nginx-1":     {"0", 1<<0 | 1<<1 | 1<<6 | 1<<7 | 1<<10},       // CHOWN DAC_OVERRIDE SETGID SETUID NET_BIND_SERVICE
}

func assertContainers(t *testing.T, m *machine) {
	t.Helper()
	out := m.mustSSH(time.Minute, `for c in $(docker ps -aq); do docker inspect -f '{{.Name}} {{.State.Status}} {{.RestartCount}} {{.State.Pid}} {{.AppArmorProfile}}' "$c"; done`)
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 {
			t.Errorf("docker inspect: %q", line)
			continue
		}
		// Docker's AppArmor profile: the apparmor package that docker.io
		// only recommends is installed by name (cloudconfig.Packages).
		if f[4] != "docker-default" {
			t.Errorf("%s runs with the AppArmor profile %q; want docker-default", f[0], f[4])
		}
		f = f[:4]
		name := strings.TrimPrefix(f[0], "/")
		seen[name] = true
		want, ok := wantContainers[name]
		if !ok {
			t.Errorf("unexpected container %s", name)
			continue
		}
		if f[1] != "running" || f[2] != "0" {
			t.Errorf("%s: status %s, restarts %s; want running, 0", name, f[1], f[2])
			continue
		}
		st := m.mustSSH(time.Minute, "grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' /proc/"+f[3]+"/status")
		fields := map[string][]string{}
		for _, l := range strings.Split(strings.TrimSpace(st), "\n") {
			k, v, _ := strings.Cut(l, ":")
			fields[k] = strings.Fields(v)
		}
		if len(fields["Uid"]) < 2 || fields["Uid"][1] != want.uid {
			t.Errorf("%s: Uid %v, want effective uid %s", name, fields["Uid"], want.uid)
		}
		bnd, _ := strconv.ParseUint(first(fields["CapBnd"]), 16, 64)
		eff, _ := strconv.ParseUint(first(fields["CapEff"]), 16, 64)
		if bnd != want.capBnd || eff&^want.capBnd != 0 {
			t.Errorf("%s: CapBnd %#x CapEff %#x, want CapBnd %#x and CapEff within it", name, bnd, eff, want.capBnd)
		}
		if first(fields["NoNewPrivs"]) != "1" {
			t.Errorf("%s: NoNewPrivs %v, want 1", name, fields["NoNewPrivs"])
		}
		t.Logf("%s: pid %s Uid %v CapBnd %#x CapEff %#x", name, f[3], fields["Uid"], bnd, eff)
	}
	var missing []string
	for name := range wantContainers {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("containers missing: %v", missing)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// containerPIDs maps container name to its main PID on the host.
func containerPIDs(t *testing.T, m *machine) map[string]string {
	t.Helper()
	out := m.mustSSH(time.Minute, `docker inspect -f '{{.Name}} {{.State.Pid}}' $(docker ps -q)`)
	pids := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			pids[strings.TrimPrefix(f[0], "/")] = f[1]
		}
	}
	return pids
}

// demonstrateCoturnCaps runs the coturn image's turnserver the way compose
// runs it, with and without cap_add NET_BIND_SERVICE: the file capability
// +ep makes the exec fail when the bounding set lacks it.
func demonstrateCoturnCaps(t *testing.T, m *machine, s cloudconfig.Settings) {
	t.Helper()
	image := s.EffectiveImages()[cloudconfig.ServiceCoturn]
	base := "docker run --rm --network none --user 65534:65534 --cap-drop ALL --security-opt no-new-privileges:true "
	without, errWithout := m.ssh(2*time.Minute, base+"--entrypoint turnserver "+image+" --version 2>&1")
	with, errWith := m.ssh(2*time.Minute, base+"--cap-add NET_BIND_SERVICE --entrypoint turnserver "+image+" --version 2>&1")
	t.Logf("coturn image, cap_drop ALL alone: %v %q; with cap_add NET_BIND_SERVICE: %v %q", errWithout, strings.TrimSpace(without), errWith, strings.TrimSpace(with))
	if errWithout == nil {
		t.Errorf("turnserver ran without NET_BIND_SERVICE in the bounding set: the substitute lost its file capability")
	}
	if errWith != nil {
		t.Errorf("turnserver with cap_add NET_BIND_SERVICE: %v %s", errWith, with)
	}
}

// guestPhases reads when each boot stage finished, in seconds since the
// kernel started: cloud-init's stages from systemd, the setup's steps from
// its journal lines.
func guestPhases(t *testing.T, m *machine) *phases {
	t.Helper()
	p := &phases{}
	units := []string{"cloud-init-local.service", "cloud-init-network.service", "cloud-config.service", "cloud-final.service"}
	out := m.mustSSH(time.Minute, "for u in "+strings.Join(units, " ")+"; do systemctl show -P ActiveEnterTimestampMonotonic $u; done")
	for i, v := range strings.Fields(out) {
		if us, err := strconv.ParseFloat(v, 64); err == nil && us > 0 && i < len(units) {
			p.add("cloud-init: "+units[i]+" done", us/1e6)
		}
	}
	j := m.mustSSH(time.Minute, "journalctl -b -u nctalk-setup -o short-monotonic --no-hostname")
	re := regexp.MustCompile(`^\[\s*([0-9.]+)\] nctalk-setup\[\d+\]: nctalk-setup: (.*)$`)
	marks := map[string]string{
		"start":                            "setup: start",
		"containers: pulling images":       "setup: pull and compose up begins",
		"containers: up":                   "setup: images pulled, compose up done",
		"DNS: ":                            "setup: DNS wait begins",
		"certificate: issued":              "setup: certificate issued",
		"certificate: " + testDomain + " ": "setup: certificate on hand",
		"ready":                            "setup: ready marker written",
		"FAILED: ":                         "setup: run gave up (FAILED)",
	}
	starts := 0
	for _, line := range strings.Split(j, "\n") {
		mm := re.FindStringSubmatch(line)
		if mm == nil {
			continue
		}
		if mm[2] == "start" {
			if starts++; starts == 2 {
				s, _ := strconv.ParseFloat(mm[1], 64)
				p.add("setup: start again (systemd, RestartSec)", s)
			}
		}
		for prefix, name := range marks {
			if strings.HasPrefix(mm[2], prefix) {
				if _, dup := p.secs[name]; !dup {
					s, _ := strconv.ParseFloat(mm[1], 64)
					p.add(name, s)
				}
			}
		}
	}
	return p
}

// packagePhases are the boot phases of the old package phase
// (NCTALK_VM_PACKAGE_RATIO), nil when not measured.
var packagePhases *phases

// legacyPackagePhase is the user data with the package phase as it was
// before issue 20: a full upgrade, and recommended packages.
func legacyPackagePhase(t *testing.T, userData []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(userData))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for old, new := range map[string]string{
		"package_upgrade: false\n":                                  "package_upgrade: true\n",
		"apt:\n  conf: |\n    APT::Install-Recommends \"false\";\n": "",
	} {
		if !bytes.Contains(doc, []byte(old)) {
			t.Fatalf("the document has no %q", old)
		}
		doc = bytes.Replace(doc, []byte(old), []byte(new), 1)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(doc)
	_ = zw.Close()
	return b.Bytes()
}

// hetznerUserData is what cloud-init reads from Hetzner for these settings:
// the stack sends cloudconfig.EncodeUserData of the rendered document, and
// Hetzner's datasource base64-decodes it, leaving the gzip'd document that
// cloud-init unpacks (NoCloud hands the seed's user-data file over as the
// same bytes).
func hetznerUserData(t *testing.T, plan cloudconfig.Plan, secrets cloudconfig.Secrets) []byte {
	t.Helper()
	doc, err := plan.Render(secrets)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	packed, err := base64.StdEncoding.DecodeString(cloudconfig.EncodeUserData(doc))
	if err != nil {
		t.Fatalf("user data: %v", err)
	}
	return packed
}
