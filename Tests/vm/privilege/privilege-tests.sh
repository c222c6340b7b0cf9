#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: least privilege and limits (runs inside the test VM as root).
#   Tests/vm/privilege/privilege-tests.sh SMAFD BUILD_DIR
# smafd --user nobody must run as uid 65534 with only CAP_SYS_PTRACE and
# CAP_DAC_READ_SEARCH, no_new_privs and its seccomp filter, and still serve
# every case to unprivileged clients; the --max-* limits must refuse with their
# documented errno, log why, and disturb nothing else.
. "$(dirname "$0")/../testlib.sh"
setup privilege-tests "$1" "$2" buffer-libsmaf-suite abi-test privilege-probe
NODE_MODE=0666
field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }

echo "# --- smafd --user nobody"
start_smafd "$WORK/smafd.log" --user nobody
expect "the node exists while smafd runs as nobody" test -c /dev/smaf
expect "smafd's uid is 65534, not 0 ($(field Uid))" test "$(field Uid)" = 65534
expect "smafd's gid is 65534 ($(field Gid))" test "$(field Gid)" = 65534
expect "effective capabilities are exactly CAP_SYS_PTRACE|CAP_DAC_READ_SEARCH ($(field CapEff))" \
	test "$(field CapEff)" = 0000000000080004
expect "the bounding set holds nothing more ($(field CapBnd))" test "$(field CapBnd)" = 0000000000080004
expect "no_new_privs is set" test "$(field NoNewPrivs)" = 1
expect "the seccomp filter is installed (Seccomp: $(field Seccomp))" test "$(field Seccomp)" = 2
expect "smafd logs the drop" grep -q "running as nobody (uid 65534" "$WORK/smafd.log"
expect "the socket directory belongs to nobody, 0755" test "$(stat -c '%U %a' /run/smaf)" = "nobody 755"
expect "the handoff socket is 0666" test "$(stat -c '%a' /run/smaf/smaf.sock)" = 666
run_test "the ABI test passes as an unprivileged client (uid 1001)" as_uid 1001 "$BIN/abi-test" $(expected_allocator_args)
run_test "libsmaf's test cases pass as uid 1001" as_uid 1001 "$BIN/buffer-libsmaf-suite" --secure-mmap succeed
run_test "sharing by fork and SCM_RIGHTS works as uid 1002" as_uid 1002 "$BIN/buffer-test" share
run_test "secure set/get across fds works as uid 1001" as_uid 1001 "$BIN/buffer-test" secure-grant
stop_smafd
expect "the socket is removed at exit although smafd was not root" test ! -e /run/smaf/smaf.sock

echo "# --- smafd --user nobody --secure-module deny-cpu (re-opens client fds through /proc)"
start_smafd "$WORK/smafd.log" --user nobody --secure-module deny-cpu
run_test "deny-cpu seals another user's buffer: EBUSY while mapped, EPERM after" as_uid 1001 "$BIN/buffer-test" secure-deny
stop_smafd

echo "# --- limits"
# A root smafd refuses a socket directory another user owns (it could be
# tampered with); the --user runs above left /run/smaf to nobody.
rm -rf /run/smaf
start_smafd "$WORK/smafd.log" --max-buffer-size 64K --max-buffers-per-user 5 --max-bytes-per-user 96K --max-channels-per-process 2
expect "smafd's start-up log gives the limits in force" grep -q \
	"limits=buffer size <= 65536 bytes; per user: 5 live buffers, 98304 bytes; handoff channels per process: 2;" "$WORK/smafd.log"
as_uid 1001 "$BIN/privilege-probe" 131072 1 >"$WORK/l1"
expect "a buffer over --max-buffer-size is refused with ENOMEM ($(cat "$WORK/l1"))" grep -q "created=0 errno=ENOMEM" "$WORK/l1"
as_uid 1001 "$BIN/privilege-probe" 4096 10 >"$WORK/l2"
expect "the 6th live buffer of a user is refused with EMFILE ($(cat "$WORK/l2"))" grep -q "created=5 errno=EMFILE usable=yes" "$WORK/l2"
as_uid 1001 "$BIN/privilege-probe" 32768 10 >"$WORK/l3"
expect "bytes beyond --max-bytes-per-user are refused with ENOMEM ($(cat "$WORK/l3"))" grep -q "created=3 errno=ENOMEM usable=yes" "$WORK/l3"
# One user at the limit does not stop another.
( as_uid 1001 "$BIN/privilege-probe" 4096 5 >"$WORK/l4" ) &
other=$!
as_uid 1002 "$BIN/privilege-probe" 4096 5 >"$WORK/l5"
wait "$other"
expect "two users each get their own 5 buffers ($(cat "$WORK/l4") / $(cat "$WORK/l5"))" \
	bash -c "grep -q 'created=5 errno=none' '$WORK/l4' && grep -q 'created=5 errno=none' '$WORK/l5'"
expect "every refusal is logged with the limit that caused it" \
	bash -c "grep -q 'limit: 131072 bytes is more than --max-buffer-size' '$WORK/smafd.log' && grep -q 'limit: uid 1001 is at --max-buffers-per-user 5' '$WORK/smafd.log'"
python3 - "$WORK" <<'PY'
import socket, struct, sys, time
# Three connections from one process with --max-channels-per-process 2: the
# third is closed without a welcome.
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect("/run/smaf/smaf.sock")
    s.settimeout(3)
    return s
got = []
for i in range(3):
    s = conn()
    try:
        m = s.recv(64)
        if m == b"":
            got.append("closed")
        else:
            got.append("welcome" if len(m) == 24 and struct.unpack_from("<i", m, 8)[0] == 0 else "other")
    except Exception:
        got.append("none")
    globals()["keep%d" % i] = s
open(sys.argv[1] + "/channels", "w").write(" ".join(got))
PY
expect "a process's 3rd connection is closed unanswered at --max-channels-per-process 2 ($(cat "$WORK/channels"))" \
	test "$(cat "$WORK/channels")" = "welcome welcome closed"
run_test "smafd still serves everyone else" as_uid 1002 "$BIN/buffer-test" share
stop_smafd

finish
