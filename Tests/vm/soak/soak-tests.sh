#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: concurrency soak (runs inside the test VM as root).
#   Tests/vm/soak/soak-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# Tests/vm/soak/soak_test.c: 16 client processes x 2 threads for 20 s (SMAF_SOAK_SECONDS)
# mixing every operation: creates with all four flag combinations and random
# sizes, mappings that respect SMAF_RDWR, patterns written and verified,
# buffers passed around a ring of socketpairs, secure set/get, GET_INFO,
# close. No unexpected error, no lost buffer: smafd's created_total matches
# the creates and live_buffers returns to 0 once the clients exit. Prints
# operations per second, smafd's resident memory and buffer counts,
# "ok"/"FAIL" lines and "soak-tests: N passed, M failed".
. "$(dirname "$0")/../testlib.sh"
setup soak-tests "$1" "$2" soak-test
NODE_MODE=0666

start_smafd "$WORK/smafd.log"
fds0=$(fd_count)
rss0=$(rss_kb)
# Every allocator by name too, within what it declares it can make;
# secretmem aside: its pages count against each client's RLIMIT_MEMLOCK.
named=$("$(dirname "$SMAFD")/smafctl" info --json | python3 -c '
import json, sys
for a in json.load(sys.stdin)["allocators"]:
    if a["name"] != "smaf-secretmem":
        cap = a["max_size"] if a["max_size"] < 2**62 else 0
        pool = ":pool" if a["name"] == "smaf-udmabuf-hugetlb" else ""  # the huge page pool (hugepages=16)
        print("--allocator %s:%d%s%s" % (a["name"], cap, "" if a["read_only"] else ":rw", pool), end=" ")')
echo "# named allocators: $named"
run_test "16 processes x 2 threads mixing every operation, every allocator: no error, no lost buffer" \
	"$BIN/soak-test" --seconds "${SMAF_SOAK_SECONDS:-20}" --smafd-pid "$PID" $named
expect_nothing_left "$fds0"
rss1=$(rss_kb)
echo "# smafd VmRSS ${rss0:-?} kB at its start, ${rss1:-?} kB after the soak (allowed: +32768 kB)"
expect "smafd's RSS stays within 32 MiB of its start (${rss0:-?} -> ${rss1:-?} kB)" \
	test "${rss1:-999999999}" -le $((${rss0:-0} + 32768))
stop_smafd
finish
