#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: smafd's buffers as real dma-bufs.  Runs inside the test
# VM as root, booted by
#   vm/smaf-vm --mem 2048 --modules vivid,vgem --module-param vivid.n_devs=2 \
#     --module-param vivid.allocators=0,1 --append hugepages=16 -- ...
# (vivid instance 0 vmalloc, instance 1 dma-contig; 2 GiB so that nothing
# sits above 4 GiB and instance 1's verdicts mean "contiguous"; smaf-vm
# always adds secretmem.enable=1).  Prints "ok"/"FAIL" lines and
# "dmabuf-tests: N passed, M failed".
#
#   Tests/vm/dmabuf/dmabuf-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
#
# 1. The kernel's own routes, without smafd (dmabuf-direct): the importers
#    and the facts of docs/allocators.md's 'What the importers say' hold on this kernel, and
#    dmabuf-test's checks pass on buffers like the ones smafd should give.
# 2. smafd with its default allocators: GET_INFO lists exactly the ones this
#    kernel can serve (6.12: system heap, udmabuf, hugetlb udmabuf, vgem,
#    memfd, memfd_secret; 6.1: vgem, memfd, memfd_secret), dma-buf ones
#    ranked first; every allocator's buffer, made through libsmaf and through
#    the shim, is what dmabuf-test checks; an unnamed CREATE gives a
#    dma-buf; vivid instance 1 tells hugetlb from shmem; a buffer held only by
#    a vgem handle stays counted until the handle closes.
# 3. smafd --allocators NAME, for each NAME: only NAME is listed and an
#    unnamed CREATE from a v10 program (raw ioctl, shim) comes from it.
# 4. smafd --rank smaf-memfd=1000: memfd ranks first and unnamed CREATEs get
#    a memfd again.
. "$(dirname "$0")/../testlib.sh"
setup dmabuf-tests "$1" "$2" dmabuf-test dmabuf-direct
T=$BIN/dmabuf-test
SHIM=$BIN/libsmaf-preload.so
kernel=$(uname -r)

is_dmabuf_allocator() {
	case $1 in smaf-heap-* | smaf-udmabuf | smaf-udmabuf-hugetlb | smaf-vgem) return 0 ;; esac
	return 1
}

# What smafd must list here (as a set; testlib.sh's expected_allocators
# gives the rank order).  The two kernels the VM tier boots are known
# exactly; any other is judged by what it offers (expected_allocators).
required_allocators() {
	case $kernel in
	6.12.*) echo smaf-heap-system smaf-udmabuf smaf-udmabuf-hugetlb smaf-vgem smaf-memfd smaf-secretmem ;;
	6.1.*) echo smaf-vgem smaf-memfd smaf-secretmem ;;
	*) expected_allocators ;; # derived from the exporters this kernel has
	esac
}

sorted() { tr ' ' '\n' | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'; }

echo "# --- 0. the VM: importers and kernel options"
expect "vgem is loaded (vm/smaf-vm --modules vivid,vgem)" test -d /sys/module/vgem
expect "vivid is loaded with n_devs=2" test "$(cat /sys/module/vivid/parameters/n_devs 2>/dev/null)" = 2
expect "memfd_secret is enabled (secretmem.enable=1)" grep -qw 'secretmem.enable=1' /proc/cmdline
case $kernel in 6.12.*)
	hp=$(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo)
	expect "huge pages are reserved for smaf-udmabuf-hugetlb (hugepages=N; HugePages_Total=$hp)" test "${hp:-0}" -gt 0
	;;
esac
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
expect "the VM has at most 2 GiB (MemTotal ${mem_kb} kB), so no memory sits above 4 GiB for vivid's 32-bit DMA" \
	test "$mem_kb" -le 2097152

echo "# --- 1. the kernel's routes without smafd"
run_test "dmabuf-direct: every route the kernel has behaves as docs/allocators.md's 'What the importers say' says" "$BIN/dmabuf-direct"
# dmabuf-test's own checks pass on what smafd should hand out, made here.
for a in $(required_allocators); do
	run_test "dmabuf-test's checks pass on a $a-like buffer made without smafd" "$T" --allocator "$a" --via direct
done
if [[ $kernel == 6.12.* ]]; then
	run_test "dmabuf-test's contiguity check passes on buffers made without smafd" "$T" --contig-check --via direct
fi

echo "# --- 2. smafd with its default allocators"
log=$WORK/default.log
start_smafd "$log"
want=$(required_allocators | sorted)
listed=$("$T" --list)
echo "# GET_INFO, in rank order: $(echo $listed)"
expect "GET_INFO lists exactly the allocators this kernel can serve: '$(echo "$listed" | sorted)' (want '$want')" \
	test "$(echo "$listed" | sorted)" = "$want"
order_ok=1
seen_cpu=
for a in $listed; do
	if is_dmabuf_allocator "$a"; then
		[ -z "$seen_cpu" ] || order_ok=0
	else
		seen_cpu=$a
	fi
done
expect "dma-buf allocators rank before CPU-only ones" test "$order_ok" = 1

for a in $listed; do
	echo "# --- $a"
	run_test "$a via libsmaf" "$T" --allocator "$a" --via libsmaf
	run_test "$a via the shim (raw ioctl naming it)" env LD_PRELOAD="$SHIM" "$T" --allocator "$a" --via shim
	if is_dmabuf_allocator "$a"; then
		run_test "$a: a buffer held only by a vgem handle lives until the handle closes" "$T" --lifetime "$a"
	fi
done
first=$(echo "$listed" | head -n 1)
echo "# --- an unnamed CREATE from a v10 program (raw ioctl, shim)"
expect "the top-ranked allocator ($first) makes dma-bufs" is_dmabuf_allocator "$first"
run_test "unnamed CREATE gets a $first buffer, as dmabuf-test checks for $first" env LD_PRELOAD="$SHIM" "$T" --allocator "$first" --via unnamed

# 6.12 must have both allocators (checked above); elsewhere where listed.
if [[ $kernel == 6.12.* ]] || echo "$listed" | grep -qx smaf-udmabuf-hugetlb; then
	echo "# --- contiguity: vivid instance 1 (dma-contig)"
	run_test "hugetlb udmabuf accepted by vivid instance 1, shmem udmabuf refused with EFAULT (of up to three; one may be contiguous by chance)" "$T" --contig-check
else
	echo "# contiguity check not applicable: smafd lists no smaf-udmabuf-hugetlb on $kernel (no /dev/udmabuf)"
fi
live=$(wait_status live_buffers 0)
expect "no buffer is left (live_buffers=$live)" test "${live%% *}" = 0
stop_smafd

echo "# --- 2b. DRM master, 10,000 cycles over every allocator, option errors"
start_smafd "$log"
run_test "smafd gave up the DRM master role vgem's node gave it" "$T" --drm-master
fds0=$(fd_count)
rss0=$(rss_kb)
run_test "10,000 create/map/close cycles spread over every allocator" "$T" --cycles 10000
live=$(wait_status live_buffers 0)
expect "smafd holds no buffer record afterwards (live_buffers=$live)" test "${live%% *}" = 0
expect_nothing_left "$fds0"
rss1=$(rss_kb)
expect "smafd's memory is back near its start (VmRSS ${rss0:-?} -> ${rss1:-?} kB, allowed +8192)" \
	test "${rss1:-999999999}" -le $((${rss0:-0} + 8192))
stop_smafd
for bad in "--allocators no-such-allocator" "--rank smaf-memfd" "--rank smaf-memfd=high"; do
	# shellcheck disable=SC2086
	"$SMAFD" --foreground $bad >"$WORK/bad.log" 2>&1
	rc=$?
	expect "smafd $bad exits 64 with a reason (rc=$rc: $(tail -n 1 "$WORK/bad.log"))" test "$rc" = 64
done
# A --drm-device that is no DRM node is logged and left out; the rest serves.
if start_smafd "$WORK/drm-null.log" --drm-device /dev/null; then
	expect "smafd --drm-device /dev/null: logged as no DRM node" grep -q "/dev/null is not a DRM node" "$WORK/drm-null.log"
	stop_smafd
fi

echo "# --- 3. smafd --allocators NAME: an unnamed CREATE comes from NAME"
# Every allocator this kernel must have, whether or not smafd listed it above.
for a in $(required_allocators); do
	log=$WORK/only-$a.log
	start_smafd "$log" --allocators "$a" || continue
	only=$("$T" --list | sorted)
	expect "--allocators $a: GET_INFO lists only $a ('$only')" test "$only" = "$a"
	run_test "--allocators $a: an unnamed raw CREATE gets a $a buffer" env LD_PRELOAD="$SHIM" "$T" --allocator "$a" --via unnamed
	stop_smafd
done

echo "# --- 4. smafd --rank: the ranking can put a CPU-only allocator first"
log=$WORK/rank.log
if start_smafd "$log" --rank smaf-memfd=1000; then
	first=$("$T" --list | head -n 1)
	expect "--rank smaf-memfd=1000: GET_INFO lists smaf-memfd first ('$first')" test "$first" = smaf-memfd
	run_test "--rank smaf-memfd=1000: an unnamed raw CREATE gets a memfd, which no importer takes" \
		env LD_PRELOAD="$SHIM" "$T" --allocator smaf-memfd --via unnamed
	stop_smafd
fi

finish
