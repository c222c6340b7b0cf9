#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: isolation between users (runs inside the test VM as root).
#   Tests/vm/isolation/isolation-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# Two unprivileged users, uid 1001 (A) and 1002 (B), no passwd entries,
# /dev/smaf opened to both (chmod 0666 for this test). Tests/vm/isolation/isolation_test.c:
# B never receives A's buffers; B can neither read, change nor learn the
# secure state of A's buffer by fd number, /proc or pidfd_getfd; once A
# passes the fd, B maps it and GETs its state. Here: the handoff socket's
# directory (0755, smafd's user) and the socket (0666), which B can neither
# remove nor squat beside; smafd refuses a socket directory others could
# write to. With --user: smafd runs as nobody and isolates the same. Prints "ok"/"FAIL" lines and
# "isolation-tests: N passed, M failed".
. "$(dirname "$0")/../testlib.sh"
setup isolation-tests "$1" "$2" isolation-test
NODE_MODE=0666
UID_B=1002

# socket_checks DIR USER_UID: modes and owners, and what B cannot do there.
socket_checks() {
	local dir=$1 uid=$2 sock=$1/smaf.sock
	expect "$dir is a directory of mode 0755 owned by smafd's user, uid $uid ($(stat -c '%a uid %u' "$dir"))" \
		test "$(stat -c '%F %a %u' "$dir")" = "directory 755 $uid"
	expect "$sock is a socket of mode 0666 ($(stat -c '%a %F' "$sock"))" test "$(stat -c '%a %F' "$sock")" = "666 socket"
	expect "uid $UID_B cannot remove the socket" bash -c "! setpriv --reuid=$UID_B --regid=$UID_B --clear-groups rm -f '$sock' 2>/dev/null && test -S '$sock'"
	expect "uid $UID_B cannot create anything beside it" bash -c "! setpriv --reuid=$UID_B --regid=$UID_B --clear-groups touch '$dir/squat' 2>/dev/null"
}

echo "# --- smafd as root (/run/smaf)"
start_smafd "$WORK/root.log"
fds0=$(fd_count)
socket_checks /run/smaf 0
run_test "users A and B are isolated from each other (smafd as root)" "$BIN/isolation-test"
expect_nothing_left "$fds0"
stop_smafd

echo "# --- smafd refuses a socket directory others could write to"
# refused DIR: smafd must exit 1 at once, saying why, without serving.
refused() {
	local out rc
	out=$(timeout 20 "$SMAFD" --foreground --devname smaf-iso --socket-dir "$1" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/    /' | tail -n 2
	[ "$rc" = 1 ] && echo "$out" | grep -q "writable by nobody else" && [ ! -e /dev/smaf-iso ]
}
mkdir -m 1777 "$WORK/everyone"
expect "a mode 1777 directory is refused" refused "$WORK/everyone"
mkdir -m 0755 "$WORK/theirs"
chown "$UID_B" "$WORK/theirs"
expect "a directory owned by uid $UID_B is refused" refused "$WORK/theirs"

echo "# --- smafd --user nobody (/run/smaf-nobody)"
start_smafd "$WORK/nobody.log" --user nobody --socket-dir /run/smaf-nobody
ids=$(awk '/^Uid:|^Gid:/ { printf "%s %s %s %s %s ", $1, $2, $3, $4, $5 }' "/proc/$PID/status")
expect "smafd runs as nobody after setup ($ids)" test "$ids" = "Uid: 65534 65534 65534 65534 Gid: 65534 65534 65534 65534 "
fds0=$(fd_count)
socket_checks /run/smaf-nobody 65534
run_test "users A and B are isolated from each other (smafd as nobody)" "$BIN/isolation-test"
expect_nothing_left "$fds0"
stop_smafd
rm -rf /run/smaf-nobody
finish
