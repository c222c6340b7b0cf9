#!/usr/bin/env bash
# VM tier: runs inside the test VM (root, /dev/cuse present, see vm/smaf-vm).
# The random-ioctl storm (issue 4): starts smafd, sends it 100,000 seeded
# random ioctl() calls (ioctl_storm.c: every 'S' nr, direction and size,
# other types, the v10 requests with random and plausible structs, odd fds,
# bad pointers), then checks that the same daemon is still running and still
# right: the C ABI test, libsmaf's test cases, buffer-test's cases and a raw
# CREATE through the shim pass against it, no buffer outlives the storm,
# smafctl's queries still work, and it stops cleanly. Prints "ok"/"FAIL" lines and "storm-tests: N passed, M failed".
#
#   Tests/vm/storm-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
#   SMAF_STORM_SEED=N repeats a run; SMAF_STORM_CALLS=N changes its length.
. "$(dirname "$0")/testlib.sh"
setup storm-tests "$1" "$2" ioctl-storm smaf-abi-test libsmaf-suite raw-create
SMAFCTL=$(dirname "$SMAFD")/smafctl
CALLS=${SMAF_STORM_CALLS:-100000}
# smafd runs at its default log level: at debug it writes a line per refused
# request, which halves the storm's rate under the VM's emulated CPU (the
# refusal messages themselves are rendered by the fuzzer, scripts/fuzz).
SMAFD_LOG_LEVEL=

log=$WORK/smafd.log
# Every allocator this kernel has, unnamed and by name. The storm's buffers
# queue up unread on its channel, and eager exporters (heaps, udmabuf)
# commit every page at CREATE: per-buffer and per-user byte limits keep
# that to a few hundred MiB (beyond them CREATE is ENOMEM, which the storm
# accepts), so the VM is not driven into memory pressure.
start_smafd "$log" --max-buffer-size 16M --max-bytes-per-user 256M || { finish; exit 1; }
rss0=$(rss_kb)

echo "# --- the storm: $CALLS random ioctl() calls"
storm=("$BIN/ioctl-storm" --calls "$CALLS")
[ -n "${SMAF_STORM_SEED:-}" ] && storm+=(--seed "$SMAF_STORM_SEED")
start=$(now_ms)
run_test "every reply to $CALLS random ioctls is a success or a documented errno" "${storm[@]}"
echo "# storm wall time: $(($(now_ms) - start)) ms"

expect "smafd is still running after the storm" kill -0 "$PID"
expect "/dev/smaf is still there" test -c /dev/smaf
live=$(wait_status live_buffers 0)
expect "no buffer outlives the storm process (live_buffers=$live)" test "${live%% *}" = 0
channels=$(wait_status channels 0)
expect "its handoff channel is gone (channels=$channels)" test "${channels%% *}" = 0
rss1=$(rss_kb)
echo "# smafd VmRSS: ${rss0:-?} kB before the storm, ${rss1:-?} kB after"

echo "# --- the same daemon still does its job"
run_test "smafctl status still gets an answer (requests and refusals of the storm)" "$SMAFCTL" status
run_test "C ABI test passes after the storm" "$BIN/smaf-abi-test" $(expected_allocator_args)
run_test "libsmaf-suite passes after the storm" "$BIN/libsmaf-suite" --secure-mmap succeed
# buffer-tests.sh's cases that fit the default configuration, against this daemon.
for sub in share flags survive zero threads secure-grant; do
	run_test "buffer-test $sub passes after the storm" "$BIN/buffer-test" "$sub"
done
run_test "raw CREATE through the shim passes after the storm" \
	env LD_PRELOAD="$BIN/libsmaf-preload.so" "$BIN/raw-create" expect-fd

stop_smafd
if [ "$fail" != 0 ]; then
	echo "# last lines of smafd's log:"
	tail -n 20 "$log" | sed 's/^/    /'
fi
finish
