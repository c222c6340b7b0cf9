#!/usr/bin/env bash
# VM tier: runs inside the test VM (root, /dev/cuse present, see vm/smaf-vm).
# Checks SMAF buffers end to end: smafd hands buffer fds over its handoff
# socket to libsmaf and to the LD_PRELOAD shim, and the C programs the
# Makefile builds check what those fds do, under each secure module. Prints
# "ok"/"FAIL" lines and "buffer-tests: N passed, M failed".
#
#   Tests/vm/buffer-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
set -u
. "$(dirname "$0")/testlib.sh"
SMAFD=$(realpath "$1")
BUILD=$(realpath "$2")
WORK=$(mktemp -d /tmp/smaf-buffer-tests.XXXXXX)
# The checkout may sit in a private directory (a mktemp clone): copy the
# programs and libraries where every user can reach them. The programs find
# libsmaf.so.0 next to themselves ($ORIGIN rpath).
chmod 0755 "$WORK"
BIN=$WORK/bin
mkdir -m 0755 "$BIN"
for f in libsmaf.so.0.1.0 libsmaf-preload.so libsmaf-suite buffer-test raw-create smaf-abi-test hello-smaf; do
	install -m 0755 "$BUILD/$f" "$BIN/$f" || { echo "buffer-tests: $BUILD/$f is missing (run scripts/build-c)"; exit 1; }
done
ln -s libsmaf.so.0.1.0 "$BIN/libsmaf.so.0"
PID=


# run_test DESCRIPTION COMMAND...: runs a C test program, shows its output
# indented and counts one result from its exit status.
run_test() {
	local what=$1 rc
	shift
	"$@" >"$WORK/out" 2>&1
	rc=$?
	sed 's/^/    /' "$WORK/out"
	if [ "$rc" = 0 ]; then ok "$what"; else bad "$what (exit $rc)"; fi
}

# Waits up to 5 s for /dev/NAME; prints how long it took.
wait_node() {
	local node=/dev/$1 start
	start=$(now_ms)
	for _ in $(seq 1 100); do
		[ -c "$node" ] && { echo $(($(now_ms) - start)); return 0; }
		sleep 0.05
	done
	return 1
}

wait_gone() {
	for _ in $(seq 1 100); do
		[ -e "/dev/$1" ] || [ -e "/sys/class/cuse/$1" ] || return 0
		sleep 0.05
	done
	return 1
}

# The node the current smafd serves (--devname).
NODE=smaf

# start_smafd LOG ARGS...: foreground smafd at debug level, PID set; waits
# for /dev/$NODE.
start_smafd() {
	local log=$1 ms
	shift
	# A script's background jobs inherit SIGINT ignored; undo that so the
	# daemon sees the signals a user at a terminal would send.
	env --default-signal=INT,TERM,HUP "$SMAFD" --foreground --log-level debug "$@" >"$log" 2>&1 &
	PID=$!
	if ms=$(wait_node "$NODE"); then
		ok "smafd $* serves /dev/$NODE (${ms} ms)"
	else
		bad "smafd $* did not create /dev/$NODE within 5 s"
		cat "$log"
	fi
}

# stop_smafd: SIGTERM; the daemon must exit 0 and the node must go away.
stop_smafd() {
	local rc
	kill -TERM "$PID"
	for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$PID" 2>/dev/null; then
		bad "smafd still running 5 s after SIGTERM; killing it"
		kill -KILL "$PID"
	fi
	wait "$PID"
	rc=$?
	expect "smafd exits 0 on SIGTERM (rc=$rc)" test "$rc" = 0
	expect "/dev/$NODE is removed" wait_gone "$NODE"
}

# status_field NAME: one field of SMAF_IOC_EXT_STATUS, from buffer-test status.
status_field() {
	"$BIN/buffer-test" status | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# wait_status NAME VALUE: polls for up to ~10 s until the field has VALUE;
# prints the last value seen.
wait_status() {
	local v=
	for _ in $(seq 1 100); do
		v=$(status_field "$1")
		[ "$v" = "$2" ] && break
		sleep 0.1
	done
	echo "${v:-?}"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status"; }

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }

echo "# kernel $(uname -r), smafd $SMAFD, programs from $BUILD"
expect "the test programs find libsmaf.so.0 next to themselves" \
	bash -c "ldd '$BIN/buffer-test' | grep -q '=> $BIN/libsmaf.so.0'"

# ---- 1. testsecure (the default), with the legacy name smaf-cma ------------
log=$WORK/testsecure.log
start_smafd "$log" --alias smaf-cma=smaf-memfd
echo "# --- GET_INFO and the raw ABI (never connects, so CREATE stays ENOTCONN)"
run_test "GET_INFO lists smaf-cma and smaf-memfd" \
	"$BIN/smaf-abi-test" --device /dev/smaf --secure-module testsecure --allocator smaf-cma --allocator smaf-memfd
echo "# --- libsmaf's test cases"
run_test "libsmaf-suite (mmap of a secure buffer succeeds)" "$BIN/libsmaf-suite" --secure-mmap succeed
for sub in share flags survive zero threads secure-grant; do
	echo "# --- buffer-test $sub"
	run_test "buffer-test $sub" "$BIN/buffer-test" "$sub"
done
echo "# --- raw ioctl() clients"
run_test "raw CREATE under LD_PRELOAD=libsmaf-preload.so gets a real, mappable fd" \
	env LD_PRELOAD="$BIN/libsmaf-preload.so" "$BIN/raw-create" expect-fd
run_test "raw CREATE without the shim fails with ENOTCONN, fd field untouched" "$BIN/raw-create" expect-enotconn

echo "# --- an unprivileged user (what the udev rule allows)"
chgrp nogroup /dev/smaf && chmod 0660 /dev/smaf
run_test "libsmaf-suite as nobody:nogroup after chgrp/chmod 0660" as_nobody "$BIN/libsmaf-suite" --secure-mmap succeed

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
expect "no buffer is live before the run (live_buffers=$live)" test "$live" = 0
created0=$(status_field created_total)
rss0=$(rss_kb)
run_test "10,000 buffers created and closed" "$BIN/buffer-test" stress 10000
created1=$(status_field created_total)
expect "created_total grew by exactly 10000 (${created0:-?} -> ${created1:-?})" \
	test "$((${created1:-0} - ${created0:-0}))" = 10000
live=$(wait_status live_buffers 0)
expect "live_buffers returns to 0 once they are closed (live_buffers=$live)" test "$live" = 0
bytes=$(status_field live_bytes)
expect "live_bytes is back to 0 (live_bytes=${bytes:-?})" test "${bytes:-x}" = 0
rss1=$(rss_kb)
echo "# smafd VmRSS: ${rss0:-?} kB at the start, ${rss1:-?} kB after 10,000 buffers (allowed: +8192 kB)"
expect "smafd's RSS stays within 8 MiB of its start (${rss0:-?} -> ${rss1:-?} kB)" \
	test "${rss1:-999999999}" -le $((${rss0:-0} + 8192))
channels=$(wait_status channels 0)
expect "every client's handoff channel is gone once it exited (channels=$channels)" test "$channels" = 0

echo "# --- the README's example (examples/hello_smaf.c)"
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
expect "  ... and nothing leaks (live_buffers=$live)" test "$live" = 0
expect "  ... smafd says which limit to raise" grep -q "raise fs.inotify.max_user_watches" "$log"
run_test "  ... and creating works again once watches are free" "$BIN/buffer-test" stress 20
stop_smafd

# ---- 2. deny-cpu: CPU access to secure buffers is refused ------------------
log=$WORK/deny-cpu.log
start_smafd "$log" --secure-module deny-cpu
echo "# --- libsmaf's test cases, OP-TEE-era expectation"
run_test "libsmaf-suite (mmap of a secure buffer fails)" "$BIN/libsmaf-suite" --secure-mmap fail
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

rm -rf "$WORK"
echo "buffer-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
