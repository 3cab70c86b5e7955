# netutil-fs sidecar image: the prebuilt static binaries and nothing else
# (no shell, no libc, no fusermount: netutil-fs mounts /dev/fuse itself).
# Build with `make image` (it runs `make build` first); by hand:
#   make build && podman build -t localhost/netutil-fs:dev .
# There is no builder stage on purpose: these machines reach no image
# registry, so the binaries are built by the host's Go toolchain
# (CGO_ENABLED=0) and copied in.
FROM scratch
COPY bin/netutil-fs /netutil-fs
# netutil-client --check is the startupProbe/livenessProbe of deploy/pod.yaml.
COPY bin/netutil-client /netutil-client
ENTRYPOINT ["/netutil-fs"]
CMD ["--mountpoint=/etc/netutil/fs", "--podinfo-dir=/etc/podinfo"]
