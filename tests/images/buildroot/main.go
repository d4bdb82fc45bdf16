// Command buildroot builds (or reuses) the substitute images' Debian sid
// root with tests/images.BuildRoot and prints its path; with -push it also
// pushes one image per service to a registry (tests/images.Push).
//
//	go run ./tests/images/buildroot [-cache DIR] [-push HOST:PORT]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nctalk/nctalk/tests/images"
)

func main() {
	cache := flag.String("cache", images.CacheDir(), "cache directory (also $"+images.CacheEnv+")")
	push := flag.String("push", "", "registry host:port to push the substitute images to (plain HTTP allowed)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	begin := time.Now()
	root, err := images.BuildRoot(ctx, *cache)
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildroot:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "buildroot: %s ready in %v\n", root, time.Since(begin).Round(time.Millisecond))
	versions, err := images.DaemonVersions(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "buildroot:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "buildroot: daemons (Debian sid, pinned): %s\n", strings.Join(versions, ", "))
	if *push != "" {
		begin = time.Now()
		if err := images.Push(ctx, root, *push, nil); err != nil {
			fmt.Fprintln(os.Stderr, "buildroot:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "buildroot: pushed %d images to %s in %v\n", len(images.Contracts()), *push, time.Since(begin).Round(time.Millisecond))
	}
	fmt.Println(root)
}
