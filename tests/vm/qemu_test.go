package vm

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// forward is one guest port forwarded from the host.
type forward struct {
	proto string // tcp or udp
	port  int
}

// volumeID is the Hetzner volume id of the test's state volume.
const volumeID = "4242"

// stateDevice is where Hetzner's volume with volumeID appears in the guest.
const stateDevice = "/dev/disk/by-id/scsi-0HC_Volume_" + volumeID

// guestPorts are the guest ports forwarded from host loopback ports.
var guestPorts = []forward{
	{"tcp", 22}, {"tcp", 80}, {"tcp", 443}, {"tcp", 3478}, {"udp", 3478}, {"tcp", 5349},
}

// machine is one QEMU guest.
type machine struct {
	t      *testing.T
	dir    string
	img    baseImage
	rootQ  string // the root disk (qcow2 over the image)
	volume string // the state volume (raw)
	seed   string
	serial string
	fwd    map[string]int // "tcp/443" -> host port
	// tap is the host's tap device of the machine's second NIC (see
	// attachTap), "" for none.
	tap     string
	sshKey  string
	cmd     *exec.Cmd
	exited  chan error
	started time.Time
	boots   int
}

// accel picks the accelerator: KVM unless /dev/kvm is KVM-PVM (stock
// kernels do not boot under it) or missing; then TCG.
func accel() (args []string, name string) {
	if v := os.Getenv("NCTALK_VM_ACCEL"); v == "tcg" {
		return []string{"-accel", "tcg,thread=multi", "-cpu", "max"}, "tcg (NCTALK_VM_ACCEL)"
	}
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		return []string{"-accel", "tcg,thread=multi", "-cpu", "max"}, "tcg (/dev/kvm is KVM-PVM)"
	}
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		return []string{"-accel", "kvm", "-cpu", "host"}, "kvm"
	}
	return []string{"-accel", "tcg,thread=multi", "-cpu", "max"}, "tcg (no usable /dev/kvm)"
}

// newMachine prepares disks: a fresh root disk over the image and, when
// volume is "", a new blank state volume.
func newMachine(t *testing.T, dir string, img baseImage, volume, sshKey string) *machine {
	t.Helper()
	m := &machine{t: t, dir: dir, img: img, sshKey: sshKey, fwd: map[string]int{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m.rootQ = filepath.Join(dir, "root.qcow2")
	run(t, time.Minute, "qemu-img", "create", "-q", "-f", "qcow2", "-b", img.Root, "-F", "raw", m.rootQ)
	if volume == "" {
		volume = filepath.Join(dir, "volume.raw")
		run(t, time.Minute, "qemu-img", "create", "-q", "-f", "raw", volume, "2G")
	}
	m.volume = volume
	for _, p := range guestPorts {
		m.fwd[fmt.Sprintf("%s/%d", p.proto, p.port)] = freePort(t)
	}
	t.Cleanup(m.kill)
	return m
}

// attachTap gives the machine, from its next start on, a second NIC (MAC
// publicMAC) on the host's tap device dev: the guest's public address as
// the host reaches it (see publicNet). Only one machine at a time may use it.
func (m *machine) attachTap(dev string) { m.tap = dev }

// writeSeed builds the NoCloud seed (an ISO labelled cidata).
func (m *machine) writeSeed(userData, vendorData []byte, instanceID string) {
	m.t.Helper()
	sd := filepath.Join(m.dir, "seed")
	if err := os.MkdirAll(sd, 0o755); err != nil {
		m.t.Fatal(err)
	}
	files := map[string][]byte{
		"user-data":   userData,
		"vendor-data": vendorData,
		"meta-data":   fmt.Appendf(nil, "instance-id: %s\nlocal-hostname: nctalk-vm\n", instanceID),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(sd, name), b, 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
	m.seed = filepath.Join(m.dir, "seed.iso")
	run(m.t, time.Minute, "genisoimage", "-quiet", "-output", m.seed, "-volid", "cidata", "-joliet", "-rock",
		filepath.Join(sd, "user-data"), filepath.Join(sd, "vendor-data"), filepath.Join(sd, "meta-data"))
}

// start boots the machine; a kernel that panics early under TCG (seen: an
// int3 Oops while patching text on SMP) is booted again, up to 3 times.
func (m *machine) start() {
	m.t.Helper()
	for attempt := 1; ; attempt++ {
		m.startOnce()
		if !m.earlyPanic(90 * time.Second) {
			return
		}
		m.t.Logf("guest kernel panicked early (attempt %d), booting again", attempt)
		if attempt == 3 {
			m.t.Fatalf("guest kernel panicked 3 times; serial log %s", m.serial)
		}
	}
}

func (m *machine) startOnce() {
	m.t.Helper()
	m.boots++
	accelArgs, _ := accel()
	var fwds []string
	for _, p := range guestPorts {
		fwds = append(fwds, fmt.Sprintf("hostfwd=%s:127.0.0.1:%d-:%d", p.proto, m.fwd[fmt.Sprintf("%s/%d", p.proto, p.port)], p.port))
	}
	serial := filepath.Join(m.dir, fmt.Sprintf("serial.%d.log", m.boots))
	args := append(accelArgs,
		"-smp", "2", "-m", "3072", "-display", "none", "-monitor", "none", "-no-reboot",
		"-serial", "file:"+serial,
		"-kernel", m.img.Kernel, "-initrd", m.img.Initrd,
		"-append", "root=/dev/vda rw console=ttyS0 ds=nocloud net.ifnames=0 panic=5",
		"-drive", "file="+m.rootQ+",if=virtio,format=qcow2",
		"-drive", "file="+m.seed+",if=virtio,format=raw,readonly=on",
		"-device", "virtio-scsi-pci,id=scsi0",
		"-drive", "file="+m.volume+",if=none,id=vol0,format=raw",
		"-device", "scsi-hd,bus=scsi0.0,drive=vol0,vendor=HC,product=Volume,serial="+volumeID,
		"-netdev", "user,id=n0,"+strings.Join(fwds, ","),
		"-device", "virtio-net-pci,netdev=n0",
	)
	if m.tap != "" {
		args = append(args,
			"-netdev", "tap,id=n1,ifname="+m.tap+",script=no,downscript=no",
			"-device", "virtio-net-pci,netdev=n1,mac="+publicMAC)
	}
	cmd := exec.Command("qemu-system-x86_64", args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("qemu: %v", err)
	}
	m.cmd, m.exited, m.started = cmd, make(chan error, 1), time.Now()
	go func() {
		err := cmd.Wait()
		if err != nil && stderr.Len() > 0 {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		m.exited <- err
	}()
	m.serial = serial
}

// earlyPanic watches the serial log until the guest reaches user space or
// panics, within d.
func (m *machine) earlyPanic(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(m.serial)
		if bytes.Contains(b, []byte("Kernel panic")) {
			m.kill()
			return true
		}
		if bytes.Contains(b, []byte("systemd[1]")) {
			return false
		}
		select {
		case err := <-m.exited:
			m.exited <- err
			return bytes.Contains(b, []byte("Kernel panic"))
		case <-time.After(2 * time.Second):
		}
	}
	return false
}

// kill stops QEMU at once (a power cut).
func (m *machine) kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
	}
	m.cmd = nil
}

// ssh runs a command as root in the guest.
func (m *machine) ssh(timeout time.Duration, script string) (string, error) {
	return runErr(timeout, "ssh", "-i", m.sshKey, "-p", fmt.Sprint(m.fwd["tcp/22"]),
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=10", "-o", "BatchMode=yes", "root@127.0.0.1", script)
}

// mustSSH runs a command and fails the test on error.
func (m *machine) mustSSH(timeout time.Duration, script string) string {
	m.t.Helper()
	out, err := m.ssh(timeout, script)
	if err != nil {
		m.t.Fatalf("guest: %s: %v\n%s", script, err, out)
	}
	return out
}

// waitSSH waits until SSH answers.
func (m *machine) waitSSH(d time.Duration) {
	m.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if _, err := m.ssh(30*time.Second, "true"); err == nil {
			return
		}
		select {
		case err := <-m.exited:
			m.t.Fatalf("qemu exited before SSH answered: %v; serial log %s", err, m.serial)
		default:
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("no SSH after %s; serial log %s", d, m.serial)
		}
		time.Sleep(5 * time.Second)
	}
}

// reboot reboots the guest from inside; -no-reboot makes QEMU exit, and the
// machine starts again with the same disks.
func (m *machine) reboot() {
	m.t.Helper()
	_, _ = m.ssh(30*time.Second, "systemctl reboot")
	select {
	case <-m.exited:
	case <-time.After(5 * time.Minute):
		m.t.Fatal("guest did not shut down within 5 min")
	}
	m.cmd = nil
	m.start()
}
