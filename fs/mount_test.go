package fs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netutil-fs/netutil-fs/fs"
	"github.com/netutil-fs/netutil-fs/snapshot"
	"github.com/netutil-fs/netutil-fs/sources"
)

// goReaderEnv makes this test binary a reader: it prints the file the
// variable names with os.ReadFile and exits, before any test runs.
const goReaderEnv = "NETUTIL_TEST_GO_READ"

func TestMain(m *testing.M) {
	if path := os.Getenv(goReaderEnv); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(data)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// requireFuse skips the test, saying why, when nothing can be mounted here.
func requireFuse(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("cannot open /dev/fuse, so the filesystem cannot be mounted here (run as root with the FUSE device): %v", err)
	}
	f.Close()
}

// hostProcfs is the per-reader source the sidecar uses: this machine's /proc
// and cgroup mounts.
func hostProcfs(t testing.TB) *sources.Procfs {
	t.Helper()
	cgroups, err := sources.FindCgroupMounts("/proc")
	if err != nil {
		t.Fatalf("find cgroup mounts: %v", err)
	}
	return sources.NewProcfs("/proc", cgroups)
}

// mountRoot serves root with fs.Serve, as the sidecar does, at a fresh
// directory under t.TempDir(), and unmounts it when the test ends.
func mountRoot(t *testing.T, root *fs.Root) string {
	t.Helper()
	requireFuse(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	served := make(chan error, 1)
	go func() { served <- fs.Serve(ctx, mnt, root, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-served:
		cancel()
		t.Fatalf("mount at %s: %v", mnt, err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("mount at %s not ready after 10 s", mnt)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("unmount %s: %v", mnt, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return within 10 s of cancel")
		}
		if isMounted(t, mnt) {
			t.Errorf("%s is still mounted after Serve returned", mnt)
		}
	})
	return mnt
}

// mountNetworks mounts a root serving networks and this host's processes.
func mountNetworks(t *testing.T, networks *snapshot.Dir) (string, *fs.Root) {
	t.Helper()
	requireFuse(t)
	root := fs.NewRoot(hostProcfs(t))
	if networks != nil {
		root.SetNetworks(networks)
	}
	return mountRoot(t, root), root
}

// isMounted reports whether dir is a mount point in /proc/self/mountinfo.
func isMounted(t testing.TB, dir string) bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}
