package sources_test

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/netutil-fs/netutil-fs/snapshot"
	"github.com/netutil-fs/netutil-fs/sources"
)

// snapshotFiles walks d into path → content. It fails the test for anything
// the file contract forbids: an empty directory, an empty file, a file that
// does not end with exactly one newline.
func snapshotFiles(t *testing.T, d *snapshot.Dir) map[string]string {
	t.Helper()
	files := map[string]string{}
	var walk func(prefix string, d *snapshot.Dir)
	walk = func(prefix string, d *snapshot.Dir) {
		if prefix != "" && d.Len() == 0 {
			t.Errorf("directory %s is empty", prefix)
		}
		for _, e := range d.Entries() {
			p := path.Join(prefix, e.Name)
			if e.IsDir() {
				walk(p, e.Dir)
				continue
			}
			if e.Content == "" || !strings.HasSuffix(e.Content, "\n") || strings.HasSuffix(e.Content, "\n\n") {
				t.Errorf("file %s holds %q: want non-empty content ending in one newline", p, e.Content)
			}
			files[p] = e.Content
		}
	}
	walk("", d)
	return files
}

// entryNames lists d's names in order.
func entryNames(d *snapshot.Dir) []string {
	names := []string{}
	for _, e := range d.Entries() {
		names = append(names, e.Name)
	}
	return names
}

// diffFiles reports every difference between two trees, one line each.
func diffFiles(t *testing.T, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("%s missing, want %q", k, w)
		case !wok:
			t.Errorf("%s = %q, want it absent", k, g)
		case g != w:
			t.Errorf("%s = %q, want %q", k, g, w)
		}
	}
}

// sysfsTree builds a sysfs-like tree: for each interface, class/net/<iface>
// with a device symlink to target ("" for an interface with no device link,
// as a veth has none).
func sysfsTree(t *testing.T, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for iface, target := range links {
		dir := filepath.Join(root, "class", "net", iface)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "address"), []byte("00:00:00:00:00:00\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if target != "" {
			if err := os.Symlink(target, filepath.Join(dir, "device")); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// The files of the shared entries, by network index.
func cbr0Files(i int) map[string]string {
	n := strconv.Itoa(i) + "/"
	return map[string]string{
		n + "name":      "cbr0\n",
		n + "interface": "eth0\n",
		n + "ips":       "10.244.1.17\n",
		n + "mac":       "0a:58:0a:f4:01:11\n",
		n + "default":   "true\n",
	}
}

func sriovLeftFiles(i int) map[string]string {
	n := strconv.Itoa(i) + "/"
	return map[string]string{
		n + "name":                    "dataplane/sriov-left\n",
		n + "interface":               "net1\n",
		n + "ips":                     "192.168.10.4\n",
		n + "mac":                     "7e:12:9c:40:aa:01\n",
		n + "default":                 "false\n",
		n + "pci":                     "0000:3b:02.1\n",
		n + "device-info/type":        "pci\n",
		n + "device-info/version":     "1.1.0\n",
		n + "device-info/pci-address": "0000:3b:02.1\n",
	}
}

func merge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// The sysfs every row sees: eth0 is virtio, net1 a VF, net2 a veth-like
// interface with no device, memif1 absent.
var testLinks = map[string]string{
	"eth0": "../../../virtio0",
	"net1": "../../../0000:3b:02.1",
	"net2": "",
}

func TestPodinfoNetworks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		noSysfs bool // no PCI resolver at all
		want    map[string]string
		wantErr error // matched with errors.Is; any error when errAny
		errAny  bool
	}{
		{name: "default-only", want: cbr0Files(0)},
		{name: "sriov-device-info", want: merge(cbr0Files(0), sriovLeftFiles(1), map[string]string{
			"2/name":                       "dataplane/sriov-right\n",
			"2/interface":                  "net2\n",
			"2/default":                    "false\n",
			"2/pci":                        "0000:3b:0a.3\n",
			"2/device-info/type":           "pci\n",
			"2/device-info/version":        "1.1.0\n",
			"2/device-info/pci-address":    "0000:3b:0a.3\n",
			"2/device-info/pf-pci-address": "0000:3b:00.0\n",
			"2/device-info/rdma-device":    "mlx5_7\n",
		})},
		// Without device-info, pci comes from net1's sysfs device link.
		{name: "sriov-no-device-info", want: merge(cbr0Files(0), map[string]string{
			"1/name":      "dataplane/sriov-left\n",
			"1/interface": "net1\n",
			"1/ips":       "192.168.10.4\n",
			"1/mac":       "7e:12:9c:40:aa:01\n",
			"1/default":   "false\n",
			"1/pci":       "0000:3b:02.1\n",
		})},
		// And with no sysfs to ask, it is absent.
		{name: "sriov-no-device-info", noSysfs: true, want: merge(cbr0Files(0), map[string]string{
			"1/name":      "dataplane/sriov-left\n",
			"1/interface": "net1\n",
			"1/ips":       "192.168.10.4\n",
			"1/mac":       "7e:12:9c:40:aa:01\n",
			"1/default":   "false\n",
		})},
		{name: "ipv6-multiple-ips", want: map[string]string{
			"0/name":            "cbr0\n",
			"0/interface":       "eth0\n",
			"0/ips":             "10.244.1.17\nfd00:10:244:1::11\n",
			"0/mac":             "0a:58:0a:f4:01:11\n",
			"0/default":         "true\n",
			"1/name":            "dataplane/v6\n",
			"1/interface":       "net1\n",
			"1/ips":             "2001:db8:10::4\n2001:db8:10::5\n192.168.10.4\n",
			"1/mac":             "7e:12:9c:40:aa:02\n",
			"1/mtu":             "9000\n",
			"1/default":         "false\n",
			"1/gateway":         "2001:db8:10::1\n",
			"1/dns/nameservers": "2001:db8::53\n10.96.0.10\n",
			"1/dns/domain":      "cluster.local\n",
			"1/dns/search":      "dataplane.svc.cluster.local\nsvc.cluster.local\n",
			"1/dns/options":     "ndots:5\n",
			"1/pci":             "0000:3b:02.1\n", // from sysfs
		}},
		{name: "no-network-status", want: map[string]string{}},
		{name: "old-key-only", want: map[string]string{
			"0/name":      "legacy-net\n",
			"0/interface": "eth0\n",
			"0/ips":       "10.1.0.9\n",
			"0/mac":       "0a:58:0a:01:00:09\n",
			"0/default":   "true\n",
		}},
		{name: "both-keys", want: cbr0Files(0)},
		{name: "default-empty-name", want: map[string]string{
			"0/interface": "eth0\n",
			"0/ips":       "10.244.1.17\n",
			"0/mac":       "0a:58:0a:f4:01:11\n",
			"0/default":   "true\n",
		}},
		{name: "default-cni-name", want: map[string]string{
			"0/name":      "ovn-kubernetes\n",
			"0/interface": "eth0\n",
			"0/ips":       "10.128.2.7\n",
			"0/mac":       "0a:58:0a:80:02:07\n",
			"0/default":   "true\n",
		}},
		{name: "calico-no-interface", want: map[string]string{
			"0/name":    "k8s-pod-network\n",
			"0/ips":     "192.168.34.9\n",
			"0/default": "true\n",
		}},
		{name: "vf-no-interface", want: map[string]string{
			"0/name":                       "k8s-pod-network\n",
			"0/ips":                        "192.168.34.9\n",
			"0/default":                    "true\n",
			"1/name":                       "dataplane/dpdk\n",
			"1/default":                    "false\n",
			"1/pci":                        "0000:3b:02.4\n",
			"1/device-info/type":           "pci\n",
			"1/device-info/version":        "1.1.0\n",
			"1/device-info/pci-address":    "0000:3b:02.4\n",
			"1/device-info/pf-pci-address": "0000:3b:00.0\n",
		}},
		// Each entry keeps its own directory and its own device-info
		// address, even though net1's sysfs link names another one.
		{name: "duplicate-names", want: merge(cbr0Files(0), map[string]string{
			"1/name":                    "dataplane/sriov-left\n",
			"1/interface":               "net1\n",
			"1/mac":                     "7e:12:9c:40:aa:01\n",
			"1/default":                 "false\n",
			"1/pci":                     "0000:3b:02.1\n",
			"1/device-info/type":        "pci\n",
			"1/device-info/version":     "1.1.0\n",
			"1/device-info/pci-address": "0000:3b:02.1\n",
			"2/name":                    "dataplane/sriov-left\n",
			"2/interface":               "net2\n",
			"2/mac":                     "7e:12:9c:40:aa:02\n",
			"2/default":                 "false\n",
			"2/pci":                     "0000:3b:02.2\n",
			"2/device-info/type":        "pci\n",
			"2/device-info/version":     "1.1.0\n",
			"2/device-info/pci-address": "0000:3b:02.2\n",
		})},
		// A name is content, never a path; net2 has no device link.
		{name: "slash-names", want: map[string]string{
			"0/name":      "team-a/sub/net\n",
			"0/interface": "net1\n",
			"0/default":   "false\n",
			"0/pci":       "0000:3b:02.1\n",
			"1/name":      "../../etc/passwd\n",
			"1/interface": "net2\n",
			"1/default":   "false\n",
		}},
		{name: "version-missing", want: map[string]string{
			"0/name":                    "dataplane/sriov-left\n",
			"0/interface":               "net1\n",
			"0/default":                 "false\n",
			"0/pci":                     "0000:3b:02.1\n",
			"0/device-info/type":        "pci\n",
			"0/device-info/pci-address": "0000:3b:02.1\n",
		}},
		{name: "version-v1.0.0", want: map[string]string{
			"0/name":                    "dataplane/sriov-left\n",
			"0/interface":               "net1\n",
			"0/default":                 "false\n",
			"0/pci":                     "0000:3b:02.1\n",
			"0/device-info/type":        "pci\n",
			"0/device-info/version":     "1.0.0\n",
			"0/device-info/pci-address": "0000:3b:02.1\n",
		}},
		{name: "gateway-nil", want: map[string]string{
			"0/name":      "macvlan-a\n",
			"0/interface": "net1\n",
			"0/ips":       "10.10.0.5\n",
			"0/mac":       "ea:1b:3c:00:00:05\n",
			"0/default":   "false\n",
			"0/pci":       "0000:3b:02.1\n",
			"1/name":      "macvlan-b\n",
			"1/interface": "net2\n",
			"1/ips":       "10.20.0.5\n",
			"1/mac":       "ea:1b:3c:00:00:06\n",
			"1/default":   "false\n",
			"1/gateway":   "10.20.0.1\n",
		}},
		// vhost-user and memif name no PCI device; net1's sysfs link
		// does, and is the answer for the vhost-user interface.
		{name: "vhost-user", want: map[string]string{
			"0/name":                "dataplane/vhost\n",
			"0/interface":           "net1\n",
			"0/default":             "false\n",
			"0/pci":                 "0000:3b:02.1\n",
			"0/device-info/type":    "vhost-user\n",
			"0/device-info/version": "1.0.0\n",
			"0/device-info/mode":    "server\n",
			"0/device-info/path":    "/var/run/vhost/vhu-0.sock\n",
		}},
		{name: "memif", want: map[string]string{
			"0/name":                "dataplane/memif\n",
			"0/interface":           "memif1\n",
			"0/default":             "false\n",
			"0/device-info/type":    "memif\n",
			"0/device-info/version": "1.0.0\n",
			"0/device-info/role":    "master\n",
			"0/device-info/path":    "/run/memif/memif1.sock\n",
			"0/device-info/mode":    "ethernet\n",
		}},
		{name: "vdpa", want: map[string]string{
			"0/name":                           "dataplane/vdpa\n",
			"0/interface":                      "net1\n",
			"0/mac":                            "7e:12:9c:40:bb:01\n",
			"0/default":                        "false\n",
			"0/pci":                            "0000:65:00.3\n",
			"0/device-info/type":               "vdpa\n",
			"0/device-info/version":            "1.1.0\n",
			"0/device-info/parent-device":      "vdpa:0000:65:00.3\n",
			"0/device-info/driver":             "vhost\n",
			"0/device-info/path":               "/dev/vhost-vdpa-1\n",
			"0/device-info/pci-address":        "0000:65:00.3\n",
			"0/device-info/pf-pci-address":     "0000:65:00.0\n",
			"0/device-info/representor-device": "eth5\n",
		}},
		// An unknown type's fields are not trusted, not even a pci one.
		{name: "unknown-type", noSysfs: true, want: map[string]string{
			"0/name":                "dataplane/future\n",
			"0/interface":           "net1\n",
			"0/default":             "false\n",
			"0/device-info/type":    "smartnic\n",
			"0/device-info/version": "2.0.0\n",
		}},
		// A pci-address that is no address is served as written in
		// device-info, but pci falls back to sysfs.
		{name: "bad-pci-address", want: map[string]string{
			"0/name":                    "dataplane/sriov-left\n",
			"0/interface":               "net1\n",
			"0/default":                 "false\n",
			"0/pci":                     "0000:3b:02.1\n",
			"0/device-info/type":        "pci\n",
			"0/device-info/version":     "1.1.0\n",
			"0/device-info/pci-address": "not-an-address\n",
		}},
		{name: "escapes", noSysfs: true, want: map[string]string{
			"0/name":      "réseau\tdonnées\n",
			"0/interface": "net1\n",
			"0/default":   "false\n",
		}},
		{name: "raw-network-status", want: merge(cbr0Files(0), sriovLeftFiles(1))},
		// annotations wins over network-status when both are there.
		{name: "annotations-and-raw", noSysfs: true, want: map[string]string{
			"0/name":      "ovn-kubernetes\n",
			"0/interface": "eth0\n",
			"0/ips":       "10.128.2.7\n",
			"0/mac":       "0a:58:0a:80:02:07\n",
			"0/default":   "true\n",
		}},
		{name: "empty-annotations", wantErr: sources.ErrNotReady},
		{name: "empty-network-status", wantErr: sources.ErrNotReady},
		{name: "malformed-json", errAny: true},
		{name: "malformed-raw-json", errAny: true},
		{name: "malformed-line", errAny: true},
		{name: "line-without-equals", errAny: true},
	}
	for _, tt := range tests {
		name := tt.name
		if tt.noSysfs {
			name += "/no-sysfs"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var resolver sources.PCIResolver
			if !tt.noSysfs {
				resolver = sources.NewSysClassNet(sysfsTree(t, testLinks))
			}
			dir := filepath.Join("testdata", "podinfo", tt.name)
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("testdata: %v", err)
			}
			got, err := sources.NewPodinfo(dir, resolver).Networks()
			if tt.wantErr != nil || tt.errAny {
				if err == nil {
					t.Fatalf("Networks() = %v, want an error", snapshotFiles(t, got))
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("Networks() error = %v, want %v", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("Networks() returned %v along with error %v", snapshotFiles(t, got), err)
				}
				// The error names the file it is about.
				if !strings.Contains(err.Error(), dir) {
					t.Errorf("error %q does not name %s", err, dir)
				}
				return
			}
			if err != nil {
				t.Fatalf("Networks(): %v", err)
			}
			diffFiles(t, snapshotFiles(t, got), tt.want)
			// Networks are listed in network-status order.
			n := got.Len()
			var want []string
			for i := range n {
				want = append(want, strconv.Itoa(i))
			}
			if names := entryNames(got); n > 0 && !reflect.DeepEqual(names, want) {
				t.Errorf("networks listed as %q, want %q", names, want)
			}
		})
	}
}

func TestPodinfoNoFile(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "does-not-exist")} {
		got, err := sources.NewPodinfo(dir, nil).Networks()
		if !errors.Is(err, sources.ErrNoPodinfo) || got != nil {
			t.Errorf("Networks() of %s = %v, %v; want nil, ErrNoPodinfo", dir, got, err)
		}
	}
}

func TestPodinfoTooLarge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := "a=" + strconv.Quote(strings.Repeat("x", sources.MaxPodinfoSize))
	if err := os.WriteFile(filepath.Join(dir, sources.AnnotationsFile), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := sources.NewPodinfo(dir, nil).Networks()
	if !errors.Is(err, sources.ErrTooLarge) || got != nil {
		t.Errorf("Networks() = %v, %v; want nil, ErrTooLarge", got, err)
	}
}
