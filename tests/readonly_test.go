package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/tests/harness"
	"github.com/nctalk/nctalk/tests/images"
)

// needImageRoot returns the substitute images' root, or skips (developer
// machine without root or mmdebstrap) or fails (CI).
func needImageRoot(t *testing.T) string {
	t.Helper()
	testenv.Root(t, "containers of the substitute images")
	root, err := images.BuildRoot(context.Background(), images.CacheDir())
	if err != nil {
		t.Fatalf("substitute images: %v", err)
	}
	return root
}

// runAs runs argv in a container of the service as the rendered compose
// file runs it (user, capabilities, read_only, tmpfs), in place of its
// command, and returns the output.
func runAs(t *testing.T, root string, spec images.RunSpec, argv ...string) (string, error) {
	t.Helper()
	spec.Argv = argv
	cmd, err := spec.Command(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		err = <-done
		t.Errorf("%s: %q did not end in 30 s", spec.Service, argv)
	}
	return out.String(), err
}

// TestContainersReadOnly runs a shell in each service's container as the
// rendered compose file runs the service: every write to the image's
// files is refused (read_only), each tmpfs the file lists takes writes,
// and Janus' user cannot rewrite the janus binary, although the aio-talk
// image makes its /usr/local mode 0777 (the substitute has the same modes,
// images.Contract.Modes). Without read_only the writes went through.
func TestContainersReadOnly(t *testing.T) {
	root := needImageRoot(t)
	rendered := renderedServices(t, harness.TestSettings("ro.nctalk.test", "https://cloud.nctalk.test"))
	janus, err := images.ContractOf(cloudconfig.ServiceJanus)
	if err != nil {
		t.Fatal(err)
	}
	if janus.Modes["/usr/local/bin/janus"] != "0777 1000:1000" {
		t.Fatalf("the Janus contract no longer records the image's 0777 /usr/local/bin/janus (%q): the write test below would prove nothing", janus.Modes)
	}
	for _, service := range cloudconfig.ServiceNames() {
		t.Run(service, func(t *testing.T) {
			spec, err := harness.ContainerSpec(rendered[service], service)
			if err != nil {
				t.Fatal(err)
			}
			targets := []string{"/nctalk-probe", "/etc/nctalk-probe", "/tmp/nctalk-probe"}
			if service == cloudconfig.ServiceJanus {
				targets = append(targets, "/usr/local/bin/janus", "/usr/local/lib/janus/nctalk-probe.so")
			}
			for _, target := range targets {
				out, err := runAs(t, root, spec, "sh", "-c", `echo x >>"$1"`, "sh", target)
				if err == nil || !strings.Contains(out, "Read-only file system") {
					t.Errorf("%s as %q: a write to %s was not refused as read-only (err %v, output %q): compose.yaml must set read_only", service, spec.User, target, err, out)
				}
			}
			for _, dir := range spec.Tmpfs {
				if out, err := runAs(t, root, spec, "sh", "-c", `echo x >"$1/nctalk-probe"`, "sh", dir); err != nil {
					t.Errorf("%s as %q cannot write its tmpfs %s: %v %q", service, spec.User, dir, err, out)
				}
			}
		})
	}
}

// renderedServices renders set as one box and as a scale-out's media
// server (the proxy runs only there), and returns for every compose
// service (cloudconfig.ServiceNames) the write_files of a rendering that
// runs it.
func renderedServices(t *testing.T, set cloudconfig.Settings) map[string]map[string]harness.WrittenFile {
	t.Helper()
	one, err := cloudconfig.NewPlan(set)
	if err != nil {
		t.Fatal(err)
	}
	scaleOut, err := one.WithMediaServers([]cloudconfig.MediaServer{{Name: "media-1", Host: "media-1." + set.Domain, URL: "https://media-1." + set.Domain + "/", Country: "DE"}})
	if err == nil {
		scaleOut, err = scaleOut.WithProxyToken(newProxyToken(t))
	}
	if err != nil {
		t.Fatal(err)
	}
	media, err := scaleOut.ForMediaServer("media-1")
	if err != nil {
		t.Fatal(err)
	}
	sec, err := harness.RandomSecrets()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]harness.WrittenFile{}
	for _, plan := range []cloudconfig.Plan{media, one} { // one box last: its files where both run a service
		doc, err := plan.Render(sec)
		if err != nil {
			t.Fatal(err)
		}
		files, err := harness.WriteFiles(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, service := range plan.Services() {
			out[service] = files
		}
	}
	for _, service := range cloudconfig.ServiceNames() {
		if out[service] == nil {
			t.Fatalf("no rendering runs %s", service)
		}
	}
	return out
}

// TestOneUIDPerService: every service runs as a uid of its own (compose
// user, nginx's workers the image's user), none of them an image default
// another image also uses (nobody 65534, aio-talk's 1000) or root, so the
// host firewall's owner matches and the config files' owners tell them
// apart. Before, Janus, NATS and coturn all ran as 65534.
func TestOneUIDPerService(t *testing.T) {
	rendered := renderedServices(t, harness.TestSettings("uid.nctalk.test", "https://cloud.nctalk.test"))
	seen := map[string]string{}
	for _, service := range cloudconfig.ServiceNames() {
		spec, err := harness.ContainerSpec(rendered[service], service)
		if err != nil {
			t.Fatal(err)
		}
		uid, _, _ := strings.Cut(spec.User, ":")
		if service == cloudconfig.ServiceNginx {
			if uid != "" {
				t.Errorf("nginx runs as %q; its master must be root (it switches its workers to uid %d)", spec.User, cloudconfig.NginxWorkerUID)
			}
			uid = "101"
		}
		if want := cloudconfig.ContainerUIDs[service]; uid != strconv.Itoa(want) {
			t.Errorf("%s runs as uid %q, cloudconfig.ContainerUIDs says %d", service, uid, want)
		}
		switch uid {
		case "", "0", "65534", "1000":
			t.Errorf("%s runs as uid %q: root or an image default shared with other images", service, uid)
		}
		if other, dup := seen[uid]; dup {
			t.Errorf("%s and %s both run as uid %s", service, other, uid)
		}
		seen[uid] = service
	}
}

// TestNginxWorkersRunAsTheirUID: the host firewall admits nginx's workers
// (not its root master) to the loopback HTTP ports by uid
// (cloudconfig.NginxWorkerUID), so the workers must run as that uid:
// nginx.conf names the image's account (`user nginx`). Without the
// directive the substitute's workers ran as nobody (65534; Debian's nginx
// is built without --user=nginx) and on the VM the 443 front could not
// reach 8443 and 8444 through the gate.
func TestNginxWorkersRunAsTheirUID(t *testing.T) {
	s := needStack(t)
	master := s.PID(cloudconfig.ServiceNginx)
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", master, master))
	if err != nil {
		t.Fatal(err)
	}
	workers := strings.Fields(string(raw))
	if len(workers) == 0 {
		t.Fatalf("nginx (pid %d) has no workers", master)
	}
	for _, w := range workers {
		status, err := os.ReadFile("/proc/" + w + "/status")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] != strconv.Itoa(cloudconfig.NginxWorkerUID) {
				t.Errorf("nginx worker %s runs as uid %s, want %d (nginx.conf: user %s)", w, f[1], cloudconfig.NginxWorkerUID, cloudconfig.NginxWorkerUser)
			}
		}
	}
}
