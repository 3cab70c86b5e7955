#!/usr/bin/env bash
# What CI runs for the end-to-end test (after `make test`): `make e2e` under a
# time limit. SIGTERM at the limit still tears the cluster down and prints the
# closing "N passed, N failed" line. Cold machine: 12-16 min (of which 10-13
# min build kube-apiserver/kubelet/kubectl once into /var/cache/netutil-e2e);
# warm: ~1 min.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec timeout --signal=TERM --kill-after=60s "${E2E_TIMEOUT:-35m}" make e2e
