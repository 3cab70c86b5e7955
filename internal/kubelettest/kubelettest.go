// Package kubelettest writes Downward API volumes the way the kubelet does,
// for tests of what reads them.
package kubelettest

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FormatMap renders annotations (or labels) as the kubelet writes them into
// a Downward API file, as k8s.io/kubernetes/pkg/fieldpath.FormatMap does:
// keys sorted, key="value" with the value quoted by strconv.Quote, lines
// joined by "\n" with none after the last.
func FormatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + strconv.Quote(m[k])
	}
	return strings.Join(lines, "\n")
}

// Write updates the volume at dir as the kubelet's AtomicWriter does: the
// payload goes into a new hidden timestamped directory, a new ..data_tmp
// symlink to it is renamed over ..data, the user-visible names are symlinks
// into ..data, names no longer in the payload are removed, and so is the
// previous directory. It creates dir on first use.
func Write(tb testing.TB, dir string, files map[string]string) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	dataLink := filepath.Join(dir, "..data")
	old, _ := os.Readlink(dataLink)
	var oldNames []string
	if old != "" {
		entries, err := os.ReadDir(filepath.Join(dir, old))
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range entries {
			oldNames = append(oldNames, e.Name())
		}
	}
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(ts, name), []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, dataLink); err != nil {
		tb.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); errors.Is(err, os.ErrNotExist) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				tb.Fatal(err)
			}
		}
	}
	for _, name := range oldNames {
		if _, ok := files[name]; !ok {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			tb.Fatal(err)
		}
	}
}
