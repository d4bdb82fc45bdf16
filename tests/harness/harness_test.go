package harness

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/tests/images"
)

func TestWriteFiles(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("zipped\n"))
	w.Close()
	doc := "#cloud-config\nwrite_files:\n" +
		"  - path: /a\n    permissions: \"0640\"\n    content: |\n      plain\n" +
		"  - path: /b\n    encoding: b64\n    content: " + base64.StdEncoding.EncodeToString([]byte("b64\n")) + "\n" +
		"  - path: /c\n    encoding: gz+b64\n    content: " + base64.StdEncoding.EncodeToString(gz.Bytes()) + "\n" +
		"  - path: /a\n    append: true\n    content: more\n"
	files, err := WriteFiles([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path, content string
		perm          uint32
	}{
		{"/a", "plain\nmore", 0o640},
		{"/b", "b64\n", 0},
		{"/c", "zipped\n", 0},
	}
	for _, c := range cases {
		f := files[c.path]
		if string(f.Content) != c.content || f.Permissions != c.perm {
			t.Errorf("%s: content %q perm %o, want %q %o", c.path, f.Content, f.Permissions, c.content, c.perm)
		}
	}
	if _, err := WriteFiles([]byte("write_files:\n  - path: /x\n    content: a\n  - path: /x\n    content: b\n")); err == nil {
		t.Error("a path written twice without append was accepted")
	}
	if _, err := WriteFiles([]byte("write_files:\n  - path: /x\n    encoding: rot13\n    content: a\n")); err == nil {
		t.Error("an unknown encoding was accepted")
	}
}

// TestTransformOnRenderedConfigs applies the transform list to a real
// rendering: every rule matches, and only the listed lines change.
func TestTransformOnRenderedConfigs(t *testing.T) {
	sec, err := RandomSecrets()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := cloudconfig.Render(TestSettings(defaultDomain, "https://"+defaultNextcloudHost), sec)
	if err != nil {
		t.Fatal(err)
	}
	files, err := WriteFiles(doc)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := WriteFiles(doc)
	changes, err := transform(files, transformEnv{Domain: defaultDomain})
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) == 0 {
		t.Fatal("no change recorded")
	}
	for path, f := range files {
		if path != cloudconfig.NginxConfig && path != cloudconfig.CoturnConfig && !bytes.Equal(f.Content, orig[path].Content) {
			t.Errorf("%s changed, but no transform rule is about it", path)
		}
	}
	nginx := string(files[cloudconfig.NginxConfig].Content)
	for _, line := range strings.Split(nginx, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "listen ") && !strings.HasPrefix(l, "listen 127.0.0.1:") && !strings.HasPrefix(l, "listen [::1]:") {
			t.Errorf("nginx.conf after transform still has %q", l)
		}
	}
	coturn := string(files[cloudconfig.CoturnConfig].Content)
	if !strings.HasSuffix(coturn, "relay-ip=127.0.0.1\nrelay-ip=::1\n") || !strings.Contains(coturn, "listening-ip=127.0.0.1\n") {
		t.Errorf("turnserver.conf after transform lacks the loopback listening/relay addresses:\n%s", coturn)
	}
	if !strings.HasPrefix(coturn, string(orig[cloudconfig.CoturnConfig].Content)) {
		t.Error("turnserver.conf: the transform changed rendered lines instead of appending")
	}
}

func TestTransformRefusesStaleOrConflictingRules(t *testing.T) {
	cases := []struct {
		name   string
		nginx  string
		coturn string
		want   string
	}{
		{"nginx without listen", "events {}\n", "realm=x\n", "matches nothing"},
		{"coturn already binds an address", "listen 443 ssl;\n", "listening-ip=10.0.0.1\n", "already sets"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]WrittenFile{
				cloudconfig.NginxConfig:  {Content: []byte(c.nginx)},
				cloudconfig.CoturnConfig: {Content: []byte(c.coturn)},
			}
			_, err := transform(files, transformEnv{Domain: defaultDomain})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Transform error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := transform(map[string]WrittenFile{}, transformEnv{}); err == nil {
		t.Error("Transform accepted a document without nginx.conf")
	}
}

func TestParseProcNetLine(t *testing.T) {
	cases := []struct {
		proto, line string
		local       string
		state       int
		inode       uint64
	}{
		{"tcp", "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000   850        0 123456 1 0000000000000000 100 0 0 10 0",
			"127.0.0.1:8080", tcpListen, 123456},
		{"tcp6", "   1: 00000000000000000000000001000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0",
			"[::1]:443", tcpListen, 777},
		{"udp", "  5: 00000000:0D96 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 42 2 0000000000000000 0",
			"0.0.0.0:3478", 7, 42},
	}
	for _, c := range cases {
		s, err := parseProcNetLine(c.proto, c.line)
		if err != nil {
			t.Fatal(err)
		}
		if s.Local != netip.MustParseAddrPort(c.local) || s.State != c.state || s.Inode != c.inode || !s.Listening() {
			t.Errorf("%s: got %+v, want %s state %x inode %d", c.proto, s, c.local, c.state, c.inode)
		}
	}
}

// TestContainerSpecsFromRenderedCompose derives each daemon's container
// from a real rendering and the image contracts, as Docker would.
func TestContainerSpecsFromRenderedCompose(t *testing.T) {
	sec, err := RandomSecrets()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := cloudconfig.Render(TestSettings(defaultDomain, "https://"+defaultNextcloudHost), sec)
	if err != nil {
		t.Fatal(err)
	}
	files, err := WriteFiles(doc)
	if err != nil {
		t.Fatal(err)
	}
	services, err := parseCompose(files[cloudconfig.ComposeFile].Content)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		argv []string
		user string
	}{
		cloudconfig.ServiceNATS:      {[]string{"docker-entrypoint.sh", "-c", cloudconfig.NATSConfig}, fmt.Sprintf("%d:%d", cloudconfig.NATSUID, cloudconfig.NATSUID)},
		cloudconfig.ServiceCoturn:    {[]string{"docker-entrypoint.sh", "-c", cloudconfig.CoturnConfig}, fmt.Sprintf("%d:%d", cloudconfig.CoturnUID, cloudconfig.CoturnUID)},
		cloudconfig.ServiceJanus:     {[]string{"janus"}, fmt.Sprintf("%d:%d", cloudconfig.JanusUID, cloudconfig.JanusUID)},
		cloudconfig.ServiceSignaling: {[]string{"/usr/bin/nextcloud-spreed-signaling", "-config", cloudconfig.SignalingConfig}, fmt.Sprintf("%d:%d", cloudconfig.SignalingUID, cloudconfig.SignalingUID)},
		cloudconfig.ServiceNginx:     {[]string{"/docker-entrypoint.sh", "nginx", "-c", cloudconfig.NginxConfig}, ""},
	}
	for _, name := range startOrder {
		t.Run(name, func(t *testing.T) {
			spec, err := containerSpec(name, services[name])
			if err != nil {
				t.Fatal(err)
			}
			w := want[name]
			if len(spec.Argv) < len(w.argv) || strings.Join(spec.Argv[:len(w.argv)], " ") != strings.Join(w.argv, " ") {
				t.Errorf("argv %q, want it to start with %q", spec.Argv, w.argv)
			}
			if spec.User != w.user {
				t.Errorf("user %q, want %q", spec.User, w.user)
			}
			if !spec.NoNewPrivs {
				t.Error("no_new_privs not set: compose security_opt has no-new-privileges")
			}
			if !spec.ReadOnly {
				t.Error("read-only root not set: compose has read_only")
			}
			if len(spec.Tmpfs) != len(services[name].Tmpfs) {
				t.Errorf("tmpfs %q, compose %q", spec.Tmpfs, services[name].Tmpfs)
			}
			// A binary whose file capabilities are marked effective cannot
			// be exec'd when the bounding set lacks one of them (EPERM).
			c, _ := images.ContractOf(name)
			for path, caps := range c.FileCaps {
				for _, capName := range fileCapNames(caps) {
					if !slices.Contains(spec.Caps, capName) {
						t.Errorf("%s carries %s as a file capability but the container's bounding set %v lacks %s: the exec fails with EPERM (compose: cap_drop %v, cap_add %v)",
							path, caps, spec.Caps, capName, services[name].CapDrop, services[name].CapAdd)
					}
				}
			}
		})
	}
}

// fileCapNames are the capability names of a getcap text such as
// "cap_net_bind_service,cap_net_raw=ep".
func fileCapNames(caps string) []string {
	names, _, _ := strings.Cut(caps, "=")
	var out []string
	for _, n := range strings.Split(names, ",") {
		out = append(out, strings.ToUpper(strings.TrimPrefix(n, "cap_")))
	}
	return out
}

func TestTestCAIssuesVerifiableCertificates(t *testing.T) {
	ca, err := newTestCA()
	if err != nil {
		t.Fatal(err)
	}
	files, err := ca.Issue(defaultDomain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.X509KeyPair(files["fullchain.pem"], files["privkey.pem"]); err != nil {
		t.Fatalf("fullchain/privkey do not pair: %v", err)
	}
	block, _ := pem.Decode(files["cert.pem"])
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: defaultDomain, Roots: ca.Pool()}); err != nil {
		t.Errorf("leaf does not verify for %s: %v", defaultDomain, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.nctalk.test", Roots: ca.Pool()}); err == nil {
		t.Error("leaf verifies for a name it was not issued for")
	}
}

func TestNamespaceScript(t *testing.T) {
	script := namespaceScript([]Mount{{Target: "/run", Tmpfs: true}, {Source: "/tmp/a b", Target: "/opt/nctalk"}}, "850:850")
	for _, want := range []string{
		"mount -t tmpfs -o mode=0755 tmpfs '/run'\n",
		"mount --bind '/tmp/a b' '/opt/nctalk'\n",
		"exec setpriv --pdeathsig KILL --reuid=850 --regid=850 --clear-groups -- \"$@\"\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("namespace script lacks %q:\n%s", want, script)
		}
	}
}

func TestDialContextStaysOnLoopback(t *testing.T) {
	s := &Stack{Domain: defaultDomain, opts: Options{NextcloudHost: defaultNextcloudHost}}
	for _, addr := range []string{"example.com:443", "192.0.2.1:443", "[2001:db8::1]:443"} {
		if c, err := s.DialContext(t.Context(), "tcp", addr); err == nil {
			c.Close()
			t.Errorf("DialContext(%s) dialed out", addr)
		}
	}
}

// TestReadOnlyNeedsTheImageVolumesCovered: Docker mounts a writable
// anonymous volume on an image VOLUME that compose leaves uncovered, which
// the harness does not emulate, so it refuses such a service rather than
// run it with a read-only path the real container could write.
func TestReadOnlyNeedsTheImageVolumesCovered(t *testing.T) {
	cs := composeService{NetworkMode: "host", ReadOnly: true, Command: stringList{"-c", cloudconfig.CoturnConfig}}
	if _, err := containerSpec(cloudconfig.ServiceCoturn, cs); err == nil || !strings.Contains(err.Error(), "/var/lib/coturn") {
		t.Errorf("read_only coturn without a tmpfs on its VOLUME: err %v, want one naming /var/lib/coturn", err)
	}
	cs.Tmpfs = stringList{"/var/lib/coturn"}
	spec, err := containerSpec(cloudconfig.ServiceCoturn, cs)
	if err != nil || !spec.ReadOnly || len(spec.Tmpfs) != 1 {
		t.Errorf("with the tmpfs: %+v, %v", spec, err)
	}
}
