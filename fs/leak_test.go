package fs_test

import (
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/netutil-fs/netutil-fs/snapshot"
)

// Reading every kind of file from many processes at once leaves the server
// with no more goroutines than it settled at after a warm-up at the same
// concurrency: nothing a request starts outlives it. (tests/ checks the
// built sidecar's fds, threads and RSS the same way; goroutines can only be
// counted in-process.) Not parallel, so other tests' servers hold still.
func TestNoGoroutineGrowth(t *testing.T) {
	networks := snapshot.NewDir([]snapshot.Entry{snapshot.Subdir("0", snapshot.NewDir([]snapshot.Entry{
		snapshot.File("name", "ns/a\n"), snapshot.File("ips", "10.1.0.4\n"),
	}))})
	mnt, root := mountNetworks(t, networks)
	const readers = 16
	script := `for i in $(seq "$2"); do cat "$1/cpu" "$1/env/X" "$1/networks/0/ips" >/dev/null; ls "$1/env" "$1/networks/0" >/dev/null; if [ -e "$1/env/NONE" ]; then exit 2; fi; done`
	load := func(iterations int) {
		t.Helper()
		var wg sync.WaitGroup
		for i := range readers {
			wg.Go(func() {
				cmd := exec.Command("sh", "-c", script, "sh", mnt, fmt.Sprint(iterations))
				cmd.Env = []string{"PATH=/usr/bin:/bin", fmt.Sprintf("X=reader-%d", i)}
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Errorf("reader %d: %v\n%s", i, err, out)
				}
			})
		}
		wg.Wait()
		// A snapshot swap mid-run is part of the load too.
		root.SetNetworks(networks)
	}
	// settled waits up to 3 s for the count to come down to at most want
	// (0: to stop changing), and returns it.
	settled := func(want int) int {
		n := runtime.NumGoroutine()
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			m := runtime.NumGoroutine()
			if (want == 0 && m == n) || (want > 0 && m <= want) {
				return m
			}
			n = m
		}
		return n
	}
	load(20)
	before := settled(0)
	load(100)
	if after := settled(before); after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines grew from %d to %d after %d readers × 100 rounds:\n%s", before, after, readers, buf[:runtime.Stack(buf, true)])
	} else {
		t.Logf("goroutines: %d after the warm-up, %d after the run", before, after)
	}
}
