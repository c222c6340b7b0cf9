#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM: starts smafd twice and the C baseline server, runs
# smaf-bench against them in this one boot, and stops them.
#   bench/run-in-vm.sh SMAFD BUILD_DIR JSON_OUT [--short]
# /dev/smaf is smafd as installed: every allocator this kernel has (boot the
# VM with vivid/vgem, huge pages and secretmem.enable=1 for all of them, as
# scripts/bench does). /dev/smaf-memfd is smafd --allocators smaf-memfd, the
# configuration where memfd serves CREATE and smafd prepares memfds ahead:
# the memfd-era rows (CREATE target, secure flag, bandwidth, growth,
# throughput) run there, so they keep measuring what they always did.
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
env --default-signal=INT,TERM "$SMAFD" --foreground --log-level warning --devname smaf-memfd \
	--allocators smaf-memfd >/tmp/smafd-memfd-bench.log 2>&1 &
smafd_memfd=$!
env --default-signal=INT,TERM "$BUILD/cuse-baseline" --devname smaf-baseline &
baseline=$!
trap 'kill -TERM $smafd $smafd_memfd $baseline 2>/dev/null; wait' EXIT
wait_node smaf
wait_node smaf-memfd
wait_node smaf-baseline
"$BUILD/smaf-bench" --smafd-pid "$smafd_memfd" --device /dev/smaf --memfd-device /dev/smaf-memfd --json "$OUT" "$@" || {
	r=$?
	echo "bench: smaf-bench failed ($r); smafd's log:" >&2
	cat /tmp/smafd-bench.log /tmp/smafd-memfd-bench.log >&2
	exit $r
}
