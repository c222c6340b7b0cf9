# Shared by the VM-tier scripts (source it): result counting and timing.
#   ok TEXT / bad TEXT      one passed / failed check
#   expect TEXT COMMAND...  passes if COMMAND succeeds
#   now_ms                  monotonic-enough wall clock in milliseconds
# Each script ends with: echo "NAME: $pass passed, $fail failed"
pass=0
fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }
expect() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
