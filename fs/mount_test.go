package fs_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/netutil-fs/netutil-fs/fs"
	"github.com/netutil-fs/netutil-fs/snapshot"
	"github.com/netutil-fs/netutil-fs/sources"

	"github.com/netutil-fs/netutil-fs/internal/fstest"
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

// mountNetworks mounts a root serving networks and this host's processes.
func mountNetworks(t *testing.T, networks *snapshot.Dir) (string, *fs.Root) {
	t.Helper()
	fstest.RequireFuse(t)
	root := fs.NewRoot(hostProcfs(t))
	if networks != nil {
		root.SetNetworks(networks)
	}
	return fstest.Mount(t, root), root
}
