#!/usr/bin/env bash
# Fuzz each Fuzz target in ./sources/ for a bounded time, one at a time
# (go test -fuzz takes one target per run). Usage: hack/fuzz.sh [fuzztime]
# with fuzztime as go test takes it (30s, 2m, 1000x); default 2m.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-2m}
pkg=./sources/

# go test -list prints the matching names, then "ok <pkg> <time>".
mapfile -t targets < <(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no Fuzz targets found in $pkg" >&2
	exit 1
fi

echo "fuzz: ${#targets[@]} targets in $pkg, $time each"
total_start=$SECONDS
# The first -fuzz run compiles the package and its dependencies with
# coverage instrumentation (about a minute on a cold cache); do it once
# up front so that each target's time below is its fuzzing alone.
start=$SECONDS
log=$(mktemp)
if ! go test -run '^$' -fuzz "^${targets[0]}\$" -fuzztime 1x "$pkg" >"$log" 2>&1; then
	cat "$log"
	rm -f "$log"
	echo "fuzz: the instrumented build or ${targets[0]}'s seed corpus failed" >&2
	exit 1
fi
rm -f "$log"
printf 'fuzz: %-36s ok    %4ds\n' "(instrumented build)" $((SECONDS - start))
failed=()
for name in "${targets[@]}"; do
	start=$SECONDS
	log=$(mktemp)
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "$pkg" >"$log" 2>&1; then
		# The last progress line carries the executions done.
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 || true)
		printf 'fuzz: %-36s ok    %4ds %s\n' "$name" $((SECONDS - start)) "${execs:+($execs)}"
	else
		printf 'fuzz: %-36s FAIL  %4ds\n' "$name" $((SECONDS - start))
		cat "$log"
		failed+=("$name")
	fi
	rm -f "$log"
done
echo "fuzz: total $((SECONDS - total_start))s"

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]}" >&2
	echo "fuzz: go saved each failing input under sources/testdata/fuzz/<target>/;" >&2
	echo "fuzz: 'go test -run <target>/<file> ./sources/' replays one; commit it with the fix as a regression seed." >&2
	exit 1
fi
