package sources_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/netutil-fs/netutil-fs/sources"

	"github.com/netutil-fs/netutil-fs/internal/kubelettest"
)

// annotationsOf renders network-status entries named names into a kubelet
// annotations file, as in FORMATS.md.
func annotationsOf(names ...string) string {
	var entries []string
	for i, name := range names {
		entries = append(entries, `{"name": `+strconv.Quote(name)+`, "interface": "net`+strconv.Itoa(i)+`"}`)
	}
	return nadv1.NetworkStatusAnnot + "=" + strconv.Quote("["+strings.Join(entries, ",")+"]") +
		"\nkubernetes.io/config.source=\"api\""
}

// networkNames returns networks/<n>/name in order.
func networkNames(t *testing.T, u sources.Update) []string {
	t.Helper()
	if u.Err != nil || u.Networks == nil {
		t.Fatalf("update = %+v, want networks", u)
	}
	names := []string{}
	for _, e := range u.Networks.Entries() {
		f, ok := e.Dir.Lookup("name")
		if !ok {
			t.Fatalf("network %s has no name", e.Name)
		}
		names = append(names, strings.TrimSuffix(f.Content, "\n"))
	}
	return names
}

// runWatcher runs a Watcher on dir until the test ends and returns its
// updates.
func runWatcher(t *testing.T, dir string, interval time.Duration) <-chan sources.Update {
	t.Helper()
	updates := make(chan sources.Update, 100)
	w := sources.NewWatcher(sources.NewPodinfo(dir, nil), interval)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx, func(u sources.Update) { updates <- u })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5 s of its context being cancelled")
		}
	})
	return updates
}

// nextUpdate waits for an update; events arrive in well under a second, so
// 5 s only bounds a failing test.
func nextUpdate(t *testing.T, updates <-chan sources.Update) sources.Update {
	t.Helper()
	select {
	case u := <-updates:
		return u
	case <-time.After(5 * time.Second):
		t.Fatal("no update within 5 s")
		return sources.Update{}
	}
}

// An hour-long poll interval proves the changes arrive by inotify.
const noPolling = time.Hour

func TestWatcherKubeletSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kubelettest.Write(t, dir, map[string]string{"annotations": annotationsOf("ns/a", "ns/b"), "labels": `app="x"`})
	updates := runWatcher(t, dir, noPolling)
	if got := networkNames(t, nextUpdate(t, updates)); strings.Join(got, ",") != "ns/a,ns/b" {
		t.Fatalf("first update names %q, want ns/a,ns/b", got)
	}
	steps := [][]string{
		{"ns/a", "ns/b", "ns/c"}, // attached
		{"ns/c"},                 // detached two
		{"default/x", "ns/c", "ns/d", "ns/d"},
		{}, // all gone
		{"ns/a"},
	}
	for _, names := range steps {
		start := time.Now()
		kubelettest.Write(t, dir, map[string]string{"annotations": annotationsOf(names...), "labels": `app="x"`})
		got := networkNames(t, nextUpdate(t, updates))
		if strings.Join(got, ",") != strings.Join(names, ",") {
			t.Fatalf("after swap to %q, update names %q", names, got)
		}
		t.Logf("swap to %q reported after %v", names, time.Since(start))
	}
	// The old timestamped directories are gone, as the kubelet leaves it.
	matches, _ := filepath.Glob(filepath.Join(dir, "..20*"))
	if len(matches) != 1 {
		t.Errorf("timestamped directories: %q, want one", matches)
	}
}

func TestWatcherRawNetworkStatusSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kubelettest.Write(t, dir, map[string]string{"network-status": `[{"name":"one"}]`})
	updates := runWatcher(t, dir, noPolling)
	if got := networkNames(t, nextUpdate(t, updates)); strings.Join(got, ",") != "one" {
		t.Fatalf("names %q, want one", got)
	}
	kubelettest.Write(t, dir, map[string]string{"network-status": `[{"name":"one"},{"name":"two"}]`})
	if got := networkNames(t, nextUpdate(t, updates)); strings.Join(got, ",") != "one,two" {
		t.Fatalf("names %q, want one,two", got)
	}
}

func TestWatcherBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := annotationsOf("ns/a")
	kubelettest.Write(t, dir, map[string]string{"annotations": good})
	updates := runWatcher(t, dir, noPolling)
	if got := networkNames(t, nextUpdate(t, updates)); strings.Join(got, ",") != "ns/a" {
		t.Fatalf("names %q, want ns/a", got)
	}

	// Malformed JSON: an error and no networks, so the consumer keeps ns/a.
	kubelettest.Write(t, dir, map[string]string{"annotations": nadv1.NetworkStatusAnnot + `="[{\"name\": \"ns/b\","`})
	u := nextUpdate(t, updates)
	if u.Err == nil || u.Networks != nil {
		t.Fatalf("update after malformed JSON = %+v, want an error and no networks", u)
	}
	if !strings.Contains(u.Err.Error(), "network-status") || !strings.Contains(u.Err.Error(), filepath.Join(dir, "annotations")) {
		t.Errorf("error %q does not name the annotation and the file", u.Err)
	}

	// Empty, as in a pod's first seconds: ErrNotReady.
	kubelettest.Write(t, dir, map[string]string{"annotations": ""})
	if u := nextUpdate(t, updates); !errors.Is(u.Err, sources.ErrNotReady) || u.Networks != nil {
		t.Fatalf("update after empty file = %+v, want ErrNotReady", u)
	}

	// A bad line.
	kubelettest.Write(t, dir, map[string]string{"annotations": "not a key value line"})
	if u := nextUpdate(t, updates); u.Err == nil || u.Networks != nil {
		t.Fatalf("update after a bad line = %+v, want an error", u)
	}

	// Back to the same good content: reported again, as recovery.
	kubelettest.Write(t, dir, map[string]string{"annotations": good})
	if got := networkNames(t, nextUpdate(t, updates)); strings.Join(got, ",") != "ns/a" {
		t.Fatalf("names after recovery %q, want ns/a", got)
	}
}

func TestWatcherPoll(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := sources.NewWatcher(sources.NewPodinfo(dir, nil), noPolling)
	steps := []struct {
		name        string
		files       map[string]string // nil: leave the podinfo as it is
		wantChanged bool
		wantNames   string // "-" for an error
		wantErr     error
	}{
		{name: "no file", wantChanged: true, wantNames: "-", wantErr: sources.ErrNoPodinfo},
		{name: "still no file: not reported again", wantChanged: false},
		{name: "file appears", files: map[string]string{"annotations": annotationsOf("a")}, wantChanged: true, wantNames: "a"},
		{name: "unchanged", wantChanged: false},
		{name: "same content rewritten", files: map[string]string{"annotations": annotationsOf("a")}, wantChanged: false},
		{name: "empty", files: map[string]string{"annotations": ""}, wantChanged: true, wantNames: "-", wantErr: sources.ErrNotReady},
		{name: "still empty", wantChanged: false},
		{name: "written", files: map[string]string{"annotations": annotationsOf("a", "b")}, wantChanged: true, wantNames: "a,b"},
		{name: "annotation removed: no networks", files: map[string]string{"annotations": `a="b"`}, wantChanged: true, wantNames: ""},
	}
	for _, step := range steps {
		if step.files != nil {
			kubelettest.Write(t, dir, step.files)
		}
		u, changed := w.Poll()
		if changed != step.wantChanged {
			t.Fatalf("%s: changed = %v, want %v (update %+v)", step.name, changed, step.wantChanged, u)
		}
		if !changed {
			if u.Err != nil || u.Networks != nil {
				t.Errorf("%s: unchanged poll returned %+v", step.name, u)
			}
			continue
		}
		if step.wantNames == "-" {
			if !errors.Is(u.Err, step.wantErr) || u.Networks != nil {
				t.Fatalf("%s: update %+v, want error %v", step.name, u, step.wantErr)
			}
			continue
		}
		if got := strings.Join(networkNames(t, u), ","); got != step.wantNames {
			t.Fatalf("%s: names %q, want %q", step.name, got, step.wantNames)
		}
	}
}

// The directory does not exist when the watcher starts (the volume is not
// mounted yet): the poll finds it once it does.
func TestWatcherDirectoryAppears(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "podinfo")
	updates := runWatcher(t, dir, 50*time.Millisecond)
	if u := nextUpdate(t, updates); !errors.Is(u.Err, sources.ErrNoPodinfo) {
		t.Fatalf("first update = %+v, want ErrNoPodinfo", u)
	}
	kubelettest.Write(t, dir, map[string]string{"annotations": annotationsOf("late")})
	if got := networkNames(t, nextUpdate(t, updates)); strings.Join(got, ",") != "late" {
		t.Fatalf("names %q, want late", got)
	}
	// Once there, it is watched: a further swap arrives too.
	kubelettest.Write(t, dir, map[string]string{"annotations": annotationsOf("late", "later")})
	if got := networkNames(t, nextUpdate(t, updates)); strings.Join(got, ",") != "late,later" {
		t.Fatalf("names %q, want late,later", got)
	}
}

// The directory is removed and made again under a running watcher.
func TestWatcherDirectoryReplaced(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "podinfo")
	kubelettest.Write(t, dir, map[string]string{"annotations": annotationsOf("a")})
	updates := runWatcher(t, dir, 50*time.Millisecond)
	if got := networkNames(t, nextUpdate(t, updates)); strings.Join(got, ",") != "a" {
		t.Fatalf("names %q, want a", got)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	// RemoveAll may first leave a dangling annotations link: an error too.
	for u := nextUpdate(t, updates); !errors.Is(u.Err, sources.ErrNoPodinfo); u = nextUpdate(t, updates) {
		if u.Err == nil {
			t.Fatalf("update after removal = %+v, want an error", u)
		}
	}
	kubelettest.Write(t, dir, map[string]string{"annotations": annotationsOf("b")})
	if got := networkNames(t, nextUpdate(t, updates)); strings.Join(got, ",") != "b" {
		t.Fatalf("names %q, want b", got)
	}
}
