package sources

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/klog/v2"
)

// ErrNoPCIDevice means an interface exists but is not backed by a PCI device,
// as a veth or a virtio-mmio NIC is not.
var ErrNoPCIDevice = errors.New("no PCI device")

// SysClassNet finds the PCI device behind a network interface through sysfs
// as mounted in the pod's network namespace, which the sidecar shares.
type SysClassNet struct {
	root string
}

// NewSysClassNet reads sysfs mounted at sysRoot, normally "/sys".
func NewSysClassNet(sysRoot string) *SysClassNet {
	return &SysClassNet{root: sysRoot}
}

// PCIAddress returns the last element of /sys/class/net/<iface>/device,
// which for a PCI network function is its address, "0000:3b:02.1".
func (s *SysClassNet) PCIAddress(iface string) (string, error) {
	if !validInterfaceName(iface) {
		return "", fmt.Errorf("interface name %q: %w", iface, os.ErrInvalid)
	}
	link := filepath.Join(s.root, "class", "net", iface, "device")
	klog.V(5).InfoS("Reading", "path", link)
	target, err := os.Readlink(link)
	if errors.Is(err, os.ErrNotExist) {
		// A virtual interface (veth, bridge, lo) has no device link.
		if _, statErr := os.Lstat(filepath.Dir(link)); statErr == nil {
			return "", fmt.Errorf("%s has no device link: %w", filepath.Dir(link), ErrNoPCIDevice)
		}
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", link, err)
	}
	addr := filepath.Base(target)
	if !IsPCIAddress(addr) {
		return "", fmt.Errorf("%s names %q: %w", link, target, ErrNoPCIDevice)
	}
	return addr, nil
}

// validInterfaceName applies the kernel's dev_valid_name rules, so that a
// name from an annotation can never walk out of /sys/class/net.
func validInterfaceName(name string) bool {
	if name == "" || len(name) > 15 || name == "." || name == ".." {
		return false
	}
	return !strings.ContainsAny(name, "/: \t\n\v\f\r\x00")
}
