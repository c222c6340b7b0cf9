# SPDX-License-Identifier: MIT
# Tests/host/hostlib.sh - sourced by the host-tier scripts (Tests/host/*.sh)
# and by the VM tier's Tests/vm/testlib.sh, the one copy of the result lines
# and helpers both tiers use:
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
