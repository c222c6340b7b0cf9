#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Everything the VM tier checks, in one boot of one kernel: the device and
# its ABI (abi-tests.sh), then buffers, handoff and libsmaf (buffer-tests.sh),
# then the buffers as dma-bufs that vgem and vivid import (dmabuf-tests.sh;
# boot as scripts/test does), then constraint-aware allocation
# (constraints-tests.sh), then smafctl (smafctl-tests.sh; smafctl sits
# next to smafd), then the legacy ABI generations (generations-tests.sh),
# 32-bit callers (compat32-tests.sh, from the i386 build BUILD_DIR/../c32),
# callers in containers (container-tests.sh), then 100,000
# random ioctls against daemons that must survive them (storm-tests.sh),
# least privilege and limits (privilege-tests.sh), the reliability tests
# below, then what "make install" put into DESTDIR: pkg-config, udev, readiness
# (installed-tree-tests.sh).
#   Tests/vm/all-tests.sh SMAFD_BINARY BUILD_DIR [DESTDIR]
#     BUILD_DIR: .build/c; DESTDIR: a "make install DESTDIR=..." of that smafd
#     (scripts/test: .build/destdir); without it installed-tree-tests.sh is skipped.
#     The i386 build (scripts/build-c --m32) is expected beside BUILD_DIR, in
#     c32: without it compat32-tests.sh is skipped, or fails when $CI is set.
set -u
here=$(dirname "$0")
status=0
"$here/abi/abi-tests.sh" "$1" "$2/abi-test" || status=1
"$here/buffer/buffer-tests.sh" "$1" "$2" || status=1
# Buffers as real dma-bufs, judged by the importers vgem and vivid (the VM
# must be booted as scripts/test does: --modules vivid,vgem, hugepages=).
"$here/dmabuf/dmabuf-tests.sh" "$1" "$2" || status=1
# Devices choose the allocator (udev properties, sysfs); first without
# udevd, then with it: before anything else here starts systemd-udevd.
"$here/constraints/constraints-tests.sh" "$1" "$2" || status=1
# The right bytes in every device: vkms, vivid and vgem judge every
# allocator's buffers, and smafd's kernel-mapping verdicts must agree.
"$here/pixels/pixels-tests.sh" "$1" "$2" || status=1
# Stock GStreamer pipelines on SMAF buffers (the plugin gst/, its registry
# made by scripts/build-c on the host): camera, display, both, output, errors.
"$here/gstreamer/gstreamer-tests.sh" "$1" "$2" || status=1
"$here/smafctl/smafctl-tests.sh" "$1" "$(dirname "$1")/smafctl" "$2" || status=1
# Every SMAF ABI generation, 32-bit callers, callers in containers.
"$here/generations/generations-tests.sh" "$1" "$2" || status=1
build32=$(dirname "$2")/c32
if [ -e "$build32/libsmaf.so.0" ]; then
	"$here/compat32/compat32-tests.sh" "$1" "$build32" || status=1
elif [ -n "${CI:-}" ]; then
	echo "compat32-tests: FAIL - no i386 build in $build32 (scripts/build-c --m32 makes it); CI must run the 32-bit tests"
	status=1
else
	echo "# compat32-tests.sh skipped: no i386 build in $build32 (run scripts/build-c --m32; it needs gcc-multilib)"
fi
"$here/container/container-tests.sh" "$1" "$2" || status=1
"$here/storm/storm-tests.sh" "$1" "$2" || status=1
"$here/privilege/privilege-tests.sh" "$1" "$2" || status=1
# Reliability and security: clients and smafd SIGKILLed (fault-tests.sh),
# handoff socket abuse (abuse-tests.sh), two users (isolation-tests.sh),
# 16 processes x 2 threads doing everything at once (soak-tests.sh), and
# memory pressure (pressure-tests.sh).
"$here/fault/fault-tests.sh" "$1" "$2" || status=1
"$here/abuse/abuse-tests.sh" "$1" "$2" || status=1
"$here/isolation/isolation-tests.sh" "$1" "$2" || status=1
"$here/soak/soak-tests.sh" "$1" "$2" || status=1
"$here/pressure/pressure-tests.sh" "$1" "$2" || status=1
# Quotas on memory no cgroup of the caller pays for (quota-tests.sh).
"$here/quota/quota-tests.sh" "$1" "$2" || status=1
if [ -n "${3:-}" ]; then
	"$here/installed-tree/installed-tree-tests.sh" "$1" "$2" "$3" || status=1
else
	echo "# installed-tree-tests.sh skipped: no DESTDIR given"
fi
exit "$status"
