// Package snapshot holds the plain, immutable value that flows from the
// sources that read the world to the filesystem that serves it: a tree of
// directories and files whose content is fixed when the tree is built.
//
// A Dir is never changed after NewDir returns, so it can be shared between
// goroutines and served while a newer one is being built.
package snapshot

// Entry is one name in a Dir: either a file with fixed content, or a
// subdirectory when Dir is not nil.
type Entry struct {
	Name    string
	Content string
	Dir     *Dir
}

// IsDir reports whether the entry is a subdirectory.
func (e Entry) IsDir() bool { return e.Dir != nil }

// File returns a file entry.
func File(name, content string) Entry { return Entry{Name: name, Content: content} }

// Subdir returns a directory entry.
func Subdir(name string, dir *Dir) Entry { return Entry{Name: name, Dir: dir} }

// Dir is an immutable directory listing that keeps the order its entries were
// given in, so that readdir lists networks as 0, 1, 2 … rather than 0, 1, 10.
type Dir struct {
	entries []Entry
	index   map[string]int
}

// NewDir builds a directory from entries. When two entries share a name the
// first one wins, as getenv(3) answers with the first of duplicate variables.
func NewDir(entries []Entry) *Dir {
	d := &Dir{
		entries: make([]Entry, 0, len(entries)),
		index:   make(map[string]int, len(entries)),
	}
	for _, e := range entries {
		if _, dup := d.index[e.Name]; dup {
			continue
		}
		d.index[e.Name] = len(d.entries)
		d.entries = append(d.entries, e)
	}
	return d
}

// Lookup returns the entry called name.
func (d *Dir) Lookup(name string) (Entry, bool) {
	if d == nil {
		return Entry{}, false
	}
	i, ok := d.index[name]
	if !ok {
		return Entry{}, false
	}
	return d.entries[i], true
}

// Entries returns the entries in order. The slice must not be modified.
func (d *Dir) Entries() []Entry {
	if d == nil {
		return nil
	}
	return d.entries
}

// Len returns the number of entries.
func (d *Dir) Len() int {
	if d == nil {
		return 0
	}
	return len(d.entries)
}
