# Example application image: busybox (a shell for the start command of
# deploy/pod.yaml and for `kubectl exec` checks) plus bin/netutil-client.
# The context is prepared by hack/image.sh: rootfs/ holds Debian's static
# /bin/busybox with one symlink per applet, and bin/ the built client.
FROM scratch
COPY rootfs/ /
COPY bin/netutil-client /usr/local/bin/netutil-client
ENV PATH=/usr/local/bin:/bin
ENTRYPOINT ["/bin/sh"]
