// Package fs serves snapshot trees and per-reader files as a read-only FUSE
// filesystem:
//
//	cpu             the reading process's cpuset
//	env/<VAR>       the reading process's environment
//	networks/…      the current networks snapshot, the same for every reader
//
// It knows nothing about where content comes from: per-reader content is
// asked of a Processes value for the process the kernel names in each
// request, and shared content arrives as snapshot.Dir values via
// Root.SetNetworks.
//
// # Caching
//
// A file's inode number stands for its content and who may see it: two
// shared files with equal bytes share a number, an env/ file's number is
// never handed to another reading thread (see contentKey), and a number is
// never given to other bytes. That makes every file immutable, so the kernel
// may keep its pages for as long as it likes, and OPEN and FLUSH are answered
// ENOSYS, which the kernel remembers for the mount: a warm read is served
// from the page cache with no round trip to this process.
//
// What varies is which inode a name resolves to. Per-reader names (cpu,
// env/<VAR>) are looked up with an entry timeout of zero, so each open asks
// this process, for the caller, which inode it gets. Shared names live in a
// tree of directories that belongs to one snapshot generation and never
// changes; a new snapshot gets new directory inodes, and the kernel is told to
// drop its cached "networks" entry, so the next path walk enters the new tree
// while a process already inside the old one keeps a consistent view of it.
package fs
