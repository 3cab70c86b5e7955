package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// kubeletVolume writes a directory the way the kubelet's AtomicWriter writes
// a Downward API volume: the files live in a hidden timestamped directory,
// "..data" is a symlink to it, and each visible name is a symlink through
// "..data". An update writes a new timestamped directory, renames a new
// "..data" symlink over the old one, then removes the old directory.
type kubeletVolume struct {
	dir string
	cur string // name of the current timestamped directory
}

const dataDirName = "..data"

// newKubeletVolume creates dir (which must not hold a volume yet) with files.
func newKubeletVolume(dir string, files map[string][]byte) (*kubeletVolume, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create volume dir: %w", err)
	}
	v := &kubeletVolume{dir: dir}
	swap, err := v.prepare(files)
	if err != nil {
		return nil, err
	}
	if err := swap(); err != nil {
		return nil, err
	}
	for name := range files {
		if err := os.Symlink(filepath.Join(dataDirName, name), filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("create visible symlink: %w", err)
		}
	}
	return v, nil
}

// prepare writes files into a new timestamped directory and a "..data_tmp"
// symlink to it. The returned function does the atomic step, the rename over
// "..data", and then removes the previous directory, as the kubelet does.
func (v *kubeletVolume) prepare(files map[string][]byte) (func() error, error) {
	ts, err := os.MkdirTemp(v.dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return nil, fmt.Errorf("create timestamped dir: %w", err)
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return nil, fmt.Errorf("chmod timestamped dir: %w", err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(ts, name), content, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	tmp := filepath.Join(v.dir, dataDirName+"_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return nil, fmt.Errorf("create %s_tmp symlink: %w", dataDirName, err)
	}
	return func() error {
		if err := os.Rename(tmp, filepath.Join(v.dir, dataDirName)); err != nil {
			return fmt.Errorf("rename %s_tmp over %s: %w", dataDirName, dataDirName, err)
		}
		old := v.cur
		v.cur = filepath.Base(ts)
		if old != "" {
			if err := os.RemoveAll(filepath.Join(v.dir, old)); err != nil {
				return fmt.Errorf("remove old timestamped dir: %w", err)
			}
		}
		return nil
	}, nil
}

// measureSwap changes the first IP of networks/0/ips in the annotations,
// swaps the volume as the kubelet does, and times from the rename until a
// fresh open of the file reads the new bytes.
func (b *bench) measureSwap(ctx context.Context) error {
	const rel = "networks/0/ips"
	path := filepath.Join(b.mnt, rel)
	ann, err := os.ReadFile(filepath.Join(b.podinfo.dir, "annotations"))
	if err != nil {
		return fmt.Errorf("read podinfo annotations: %w", err)
	}
	cur, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", rel, err)
	}
	ip, _, _ := strings.Cut(strings.TrimSpace(string(cur)), "\n")
	if ip == "" || !bytes.Contains(ann, []byte(ip)) {
		return fmt.Errorf("%s reads %q, which the annotations do not contain: pick a sample whose first network has an IP", rel, cur)
	}
	p, err := newCPath(path)
	if err != nil {
		return err
	}
	r := newReader()
	var samples []int64
	stale := 0
	b.logf("%d annotation swaps, polling %s every 50µs", b.c.swapRuns, rel)
	for i := range b.c.swapRuns {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		newIP := fmt.Sprintf("10.250.%d.%d", i/250, i%250+1)
		newAnn := bytes.ReplaceAll(ann, []byte(ip), []byte(newIP))
		want := bytes.ReplaceAll(cur, []byte(ip), []byte(newIP))
		swap, err := b.podinfo.prepare(map[string][]byte{"annotations": newAnn})
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := swap(); err != nil {
			return err
		}
		var seen time.Time
		deadline := t0.Add(5 * time.Second)
		for seen.IsZero() {
			got, err := readAll(r, p)
			switch {
			case err == nil && bytes.Equal(got, want):
				seen = time.Now()
			case time.Now().After(deadline):
				err := fmt.Errorf("swap %d: %s still reads %q 5s after the swap (last error %v)", i, rel, got, err)
				b.report.swap(samples, stale, err)
				return err
			default:
				time.Sleep(50 * time.Microsecond)
			}
		}
		samples = append(samples, seen.Sub(t0).Nanoseconds())
		// Once new bytes were read, old ones must never come back.
		for range 20 {
			if got, err := readAll(r, p); err != nil || !bytes.Equal(got, want) {
				stale++
			}
		}
		ann, cur, ip = newAnn, want, newIP
		time.Sleep(20 * time.Millisecond)
	}
	var err2 error
	if stale > 0 {
		err2 = fmt.Errorf("%d reads after a swap was visible returned old content or failed", stale)
	}
	b.report.swap(samples, stale, err2)
	return err2
}

// readAll is readOnce that keeps the bytes (files here are small).
func readAll(r *reader, p cpath) ([]byte, error) {
	n, err := r.readOnce(p)
	if err != nil {
		return nil, err
	}
	if n > len(r.buf)/2 {
		return nil, errors.New("file larger than the read buffer")
	}
	return bytes.Clone(r.buf[:n]), nil
}
