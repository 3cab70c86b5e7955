package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/netutil-fs/netutil-fs/snapshot"
)

func TestToErrno(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{context.Canceled, syscall.EINTR},
		{fmt.Errorf("read: %w", context.Canceled), syscall.EINTR},
		{syscall.ESRCH, syscall.ESRCH},
		{&os.PathError{Op: "open", Path: "/proc/9/environ", Err: syscall.ESRCH}, syscall.ESRCH},
		{&os.PathError{Op: "open", Path: "/proc/9/environ", Err: syscall.ENOENT}, syscall.ENOENT},
		{fmt.Errorf("no cpuset: %w", iofs.ErrNotExist), syscall.ENOENT},
		{fmt.Errorf("wrapped: %w", iofs.ErrPermission), syscall.EACCES},
		{errors.New("something else"), syscall.EIO},
	}
	for _, tt := range tests {
		if got := toErrno(tt.err); got != tt.want {
			t.Errorf("toErrno(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// noProcesses fails the test if asked anything.
type noProcesses struct{ t *testing.T }

func (p noProcesses) CPUSet(pid uint32) (string, error) {
	p.t.Errorf("CPUSet(%d) asked for a reader with no pid", pid)
	return "", nil
}

func (p noProcesses) Env(pid uint32) (*snapshot.Dir, error) {
	p.t.Errorf("Env(%d) asked for a reader with no pid", pid)
	return nil, nil
}

func (p noProcesses) EnvVar(pid uint32, name string) (string, bool, error) {
	p.t.Errorf("EnvVar(%d) asked for a reader with no pid", pid)
	return "", false, nil
}

func (p noProcesses) StartTime(pid uint32) (uint64, error) {
	p.t.Errorf("StartTime(%d) asked for a reader with no pid", pid)
	return 0, nil
}

// A reader outside the sidecar's PID namespace arrives as pid 0: it gets
// ESRCH for its per-reader files, and the sources are never asked about pid 0.
func TestHiddenPidGetsESRCH(t *testing.T) {
	t.Parallel()
	r := NewRoot(noProcesses{t})
	env := &envDir{root: r}
	for _, ctx := range []context.Context{
		context.Background(),
		// The kernel names the caller, but as pid 0.
		&fuse.Context{Caller: fuse.Caller{Pid: 0}, Cancel: nil},
	} {
		var out fuse.EntryOut
		if _, errno := r.Lookup(ctx, CPUFile, &out); errno != syscall.ESRCH {
			t.Errorf("Lookup(cpu) = %v, want ESRCH", errno)
		}
		if _, errno := env.Lookup(ctx, "HOME", &out); errno != syscall.ESRCH {
			t.Errorf("env Lookup(HOME) = %v, want ESRCH", errno)
		}
		if _, errno := env.Readdir(ctx); errno != syscall.ESRCH {
			t.Errorf("env Readdir = %v, want ESRCH", errno)
		}
	}
}
