#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: abuse of smafd's handoff socket (runs inside the test VM as root).
#   Tests/vm/abuse/abuse-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# The abuse program (Tests/vm/abuse/abuse_test.c) runs a well-behaved client that
# measures GET_INFO round trips and CREATEs, alone and then while processes
# send garbage (random bytes, oversized messages, fds attached), connect and
# never read while issuing raw CREATEs (EAGAIN, never a block), open 2,000
# connections from one process (beyond --max-channels-per-process, default
# 4, closed at once without a welcome) and come and go by the hundred. It
# must see no failure and a median GET_INFO under 10x its baseline. Then
# smafd must still be running with nothing left over: no buffer, no channel,
# no fd more than at its start. Prints "ok"/"FAIL" lines and
# "abuse-tests: N passed, M failed".
. "$(dirname "$0")/../testlib.sh"
setup abuse-tests "$1" "$2" abuse-test
NODE_MODE=0666

# smafd's default --max-channels-per-process.
limit=4

start_smafd "$WORK/smafd.log"
fds0=$(fd_count)
rss0=$(rss_kb)
run_test "a well-behaved client stays served through every kind of socket abuse" \
	"$BIN/abuse-test" --channel-limit "$limit" --phase-seconds "${SMAF_ABUSE_SECONDS:-4}"
# Every abusive connection gone, the reader's unread buffers died with it,
# every fd smafd was sent is closed.
expect_nothing_left "$fds0"
rss1=$(rss_kb)
echo "# smafd VmRSS ${rss0:-?} kB before the abuse, ${rss1:-?} kB after"
refused=$(grep -c "refused a handoff connection" "$WORK/smafd.log")
echo "# smafd logged $refused refused handoff connections (--log-level debug)"
# A crash is a signal, which smafd cannot log: it must still be running
# (stop_smafd then wants exit status 0 on SIGTERM); a Swift runtime trap
# does write "Fatal error" to smafd's stderr, which is the log.
expect "smafd is still running after the abuse" kill -0 "$PID"
expect "smafd's log shows no Swift runtime trap" bash -c "! grep -q 'Fatal error' '$WORK/smafd.log'"
stop_smafd
finish
