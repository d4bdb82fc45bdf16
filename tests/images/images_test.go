package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/nctalk/nctalk/cloudconfig"
)

func TestContractsCoverEveryPinnedImage(t *testing.T) {
	got := map[string]int{}
	for _, c := range Contracts() {
		got[c.Service]++
		if c.Image != cloudconfig.DefaultImages[c.Service] {
			t.Errorf("%s: contract image %q, pinned %q", c.Service, c.Image, cloudconfig.DefaultImages[c.Service])
		}
		if !filepath.IsAbs(c.Binary) {
			t.Errorf("%s: binary %q is not an absolute path", c.Service, c.Binary)
		}
		if c.Source == "" || len(c.Entrypoint) == 0 {
			t.Errorf("%s: contract without Source or Entrypoint", c.Service)
		}
		if _, ok := substitutes[c.Service]; !ok {
			t.Errorf("%s: no substitute files", c.Service)
		}
	}
	for _, s := range cloudconfig.ServiceNames() {
		if got[s] != 1 {
			t.Errorf("service %s has %d contract rows, want 1", s, got[s])
		}
	}
	if len(got) != len(cloudconfig.ServiceNames()) {
		t.Errorf("contracts for %v, services %v", got, cloudconfig.ServiceNames())
	}
}

func TestArgv(t *testing.T) {
	c := Contract{Entrypoint: []string{"docker-entrypoint.sh"}, Cmd: []string{"--log-file=stdout"}}
	tests := []struct {
		name                string
		entrypoint, command []string
		want                []string
	}{
		{"image defaults", nil, nil, []string{"docker-entrypoint.sh", "--log-file=stdout"}},
		{"compose command replaces CMD", nil, []string{"-c", "/x.conf"}, []string{"docker-entrypoint.sh", "-c", "/x.conf"}},
		{"compose entrypoint drops CMD", []string{"janus", "-F", "/c"}, nil, []string{"janus", "-F", "/c"}},
		{"compose entrypoint and command", []string{"nginx"}, []string{"-g", "daemon off;"}, []string{"nginx", "-g", "daemon off;"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Argv(tt.entrypoint, tt.command); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Argv(%q, %q) = %q, want %q", tt.entrypoint, tt.command, got, tt.want)
			}
		})
	}
}

func TestCapabilities(t *testing.T) {
	tests := []struct {
		name      string
		add, drop []string
		want      []string
	}{
		{"drop all", nil, []string{"ALL"}, []string{}},
		{"drop all, add one", []string{"NET_BIND_SERVICE"}, []string{"ALL"}, []string{"NET_BIND_SERVICE"}},
		{"nginx's set", []string{"CHOWN", "DAC_OVERRIDE", "NET_BIND_SERVICE", "SETGID", "SETUID"}, []string{"ALL"},
			[]string{"CHOWN", "DAC_OVERRIDE", "NET_BIND_SERVICE", "SETGID", "SETUID"}},
		{"docker default minus one", nil, []string{"cap_net_raw"}, without(DockerDefaultCaps, "NET_RAW")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Capabilities(tt.add, tt.drop); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Capabilities(add %v, drop %v) = %v, want %v", tt.add, tt.drop, got, tt.want)
			}
		})
	}
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func TestRepoPath(t *testing.T) {
	for in, want := range map[string]string{
		"ghcr.io/nextcloud-releases/aio-talk:20260817_082005": "nextcloud-releases/aio-talk:20260817_082005",
		"nats:2.14.5-alpine":                "nats:2.14.5-alpine",
		"coturn/coturn:4.18.0-r0":           "coturn/coturn:4.18.0-r0",
		"localhost/x:1":                     "x:1",
		"10.0.2.2:5000/nginx:1.30.6-alpine": "nginx:1.30.6-alpine",
	} {
		if got := RepoPath(in); got != want {
			t.Errorf("RepoPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// builtRoot builds (or reuses) the sid root; without root or mmdebstrap
// the test skips, except in CI where that is a failure.
func builtRoot(t *testing.T) string {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, b := range []string{"mmdebstrap", "setcap", "getcap"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("image root needs %s", strings.Join(missing, ", "))
		}
		t.Skipf("image root needs %s", strings.Join(missing, ", "))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	begin := time.Now()
	root, err := BuildRoot(ctx, CacheDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BuildRoot: %s in %v", root, time.Since(begin).Round(time.Millisecond))
	return root
}

// inImage resolves path as the image sees it (its own layer over the
// root, absolute symlinks inside the image) and returns the host path.
func inImage(t *testing.T, root, service, path string) string {
	t.Helper()
	for range 10 {
		var host string
		for _, layer := range []string{OverlayDir(root, service), root} {
			if _, err := os.Lstat(filepath.Join(layer, path)); err == nil {
				host = filepath.Join(layer, path)
				break
			}
		}
		if host == "" {
			dir, base := filepath.Split(path)
			if dir == "/" || dir == "" {
				t.Fatalf("%s: %s does not exist in the image", service, path)
			}
			// a symlinked parent directory (e.g. /bin -> usr/bin)
			return filepath.Join(inImage(t, root, service, filepath.Clean(dir)), base)
		}
		target, err := os.Readlink(host)
		if err != nil {
			return host
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	t.Fatalf("%s: symlink loop at %s", service, path)
	return ""
}

func TestContractsHoldInBuiltRoot(t *testing.T) {
	root := builtRoot(t)
	for _, c := range Contracts() {
		t.Run(c.Service, func(t *testing.T) {
			bin := inImage(t, root, c.Service, c.Binary)
			if fi, err := os.Stat(bin); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
				t.Errorf("%s: %s is not an executable file in the image (%v)", c.Image, c.Binary, err)
			}
			for path, want := range c.FileCaps {
				out, err := exec.Command("getcap", filepath.Join(OverlayDir(root, c.Service), path)).CombinedOutput()
				if err != nil || !strings.Contains(string(out), want) {
					t.Errorf("%s: getcap %s = %q (%v), want %q", c.Image, path, out, err, want)
				}
			}
			if _, _, err := lookupUser(root, c.Service, c.User); err != nil {
				t.Errorf("%s: default USER %q: %v", c.Image, c.User, err)
			}
			for _, a := range c.Accounts {
				name, ids, _ := strings.Cut(a, ":")
				uid, gid, err := lookupUser(root, c.Service, name)
				if err != nil || strconv.Itoa(uid)+":"+strconv.Itoa(gid) != ids {
					t.Errorf("%s: account %s: uid:gid %d:%d (%v), want %s", c.Image, name, uid, gid, err, ids)
				}
			}
			for path, want := range c.Modes {
				fi, err := os.Lstat(filepath.Join(OverlayDir(root, c.Service), path))
				if err != nil {
					t.Errorf("%s: %s: %v (want %s)", c.Image, path, err, want)
					continue
				}
				st := fi.Sys().(*syscall.Stat_t)
				if got := fmt.Sprintf("%04o %d:%d", fi.Mode().Perm(), st.Uid, st.Gid); got != want {
					t.Errorf("%s: %s is %s in the substitute, the image has %s", c.Image, path, got, want)
				}
			}
			for _, prog := range c.OnPath {
				found := false
				for _, dir := range strings.Split(DefaultPath, ":") {
					for _, layer := range []string{OverlayDir(root, c.Service), root} {
						if _, err := os.Stat(filepath.Join(layer, dir, prog)); err == nil {
							found = true
						}
					}
				}
				if !found {
					t.Errorf("%s: %s is not on the PATH", c.Image, prog)
				}
			}
		})
	}
}

// runImage runs a container of the service with the spec's Argv and
// returns its output and error.
func runImage(t *testing.T, root string, spec RunSpec) (string, error) {
	t.Helper()
	state := t.TempDir()
	cmd, err := spec.Command(root, state)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		err = <-done
		t.Errorf("%s %q did not end in 60s", spec.Service, spec.Argv)
	}
	return out.String(), err
}

func TestEntrypointsBehave(t *testing.T) {
	root := builtRoot(t)
	contract := func(s string) Contract {
		c, err := ContractOf(s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	coturn, nats, nginx := contract(cloudconfig.ServiceCoturn), contract(cloudconfig.ServiceNATS), contract(cloudconfig.ServiceNginx)
	janus, signaling := contract(cloudconfig.ServiceJanus), contract(cloudconfig.ServiceSignaling)
	tests := []struct {
		name    string
		spec    RunSpec
		want    string // in the output
		wantErr bool
	}{
		{"coturn: an option gets turnserver in front", RunSpec{Service: coturn.Service, User: coturn.User,
			Caps: DockerDefaultCaps, Argv: coturn.Argv(nil, []string{"--version"})}, "4.18", false},
		{"coturn: arguments are shell-expanded", RunSpec{Service: coturn.Service, User: coturn.User,
			Caps: DockerDefaultCaps, Argv: coturn.Argv(nil, []string{"echo", "$((40+2))"})}, "42", false},
		{"coturn: file capability outside the bounding set refuses exec", RunSpec{Service: coturn.Service, User: "65534:65534",
			NoNewPrivs: true, Argv: coturn.Argv(nil, []string{"--version"})}, "Operation not permitted", true},
		{"coturn: with NET_BIND_SERVICE in the bounding set exec works", RunSpec{Service: coturn.Service, User: "65534:65534", NoNewPrivs: true,
			Caps: []string{"NET_BIND_SERVICE"}, Argv: coturn.Argv(nil, []string{"--version"})}, "4.18", false},
		{"nats: an option gets nats-server in front", RunSpec{Service: nats.Service, Argv: nats.Argv(nil, []string{"--version"})}, "nats-server: v2.", false},
		{"nginx: runs the command", RunSpec{Service: nginx.Service, Argv: nginx.Argv(nil, []string{"nginx", "-v"})}, "nginx/1.30", false},
		{"nginx: the stream module is there as in the image even with -g", RunSpec{Service: nginx.Service,
			Argv: nginx.Argv(nil, []string{"sh", "-c", "printf 'events {}\\nstream {}\\n' >/tmp/s.conf && nginx -c /tmp/s.conf -g 'daemon off;' -t"})},
			"syntax is ok", false},
		{"janus: on the PATH", RunSpec{Service: janus.Service, User: janus.User, Argv: janus.Argv([]string{"janus", "--version"}, nil)}, "1.4.1", false},
		{"janus: start.sh execs the command", RunSpec{Service: janus.Service, User: janus.User, Argv: janus.Argv(nil, []string{"id", "-u"})}, "1000", false},
		{"janus: the image's /usr/local is writable to any user on a writable root", RunSpec{Service: janus.Service, User: "65534:65534",
			Argv: []string{"sh", "-c", "echo x >>/usr/local/bin/janus && echo written"}}, "written", false},
		{"read_only: the root refuses writes and a tmpfs takes them", RunSpec{Service: janus.Service, User: "65534:65534", ReadOnly: true, Tmpfs: []string{"/run/x"},
			Argv: []string{"sh", "-c", "echo ok >/run/x/f && cat /run/x/f && echo x >>/usr/local/bin/janus"}}, "ok\nsh: 1: cannot create /usr/local/bin/janus: Read-only file system", true},
		{"signaling: arguments are the command", RunSpec{Service: signaling.Service, Env: signaling.Env,
			Argv: signaling.Argv(nil, []string{"/usr/bin/nextcloud-spreed-signaling", "-version"})}, "nextcloud-spreed-signaling version 2.", false},
		{"signaling: no arguments and no config refuses", RunSpec{Service: signaling.Service, Env: signaling.Env,
			Argv: signaling.Argv(nil, nil)}, "no configuration at CONFIG=/config/server.conf", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runImage(t, root, tt.spec)
			t.Logf("%q: %v\n%s", tt.spec.Argv, err, out)
			if (err != nil) != tt.wantErr || !strings.Contains(out, tt.want) {
				t.Errorf("%q: err %v (want error: %v), output:\n%s\nwant it to contain %q", tt.spec.Argv, err, tt.wantErr, out, tt.want)
			}
		})
	}
}

func TestPush(t *testing.T) {
	root := builtRoot(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	begin := time.Now()
	if err := Push(ctx, root, host, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("Push of %d images: %v", len(Contracts()), time.Since(begin).Round(time.Millisecond))
	local := LocalImages(host)
	withLocal := harnessSettings()
	withLocal.Images = local
	if _, err := cloudconfig.NewPlan(withLocal); err != nil {
		t.Errorf("LocalImages(%s) as the images setting: %v", host, err)
	}
	var baseDigest string
	for _, c := range Contracts() {
		ref, err := name.ParseReference(local[c.Service], name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref, remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("%s: pull %s: %v", c.Service, ref, err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cf.Config.Entrypoint, c.Entrypoint) || !reflect.DeepEqual(cf.Config.Cmd, c.Cmd) ||
			cf.Config.User != c.User || cf.Config.WorkingDir != c.WorkDir || cf.Config.StopSignal != c.StopSignal {
			t.Errorf("%s: config entrypoint %q cmd %q user %q workdir %q stop %q; contract %q %q %q %q %q", c.Service,
				cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.User, cf.Config.WorkingDir, cf.Config.StopSignal,
				c.Entrypoint, c.Cmd, c.User, c.WorkDir, c.StopSignal)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 2 {
			t.Fatalf("%s: %d layers (%v), want 2", c.Service, len(layers), err)
		}
		d, _ := layers[0].Digest()
		if baseDigest == "" {
			baseDigest = d.String()
		} else if d.String() != baseDigest {
			t.Errorf("%s: base layer %s, other images %s: not shared", c.Service, d, baseDigest)
		}
		if mt, _ := layers[1].MediaType(); mt != types.OCIUncompressedLayer {
			t.Errorf("%s: own layer media type %s", c.Service, mt)
		}
		for path, wantCaps := range c.FileCaps {
			if !layerHasXattr(t, layers[1], strings.TrimPrefix(path, "/"), "security.capability") {
				t.Errorf("%s: %s carries no security.capability in the image layer (want %s)", c.Service, path, wantCaps)
			}
		}
	}
}

func layerHasXattr(t *testing.T, l interface {
	Uncompressed() (io.ReadCloser, error)
}, path, attr string) bool {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == path {
			_, ok := h.PAXRecords["SCHILY.xattr."+attr]
			return ok
		}
	}
}

// harnessSettings are valid settings to try an images override on.
func harnessSettings() cloudconfig.Settings {
	return cloudconfig.Settings{
		Domain:        "talk.nctalk.test",
		NextcloudURLs: []string{"https://cloud.nctalk.test"},
		ACMEEmail:     "admin@nctalk.test",
	}
}
