package tests

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The fs tests cover every write syscall; this checks the few that reach
// the kernel's read-only check differently (xattrs, truncate) against the
// real binary, and that the mount serves afterwards.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	s := startSidecar(t, sidecarOptions{})
	for _, name := range []string{"networks/0/name", "networks/1/pci", "cpu", "env/PATH", "networks", "env", "."} {
		path := filepath.Join(s.Mnt, name)
		if err := unix.Setxattr(path, "user.netutil", []byte("x"), 0); !errors.Is(err, unix.EROFS) {
			t.Errorf("setxattr %s: %v, want EROFS", name, err)
		}
		if err := unix.Lsetxattr(path, "trusted.netutil", []byte("x"), unix.XATTR_CREATE); !errors.Is(err, unix.EROFS) {
			t.Errorf("lsetxattr trusted.* %s: %v, want EROFS", name, err)
		}
		if err := unix.Removexattr(path, "user.netutil"); !errors.Is(err, unix.EROFS) {
			t.Errorf("removexattr %s: %v, want EROFS", name, err)
		}
	}
	for _, name := range []string{"networks/0/name", "cpu", "env/PATH"} {
		path := filepath.Join(s.Mnt, name)
		if err := unix.Truncate(path, 0); !errors.Is(err, unix.EROFS) {
			t.Errorf("truncate %s: %v, want EROFS", name, err)
		}
		if err := os.Truncate(path, 1); !errors.Is(err, unix.EROFS) {
			t.Errorf("os.Truncate %s: %v, want EROFS", name, err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Ftruncate(int(f.Fd()), 0); !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EBADF) && !errors.Is(err, unix.EROFS) {
			t.Errorf("ftruncate of %s opened read-only: %v, want EINVAL, EBADF or EROFS", name, err)
		}
		if err := unix.Fsetxattr(int(f.Fd()), "user.netutil", []byte("x"), 0); !errors.Is(err, unix.EROFS) {
			t.Errorf("fsetxattr %s: %v, want EROFS", name, err)
		}
		f.Close()
	}
	// Still serving, to this process and to others.
	if got, err := os.ReadFile(filepath.Join(s.Mnt, "networks", "2", "ips")); err != nil || string(got) != wantIPs(2) {
		t.Errorf("networks/2/ips after the writes: %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(s.Mnt, "env", "PATH")); err != nil || string(got) != os.Getenv("PATH")+"\n" {
		t.Errorf("env/PATH after the writes: %q, %v", got, err)
	}
	if out, stderr, err := run(t, []string{"Y=still"}, "cat", filepath.Join(s.Mnt, "env", "Y")); err != nil || out != "still\n" {
		t.Errorf("cat env/Y after the writes: %q %v %s", out, err, stderr)
	}
	select {
	case <-s.Done:
		t.Fatalf("sidecar exited: %v\n%s", s.Cmd.ProcessState, s.Log)
	default:
	}
}
