package fs

import (
	"context"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/netutil-fs/netutil-fs/snapshot"
)

// How long the kernel may trust what it was told. Immutable things are
// trusted for long; the "networks" entry is invalidated explicitly on every
// change, and its short timeout only bounds staleness should that fail.
const (
	cacheTimeout    = 24 * time.Hour
	networksTimeout = time.Second
)

// generationDir is a directory of one networks snapshot with the inode
// number it has for as long as that snapshot is served.
type generationDir struct {
	ino     uint64
	dir     *snapshot.Dir
	subdirs map[string]*generationDir
	mtime   time.Time
}

func newGenerationDir(dir *snapshot.Dir, inos *inodes, mtime time.Time) *generationDir {
	g := &generationDir{ino: inos.fresh(), dir: dir, subdirs: make(map[string]*generationDir), mtime: mtime}
	for _, e := range dir.Entries() {
		if e.IsDir() {
			g.subdirs[e.Name] = newGenerationDir(e.Dir, inos, mtime)
		}
	}
	return g
}

// treeDir serves a generationDir. Everything below it is as immutable as it.
type treeDir struct {
	fusefs.Inode
	gen  *generationDir
	inos *inodes
}

var (
	_ = (fusefs.NodeLookuper)((*treeDir)(nil))
	_ = (fusefs.NodeReaddirer)((*treeDir)(nil))
	_ = (fusefs.NodeGetattrer)((*treeDir)(nil))
)

// Lookup finds a name in the snapshot.
func (d *treeDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fusefs.Inode, syscall.Errno) {
	entry, ok := d.gen.dir.Lookup(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	if sub := d.gen.subdirs[name]; sub != nil {
		return newTreeDirInode(ctx, &d.Inode, sub, d.inos, out, cacheTimeout), 0
	}
	return newFileInode(ctx, &d.Inode, contentKey{sharedOwner, entry.Content}, d.gen.mtime, d.inos, out, cacheTimeout), 0
}

// Readdir lists the snapshot in its order.
func (d *treeDir) Readdir(ctx context.Context) (fusefs.DirStream, syscall.Errno) {
	return listDir(d.gen.dir, d.gen.subdirs), 0
}

// Getattr describes the directory.
func (d *treeDir) Getattr(ctx context.Context, fh fusefs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	fillDirAttr(&out.Attr, d.gen.mtime)
	out.SetTimeout(cacheTimeout)
	return 0
}

// listDir lists a snapshot directory. Files get no inode number here: theirs
// is only decided by a lookup.
func listDir(dir *snapshot.Dir, subdirs map[string]*generationDir) fusefs.DirStream {
	entries := make([]fuse.DirEntry, 0, dir.Len())
	for _, e := range dir.Entries() {
		entry := fuse.DirEntry{Name: e.Name, Mode: syscall.S_IFREG}
		if sub := subdirs[e.Name]; sub != nil {
			entry.Mode, entry.Ino = syscall.S_IFDIR, sub.ino
		}
		entries = append(entries, entry)
	}
	return fusefs.NewListDirStream(entries)
}

func newTreeDirInode(ctx context.Context, parent *fusefs.Inode, gen *generationDir, inos *inodes, out *fuse.EntryOut, entryTimeout time.Duration) *fusefs.Inode {
	fillDirAttr(&out.Attr, gen.mtime)
	out.SetEntryTimeout(entryTimeout)
	out.SetAttrTimeout(cacheTimeout)
	return parent.NewInode(ctx, &treeDir{gen: gen, inos: inos}, fusefs.StableAttr{Mode: syscall.S_IFDIR, Ino: gen.ino})
}

// newFileInode returns the inode for key's content. If the kernel already
// knows an inode for the same key, go-fuse hands that one back instead.
func newFileInode(ctx context.Context, parent *fusefs.Inode, key contentKey, mtime time.Time, inos *inodes, out *fuse.EntryOut, entryTimeout time.Duration) *fusefs.Inode {
	f := &file{key: key, content: key.content, mtime: mtime, inos: inos}
	f.fillAttr(&out.Attr)
	out.SetEntryTimeout(entryTimeout)
	out.SetAttrTimeout(cacheTimeout)
	return parent.NewInode(ctx, f, fusefs.StableAttr{Mode: syscall.S_IFREG, Ino: inos.forContent(key)})
}

func fillDirAttr(attr *fuse.Attr, mtime time.Time) {
	attr.Mode = syscall.S_IFDIR | 0o555
	attr.Nlink = 2
	attr.SetTimes(nil, &mtime, &mtime)
}
