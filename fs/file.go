package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// file is a read-only file whose content never changes; see the package
// documentation for why that lets the kernel cache it.
type file struct {
	fusefs.Inode
	key     contentKey
	content string
	mtime   time.Time
	inos    *inodes
}

var (
	_ = (fusefs.NodeOpener)((*file)(nil))
	_ = (fusefs.NodeReader)((*file)(nil))
	_ = (fusefs.NodeGetattrer)((*file)(nil))
	_ = (fusefs.NodeFlusher)((*file)(nil))
	_ = (fusefs.NodeOnForgetter)((*file)(nil))
)

// Open refuses writers and otherwise answers ENOSYS, which the kernel takes
// as "opens need no daemon" for the rest of the mount: later opens and closes
// of any file never reach this process.
func (f *file) Open(ctx context.Context, flags uint32) (fusefs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EROFS
	}
	return nil, 0, syscall.ENOSYS
}

// Read serves a slice of the content. With no file handle it reads the node.
func (f *file) Read(ctx context.Context, fh fusefs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if off >= int64(len(f.content)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(f.content)))
	return fuse.ReadResultData([]byte(f.content[off:end])), 0
}

// Getattr reports the true size: with the page cache in use, a size of 0
// would make cat print nothing.
func (f *file) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	f.fillAttr(&out.Attr)
	out.SetTimeout(cacheTimeout)
	return 0
}

// Flush answers ENOSYS so the kernel stops sending FLUSH on every close.
func (f *file) Flush(ctx context.Context, fh fusefs.FileHandle) syscall.Errno {
	return syscall.ENOSYS
}

// OnForget frees the content's inode number with the inode.
func (f *file) OnForget() {
	f.inos.release(f.key, f.StableAttr().Ino)
}

func (f *file) fillAttr(attr *fuse.Attr) {
	attr.Mode = syscall.S_IFREG | 0o444
	attr.Size = uint64(len(f.content))
	attr.Nlink = 1
	attr.SetTimes(nil, &f.mtime, &f.mtime)
}
