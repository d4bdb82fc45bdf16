package images

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/nctalk/nctalk/cloudconfig"
)

// dockerDefaultCaps is the capability set Docker gives a container before
// cap_add and cap_drop (moby's default profile).
var dockerDefaultCaps = []string{
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
	"NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

// Capabilities is a container's capability bounding set as Docker derives
// it from compose's cap_drop and cap_add: the default set, minus cap_drop
// (ALL drops every one), plus cap_add. Names are upper case without CAP_.
func Capabilities(capAdd, capDrop []string) []string {
	set := map[string]bool{}
	for _, c := range dockerDefaultCaps {
		set[c] = true
	}
	for _, c := range capDrop {
		c = normCap(c)
		if c == "ALL" {
			set = map[string]bool{}
			continue
		}
		delete(set, c)
	}
	for _, c := range capAdd {
		set[normCap(c)] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

func normCap(c string) string { return strings.TrimPrefix(strings.ToUpper(c), "CAP_") }

// dockerMaskedPaths and dockerReadonlyPaths are the paths Docker hides
// (masks) and makes read-only in every unprivileged container (moby
// oci/defaults.go, DefaultLinuxSpec: MaskedPaths, ReadonlyPaths).
var (
	dockerMaskedPaths = []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"}
	dockerReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// Bind is a bind mount into a container.
type Bind struct {
	Source   string // host path
	Target   string // path in the container
	ReadOnly bool
}

// RunSpec is one container start from a built root, as Docker would run it
// with host networking.
type RunSpec struct {
	Service    string   // selects overlayDir(root, Service) as the image's own layer
	Argv       []string // entrypoint + command (Contract.Argv)
	User       string   // "uid[:gid]" or a name; "" for root
	Caps       []string // bounding set (Capabilities)
	NoNewPrivs bool     // security_opt no-new-privileges
	Env        []string // beyond PATH
	WorkDir    string   // "" for /
	Binds      []Bind
	// ReadOnly mounts the root read-only (compose read_only); the binds,
	// Tmpfs, /proc, /dev and /dev/shm keep their own modes, as with Docker.
	ReadOnly bool
	// Tmpfs are paths that get an empty tmpfs (compose tmpfs), with
	// Docker's default options (rw, nosuid, nodev, noexec, mode 1777).
	Tmpfs []string
}

// Script returns the shell script that, run as PID 1 of new mount, PID and
// IPC namespaces (as root, by the host's /bin/sh), starts the container as
// Docker's defaults would: an overlay of the image's layer over the root
// with a fresh writable layer in stateDir, /proc (nosuid, noexec, nodev)
// with dockerMaskedPaths masked and dockerReadonlyPaths read-only, a
// read-only /sys, a minimal /dev with /dev/shm and /dev/mqueue, the binds,
// then chroot and util-linux's setpriv (from the root) for user, bounding
// set, inheritable set and no_new_privs, and exec of Argv. Only the daemon
// remains.
func (r RunSpec) Script(rootDir, stateDir string) (string, error) {
	if len(r.Argv) == 0 {
		return "", fmt.Errorf("%s: empty command line", r.Service)
	}
	for _, p := range []string{rootDir, stateDir} {
		if strings.ContainsAny(p, ",:") {
			return "", fmt.Errorf("%s: overlay paths cannot hold ',' or ':': %q", r.Service, p)
		}
	}
	q := cloudconfig.ShellQuote
	merged := filepath.Join(stateDir, "merged")
	var b strings.Builder
	b.WriteString("set -e\n")
	fmt.Fprintf(&b, "mkdir -p %s %s %s\n", q(filepath.Join(stateDir, "upper")), q(filepath.Join(stateDir, "work")), q(merged))
	fmt.Fprintf(&b, "mount -t overlay overlay -o %s %s\n",
		q("lowerdir="+overlayDir(rootDir, r.Service)+":"+rootDir+",upperdir="+filepath.Join(stateDir, "upper")+",workdir="+filepath.Join(stateDir, "work")), q(merged))
	fmt.Fprintf(&b, "R=%s\n", q(merged))
	b.WriteString(`mount -t proc -o nosuid,noexec,nodev proc "$R/proc"
mount -t tmpfs -o nosuid,mode=0755 tmpfs "$R/dev"
for n in null zero full random urandom tty; do : > "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mkdir -p "$R/dev/shm" "$R/dev/pts" "$R/dev/mqueue"; mount -t tmpfs -o nosuid,nodev,noexec,mode=1777 tmpfs "$R/dev/shm"
mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620 devpts "$R/dev/pts"; ln -s pts/ptmx "$R/dev/ptmx"
mount -t mqueue -o nosuid,noexec,nodev mqueue "$R/dev/mqueue"
ln -s /proc/self/fd "$R/dev/fd"; ln -s /proc/self/fd/0 "$R/dev/stdin"; ln -s /proc/self/fd/1 "$R/dev/stdout"; ln -s /proc/self/fd/2 "$R/dev/stderr"
mkdir -p "$R/sys"; mount -t sysfs -o ro,nosuid,noexec,nodev sysfs "$R/sys"
`)
	// Docker's masked paths: a file gets /dev/null over it, a directory
	// an empty read-only tmpfs; its read-only paths are bound read-only.
	for _, p := range dockerMaskedPaths {
		t := `"$R"` + q(p)
		fmt.Fprintf(&b, "if [ -d %s ]; then mount -t tmpfs -o ro,nosuid,nodev,noexec tmpfs %s; elif [ -e %s ]; then mount --bind /dev/null %s; fi\n", t, t, t, t)
	}
	for _, p := range dockerReadonlyPaths {
		t := `"$R"` + q(p)
		fmt.Fprintf(&b, "if [ -e %s ]; then mount --bind %s %s; mount -o remount,bind,ro %s; fi\n", t, t, t, t)
	}
	for _, m := range r.Binds {
		t := `"$R"` + q(m.Target)
		fmt.Fprintf(&b, "if [ -d %s ]; then mkdir -p %s; else mkdir -p \"$(dirname %s)\"; [ -e %s ] || : > %s; fi\n", q(m.Source), t, t, t, t)
		fmt.Fprintf(&b, "mount --bind %s %s\n", q(m.Source), t)
		if m.ReadOnly {
			fmt.Fprintf(&b, "mount -o remount,bind,ro %s\n", t)
		}
	}
	for _, p := range r.Tmpfs {
		t := `"$R"` + q(p)
		fmt.Fprintf(&b, "mkdir -p %s\nmount -t tmpfs -o rw,nosuid,nodev,noexec,mode=1777 tmpfs %s\n", t, t)
	}
	if r.ReadOnly {
		b.WriteString("mount -o remount,bind,ro \"$R\"\n")
	}
	uid, gid, err := lookupUser(rootDir, r.Service, r.User)
	if err != nil {
		return "", err
	}
	env := []string{"PATH=" + defaultPath}
	if uid == 0 {
		env = append(env, "HOME=/root")
	} else {
		env = append(env, "HOME=/")
	}
	env = append(env, r.Env...)
	workdir := r.WorkDir
	if workdir == "" {
		workdir = "/"
	}
	args := []string{"exec", "chroot", `"$R"`, "/usr/bin/env", "-i", "-C", q(workdir)}
	for _, e := range env {
		args = append(args, q(e))
	}
	args = append(args, "/usr/bin/setpriv")
	if uid != 0 || gid != 0 {
		args = append(args, fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", gid), "--clear-groups")
	}
	bset := "-all"
	for _, c := range r.Caps {
		bset += ",+" + strings.ToLower(c)
	}
	args = append(args, "--inh-caps=-all", "--bounding-set="+bset)
	if r.NoNewPrivs {
		args = append(args, "--no-new-privs")
	}
	args = append(args, "--")
	for _, a := range r.Argv {
		args = append(args, q(a))
	}
	b.WriteString(strings.Join(args, " ") + "\n")
	return b.String(), nil
}

// lookupUser resolves a Docker user spec ("uid", "uid:gid", "name",
// "name:group") in the image's /etc/passwd and /etc/group, as Docker does:
// a uid without a group takes the passwd entry's group (0 when none).
func lookupUser(rootDir, service, spec string) (int, int, error) {
	if spec == "" {
		return 0, 0, nil
	}
	user, group, hasGroup := strings.Cut(spec, ":")
	passwd, err := readDB(rootDir, service, "/etc/passwd")
	if err != nil {
		return 0, 0, err
	}
	groups, err := readDB(rootDir, service, "/etc/group")
	if err != nil {
		return 0, 0, err
	}
	uid, gid := -1, 0
	if n, err := strconv.Atoi(user); err == nil {
		uid = n
		for _, e := range passwd {
			if e[2] == user {
				gid, _ = strconv.Atoi(e[3])
				break
			}
		}
	} else {
		for _, e := range passwd {
			if e[0] == user {
				uid, _ = strconv.Atoi(e[2])
				gid, _ = strconv.Atoi(e[3])
				break
			}
		}
		if uid < 0 {
			return 0, 0, fmt.Errorf("%s: user %q is not in the image's /etc/passwd", service, user)
		}
	}
	if hasGroup {
		if n, err := strconv.Atoi(group); err == nil {
			gid = n
		} else {
			found := false
			for _, e := range groups {
				if e[0] == group {
					gid, _ = strconv.Atoi(e[2])
					found = true
					break
				}
			}
			if !found {
				return 0, 0, fmt.Errorf("%s: group %q is not in the image's /etc/group", service, group)
			}
		}
	}
	return uid, gid, nil
}

// readDB reads a colon-separated account file of the image (its own layer
// first, then the root).
func readDB(rootDir, service, path string) ([][]string, error) {
	p := filepath.Join(overlayDir(rootDir, service), path)
	if _, err := os.Stat(p); err != nil {
		p = filepath.Join(rootDir, path)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("image accounts: %w", err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 4 {
			out = append(out, fields)
		}
	}
	return out, sc.Err()
}

// Command returns the command that runs the container: the host's /bin/sh
// running Script as PID 1 of new PID and mount namespaces, killed with the
// calling process (Pdeathsig). The caller sets Stdout/Stderr and starts it.
func (r RunSpec) Command(rootDir, stateDir string) (*exec.Cmd, error) {
	script, err := r.Script(rootDir, stateDir)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("/bin/sh", "-c", script, r.Service)
	cmd.Env = []string{"PATH=" + defaultPath}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:      true,
		Pdeathsig:    syscall.SIGKILL,
		Cloneflags:   syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC,
		Unshareflags: syscall.CLONE_NEWNS, // Go makes / private (MS_REC|MS_PRIVATE) first
	}
	return cmd, nil
}
