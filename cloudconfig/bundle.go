package cloudconfig

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Bundle is what an in-place change sends to the running box: every file
// the document writes, with its owner, and the unit digests that say what
// must reload, restart or be recreated. The box's nctalk-apply (from the
// bundle itself) installs it; see ApplyCommand.
type Bundle struct {
	Files []File
	// Owners are the uids of files a container user reads (the configs
	// that carry a secret); every other file is root's.
	Owners map[string]int
	Units  UnitDigests
}

// bundleFormat names the bundle's layout; nctalk-apply refuses others.
const bundleFormat = "nctalk-bundle 1"

// Bundle entries: the layout of the archive.
const (
	bundleFormatFile = "format"
	bundleFilesList  = "files"
	bundleUnitsList  = "units"
	bundleRoot       = "root"
)

// ApplyCommand is the command the stack runs over SSH on the box, with the
// encoded bundle (Bundle.Encode) on its standard input: it unpacks the
// bundle into a private directory and runs the bundle's own nctalk-apply,
// so a change of the apply script takes effect in the same update. It is
// a constant: what changes travels on standard input, never in the
// command line.
const ApplyCommand = `set -eu; d=$(mktemp -d /run/nctalk-apply.XXXXXX); trap 'rm -rf "$d"' EXIT; ` +
	`base64 -d | tar -xzf - -C "$d"; bash "$d/` + bundleRoot + applyScript + `" "$d"`

// DrainCommand is the command the stack asks for (SSH_ORIGINAL_COMMAND)
// when it deletes a media server: the deploy key still runs only
// ApplyCommand, whose nctalk-apply then drains the proxy instead of
// applying the bundle.
const DrainCommand = "nctalk-drain"

// DrainSlack is how much longer than the drain bound (mediaDrainMinutes)
// the stack lets a media server's drain take (the connection, compose
// stopping the rest): the delete's timeout is the bound plus this.
const DrainSlack = 10 * time.Minute

// Bundle renders the files and their digests for an in-place change.
func (p Plan) Bundle(sec Secrets) (Bundle, error) {
	files, err := p.Files(sec)
	if err != nil {
		return Bundle{}, err
	}
	return NewBundle(files)
}

// NewBundle is the bundle of rendered files: their owners and unit digests.
// (Plan.Bundle renders them; a test may change one first, e.g. to show
// what the box does with a configuration a daemon refuses.)
func NewBundle(files []File) (Bundle, error) {
	units, err := unitDigests(files)
	if err != nil {
		return Bundle{}, err
	}
	owners := map[string]int{}
	for _, f := range files {
		if uid, ok := fileOwners()[f.Path]; ok {
			owners[f.Path] = uid
		}
	}
	return Bundle{Files: files, Owners: owners, Units: units}, nil
}

// Encode packs the bundle for ApplyCommand's standard input: a tar archive
// (fixed times, owners and order: the same bundle always gives the same
// text), gzip, base64.
func (b Bundle) Encode() (string, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(zw)
	add := func(name string, mode int64, content []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(content)), Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(content)
		return err
	}
	var list strings.Builder
	for _, f := range b.Files {
		if f.Append {
			return "", fmt.Errorf("bundle: %s is appended to, which an in-place change cannot repeat", f.Path)
		}
		effects, err := fileEffectList(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&list, "%s %s %d %s\n", f.Path, f.Perms, b.Owners[f.Path], effects)
	}
	steps := []struct {
		name string
		mode int64
		body []byte
	}{
		{bundleFormatFile, 0o644, []byte(bundleFormat + "\n")},
		{bundleFilesList, 0o644, []byte(list.String())},
		{bundleUnitsList, 0o644, b.Units.text()},
	}
	for _, s := range steps {
		if err := add(s.name, s.mode, s.body); err != nil {
			return "", err
		}
	}
	for _, f := range b.Files {
		mode, err := strconv.ParseInt(f.Perms, 8, 64)
		if err != nil {
			return "", fmt.Errorf("bundle: %s: mode %q: %w", f.Path, f.Perms, err)
		}
		if err := add(bundleRoot+f.Path, mode, f.Content); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// text writes the digests one per line, "unit action digest", sorted: the
// form nctalk-apply compares.
func (u UnitDigests) text() []byte {
	var lines []string
	for unit, byAction := range u {
		for a, d := range byAction {
			lines = append(lines, unit+" "+a+" "+d)
		}
	}
	sort.Strings(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// parseUnitDigests reads the "unit action digest" lines of a bundle's units
// list (as nctalk-apply keeps them on the box).
func parseUnitDigests(b []byte) (UnitDigests, error) {
	out := UnitDigests{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("unit digests: want \"unit action digest\", got %q", sc.Text())
		}
		if out[f[0]] == nil {
			out[f[0]] = map[string]string{}
		}
		out[f[0]][f[1]] = f[2]
	}
	return out, sc.Err()
}

// DecodeBundle unpacks an encoded bundle (the inverse of Encode), for tests
// and for the engine run's stand-in of the box.
func DecodeBundle(encoded string) (Bundle, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return Bundle{}, fmt.Errorf("bundle: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return Bundle{}, fmt.Errorf("bundle: %w", err)
	}
	tr := tar.NewReader(zr)
	entries := map[string][]byte{}
	var order []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Bundle{}, fmt.Errorf("bundle: %w", err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return Bundle{}, fmt.Errorf("bundle: %w", err)
		}
		entries[h.Name] = body
		order = append(order, h.Name)
	}
	if got := strings.TrimSpace(string(entries[bundleFormatFile])); got != bundleFormat {
		return Bundle{}, fmt.Errorf("bundle: format %q, want %q", got, bundleFormat)
	}
	b := Bundle{Owners: map[string]int{}}
	for _, line := range strings.Split(strings.TrimSpace(string(entries[bundleFilesList])), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || !path.IsAbs(f[0]) {
			return Bundle{}, fmt.Errorf("bundle: files list: bad line %q", line)
		}
		content, ok := entries[bundleRoot+f[0]]
		if !ok {
			return Bundle{}, fmt.Errorf("bundle: %s is listed but not in the archive", f[0])
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil {
			return Bundle{}, fmt.Errorf("bundle: files list: %q: %w", line, err)
		}
		if uid != 0 {
			b.Owners[f[0]] = uid
		}
		b.Files = append(b.Files, File{Path: f[0], Perms: f[1], Content: content})
	}
	if len(b.Files)+3 != len(order) {
		return Bundle{}, fmt.Errorf("bundle: %d entries for %d listed files", len(order), len(b.Files))
	}
	if b.Units, err = parseUnitDigests(entries[bundleUnitsList]); err != nil {
		return Bundle{}, fmt.Errorf("bundle: %w", err)
	}
	return b, nil
}

// fileEffectList writes what a file acts on as "unit:action,…": what
// nctalk-apply does when the file differs on a box that has no unit
// digests yet (fresh from its first boot).
func fileEffectList(f File) (string, error) {
	parts, err := fileParts(f)
	if err != nil {
		return "", err
	}
	var list []string
	for _, p := range parts {
		e := p.unit + ":" + p.action.String()
		if !slices.Contains(list, e) {
			list = append(list, e)
		}
	}
	return strings.Join(list, ","), nil
}
