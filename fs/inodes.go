package fs

import "sync"

// inodes hands out inode numbers: a fresh one for each directory of each
// snapshot generation, and one per distinct content for files. Numbers are
// never reused, so the kernel's cache for a number can only ever hold the
// bytes the number was given for.
type inodes struct {
	mu        sync.Mutex
	last      uint64
	byContent map[string]uint64
}

func newInodes() *inodes {
	// 1 is the root's number in FUSE.
	return &inodes{last: 1, byContent: make(map[string]uint64)}
}

// fresh returns a number never handed out before.
func (t *inodes) fresh() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last++
	return t.last
}

// forContent returns the number that stands for content.
func (t *inodes) forContent(content string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ino, ok := t.byContent[content]; ok {
		return ino
	}
	t.last++
	t.byContent[content] = t.last
	return t.last
}

// release forgets content's number once the kernel has forgotten the inode.
// A later lookup of the same content gets a new number, which is harmless.
func (t *inodes) release(content string, ino uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byContent[content] == ino {
		delete(t.byContent, content)
	}
}
