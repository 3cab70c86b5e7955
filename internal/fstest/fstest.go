// Package fstest mounts the filesystem in-process for tests and benchmarks.
package fstest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netutil-fs/netutil-fs/fs"
)

// RequireFuse skips the test, saying why, when nothing can be mounted here.
func RequireFuse(tb testing.TB) {
	tb.Helper()
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		tb.Skipf("cannot open /dev/fuse, so the filesystem cannot be mounted here (run as root with the FUSE device): %v", err)
	}
	f.Close()
}

// Mount serves root with fs.Serve, as the sidecar does, at a fresh directory
// under tb.TempDir(), and unmounts it when the test ends, failing the test if
// the mount is left behind.
func Mount(tb testing.TB, root *fs.Root) string {
	tb.Helper()
	RequireFuse(tb)
	mnt := filepath.Join(tb.TempDir(), "mnt")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	served := make(chan error, 1)
	go func() { served <- fs.Serve(ctx, mnt, root, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-served:
		cancel()
		tb.Fatalf("mount at %s: %v", mnt, err)
	case <-time.After(10 * time.Second):
		cancel()
		tb.Fatalf("mount at %s not ready after 10 s", mnt)
	}
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				tb.Errorf("unmount %s: %v", mnt, err)
			}
		case <-time.After(10 * time.Second):
			tb.Errorf("Serve did not return within 10 s of cancel")
		}
		if IsMounted(tb, mnt) {
			tb.Errorf("%s is still mounted after Serve returned", mnt)
		}
	})
	return mnt
}

// IsMounted reports whether dir is a mount point in /proc/self/mountinfo.
func IsMounted(tb testing.TB, dir string) bool {
	tb.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}
