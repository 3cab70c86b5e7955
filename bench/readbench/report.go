package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Targets from issue 4.
const (
	sharedMaxVsTmpfs    = 1.5 // shared file latency ≤ 1.5x tmpfs
	perReaderMaxVsLxcfs = 0.5 // per-reader file latency ≤ 0.5x lxcfs
	rssMaxMiB           = 20
	readyMax            = 100 * time.Millisecond
	swapMax             = 100 * time.Millisecond
)

// section orders the rows of the one table the run prints.
type section int

const (
	secLatency section = iota
	secThroughput
	secRSS
	secReady
	secSwap
	nSections
)

// row is one line of the table.
type row struct {
	metric, measured, tmpfs, lxcfs, ratio, target, result, notes string
}

// report collects rows as the phases finish and prints them in order.
type report struct {
	header string
	rows   [nSections][]row
	// requests notes, per file, the FUSE requests and sidecar CPU per read.
	requests  map[string]string
	loadStart float64
}

func newReport() *report { return &report{requests: map[string]string{}, loadStart: loadAverage()} }

func (r *report) add(s section, rw row) { r.rows[s] = append(r.rows[s], rw) }

// verdict says whether ok held, or that nothing could be compared.
func verdict(measured bool, ok bool) string {
	switch {
	case !measured:
		return "n/a"
	case ok:
		return "met"
	default:
		return "MISSED"
	}
}

func (r *report) latency(ts targetSet, got map[string]stats) {
	lx, haveLx := got[ts.lxcfs]
	haveLx = haveLx && lx.err == nil && lx.n > 0
	lxStr := "-"
	if haveLx {
		lxStr = formatInt(lx.median)
	} else if ts.lxcfs != "" {
		lxStr = "error"
	}
	for _, t := range ts.mount {
		cp := got[t.copy]
		rw := row{
			metric: "open+read+close " + t.rel + " (ns, median)",
			tmpfs:  formatInt(cp.median),
			lxcfs:  lxStr,
		}
		if cp.err != nil {
			rw.tmpfs = "error"
		}
		var notes []string
		if t.kind == shared {
			rw.target = fmt.Sprintf("<= %.1fx tmpfs", sharedMaxVsTmpfs)
		} else {
			rw.target = fmt.Sprintf("<= %.1fx lxcfs", perReaderMaxVsLxcfs)
		}
		m, ok := got[t.path]
		switch {
		case ts.tmpfsOnly:
			rw.measured, rw.result = "-", "n/a"
		case m.err != nil:
			rw.measured, rw.result = "error", "n/a"
			notes = append(notes, m.err.Error())
		case ok && m.n > 0:
			rw.measured = formatInt(m.median)
			notes = append(notes, fmt.Sprintf("p90 %s, n=%d, %d B", formatInt(m.p90), m.n, t.size))
			if req := r.requests[t.path]; req != "" {
				notes = append(notes, req)
			}
			if t.kind == shared && cp.err == nil && cp.n > 0 {
				q := m.median / cp.median
				rw.ratio = fmt.Sprintf("%.2fx tmpfs", q)
				rw.result = verdict(true, q <= sharedMaxVsTmpfs)
			} else if t.kind == perReader && haveLx {
				q := m.median / lx.median
				rw.ratio = fmt.Sprintf("%.2fx lxcfs", q)
				rw.result = verdict(true, q <= perReaderMaxVsLxcfs)
				notes = append(notes, fmt.Sprintf("%.2fx tmpfs", m.median/cp.median))
			} else {
				rw.result = "n/a"
			}
		}
		rw.notes = strings.Join(notes, "; ")
		r.add(secLatency, rw)
	}
	if haveLx {
		r.add(secLatency, row{
			metric: "open+read+close lxcfs proc/uptime (ns, median)", measured: "-", tmpfs: "-", lxcfs: formatInt(lx.median),
			target: "reference", result: "-", notes: strings.TrimSuffix(fmt.Sprintf("p90 %s, n=%d; %s", formatInt(lx.p90), lx.n, r.requests[ts.lxcfs]), "; "),
		})
	} else if l, ok := got[ts.lxcfs]; ok && l.err != nil {
		r.add(secLatency, row{metric: "open+read+close lxcfs proc/uptime", measured: "error", result: "n/a", notes: l.err.Error()})
	}
}

func (r *report) throughput(ts targetSet, files []string, readers []int, res map[string]map[int]float64) {
	for _, rel := range files {
		k := kindOf(rel)
		for _, n := range readers {
			rw := row{metric: fmt.Sprintf("reads/s %s, %d reader%s", rel, n, plural(n))}
			nu, haveNu := res[rel][n]
			tm, haveTm := res["tmpfs:"+rel][n]
			lx, haveLx := res["lxcfs"][n]
			rw.measured, rw.tmpfs, rw.lxcfs = "-", "-", "-"
			if haveNu {
				rw.measured = formatInt(nu)
			} else if !ts.tmpfsOnly {
				rw.measured = "error"
			}
			if haveTm {
				rw.tmpfs = formatInt(tm)
			}
			if haveLx {
				rw.lxcfs = formatInt(lx)
			}
			switch k {
			case shared:
				rw.target = fmt.Sprintf(">= %.2fx tmpfs", 1/sharedMaxVsTmpfs)
				if haveNu && haveTm {
					q := nu / tm
					rw.ratio = fmt.Sprintf("%.2fx tmpfs", q)
					rw.result = verdict(true, q >= 1/sharedMaxVsTmpfs)
				}
			default:
				rw.target = fmt.Sprintf(">= %.1fx lxcfs", 1/perReaderMaxVsLxcfs)
				if haveNu && haveLx {
					q := nu / lx
					rw.ratio = fmt.Sprintf("%.2fx lxcfs", q)
					rw.result = verdict(true, q >= 1/perReaderMaxVsLxcfs)
				}
			}
			if rw.result == "" {
				rw.result = "n/a"
			}
			r.add(secThroughput, rw)
		}
	}
}

func (r *report) mixed(n int, got, same float64, haveSame bool, lx float64, haveLx bool, err error) {
	rw := row{
		metric: fmt.Sprintf("reads/s env/HOME, %d readers, each its own HOME", n),
		tmpfs:  "-", lxcfs: "-",
		target: fmt.Sprintf(">= %.1fx lxcfs", 1/perReaderMaxVsLxcfs),
		result: "n/a",
	}
	if haveLx {
		rw.lxcfs = formatInt(lx)
	}
	if err != nil {
		rw.measured, rw.notes = "error", err.Error()
		r.add(secThroughput, rw)
		return
	}
	rw.measured = formatInt(got)
	if haveLx {
		q := got / lx
		rw.ratio = fmt.Sprintf("%.2fx lxcfs", q)
		rw.result = verdict(true, q >= 1/perReaderMaxVsLxcfs)
	}
	rw.notes = "every read checked to be the reader's own"
	if haveSame && same > 0 {
		rw.notes += fmt.Sprintf("; %.2fx the same-HOME figure", got/same)
	}
	if req := r.requests["mixed"]; req != "" {
		rw.notes += "; " + req
	}
	r.add(secThroughput, rw)
}

func (r *report) rss(after, before, reads int64, took time.Duration, err error) {
	rw := row{
		metric: fmt.Sprintf("sidecar peak RSS (VmHWM) after %s reads (MiB)", formatInt(float64(reads))),
		tmpfs:  "-", lxcfs: "-",
		target: fmt.Sprintf("<= %d MiB", rssMaxMiB),
	}
	if err != nil {
		rw.measured, rw.result, rw.notes = "error", "n/a", err.Error()
	} else {
		mib := float64(after) / (1 << 20)
		rw.measured = fmt.Sprintf("%.1f", mib)
		rw.result = verdict(true, mib <= rssMaxMiB)
		rw.notes = fmt.Sprintf("%.1f MiB before; reads took %.1fs", float64(before)/(1<<20), took.Seconds())
	}
	r.add(secRSS, rw)
}

func (r *report) ready(sorted []int64, err error) {
	r.add(secReady, durationRow("exec to mount ready, first read (ms, median)", sorted, readyMax, err))
}

func (r *report) swap(samples []int64, stale int, err error) {
	rw := durationRow("annotations swap to new networks/ content (ms, median)", samples, swapMax, err)
	if stale == 0 && err == nil {
		rw.notes += "; no stale read after"
	}
	r.add(secSwap, rw)
}

func durationRow(metric string, samples []int64, target time.Duration, err error) row {
	rw := row{metric: metric, tmpfs: "-", lxcfs: "-", target: fmt.Sprintf("<= %d ms", target.Milliseconds())}
	s := summarise(samples)
	if s.n > 0 {
		ms := s.median / 1e6
		rw.measured = fmt.Sprintf("%.1f", ms)
		rw.result = verdict(true, time.Duration(s.median) <= target)
		rw.notes = fmt.Sprintf("n=%d, p90 %.1f, max %.1f", s.n, s.p90/1e6, s.max/1e6)
	}
	if err != nil {
		if rw.measured == "" {
			rw.measured, rw.result = "error", "n/a"
		}
		rw.notes = strings.TrimPrefix(rw.notes+"; "+err.Error(), "; ")
	}
	return rw
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// formatInt rounds f and groups its digits by thousands: 1234567 → 1,234,567.
func formatInt(f float64) string {
	s := strconv.FormatInt(int64(math.Round(f)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// environmentLine names the machine the figures come from.
func environmentLine(c config) string {
	var u syscall.Utsname
	kernel := "?"
	if err := syscall.Uname(&u); err == nil {
		var b strings.Builder
		for _, ch := range u.Release {
			if ch == 0 {
				break
			}
			b.WriteByte(byte(ch))
		}
		kernel = b.String()
	}
	bin := c.bin
	if bin == "" {
		bin = "none (tmpfs and lxcfs only)"
	}
	return strings.TrimSpace(fmt.Sprintf("netutil-fs read benchmark: kernel %s, %d CPUs, %s; sidecar %s %s",
		kernel, runtime.NumCPU(), runtime.Version(), bin, strings.Join(c.sidecarArgs, " ")))
}

// loadAverage returns the 1-minute load average, or -1. Other work on the
// machine shows in every figure, so the table names it.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// print writes the table with aligned columns.
func (r *report) print(w io.Writer) {
	head := row{"metric", "netutil-fs", "tmpfs", "lxcfs", "ratio", "target", "result", "notes"}
	var all []row
	for _, s := range r.rows {
		all = append(all, s...)
	}
	cells := func(x row) []string {
		return []string{x.metric, x.measured, x.tmpfs, x.lxcfs, x.ratio, x.target, x.result, x.notes}
	}
	widths := make([]int, 8)
	for _, x := range append([]row{head}, all...) {
		for i, c := range cells(x) {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	line := func(x row) {
		var b strings.Builder
		for i, c := range cells(x) {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			switch {
			case i == 7:
				b.WriteString(c)
			case i >= 1 && i <= 3: // numbers: right-aligned
				b.WriteString(pad + c + "  ")
			default:
				b.WriteString(c + pad + "  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	fmt.Fprintln(w, r.header)
	load := fmt.Sprintf("1-min load average %.2f at start, %.2f at end", r.loadStart, loadAverage())
	if max(r.loadStart, loadAverage()) > 0.5*float64(runtime.NumCPU()) {
		load += " (WARNING: other work on this machine skews every figure)"
	}
	fmt.Fprintln(w, load)
	line(head)
	total := 0
	for _, wd := range widths[:7] {
		total += wd + 2
	}
	fmt.Fprintln(w, strings.Repeat("-", total+len("notes")))
	for _, x := range all {
		line(x)
	}
	met, missed := 0, 0
	for _, x := range all {
		switch x.result {
		case "met":
			met++
		case "MISSED":
			missed++
		}
	}
	fmt.Fprintf(w, "targets: %d met, %d missed (a benchmark reports; it does not fail on a number)\n", met, missed)
}
