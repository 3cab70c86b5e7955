#!/usr/bin/env python3
"""Prints what netutil-fs tells this process, with plain file reads."""
import os
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else "/etc/netutil/fs"


def read(*path):
    """Returns the file's lines, or None when the value is not known."""
    try:
        with open(os.path.join(ROOT, *path)) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return None


def main():
    print("cpuset:", read("cpu")[0])
    print("HOME:", (read("env", "HOME") or ["-"])[0])
    networks = sorted(os.listdir(os.path.join(ROOT, "networks")), key=int)
    for n in networks:
        fields = {f: read("networks", n, f) for f in ("name", "interface", "ips", "mac", "pci")}
        print(f"network {n}: " + " ".join(f"{k}={','.join(v) if v else '-'}" for k, v in fields.items()))


if __name__ == "__main__":
    main()
