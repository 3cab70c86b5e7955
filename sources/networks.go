package sources

import (
	"regexp"
	"strconv"
	"strings"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/netutil-fs/netutil-fs/snapshot"
)

// PCIResolver names the PCI device behind a kernel network interface.
type PCIResolver interface {
	PCIAddress(iface string) (string, error)
}

// pciAddress matches a PCI address as DPDK's -a option takes it: an optional
// domain, then bus:device.function.
var pciAddress = regexp.MustCompile(`^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-1][0-9a-fA-F]\.[0-7]$`)

// IsPCIAddress reports whether s is a PCI address such as "0000:3b:02.1".
func IsPCIAddress(s string) bool { return pciAddress.MatchString(s) }

// NetworksDir builds the networks/ tree: one directory per network-status
// entry, named by its index, so that duplicate names and names holding "/"
// cannot collide. A value that is not known makes its file absent, never
// empty. pci comes from device-info, else from the interface's sysfs device
// link when resolver is not nil; never from position or PCIDEVICE_* order.
func NetworksDir(statuses []nadv1.NetworkStatus, resolver PCIResolver) *snapshot.Dir {
	entries := make([]snapshot.Entry, 0, len(statuses))
	for i, status := range statuses {
		entries = append(entries, snapshot.Subdir(strconv.Itoa(i), networkDir(status, resolver)))
	}
	return snapshot.NewDir(entries)
}

func networkDir(status nadv1.NetworkStatus, resolver PCIResolver) *snapshot.Dir {
	var b dirBuilder
	b.value("name", status.Name)
	b.value("interface", status.Interface)
	b.values("ips", status.IPs)
	b.value("mac", status.Mac)
	if status.Mtu > 0 {
		b.value("mtu", strconv.Itoa(status.Mtu))
	}
	b.value("default", strconv.FormatBool(status.Default))
	b.values("gateway", withoutNil(status.Gateway))
	b.subdir("dns", dnsDir(status.DNS))
	b.value("pci", networkPCI(status, resolver))
	b.subdir("device-info", deviceInfoDir(status.DeviceInfo))
	return b.dir()
}

// networkPCI prefers what the device plugin reported over what sysfs shows,
// since a VF bound to vfio-pci has no kernel interface to look at.
func networkPCI(status nadv1.NetworkStatus, resolver PCIResolver) string {
	if addr := deviceInfoPCI(status.DeviceInfo); IsPCIAddress(addr) {
		return addr
	}
	if resolver == nil || status.Interface == "" {
		return ""
	}
	addr, err := resolver.PCIAddress(status.Interface)
	if err != nil {
		return ""
	}
	return addr
}

func deviceInfoPCI(info *nadv1.DeviceInfo) string {
	if info == nil {
		return ""
	}
	switch {
	case info.Type == nadv1.DeviceInfoTypePCI && info.Pci != nil:
		return info.Pci.PciAddress
	case info.Type == nadv1.DeviceInfoTypeVDPA && info.Vdpa != nil:
		return info.Vdpa.PciAddress
	}
	return ""
}

func dnsDir(dns nadv1.DNS) *snapshot.Dir {
	var b dirBuilder
	b.values("nameservers", dns.Nameservers)
	b.value("domain", dns.Domain)
	b.values("search", dns.Search)
	b.values("options", dns.Options)
	return b.dir()
}

// deviceInfoDir serves the fields of the object that type names; an unknown
// type gets its type and version only, since its fields cannot be trusted to
// mean what the known types' fields mean.
func deviceInfoDir(info *nadv1.DeviceInfo) *snapshot.Dir {
	if info == nil {
		return nil
	}
	var b dirBuilder
	b.value("type", info.Type)
	// Some writers put "v1.0.0" where the spec says "1.0.0".
	b.value("version", strings.TrimPrefix(info.Version, "v"))
	switch {
	case info.Type == nadv1.DeviceInfoTypePCI && info.Pci != nil:
		b.value("pci-address", info.Pci.PciAddress)
		b.value("vhost-net", info.Pci.Vhostnet)
		b.value("rdma-device", info.Pci.RdmaDevice)
		b.value("pf-pci-address", info.Pci.PfPciAddress)
		b.value("representor-device", info.Pci.RepresentorDevice)
	case info.Type == nadv1.DeviceInfoTypeVDPA && info.Vdpa != nil:
		b.value("parent-device", info.Vdpa.ParentDevice)
		b.value("driver", info.Vdpa.Driver)
		b.value("path", info.Vdpa.Path)
		b.value("pci-address", info.Vdpa.PciAddress)
		b.value("pf-pci-address", info.Vdpa.PfPciAddress)
		b.value("representor-device", info.Vdpa.RepresentorDevice)
	case info.Type == nadv1.DeviceInfoTypeVHostUser && info.VhostUser != nil:
		b.value("mode", info.VhostUser.Mode)
		b.value("path", info.VhostUser.Path)
	case info.Type == nadv1.DeviceInfoTypeMemif && info.Memif != nil:
		b.value("role", info.Memif.Role)
		b.value("path", info.Memif.Path)
		b.value("mode", info.Memif.Mode)
	}
	return b.dir()
}

// withoutNil drops the "<nil>" some CNI plugins print for a missing gateway.
func withoutNil(values []string) []string {
	kept := make([]string, 0, len(values))
	for _, v := range values {
		if v != "<nil>" {
			kept = append(kept, v)
		}
	}
	return kept
}

// dirBuilder collects the entries of a directory, leaving out every value
// that is not known so that no file is ever empty.
type dirBuilder struct {
	entries []snapshot.Entry
}

// value adds a file holding v and a newline, unless v is empty.
func (b *dirBuilder) value(name, v string) {
	if v != "" {
		b.entries = append(b.entries, snapshot.File(name, v+"\n"))
	}
}

// values adds a file holding one non-empty value per line, unless none is.
func (b *dirBuilder) values(name string, vs []string) {
	var sb strings.Builder
	for _, v := range vs {
		if v != "" {
			sb.WriteString(v)
			sb.WriteByte('\n')
		}
	}
	if sb.Len() > 0 {
		b.entries = append(b.entries, snapshot.File(name, sb.String()))
	}
}

// subdir adds d unless it is nil or empty.
func (b *dirBuilder) subdir(name string, d *snapshot.Dir) {
	if d.Len() > 0 {
		b.entries = append(b.entries, snapshot.Subdir(name, d))
	}
}

func (b *dirBuilder) dir() *snapshot.Dir { return snapshot.NewDir(b.entries) }
