#!/usr/bin/env bash
# VM tier: least privilege and limits (runs inside the test VM as root).
#   Tests/vm/privilege-tests.sh SMAFD BUILD_DIR
# smafd --user nobody must run as uid 65534 with only CAP_SYS_PTRACE and
# CAP_DAC_READ_SEARCH, no_new_privs and its seccomp filter, and still serve
# every case to unprivileged clients; the --max-* limits must refuse with their
# documented errno, log why, and disturb nothing else.
set -u
. "$(dirname "$0")/testlib.sh"
SMAFD=$(realpath "$1")
BUILD=$(realpath "$2")
WORK=$(mktemp -d /tmp/smaf-priv.XXXXXX)
chmod 0755 "$WORK"
for f in libsmaf.so.0.1.0 libsmaf-suite buffer-test smaf-abi-test limit-probe; do
	install -m 0755 "$BUILD/$f" "$WORK/$f"
done
ln -s libsmaf.so.0.1.0 "$WORK/libsmaf.so.0"
PID=
as() { local uid=$1; shift; setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"; }
run() { # run DESCRIPTION COMMAND...: one result from the exit status, output indented
	local what=$1 rc
	shift
	"$@" >"$WORK/out" 2>&1
	rc=$?
	sed 's/^/    /' "$WORK/out" | tail -n 4
	expect "$what (rc=$rc)" test "$rc" = 0
}
start() {
	env --default-signal=INT,TERM "$SMAFD" --foreground --log-level debug "$@" >"$WORK/smafd.log" 2>&1 &
	PID=$!
	for _ in $(seq 1 100); do [ -c /dev/smaf ] && { chmod 0666 /dev/smaf; return 0; }; sleep 0.05; done
	bad "smafd $* did not start"
	cat "$WORK/smafd.log"
}
stop() {
	local rc
	kill -TERM "$PID"
	wait "$PID"
	rc=$?
	expect "smafd exits 0 on SIGTERM (rc=$rc)" test "$rc" = 0
	for _ in $(seq 1 100); do [ -e /dev/smaf ] || break; sleep 0.05; done
}
field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }

echo "# --- smafd --user nobody"
start --user nobody
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
run "the ABI test passes as an unprivileged client (uid 1001)" as 1001 "$WORK/smaf-abi-test" --allocator smaf-memfd
run "libsmaf's test cases pass as uid 1001" as 1001 "$WORK/libsmaf-suite" --secure-mmap succeed
run "sharing by fork and SCM_RIGHTS works as uid 1002" as 1002 "$WORK/buffer-test" share
run "secure set/get across fds works as uid 1001" as 1001 "$WORK/buffer-test" secure-grant
stop
expect "the socket is removed at exit although smafd was not root" test ! -e /run/smaf/smaf.sock

echo "# --- smafd --user nobody --secure-module deny-cpu (re-opens client fds through /proc)"
start --user nobody --secure-module deny-cpu
run "deny-cpu seals another user's buffer: EBUSY while mapped, EPERM after" as 1001 "$WORK/buffer-test" secure-deny
stop

echo "# --- limits"
# A root smafd refuses a socket directory another user owns (it could be
# tampered with); the --user runs above left /run/smaf to nobody.
rm -rf /run/smaf
start --max-buffer-size 64K --max-buffers-per-user 5 --max-bytes-per-user 96K --max-channels-per-process 2
as 1001 "$WORK/limit-probe" 131072 1 >"$WORK/l1"
expect "a buffer over --max-buffer-size is refused with ENOMEM ($(cat "$WORK/l1"))" grep -q "created=0 errno=ENOMEM" "$WORK/l1"
as 1001 "$WORK/limit-probe" 4096 10 >"$WORK/l2"
expect "the 6th live buffer of a user is refused with EMFILE ($(cat "$WORK/l2"))" grep -q "created=5 errno=EMFILE usable=yes" "$WORK/l2"
as 1001 "$WORK/limit-probe" 32768 10 >"$WORK/l3"
expect "bytes beyond --max-bytes-per-user are refused with ENOMEM ($(cat "$WORK/l3"))" grep -q "created=3 errno=ENOMEM usable=yes" "$WORK/l3"
# One user at the limit does not stop another.
( as 1001 "$WORK/limit-probe" 4096 5 >"$WORK/l4" ) &
other=$!
as 1002 "$WORK/limit-probe" 4096 5 >"$WORK/l5"
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
run "smafd still serves everyone else" as 1002 "$WORK/buffer-test" share
stop

rm -rf "$WORK"
echo "privilege-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
