// Command readbench measures what a reader of netutil-fs pays, beside the
// two yardsticks issue 4 names: a tmpfs file with the same bytes (what a
// Downward API file costs) and lxcfs's /proc/uptime (the nearest FUSE peer
// that generates files per reader). It prints one table with, for every row,
// the target, the measured value and whether the target was met.
//
// bench/run.sh prepares the machine (lxcfs, a tmpfs) and calls it; run it by
// hand as root with:
//
//	readbench -bin bin/netutil-fs -annotations bench/testdata/annotations \
//	    -work /some/tmpfs/dir -lxcfs /lxcfs/mountpoint
//
// Numbers never make it fail: it exits non-zero only when something could not
// be measured at all (the mount did not come up, a read failed).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is what the flags say.
type config struct {
	bin         string
	annotations string
	work        string
	lxcfs       string
	sidecarArgs []string
	files       []string

	readyRuns    int
	swapRuns     int
	rssReads     int
	rssReaders   int
	rssDeadline  time.Duration
	latencyTime  time.Duration
	latencyMax   int
	tputTime     time.Duration
	tputReaders  []int
	tputRounds   int
	tputFiles    []string
	logDir       string
	skip         map[string]bool
	skipSidecar  bool
	readyTimeout time.Duration
}

// parseArgs turns the command line into a config.
func parseArgs(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("readbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.bin, "bin", "bin/netutil-fs", "the sidecar binary to measure (empty: measure only tmpfs and lxcfs)")
	fs.StringVar(&c.annotations, "annotations", "bench/testdata/annotations", "a Downward API annotations file in kubelet format, with network-status")
	fs.StringVar(&c.work, "work", "", "a directory on tmpfs for the podinfo volume, the tmpfs copies and the mountpoint (required)")
	fs.StringVar(&c.lxcfs, "lxcfs", "", "a mounted lxcfs; its proc/uptime is the per-reader yardstick (empty: no lxcfs column)")
	sidecarArgs := fs.String("sidecar-args", "", "extra arguments for the sidecar, space-separated (e.g. -v=4 to count FUSE opcodes in its log)")
	files := fs.String("files", "networks/0/ips,networks/1/pci,cpu,env/HOME", "files of the mount to time, comma-separated; the first two are shared, the rest per-reader unless -per-reader says otherwise")
	fs.IntVar(&c.readyRuns, "ready-runs", 9, "how many times to start the sidecar to time exec-to-ready")
	fs.IntVar(&c.swapRuns, "swap-runs", 20, "how many annotation swaps to time")
	fs.IntVar(&c.rssReads, "rss-reads", 1000000, "reads before the sidecar's peak RSS is taken")
	fs.IntVar(&c.rssReaders, "rss-readers", 2, "concurrent reader processes for the RSS reads")
	fs.DurationVar(&c.rssDeadline, "rss-deadline", 150*time.Second, "stop the RSS reads after this long and report how many were done")
	fs.DurationVar(&c.latencyTime, "latency-time", 1500*time.Millisecond, "time spent sampling each file's latency")
	fs.IntVar(&c.latencyMax, "latency-samples", 30000, "at most this many latency samples per file")
	fs.DurationVar(&c.tputTime, "tput-time", time.Second, "duration of each reads/s measurement")
	fs.IntVar(&c.tputRounds, "tput-rounds", 2, "rounds of each reads/s measurement; the best is kept")
	readers := fs.String("tput-readers", "1,2,8", "concurrent reader processes for reads/s, comma-separated")
	tputFiles := fs.String("tput-files", "networks/0/ips,env/HOME", "files of the mount to measure reads/s on")
	fs.StringVar(&c.logDir, "log-dir", "", "keep the sidecar logs in this directory (default: removed with the work dir)")
	skip := fs.String("skip", "", "phases to leave out, comma-separated: latency, tput, swap, rss (for quick looks; the sidecar still starts -ready-runs times)")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 10*time.Second, "give up on a sidecar that is not serving after this long")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() != 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.work == "" {
		return c, errors.New("-work is required")
	}
	c.skipSidecar = c.bin == ""
	c.sidecarArgs = strings.Fields(*sidecarArgs)
	c.skip = map[string]bool{}
	for _, p := range splitList(*skip) {
		switch p {
		case "latency", "tput", "swap", "rss":
			c.skip[p] = true
		default:
			return c, fmt.Errorf("-skip: unknown phase %q", p)
		}
	}
	c.files = splitList(*files)
	c.tputFiles = splitList(*tputFiles)
	for _, r := range splitList(*readers) {
		var n int
		if _, err := fmt.Sscanf(r, "%d", &n); err != nil || n < 1 {
			return c, fmt.Errorf("-tput-readers: bad count %q", r)
		}
		c.tputReaders = append(c.tputReaders, n)
	}
	if c.readyRuns < 1 || c.swapRuns < 1 || c.rssReaders < 1 || c.tputRounds < 1 {
		return c, errors.New("-ready-runs, -swap-runs, -rss-readers and -tput-rounds must be at least 1")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == workerArg {
		os.Exit(workerMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	c, err := parseArgs(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "readbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "readbench:", err)
		os.Exit(1)
	}
}

// run measures everything and prints the table. It returns an error when a
// measurement could not be taken; the table is printed in any case.
func run(ctx context.Context, c config, stdout, progress io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable for reader processes: %w", err)
	}
	if err := requireFSType(c.work, tmpfsMagic, "tmpfs"); err != nil {
		return fmt.Errorf("-work: %w", err)
	}
	b := &bench{c: c, self: self, progress: progress, report: newReport()}
	b.report.header = environmentLine(c)
	defer b.cleanup()
	err = b.measure(ctx)
	b.report.print(stdout)
	return err
}

// bench holds the state of one run.
type bench struct {
	c        config
	self     string
	progress io.Writer
	report   *report

	podinfo *kubeletVolume
	mnt     string
	copies  string
	car     *sidecar
	logs    []string
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.progress, "readbench: "+format+"\n", args...)
}

func (b *bench) cleanup() {
	if b.car != nil {
		if err := b.car.stop(); err != nil {
			b.logf("stopping the sidecar: %v", err)
		}
	}
	if b.c.logDir != "" && len(b.logs) > 0 {
		b.logf("sidecar logs kept in %s", b.c.logDir)
	}
}

// measure runs every phase in order. A failed phase is recorded in the table
// and later phases that do not depend on it still run.
func (b *bench) measure(ctx context.Context) error {
	var errs []error
	fail := func(what string, err error) {
		b.logf("%s: %v", what, err)
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
	}
	interrupted := func() bool {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("interrupted: %w", ctx.Err()))
			return true
		}
		return false
	}

	lxcfsFile := ""
	if b.c.lxcfs != "" {
		lxcfsFile = filepath.Join(b.c.lxcfs, "proc", "uptime")
		if err := requireFSType(lxcfsFile, fuseMagic, "fuse"); err != nil {
			fail("lxcfs", err)
			lxcfsFile = ""
		}
	}

	b.mnt = filepath.Join(b.c.work, "mnt")
	b.copies = filepath.Join(b.c.work, "copies")
	for _, d := range []string{b.mnt, b.copies} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	ann, err := os.ReadFile(b.c.annotations)
	if err != nil {
		return fmt.Errorf("read sample annotations: %w", err)
	}
	b.podinfo, err = newKubeletVolume(filepath.Join(b.c.work, "podinfo"), map[string][]byte{"annotations": ann})
	if err != nil {
		return fmt.Errorf("write sample podinfo volume: %w", err)
	}

	// Phase 1: exec to mount ready, several cold starts; the last sidecar
	// stays up for the other phases.
	if !b.c.skipSidecar {
		if err := b.measureReady(ctx); err != nil {
			fail("mount ready", err)
			return errors.Join(errs...)
		}
	}

	// Phase 2: the tmpfs copies, with the bytes this process reads.
	targets, err := b.prepareTargets(lxcfsFile)
	if err != nil {
		fail("prepare files", err)
		return errors.Join(errs...)
	}

	// Phase 3: FUSE requests and sidecar CPU per read, then latency,
	// interleaved so that drift hits every column alike.
	if err := b.measureRequests(targets); err != nil {
		fail("FUSE requests", err)
	}
	if !b.c.skip["latency"] {
		b.logf("timing open+read+close of %d files, %s each", len(targets.all()), b.c.latencyTime)
		if err := b.measureLatency(ctx, targets); err != nil {
			fail("latency", err)
		}
	}

	if interrupted() {
		return errors.Join(errs...)
	}
	// Phase 4: reads/s with concurrent reader processes.
	if !b.c.skip["tput"] {
		if err := b.measureThroughput(ctx, targets); err != nil {
			fail("reads/s", err)
		}
	}

	if interrupted() {
		return errors.Join(errs...)
	}
	if !b.c.skipSidecar {
		// Phase 5: annotation swaps.
		if !b.c.skip["swap"] {
			if err := b.measureSwap(ctx); err != nil {
				fail("annotation swap", err)
			}
		}
		if interrupted() {
			return errors.Join(errs...)
		}
		// Phase 6: peak RSS after many reads.
		if !b.c.skip["rss"] {
			if err := b.measureRSS(ctx, targets); err != nil {
				fail("peak RSS", err)
			}
		}
	}
	return errors.Join(errs...)
}
