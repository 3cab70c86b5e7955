package sources_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	"golang.org/x/sys/unix"

	"github.com/netutil-fs/netutil-fs/internal/kubelettest"
	"github.com/netutil-fs/netutil-fs/snapshot"
	"github.com/netutil-fs/netutil-fs/sources"
)

// The bad-input matrix at the podinfo level: every row is one input, with
// the documented behaviour. A bad input is an error and no networks, never
// half-parsed data; TestBadInputWatcher checks that the watcher reports it
// that way and recovers after it.

// statusFile renders network-status entries as the kubelet writes an
// annotations file holding them, next to the annotations every pod has.
func statusFile(entries ...string) string {
	return kubelettest.FormatMap(map[string]string{
		nadv1.NetworkStatusAnnot:      "[" + strings.Join(entries, ",") + "]",
		"kubernetes.io/config.source": "api",
	})
}

// jsonString quotes s as a JSON string.
func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// badInput is one row of the matrix.
type badInput struct {
	name string
	// files is the volume's content, written as the kubelet writes it;
	// when make is set it builds the podinfo directory instead.
	files map[string]string
	make  func(t *testing.T, dir string)
	// For a bad input: the sentinel the error wraps (nil: no sentinel
	// applies) and a check of the error beyond it.
	bad      bool
	wantErr  error
	checkErr func(error) bool
	// For a good one: the files of networks/, or a check of the tree.
	want  map[string]string
	check func(t *testing.T, d *snapshot.Dir)
}

// pciEntry is an SR-IOV VF with device-info.
const pciEntry = `{"name":"dataplane/sriov-left","interface":"net1","ips":["192.168.10.4"],"mac":"7e:12:9c:40:aa:01","dns":{},` +
	`"device-info":{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.1","vhost-net":"/dev/vhost-net","rdma-device":"mlx5_7","pf-pci-address":"0000:3b:00.0","representor-device":"eth7"}}}`

var badInputs = []badInput{
	// Errors: the consumer keeps the last good networks.
	{
		name:     "malformed JSON",
		files:    map[string]string{"annotations": kubelettest.FormatMap(map[string]string{nadv1.NetworkStatusAnnot: `[{"name": "a"},{"name": `})},
		bad:      true,
		checkErr: func(err error) bool { var e *json.SyntaxError; return errors.As(err, &e) },
	},
	{
		name:     "malformed JSON in the raw network-status file",
		files:    map[string]string{"network-status": `[{"name": "a"}`},
		bad:      true,
		checkErr: func(err error) bool { var e *json.SyntaxError; return errors.As(err, &e) },
	},
	{
		name:     "network-status of the wrong JSON type",
		files:    map[string]string{"annotations": kubelettest.FormatMap(map[string]string{nadv1.NetworkStatusAnnot: `{"name": "a"}`})},
		bad:      true,
		checkErr: func(err error) bool { var e *json.UnmarshalTypeError; return errors.As(err, &e) },
	},
	{
		name:     "a line that is not key=\"value\"",
		files:    map[string]string{"annotations": statusFile(`{"name":"a"}`) + "\nnot a line"},
		bad:      true,
		checkErr: func(err error) bool { return strings.Contains(err.Error(), "line 3") },
	},
	{name: "empty file", files: map[string]string{"annotations": ""}, bad: true, wantErr: sources.ErrNotReady},
	{name: "white space only", files: map[string]string{"annotations": "\n \n"}, bad: true, wantErr: sources.ErrNotReady},
	{name: "empty raw network-status file", files: map[string]string{"network-status": ""}, bad: true, wantErr: sources.ErrNotReady},
	{
		name:    "annotations file missing",
		files:   map[string]string{"labels": `app="x"`},
		bad:     true,
		wantErr: sources.ErrNoPodinfo,
	},
	{
		// As for a moment while the kubelet swaps ..data: an error to wait
		// out, not a missing file.
		name: "dangling symlink",
		make: func(t *testing.T, dir string) {
			symlink(t, filepath.Join("..data", "annotations"), filepath.Join(dir, "annotations"))
		},
		bad:      true,
		wantErr:  os.ErrNotExist,
		checkErr: func(err error) bool { return !errors.Is(err, sources.ErrNoPodinfo) },
	},
	{
		name: "a directory in place of the file",
		make: func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "annotations"), 0o755); err != nil {
				t.Fatal(err)
			}
		},
		bad:     true,
		wantErr: sources.ErrNotRegular,
	},
	{
		name: "a FIFO in place of the file",
		make: func(t *testing.T, dir string) { mkfifo(t, filepath.Join(dir, "annotations")) },
		bad:  true, wantErr: sources.ErrNotRegular,
	},
	{
		name: "a FIFO in place of the raw network-status file",
		make: func(t *testing.T, dir string) { mkfifo(t, filepath.Join(dir, "network-status")) },
		bad:  true, wantErr: sources.ErrNotRegular,
	},
	{
		name: "a symlink to a FIFO",
		make: func(t *testing.T, dir string) {
			mkfifo(t, filepath.Join(dir, "fifo"))
			symlink(t, "fifo", filepath.Join(dir, "annotations"))
		},
		bad: true, wantErr: sources.ErrNotRegular,
	},
	{
		name: "a character device in place of the file",
		make: func(t *testing.T, dir string) { symlink(t, "/dev/zero", filepath.Join(dir, "annotations")) },
		bad:  true, wantErr: sources.ErrNotRegular,
	},
	{
		name: "a file over MaxPodinfoSize",
		files: map[string]string{"annotations": statusFile(`{"name":"a"}`) + "\nbig=" +
			strconv.Quote(strings.Repeat("x", sources.MaxPodinfoSize))},
		bad:     true,
		wantErr: sources.ErrTooLarge,
	},
	{
		// 256 KiB of "{}," is within the API server's limit on a pod's
		// annotations; before the bound it grew the sidecar by 90 MiB,
		// and 4 MiB of it (within MaxPodinfoSize) to 1.2 GiB.
		name: "more than MaxNetworks networks, each empty",
		files: map[string]string{"annotations": statusFile(
			strings.TrimSuffix(strings.Repeat("{},", 256<<10/3), ","))},
		bad:     true,
		wantErr: sources.ErrTooManyNetworks,
	},
	{
		name: "MaxNetworks+1 networks, commas and brackets inside strings not counted",
		files: map[string]string{"network-status": "[" + strings.TrimSuffix(
			strings.Repeat(`{"name":"a,b]},[{\",","ips":["1,2"]},`, sources.MaxNetworks+1), ",") + "]"},
		bad:     true,
		wantErr: sources.ErrTooManyNetworks,
	},

	// Good inputs, however odd.
	{
		name: "a 1 MiB annotation",
		files: map[string]string{"annotations": kubelettest.FormatMap(map[string]string{
			nadv1.NetworkStatusAnnot: `[{"name":"a","interface":"eth0"}]`,
			"example.com/huge":       strings.Repeat("ü\"\n", 1<<20/4),
		})},
		want: map[string]string{"0/name": "a\n", "0/interface": "eth0\n", "0/default": "false\n"},
	},
	{
		name:  "a 1 MiB network name",
		files: map[string]string{"annotations": statusFile(`{"name":` + jsonString(strings.Repeat("n", 1<<20)) + `}`)},
		want:  map[string]string{"0/name": strings.Repeat("n", 1<<20) + "\n", "0/default": "false\n"},
	},
	{
		name: "1,000 networks",
		files: map[string]string{"annotations": func() string {
			var entries []string
			for i := range 1000 {
				entries = append(entries, `{"name":"ns/net-`+strconv.Itoa(i)+`","interface":"net`+strconv.Itoa(i)+`"}`)
			}
			return statusFile(entries...)
		}()},
		check: func(t *testing.T, d *snapshot.Dir) {
			if d.Len() != 1000 {
				t.Fatalf("%d networks, want 1000", d.Len())
			}
			for i, e := range d.Entries() {
				n := strconv.Itoa(i)
				name, _ := e.Dir.Lookup("name")
				iface, _ := e.Dir.Lookup("interface")
				if e.Name != n || name.Content != "ns/net-"+n+"\n" || iface.Content != "net"+n+"\n" {
					t.Fatalf("network %d is %q with name %q, interface %q", i, e.Name, name.Content, iface.Content)
				}
			}
		},
	},
	{
		name: "MaxNetworks networks with commas and brackets inside strings",
		files: map[string]string{"network-status": "[" + strings.TrimSuffix(
			strings.Repeat(`{"name":"a,b]},[{\",","ips":["1,2"]},`, sources.MaxNetworks), ",") + "]"},
		check: func(t *testing.T, d *snapshot.Dir) {
			if d.Len() != sources.MaxNetworks {
				t.Fatalf("%d networks, want %d", d.Len(), sources.MaxNetworks)
			}
			last, _ := d.Lookup(strconv.Itoa(sources.MaxNetworks - 1))
			if name, _ := last.Dir.Lookup("name"); name.Content != "a,b]},[{\",\n" {
				t.Fatalf("last network's name is %q", name.Content)
			}
		},
	},
	{
		name: "names with /, .., NUL, newlines and unicode",
		files: map[string]string{"annotations": statusFile(
			`{"name":"team/a/b","interface":"net1"}`,
			`{"name":"../../etc/passwd","interface":".."}`,
			`{"name":"nul\u0000byte","interface":"net/3"}`,
			`{"name":"two\nlines","interface":"net4"}`,
			`{"name":"réseau données 网络 🚀"}`,
			`{"name":".."}`,
			`{"name":"."}`,
		)},
		want: map[string]string{
			"0/name": "team/a/b\n", "0/interface": "net1\n", "0/default": "false\n",
			"1/name": "../../etc/passwd\n", "1/interface": "..\n", "1/default": "false\n",
			"2/name": "nul\x00byte\n", "2/interface": "net/3\n", "2/default": "false\n",
			"3/name": "two\nlines\n", "3/interface": "net4\n", "3/default": "false\n",
			"4/name": "réseau données 网络 🚀\n", "4/default": "false\n",
			"5/name": "..\n", "5/default": "false\n",
			"6/name": ".\n", "6/default": "false\n",
		},
	},
	{
		name: "duplicate interface and network names",
		files: map[string]string{"annotations": statusFile(
			`{"name":"ns/a","interface":"net1","mac":"7e:12:9c:40:aa:01"}`,
			`{"name":"ns/a","interface":"net1","mac":"7e:12:9c:40:aa:02"}`,
		)},
		want: map[string]string{
			"0/name": "ns/a\n", "0/interface": "net1\n", "0/mac": "7e:12:9c:40:aa:01\n", "0/default": "false\n",
			"1/name": "ns/a\n", "1/interface": "net1\n", "1/mac": "7e:12:9c:40:aa:02\n", "1/default": "false\n",
		},
	},
	{
		name: "IPv6 and multiple IPs",
		files: map[string]string{"annotations": statusFile(
			`{"name":"dual","interface":"eth0","ips":["10.244.1.17","fd00:10:244:1::11","2001:db8::1",""],"gateway":["fe80::1","<nil>"],"default":true,` +
				`"dns":{"nameservers":["2001:db8::53"]}}`,
		)},
		want: map[string]string{
			"0/name": "dual\n", "0/interface": "eth0\n", "0/default": "true\n",
			"0/ips":             "10.244.1.17\nfd00:10:244:1::11\n2001:db8::1\n",
			"0/gateway":         "fe80::1\n",
			"0/dns/nameservers": "2001:db8::53\n",
		},
	},
	{
		name:  "device-info pci",
		files: map[string]string{"annotations": statusFile(pciEntry)},
		want: map[string]string{
			"0/name": "dataplane/sriov-left\n", "0/interface": "net1\n", "0/ips": "192.168.10.4\n",
			"0/mac": "7e:12:9c:40:aa:01\n", "0/default": "false\n", "0/pci": "0000:3b:02.1\n",
			"0/device-info/type": "pci\n", "0/device-info/version": "1.1.0\n",
			"0/device-info/pci-address":        "0000:3b:02.1\n",
			"0/device-info/vhost-net":          "/dev/vhost-net\n",
			"0/device-info/rdma-device":        "mlx5_7\n",
			"0/device-info/pf-pci-address":     "0000:3b:00.0\n",
			"0/device-info/representor-device": "eth7\n",
		},
	},
	{
		name: "device-info vhost-user",
		files: map[string]string{"annotations": statusFile(
			`{"name":"vhu","device-info":{"type":"vhost-user","version":"1.0.0","vhost-user":{"mode":"client","path":"/run/vhu.sock"}}}`)},
		want: map[string]string{
			"0/name": "vhu\n", "0/default": "false\n",
			"0/device-info/type": "vhost-user\n", "0/device-info/version": "1.0.0\n",
			"0/device-info/mode": "client\n", "0/device-info/path": "/run/vhu.sock\n",
		},
	},
	{
		name: "device-info memif",
		files: map[string]string{"annotations": statusFile(
			`{"name":"memif","device-info":{"type":"memif","version":"v1.0.0","memif":{"role":"slave","path":"/run/memif.sock","mode":"ip"}}}`)},
		want: map[string]string{
			"0/name": "memif\n", "0/default": "false\n",
			"0/device-info/type": "memif\n", "0/device-info/version": "1.0.0\n",
			"0/device-info/role": "slave\n", "0/device-info/path": "/run/memif.sock\n", "0/device-info/mode": "ip\n",
		},
	},
	{
		name: "device-info vdpa",
		files: map[string]string{"annotations": statusFile(
			`{"name":"vdpa","device-info":{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa:0000:65:00.3","driver":"vhost","path":"/dev/vhost-vdpa-1","pci-address":"0000:65:00.3","pf-pci-address":"0000:65:00.0","representor-device":"eth5"}}}`)},
		want: map[string]string{
			"0/name": "vdpa\n", "0/default": "false\n", "0/pci": "0000:65:00.3\n",
			"0/device-info/type": "vdpa\n", "0/device-info/version": "1.1.0\n",
			"0/device-info/parent-device": "vdpa:0000:65:00.3\n", "0/device-info/driver": "vhost\n",
			"0/device-info/path": "/dev/vhost-vdpa-1\n", "0/device-info/pci-address": "0000:65:00.3\n",
			"0/device-info/pf-pci-address": "0000:65:00.0\n", "0/device-info/representor-device": "eth5\n",
		},
	},
	{
		// An unknown type serves its type and version only: its fields
		// cannot be trusted to mean what the known types' fields mean.
		name: "device-info of an unknown type",
		files: map[string]string{"annotations": statusFile(
			`{"name":"future","device-info":{"type":"smartnic","version":"2.0.0","pci":{"pci-address":"0000:01:00.0"},"smartnic":{"x":"y"}}}`)},
		want: map[string]string{
			"0/name": "future\n", "0/default": "false\n",
			"0/device-info/type": "smartnic\n", "0/device-info/version": "2.0.0\n",
		},
	},
	{
		name: "device-info whose type names a missing object",
		files: map[string]string{"annotations": statusFile(
			`{"name":"half","device-info":{"type":"pci","version":"1.1.0"}}`)},
		want: map[string]string{
			"0/name": "half\n", "0/default": "false\n",
			"0/device-info/type": "pci\n", "0/device-info/version": "1.1.0\n",
		},
	},
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// setUp builds the row's podinfo directory in dir, which must be empty.
func (in badInput) setUp(t *testing.T, dir string) {
	t.Helper()
	if in.make != nil {
		in.make(t, dir)
		return
	}
	kubelettest.Write(t, dir, in.files)
}

// checkError fails the test unless err is what the row documents.
func (in badInput) checkError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if in.wantErr != nil && !errors.Is(err, in.wantErr) {
		t.Errorf("error %q, want one wrapping %q", err, in.wantErr)
	}
	if in.checkErr != nil && !in.checkErr(err) {
		t.Errorf("error %q (%T) is not the documented one", err, errors.Unwrap(err))
	}
}

// checkNetworks fails the test unless d is what the row documents.
func (in badInput) checkNetworks(t *testing.T, d *snapshot.Dir) {
	t.Helper()
	files := snapshotFiles(t, d)
	if in.check != nil {
		in.check(t, d)
	}
	if in.want != nil {
		diffFiles(t, files, in.want)
	}
}

// networksWithin calls Networks, failing the test if it does not return
// within 5 s (a FIFO opened for reading blocks until a writer comes).
func networksWithin(t *testing.T, p *sources.Podinfo) (*snapshot.Dir, error) {
	t.Helper()
	type result struct {
		d   *snapshot.Dir
		err error
	}
	done := make(chan result, 1)
	go func() {
		d, err := p.Networks()
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		return r.d, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("Networks() did not return within 5 s")
		return nil, nil
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	for _, in := range badInputs {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in.setUp(t, dir)
			got, err := networksWithin(t, sources.NewPodinfo(dir, nil))
			if in.bad {
				if got != nil {
					t.Errorf("Networks() returned %d networks along with its error", got.Len())
				}
				in.checkError(t, err)
				return
			}
			if err != nil {
				t.Fatalf("Networks(): %v", err)
			}
			in.checkNetworks(t, got)
		})
	}
}

// A Watcher fed good → bad → good for every bad input reports each bad
// step as an error with no networks, so the consumer keeps the last good
// ones, and reports the good networks again after each.
func TestBadInputWatcher(t *testing.T) {
	t.Parallel()
	good := badInput{
		files: map[string]string{"annotations": statusFile(`{"name":"ns/good","interface":"net1"}`)},
		want:  map[string]string{"0/name": "ns/good\n", "0/interface": "net1\n", "0/default": "false\n"},
	}
	dir := filepath.Join(t.TempDir(), "podinfo")
	w := sources.NewWatcher(sources.NewPodinfo(dir, nil), time.Hour)
	// set replaces the podinfo directory with in's.
	set := func(in badInput) {
		t.Helper()
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		in.setUp(t, dir)
	}
	poll := func(step string) sources.Update {
		t.Helper()
		done := make(chan sources.Update, 1)
		go func() {
			u, changed := w.Poll()
			if !changed {
				u = sources.Update{Err: errors.New("Poll reported no change")}
			}
			done <- u
		}()
		select {
		case u := <-done:
			return u
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Poll did not return within 5 s", step)
			return sources.Update{}
		}
	}

	set(good)
	if u := poll("first good"); u.Err != nil {
		t.Fatalf("first good: %v", u.Err)
	} else {
		good.checkNetworks(t, u.Networks)
	}
	for _, in := range badInputs {
		set(in)
		u := poll(in.name)
		if in.bad {
			if u.Networks != nil {
				t.Errorf("%s: update carries %d networks, want none", in.name, u.Networks.Len())
			}
			if u.Err == nil {
				t.Errorf("%s: update has no error", in.name)
			} else {
				t.Run(in.name, func(t *testing.T) { in.checkError(t, u.Err) })
			}
		} else {
			if u.Err != nil {
				t.Fatalf("%s: %v", in.name, u.Err)
			}
			t.Run(in.name, func(t *testing.T) { in.checkNetworks(t, u.Networks) })
		}
		set(good)
		u = poll(in.name + ", then good again")
		if u.Err != nil {
			t.Fatalf("good after %s: %v", in.name, u.Err)
		}
		t.Run(in.name+", then good again", func(t *testing.T) { good.checkNetworks(t, u.Networks) })
	}
}

// An annotations file the sidecar may not read, as with a Downward API
// volume's defaultMode: 0600 and a sidecar that is not root, is an error
// wrapping ErrPermission, which the watcher reports like any other bad
// input, keeping the last good networks. Root reads any file, so as root
// the read runs on one OS thread that has made itself nobody: Linux keeps
// credentials per thread, and the thread ends with its goroutine.
func TestBadInputUnreadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	kubelettest.Write(t, dir, map[string]string{"annotations": statusFile(`{"name":"ns/a","interface":"net1"}`)})
	if err := os.Chmod(filepath.Join(dir, "..data", "annotations"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		if os.Geteuid() == 0 {
			runtime.LockOSThread() // never unlocked, so the thread exits with the goroutine
			const nobody = 65534
			if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, nobody, nobody, nobody); errno != 0 {
				done <- fmt.Errorf("setresuid: %w", errno)
				return
			}
		} else if err := os.Chmod(filepath.Join(dir, "..data", "annotations"), 0); err != nil {
			done <- err
			return
		}
		got, err := sources.NewPodinfo(dir, nil).Networks()
		if got != nil {
			err = fmt.Errorf("Networks() returned %d networks along with %v", got.Len(), err)
		}
		done <- err
	}()
	if err := <-done; !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), filepath.Join(dir, "annotations")) {
		t.Errorf("Networks() error %v, want one wrapping ErrPermission and naming the file", err)
	}
}
