package sources_test

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/netutil-fs/netutil-fs/sources"
)

func TestSysClassNetPCIAddress(t *testing.T) {
	t.Parallel()
	sys := sysfsTree(t, map[string]string{
		// A VF as the kernel links it, and with an absolute target.
		"net1": "../../../0000:3b:02.1",
		"net2": "/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:0a.3",
		"eth0": "../../../virtio2",    // virtio-net
		"veth": "",                    // no device link at all
		"dots": "../../../0000:3b:02", // no function
	})
	tests := []struct {
		iface   string
		want    string
		wantErr error
	}{
		{iface: "net1", want: "0000:3b:02.1"},
		{iface: "net2", want: "0000:3b:0a.3"},
		{iface: "eth0", wantErr: sources.ErrNoPCIDevice},
		{iface: "veth", wantErr: sources.ErrNoPCIDevice},
		{iface: "dots", wantErr: sources.ErrNoPCIDevice},
		{iface: "missing0", wantErr: iofs.ErrNotExist},
		// Names that could leave /sys/class/net are refused unread.
		{iface: "", wantErr: os.ErrInvalid},
		{iface: ".", wantErr: os.ErrInvalid},
		{iface: "..", wantErr: os.ErrInvalid},
		{iface: "../net1", wantErr: os.ErrInvalid},
		{iface: "a/b", wantErr: os.ErrInvalid},
		{iface: "net1/../net1", wantErr: os.ErrInvalid},
		{iface: "net 1", wantErr: os.ErrInvalid},
		{iface: "net1:0", wantErr: os.ErrInvalid},
		{iface: "a\x00b", wantErr: os.ErrInvalid},
		{iface: "sixteen-chars-xx", wantErr: os.ErrInvalid},
	}
	s := sources.NewSysClassNet(sys)
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.iface), func(t *testing.T) {
			t.Parallel()
			got, err := s.PCIAddress(tt.iface)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != "" {
					t.Fatalf("PCIAddress(%q) = %q, %v; want \"\", %v", tt.iface, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PCIAddress(%q) = %q, %v; want %q", tt.iface, got, err, tt.want)
			}
		})
	}
}

// TestSysClassNetHost checks every interface of this machine against what
// its device link names: a PCI address, or ErrNoPCIDevice (lo, virtio-net).
func TestSysClassNetHost(t *testing.T) {
	t.Parallel()
	ifaces, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Skipf("no sysfs here: %v", err)
	}
	s := sources.NewSysClassNet("/sys")
	for _, iface := range ifaces {
		target, linkErr := os.Readlink(filepath.Join("/sys/class/net", iface.Name(), "device"))
		got, err := s.PCIAddress(iface.Name())
		if linkErr == nil && sources.IsPCIAddress(filepath.Base(target)) {
			if err != nil || got != filepath.Base(target) {
				t.Errorf("PCIAddress(%s) = %q, %v; want %q", iface.Name(), got, err, filepath.Base(target))
			}
			continue
		}
		if !errors.Is(err, sources.ErrNoPCIDevice) {
			t.Errorf("PCIAddress(%s) (device link %q) = %q, %v; want ErrNoPCIDevice", iface.Name(), target, got, err)
		}
	}
}

// netnsHelperEnv names the interface TestNetnsHelper checks, when this test
// binary is run again inside a network namespace.
const netnsHelperEnv = "NETUTIL_TEST_NETNS_IFACE"

// TestSysClassNetNetns creates a real network namespace with a veth inside,
// then runs TestNetnsHelper in it with `ip netns exec`, which mounts that
// namespace's sysfs on /sys as the pod's sysfs is for the sidecar.
func TestSysClassNetNetns(t *testing.T) {
	t.Parallel()
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("`ip` (iproute2) is not installed, so no network namespace can be made; run make deps")
	}
	ns := fmt.Sprintf("netutil-test-%d", os.Getpid())
	if out, err := exec.Command(ip, "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace (needs root): ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(ip, "netns", "delete", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", ns, err, out)
		}
	})
	if out, err := exec.Command(ip, "-n", ns, "link", "add", "nu-veth0", "type", "veth", "peer", "name", "nu-veth1").CombinedOutput(); err != nil {
		t.Fatalf("create veth: %v: %s", err, out)
	}
	if out, err := exec.Command(ip, "-n", ns, "link", "set", "nu-veth0", "up").CombinedOutput(); err != nil {
		t.Fatalf("set veth up: %v: %s", err, out)
	}
	cmd := exec.Command(ip, "netns", "exec", ns, os.Args[0], "-test.run=^TestNetnsHelper$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsHelperEnv+"=nu-veth0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper in netns %s failed: %v\n%s", ns, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestNetnsHelper") {
		t.Fatalf("helper did not run:\n%s", out)
	}
}

// TestNetnsHelper runs only inside TestSysClassNetNetns's namespace.
func TestNetnsHelper(t *testing.T) {
	iface := os.Getenv(netnsHelperEnv)
	if iface == "" {
		t.Skip("helper process of TestSysClassNetNetns")
	}
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	// The namespace's own sysfs: its loopback, the veth pair, nothing of
	// the host's.
	if got := strings.Join(names, " "); got != "lo nu-veth0 nu-veth1" {
		t.Fatalf("/sys/class/net lists %q, want \"lo nu-veth0 nu-veth1\": not this namespace's sysfs", got)
	}
	s := sources.NewSysClassNet("/sys")
	if got, err := s.PCIAddress(iface); !errors.Is(err, sources.ErrNoPCIDevice) {
		t.Errorf("PCIAddress(%s) = %q, %v; want ErrNoPCIDevice", iface, got, err)
	}
	if got, err := s.PCIAddress("eth-absent"); !errors.Is(err, iofs.ErrNotExist) || errors.Is(err, sources.ErrNoPCIDevice) {
		t.Errorf("PCIAddress(eth-absent) = %q, %v; want ErrNotExist", got, err)
	}
	dir := sources.NetworksDir([]nadv1.NetworkStatus{
		{Name: "ns/veth-net", Interface: iface, IPs: []string{"10.9.0.2"}},
		// device-info still wins over sysfs for an interface sysfs has.
		{Name: "ns/vf", Interface: iface, DeviceInfo: &nadv1.DeviceInfo{Type: "pci", Pci: &nadv1.PciDevice{PciAddress: "0000:3b:02.1"}}},
	}, s)
	diffFiles(t, snapshotFiles(t, dir), map[string]string{
		"0/name":                    "ns/veth-net\n",
		"0/interface":               iface + "\n",
		"0/ips":                     "10.9.0.2\n",
		"0/default":                 "false\n",
		"1/name":                    "ns/vf\n",
		"1/interface":               iface + "\n",
		"1/default":                 "false\n",
		"1/pci":                     "0000:3b:02.1\n",
		"1/device-info/type":        "pci\n",
		"1/device-info/pci-address": "0000:3b:02.1\n",
	})
}
