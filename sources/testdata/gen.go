//go:build ignore

// gen writes the podinfo test cases in the formats the kubelet writes:
// annotations as key="value" lines (strconv.Quote, keys sorted, no newline
// after the last line), network-status JSON indented as Multus indents it.
//
//	cd sources/testdata && go run gen.go
package main

import (
	"bytes"
	"encoding/json"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/netutil-fs/netutil-fs/internal/kubelettest"
)

const (
	statusKey    = "k8s.v1.cni.cncf.io/network-status"
	oldStatusKey = "k8s.v1.cni.cncf.io/networks-status"
	networksKey  = "k8s.v1.cni.cncf.io/networks"
)

// Entries as Multus writes them, in its field order.
const (
	cbr0         = `{"name":"cbr0","interface":"eth0","ips":["10.244.1.17"],"mac":"0a:58:0a:f4:01:11","default":true,"dns":{}}`
	sriovLeft    = `{"name":"dataplane/sriov-left","interface":"net1","ips":["192.168.10.4"],"mac":"7e:12:9c:40:aa:01","dns":{},"device-info":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.1"}}}`
	sriovRight   = `{"name":"dataplane/sriov-right","interface":"net2","dns":{},"device-info":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:0a.3","pf-pci-address":"0000:3b:00.0","rdma-device":"mlx5_7"}}}`
	sriovNoInfo  = `{"name":"dataplane/sriov-left","interface":"net1","ips":["192.168.10.4"],"mac":"7e:12:9c:40:aa:01","dns":{}}`
	dualStack    = `{"name":"cbr0","interface":"eth0","ips":["10.244.1.17","fd00:10:244:1::11"],"mac":"0a:58:0a:f4:01:11","default":true,"dns":{}}`
	ipv6Multi    = `{"name":"dataplane/v6","interface":"net1","ips":["2001:db8:10::4","2001:db8:10::5","192.168.10.4"],"mac":"7e:12:9c:40:aa:02","mtu":9000,"gateway":["2001:db8:10::1"],"dns":{"nameservers":["2001:db8::53","10.96.0.10"],"domain":"cluster.local","search":["dataplane.svc.cluster.local","svc.cluster.local"],"options":["ndots:5"]}}`
	oldOnly      = `{"name":"legacy-net","interface":"eth0","ips":["10.1.0.9"],"mac":"0a:58:0a:01:00:09","default":true,"dns":{}}`
	defaultEmpty = `{"name":"","interface":"eth0","ips":["10.244.1.17"],"mac":"0a:58:0a:f4:01:11","default":true,"dns":{}}`
	defaultCNI   = `{"name":"ovn-kubernetes","interface":"eth0","ips":["10.128.2.7"],"mac":"0a:58:0a:80:02:07","default":true,"dns":{}}`
	calico       = `{"name":"k8s-pod-network","ips":["192.168.34.9"],"default":true,"dns":{}}`
	vfio         = `{"name":"dataplane/dpdk","dns":{},"device-info":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.4","pf-pci-address":"0000:3b:00.0"}}}`
	dupA         = `{"name":"dataplane/sriov-left","interface":"net1","mac":"7e:12:9c:40:aa:01","dns":{},"device-info":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.1"}}}`
	dupB         = `{"name":"dataplane/sriov-left","interface":"net2","mac":"7e:12:9c:40:aa:02","dns":{},"device-info":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.2"}}}`
	slashA       = `{"name":"team-a/sub/net","interface":"net1","dns":{}}`
	slashB       = `{"name":"../../etc/passwd","interface":"net2","dns":{}}`
	noVersion    = `{"name":"dataplane/sriov-left","interface":"net1","dns":{},"device-info":{"type":"pci","pci":{"pci-address":"0000:3b:02.1"}}}`
	vVersion     = `{"name":"dataplane/sriov-left","interface":"net1","dns":{},"device-info":{"type":"pci","version":"v1.0.0","pci":{"pci-address":"0000:3b:02.1"}}}`
	gwNil        = `{"name":"macvlan-a","interface":"net1","ips":["10.10.0.5"],"mac":"ea:1b:3c:00:00:05","gateway":["<nil>"],"dns":{}}`
	gwSome       = `{"name":"macvlan-b","interface":"net2","ips":["10.20.0.5"],"mac":"ea:1b:3c:00:00:06","gateway":["10.20.0.1","<nil>"],"dns":{}}`
	vhostUser    = `{"name":"dataplane/vhost","interface":"net1","dns":{},"device-info":{"type":"vhost-user","version":"1.0.0","vhost-user":{"mode":"server","path":"/var/run/vhost/vhu-0.sock"}}}`
	memif        = `{"name":"dataplane/memif","interface":"memif1","dns":{},"device-info":{"type":"memif","version":"1.0.0","memif":{"role":"master","path":"/run/memif/memif1.sock","mode":"ethernet"}}}`
	vdpa         = `{"name":"dataplane/vdpa","interface":"net1","mac":"7e:12:9c:40:bb:01","dns":{},"device-info":{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa:0000:65:00.3","driver":"vhost","path":"/dev/vhost-vdpa-1","pci-address":"0000:65:00.3","pf-pci-address":"0000:65:00.0","representor-device":"eth5"}}}`
	unknownType  = `{"name":"dataplane/future","interface":"net1","dns":{},"device-info":{"type":"smartnic","version":"2.0.0","pci":{"pci-address":"0000:01:00.0"}}}`
	badPCIAddr   = `{"name":"dataplane/sriov-left","interface":"net1","dns":{},"device-info":{"type":"pci","version":"1.1.0","pci":{"pci-address":"not-an-address"}}}`
	unicodeName  = `{"name":"réseau\tdonnées","interface":"net1","dns":{}}`
)

// status renders a network-status value as Multus does: each entry indented
// by four spaces, joined by commas, in square brackets.
func status(entries ...string) string {
	parts := make([]string, len(entries))
	for i, e := range entries {
		var b bytes.Buffer
		if err := json.Indent(&b, []byte(e), "", "    "); err != nil {
			log.Fatalf("entry %d %s: %v", i, e, err)
		}
		parts[i] = b.String()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// common are annotations every pod carries.
var common = map[string]string{
	"kubernetes.io/config.seen":   "2026-11-20T09:10:59.340162246Z",
	"kubernetes.io/config.source": "api",
}

func with(annotations map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range common {
		m[k] = v
	}
	for k, v := range annotations {
		m[k] = v
	}
	return m
}

func main() {
	annotations := map[string]map[string]string{
		"default-only":         with(map[string]string{statusKey: status(cbr0)}),
		"sriov-device-info":    with(map[string]string{statusKey: status(cbr0, sriovLeft, sriovRight), networksKey: "dataplane/sriov-left, dataplane/sriov-right"}),
		"sriov-no-device-info": with(map[string]string{statusKey: status(cbr0, sriovNoInfo), networksKey: "dataplane/sriov-left"}),
		"ipv6-multiple-ips":    with(map[string]string{statusKey: status(dualStack, ipv6Multi)}),
		"no-network-status":    with(map[string]string{networksKey: "dataplane/sriov-left"}),
		"old-key-only":         with(map[string]string{oldStatusKey: status(oldOnly)}),
		"both-keys":            with(map[string]string{statusKey: status(cbr0), oldStatusKey: status(oldOnly)}),
		"default-empty-name":   with(map[string]string{statusKey: status(defaultEmpty)}),
		"default-cni-name":     with(map[string]string{statusKey: status(defaultCNI)}),
		"calico-no-interface":  with(map[string]string{statusKey: status(calico)}),
		"vf-no-interface":      with(map[string]string{statusKey: status(calico, vfio)}),
		"duplicate-names":      with(map[string]string{statusKey: status(cbr0, dupA, dupB)}),
		"slash-names":          with(map[string]string{statusKey: status(slashA, slashB)}),
		"version-missing":      with(map[string]string{statusKey: status(noVersion)}),
		"version-v1.0.0":       with(map[string]string{statusKey: status(vVersion)}),
		"gateway-nil":          with(map[string]string{statusKey: status(gwNil, gwSome)}),
		"vhost-user":           with(map[string]string{statusKey: status(vhostUser)}),
		"memif":                with(map[string]string{statusKey: status(memif)}),
		"vdpa":                 with(map[string]string{statusKey: status(vdpa)}),
		"unknown-type":         with(map[string]string{statusKey: status(unknownType)}),
		"bad-pci-address":      with(map[string]string{statusKey: status(badPCIAddr)}),
		"escapes":              with(map[string]string{statusKey: status(unicodeName), "example.com/note": "tab\there \"quoted\" back\\slash\nnew line \x01"}),
		"malformed-json":       with(map[string]string{statusKey: `[{"name": "cbr0", "interface": "eth0"},{"name": `}),
	}
	files := map[string]string{}
	for name, m := range annotations {
		files[filepath.Join("podinfo", name, "annotations")] = kubelettest.FormatMap(m)
	}
	// A pod that projects the annotation alone holds the raw JSON.
	files["podinfo/raw-network-status/network-status"] = status(cbr0, sriovLeft)
	// Both files: annotations is read.
	files["podinfo/annotations-and-raw/annotations"] = kubelettest.FormatMap(with(map[string]string{statusKey: status(defaultCNI)}))
	files["podinfo/annotations-and-raw/network-status"] = status(cbr0, sriovLeft)
	// Since Kubernetes 1.27 the file exists but is empty for a few seconds.
	files["podinfo/empty-annotations/annotations"] = ""
	files["podinfo/empty-network-status/network-status"] = ""
	files["podinfo/malformed-raw-json/network-status"] = `[{"name": "cbr0"}`
	// A value not quoted, as a hand-written file might have it.
	files["podinfo/malformed-line/annotations"] = kubelettest.FormatMap(common) + "\n" + statusKey + "=" + status(cbr0)
	files["podinfo/line-without-equals/annotations"] = kubelettest.FormatMap(common) + "\njust some text"

	for path, content := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
