package snapshot_test

import (
	"slices"
	"testing"

	"github.com/netutil-fs/netutil-fs/snapshot"
)

func TestNewDir(t *testing.T) {
	sub := snapshot.NewDir([]snapshot.Entry{snapshot.File("ips", "10.0.0.1\n")})
	d := snapshot.NewDir([]snapshot.Entry{
		snapshot.File("2", "two\n"),
		snapshot.Subdir("10", sub),
		snapshot.File("2", "duplicate\n"),
		snapshot.File("1", "one\n"),
	})
	var names []string
	for _, e := range d.Entries() {
		names = append(names, e.Name)
	}
	if want := []string{"2", "10", "1"}; !slices.Equal(names, want) {
		t.Errorf("Entries() names = %v, want the given order without duplicates %v", names, want)
	}
	if d.Len() != 3 {
		t.Errorf("Len() = %d, want 3", d.Len())
	}
	tests := []struct {
		name, content string
		isDir, ok     bool
	}{
		{name: "2", content: "two\n", ok: true},
		{name: "10", isDir: true, ok: true},
		{name: "1", content: "one\n", ok: true},
		{name: "3"},
	}
	for _, tt := range tests {
		e, ok := d.Lookup(tt.name)
		if ok != tt.ok || e.Content != tt.content || e.IsDir() != tt.isDir {
			t.Errorf("Lookup(%q) = %+v, %v; want content %q, dir %v, found %v", tt.name, e, ok, tt.content, tt.isDir, tt.ok)
		}
	}
	if e, _ := d.Lookup("10"); e.Dir != sub {
		t.Errorf("Lookup(10).Dir = %p, want the subdirectory given, %p", e.Dir, sub)
	}
}

func TestNilDir(t *testing.T) {
	var d *snapshot.Dir
	if _, ok := d.Lookup("x"); ok || d.Len() != 0 || d.Entries() != nil {
		t.Errorf("a nil Dir must be empty: Lookup ok %v, Len %d, Entries %v", ok, d.Len(), d.Entries())
	}
}
