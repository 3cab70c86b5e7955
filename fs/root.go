package fs

import (
	"context"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"k8s.io/klog/v2"

	"github.com/netutil-fs/netutil-fs/snapshot"
)

// Processes answers, for the process the kernel names in a request, what
// that process's per-reader files hold.
type Processes interface {
	// CPUSet returns the cpu file's content, "1-5\n".
	CPUSet(pid uint32) (string, error)
	// Env returns one file per environment variable.
	Env(pid uint32) (*snapshot.Dir, error)
	// EnvVar returns the content of one variable's file, and whether
	// the process has the variable.
	EnvVar(pid uint32, name string) (string, bool, error)
	// StartTime returns when the process started, which with its pid
	// tells it from a later process given the same pid.
	StartTime(pid uint32) (uint64, error)
}

// The names at the top of the mount.
const (
	CPUFile     = "cpu"
	EnvDir      = "env"
	NetworksDir = "networks"
)

// Root is the top directory of the filesystem.
type Root struct {
	fusefs.Inode

	procs   Processes
	inos    *inodes
	started time.Time

	env      *fusefs.Inode
	networks atomic.Pointer[generationDir]
	mounted  atomic.Bool

	// notifyMu orders SetNetworks calls, so the kernel is told of each
	// generation after the one before.
	notifyMu         sync.Mutex
	warnedHiddenPids sync.Once
}

var (
	_ = (fusefs.NodeOnAdder)((*Root)(nil))
	_ = (fusefs.NodeLookuper)((*Root)(nil))
	_ = (fusefs.NodeReaddirer)((*Root)(nil))
	_ = (fusefs.NodeGetattrer)((*Root)(nil))
)

// NewRoot returns a root that serves procs' answers per reader and, until
// SetNetworks is called, an empty networks directory.
func NewRoot(procs Processes) *Root {
	r := &Root{procs: procs, inos: newInodes(), started: time.Now()}
	r.networks.Store(newGenerationDir(snapshot.NewDir(nil), r.inos, r.started))
	return r
}

// OnAdd creates the fixed env directory when the root is mounted.
func (r *Root) OnAdd(ctx context.Context) {
	r.env = r.NewPersistentInode(ctx, &envDir{root: r}, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: r.inos.fresh()})
	r.mounted.Store(true)
}

// SetNetworks makes dir the content of networks/. Readers that walk a path
// after SetNetworks returns see dir; no file of the previous snapshot stays
// reachable through a new path walk.
func (r *Root) SetNetworks(dir *snapshot.Dir) {
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	r.networks.Store(newGenerationDir(dir, r.inos, time.Now()))
	if !r.mounted.Load() {
		return
	}
	// ENOENT only means the kernel had not cached the entry.
	if errno := r.NotifyEntry(NetworksDir); errno != 0 && errno != syscall.ENOENT {
		klog.ErrorS(errno, "Could not invalidate the kernel's networks entry; readers may see the old networks for up to a second")
	}
}

// Lookup resolves the top-level names.
func (r *Root) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	switch name {
	case CPUFile:
		pid, errno := r.caller(ctx)
		if errno != 0 {
			return nil, errno
		}
		cpus, err := r.procs.CPUSet(pid)
		if err != nil {
			klog.V(2).InfoS("Cannot read cpuset", "pid", pid, "err", err)
			return nil, toErrno(err)
		}
		// A cpuset is no secret (any process may read another's
		// Cpus_allowed_list), so equal cpusets share their inode and
		// its page cache across readers.
		return newFileInode(ctx, &r.Inode, contentKey{sharedOwner, cpus}, r.started, r.inos, out, 0), 0
	case EnvDir:
		fillDirAttr(&out.Attr, r.started)
		out.SetEntryTimeout(cacheTimeout)
		out.SetAttrTimeout(cacheTimeout)
		return r.env, 0
	case NetworksDir:
		return newTreeDirInode(ctx, &r.Inode, r.networks.Load(), r.inos, out, networksTimeout), 0
	}
	return nil, syscall.ENOENT
}

// Readdir lists the top-level names.
func (r *Root) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	return fusefs.NewListDirStream([]fuse.DirEntry{
		{Name: CPUFile, Mode: syscall.S_IFREG},
		{Name: EnvDir, Mode: syscall.S_IFDIR, Ino: r.env.StableAttr().Ino},
		{Name: NetworksDir, Mode: syscall.S_IFDIR, Ino: r.networks.Load().ino},
	}), 0
}

// Getattr describes the root directory.
func (r *Root) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillDirAttr(&out.Attr, r.started)
	out.SetTimeout(cacheTimeout)
	return 0
}

// caller returns the pid of the process that made the request. The kernel
// sends 0 for a process outside the sidecar's PID namespace, whose /proc
// entries the sidecar cannot see.
func (r *Root) caller(ctx context.Context) (uint32, syscall.Errno) {
	if c, ok := fuse.FromContext(ctx); ok && c.Pid != 0 {
		return c.Pid, 0
	}
	r.warnedHiddenPids.Do(func() {
		klog.ErrorS(nil, "A reader is outside the sidecar's PID namespace, so its cpu and env cannot be known; set shareProcessNamespace: true in the pod spec. Such readers get ESRCH.")
	})
	return 0, syscall.ESRCH
}

// envDir lists the reading process's environment.
type envDir struct {
	fusefs.Inode
	root *Root
}

var (
	_ = (fusefs.NodeLookuper)((*envDir)(nil))
	_ = (fusefs.NodeReaddirer)((*envDir)(nil))
	_ = (fusefs.NodeGetattrer)((*envDir)(nil))
)

// Lookup finds a variable of the caller's environment.
func (d *envDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	pid, errno := d.root.caller(ctx)
	if errno != 0 {
		return nil, errno
	}
	// The start time is read first: should the reader die and its pid be
	// given to another process before the environ is read, the inode is
	// keyed to the dead reader, and no living process is ever handed it.
	start, err := d.root.procs.StartTime(pid)
	if err != nil {
		klog.V(2).InfoS("Cannot read process start time", "pid", pid, "err", err)
		return nil, toErrno(err)
	}
	content, ok, err := d.root.procs.EnvVar(pid, name)
	if err != nil {
		klog.V(2).InfoS("Cannot read environment", "pid", pid, "err", err)
		return nil, toErrno(err)
	}
	if !ok {
		return nil, syscall.ENOENT
	}
	return newFileInode(ctx, &d.Inode, contentKey{owner{pid, start}, content}, d.root.started, d.root.inos, out, 0), 0
}

// Readdir lists the caller's variables.
func (d *envDir) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	env, errno := d.callerEnv(ctx)
	if errno != 0 {
		return nil, errno
	}
	return listDir(env, nil), 0
}

// Getattr describes the directory.
func (d *envDir) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillDirAttr(&out.Attr, d.root.started)
	out.SetTimeout(cacheTimeout)
	return 0
}

func (d *envDir) callerEnv(ctx context.Context) (*snapshot.Dir, syscall.Errno) {
	pid, errno := d.root.caller(ctx)
	if errno != 0 {
		return nil, errno
	}
	env, err := d.root.procs.Env(pid)
	if err != nil {
		klog.V(2).InfoS("Cannot read environment", "pid", pid, "err", err)
		return nil, toErrno(err)
	}
	return env, 0
}
