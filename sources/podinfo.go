package sources

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
		data, err := readRegularFile(path, MaxPodinfoSize)
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
