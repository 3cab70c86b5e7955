package tests

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// envInt is a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// TestLoad runs NETUTIL_LOAD_READERS reader processes (default 64) of
// NETUTIL_LOAD_READS reads each across every file kind, half of them in
// cpuset 0 and half in cpuset 1, each checking every value is its own. It
// wants zero errors and no growth of the sidecar's fds, threads or RSS
// after the run. The default, 1,000 reads each, keeps `make test` short;
// `make load` runs the full size, 100,000 each.
func TestLoad(t *testing.T) {
	t.Parallel()
	readers := envInt(t, "NETUTIL_LOAD_READERS", 64)
	reads := envInt(t, "NETUTIL_LOAD_READS", 1000)
	s := startSidecar(t, sidecarOptions{})
	sets := cpusets(t, "0", "1")
	fresh := s.usage(t)

	// runAll runs every reader with n reads and returns the failures.
	runAll := func(n int) (failed int32) {
		// A generous bound against a hang: 3 ms per read of the whole run (64
		// readers on 2 cores manage about 0.3 ms), plus a minute.
		timeout := time.Minute + time.Duration(readers*n)*3*time.Millisecond
		var wg sync.WaitGroup
		for i := range readers {
			wg.Go(func() {
				id := fmt.Sprintf("NETUTIL_LOAD_ID_%d", i)
				cmd := readerCmd(t, timeout, "load", s.Mnt, readsEnv+"="+strconv.Itoa(n),
					cpusetEnv+"="+sets[i%2], wantCPUEnv+"="+strconv.Itoa(i%2)+"\n",
					varEnv+"=X", "X=reader-"+strconv.Itoa(i)+"-of-"+strconv.Itoa(readers),
					id+"=1", absentEnv+"="+fmt.Sprintf("NETUTIL_LOAD_ID_%d", (i+1)%readers))
				if out, err := cmd.CombinedOutput(); err != nil {
					if atomic.AddInt32(&failed, 1) <= 5 {
						t.Errorf("reader %d: %v\n%s", i, err, out)
					}
				}
			})
		}
		wg.Wait()
		return failed
	}

	// A short run first, at full concurrency: the runtime's threads and
	// heap grow once to what this concurrency needs. Growth after the
	// second, long run is what would be a leak.
	if failed := runAll(60); failed > 0 {
		t.Fatalf("%d of %d readers failed the warm-up", failed, readers)
	}
	before := s.settledUsage(t, nil)
	start := time.Now()
	failed := runAll(reads)
	elapsed := time.Since(start)
	after := s.settledUsage(t, &before)
	total := readers * reads
	t.Logf("%d readers × %d reads = %d reads in %v (%.0f reads/s), %d readers failed", readers, reads, total,
		elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), failed)
	t.Logf("sidecar fresh: %v; after warm-up: %v; after the run: %v", fresh, before, after)
	if failed > 0 {
		t.Errorf("%d of %d readers failed; want zero errors", failed, readers)
	}
	if after.fds > before.fds {
		t.Errorf("sidecar open fds grew from %d to %d:\nbefore: %s\nafter:  %s", before.fds, after.fds, before.fdTargets, after.fdTargets)
	}
	if after.threads > before.threads+8 {
		t.Errorf("sidecar threads grew from %d to %d (allowed +8)", before.threads, after.threads)
	}
	if after.rssKiB > before.rssKiB+16*1024 {
		t.Errorf("sidecar RSS grew from %.1f to %.1f MiB (allowed +16 MiB)", float64(before.rssKiB)/1024, float64(after.rssKiB)/1024)
	}
	select {
	case <-s.Done:
		t.Fatalf("sidecar exited: %v", s.Cmd.ProcessState)
	default:
	}
}

// settledUsage measures the sidecar once it is idle: it polls for up to
// 3 s for the fds to come back to base's (if given) and the figures to
// stop changing, and returns the last measurement either way.
func (s *sidecar) settledUsage(t *testing.T, base *usage) usage {
	t.Helper()
	last := s.usage(t)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		u := s.usage(t)
		if u == last && (base == nil || u.fds <= base.fds) {
			return u
		}
		last = u
	}
	return last
}
