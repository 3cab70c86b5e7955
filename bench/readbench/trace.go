package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// requestCounter counts the FUSE requests the kernel sends for a file's
// reads, with the fuse:fuse_request_send tracepoint (Linux 6.16 and later)
// in a private tracefs instance filtered on the file's connection.
type requestCounter struct {
	dir string // the tracefs instance
}

const tracefsRoot = "/sys/kernel/tracing"

// newRequestCounter creates the tracefs instance. It fails when tracefs or
// the tracepoint is not there; the caller then reports no counts.
func newRequestCounter() (*requestCounter, error) {
	if _, err := os.Stat(filepath.Join(tracefsRoot, "events", "fuse", "fuse_request_send")); err != nil {
		return nil, fmt.Errorf("no fuse_request_send tracepoint: %w", err)
	}
	dir := filepath.Join(tracefsRoot, "instances", fmt.Sprintf("readbench-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create tracefs instance: %w", err)
	}
	return &requestCounter{dir: dir}, nil
}

func (c *requestCounter) close() error {
	_ = c.write("events/fuse/fuse_request_send/enable", "0")
	if err := os.Remove(c.dir); err != nil {
		return fmt.Errorf("remove tracefs instance: %w", err)
	}
	return nil
}

func (c *requestCounter) write(name, value string) error {
	if err := os.WriteFile(filepath.Join(c.dir, name), []byte(value+"\n"), 0o644); err != nil {
		return fmt.Errorf("tracefs %s: %w", name, err)
	}
	return nil
}

// connection returns the FUSE connection number that the tracepoint reports
// for the filesystem holding path: the kernel's dev_t, major<<20 | minor.
func connection(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	dev := st.Dev
	major := (dev >> 8) & 0xfff
	minor := (dev & 0xff) | ((dev >> 12) & 0xfff00)
	return major<<20 | minor, nil
}

var opcodeRE = regexp.MustCompile(`opcode \d+ \(FUSE_([A-Z_]+)\)`)

// count runs fn with the tracepoint enabled for the connection of path and
// returns how many requests of each opcode the kernel sent.
func (c *requestCounter) count(path string, fn func() error) (map[string]int, error) {
	conn, err := connection(path)
	if err != nil {
		return nil, err
	}
	if err := c.write("trace", ""); err != nil { // clear
		return nil, err
	}
	if err := c.write("buffer_size_kb", "8192"); err != nil {
		return nil, err
	}
	if err := c.write("events/fuse/fuse_request_send/filter", fmt.Sprintf("connection == %d", conn)); err != nil {
		return nil, err
	}
	if err := c.write("events/fuse/fuse_request_send/enable", "1"); err != nil {
		return nil, err
	}
	ferr := fn()
	if err := c.write("events/fuse/fuse_request_send/enable", "0"); err != nil {
		return nil, err
	}
	if ferr != nil {
		return nil, ferr
	}
	f, err := os.Open(filepath.Join(c.dir, "trace"))
	if err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "LOST") {
			return nil, fmt.Errorf("trace buffer overflowed: %s", line)
		}
		if m := opcodeRE.FindStringSubmatch(line); m != nil {
			counts[m[1]]++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	return counts, nil
}

// formatRequests writes counts per read, busiest opcode first:
// "2.00 req/read (LOOKUP 1.00, GETATTR 1.00)".
func formatRequests(counts map[string]int, reads int) string {
	total := 0
	names := make([]string, 0, len(counts))
	for name, n := range counts {
		total += n
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	s := fmt.Sprintf("%.2f FUSE req/read", float64(total)/float64(reads))
	if total == 0 {
		return s
	}
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, name+" "+strconv.FormatFloat(float64(counts[name])/float64(reads), 'f', 2, 64))
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

// schedStat is what /proc/<pid>/task/*/schedstat adds up to for a process.
type schedStat struct {
	cpu      time.Duration // time on CPU
	switches int64         // times a thread was scheduled in
}

// taskSched sums schedstat over all threads of pid: the first field is the
// time on CPU in nanoseconds, the third how often the thread was run.
func taskSched(pid int) (schedStat, error) {
	var total schedStat
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(tasks) == 0 {
		return total, fmt.Errorf("list threads of %d: %v", pid, err)
	}
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) < 3 {
			continue
		}
		ns, err1 := strconv.ParseInt(f[0], 10, 64)
		runs, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return total, fmt.Errorf("parse %s: %q", t, b)
		}
		total.cpu += time.Duration(ns)
		total.switches += runs
	}
	return total, nil
}

// measureRequests reads each file of the mount (and lxcfs's uptime) a
// thousand times, counting the FUSE requests that caused and, for the
// sidecar, its CPU time. The result goes into the latency rows' notes.
func (b *bench) measureRequests(ts targetSet) error {
	const reads = 1000
	rc, err := newRequestCounter()
	if err != nil {
		b.logf("not counting FUSE requests: %v", err)
		return nil
	}
	defer func() {
		if err := rc.close(); err != nil {
			b.logf("%v", err)
		}
	}()
	files := []string{}
	for _, t := range ts.mount {
		if !ts.tmpfsOnly {
			files = append(files, t.path)
		}
	}
	if ts.lxcfs != "" {
		files = append(files, ts.lxcfs)
	}
	r := newReader()
	for _, f := range files {
		p, err := newCPath(f)
		if err != nil {
			return err
		}
		for range 10 { // steady state: the first walk's LOOKUPs are not counted
			if _, err := r.readOnce(p); err != nil {
				return fmt.Errorf("read %s: %w", f, err)
			}
		}
		var s0, s1 schedStat
		counts, err := rc.count(f, func() error {
			if b.car != nil && f != ts.lxcfs {
				s0, _ = taskSched(b.car.pid())
			}
			for range reads {
				if _, err := r.readOnce(p); err != nil {
					return err
				}
			}
			if b.car != nil && f != ts.lxcfs {
				s1, _ = taskSched(b.car.pid())
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("count requests of %s: %w", f, err)
		}
		note := formatRequests(counts, reads)
		if s1.switches > 0 {
			note += fmt.Sprintf("; sidecar %s CPU ns, %.1f thread wakeups per read",
				formatInt(float64((s1.cpu-s0.cpu).Nanoseconds())/reads), float64(s1.switches-s0.switches)/reads)
		}
		b.report.requests[f] = note
	}
	return nil
}
