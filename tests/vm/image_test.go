package vm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// imageSuite and imagePackages make the guest like Debian 13's genericcloud
// image: the cloud kernel, cloud-init with systemd-resolved and netplan,
// OpenSSH, unattended-upgrades. ca-certificates lets vendor-data's ca_certs
// add the test CAs before the document's packages are installed.
const imageSuite = "trixie"

var imagePackages = []string{
	"linux-image-cloud-amd64", "initramfs-tools", "systemd-sysv", "udev", "dbus",
	"cloud-init", "systemd-resolved", "netplan.io", "openssh-server", "unattended-upgrades",
	"ca-certificates", "iproute2", "e2fsprogs", "python3", "nftables", "sudo",
}

// imageCfg is written into the image: NoCloud only (no network metadata
// probes), like a cloud image with its datasource fixed.
const imageCfg = "datasource_list: [NoCloud, None]\n"

// imageMirror is the Debian mirror mmdebstrap and the guest use.
const imageMirror = "http://deb.debian.org/debian"

// imageSizeGiB is the root file system's size (sparse).
const imageSizeGiB = 10

// baseImage is a built root file system and the kernel to boot it with.
type baseImage struct {
	Root, Kernel, Initrd string
	BuildSeconds         float64 // 0 when taken from the cache
}

// imageKey names the cache entry: every input of the build.
func imageKey() string {
	h := sha256.New()
	fmt.Fprintf(h, "v1\n%s\n%s\n%s\n%d\n%s", imageSuite, strings.Join(imagePackages, ","), imageMirror, imageSizeGiB, imageCfg)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// buildImage returns the cached image for the current inputs, building it
// with mmdebstrap when it is missing.
func buildImage(t *testing.T, cacheDir string) baseImage {
	t.Helper()
	dir := filepath.Join(cacheDir, "image-"+imageKey())
	img := baseImage{Root: filepath.Join(dir, "root.raw"), Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd.img")}
	if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
		return img
	}
	start := time.Now()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	tree := dir + ".tree"
	_ = os.RemoveAll(tree)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, 20*time.Minute, "mmdebstrap", "--variant=apt", "--include="+strings.Join(imagePackages, ","),
		"--customize-hook=mkdir -p \"$1/etc/cloud/cloud.cfg.d\" && printf '%s' '"+imageCfg+"' > \"$1/etc/cloud/cloud.cfg.d/90-nctalk-vm.cfg\"",
		"--customize-hook=rm -f \"$1/etc/hostname\" && : > \"$1/etc/machine-id\"",
		imageSuite, tree, imageMirror)
	kernels, _ := filepath.Glob(filepath.Join(tree, "boot", "vmlinuz-*"))
	initrds, _ := filepath.Glob(filepath.Join(tree, "boot", "initrd.img-*"))
	if len(kernels) != 1 || len(initrds) != 1 {
		t.Fatalf("want one kernel and initrd in the image, got %v %v", kernels, initrds)
	}
	run(t, time.Minute, "cp", kernels[0], img.Kernel)
	run(t, time.Minute, "cp", initrds[0], img.Initrd)
	run(t, 10*time.Minute, "mkfs.ext4", "-q", "-F", "-L", "root", "-d", tree, img.Root, fmt.Sprintf("%dG", imageSizeGiB))
	if err := os.RemoveAll(tree); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "done"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img.BuildSeconds = time.Since(start).Seconds()
	return img
}

// run runs a command and fails the test with its output on error.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := runErr(timeout, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func runErr(timeout time.Duration, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	done := make(chan struct{})
	timer := time.AfterFunc(timeout, func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
		close(done)
	})
	out, err := cmd.CombinedOutput()
	if !timer.Stop() {
		<-done
		return string(out), fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return string(out), err
}
