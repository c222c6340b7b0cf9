#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: runs inside the test VM (root, /dev/cuse present, see vm/smaf-vm).
# The random-ioctl storm: starts smafd, sends it 80,000 seeded
# random ioctl() calls (storm_test.c: every 'S' nr, direction and size,
# other types, the v10 requests with random and plausible structs, odd fds,
# bad pointers, the legacy numbers of every generation, which a default
# smafd must all answer with EINVAL), then checks that the same daemon is
# still running and still right: the C ABI test, libsmaf's test cases,
# buffer-test's cases and a raw CREATE through the shim pass against it, no
# buffer outlives the storm, smafctl's queries still work, and it stops
# cleanly. Then a second storm of 20,000 calls against smafd
# --abi-generations all (the legacy requests served, with
# well-formed structs too), after which the same daemon must pass the v7
# program and libsmaf's test cases. Prints "ok"/"FAIL" lines and
# "storm-tests: N passed, M failed".
#
#   Tests/vm/storm/storm-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
#   SMAF_STORM_SEED=N repeats a run; SMAF_STORM_CALLS=N and
#   SMAF_STORM_CALLS_ALL=N change the two storms' lengths.
. "$(dirname "$0")/../testlib.sh"
setup storm-tests "$1" "$2" storm-test abi-test buffer-libsmaf-suite buffer-raw-create generations-v7
SMAFCTL=$(dirname "$SMAFD")/smafctl
# 80,000 + 20,000: as long as the single 100,000-call storm before the older generations were served.
CALLS=${SMAF_STORM_CALLS:-80000}
CALLS_ALL=${SMAF_STORM_CALLS_ALL:-20000}
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

echo "# --- the storm: $CALLS random ioctl() calls (legacy generations not enabled: all EINVAL)"
storm=("$BIN/storm-test" --calls "$CALLS" --generations v10)
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
run_test "C ABI test passes after the storm" "$BIN/abi-test" $(expected_allocator_args)
run_test "buffer-libsmaf-suite passes after the storm" "$BIN/buffer-libsmaf-suite" --secure-mmap succeed
# buffer-tests.sh's cases that fit the default configuration, against this daemon.
for sub in share flags survive zero threads secure-grant; do
	run_test "buffer-test $sub passes after the storm" "$BIN/buffer-test" "$sub"
done
run_test "raw CREATE through the shim passes after the storm" \
	env LD_PRELOAD="$BIN/libsmaf-preload.so" "$BIN/buffer-raw-create" expect-fd

stop_smafd
[ "$fail" != 0 ] && { echo "# last lines of smafd's log:"; tail -n 20 "$log" | sed 's/^/    /'; }

# ---- the storm again, every legacy generation served -----------------------------
fail0=$fail
log=$WORK/smafd-all.log
start_smafd "$log" --abi-generations all --max-buffer-size 16M --max-bytes-per-user 256M || { finish; exit 1; }
echo "# --- the storm: $CALLS_ALL random ioctl() calls, smafd --abi-generations all"
storm=("$BIN/storm-test" --calls "$CALLS_ALL" --generations all)
[ -n "${SMAF_STORM_SEED:-}" ] && storm+=(--seed "$SMAF_STORM_SEED")
start=$(now_ms)
run_test "every reply to $CALLS_ALL random ioctls, legacy ones served, is a success or a documented errno" "${storm[@]}"
echo "# storm wall time: $(($(now_ms) - start)) ms"
expect "smafd --abi-generations all is still running after the storm" kill -0 "$PID"
live=$(wait_status live_buffers 0)
expect "no buffer outlives the storm process (live_buffers=$live)" test "${live%% *}" = 0
channels=$(wait_status channels 0)
expect "its handoff channel is gone (channels=$channels)" test "${channels%% *}" = 0
run_test "the v7 program passes through the shim after the storm" \
	env LD_PRELOAD="$BIN/libsmaf-preload.so" "$BIN/generations-v7" $(expected_allocator_args)
run_test "buffer-libsmaf-suite passes after the storm" "$BIN/buffer-libsmaf-suite" --secure-mmap succeed
stop_smafd
[ "$fail" != "$fail0" ] && { echo "# last lines of smafd's log:"; tail -n 20 "$log" | sed 's/^/    /'; }
finish
