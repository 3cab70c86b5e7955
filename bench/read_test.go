package bench_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/netutil-fs/netutil-fs/fs"
	"github.com/netutil-fs/netutil-fs/internal/fstest"
	"github.com/netutil-fs/netutil-fs/sources"
)

// sample is the shipped kubelet-format annotations of an SR-IOV pod.
const sample = "../examples/podinfo/annotations"

// mount serves the filesystem in-process over the sample podinfo, with this
// process's /proc as the per-reader source, and unmounts at cleanup.
func mount(b *testing.B) string {
	b.Helper()
	fstest.RequireFuse(b)
	podinfo := b.TempDir()
	data, err := os.ReadFile(sample)
	if err != nil {
		b.Fatalf("read sample: %v", err)
	}
	if err := os.WriteFile(filepath.Join(podinfo, sources.AnnotationsFile), data, 0o644); err != nil {
		b.Fatalf("write podinfo: %v", err)
	}
	networks, err := sources.NewPodinfo(podinfo, nil).Networks()
	if err != nil {
		b.Fatalf("parse sample: %v", err)
	}
	cgroups, err := sources.FindCgroupMounts("/proc")
	if err != nil {
		b.Logf("no cgroup mounts: %v", err)
	}
	root := fs.NewRoot(sources.NewProcfs("/proc", cgroups))
	root.SetNetworks(networks)
	return fstest.Mount(b, root)
}

// openReadClose is what a reader does: open, read to EOF, close.
func openReadClose(b *testing.B, path string, buf []byte) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	for {
		n, err := syscall.Read(fd, buf)
		if err != nil {
			b.Fatalf("read %s: %v", path, err)
		}
		if n == 0 {
			break
		}
	}
	if err := syscall.Close(fd); err != nil {
		b.Fatalf("close %s: %v", path, err)
	}
}

// BenchmarkOpenReadClose times one open-read-close of each measured file of
// the mount and of a tmpfs file with the same bytes.
func BenchmarkOpenReadClose(b *testing.B) {
	mnt := mount(b)
	buf := make([]byte, 128<<10)
	for _, rel := range []string{"networks/0/ips", "networks/1/pci", "cpu", "env/HOME"} {
		path := filepath.Join(mnt, rel)
		content, err := os.ReadFile(path)
		if err != nil {
			b.Fatalf("read %s: %v", rel, err)
		}
		b.Run(rel, func(b *testing.B) {
			for b.Loop() {
				openReadClose(b, path, buf)
			}
		})
		b.Run("tmpfs-copy/"+rel, func(b *testing.B) {
			copy := tmpfsFile(b, content)
			for b.Loop() {
				openReadClose(b, copy, buf)
			}
		})
	}
}

// tmpfsFile writes content to a file on /dev/shm, or skips.
func tmpfsFile(b *testing.B, content []byte) string {
	b.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != 0x01021994 {
		b.Skip("/dev/shm is not a tmpfs")
	}
	f, err := os.CreateTemp("/dev/shm", "netutil-bench-*")
	if err != nil {
		b.Fatalf("create tmpfs file: %v", err)
	}
	b.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.Write(content); err != nil {
		b.Fatalf("write tmpfs file: %v", err)
	}
	if err := f.Close(); err != nil {
		b.Fatalf("close tmpfs file: %v", err)
	}
	return f.Name()
}

// BenchmarkProcfs times what the sidecar does for one per-reader LOOKUP,
// without FUSE: the work behind cpu and env/<VAR>.
func BenchmarkProcfs(b *testing.B) {
	cgroups, err := sources.FindCgroupMounts("/proc")
	if err != nil {
		b.Logf("no cgroup mounts: %v", err)
	}
	p := sources.NewProcfs("/proc", cgroups)
	pid := uint32(syscall.Gettid())
	b.Run("CPUSet", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.CPUSet(pid); err != nil && !errors.Is(err, sources.ErrNoCPUSet) {
				b.Fatal(err)
			}
		}
	})
	// An env/<VAR> lookup: the start time that keys the inode, then the
	// variable.
	b.Run("EnvLookup", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.StartTime(pid); err != nil {
				b.Fatal(err)
			}
			if _, _, err := p.EnvVar(pid, "HOME"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("StartTime", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.StartTime(pid); err != nil {
				b.Fatal(err)
			}
		}
	})
	// ls env/: the whole environment.
	b.Run("Env", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Env(pid); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkNetworks times reading and parsing the sample podinfo into the
// networks tree, which the sidecar does on every annotation change.
func BenchmarkNetworks(b *testing.B) {
	data, err := os.ReadFile(sample)
	if err != nil {
		b.Fatalf("read sample: %v", err)
	}
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, sources.AnnotationsFile), data, 0o644); err != nil {
		b.Fatalf("write podinfo: %v", err)
	}
	p := sources.NewPodinfo(dir, nil)
	for b.Loop() {
		if _, err := p.Networks(); err != nil {
			b.Fatal(err)
		}
	}
}
