# SPDX-License-Identifier: MIT
# Tests/host/hostlib.sh - sourced by the host-tier scripts (Tests/host/*.sh),
# the one copy of what they share (the VM tier's is Tests/vm/testlib.sh):
#   ok TEXT / bad TEXT              one passed / failed check
#   expect TEXT COMMAND...          passes if COMMAND succeeds
#   expect_eq TEXT EXPECTED ACTUAL  passes if the two strings are equal
#   show [FILE...]                  indents its input, as the results do
#   host_work NAME                  WORK: a scratch directory, removed at exit
pass=0
fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
expect() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected '$2', got '$3'"; fi
}
show() { sed 's/^/    /' "$@"; }
host_work() {
	WORK=$(mktemp -d "/tmp/smaf-$1.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
}
