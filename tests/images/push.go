package images

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// defaultPath is the PATH of every substitute image (Docker's default).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// epoch is the creation time recorded in every image: the same root gives
// the same image bytes.
var epoch = time.Unix(0, 0).UTC()

// RepoPath is an image reference without its registry host, e.g.
// "ghcr.io/nextcloud-releases/aio-talk:T" -> "nextcloud-releases/aio-talk:T"
// and "nats:2.14.5-alpine" -> "nats:2.14.5-alpine": the path under which a
// local registry serves the substitute.
func RepoPath(image string) string {
	first, rest, ok := strings.Cut(image, "/")
	if ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return rest
	}
	return image
}

// localImages maps every service to its substitute's reference in the
// registry at registryHost, as Push (with nil refs) names them: the value
// for the `images` setting of a stack that pulls from that registry.
func localImages(registryHost string) map[string]string {
	out := map[string]string{}
	for _, c := range Contracts() {
		out[c.Service] = registryHost + "/" + RepoPath(c.Image)
	}
	return out
}

// Push pushes one OCI image per service to the registry at registryHost
// (e.g. "127.0.0.1:5000", plain HTTP allowed). refs maps a service name to
// the repository:tag to push it as (without the host); nil pushes every
// service as RepoPath of its pinned image. Every image is two uncompressed
// layers: the shared root (one blob, uploaded once, pulled once) and the
// image's own files (overlayDir), with the contract's Entrypoint, Cmd,
// User, WorkingDir, Env and StopSignal in its config.
func Push(ctx context.Context, rootDir, registryHost string, refs map[string]string) error {
	if refs == nil {
		refs = map[string]string{}
		for _, c := range Contracts() {
			refs[c.Service] = RepoPath(c.Image)
		}
	}
	base, err := baseLayer(rootDir)
	if err != nil {
		return err
	}
	for _, service := range sortedKeys(refs) {
		c, err := ContractOf(service)
		if err != nil {
			return err
		}
		img, err := image(rootDir, base, c)
		if err != nil {
			return err
		}
		ref, err := name.ParseReference(registryHost+"/"+refs[service], name.Insecure)
		if err != nil {
			return fmt.Errorf("image reference for %s: %w", service, err)
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			return fmt.Errorf("push %s as %s: %w", service, ref, err)
		}
	}
	return nil
}

// image is the substitute image of one contract: the base layer (see
// Push), the service's own layer and a config from the contract.
func image(rootDir string, base v1.Layer, c Contract) (v1.Image, error) {
	own, err := dirLayer(overlayDir(rootDir, c.Service))
	if err != nil {
		return nil, fmt.Errorf("layer of %s: %w", c.Service, err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCIUncompressedLayer},
		mutate.Addendum{Layer: own, MediaType: types.OCIUncompressedLayer})
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", c.Service, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config.Entrypoint = c.Entrypoint
	cf.Config.Cmd = c.Cmd
	cf.Config.User = c.User
	cf.Config.WorkingDir = c.WorkDir
	cf.Config.Env = append([]string{"PATH=" + defaultPath}, c.Env...)
	cf.Config.StopSignal = c.StopSignal
	cf.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "nctalk substitute for " + c.Image,
		"org.opencontainers.image.description": "Debian sid packages keeping the contract of " + c.Image,
	}
	cf.History = nil
	return mutate.ConfigFile(img, cf)
}

// baseLayer is the tar of the whole root, written once next to it (under
// the build's lock: tests in several packages may push at once).
func baseLayer(rootDir string) (v1.Layer, error) {
	path := filepath.Join(filepath.Dir(rootDir), "rootfs.tar")
	digestFile := path + ".sha256"
	lock, err := os.OpenFile(filepath.Dir(rootDir)+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("base layer lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("base layer lock: %w", err)
	}
	if b, err := os.ReadFile(digestFile); err == nil {
		if fi, err := os.Stat(path); err == nil {
			return fileLayer(path, strings.TrimSpace(string(b)), fi.Size())
		}
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	h := sha256.New()
	n, err := writeTar(io.MultiWriter(f, h), rootDir)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("base layer of %s: %w", rootDir, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	if err := os.WriteFile(digestFile, []byte(sum+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("base layer: %w", err)
	}
	return fileLayer(path, sum, n)
}

func dirLayer(dir string) (v1.Layer, error) {
	var buf bytes.Buffer
	if _, err := writeTar(&buf, dir); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	b := buf.Bytes()
	return &rawLayer{
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		size:   int64(len(b)),
		open:   func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
	}, nil
}

func fileLayer(path, sum string, size int64) (v1.Layer, error) {
	return &rawLayer{
		digest: v1.Hash{Algorithm: "sha256", Hex: sum},
		size:   size,
		open:   func() (io.ReadCloser, error) { return os.Open(path) },
	}, nil
}

// rawLayer is an uncompressed layer: its digest is its diff ID.
type rawLayer struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

func (l *rawLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *rawLayer) DiffID() (v1.Hash, error)             { return l.digest, nil }
func (l *rawLayer) Compressed() (io.ReadCloser, error)   { return l.open() }
func (l *rawLayer) Uncompressed() (io.ReadCloser, error) { return l.open() }
func (l *rawLayer) Size() (int64, error)                 { return l.size, nil }
func (l *rawLayer) MediaType() (types.MediaType, error)  { return types.OCIUncompressedLayer, nil }

// writeTar writes the tree under dir as a layer tar: sorted, owners and
// modes kept, hard links as links, extended attributes (file
// capabilities) as PAX records, device nodes and the contents of /proc,
// /sys and /dev left out (the runtime provides them).
func writeTar(w io.Writer, dir string) (int64, error) {
	cw := &countWriter{w: w}
	tw := tar.NewWriter(cw)
	links := map[[2]uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		for _, skip := range []string{"proc/", "sys/", "dev/"} {
			if strings.HasPrefix(rel+"/", skip) && rel+"/" != skip {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeSocket|fs.ModeNamedPipe) != 0 {
			return nil
		}
		var target string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, target)
		if err != nil {
			return err
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.ModTime = fi.ModTime().Truncate(time.Second)
		st, _ := fi.Sys().(*syscall.Stat_t)
		if st != nil {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				key := [2]uint64{st.Dev, st.Ino}
				if first, ok := links[key]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					links[key] = rel
				}
			}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if x, err := xattrs(p); err != nil {
				return err
			} else if len(x) > 0 {
				hdr.PAXRecords = x
				hdr.Format = tar.FormatPAX
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", rel, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	return cw.n, nil
}

// xattrs returns a file's security.* extended attributes as PAX records.
func xattrs(path string) (map[string]string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(path, buf)
	if err != nil || n == 0 {
		return nil, nil //nolint:nilerr // no xattr support: none to keep
	}
	out := map[string]string{}
	for _, attr := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if !strings.HasPrefix(attr, "security.") {
			continue
		}
		val := make([]byte, 1024)
		m, err := unix.Lgetxattr(path, attr, val)
		if err != nil {
			return nil, fmt.Errorf("xattr %s of %s: %w", attr, path, err)
		}
		out["SCHILY.xattr."+attr] = string(val[:m])
	}
	return out, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
