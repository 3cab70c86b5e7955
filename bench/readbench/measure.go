package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// kind says which yardstick a file of the mount is held against.
type kind int

const (
	shared    kind = iota // the same bytes for every reader: ≤ 1.5x tmpfs
	perReader             // bytes computed for the caller: ≤ 0.5x lxcfs
)

func (k kind) String() string {
	if k == shared {
		return "shared"
	}
	return "per-reader"
}

// kindOf classifies a path of the mount as the lead's design does: cpu and
// env/* depend on who reads, everything else is shared.
func kindOf(rel string) kind {
	if rel == "cpu" || strings.HasPrefix(rel, "env/") {
		return perReader
	}
	return shared
}

// target is one file of the mount and its tmpfs copy.
type target struct {
	rel  string // path inside the mount, e.g. networks/0/ips
	path string // absolute path in the mount
	copy string // absolute path of the tmpfs copy with the same bytes
	kind kind
	size int
}

// targetSet is every file the run times.
type targetSet struct {
	mount []target
	lxcfs string // lxcfs's proc/uptime, or ""
	// tmpfsOnly is set when no sidecar runs: the copies come from the sample
	// podinfo, not from the mount, and the mount column stays empty.
	tmpfsOnly bool
}

func (t targetSet) all() []string {
	var out []string
	for _, m := range t.mount {
		if !t.tmpfsOnly {
			out = append(out, m.path)
		}
		out = append(out, m.copy)
	}
	if t.lxcfs != "" {
		out = append(out, t.lxcfs)
	}
	return out
}

func (t targetSet) find(rel string) (target, bool) {
	for _, m := range t.mount {
		if m.rel == rel {
			return m, true
		}
	}
	return target{}, false
}

// prepareTargets reads each file of the mount as this process sees it and
// writes a tmpfs file with the same bytes beside it.
func (b *bench) prepareTargets(lxcfsFile string) (targetSet, error) {
	ts := targetSet{lxcfs: lxcfsFile, tmpfsOnly: b.c.skipSidecar}
	for _, rel := range b.c.files {
		t := target{
			rel:  rel,
			path: filepath.Join(b.mnt, rel),
			// The same relative path, so the path walk is as long.
			copy: filepath.Join(b.copies, rel),
			kind: kindOf(rel),
		}
		var content []byte
		if b.c.skipSidecar {
			// No sidecar: a stand-in of plausible size, so the tmpfs and
			// lxcfs columns can be tried on their own.
			content = []byte("10.244.1.17\n")
		} else {
			var err error
			content, err = os.ReadFile(t.path)
			if err != nil {
				return ts, fmt.Errorf("read %s from the mount: %w", rel, err)
			}
		}
		if rel == "env/HOME" && !b.c.skipSidecar {
			if home := os.Getenv("HOME"); !bytes.Contains(content, []byte(home)) {
				b.logf("warning: env/HOME reads %q but this reader's HOME is %q", content, home)
			}
		}
		t.size = len(content)
		if err := os.MkdirAll(filepath.Dir(t.copy), 0o755); err != nil {
			return ts, fmt.Errorf("create tmpfs copy dir: %w", err)
		}
		if err := os.WriteFile(t.copy, content, 0o644); err != nil {
			return ts, fmt.Errorf("write tmpfs copy of %s: %w", rel, err)
		}
		ts.mount = append(ts.mount, t)
	}
	return ts, nil
}

// reader opens, reads to EOF and closes one file with raw system calls, so
// that the figure is the filesystem's and not Go's (os.Open would also try to
// register the descriptor with epoll). The buffer is as large as cat's.
type reader struct {
	buf []byte
}

func newReader() *reader { return &reader{buf: make([]byte, 128<<10)} }

// cpath is a NUL-terminated path, converted once outside the timed loop.
type cpath struct {
	p    *byte
	name string
}

func newCPath(name string) (cpath, error) {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return cpath{}, fmt.Errorf("path %q: %w", name, err)
	}
	return cpath{p: p, name: name}, nil
}

// readOnce is one open-read-to-EOF-close; it returns the bytes read.
func (r *reader) readOnce(c cpath) (int, error) {
	atFDCWD := -100
	fd, _, e := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(c.p)),
		uintptr(syscall.O_RDONLY|syscall.O_CLOEXEC), 0, 0, 0)
	if e != 0 {
		return 0, &os.PathError{Op: "open", Path: c.name, Err: e}
	}
	total := 0
	for {
		// Append while the bytes fit in half the buffer (readAll keeps
		// them), then reuse the second half.
		off := min(total, len(r.buf)/2)
		n, _, e := syscall.Syscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&r.buf[off])), uintptr(len(r.buf)-off))
		if e != 0 {
			_, _, _ = syscall.Syscall(syscall.SYS_CLOSE, fd, 0, 0)
			return total, &os.PathError{Op: "read", Path: c.name, Err: e}
		}
		if n == 0 {
			break
		}
		total += int(n)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_CLOSE, fd, 0, 0); e != 0 {
		return total, &os.PathError{Op: "close", Path: c.name, Err: e}
	}
	return total, nil
}

// stats summarises latency samples in nanoseconds.
type stats struct {
	n                int
	median, p90, max float64
	err              error
}

func summarise(samples []int64) stats {
	if len(samples) == 0 {
		return stats{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return stats{n: len(s), median: quantile(s, 0.5), p90: quantile(s, 0.9), max: float64(s[len(s)-1])}
}

// quantile interpolates linearly between the two nearest ranks of sorted.
func quantile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(pos)
	if lo >= len(sorted)-1 {
		return float64(sorted[len(sorted)-1])
	}
	frac := pos - float64(lo)
	return float64(sorted[lo])*(1-frac) + float64(sorted[lo+1])*frac
}

// measureLatency times single open-read-close operations of every file, in
// rounds that visit each file in turn, on one locked OS thread.
func (b *bench) measureLatency(ctx context.Context, ts targetSet) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	files := ts.all()
	paths := make([]cpath, len(files))
	for i, f := range files {
		var err error
		if paths[i], err = newCPath(f); err != nil {
			return err
		}
	}
	r := newReader()
	samples := make([][]int64, len(files))
	errs := make([]error, len(files))
	const rounds = 5
	slice := b.c.latencyTime / rounds
	perRound := b.c.latencyMax / rounds
	for i, p := range paths { // warm up: first LOOKUPs, page cache
		for range 200 {
			if _, err := r.readOnce(p); err != nil {
				errs[i] = err
				break
			}
		}
	}
	for range rounds {
		for i, p := range paths {
			if errs[i] != nil {
				continue
			}
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("interrupted: %w", err)
			}
			end := time.Now().Add(slice)
			for n := 0; n < perRound; n++ {
				t0 := time.Now()
				_, err := r.readOnce(p)
				t1 := time.Now()
				if err != nil {
					errs[i] = err
					break
				}
				samples[i] = append(samples[i], t1.Sub(t0).Nanoseconds())
				if t1.After(end) {
					break
				}
			}
		}
	}
	got := map[string]stats{}
	for i, f := range files {
		s := summarise(samples[i])
		s.err = errs[i]
		got[f] = s
	}
	b.report.latency(ts, got)
	return errors.Join(errs...)
}

// measureThroughput counts reads per second of N concurrent reader processes.
func (b *bench) measureThroughput(ctx context.Context, ts targetSet) error {
	var errs []error
	type column struct {
		label, path string
	}
	var cols []column
	for _, rel := range b.c.tputFiles {
		t, ok := ts.find(rel)
		if !ok {
			return fmt.Errorf("-tput-files: %s is not among -files", rel)
		}
		if !ts.tmpfsOnly {
			cols = append(cols, column{rel, t.path})
		}
		cols = append(cols, column{"tmpfs:" + rel, t.copy})
	}
	if ts.lxcfs != "" {
		cols = append(cols, column{"lxcfs", ts.lxcfs})
	}
	// Each column is measured in several rounds, in reversed order every
	// other round, and keeps its best: a burst of other work on the machine
	// then hits one round, not one column.
	results := map[string]map[int]float64{}
	for _, n := range b.c.tputReaders {
		b.logf("reads/s with %d concurrent readers, best of %d rounds", n, b.c.tputRounds)
		for round := range b.c.tputRounds {
			for i := range cols {
				col := cols[i]
				if round%2 == 1 {
					col = cols[len(cols)-1-i]
				}
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("interrupted: %w", err)
				}
				res, err := b.runReaders(ctx, n, []string{col.path}, 0, b.c.tputTime)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s with %d readers: %w", col.label, n, err))
					continue
				}
				if results[col.label] == nil {
					results[col.label] = map[int]float64{}
				}
				results[col.label][n] = max(results[col.label][n], float64(res.ops)/res.wall.Seconds())
			}
		}
	}
	b.report.throughput(ts, b.c.tputFiles, b.c.tputReaders, results)
	if err := b.measureMixedReaders(ctx, ts, results); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// measureMixedReaders has two readers with different HOME read env/HOME at
// once: every per-reader open then finds the kernel's dentry pointing at the
// other reader's inode. Each reader checks it only ever reads its own HOME.
func (b *bench) measureMixedReaders(ctx context.Context, ts targetSet, res map[string]map[int]float64) error {
	t, ok := ts.find("env/HOME")
	if !ok || ts.tmpfsOnly {
		return nil
	}
	const n = 2
	b.logf("reads/s of env/HOME with %d readers whose HOME differs", n)
	who := func(i int) (string, []byte) {
		home := fmt.Sprintf("/home/reader%d", i)
		return "HOME=" + home, []byte(home + "\n")
	}
	var got float64 // best reads/s over the rounds
	var ops int64   // all reads, for requests per read
	read := func() error {
		for range b.c.tputRounds {
			out, err := b.runReadersAs(ctx, n, []string{t.path}, 0, b.c.tputTime, who)
			if err != nil {
				return err
			}
			ops += out.ops
			got = max(got, float64(out.ops)/out.wall.Seconds())
		}
		return nil
	}
	var err error
	if rc, rcErr := newRequestCounter(); rcErr == nil {
		var counts map[string]int
		counts, err = rc.count(t.path, read)
		if err == nil && ops > 0 {
			b.report.requests["mixed"] = formatRequests(counts, int(ops))
		}
		if cerr := rc.close(); cerr != nil {
			b.logf("%v", cerr)
		}
	} else {
		err = read()
	}
	same, haveSame := res["env/HOME"][n]
	lx, haveLx := res["lxcfs"][n]
	b.report.mixed(n, got, same, haveSame, lx, haveLx, err)
	if err != nil {
		return fmt.Errorf("env/HOME with readers of different HOME: %w", err)
	}
	return nil
}

// readersResult adds up what the reader processes did.
type readersResult struct {
	ops  int64
	wall time.Duration // the longest reader's own measured time
}

const workerArg = "-reader-process"

// runReaders starts n reader processes that begin together and read files in
// turn, each until it has done count reads (when count > 0) or for d.
func (b *bench) runReaders(ctx context.Context, n int, files []string, count int64, d time.Duration) (readersResult, error) {
	return b.runReadersAs(ctx, n, files, count, d, nil)
}

// readerIdentity sets, for reader i, one extra environment variable and
// the bytes that reader must read (nil: any).
type readerIdentity func(i int) (env string, expect []byte)

// runReadersAs is runReaders where each reader can differ in environment and
// checks every read returns its own content.
func (b *bench) runReadersAs(ctx context.Context, n int, files []string, count int64, d time.Duration, who readerIdentity) (readersResult, error) {
	startAt := time.Now().Add(150*time.Millisecond + time.Duration(n)*10*time.Millisecond)
	type out struct {
		ops  int64
		wall time.Duration
		err  error
	}
	outs := make([]out, n)
	var wg sync.WaitGroup
	for i := range n {
		per := count / int64(n)
		if count > 0 && i < int(count%int64(n)) {
			per++
		}
		cmd := exec.CommandContext(ctx, b.self, workerArg,
			"-files", strings.Join(files, "\n"),
			"-start-at", strconv.FormatInt(startAt.UnixNano(), 10),
			"-duration", d.String(),
			"-count", strconv.FormatInt(per, 10))
		if who != nil {
			env, expect := who(i)
			cmd.Env = append(os.Environ(), env)
			cmd.Args = append(cmd.Args, "-expect", string(expect))
		}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			return readersResult{}, fmt.Errorf("start reader process: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := cmd.Wait(); err != nil {
				outs[i].err = fmt.Errorf("reader process: %w: %s", err, strings.TrimSpace(stderr.String()))
				return
			}
			var ns int64
			if _, err := fmt.Sscanf(stdout.String(), "ops=%d ns=%d", &outs[i].ops, &ns); err != nil {
				outs[i].err = fmt.Errorf("reader process said %q: %w", stdout.String(), err)
			}
			outs[i].wall = time.Duration(ns)
		}()
	}
	wg.Wait()
	var res readersResult
	var errs []error
	for _, o := range outs {
		res.ops += o.ops
		res.wall = max(res.wall, o.wall)
		if o.err != nil {
			errs = append(errs, o.err)
		}
	}
	return res, errors.Join(errs...)
}

// workerMain is a reader process: it waits for the agreed start, reads its
// files in turn until its count or duration is reached, and prints
// "ops=N ns=T".
func workerMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("reader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	files := fs.String("files", "", "newline-separated files to read in turn")
	startAt := fs.Int64("start-at", 0, "unix nanoseconds to start at")
	d := fs.Duration("duration", time.Second, "how long to read (when count is 0, or as a deadline)")
	count := fs.Int64("count", 0, "how many reads to do (0: read for the duration)")
	expect := fs.String("expect", "", "fail unless every read returns these bytes (empty: no check)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	runtime.LockOSThread()
	var paths []cpath
	for _, f := range strings.Split(*files, "\n") {
		p, err := newCPath(f)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		paths = append(paths, p)
	}
	time.Sleep(time.Until(time.Unix(0, *startAt)))
	r := newReader()
	t0 := time.Now()
	end := t0.Add(*d)
	var ops int64
	for {
		for _, p := range paths {
			n, err := r.readOnce(p)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			if *expect != "" && (n > len(r.buf)/2 || string(r.buf[:n]) != *expect) {
				fmt.Fprintf(stderr, "%s: read %q, want %q (another reader's content?)\n", p.name, r.buf[:min(n, len(r.buf)/2)], *expect)
				return 1
			}
			ops++
		}
		if *count > 0 && ops >= *count {
			break
		}
		if ops%16 == 0 || *count == 0 {
			if time.Now().After(end) {
				break
			}
		}
	}
	fmt.Fprintf(stdout, "ops=%d ns=%d\n", ops, time.Since(t0).Nanoseconds())
	return 0
}

// vmHWM returns the peak resident set size of a process, in bytes.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	defer f.Close()
	return parseVMHWM(f)
}

// parseVMHWM finds the VmHWM line of a /proc/<pid>/status file.
func parseVMHWM(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("unexpected VmHWM line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM %q: %w", fields[0], err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read status: %w", err)
	}
	return 0, errors.New("no VmHWM line in status")
}

// measureRSS has reader processes do rssReads reads over every file of the
// mount, then takes the sidecar's VmHWM.
func (b *bench) measureRSS(ctx context.Context, ts targetSet) error {
	var files []string
	for _, t := range ts.mount {
		files = append(files, t.path)
	}
	before, err := vmHWM(b.car.pid())
	if err != nil {
		return err
	}
	b.logf("%d reads over %d files with %d readers, then the sidecar's VmHWM", b.c.rssReads, len(files), b.c.rssReaders)
	t0 := time.Now()
	res, err := b.runReaders(ctx, b.c.rssReaders, files, int64(b.c.rssReads), b.c.rssDeadline)
	took := time.Since(t0)
	if err != nil {
		b.report.rss(0, before, res.ops, took, err)
		return err
	}
	after, err := vmHWM(b.car.pid())
	b.report.rss(after, before, res.ops, took, err)
	return err
}
