// Command imagebump proposes new pins for the container images
// (cloudconfig.DefaultImages): for each image it lists the registry's tags,
// picks the newest tag of the same form as the pinned one (numerically
// greater, same shape, on a stable line), asks the registry for that tag's
// digest, and writes "repository:tag@sha256:…" into cloudconfig/images.go
// (-write FILE) or prints what it would change. The scheduled workflow
// .github/workflows/image-bumps.yml runs it and opens a pull request; the
// pull request's preview shows what restarts, and a maintainer re-checks the
// image contracts (tests/images) against the new images' Dockerfiles.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/nctalk/nctalk/cloudconfig"
)

func main() {
	write := flag.String("write", "", "rewrite this file (cloudconfig/images.go) with the new pins")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	changes, err := plan(ctx, cloudconfig.DefaultImages)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebump:", err)
		os.Exit(1)
	}
	for _, c := range changes {
		fmt.Printf("%s: %s -> %s\n", c.Service, c.Old, c.New)
	}
	if *write == "" || len(changes) == 0 {
		return
	}
	src, err := os.ReadFile(*write)
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebump:", err)
		os.Exit(1)
	}
	out, err := rewrite(src, changes)
	if err == nil {
		err = os.WriteFile(*write, out, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "imagebump:", err)
		os.Exit(1)
	}
}

// change is one image's new pin.
type change struct {
	Service, Old, New string
}

// plan returns the new pin of every image that has a newer stable tag or
// lacks a digest, sorted by service.
func plan(ctx context.Context, images map[string]string, opts ...remote.Option) ([]change, error) {
	opts = append([]remote.Option{remote.WithContext(ctx)}, opts...)
	var out []change
	for _, service := range sortedKeys(images) {
		old := images[service]
		ref, _, _ := strings.Cut(old, "@")
		colon := strings.LastIndex(ref, ":")
		if colon <= strings.LastIndex(ref, "/") {
			return nil, fmt.Errorf("%s: %q has no tag", service, old)
		}
		repoName, tag := ref[:colon], ref[colon+1:]
		repo, err := name.NewRepository(repoName, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", service, err)
		}
		tags, err := remote.List(repo, opts...)
		if err != nil {
			return nil, fmt.Errorf("%s: tags of %s: %w", service, repoName, err)
		}
		best := newest(repoName, tag, tags)
		desc, err := remote.Head(repo.Tag(best), opts...)
		if err != nil {
			return nil, fmt.Errorf("%s: digest of %s:%s: %w", service, repoName, best, err)
		}
		pin := repoName + ":" + best + "@" + desc.Digest.String()
		if pin != old {
			out = append(out, change{Service: service, Old: old, New: pin})
		}
	}
	return out, nil
}

var digits = regexp.MustCompile(`\d+`)

// newest returns the newest tag of tags with the form of current: the
// same text between its numbers (so 1.30.6-alpine stays -alpine and
// 4.18.0-r0 stays -rN), numerically greater field by field, and for nginx
// an even minor version (its stable line). current when none is newer.
func newest(repo, current string, tags []string) string {
	shape := regexp.MustCompile("^" + digits.ReplaceAllString(regexp.QuoteMeta(current), `\d+`) + "$")
	best := current
	for _, t := range tags {
		if !shape.MatchString(t) || !newer(t, best) {
			continue
		}
		if strings.HasSuffix(repo, "nginx") {
			if f := fields(t); len(f) < 2 || f[1]%2 != 0 {
				continue // mainline
			}
		}
		best = t
	}
	return best
}

func fields(tag string) []int {
	var out []int
	for _, d := range digits.FindAllString(tag, -1) {
		n, _ := strconv.Atoi(d)
		out = append(out, n)
	}
	return out
}

// newer reports whether tag a's numbers are greater than b's, in order.
func newer(a, b string) bool {
	fa, fb := fields(a), fields(b)
	for i := 0; i < len(fa) && i < len(fb); i++ {
		if fa[i] != fb[i] {
			return fa[i] > fb[i]
		}
	}
	return len(fa) > len(fb)
}

// rewrite replaces each change's old pin, as a Go string literal, by the
// new one; a pin that is not in src exactly once is an error.
func rewrite(src []byte, changes []change) ([]byte, error) {
	for _, c := range changes {
		old, repl := []byte(strconv.Quote(c.Old)), []byte(strconv.Quote(c.New))
		if n := bytes.Count(src, old); n != 1 {
			return nil, fmt.Errorf("%s: %s occurs %d times, want once", c.Service, old, n)
		}
		src = bytes.Replace(src, old, repl, 1)
	}
	return src, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
