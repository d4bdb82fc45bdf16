package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/nctalk/nctalk/cloudconfig"
)

// Environment variables BuildRoot reads.
const (
	// mirrorEnv overrides the Debian mirror (default defaultMirror).
	mirrorEnv     = "NCTALK_DEBIAN_MIRROR"
	defaultMirror = "http://deb.debian.org/debian"
	// CacheEnv names the cache directory the tests pass to BuildRoot
	// (default defaultCacheDir); .ci/run builds the root there first.
	CacheEnv        = "NCTALK_IMAGE_CACHE"
	defaultCacheDir = "/var/cache/nctalk-images"
)

// recipeVersion changes whenever BuildRoot's steps change in a way the
// recipe below does not show.
const recipeVersion = "3"

// CacheDir is the cache directory tests use: $NCTALK_IMAGE_CACHE or defaultCacheDir.
func CacheDir() string {
	if d := os.Getenv(CacheEnv); d != "" {
		return d
	}
	return defaultCacheDir
}

// recipe is everything the built root depends on; its hash keys the cache.
type recipe struct {
	Version     string
	Suite       string
	Mirror      string
	Packages    []string
	Accounts    []string
	Substitutes map[string][]file
}

func currentRecipe() recipe {
	return recipe{
		Version:     recipeVersion,
		Suite:       "sid",
		Mirror:      mirror(),
		Packages:    rootPackages(),
		Accounts:    accounts(),
		Substitutes: substitutes,
	}
}

func mirror() string {
	if m := os.Getenv(mirrorEnv); m != "" {
		return m
	}
	return defaultMirror
}

// accounts are the image accounts the contracts rely on, as name:uid:gid,
// sorted; created before the packages so a package's own system user
// cannot take their ids.
func accounts() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range contracts {
		for _, a := range c.Accounts {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (r recipe) key() string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// overlayDir is the directory of the files the named service's image adds
// on top of the root BuildRoot returned (its image's own layer).
func overlayDir(rootDir, service string) string {
	return filepath.Join(filepath.Dir(rootDir), "overlay", service)
}

// BuildRoot returns a Debian sid root file system with every daemon's
// package (coturn, janus, nginx, nats-server, nextcloud-spreed-signaling
// and its proxy)
// and the image accounts, plus, in overlayDir(root, service), each image's
// own files (entrypoint scripts at the image's paths, the binary at the
// image's path, file capabilities). It is built once with mmdebstrap under
// cacheDir, keyed by a hash of its inputs, and reused while they do not
// change. BuildRoot needs root.
func BuildRoot(ctx context.Context, cacheDir string) (string, error) {
	r := currentRecipe()
	dir := filepath.Join(cacheDir, "sid-"+r.key())
	root := filepath.Join(dir, "rootfs")
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return root, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("image cache: %w", err)
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("image cache lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("image cache lock: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return root, nil // built by another process meanwhile
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("remove partial build %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("image cache: %w", err)
	}
	if err := mmdebstrap(ctx, r, root, filepath.Join(dir, "mmdebstrap.log")); err != nil {
		return "", err
	}
	if err := writeVersions(root, filepath.Join(dir, versionsFile)); err != nil {
		return "", err
	}
	for service, files := range substitutes {
		if err := applyFiles(root, overlayDir(root, service), files); err != nil {
			return "", fmt.Errorf("substitute %s: %w", service, err)
		}
	}
	manifest, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "recipe.json"), manifest, 0o644); err != nil {
		return "", fmt.Errorf("image cache: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644); err != nil {
		return "", fmt.Errorf("image cache: %w", err)
	}
	return root, nil
}

// mmdebstrap builds the sid root. The essential hook adds the image
// accounts before any package runs its maintainer scripts.
func mmdebstrap(ctx context.Context, r recipe, root, logFile string) error {
	var hook strings.Builder
	for _, a := range r.Accounts {
		parts := strings.Split(a, ":")
		if len(parts) != 3 {
			return fmt.Errorf("account %q: want name:uid:gid", a)
		}
		name, uid, gid := parts[0], parts[1], parts[2]
		q := cloudconfig.ShellQuote
		fmt.Fprintf(&hook, `grep -q %s "$1/etc/group" || grep -q %s "$1/etc/group" || echo %s >> "$1/etc/group"; `,
			q("^"+name+":"), q("^[^:]*:[^:]*:"+gid+":"), q(name+":x:"+gid+":"))
		fmt.Fprintf(&hook, `grep -q %s "$1/etc/passwd" || echo %s >> "$1/etc/passwd"; `,
			q("^"+name+":"), q(name+":x:"+uid+":"+gid+"::/nonexistent:/usr/sbin/nologin"))
		fmt.Fprintf(&hook, `grep -q %s "$1/etc/shadow" || echo %s >> "$1/etc/shadow"; `, q("^"+name+":"), q(name+":!:1::::::"))
	}
	args := []string{
		"--variant=essential",
		"--aptopt=Acquire::Check-Valid-Until \"false\"", // a frozen mirror's sid Release file expires
		"--include=" + strings.Join(r.Packages, ","),
		"--essential-hook=" + hook.String(),
		r.Suite, root, r.Mirror,
	}
	log, err := os.Create(logFile)
	if err != nil {
		return fmt.Errorf("mmdebstrap log: %w", err)
	}
	defer log.Close()
	cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logFile)
		for _, p := range pinned {
			if strings.Contains(string(b), "'"+p.Version+"' for '"+p.Package+"' was not found") {
				return fmt.Errorf("the Debian %s mirror no longer has %s %s (tests/images.Pinned): pin the version it has, and record that version's config contract (tests/images/configkeys); log %s", r.Suite, p.Package, p.Version, logFile)
			}
		}
		return fmt.Errorf("mmdebstrap %s (log %s): %w\n%s", strings.Join(args, " "), logFile, err, tailLines(string(b), 30))
	}
	return nil
}

// versionsFile, beside a built root, lists every package of the root and
// its version ("package version" lines, sorted).
const versionsFile = "versions.txt"

// writeVersions writes the root's package versions to file and checks the
// pinned ones.
func writeVersions(root, file string) error {
	out, err := exec.Command("dpkg-query", "--admindir="+filepath.Join(root, "var/lib/dpkg"), "-W", "-f", "${Package} ${Version}\n").Output()
	if err != nil {
		return fmt.Errorf("dpkg-query in %s: %w", root, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(lines)
	have := map[string]string{}
	for _, l := range lines {
		name, version, _ := strings.Cut(l, " ")
		have[name] = version
	}
	for _, p := range pinned {
		if have[p.Package] != p.Version {
			return fmt.Errorf("the sid root has %s %q, pinned %s", p.Package, have[p.Package], p.Version)
		}
	}
	return os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// DaemonVersions returns "package version" of every pinned package in the
// built root whose path BuildRoot returned, from its versionsFile, for
// test logs.
func DaemonVersions(root string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(filepath.Dir(root), versionsFile))
	if err != nil {
		return nil, fmt.Errorf("versions of the sid root: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		name, _, _ := strings.Cut(l, " ")
		for _, p := range pinned {
			if p.Package == name {
				out = append(out, l)
			}
		}
	}
	return out, nil
}

// applyFiles writes one image's files into overlay (paths as in the image).
func applyFiles(root, overlay string, files []file) error {
	for _, f := range files {
		dst := filepath.Join(overlay, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		switch {
		case f.Dir:
			if err := os.MkdirAll(dst, os.FileMode(f.Mode)); err != nil {
				return err
			}
		case f.Symlink != "" && strings.HasPrefix(f.Symlink, "/dev/"):
			// a device the container's /dev provides
			if err := os.Symlink(f.Symlink, dst); err != nil {
				return err
			}
		case f.Symlink != "":
			if _, err := os.Stat(filepath.Join(root, f.Symlink)); err != nil {
				return fmt.Errorf("%s -> %s: the root has no %s: %w", f.Path, f.Symlink, f.Symlink, err)
			}
			if err := os.Symlink(f.Symlink, dst); err != nil {
				return err
			}
		case f.CopyOf != "":
			if err := copyFile(filepath.Join(root, f.CopyOf), dst, os.FileMode(f.Mode)); err != nil {
				return err
			}
		default:
			if err := os.WriteFile(dst, []byte(f.Content), os.FileMode(f.Mode)); err != nil {
				return err
			}
		}
		if f.Symlink == "" {
			if err := os.Chmod(dst, os.FileMode(f.Mode)); err != nil {
				return err
			}
		}
		if f.Owner != "" {
			var uid, gid int
			if _, err := fmt.Sscanf(f.Owner, "%d:%d", &uid, &gid); err != nil {
				return fmt.Errorf("%s: owner %q: want uid:gid", f.Path, f.Owner)
			}
			if err := os.Lchown(dst, uid, gid); err != nil {
				return err
			}
		}
		if f.Caps != "" {
			if out, err := exec.Command("setcap", f.Caps, dst).CombinedOutput(); err != nil {
				return fmt.Errorf("setcap %s %s: %w: %s", f.Caps, f.Path, err, out)
			}
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
