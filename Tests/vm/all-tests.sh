#!/usr/bin/env bash
# Everything the VM tier checks, in one boot of one kernel: the device and
# its ABI (device-tests.sh), then buffers, handoff and libsmaf (buffer-tests.sh),
# then the buffers as dma-bufs that vgem and vivid import (dmabuf-tests.sh;
# boot as scripts/test does), then constraint-aware allocation
# (constraints-tests.sh), then smafctl (smafctl-tests.sh; smafctl sits
# next to smafd), then 100,000
# random ioctls against one daemon that must survive them (storm-tests.sh),
# least privilege and limits (privilege-tests.sh), the reliability tests
# below, then what "make install" put into DESTDIR: pkg-config, udev, readiness
# (ops-tests.sh).
#   Tests/vm/all-tests.sh SMAFD_BINARY BUILD_DIR [DESTDIR]
#     BUILD_DIR: .build/c; DESTDIR: a "make install DESTDIR=..." of that smafd
#     (scripts/test: .build/destdir); without it ops-tests.sh is skipped.
set -u
here=$(dirname "$0")
status=0
"$here/device-tests.sh" "$1" "$2/smaf-abi-test" || status=1
"$here/buffer-tests.sh" "$1" "$2" || status=1
# Buffers as real dma-bufs, judged by the importers vgem and vivid (the VM
# must be booted as scripts/test does: --modules vivid,vgem, hugepages=).
"$here/dmabuf-tests.sh" "$1" "$2" || status=1
# Devices choose the allocator (udev properties, sysfs); first without
# udevd, then with it: before anything else here starts systemd-udevd.
"$here/constraints-tests.sh" "$1" "$2" || status=1
"$here/smafctl-tests.sh" "$1" "$(dirname "$1")/smafctl" "$2" || status=1
"$here/storm-tests.sh" "$1" "$2" || status=1
"$here/privilege-tests.sh" "$1" "$2" || status=1
# Reliability and security: clients and smafd SIGKILLed (fault-tests.sh),
# handoff socket abuse (abuse-tests.sh), two users (isolation-tests.sh),
# 16 processes x 2 threads doing everything at once (soak-tests.sh), and
# memory pressure (pressure-tests.sh).
"$here/fault-tests.sh" "$1" "$2" || status=1
"$here/abuse-tests.sh" "$1" "$2" || status=1
"$here/isolation-tests.sh" "$1" "$2" || status=1
"$here/soak-tests.sh" "$1" "$2" || status=1
"$here/pressure-tests.sh" "$1" "$2" || status=1
if [ -n "${3:-}" ]; then
	"$here/ops-tests.sh" "$1" "$2" "$3" || status=1
else
	echo "# ops-tests.sh skipped: no DESTDIR given"
fi
exit "$status"
