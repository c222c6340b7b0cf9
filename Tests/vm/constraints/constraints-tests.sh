#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: constraint-aware allocation (runs inside the test VM as root,
# booted like dmabuf-tests.sh: vivid n_devs=2 allocators=0,1 and vgem, 2 GiB,
# hugepages=16). Must run before anything else starts systemd-udevd in this
# boot: part 1 needs a udev database with no entry for the vivid nodes.
#   Tests/vm/constraints/constraints-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# 1. Without udevd: a buffer for the dma-contig node is still made (no
#    contiguity known: a dma-buf), and smafd says once that udev has no data.
# 2. Debian's systemd-udevd with a test rule that sets SMAF_DMA_CONTIGUOUS=1
#    on vivid instance 1's capture node (by its name attribute):
#    a buffer for it is EINVAL (6.1: no allocator is contiguous; 6.12: the
#    contiguous one, hugetlb udmabuf, maps wrongly in the kernel and vivid
#    draws through a kernel mapping), and smafd's log says why, while a
#    non-contiguous dma-buf forced by name is refused with EFAULT; a buffer for
#    vivid instance 0 + vgem is a dma-buf both import; bad device fds get
#    their errno; smafctl devices and smafctl create --for say the same.
# Prints "ok"/"FAIL" lines and "constraints-tests: N passed, M failed".
. "$(dirname "$0")/../testlib.sh"
setup constraints-tests "$1" "$2" constraints-test
SMAFCTL=$(dirname "$SMAFD")/smafctl
T=$BIN/constraints-test
RULE=/run/udev/rules.d/72-smaf-test-contiguous.rules
SHIPPED=
UDEVD_PID=
cleanup() {
	[ -n "$UDEVD_PID" ] && { udevadm control --exit 2>/dev/null || kill -TERM "$UDEVD_PID" 2>/dev/null; }
	rm -f "$RULE" "$SHIPPED"
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
}
trap cleanup EXIT
export SYSTEMD_IGNORE_CHROOT=1 # udevadm in the VM's chroot (part 1 asks it too)

v0=$(v4l2_node vivid-000-vid-cap)
v1=$(v4l2_node vivid-001-vid-cap)
card=$(drm_card vgem)
expect "vivid's capture nodes and vgem's card are there ($v0, $v1, $card)" test -n "$v0" -a -n "$v1" -a -n "$card"

echo "# --- 1. no udev data"
expect "no udev database entry for $v1 yet" bash -c "! udevadm info --query=property '$v1' 2>/dev/null | grep -q '^ID_\|^SMAF_\|^USEC_INITIALIZED'"
start_smafd "$WORK/no-udev.log"
run_test "without udevd: a buffer for the dma-contig node is still a dma-buf, twice, no crash" "$T" --no-udev
expect "smafd is alive" kill -0 "$PID"
n=$(grep -c "udev has no data for device" "$WORK/no-udev.log")
expect "smafd said once that udev has no data and only sysfs facts are known ($n times)" test "$n" = 1
stop_smafd

echo "# --- 2. systemd-udevd with a rule tagging vivid instance 1 as needing contiguous memory"
mkdir -p /run/udev/rules.d
echo 'SUBSYSTEM=="video4linux", ATTR{name}=="vivid-001-vid-cap", ENV{SMAF_DMA_CONTIGUOUS}="1"' >"$RULE"
# Instance 0 declared a DMA device by udev (it is not: only to see the
# property beat the sysfs inference, which instance 1 keeps).
echo 'SUBSYSTEM=="video4linux", ATTR{name}=="vivid-000-vid-cap", ENV{SMAF_KERNEL_MAPPING}="0"' >>"$RULE"
# The shipped example rules load too (they match no device in the VM).
SHIPPED=/run/udev/rules.d/75-smaf-constraints.rules
install -m 0644 "$(dirname "$0")/../../../udev/75-smaf-constraints.rules" "$SHIPPED"
expect "systemd-udevd (Debian package udev) is up" start_udevd "$WORK/udevd.log"
udevadm trigger --action=add --subsystem-match=video4linux
udevadm settle --timeout=30
expect "udev now gives $v1 SMAF_DMA_CONTIGUOUS=1" bash -c "udevadm info --query=property '$v1' | grep -qx SMAF_DMA_CONTIGUOUS=1"
expect "and $v0 no such property" bash -c "! udevadm info --query=property '$v0' | grep -q SMAF_DMA_CONTIGUOUS"
expect "udevd found nothing wrong in the shipped udev/75-smaf-constraints.rules" \
	bash -c "! grep -E '75-smaf-constraints.rules:[0-9]+' '$WORK/udevd.log'"

start_smafd "$WORK/smafd.log"
contig=$("$SMAFCTL" info --json | python3 -c '
import json, sys
print(" ".join(a["name"] for a in json.load(sys.stdin)["allocators"] if a["contiguous"] and a["dmabuf"]))')
case $(uname -r) in
6.12.*)
	# Its one contiguous allocator maps wrongly in the kernel, and vivid
	# draws through a kernel mapping (docs/allocators.md, "Kernel mappings").
	expect "6.12 has a contiguous allocator ($contig)" test "$contig" = smaf-udmabuf-hugetlb
	run_test "the dma-contig node: EINVAL, the contiguous allocator's kernel mappings are wrong; smaf-udmabuf by name is refused (EFAULT)" \
		"$T" --contiguous-known --none --scatter smaf-udmabuf
	expect "smafd logs why: contiguous memory and correct kernel mappings, which nothing here gives both" \
		grep -q "no allocator meets the devices' constraints: .*smaf-udmabuf-hugetlb cannot give correct kernel mappings.*the devices need physically contiguous memory and correct kernel mappings, and no allocator on this kernel gives both" "$WORK/smafd.log"
	;;
*)
	expect "no contiguous allocator on $(uname -r) ('$contig')" test -z "$contig"
	run_test "the dma-contig node: EINVAL, no allocator here is contiguous" "$T" --contiguous-known --none
	;;
esac
expect "smafd logs which constraint nothing met" grep -q "no allocator meets the devices' constraints: .*physically contiguous memory" "$WORK/smafd.log"
run_test "vivid instance 0 + vgem: a dma-buf both import (never a memfd)" "$T" --sg
run_test "bad device fds: EBADF, ENODEV, E2BIG, from C" "$T" --bad-input
expect "smafd survived all of it" kill -0 "$PID"

"$SMAFCTL" devices "$v0" "$v1" "$card" --json >"$WORK/devices.json"
sed 's/^/    /' "$WORK/devices.json" | head -n 60
expect "smafctl devices: $v1 needs contiguous memory (udev), $v0 and vgem do not, all together do" python3 -c "
import json; r = json.load(open('$WORK/devices.json'))
d = {x['device']: x for x in r}
assert d['$v1']['contiguous'] and 'udev' in d['$v1']['sources'], d['$v1']
assert d['$v1']['kernel_mapping'] and d['$card']['kernel_mapping'], d
assert any('no DMA mask' in s for s in d['$v1']['sources']), d['$v1']
assert not d['$v0']['kernel_mapping'] and 'udev SMAF_KERNEL_MAPPING' in d['$v0']['sources'], d['$v0']
assert not d['$v0']['contiguous'] and not d['$card']['contiguous']
assert d['all together']['contiguous'] and d['all together']['dmabuf']
assert 'smaf-memfd' not in d['$v0']['allocators'] and d['$v0']['allocators'], d['$v0']
assert d['all together']['allocators'] == [a for a in d['$v0']['allocators'] if a in d['$v1']['allocators']]
"
"$SMAFCTL" devices "$v1" >"$WORK/devices.txt"
sed 's/^/    /' "$WORK/devices.txt"
expect "smafctl devices prints a table: $v1 needs contiguous memory and a kernel mapping" grep -Eq "^ *$v1 +yes +yes +64 bits" "$WORK/devices.txt"
"$SMAFCTL" create --size 450K --for "$v1" >"$WORK/create-for.txt" 2>&1
rc=$?
sed 's/^/    /' "$WORK/create-for.txt"
expect "smafctl create --for $v1 fails with EINVAL: no allocator meets its needs here (rc=$rc)" \
	bash -c "test $rc != 0 && grep -q 'SMAF_IOC_EXT_CREATE_FOR: Invalid argument' '$WORK/create-for.txt'"
"$SMAFCTL" create --size 64K --for "$v0" --for "$card" >"$WORK/create-for2.txt" 2>&1
expect "smafctl create --for $v0 --for $card gets a dma-buf" grep -q "dma-buf of" "$WORK/create-for2.txt"
"$SMAFCTL" create --size 64K --for /etc/hostname >"$WORK/create-bad.txt" 2>&1
expect "smafctl create --for a regular file fails and says why" grep -q "SMAF_IOC_EXT_CREATE_FOR: No such device" "$WORK/create-bad.txt"
stop_smafd
finish
