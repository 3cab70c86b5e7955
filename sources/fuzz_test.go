package sources_test

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/netutil-fs/netutil-fs/internal/kubelettest"
	"github.com/netutil-fs/netutil-fs/snapshot"
	"github.com/netutil-fs/netutil-fs/sources"
)

// The fuzz targets below run their seed corpora as ordinary tests under
// `go test ./sources/`; `make fuzz` (hack/fuzz.sh) runs each with -fuzz.
// Every target checks invariants of the result, not only that nothing
// panics.

// addFiles adds the content of every file matching pattern (relative to
// the package directory) to the corpus, failing when none does, so that a
// moved testdata directory cannot silently empty the corpus.
func addFiles(f *testing.F, pattern string) [][]byte {
	f.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	if len(paths) == 0 {
		f.Fatalf("no seed files match %s", pattern)
	}
	var seeds [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		seeds = append(seeds, data)
	}
	return seeds
}

func FuzzParseAnnotations(f *testing.F) {
	addFiles(f, "testdata/podinfo/*/annotations")
	for _, s := range []string{
		"",
		"\n\n\n",
		`a="b"`,
		"a=\"b\"\r\nc=\"d\"\r\n",
		`a=b`,
		`=""`,
		`a="b`,
		`a="\x00\u00e9\U0001F600\n\t\\\""`,
		"a=`raw`",
		`a='x'`,
		`a="1"` + "\n" + `a="2"`,
		`k=v="x"`,
		` spaced key ="x"`,
		"a=\"\xff\xfe\"",
		`a="` + strings.Repeat(`\n`, 100) + `"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := sources.ParseAnnotations(data)
		if err != nil {
			if m != nil {
				t.Fatalf("ParseAnnotations returned %d entries along with error %v", len(m), err)
			}
			return
		}
		if m == nil {
			t.Fatal("ParseAnnotations returned a nil map and no error")
		}
		for k := range m {
			if k == "" || strings.ContainsAny(k, "=\n") {
				t.Fatalf("key %q is empty or holds = or a newline", k)
			}
		}
		// What the kubelet would write for this map parses back to it.
		again, err := sources.ParseAnnotations([]byte(kubelettest.FormatMap(m)))
		if err != nil {
			t.Fatalf("re-rendered map does not parse: %v\n%s", err, kubelettest.FormatMap(m))
		}
		if len(again) != len(m) {
			t.Fatalf("round trip: %d entries, want %d", len(again), len(m))
		}
		for k, v := range m {
			if got, ok := again[k]; !ok || got != v {
				t.Fatalf("round trip: %q = %q (present %v), want %q", k, got, ok, v)
			}
		}
	})
}

// checkTree fails the test for anything the networks/ file contract
// forbids, and for a tree out of proportion with the input it came from.
// It returns the total size of the files' content.
func checkTree(t *testing.T, networks *snapshot.Dir, statuses []nadv1.NetworkStatus, inputLen int) {
	t.Helper()
	if networks == nil {
		t.Fatal("NetworksDir returned nil")
	}
	if networks.Len() != len(statuses) {
		t.Fatalf("networks/ has %d entries for %d statuses", networks.Len(), len(statuses))
	}
	for i, e := range networks.Entries() {
		if e.Name != strconv.Itoa(i) || !e.IsDir() {
			t.Fatalf("networks/ entry %d is %q (dir %v), want directory %d", i, e.Name, e.IsDir(), i)
		}
		// Names, whatever they hold, are content, never directory names.
		name, ok := e.Dir.Lookup("name")
		if want := statuses[i].Name; want == "" && ok {
			t.Errorf("network %d has no name but a name file %q", i, name.Content)
		} else if want != "" && name.Content != want+"\n" {
			t.Errorf("network %d name file %q, want %q", i, name.Content, want+"\n")
		}
	}
	var total int
	var walk func(prefix string, d *snapshot.Dir)
	walk = func(prefix string, d *snapshot.Dir) {
		if prefix != "" && d.Len() == 0 {
			t.Errorf("directory %s is empty", prefix)
		}
		for _, e := range d.Entries() {
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\x00") {
				t.Fatalf("entry %q in %q is not a valid path element", e.Name, prefix)
			}
			p := path.Join(prefix, e.Name)
			if e.IsDir() {
				walk(p, e.Dir)
				continue
			}
			if e.Content == "" || !strings.HasSuffix(e.Content, "\n") {
				t.Errorf("file %s holds %q: want non-empty content ending in a newline", p, e.Content)
			}
			total += len(e.Content)
		}
	}
	walk("", networks)
	// Every value comes from the input once (a PCI address at most twice,
	// as pci and device-info/pci-address) plus a newline; "{}," becomes
	// "false\n"; an invalid UTF-8 byte in a JSON string becomes U+FFFD,
	// three bytes. So 3× the input is the worst case: 4× leaves room and
	// still catches any blow-up.
	if limit := 4*inputLen + 64; total > limit {
		t.Fatalf("tree holds %d bytes of content for %d bytes of input (limit %d)", total, inputLen, limit)
	}
}

// jsonSeeds are network-status values that exercise the tree builder.
var jsonSeeds = []string{
	`[]`,
	`null`,
	`[null]`,
	`[{}]`,
	`[{},{},{}]`,
	`{}`,
	`"x"`,
	`[{"name":"a/b/../c","interface":"net1"}]`,
	`[{"name":"..","interface":"/"},{"name":".","interface":"\u0000"}]`,
	`[{"name":"x\ny","ips":["","::1","10.0.0.1"],"gateway":["<nil>",""],"mtu":-1}]`,
	`[{"name":"\ufffd\u00e9","mac":"","dns":{"nameservers":[""],"search":["a"],"options":[]}}]`,
	`[{"device-info":{"type":"pci"}}]`,
	`[{"device-info":{"type":"pci","pci":{"pci-address":"0000:3b:02.1"}}}]`,
	`[{"device-info":{"type":"vdpa","vdpa":{"pci-address":"3b:02.1","path":"/dev/vhost-vdpa-0"}}}]`,
	`[{"device-info":{"type":"vhost-user","version":"v","vhost-user":{"mode":"client","path":""}}}]`,
	`[{"device-info":{"type":"memif","memif":{"role":"slave","mode":"ip"}}}]`,
	`[{"device-info":{"type":"unknown","pci":{"pci-address":"0000:3b:02.1"}}}]`,
	`[{"device-info":null,"dns":null,"ips":null}]`,
	`[{"name":1}]`,
	`[{"mtu":1e3}]`,
	"[{\"name\":\"\xff\xff\xff\"}]",
	`[{"name":"a"},{"name":"a"}]`,
}

func FuzzNetworkStatus(f *testing.F) {
	addFiles(f, "testdata/podinfo/*/network-status")
	// The network-status values of the annotations test cases.
	for _, p := range mustGlob(f, "testdata/podinfo/*/annotations") {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if m, err := sources.ParseAnnotations(data); err == nil {
			for _, key := range []string{nadv1.NetworkStatusAnnot, sources.OldNetworkStatusAnnot} {
				if v, ok := m[key]; ok {
					f.Add([]byte(v))
				}
			}
		}
	}
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		statuses, err := sources.ParseNetworkStatus(data)
		if err != nil {
			if statuses != nil {
				t.Fatalf("ParseNetworkStatus returned %d entries along with error %v", len(statuses), err)
			}
			return
		}
		checkTree(t, sources.NetworksDir(statuses, nil), statuses, len(data))
	})
}

func FuzzNetworkStatusFromAnnotations(f *testing.F) {
	addFiles(f, "testdata/podinfo/*/annotations")
	for _, s := range jsonSeeds {
		f.Add([]byte(nadv1.NetworkStatusAnnot + "=" + strconv.Quote(s)))
		f.Add([]byte(sources.OldNetworkStatusAnnot + "=" + strconv.Quote(s) + "\na=\"b\""))
	}
	f.Add([]byte(nadv1.NetworkStatusAnnot + `="[{\"name\":\"new\"}]"` + "\n" + sources.OldNetworkStatusAnnot + `="[{\"name\":\"old\"}]"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := sources.ParseAnnotations(data)
		if err != nil {
			return
		}
		statuses, err := sources.NetworkStatusFromAnnotations(m)
		if err != nil {
			if statuses != nil {
				t.Fatalf("NetworkStatusFromAnnotations returned %d entries along with error %v", len(statuses), err)
			}
			return
		}
		// The current key wins over the old one; without either there
		// are no networks.
		value, ok := m[nadv1.NetworkStatusAnnot]
		if !ok {
			value, ok = m[sources.OldNetworkStatusAnnot]
		}
		if !ok && len(statuses) != 0 {
			t.Fatalf("%d networks without a network-status annotation", len(statuses))
		}
		if ok {
			direct, err := sources.ParseNetworkStatus([]byte(value))
			if err != nil || len(direct) != len(statuses) {
				t.Fatalf("annotation parses to %d entries (%v), NetworkStatusFromAnnotations to %d", len(direct), err, len(statuses))
			}
		}
		checkTree(t, sources.NetworksDir(statuses, nil), statuses, len(data))
	})
}

func FuzzParseEnviron(f *testing.F) {
	for _, s := range []string{
		"",
		"\x00",
		"HOME=/root\x00PATH=/bin:/usr/bin\x00",
		"A=1\x00B=2",
		"OPTS=a=b=c\x00EQ==\x00",
		"=empty\x00.=dot\x00..=dotdot\x00a/b=slash\x00/=root\x00OK=1\x00",
		"...=3\x00.a=x\x00a.=y\x00",
		"X=first\x00Y=1\x00X=second\x00",
		"JUNK\x00\x00A=1\x00",
		"V= a\tb\nc \xff\x00",
		"PCIDEVICE_INTEL_COM_SRIOV_NETDEVICE=0000:3b:02.1,0000:3b:0a.3\x00",
		"\xff\xfe=\x00é=ü\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env := sources.ParseEnviron(data)
		// The model: split at NUL, then at the first "=", keep the first
		// of each valid name.
		want := map[string]string{}
		var order []string
		for _, kv := range strings.Split(string(data), "\x00") {
			name, value, ok := strings.Cut(kv, "=")
			if !ok || name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
				continue
			}
			if _, dup := want[name]; !dup {
				want[name] = value + "\n"
				order = append(order, name)
			}
		}
		if env.Len() != len(order) {
			t.Fatalf("%d variables, want %d", env.Len(), len(order))
		}
		for i, e := range env.Entries() {
			if e.IsDir() {
				t.Fatalf("%q is a directory", e.Name)
			}
			if e.Name == "" || e.Name == "." || e.Name == ".." || strings.ContainsAny(e.Name, "/\x00=") {
				t.Fatalf("variable name %q cannot be a file name", e.Name)
			}
			if e.Name != order[i] || e.Content != want[e.Name] {
				t.Fatalf("entry %d = %q: %q, want %q: %q (first of duplicates wins, order kept)", i, e.Name, e.Content, order[i], want[order[i]])
			}
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	addFiles(f, "testdata/mountinfo/*")
	for _, s := range []string{
		"",
		" - ",
		"1 2 3 4 5 - cgroup2 x y",
		"1 2 3:4 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw",
		"1 2 3:4 /a\\040b /m\\134 rw - cgroup cgroup rw,cpuset",
		"1 2 3:4 / /m\\0 rw - cgroup cgroup cpuset",
		"1 2 3:4 / /m\\777 rw shared:1 - cgroup cgroup rw,cpu,cpuset\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := sources.ParseMountinfo(data)
		if got.V2.Dir == "" && got.V2.Root != "" || got.CpusetV1.Dir == "" && got.CpusetV1.Root != "" {
			t.Fatalf("a mount with a root but no directory: %+v", got)
		}
		if got.V2.NoCpuset || got.CpusetV1.NoCpuset {
			t.Fatalf("ParseMountinfo set NoCpuset, which only FindCgroupMounts may: %+v", got)
		}
		if got.V2.Dir != "" && !bytes.Contains(data, []byte("cgroup2")) {
			t.Fatalf("a cgroup v2 mount %+v from input without cgroup2", got.V2)
		}
		if got.CpusetV1.Dir != "" && !bytes.Contains(data, []byte("cpuset")) {
			t.Fatalf("a cpuset mount %+v from input without cpuset", got.CpusetV1)
		}
		// The first mount of each kind wins, so the same lines again
		// change nothing. (Short inputs only: the scanner's line limit
		// could otherwise end the two parses at different lines.)
		if len(data) < 1<<16 {
			doubled := append(append(append([]byte{}, data...), '\n'), data...)
			if again := sources.ParseMountinfo(doubled); again != got {
				t.Fatalf("mounts repeated: %+v, once: %+v", again, got)
			}
		}
	})
}

func FuzzParseProcCgroup(f *testing.F) {
	for _, s := range []string{
		"",
		"0::/\n",
		"9:name=systemd:/\n8:pids:/\n4:memory:/process_api/72ce\n3:cpuset:/kubepods/pod1/c1\n2:cpuacct:/\n1:cpu:/\n0::/user.slice\n",
		"0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope\n",
		"5:cpu,cpuset,cpuacct:/docker/abc\n6:memory:/docker/abc",
		"0::/../../kubepods/pod1\n3:cpuset:/../pod1\n",
		"3:cpuset:/a:b\n0::/c:d",
		"3:cpusetx:/a\n4:name=cpuset:/b\n",
		"0:name=x:/a\n",
		"garbage\n3:cpuset\n0::/ok\n",
		"0::/a\r\n0::/b\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v2, v1 := sources.ParseProcCgroup(data)
		for _, p := range []string{v2, v1} {
			if strings.Contains(p, "\n") {
				t.Fatalf("cgroup path %q holds a newline", p)
			}
		}
		if v2 != "" && !bytes.Contains(data, []byte("0::"+v2)) {
			t.Fatalf("v2 cgroup %q is not on a 0:: line", v2)
		}
		if v1 != "" && !bytes.Contains(data, []byte("cpuset")) {
			t.Fatalf("cpuset cgroup %q from input without cpuset", v1)
		}
		// The last line of each kind wins, so the same lines again change
		// nothing (short inputs only, as for mountinfo).
		if len(data) < 1<<14 {
			doubled := append(append(append([]byte{}, data...), '\n'), data...)
			if a, b := sources.ParseProcCgroup(doubled); a != v2 || b != v1 {
				t.Fatalf("lines repeated: %q, %q; once: %q, %q", a, b, v2, v1)
			}
		}
	})
}

func mustGlob(f *testing.F, pattern string) []string {
	f.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed files match %s (%v)", pattern, err)
	}
	return paths
}
