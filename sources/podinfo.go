package sources

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/netutil-fs/netutil-fs/snapshot"
)

// The files a Downward API volume can hold the network status in: every
// annotation as key="value" lines, or the one annotation as raw JSON.
const (
	AnnotationsFile   = "annotations"
	NetworkStatusFile = "network-status"
)

// MaxPodinfoSize bounds what is read from a podinfo file. The API server caps
// all of a pod's annotations at 256 KiB; this leaves room and still bounds
// memory whatever sits in the directory.
const MaxPodinfoSize = 4 << 20

var (
	// ErrNoPodinfo means the podinfo directory holds neither file.
	ErrNoPodinfo = errors.New("no podinfo file")
	// ErrNotReady means the file is empty, as the kubelet leaves it for a
	// few seconds after a pod starts (Kubernetes 1.27 and later).
	ErrNotReady = errors.New("podinfo file is empty")
	// ErrTooLarge means the file is larger than MaxPodinfoSize.
	ErrTooLarge = errors.New("podinfo file too large")
	// ErrNotRegular means the file is a directory, a FIFO, a device or
	// anything else that is not a regular file.
	ErrNotRegular = errors.New("podinfo file is not a regular file")
)

// Podinfo reads a pod's network attachments from its Downward API directory.
type Podinfo struct {
	dir string
	pci PCIResolver
}

// NewPodinfo reads from dir; pci, when not nil, names the PCI device of
// interfaces whose device-info does not.
func NewPodinfo(dir string, pci PCIResolver) *Podinfo {
	return &Podinfo{dir: dir, pci: pci}
}

// Dir returns the podinfo directory.
func (p *Podinfo) Dir() string { return p.dir }

// Networks reads the podinfo directory and builds the networks/ tree.
func (p *Podinfo) Networks() (*snapshot.Dir, error) {
	path, data, err := p.read()
	if err != nil {
		return nil, err
	}
	return p.parse(path, data)
}

// read returns the bytes of the file that holds the network status.
func (p *Podinfo) read() (string, []byte, error) {
	for _, name := range []string{AnnotationsFile, NetworkStatusFile} {
		path := filepath.Join(p.dir, name)
		// Lstat, not Stat: a dangling symlink, seen for a moment while
		// the kubelet swaps ..data, is an error to wait out, not a
		// missing file.
		if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
			continue
		}
		klog.V(4).InfoS("Reading", "path", path)
		data, err := readLimited(path, MaxPodinfoSize)
		if err != nil {
			return path, nil, err
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return path, nil, fmt.Errorf("%s: %w", path, ErrNotReady)
		}
		return path, data, nil
	}
	return "", nil, fmt.Errorf("%s has no %s or %s file: %w", p.dir, AnnotationsFile, NetworkStatusFile, ErrNoPodinfo)
}

func (p *Podinfo) parse(path string, data []byte) (*snapshot.Dir, error) {
	if filepath.Base(path) == NetworkStatusFile {
		statuses, err := ParseNetworkStatus(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return NetworksDir(statuses, p.pci), nil
	}
	annotations, err := ParseAnnotations(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	statuses, err := NetworkStatusFromAnnotations(annotations)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return NetworksDir(statuses, p.pci), nil
}

// readLimited reads a whole regular file, failing rather than reading past
// limit. It opens with O_NONBLOCK, which does not change how a regular file
// reads, so that a FIFO put in the file's place cannot block the open (and
// with it the watcher) until a writer comes; fstat then refuses anything
// but a regular file, checking the file actually opened rather than racing
// a separate stat.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s: %w", path, fileKind(info.Mode()), ErrNotRegular)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is over %d bytes: %w", path, limit, ErrTooLarge)
	}
	return data, nil
}

// fileKind names what a file that is not a regular file is, for errors.
func fileKind(mode os.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&os.ModeNamedPipe != 0:
		return "a FIFO"
	case mode&os.ModeSocket != 0:
		return "a socket"
	case mode&os.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file (" + mode.Type().String() + ")"
}
