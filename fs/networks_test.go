package fs_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/netutil-fs/netutil-fs/fs"
	"github.com/netutil-fs/netutil-fs/sources"

	"github.com/netutil-fs/netutil-fs/internal/kubelettest"

	"github.com/netutil-fs/netutil-fs/internal/fstest"
)

// annotations renders a kubelet annotations file whose network-status has
// one entry per name, on interfaces net0, net1, ….
func annotations(names ...string) map[string]string {
	var entries []string
	for i, name := range names {
		entries = append(entries, `{"name": `+strconv.Quote(name)+`, "interface": "net`+strconv.Itoa(i)+`", "dns": {}}`)
	}
	return map[string]string{"annotations": nadv1.NetworkStatusAnnot + "=" + strconv.Quote("["+strings.Join(entries, ",")+"]") +
		"\nkubernetes.io/config.source=\"api\""}
}

// serveWatched wires a Watcher into a mounted root as cmd/netutil-fs does,
// with an hour-long poll interval so that only inotify can bring changes.
// It returns the mount and the updates, each sent once it has been applied.
func serveWatched(t *testing.T, podinfo string) (string, <-chan sources.Update) {
	t.Helper()
	fstest.RequireFuse(t)
	root := fs.NewRoot(hostProcfs(t))
	watcher := sources.NewWatcher(sources.NewPodinfo(podinfo, nil), time.Hour)
	updates := make(chan sources.Update, 100)
	apply := func(u sources.Update) {
		if u.Err == nil {
			root.SetNetworks(u.Networks)
		}
		updates <- u
	}
	if u, _ := watcher.Poll(); u.Err != nil || u.Networks != nil {
		apply(u)
	}
	mnt := fstest.Mount(t, root)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); watcher.Run(ctx, apply) }()
	// Registered after mountRoot's cleanup, so it runs before the unmount.
	t.Cleanup(func() { cancel(); <-done })
	return mnt, updates
}

// ls runs ls -1U (directory order, which is network-status order) and
// returns the names it printed.
func ls(t *testing.T, dir string) []string {
	t.Helper()
	out, err := exec.Command("ls", "-1U", dir).Output()
	if err != nil {
		t.Fatalf("ls %s: %v", dir, err)
	}
	return strings.Fields(string(out))
}

func indices(n int) string {
	var s []string
	for i := range n {
		s = append(s, strconv.Itoa(i))
	}
	return strings.Join(s, " ")
}

// waitForListing polls ls of networks/ until it lists n networks.
func waitForListing(t *testing.T, mnt string, n int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := ls(t, filepath.Join(mnt, "networks"))
		if strings.Join(got, " ") == indices(n) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("networks/ lists %q after %v, want %q", got, within, indices(n))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkNames reads networks/<i>/name and interface as a reader would.
func checkNames(t *testing.T, mnt string, names []string) {
	t.Helper()
	for i, name := range names {
		for file, want := range map[string]string{"name": name + "\n", "interface": "net" + strconv.Itoa(i) + "\n"} {
			p := filepath.Join(mnt, "networks", strconv.Itoa(i), file)
			got, err := os.ReadFile(p)
			if err != nil || string(got) != want {
				t.Errorf("networks/%d/%s = %q, %v; want %q", i, file, got, err, want)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(mnt, "networks", strconv.Itoa(len(names)))); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("networks/%d: %v, want ENOENT", len(names), err)
	}
}

func TestNetworksSwapWhileMounted(t *testing.T) {
	t.Parallel()
	podinfo := t.TempDir()
	kubelettest.Write(t, podinfo, annotations("ns/a", "ns/b"))
	mnt, _ := serveWatched(t, podinfo)
	checkNames(t, mnt, []string{"ns/a", "ns/b"})

	// Each step lists a different number of networks than the one before,
	// so the listing tells which set is served; the names never repeat at
	// an index from one step to the next, so a stale read shows.
	steps := [][]string{
		{"ns/a2", "ns/b2", "ns/c"},   // attached
		{"ns/c2"},                    // two detached
		{"default/x", "ns/y"},        //
		{},                           // all detached
		{"k8s-pod-network"},          //
		{"d/p", "d/q", "d/r", "d/s"}, //
		{"ns/a", "ns/b"},             // back to the start
		{"ns/a3", "ns/b3", "ns/c3"},  //
		{"ns/a4", "ns/b4"},           //
		{"ns/a5", "ns/b5", "ns/c5", "ns/d5", "ns/e5", "ns/f5", "ns/g5", "ns/h5", "ns/i5", "ns/j5", "ns/k5"},
	}
	for _, names := range steps {
		kubelettest.Write(t, podinfo, annotations(names...))
		took := waitForListing(t, mnt, len(names), 2*time.Second)
		// Once ls shows the new set, nothing of the old one is readable.
		checkNames(t, mnt, names)
		t.Logf("%d networks visible after %v", len(names), took)
	}
}

func TestNetworksBadInputKeepsLastGood(t *testing.T) {
	t.Parallel()
	podinfo := t.TempDir()
	kubelettest.Write(t, podinfo, annotations("ns/a", "ns/b"))
	mnt, updates := serveWatched(t, podinfo)
	if u := <-updates; u.Err != nil {
		t.Fatalf("initial update: %v", u.Err)
	}
	good := []string{"ns/a", "ns/b"}
	checkNames(t, mnt, good)

	for _, bad := range []struct {
		name    string
		content string
	}{
		{"malformed JSON", nadv1.NetworkStatusAnnot + `="[{\"name\": \"ns/c\", \"interface\": "`},
		{"empty file", ""},
		{"bad line", "this is not key=\"value\" at all"},
		{"JSON of the wrong shape", nadv1.NetworkStatusAnnot + `="{\"name\": \"ns/c\"}"`},
	} {
		kubelettest.Write(t, podinfo, map[string]string{"annotations": bad.content})
		select {
		case u := <-updates:
			if u.Err == nil {
				t.Fatalf("%s: update %+v, want an error", bad.name, u)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: no update within 2 s", bad.name)
		}
		if got := ls(t, filepath.Join(mnt, "networks")); strings.Join(got, " ") != "0 1" {
			t.Errorf("%s: networks/ lists %q, want the last good 0 1", bad.name, got)
		}
		checkNames(t, mnt, good)
	}
	kubelettest.Write(t, podinfo, annotations("ns/c"))
	waitForListing(t, mnt, 1, 2*time.Second)
	checkNames(t, mnt, []string{"ns/c"})
}

func TestNetworksMissingAnnotations(t *testing.T) {
	t.Parallel()
	podinfo := t.TempDir()
	mnt, updates := serveWatched(t, podinfo)
	if u := <-updates; !errors.Is(u.Err, sources.ErrNoPodinfo) {
		t.Fatalf("initial update = %+v, want ErrNoPodinfo", u)
	}
	if got := ls(t, filepath.Join(mnt, "networks")); len(got) != 0 {
		t.Errorf("networks/ lists %q with no annotations file, want nothing", got)
	}
	if _, err := os.Stat(filepath.Join(mnt, "networks", "0")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("networks/0: %v, want ENOENT", err)
	}
	// The rest of the mount works meanwhile.
	if got, err := os.ReadFile(filepath.Join(mnt, "env", "PATH")); err != nil || len(got) == 0 {
		t.Errorf("env/PATH = %q, %v", got, err)
	}
	// When the file appears, its networks do.
	kubelettest.Write(t, podinfo, annotations("late"))
	waitForListing(t, mnt, 1, 2*time.Second)
	checkNames(t, mnt, []string{"late"})
}
