#!/usr/bin/env bash
# VM tier: memory pressure (runs inside the test VM as root).
#   Tests/vm/pressure-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# 1. A CREATE larger than the machine's memory, under smafd's default limits,
#    fails with ENOMEM and a log line; smafd and other clients carry on.
# 2. Allocation at first touch: CREATE only sizes a memfd, pages are
#    allocated when a mapping first touches them and charged to the memory
#    cgroup of the process that touches them. A client confined to a 48 MiB
#    cgroup (no swap) creates a 256 MiB buffer (succeeds) and writes it all:
#    the kernel's OOM killer ends that client (SIGKILL; SIGBUS would be the
#    other documented outcome), smafd is untouched and forgets the buffer,
#    and the same CREATE and write from outside the cgroup work.
# Prints "ok"/"FAIL" lines and "pressure-tests: N passed, M failed".
. "$(dirname "$0")/testlib.sh"
setup pressure-tests "$1" "$2" limit-probe
SMAFCTL=$(dirname "$SMAFD")/smafctl
CG=/sys/fs/cgroup/smaf-pressure
MOUNTED_CG=0

cleanup() {
	[ -d "$CG" ] && rmdir "$CG" 2>/dev/null
	[ "$MOUNTED_CG" = 1 ] && umount /sys/fs/cgroup
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
}
trap cleanup EXIT

start_smafd "$WORK/smafd.log"
fds0=$(fd_count)

echo "# --- 1. a CREATE beyond physical memory"
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
# Twice the memory, page-aligned, within libsmaf's unsigned int length.
size=$((mem_kb * 2048 / 4096 * 4096))
[ "$size" -gt 4294963200 ] && size=4294963200
"$BIN/limit-probe" "$size" 1 >"$WORK/big" 2>&1
expect "CREATE of $size bytes with ${mem_kb} kB of memory fails with ENOMEM ($(cat "$WORK/big"))" \
	grep -q "created=0 errno=ENOMEM" "$WORK/big"
expect "smafd logs why" grep -q "limit: $size bytes is more than --max-buffer-size" "$WORK/smafd.log"
run_test "smafd still serves the next client" "$BIN/buffer-test" share

echo "# --- 2. first touch beyond a memory cgroup's limit"
if ! grep -q cgroup2 /proc/mounts; then
	mount -t cgroup2 none /sys/fs/cgroup && MOUNTED_CG=1
fi
if ! grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
	bad "this kernel offers no memory cgroup controller ($(cat /sys/fs/cgroup/cgroup.controllers 2>&1))"
	finish
	exit 1
fi
echo +memory >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
mkdir -p "$CG"
echo $((48 << 20)) >"$CG/memory.max"
[ -e "$CG/memory.swap.max" ] && echo 0 >"$CG/memory.swap.max"
expect "a 48 MiB cgroup without swap exists ($(cat "$CG/memory.max"))" test "$(cat "$CG/memory.max")" = $((48 << 20))
# smafctl create maps the buffer, writes every page and reads it back.
made0=$(status_field created_total)
# (The braces keep bash's "Killed" job notice out of the log.)
{
	sh -c "echo \$\$ >'$CG/cgroup.procs' && exec '$SMAFCTL' create --size 256M" >"$WORK/touch" 2>&1
	rc=$?
} 2>/dev/null
sed 's/^/    /' "$WORK/touch" | tail -n 3
oom=$(awk '/^oom_kill / { print $2 }' "$CG/memory.events")
expect "the client that touched 256 MiB in 48 MiB was killed by the kernel (exit $rc, 137 = SIGKILL, 135 = SIGBUS)" \
	test "$rc" = 137 -o "$rc" = 135
expect "the cgroup's OOM killer did it (memory.events oom_kill ${oom:-?})" test "${oom:-0}" -ge 1
made1=$(status_field created_total)
expect "the CREATE itself had succeeded: memory is not committed at CREATE (created_total $made0 -> $made1)" \
	test "$made1" = $((made0 + 1))
expect "smafd is untouched" kill -0 "$PID"
r=$(wait_status live_buffers 0)
expect "smafd forgets the killed client's buffer (live_buffers=$r)" test "${r%% *}" = 0
run_test "the same 256 MiB CREATE and write work outside the cgroup" "$SMAFCTL" create --size 256M
expect_nothing_left "$fds0"
stop_smafd
finish
