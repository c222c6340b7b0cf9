#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier 1 (host, root): the package tests leave an install they did not make
# alone. With the packages installed beforehand (here by this script, as a
# user would), "package-tests.sh install" must stop with exit status 3 and
# say why, "purge" must remove nothing, and the packages and the smaf group
# must still be there; then this script purges its own install.
# Needs the packages built (package-tests.sh build) and none installed.
# Prints "ok"/"FAIL" lines and "package-refusal-tests: N passed, M failed".
set -u
. "$(dirname "$0")/hostlib.sh"
cd "$(dirname "$0")/../.."
VERSION=$(cat VERSION)
host_work package-refusal
installed() { [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | cut -c1-2)" = ii ]; }

for p in smafd libsmaf0 libsmaf-dev; do
	if dpkg-query -W "$p" >/dev/null 2>&1 && ! dpkg-query -W -f='${db:Status-Abbrev}' "$p" | grep -q '^.n'; then
		echo "package-refusal-tests: $p is installed on this host; these tests install and purge their own copy, so they stop (they never remove an install they did not make)"
		exit 1
	fi
done
had_group=$(getent group smaf >/dev/null && echo yes || echo no)
debs=(.build/packages/smafd_"$VERSION"_amd64.deb .build/packages/libsmaf0_"$VERSION"_amd64.deb .build/packages/libsmaf-dev_"$VERSION"_amd64.deb)
dpkg -i "${debs[@]}" >"$WORK/dpkg.log" 2>&1
expect "the packages installed beforehand, as a user would (dpkg -i)" test $? = 0
gid=$(getent group smaf | cut -d: -f3)

SMAF_PACKAGE_TEST_RUN=refusal-probe Tests/host/package-tests.sh install >"$WORK/install.out" 2>&1
rc=$?
sed 's/^/    /' "$WORK/install.out"
expect "package-tests.sh install stops with exit status 3 (rc=$rc)" test "$rc" = 3
expect "  ... saying the packages were installed before this run and how to remove them" \
	grep -q "installed before this run: the package tests .* stop here rather than remove an install they did not make; purge them yourself (dpkg --purge" "$WORK/install.out"
SMAF_PACKAGE_TEST_RUN=refusal-probe Tests/host/package-tests.sh purge >"$WORK/purge.out" 2>&1
rc=$?
sed 's/^/    /' "$WORK/purge.out"
expect "package-tests.sh purge of a run that installed nothing fails and purges nothing (rc=$rc)" \
	bash -c "[ $rc != 0 ] && grep -q 'did not install the packages.*nothing purged' '$WORK/purge.out'"
for p in smafd libsmaf0 libsmaf-dev; do
	expect "$p is still installed" installed "$p"
done
expect "group smaf is still there (gid $gid)" test "$(getent group smaf | cut -d: -f3)" = "$gid"

dpkg --purge smafd libsmaf0 libsmaf-dev >"$WORK/purge.log" 2>&1
expect "this script's own install purged" test $? = 0
for p in smafd libsmaf0 libsmaf-dev; do
	expect "$p is gone" bash -c "! dpkg-query -W -f='\${Status}' '$p' 2>/dev/null | grep -q installed"
done
expect "group smaf is there after the purge only if it was before ($had_group)" \
	test "$(getent group smaf >/dev/null && echo yes || echo no)" = "$had_group"
echo "package-refusal-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
