#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: runs inside the test VM (root, /dev/cuse present, see vm/smaf-vm).
# 32-bit (i386) callers on the 64-bit kernel: their ioctls reach
# smafd marked FUSE_IOCTL_COMPAT. With the i386 build of the C side
# (scripts/build-c --m32 puts it in .build/c32): the v10 ABI test, libsmaf's
# test cases, buffer-test's sharing and flags cases, and a raw CREATE
# through the 32-bit shim (ENOTCONN without it) pass against the default
# smafd; with --abi-generations all, the i386 builds of the generation
# programs (ILP32 layouts: v2 CREATE 12 bytes, v3-v7 CREATE 76, S64 132/68)
# pass through the 32-bit shim. A short i386 ioctl storm runs against each
# daemon (random numbers through CUSE's compat path; legacy requests EINVAL,
# then served). `file` must call every program and both libraries ELF 32-bit. Prints "ok"/"FAIL" lines and
# "compat32-tests: N passed, M failed".
#
#   Tests/vm/compat32/compat32-tests.sh SMAFD_BINARY BUILD32_DIR      (BUILD32_DIR: .build/c32)
. "$(dirname "$0")/../testlib.sh"
PROGS=(abi-test buffer-libsmaf-suite buffer-raw-create generations-v2 generations-v3 generations-v7 generations-s64 storm-test)
# As storm-tests.sh: the storm's buffers queue up unread, these bound them.
LIMITS=(--max-buffer-size 16M --max-bytes-per-user 256M)
if [ ! -e "${2:-}/libsmaf.so.0" ]; then
	bad "no 32-bit build in '${2:-}' (scripts/build-c --m32 makes .build/c32; it needs gcc-multilib)"
	finish
	exit 1
fi
setup compat32-tests "$1" "$2" "${PROGS[@]}"
SHIM=(env LD_PRELOAD="$BIN/libsmaf-preload.so")
read -ra ALLOC <<<"$(expected_allocator_args)"

echo "# --- the build is i386"
for f in "${PROGS[@]}" buffer-test libsmaf-preload.so libsmaf.so.0; do
	what=$(file -bL "$BIN/$f")
	expect "$f is an ELF 32-bit i386 file (${what%%, BuildID*})" bash -c "grep -q 'ELF 32-bit LSB .*Intel 80386' <<<'$what'"
done
expect "buffer-test loads the 32-bit libsmaf next to it" bash -c "ldd '$BIN/buffer-test' | grep -q '$BIN/libsmaf.so.0'"

# ---- 1. the default smafd: v10 from i386 ----------------------------------------
log=$WORK/default.log
start_smafd "$log" "${LIMITS[@]}" || { finish; exit 1; }
run_test "i386 abi-test: the v10 ABI from a 32-bit caller" "$BIN/abi-test" "${ALLOC[@]}"
run_test "i386 buffer-libsmaf-suite (libsmaf's test cases)" "$BIN/buffer-libsmaf-suite" --secure-mmap succeed
for sub in share flags; do
	run_test "i386 buffer-test $sub" "$BIN/buffer-test" "$sub"
done
run_test "i386 raw CREATE through the 32-bit shim gets a real, mappable fd" "${SHIM[@]}" "$BIN/buffer-raw-create" expect-fd
run_test "i386 raw CREATE without the shim fails with ENOTCONN, fd untouched" "$BIN/buffer-raw-create" expect-enotconn
offset=$(stat -c %s "$log")
run_test "i386 generations-v3 on a default daemon: the 76-byte CREATE (0xC04C5300) is refused with EINVAL" \
	"${SHIM[@]}" "$BIN/generations-v3" --expect-refused
expect "  ... smafd's log names the ILP32 request it refused" \
	bash -c "tail -c +$((offset + 1)) '$log' | grep -i refused | grep -i 'legacy request' | grep -qi 'ILP32\|76-byte\|i386\|32-bit'"
run_test "i386 storm-test, 5,000 calls: every reply documented, legacy ones EINVAL" \
	"$BIN/storm-test" --calls 5000 --generations v10
expect "smafd is still running after the i386 storm" kill -0 "$PID"
live=$(wait_status live_buffers 0)
expect "no buffer of the i386 programs is left (live_buffers=$live)" test "${live%% *}" = 0
stop_smafd

# ---- 2. every generation, ILP32 layouts -----------------------------------------------
log=$WORK/all.log
start_smafd "$log" --abi-generations all "${LIMITS[@]}" || { finish; exit 1; }
for g in v2 v3 v7 s64; do
	run_test "i386 generations-$g (ILP32 layout) through the 32-bit shim" "${SHIM[@]}" "$BIN/generations-$g" "${ALLOC[@]}"
done
run_test "i386 generations-v7 without the shim: CREATE fails with ENOTCONN, GET_INFO works" "$BIN/generations-v7" --expect-enotconn
run_test "i386 storm-test, 3,000 calls, legacy requests served" "$BIN/storm-test" --calls 3000 --generations all
expect "smafd is still running after the i386 storm" kill -0 "$PID"
run_test "i386 buffer-libsmaf-suite still passes with every generation on" "$BIN/buffer-libsmaf-suite" --secure-mmap succeed
live=$(wait_status live_buffers 0)
expect "no buffer of the i386 programs is left (live_buffers=$live)" test "${live%% *}" = 0
stop_smafd
finish
