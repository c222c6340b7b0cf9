#!/usr/bin/env bash
# Everything the VM tier checks, in one boot of one kernel: the device and
# its ABI (device-tests.sh), then buffers, handoff and libsmaf (buffer-tests.sh),
# then smafctl (smafctl-tests.sh; smafctl sits next to smafd).
#   Tests/vm/all-tests.sh SMAFD_BINARY BUILD_DIR     (BUILD_DIR: .build/c)
set -u
here=$(dirname "$0")
status=0
"$here/device-tests.sh" "$1" "$2/smaf-abi-test" || status=1
"$here/buffer-tests.sh" "$1" "$2" || status=1
"$here/smafctl-tests.sh" "$1" "$(dirname "$1")/smafctl" "$2" || status=1
exit "$status"
