#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: runs inside the test VM (root, /dev/cuse present, see vm/smaf-vm).
# Checks SMAF buffers end to end: smafd hands buffer fds over its handoff
# socket to libsmaf and to the LD_PRELOAD shim, and the C programs the
# Makefile builds check what those fds do, under each secure module. Prints
# "ok"/"FAIL" lines and "buffer-tests: N passed, M failed".
#
#   Tests/vm/buffer/buffer-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
. "$(dirname "$0")/../testlib.sh"
setup buffer-tests "$1" "$2" buffer-libsmaf-suite buffer-raw-create abi-test hello-smaf
expect "the test programs find libsmaf.so.0 next to themselves" \
	bash -c "ldd '$BIN/buffer-test' | grep -q '=> $BIN/libsmaf.so.0'"

# ---- 1. testsecure (the default), with the legacy name smaf-cma ------------
log=$WORK/testsecure.log
start_smafd "$log" --alias smaf-cma=smaf-memfd
echo "# --- GET_INFO and the raw ABI (never connects, so CREATE stays ENOTCONN)"
# The alias ranks with smaf-memfd (0) and sorts before it by name.
run_test "GET_INFO lists every allocator, smaf-cma just before smaf-memfd" \
	"$BIN/abi-test" --device /dev/smaf --secure-module testsecure $(expected_allocator_args | sed 's/--allocator smaf-memfd/--allocator smaf-cma &/')
echo "# --- libsmaf's test cases"
run_test "buffer-libsmaf-suite (mmap of a secure buffer succeeds)" "$BIN/buffer-libsmaf-suite" --secure-mmap succeed
for sub in share flags survive zero threads secure-grant; do
	echo "# --- buffer-test $sub"
	run_test "buffer-test $sub" "$BIN/buffer-test" "$sub"
done
echo "# --- raw ioctl() clients"
run_test "raw CREATE under LD_PRELOAD=libsmaf-preload.so gets a real, mappable fd" \
	env LD_PRELOAD="$BIN/libsmaf-preload.so" "$BIN/buffer-raw-create" expect-fd
run_test "raw CREATE without the shim fails with ENOTCONN, fd field untouched" "$BIN/buffer-raw-create" expect-enotconn

echo "# --- an unprivileged user (what the udev rule allows)"
chgrp nogroup /dev/smaf && chmod 0660 /dev/smaf
run_test "buffer-libsmaf-suite as nobody:nogroup after chgrp/chmod 0660" as_nobody "$BIN/buffer-libsmaf-suite" --secure-mmap succeed

echo "# --- 4 processes x 500 buffers at once"
pids=()
for i in 1 2 3 4; do
	"$BIN/buffer-test" stress 500 >"$WORK/stress.$i" 2>&1 &
	pids+=($!)
done
all=0
for p in "${pids[@]}"; do wait "$p" || all=1; done
for i in 1 2 3 4; do sed 's/^/    /' "$WORK/stress.$i"; done
expect "4 concurrent processes x 500 creates all succeed" test "$all" = 0

echo "# --- lifetime: 10,000 buffers"
live=$(wait_status live_buffers 0)
expect "no buffer is live before the run (live_buffers=$live)" test "${live%% *}" = 0
created0=$(status_field created_total)
rss0=$(rss_kb)
run_test "10,000 buffers created and closed" "$BIN/buffer-test" stress 10000
created1=$(status_field created_total)
expect "created_total grew by exactly 10000 (${created0:-?} -> ${created1:-?})" \
	test "$((${created1:-0} - ${created0:-0}))" = 10000
live=$(wait_status live_buffers 0)
expect "live_buffers returns to 0 once they are closed (live_buffers=$live)" test "${live%% *}" = 0
bytes=$(status_field live_bytes)
expect "live_bytes is back to 0 (live_bytes=${bytes:-?})" test "${bytes:-x}" = 0
rss1=$(rss_kb)
echo "# smafd VmRSS: ${rss0:-?} kB at the start, ${rss1:-?} kB after 10,000 buffers (allowed: +8192 kB)"
expect "smafd's RSS stays within 8 MiB of its start (${rss0:-?} -> ${rss1:-?} kB)" \
	test "${rss1:-999999999}" -le $((${rss0:-0} + 8192))
channels=$(wait_status channels 0)
expect "every client's handoff channel is gone once it exited (channels=$channels)" test "${channels%% *}" = 0

echo "# --- the libsmaf example of docs/using-from-c.md (examples/hello_smaf.c)"
out=$("$BIN/hello-smaf" 2>&1)
echo "$out" | sed 's/^/    /'
expect "hello-smaf: the child reads the parent's data and the parent the child's, secure set" \
	test "$out" = "$(printf 'child reads: hello from the parent\nparent reads: hello from the child\nset_secure: 0, get_secure: 1')"

echo "# --- inotify watch exhaustion"
watches=$(cat /proc/sys/fs/inotify/max_user_watches)
echo 25 >/proc/sys/fs/inotify/max_user_watches
run_test "running out of inotify watches gives ENOSPC, earlier buffers unharmed" "$BIN/buffer-test" hold 40
echo "$watches" >/proc/sys/fs/inotify/max_user_watches
live=$(wait_status live_buffers 0)
expect "  ... and nothing leaks (live_buffers=$live)" test "${live%% *}" = 0
expect "  ... smafd says which limit to raise" grep -q "raise fs.inotify.max_user_watches" "$log"
run_test "  ... and creating works again once watches are free" "$BIN/buffer-test" stress 20
stop_smafd

echo "# --- inotify's event queue overflows: the ends are found by a re-scan"
# An inotify instance takes fs.inotify.max_queued_events when it is made:
# smafd started under 16 keeps 16; 300 buffers ending at once queue 600 events.
queued=$(cat /proc/sys/fs/inotify/max_queued_events)
echo 16 >/proc/sys/fs/inotify/max_queued_events
log=$WORK/overflow.log
start_smafd "$log"
echo "$queued" >/proc/sys/fs/inotify/max_queued_events
for round in 1 2 3; do
	run_test "round $round: 300 buffers created, held, and closed together by the exit" "$BIN/buffer-test" keep 300
	live=$(wait_status live_buffers 0)
	expect "  ... every one of them is forgotten (live_buffers=$live)" test "${live%% *}" = 0
done
expect "  ... smafd saw the overflow and re-scanned its watches" \
	grep -q "inotify dropped events (its queue overflowed): [0-9]* ended buffers found by re-scanning" "$log"
grep -o "inotify dropped events.*" "$log" | head -3 | sed 's/^/    /'
expect "  ... and smafctl status --json counts the re-scans (ahead.inotify_rescans)" \
	bash -c "'$(dirname "$SMAFD")/smafctl' status --json | grep -q '\"inotify_rescans\" *: *[1-9]'"
run_test "  ... and creating works on" "$BIN/buffer-test" stress 20
stop_smafd

# ---- 2. deny-cpu: CPU access to secure buffers is refused ------------------
log=$WORK/deny-cpu.log
start_smafd "$log" --secure-module deny-cpu
echo "# --- libsmaf's test cases, OP-TEE-era expectation"
run_test "buffer-libsmaf-suite (mmap of a secure buffer fails)" "$BIN/buffer-libsmaf-suite" --secure-mmap fail
echo "# --- buffer-test secure-deny"
run_test "buffer-test secure-deny" "$BIN/buffer-test" secure-deny
stop_smafd

# ---- 3. no secure module, on another node reached through $SMAF_DEVICE ------
NODE=smaf-none
log=$WORK/none.log
start_smafd "$log" --secure-module none --devname "$NODE"
export SMAF_DEVICE=/dev/$NODE
expect "only /dev/$NODE exists, so libsmaf must follow SMAF_DEVICE" test ! -e /dev/smaf
echo "# --- buffer-test secure-none"
run_test "buffer-test secure-none (SET fails with EINVAL, GET reads 0)" "$BIN/buffer-test" secure-none
run_test "libsmaf creates buffers on \$SMAF_DEVICE=/dev/$NODE" "$BIN/buffer-test" stress 20
unset SMAF_DEVICE
stop_smafd

finish
