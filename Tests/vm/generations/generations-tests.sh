#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: runs inside the test VM (root, /dev/cuse present, see vm/smaf-vm).
# The legacy SMAF ABI generations:
# one raw-ioctl program per generation, each written against that
# generation's own header (Tests/vm/generations/legacy/), run under the preload shim.
#   1. smafd --abi-generations all: generations-v2, generations-v3, generations-v7 and generations-s64 create,
#      map, secure and enumerate (or select) allocators; the v10 ABI test still
#      passes; smafctl info names the generations; smafctl check
#      --generations all passes.
#   2. the default (v10 only): every legacy request gets EINVAL and smafd's
#      log says, for each generation, which legacy request it refused;
#      smafctl check --generations all reports them refused.
#   3. --abi-generations v7: the v3-v7 CREATE and v7 GET_INFO work, v2's and
#      S64's requests are refused (the 8-byte secure flag, shared by v2-v7,
#      is served).
#   4. generation names: v4-v6 mean v3, v8/v9 mean v10; an unknown one is an
#      error at start-up.
# Prints "ok"/"FAIL" lines and "generations-tests: N passed, M failed".
#
#   Tests/vm/generations/generations-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
. "$(dirname "$0")/../testlib.sh"
setup generations-tests "$1" "$2" generations-v2 generations-v3 generations-v7 generations-s64 abi-test
SMAFCTL=$(dirname "$SMAFD")/smafctl
SHIM=(env LD_PRELOAD="$BIN/libsmaf-preload.so")
LEGACY="v2 v3 v7 s64"
read -ra ALLOC <<<"$(expected_allocator_args)"
# json FILE EXPR: a python expression over the parsed JSON in FILE (j).
json() { python3 -c "import json,sys; j=json.load(open('$1')); sys.exit(0 if ($2) else 1)"; }

# logged_since LOG OFFSET GEN: a line smafd wrote after byte OFFSET says it
# refused a legacy request and names generation GEN (s64: S64 too).
logged_since() {
	tail -c +"$(($2 + 1))" "$1" | grep -i 'refused' | grep -i 'legacy request' | grep -qiw -- "$3"
}

# smafctl_check GENERATIONS OUT: smafctl check --generations GENERATIONS into
# OUT (shown indented, last lines); its exit status.
smafctl_check() {
	local rc
	"$SMAFCTL" check --generations "$1" >"$2" 2>&1
	rc=$?
	sed 's/^/    /' "$2" | tail -n 15
	return "$rc"
}

# ---- 1. every generation enabled ---------------------------------------------
log=$WORK/all.log
start_smafd "$log" --abi-generations all || { finish; exit 1; }
expect "the start-up log names the enabled generations" \
	bash -c "grep -i 'generation' '$log' | grep -w v2 | grep -w v3 | grep -w v7 | grep -w v10 | grep -qiw s64"
"$SMAFCTL" info >"$WORK/info.txt" 2>&1
grep -i 'generations' "$WORK/info.txt" | sed 's/^/    /'
expect "smafctl info: abi generations: v2,v3,v7,v10,s64" grep -q 'abi generations: v2,v3,v7,v10,s64' "$WORK/info.txt"
"$SMAFCTL" info --json >"$WORK/info.json" 2>&1
expect "smafctl info --json: \"abi_generations\" is [v2, v3, v7, v10, s64]" \
	json "$WORK/info.json" "j['abi_generations']==['v2','v3','v7','v10','s64']"

echo "# --- each generation's program through the shim (LP64)"
for g in $LEGACY; do
	run_test "generations-$g: create, map, secure, enumerate/select through the shim" "${SHIM[@]}" "$BIN/generations-$g" "${ALLOC[@]}"
done
run_test "generations-v3 without the shim: its CREATE fails with ENOTCONN, fd untouched" "$BIN/generations-v3" --expect-enotconn
run_test "generations-s64 without the shim: its CREATE fails with ENOTCONN" "$BIN/generations-s64" --expect-enotconn

echo "# --- the v10 ABI test against the same daemon"
# Its legacy checks expect EINVAL by default; --legacy-served expects the
# two that a zeroed struct makes valid (an 8-byte GET of fd 0, v7 GET_INFO
# index 0) to be answered.
run_test "abi-test --legacy-served: every check passes with all generations on" \
	"$BIN/abi-test" "${ALLOC[@]}" --legacy-served

echo "# --- smafctl check --generations all"
smafctl_check all "$WORK/check-all.txt"
rc=$?
expect "smafctl check --generations all exits 0 on a daemon with them enabled (rc=$rc)" test "$rc" = 0
for g in v2 v3 v7 v10 s64; do
	expect "  ... its line for $g says ok" bash -c "grep -iw -- '$g' '$WORK/check-all.txt' | grep -qw ok"
done
live=$(wait_status live_buffers 0)
expect "no buffer of the generation programs is left (live_buffers=$live)" test "${live%% *}" = 0
stop_smafd

# ---- 2. the default: v10 only --------------------------------------------------
log=$WORK/default.log
start_smafd "$log" || { finish; exit 1; }
echo "# --- each legacy request gets EINVAL, and smafd logs which generation it was"
for g in $LEGACY; do
	offset=$(stat -c %s "$log")
	run_test "generations-$g --expect-refused: every $g request fails with EINVAL, struct untouched" \
		"${SHIM[@]}" "$BIN/generations-$g" --expect-refused "${ALLOC[@]}"
	wait_line "$log" 'legacy request' 2 || true
	tail -c +"$((offset + 1))" "$log" | grep -i 'legacy request' | head -n 4 | sed 's/^/    /'
	expect "  ... smafd's log has a 'refused ... legacy request' line naming $g" logged_since "$log" "$offset" "$g"
done
smafctl_check all "$WORK/check-default.txt"
rc=$?
expect "smafctl check --generations all fails on a default daemon (rc=$rc)" test "$rc" != 0
expect "  ... and says the legacy generations are refused (EINVAL)" grep -q 'refused (EINVAL)' "$WORK/check-default.txt"
for g in v2 v3 v7 s64; do
	expect "  ... $g is reported refused" bash -c "grep -iw -- '$g' '$WORK/check-default.txt' | grep -q refused"
done
smafctl_check v10 "$WORK/check-v10.txt"
rc=$?
expect "smafctl check --generations v10 passes on a default daemon (rc=$rc)" test "$rc" = 0
stop_smafd

# ---- 3. v7 only (besides v10) -------------------------------------------------------
log=$WORK/v7.log
start_smafd "$log" --abi-generations v7 || { finish; exit 1; }
"$SMAFCTL" info >"$WORK/info-v7.txt" 2>&1
grep -i 'generations' "$WORK/info-v7.txt" | sed 's/^/    /'
expect "smafctl info names v7 and v10, not v2 or s64" \
	bash -c "grep 'abi generations:' '$WORK/info-v7.txt' | grep -w v7 | grep -w v10 | grep -vw v2 | grep -qvw s64"
run_test "generations-v7 works with --abi-generations v7" "${SHIM[@]}" "$BIN/generations-v7" "${ALLOC[@]}"
run_test "generations-v3 works too (v7 kept v3's CREATE)" "${SHIM[@]}" "$BIN/generations-v3" "${ALLOC[@]}"
offset=$(stat -c %s "$log")
run_test "generations-v2: CREATE and SELECT_BY_NAME refused, the shared 8-byte secure flag served" \
	"${SHIM[@]}" "$BIN/generations-v2" --expect-refused --secure-flag-served "${ALLOC[@]}"
expect "  ... smafd's log names v2" logged_since "$log" "$offset" v2
offset=$(stat -c %s "$log")
run_test "generations-s64: every S64 request refused" "${SHIM[@]}" "$BIN/generations-s64" --expect-refused "${ALLOC[@]}"
expect "  ... smafd's log names s64" logged_since "$log" "$offset" s64
smafctl_check v7 "$WORK/check-v7.txt"
rc=$?
expect "smafctl check --generations v7 passes (rc=$rc)" test "$rc" = 0
smafctl_check v2,s64 "$WORK/check-v2.txt"
rc=$?
expect "smafctl check --generations v2,s64 fails and says refused (rc=$rc)" \
	bash -c "[ $rc != 0 ] && grep -q refused '$WORK/check-v2.txt'"
stop_smafd

# ---- 4. names -----------------------------------------------------------------------------
log=$WORK/names.log
start_smafd "$log" --abi-generations v5,v9 || { finish; exit 1; }
"$SMAFCTL" info >"$WORK/info-names.txt" 2>&1
grep -i 'generations' "$WORK/info-names.txt" | sed 's/^/    /'
expect "--abi-generations v5,v9 means v3 and v10 (smafctl info: abi generations: v3,v10)" \
	grep -Eq 'abi generations: v3,v10( |$)' "$WORK/info-names.txt"
run_test "generations-v3 works with v5 enabled" "${SHIM[@]}" "$BIN/generations-v3" "${ALLOC[@]}"
stop_smafd
timeout 20 "$SMAFD" --foreground --abi-generations v3,v11 >"$WORK/bad.txt" 2>&1
rc=$?
head -n 3 "$WORK/bad.txt" | sed 's/^/    /'
expect "--abi-generations v3,v11: smafd refuses to start, names v11 (rc=$rc)" \
	bash -c "[ $rc != 0 ] && [ $rc != 124 ] && grep -q v11 '$WORK/bad.txt' && [ ! -e /dev/$NODE ]"

finish
