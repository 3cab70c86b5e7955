// Package sources reads the world a pod's sidecar can see: the Downward API
// podinfo directory with the Multus network-status annotation, /proc for a
// process's environment and cgroups, cgroupfs for cpusets, and sysfs for the
// PCI address behind a network interface.
//
// It knows nothing about FUSE. What it reads becomes a snapshot.Dir, the plain
// value the filesystem serves. Every root it reads from (/proc, /sys, the
// podinfo directory) is passed in, so tests point it at temporary trees.
package sources
