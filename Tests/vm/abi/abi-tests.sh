#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: runs inside the test VM (root, /dev/cuse present, see vm/smaf-vm).
# Starts the freshly built smafd in each configuration the device issue
# names and checks the real /dev node with the C programs built against
# smaf.h. Prints "ok"/"FAIL" lines and "abi-tests: N passed, M failed".
#
#   Tests/vm/abi/abi-tests.sh SMAFD_BINARY ABI_TEST_BINARY
. "$(dirname "$0")/../testlib.sh"
SMAFD=$(realpath "$1")
WORK=$(mktemp -d /tmp/smaf-abi-tests.XXXXXX)
# The checkout may sit in a private directory (a mktemp clone): give the
# unprivileged user a copy of the test program it can reach.
chmod 0755 "$WORK"
install -m 0755 "$2" "$WORK/abi_test"
ABI_TEST=$WORK/abi_test

echo "# kernel $(uname -r), smafd $SMAFD"

# ---- 1. default configuration --------------------------------------------
log=$WORK/default.log
launch_smafd "$log"
if ms=$(wait_node smaf); then
	ok "/dev/smaf appears within 15 s of starting smafd (${ms} ms; wait_node's limit)"
else
	bad "/dev/smaf did not appear within 15 s"
	cat "$log"
fi
expect "/dev/smaf is a CUSE node, mode 0600 root" \
	test "$(stat -c '%F %a %U' /dev/smaf 2>/dev/null)" = "character special file 600 root"
expect "/sys/class/cuse/smaf exists" test -d /sys/class/cuse/smaf
echo "# --- C ABI test as root"
"$ABI_TEST" --device /dev/smaf --secure-module testsecure $(expected_allocator_args)
expect "C ABI test passes as root on /dev/smaf" test $? = 0

expect "an unprivileged user cannot open /dev/smaf before the udev-style chmod" \
	bash -c '! setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "exec 3<>/dev/smaf" 2>/dev/null'
# What the udev rule does: a group and mode 0660 (group nogroup stands in for
# "smaf", since the shared root file system is read-only here).
chgrp nogroup /dev/smaf && chmod 0660 /dev/smaf
echo "# --- C ABI test as nobody:nogroup after chgrp/chmod 0660"
as_nobody "$ABI_TEST" --device /dev/smaf --secure-module testsecure $(expected_allocator_args)
expect "C ABI test passes as an unprivileged user" test $? = 0
expect "a user outside the group still cannot open it" \
	bash -c '! setpriv --reuid=65534 --regid=65533 --clear-groups sh -c "exec 3<>/dev/smaf" 2>/dev/null'

expect "refusals are logged at debug level with a reason" \
	grep -q "refused SMAF_IOC_CREATE .* no allocator named 'deadbeef'" "$log"
expect "legacy requests are logged by generation" grep -q "legacy request (v3-v7 CREATE" "$log"
warnings=$(grep -c "without a handoff channel" "$log")
expect "the no-handoff-channel warning comes once per process (2 processes, $warnings warnings)" test "$warnings" = 2
stop_smafd TERM
expect "smafd logs the removal" grep -q "removed" "$log"

# ---- 2. --devname and --secure-module none, stopped with SIGINT ------------
log=$WORK/alt.log
launch_smafd "$log" --devname smaf-alt --secure-module none
if ms=$(wait_node smaf-alt); then ok "--devname smaf-alt: /dev/smaf-alt appears (${ms} ms)"; else bad "/dev/smaf-alt did not appear"; cat "$log"; fi
expect "no /dev/smaf while only smaf-alt is served" test ! -e /dev/smaf
echo "# --- C ABI test, --secure-module none"
"$ABI_TEST" --device /dev/smaf-alt --secure-module none
expect "C ABI test passes on /dev/smaf-alt with no secure module" test $? = 0
# A second daemon asking for a name that is taken must fail, not pretend.
timeout 20 "$SMAFD" --foreground --devname smaf-alt >"$WORK/dup.log" 2>&1
rc=$?
expect "a second smafd for a taken name exits non-zero (rc=$rc)" test "$rc" = 1
expect "  ... saying why" grep -q "/dev/smaf-alt already exists" "$WORK/dup.log"
# The same through CUSE itself (the node was removed by hand, the kernel
# still has the name): the session is refused and smafd says so.
rm /dev/smaf-alt
timeout 20 "$SMAFD" --foreground --devname smaf-alt >"$WORK/dup2.log" 2>&1
rc=$?
expect "a name CUSE already has is refused by the kernel and smafd exits 1 (rc=$rc)" test "$rc" = 1
expect "  ... saying why" grep -q "kernel ended the CUSE connection for /dev/smaf-alt" "$WORK/dup2.log"
expect "the first daemon is still running and registered" bash -c "kill -0 $PID && [ -d /sys/class/cuse/smaf-alt ]"
stop_smafd INT smaf-alt

# ---- 3. deny-cpu ----------------------------------------------------------
log=$WORK/deny.log
launch_smafd "$log" --secure-module deny-cpu
if wait_node smaf >/dev/null; then ok "deny-cpu: /dev/smaf appears"; else bad "deny-cpu: no node"; cat "$log"; fi
"$ABI_TEST" --device /dev/smaf --secure-module deny-cpu $(expected_allocator_args deny-cpu) >"$WORK/deny.out"
expect "C ABI test passes with --secure-module deny-cpu" test $? = 0
stop_smafd TERM

# ---- 4. background mode returns once the node exists ----------------------
"$SMAFD" --devname smaf-bg >"$WORK/bg.log" 2>&1
rc=$?
expect "smafd without --foreground returns 0 (rc=$rc)" test "$rc" = 0
expect "  ... and /dev/smaf-bg exists when it returns" test -c /dev/smaf-bg
bgpid=$(pgrep -f -- "--devname smaf-bg" | head -n 1)
expect "  ... served by a detached process" test -n "$bgpid"
[ -n "$bgpid" ] && kill -TERM "$bgpid"
expect "  ... which exits on SIGTERM" bash -c "for i in \$(seq 100); do kill -0 $bgpid 2>/dev/null || exit 0; sleep 0.05; done; exit 1"
expect "  ... which removes the node on SIGTERM" wait_gone smaf-bg

# ---- 5. SIGKILL: the kernel removes the node with the daemon --------------
launch_smafd "$WORK/kill.log"
wait_node smaf >/dev/null
kill -KILL "$PID"
wait "$PID" 2>/dev/null
expect "after SIGKILL the kernel removes /dev/smaf" wait_gone smaf

finish
