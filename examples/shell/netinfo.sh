#!/bin/sh
# Prints what netutil-fs tells this process, using nothing but the shell.
# Usage: netinfo.sh [mountpoint]   (default /etc/netutil/fs)
set -eu
root=${1:-/etc/netutil/fs}

read -r cpus < "$root/cpu"
echo "cpuset: $cpus"

# A value that is not known is a file that is not there.
value() { if [ -e "$1" ]; then paste -sd, "$1"; else echo -; fi; }

for dir in "$root"/networks/*/; do
	[ -d "$dir" ] || continue
	n=$(basename "$dir")
	echo "network $n: name=$(value "$dir/name") interface=$(value "$dir/interface") ips=$(value "$dir/ips") mac=$(value "$dir/mac") pci=$(value "$dir/pci")"
done
