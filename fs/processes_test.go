package fs_test

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/netutil-fs/netutil-fs/fs"
	"github.com/netutil-fs/netutil-fs/snapshot"

	"github.com/netutil-fs/netutil-fs/internal/fstest"
)

// pidEcho answers every reader with its own pid, and records who asked.
type pidEcho struct {
	mu    sync.Mutex
	asked map[uint32]int
	err   error // returned instead, when set
}

func (p *pidEcho) record(pid uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked[pid]++
}

func (p *pidEcho) CPUSet(pid uint32) (string, error) {
	p.record(pid)
	if p.err != nil {
		return "", p.err
	}
	return fmt.Sprintf("%d\n", pid), nil
}

func (p *pidEcho) Env(pid uint32) (*snapshot.Dir, error) {
	p.record(pid)
	if p.err != nil {
		return nil, p.err
	}
	return snapshot.NewDir([]snapshot.Entry{snapshot.File("PID", fmt.Sprintf("%d\n", pid))}), nil
}

func (p *pidEcho) EnvVar(pid uint32, name string) (string, bool, error) {
	p.record(pid)
	if p.err != nil {
		return "", false, p.err
	}
	if name != "PID" {
		return "", false, nil
	}
	return fmt.Sprintf("%d\n", pid), true, nil
}

func (p *pidEcho) StartTime(pid uint32) (uint64, error) {
	if p.err != nil {
		return 0, p.err
	}
	return 1, nil
}

// The reading process is the one the kernel names: each cat is asked about,
// and answered for, by its own pid; and no answer is reused for another
// reader, through the kernel's caches or the sidecar's.
func TestCallerIsTheReader(t *testing.T) {
	t.Parallel()
	fstest.RequireFuse(t)
	procs := &pidEcho{asked: map[uint32]int{}}
	mnt := fstest.Mount(t, fs.NewRoot(procs))
	for range 20 {
		for _, file := range []string{"cpu", "env/PID"} {
			cmd := exec.Command("cat", filepath.Join(mnt, file))
			var out strings.Builder
			cmd.Stdout = &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("cat %s: %v", file, err)
			}
			want := strconv.Itoa(cmd.Process.Pid) + "\n"
			if out.String() != want {
				t.Fatalf("cat %s printed %q, want its own pid %q", file, out.String(), want)
			}
		}
	}
	if got := lsOf(t, filepath.Join(mnt, "env"), nil); got != "PID\n" {
		t.Errorf("ls env = %q, want PID", got)
	}
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if procs.asked[uint32(os.Getpid())] != 0 {
		t.Errorf("the test process was asked about, not only the readers: %v", procs.asked)
	}
}

// Errors of the sources reach readers as the errno they mean.
func TestSourceErrorsAsErrno(t *testing.T) {
	t.Parallel()
	fstest.RequireFuse(t)
	for _, tt := range []struct {
		err  error
		want syscall.Errno
	}{
		{fmt.Errorf("no cpuset: %w", iofs.ErrNotExist), syscall.ENOENT},
		{fmt.Errorf("read /proc/9/environ: %w", iofs.ErrPermission), syscall.EACCES},
		{&os.PathError{Op: "open", Path: "/proc/9/environ", Err: syscall.ESRCH}, syscall.ESRCH},
		{errors.New("cgroupfs said something odd"), syscall.EIO},
	} {
		t.Run(tt.want.Error(), func(t *testing.T) {
			t.Parallel()
			mnt := fstest.Mount(t, fs.NewRoot(&pidEcho{asked: map[uint32]int{}, err: tt.err}))
			for _, file := range []string{"cpu", "env/PID", "env"} {
				var err error
				if file == "env" {
					_, err = os.ReadDir(filepath.Join(mnt, file))
				} else {
					_, err = os.ReadFile(filepath.Join(mnt, file))
				}
				if !errors.Is(err, tt.want) {
					t.Errorf("read %s: %v, want %v", file, err, tt.want)
				}
			}
			// networks/ does not depend on the reader and still works.
			if _, err := os.ReadDir(filepath.Join(mnt, "networks")); err != nil {
				t.Errorf("ls networks: %v", err)
			}
		})
	}
}
