package fs

import "sync"

// inodes hands out inode numbers: a fresh one for each directory of each
// snapshot generation, and one per distinct content and owner for files.
// Numbers are never reused, so the kernel's cache for a number can only ever
// hold the bytes the number was given for.
type inodes struct {
	mu        sync.Mutex
	last      uint64
	byContent map[contentKey]uint64
}

// contentKey is what a file's inode number stands for: its bytes, and who
// may be handed the same number. Owner sharedOwner is every reader, for
// networks/ files and for cpu, which are no secret. An env/ file's owner is
// the reading thread, so no reader is ever given another process's inode:
// if equal bytes shared a number across readers, a process could confirm a
// guess of another's environment variable by looking up the same name with
// the guessed value and seeing an already known inode number (st_ino), or
// the page cache answering a read that the daemon would otherwise serve.
type contentKey struct {
	owner   owner
	content string
}

// owner names one thread for as long as the kernel runs. A pid alone does
// not: pids come round (pid_max is 32768 by default), and a process given
// a dead one's pid would be handed the dead one's inodes, which the kernel
// may still cache. The start time is in clock ticks; pids cannot come round
// within one tick unless a process steers them (ns_last_pid, clone3's
// set_tid), which takes the privilege to read any environ directly.
type owner struct {
	pid       uint32
	startTime uint64
}

// sharedOwner owns the content every reader sees alike.
var sharedOwner = owner{}

func newInodes() *inodes {
	// 1 is the root's number in FUSE.
	return &inodes{last: 1, byContent: make(map[contentKey]uint64)}
}

// fresh returns a number never handed out before.
func (t *inodes) fresh() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last++
	return t.last
}

// forContent returns the number that stands for key.
func (t *inodes) forContent(key contentKey) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ino, ok := t.byContent[key]; ok {
		return ino
	}
	t.last++
	t.byContent[key] = t.last
	return t.last
}

// release forgets key's number once the kernel has forgotten the inode.
// A later lookup of the same content gets a new number, which is harmless.
func (t *inodes) release(key contentKey, ino uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byContent[key] == ino {
		delete(t.byContent, key)
	}
}
