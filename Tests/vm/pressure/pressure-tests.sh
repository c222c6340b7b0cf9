#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: memory pressure (runs inside the test VM as root).
#   Tests/vm/pressure/pressure-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# 1. A CREATE larger than the machine's memory, under smafd's default limits,
#    fails with ENOMEM and a log line; smafd and other clients carry on.
#    Eager allocators (heaps) refuse, with ENOMEM, a CREATE that would leave
#    less than a reserve of the memory available; each exporter's own limit
#    (udmabuf 64 MiB, one huge page, an exhausted huge page pool, secretmem
#    beyond RLIMIT_MEMLOCK) gives its documented errno.
# 2. Allocation at first touch (smaf-memfd): CREATE only sizes a memfd, pages are
#    allocated when a mapping first touches them and charged to the memory
#    cgroup of the process that touches them. A client confined to a 48 MiB
#    cgroup (no swap) creates a 256 MiB buffer (succeeds) and writes it all:
#    the kernel's OOM killer ends that client (SIGKILL; SIGBUS would be the
#    other documented outcome), smafd is untouched and forgets the buffer,
#    and the same CREATE and write from outside the cgroup work.
# Prints "ok"/"FAIL" lines and "pressure-tests: N passed, M failed".
. "$(dirname "$0")/../testlib.sh"
setup pressure-tests "$1" "$2" privilege-probe
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
"$BIN/privilege-probe" "$size" 1 >"$WORK/big" 2>&1
expect "CREATE of $size bytes with ${mem_kb} kB of memory fails with ENOMEM ($(cat "$WORK/big"))" \
	grep -q "created=0 errno=ENOMEM" "$WORK/big"
expect "smafd logs why" grep -q "limit: $size bytes is more than --max-buffer-size" "$WORK/smafd.log"
run_test "smafd still serves the next client" "$BIN/buffer-test" share

echo "# --- 1b. eager allocators: every page committed at CREATE, in smafd"
# A CREATE within --max-buffer-size but beyond the memory available would
# make smafd itself the OOM killer's candidate: it is refused with ENOMEM.
eager=$("$SMAFCTL" info --json | python3 -c '
import json, sys
print(" ".join(a["name"] for a in json.load(sys.stdin)["allocators"] if not a["lazy"] and a["max_size"] >= 2**40))')
case $(uname -r) in 6.12.*) expect "6.12 has an eager allocator without a size limit (the system heap): '$eager'" test -n "$eager" ;; esac
big=$((mem_kb * 1024 * 15 / 16 / 4096 * 4096))
for a in $eager; do
	"$BIN/privilege-probe" "$big" 1 "$a" >"$WORK/eager" 2>&1
	expect "$a: CREATE of $big bytes (15/16 of memory) fails with ENOMEM ($(cat "$WORK/eager"))" \
		grep -q "created=0 errno=ENOMEM" "$WORK/eager"
	expect "$a: smafd logs why" grep -q "$a commits every page at once and $big bytes would leave less than" "$WORK/smafd.log"
	expect "$a: smafd is alive" kill -0 "$PID"
	"$BIN/privilege-probe" $((64 << 20)) 1 "$a" >"$WORK/eager" 2>&1
	expect "$a: a 64 MiB CREATE still works ($(cat "$WORK/eager"))" grep -q "created=1 errno=none usable=yes" "$WORK/eager"
done

echo "# --- 1c. exporter limits: beyond an allocator's max_size is EINVAL, an exhausted pool ENOMEM"
if "$SMAFCTL" info --json | grep -q '"smaf-udmabuf"'; then
	"$BIN/privilege-probe" $(((64 << 20) + 4096)) 1 smaf-udmabuf >"$WORK/lim" 2>&1
	expect "smaf-udmabuf: 64 MiB + 4 KiB (beyond size_limit_mb) is EINVAL ($(cat "$WORK/lim"))" grep -q "created=0 errno=EINVAL" "$WORK/lim"
	expect "  ... and smafd logs the allocator's limit" grep -q "smaf-udmabuf makes buffers of at most 67108864 bytes" "$WORK/smafd.log"
	"$BIN/privilege-probe" $((64 << 20)) 1 smaf-udmabuf >"$WORK/lim" 2>&1
	expect "smaf-udmabuf: exactly 64 MiB works ($(cat "$WORK/lim"))" grep -q "created=1 errno=none usable=yes" "$WORK/lim"
fi
if "$SMAFCTL" info --json | grep -q '"smaf-udmabuf-hugetlb"'; then
	huge=$(awk '/^Hugepagesize:/ { print $2 * 1024 }' /proc/meminfo)
	pool=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
	"$BIN/privilege-probe" $((huge + 4096)) 1 smaf-udmabuf-hugetlb >"$WORK/lim" 2>&1
	expect "smaf-udmabuf-hugetlb: one huge page + 4 KiB is EINVAL ($(cat "$WORK/lim"))" grep -q "created=0 errno=EINVAL" "$WORK/lim"
	"$BIN/privilege-probe" "$huge" $((pool + 1)) smaf-udmabuf-hugetlb >"$WORK/lim" 2>&1
	expect "smaf-udmabuf-hugetlb: $pool free huge pages give $pool buffers, the next is ENOMEM ($(cat "$WORK/lim"))" \
		grep -q "created=$pool errno=ENOMEM usable=yes" "$WORK/lim"
	expect "  ... and smafd says the pool is exhausted" grep -q "smaf-udmabuf-hugetlb could not allocate .* huge page pool is exhausted" "$WORK/smafd.log"
	r=$(wait_status live_buffers 0)
	expect "  ... and forgets them all once closed (live_buffers=$r)" test "${r%% *}" = 0
	expect "  ... and the pool is whole again" test "$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)" = "$pool"
fi
if "$SMAFCTL" info --json | grep -q '"smaf-secretmem"'; then
	# The recipient's limit decides; set it for the probe (8 MiB, the kernel default).
	prlimit --memlock=$((8 << 20)) "$BIN/privilege-probe" $((16 << 20)) 1 smaf-secretmem >"$WORK/lim" 2>&1
	expect "smaf-secretmem: 16 MiB beyond an 8 MiB RLIMIT_MEMLOCK is ENOMEM, not a SIGBUS later ($(cat "$WORK/lim"))" \
		grep -q 'created=0 errno=ENOMEM' "$WORK/lim"
	expect "  ... and smafd says why" grep -q "bytes exceed process [0-9]*'s RLIMIT_MEMLOCK of 8388608 bytes" "$WORK/smafd.log"
	prlimit --memlock=$((8 << 20)) "$BIN/privilege-probe" $((4 << 20)) 1 smaf-secretmem >"$WORK/lim" 2>&1
	expect "smaf-secretmem: 4 MiB within it works ($(cat "$WORK/lim"))" grep -q "created=1 errno=none usable=yes" "$WORK/lim"
fi
expect "smafd survived every refusal" kill -0 "$PID"

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
	sh -c "echo \$\$ >'$CG/cgroup.procs' && exec '$SMAFCTL' create --size 256M --name smaf-memfd" >"$WORK/touch" 2>&1
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
run_test "the same 256 MiB CREATE and write work outside the cgroup" "$SMAFCTL" create --size 256M --name smaf-memfd
expect_nothing_left "$fds0"
stop_smafd
finish
