#!/usr/bin/env bash
# VM tier: concurrency soak (runs inside the test VM as root).
#   Tests/vm/soak-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# Tests/vm/soak.c: 16 client processes x 2 threads for 20 s (SMAF_SOAK_SECONDS)
# mixing every operation: creates with all four flag combinations and random
# sizes, mappings that respect SMAF_RDWR, patterns written and verified,
# buffers passed around a ring of socketpairs, secure set/get, GET_INFO,
# close. No unexpected error, no lost buffer: smafd's created_total matches
# the creates and live_buffers returns to 0 once the clients exit. Prints
# operations per second, smafd's resident memory and buffer counts,
# "ok"/"FAIL" lines and "soak-tests: N passed, M failed".
. "$(dirname "$0")/testlib.sh"
setup soak-tests "$1" "$2" soak
NODE_MODE=0666

start_smafd "$WORK/smafd.log"
fds0=$(fd_count)
rss0=$(rss_kb)
run_test "16 processes x 2 threads mixing every operation: no error, no lost buffer" \
	"$BIN/soak" --seconds "${SMAF_SOAK_SECONDS:-20}" --smafd-pid "$PID"
expect_nothing_left "$fds0"
rss1=$(rss_kb)
echo "# smafd VmRSS ${rss0:-?} kB at its start, ${rss1:-?} kB after the soak (allowed: +32768 kB)"
expect "smafd's RSS stays within 32 MiB of its start (${rss0:-?} -> ${rss1:-?} kB)" \
	test "${rss1:-999999999}" -le $((${rss0:-0} + 32768))
stop_smafd
finish
