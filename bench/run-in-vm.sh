#!/usr/bin/env bash
# Runs inside the test VM: starts smafd and the C baseline server, runs
# smaf-bench against both in this one boot, and stops them.
#   bench/run-in-vm.sh SMAFD BUILD_DIR JSON_OUT [--short]
set -eu
SMAFD=$(realpath "$1")
BUILD=$(realpath "$2")
OUT=$3
shift 3
wait_node() {
	for _ in $(seq 1 200); do [ -c "/dev/$1" ] && return 0; sleep 0.05; done
	echo "bench: /dev/$1 did not appear" >&2
	return 1
}
env --default-signal=INT,TERM "$SMAFD" --foreground --log-level warning >/tmp/smafd-bench.log 2>&1 &
smafd=$!
env --default-signal=INT,TERM "$BUILD/cuse-baseline" --devname smaf-baseline &
baseline=$!
trap 'kill -TERM $smafd $baseline 2>/dev/null; wait' EXIT
wait_node smaf
wait_node smaf-baseline
"$BUILD/smaf-bench" --smafd-pid "$smafd" --json "$OUT" "$@"
