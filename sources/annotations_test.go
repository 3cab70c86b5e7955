package sources_test

import (
	"reflect"
	"strings"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"

	"github.com/netutil-fs/netutil-fs/sources"
)

func TestParseAnnotations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string // a substring of the error; "" for none
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "one line, no trailing newline", in: `a="b"`, want: map[string]string{"a": "b"}},
		{name: "sorted keys as the kubelet writes", in: "a=\"1\"\nb.io/c=\"2\"\nd=\"\"", want: map[string]string{"a": "1", "b.io/c": "2", "d": ""}},
		{name: "trailing newline tolerated", in: "a=\"1\"\n", want: map[string]string{"a": "1"}},
		{name: "blank lines and CRLF tolerated", in: "a=\"1\"\r\n\n  \nb=\"2\"", want: map[string]string{"a": "1", "b": "2"}},
		{name: "escapes", in: `k="tab\there \"q\" back\\slash\nnl \u00e9 é \x01"`, want: map[string]string{"k": "tab\there \"q\" back\\slash\nnl é é \x01"}},
		{name: "value holding =", in: `k="a=b=c"`, want: map[string]string{"k": "a=b=c"}},
		{name: "duplicate key: last wins", in: "k=\"1\"\nk=\"2\"", want: map[string]string{"k": "2"}},
		{name: "unquoted value", in: "a=\"1\"\nk=[{}]", wantErr: `line 2: value of "k" is not a quoted string`},
		{name: "no equals sign", in: "a=\"1\"\n\njust text", wantErr: "line 3: want key=\"value\""},
		{name: "empty key", in: `="v"`, wantErr: "line 1: want key=\"value\""},
		{name: "unterminated quote", in: `k="abc`, wantErr: "line 1"},
		{name: "quote then junk", in: `k="a"b`, wantErr: "line 1"},
		{name: "long line truncated in error", in: strings.Repeat("x", 500), wantErr: strings.Repeat("x", 80) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sources.ParseAnnotations([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAnnotations() error = %v, want one containing %q", err, tt.wantErr)
				}
				if got != nil {
					t.Errorf("ParseAnnotations() = %v with error, want nil", got)
				}
				if len(err.Error()) > 200 {
					t.Errorf("error is %d bytes long: %q", len(err.Error()), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAnnotations(): %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseAnnotations() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseNetworkStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    []nadv1.NetworkStatus
		wantErr bool
	}{
		{name: "empty array", in: `[]`, want: []nadv1.NetworkStatus{}},
		{name: "null", in: `null`, want: nil},
		{
			name: "all fields",
			in: `[{"name":"ns/a","interface":"net1","ips":["10.0.0.2","fd00::2"],"mac":"02:00:00:00:00:02","mtu":1400,"default":true,
				"dns":{"nameservers":["10.96.0.10"],"domain":"cluster.local","search":["svc"],"options":["ndots:5"]},"gateway":["10.0.0.1"],
				"device-info":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.1","vhost-net":"/dev/vhost-net","rdma-device":"mlx5_3","pf-pci-address":"0000:3b:00.0","representor-device":"eth3"}}}]`,
			want: []nadv1.NetworkStatus{{
				Name: "ns/a", Interface: "net1", IPs: []string{"10.0.0.2", "fd00::2"}, Mac: "02:00:00:00:00:02", Mtu: 1400, Default: true,
				DNS:     nadv1.DNS{Nameservers: []string{"10.96.0.10"}, Domain: "cluster.local", Search: []string{"svc"}, Options: []string{"ndots:5"}},
				Gateway: []string{"10.0.0.1"},
				DeviceInfo: &nadv1.DeviceInfo{Type: "pci", Version: "1.1.0", Pci: &nadv1.PciDevice{
					PciAddress: "0000:3b:02.1", Vhostnet: "/dev/vhost-net", RdmaDevice: "mlx5_3", PfPciAddress: "0000:3b:00.0", RepresentorDevice: "eth3",
				}},
			}},
		},
		{name: "unknown fields ignored", in: `[{"name":"a","future":{"x":1}}]`, want: []nadv1.NetworkStatus{{Name: "a"}}},
		{name: "truncated", in: `[{"name":"a"},{"name":`, wantErr: true},
		{name: "object, not array", in: `{"name":"a"}`, wantErr: true},
		{name: "wrong type of ips", in: `[{"name":"a"},{"name":"b","ips":"10.0.0.1"}]`, wantErr: true},
		{name: "empty", in: ``, wantErr: true},
		{name: "trailing junk", in: `[] x`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sources.ParseNetworkStatus([]byte(tt.in))
			if tt.wantErr {
				// All or nothing: no entry comes back with an error.
				if err == nil || got != nil {
					t.Fatalf("ParseNetworkStatus() = %+v, %v; want nil and an error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseNetworkStatus(): %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseNetworkStatus() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNetworkStatusFromAnnotations(t *testing.T) {
	t.Parallel()
	const newKey, oldKey = nadv1.NetworkStatusAnnot, sources.OldNetworkStatusAnnot
	tests := []struct {
		name      string
		in        map[string]string
		wantNames []string
		wantErr   string
	}{
		{name: "neither key", in: map[string]string{"a": "b"}, wantNames: nil},
		{name: "new key", in: map[string]string{newKey: `[{"name":"new"}]`}, wantNames: []string{"new"}},
		{name: "old key", in: map[string]string{oldKey: `[{"name":"old"}]`}, wantNames: []string{"old"}},
		{name: "both: new wins", in: map[string]string{newKey: `[{"name":"new"}]`, oldKey: `[{"name":"old"}]`}, wantNames: []string{"new"}},
		{name: "new malformed, old good: error", in: map[string]string{newKey: `[{`, oldKey: `[{"name":"old"}]`}, wantErr: "annotation " + newKey},
		{name: "old malformed", in: map[string]string{oldKey: `nope`}, wantErr: "annotation " + oldKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := sources.NetworkStatusFromAnnotations(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
					t.Fatalf("NetworkStatusFromAnnotations() = %v, %v; want nil and an error naming %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if !reflect.DeepEqual(names, tt.wantNames) {
				t.Errorf("names = %q, want %q", names, tt.wantNames)
			}
		})
	}
}

func TestIsPCIAddress(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"0000:3b:02.1": true, "3b:02.1": true, "0000:3B:1f.7": true, "10000:3b:02.1": false,
		"0000:3b:20.1": false, "0000:3b:02.8": false, "": false, "virtio0": false, "0000:3b:02": false,
	} {
		if got := sources.IsPCIAddress(in); got != want {
			t.Errorf("IsPCIAddress(%q) = %v, want %v", in, got, want)
		}
	}
}
