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
	"regexp"
	"slices"
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
	"github.com/nctalk/nctalk/internal/testenv"
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
		{"docker default minus one", nil, []string{"cap_net_raw"}, without(dockerDefaultCaps, "NET_RAW")},
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
	testenv.Missing(t, missing, "the image root needs them: apt-get install mmdebstrap libcap2-bin, as root")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	begin := time.Now()
	root, err := BuildRoot(ctx, CacheDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("BuildRoot: %s in %v", root, time.Since(begin).Round(time.Millisecond))
	versions, err := DaemonVersions(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("daemon packages (Debian sid, pinned): %s", strings.Join(versions, ", "))
	return root
}

// inImage resolves path as the image sees it (its own layer over the
// root, absolute symlinks inside the image) and returns the host path.
func inImage(t *testing.T, root, service, path string) string {
	t.Helper()
	for range 10 {
		var host string
		for _, layer := range []string{overlayDir(root, service), root} {
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
				out, err := exec.Command("getcap", filepath.Join(overlayDir(root, c.Service), path)).CombinedOutput()
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
				fi, err := os.Lstat(filepath.Join(overlayDir(root, c.Service), path))
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
				for _, dir := range strings.Split(defaultPath, ":") {
					for _, layer := range []string{overlayDir(root, c.Service), root} {
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
	proxy := contract(cloudconfig.ServiceProxy)
	tests := []struct {
		name    string
		spec    RunSpec
		want    string // in the output
		wantErr bool
	}{
		{"coturn: an option gets turnserver in front", RunSpec{Service: coturn.Service, User: coturn.User,
			Caps: dockerDefaultCaps, Argv: coturn.Argv(nil, []string{"--version"})}, "4.18", false},
		{"coturn: arguments are shell-expanded", RunSpec{Service: coturn.Service, User: coturn.User,
			Caps: dockerDefaultCaps, Argv: coturn.Argv(nil, []string{"echo", "$((40+2))"})}, "42", false},
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
		{"proxy: arguments are the command", RunSpec{Service: proxy.Service, Env: proxy.Env,
			Argv: proxy.Argv(nil, []string{"/usr/bin/nextcloud-spreed-signaling-proxy", "-version"})}, "nextcloud-spreed-signaling-proxy version 2.", false},
		{"proxy: no arguments and no config refuses", RunSpec{Service: proxy.Service, Env: proxy.Env,
			Argv: proxy.Argv(nil, nil)}, "no configuration at CONFIG=/config/proxy.conf", true},
		{"proxy: runs as spreedbackend (850) with $CONFIG", RunSpec{Service: proxy.Service, Env: proxy.Env, Caps: dockerDefaultCaps,
			Argv: []string{"sh", "-c", "printf '[mcu]\\nurl = ws://127.0.0.1:9\\n' > /config/proxy.conf && { /entrypoint.sh & p=$!; sleep 1; grep ^Uid: /proc/$p/status; kill $p; }"}},
			"Uid:\t850\t850", false},
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
	local := localImages(host)
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
		TURNOn443:     true,
	}
}

// TestRootIsPinned: the daemons come from exactly the pinned packages, the
// pins are in the cache key, and the root lists what it holds.
func TestRootIsPinned(t *testing.T) {
	r := currentRecipe()
	for _, p := range pinned {
		if !slices.Contains(r.Packages, p.Package+"="+p.Version) {
			t.Errorf("the recipe installs %s without its pinned version %s: %q", p.Package, p.Version, r.Packages)
		}
		moved := currentRecipe()
		for i, pkg := range moved.Packages {
			if pkg == p.Package+"="+p.Version {
				moved.Packages[i] = p.Package + "=0-other"
			}
		}
		if moved.key() == r.key() {
			t.Errorf("another %s version keeps the cache key %s", p.Package, r.key())
		}
	}
	for _, c := range Contracts() {
		if SubstituteVersion(c.Service) == "" {
			t.Errorf("%s: no pinned package", c.Service)
		}
	}
	if got := SubstituteVersion(cloudconfig.ServiceJanus); got != "1.4.1" {
		t.Errorf("SubstituteVersion(janus) = %q, want the upstream version of 1.4.1+ds-4+b2", got)
	}
	if t.Failed() {
		return
	}
	root := builtRoot(t)
	versions, err := DaemonVersions(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pinned {
		if !slices.Contains(versions, p.Package+" "+p.Version) {
			t.Errorf("the built root lists %q, not %s %s", versions, p.Package, p.Version)
		}
	}
}

// mountinfo is one line of /proc/self/mountinfo: mount point, its mount
// options, the file system type and its super options.
type mountinfo struct{ point, opts, fstype, super string }

func parseMountinfo(s string) map[string]mountinfo {
	out := map[string]mountinfo{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 6 || sep < 0 || sep+3 > len(f) {
			continue
		}
		out[f[4]] = mountinfo{point: f[4], opts: f[5], fstype: f[sep+1], super: f[sep+3]}
	}
	return out
}

// TestRuntimeLikeDocker: a container sees what Docker's defaults give it:
// /proc nosuid,noexec,nodev with the masked paths masked and the read-only
// paths read-only, a read-only sysfs, /dev/shm noexec, an IPC namespace of
// its own, no_new_privs when asked for.
func TestRuntimeLikeDocker(t *testing.T) {
	root := builtRoot(t)
	nats, err := ContractOf(cloudconfig.ServiceNATS)
	if err != nil {
		t.Fatal(err)
	}
	// Root without capabilities: it may open /proc/sys files it owns for
	// writing, so only a read-only mount says "Read-only file system" (the
	// write itself would need CAP_SYS_ADMIN, and ns_last_pid is the
	// container's own PID namespace's).
	spec := RunSpec{Service: nats.Service, NoNewPrivs: true,
		Argv: nats.Argv([]string{"sh", "-c", "cat /proc/self/mountinfo; grep NoNewPrivs /proc/self/status; echo ipc=$(readlink /proc/self/ns/ipc); wc -c < /proc/kcore; echo 1 > /proc/sys/kernel/ns_last_pid"}, nil)}
	out, _ := runImage(t, root, spec) // the write fails, and with it the shell
	mounts := parseMountinfo(out)
	hasOpt := func(m mountinfo, opt string) bool { return slices.Contains(strings.Split(m.opts, ","), opt) }
	if m, ok := mounts["/proc"]; !ok || !hasOpt(m, "nosuid") || !hasOpt(m, "noexec") || !hasOpt(m, "nodev") {
		t.Errorf("/proc: %+v, want proc nosuid,noexec,nodev", m)
	}
	for _, p := range dockerReadonlyPaths {
		if _, err := os.Stat(p); err != nil {
			continue // the host kernel has no such path
		}
		if m, ok := mounts[p]; !ok || !hasOpt(m, "ro") {
			t.Errorf("%s: %+v, want it mounted read-only", p, m)
		}
	}
	for _, p := range dockerMaskedPaths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if _, ok := mounts[p]; !ok {
			t.Errorf("%s is not masked (no mount over it)", p)
		}
	}
	if m, ok := mounts["/sys"]; !ok || m.fstype != "sysfs" || !hasOpt(m, "ro") {
		t.Errorf("/sys: %+v, want a read-only sysfs", m)
	}
	if m, ok := mounts["/dev/shm"]; !ok || !hasOpt(m, "noexec") {
		t.Errorf("/dev/shm: %+v, want noexec", m)
	}
	if !strings.Contains(out, "NoNewPrivs:\t1") {
		t.Errorf("no_new_privs not set:\n%s", out)
	}
	if !strings.Contains(out, "Read-only file system") {
		t.Errorf("a write to /proc/sys was not refused as read-only:\n%s", out)
	}
	if _, err := os.Stat("/proc/kcore"); err == nil && !regexp.MustCompile(`(?m)^0$`).MatchString(out) {
		t.Errorf("/proc/kcore reads as more than nothing:\n%s", out)
	}
	host, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "ipc="+host) {
		t.Errorf("the container shares the test's IPC namespace %s", host)
	}
}

// TestNginxWorkersRunAsTheImageUser: the image's nginx is built
// --user=nginx, so a config without a user directive (the rendered one)
// runs its workers as nginx (101); with a user directive, that user.
func TestNginxWorkersRunAsTheImageUser(t *testing.T) {
	root := builtRoot(t)
	nginx, err := ContractOf(cloudconfig.ServiceNginx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ conf, want string }{
		{`events {}`, "101"},
		{`user nobody nogroup; events {}`, "65534"},
	} {
		script := "printf '%s\\n' " + cloudconfig.ShellQuote(tc.conf) + " > /tmp/n.conf\n" +
			"nginx -c /tmp/n.conf -g 'daemon off;' & sleep 2\n" +
			"for p in /proc/[0-9]*; do case \"$(tr '\\0' ' ' < $p/cmdline)\" in 'nginx: worker process'*) echo worker $(grep '^Uid:' $p/status);; esac; done\n" +
			"kill $!; wait"
		// As the compose file runs it: root, these capabilities, no_new_privs.
		spec := RunSpec{Service: nginx.Service, NoNewPrivs: true,
			Caps: Capabilities([]string{"CHOWN", "DAC_OVERRIDE", "NET_BIND_SERVICE", "SETGID", "SETUID"}, []string{"ALL"}),
			Argv: nginx.Argv(nil, []string{"sh", "-c", script})}
		out, _ := runImage(t, root, spec)
		workers := regexp.MustCompile(`worker Uid:\s+(\d+)`).FindAllStringSubmatch(out, -1)
		if len(workers) == 0 {
			t.Fatalf("%s: no nginx worker seen:\n%s", tc.conf, out)
		}
		for _, w := range workers {
			if w[1] != tc.want {
				t.Errorf("%s: a worker runs as uid %s, want %s:\n%s", tc.conf, w[1], tc.want, out)
			}
		}
	}
}

// TestGapsDocumented: docs/testing.md lists every remaining gap, once.
func TestGapsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/testing.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, row := range gapsTable() {
		if n := strings.Count(doc, row+"\n"); n != 1 {
			t.Errorf("docs/testing.md has %d times the row\n%s", n, row)
		}
	}
	for _, c := range Contracts() {
		if imageGapWhy[c.Service] == "" {
			t.Errorf("%s: its gaps have no why", c.Service)
		}
	}
}
