// Package bench holds Go benchmarks of netutil-fs's read path, run with
//
//	go test -run '^$' -bench . ./bench/
//
// as root (they mount the filesystem in-process; without root or /dev/fuse
// the mounting ones skip). The end-to-end table of issue 4, against tmpfs and
// lxcfs and with the real binary, is `make bench` (bench/run.sh and
// bench/readbench).
package bench
