package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sorted []int64
		q      float64
		want   float64
	}{
		{"empty", nil, 0.5, 0},
		{"one", []int64{7}, 0.5, 7},
		{"odd median", []int64{1, 2, 3}, 0.5, 2},
		{"even median interpolates", []int64{1, 2, 3, 4}, 0.5, 2.5},
		{"max", []int64{1, 2, 3, 4}, 1, 4},
		{"p90", []int64{0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100}, 0.9, 90},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := quantile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("quantile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	t.Parallel()
	s := summarise([]int64{5, 1, 3})
	if s.n != 3 || s.median != 3 || s.max != 5 {
		t.Errorf("summarise = %+v, want n=3 median=3 max=5", s)
	}
}

func TestFormatInt(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.4: "1,234,567", 227554.6: "227,555", -1500: "-1,500"} {
		if got := formatInt(in); got != want {
			t.Errorf("formatInt(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseVMHWM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{"present", "Name:\tnetutil-fs\nVmPeak:\t 1000 kB\nVmHWM:\t   14952 kB\nVmRSS:\t 14000 kB\n", 14952 << 10, false},
		{"missing", "Name:\tkthreadd\n", 0, true},
		{"bad unit", "VmHWM:\t 12 MB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseVMHWM(strings.NewReader(tt.status))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseVMHWM = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestVMHWMOfSelf(t *testing.T) {
	t.Parallel()
	got, err := vmHWM(os.Getpid())
	if err != nil || got <= 0 {
		t.Errorf("vmHWM(self) = %d, %v; want a positive size", got, err)
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	for rel, want := range map[string]kind{"cpu": perReader, "env/HOME": perReader, "networks/0/ips": shared, "networks/1/pci": shared, "envy": shared} {
		if got := kindOf(rel); got != want {
			t.Errorf("kindOf(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestFormatRequests(t *testing.T) {
	t.Parallel()
	if got, want := formatRequests(nil, 1000), "0.00 FUSE req/read"; got != want {
		t.Errorf("no requests: %q, want %q", got, want)
	}
	got := formatRequests(map[string]int{"READ": 2000, "OPEN": 1000, "FLUSH": 1000}, 1000)
	if want := "4.00 FUSE req/read (READ 2.00, FLUSH 1.00, OPEN 1.00)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestKubeletVolume checks the layout the kubelet's AtomicWriter leaves and
// that an update swaps it atomically and removes the old directory.
func TestKubeletVolume(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "podinfo")
	v, err := newKubeletVolume(dir, map[string][]byte{"annotations": []byte(`a="1"`)})
	if err != nil {
		t.Fatal(err)
	}
	link, err := os.Readlink(filepath.Join(dir, "annotations"))
	if err != nil || link != "..data/annotations" {
		t.Fatalf("annotations links to %q (%v), want ..data/annotations", link, err)
	}
	first, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil || !strings.HasPrefix(first, "..") || strings.Contains(first, "/") {
		t.Fatalf("..data links to %q (%v), want a hidden sibling", first, err)
	}
	swap, err := v.prepare(map[string][]byte{"annotations": []byte(`a="2"`)})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "annotations")); string(got) != `a="1"` {
		t.Errorf("before the swap the file reads %q", got)
	}
	if err := swap(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "annotations")); string(got) != `a="2"` {
		t.Errorf("after the swap the file reads %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("old directory %s still there: %v", first, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "..data_tmp")); !os.IsNotExist(err) {
		t.Errorf("..data_tmp left behind: %v", err)
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	c, err := parseArgs([]string{"-work", "/w", "-tput-readers", "1,4", "-skip", "rss,swap", "-sidecar-args", "-v=4  --x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.tputReaders) != 2 || c.tputReaders[1] != 4 || !c.skip["rss"] || !c.skip["swap"] || len(c.sidecarArgs) != 2 {
		t.Errorf("parsed %+v", c)
	}
	if c.latencyTime != 1500*time.Millisecond || len(c.files) != 4 {
		t.Errorf("defaults: %+v", c)
	}
	for _, bad := range [][]string{
		{},
		{"-work", "/w", "-tput-readers", "0"},
		{"-work", "/w", "-skip", "everything"},
		{"-work", "/w", "extra"},
	} {
		if _, err := parseArgs(bad, io.Discard); err == nil {
			t.Errorf("parseArgs(%q) accepted", bad)
		}
	}
}

func TestReaderReadsWholeFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	want := strings.Repeat("x", 100<<10) // more than half the buffer
	if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := newCPath(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := newReader().readOnce(p)
	if err != nil || n != len(want) {
		t.Errorf("readOnce = %d, %v; want %d", n, err, len(want))
	}
	if _, err := newReader().readOnce(cpath{p: p.p, name: path}); err != nil {
		t.Error(err)
	}
	missing, _ := newCPath(path + ".missing")
	if _, err := newReader().readOnce(missing); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want not-exist", err)
	}
}

func TestWorkerCounts(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	code := workerMain([]string{"-files", path + "\n" + path, "-count", "10", "-duration", "1m"}, &out, &errOut)
	if code != 0 || !strings.HasPrefix(out.String(), "ops=10 ") {
		t.Errorf("worker: code %d, out %q, err %q", code, out.String(), errOut.String())
	}
}
