#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier 1 (host, no CUSE needed): smafd's and smafctl's command lines. Every
# usage error must exit 64 with its reason and the valid values, and smafd
# must report it before opening anything (so the host's missing CUSE never
# hides it); smafctl's must appear under the subcommand's usage. Then
# smafctl check on nodes that are no SMAF device.
# Prints "ok"/"FAIL" lines and "cli-tests: N passed, M failed".
#   Tests/host/cli-tests.sh [SMAFD] [SMAFCTL]   (default .build/debug/...)
set -u
. "$(dirname "$0")/hostlib.sh"
cd "$(dirname "$0")/../.."
SMAFD=${1:-.build/debug/smafd}
SMAFCTL=${2:-.build/debug/smafctl}
host_work cli-tests

# usage_error WANT_RC PATTERN COMMAND...: exit status and a message line.
usage_error() {
	local want=$1 pattern=$2
	shift 2
	"$@" >"$WORK/out" 2>&1
	local rc=$?
	if [ "$rc" = "$want" ] && grep -qE -- "$pattern" "$WORK/out"; then
		ok "${*#"$SMAFD"}: exit $rc, says /$pattern/"
	else
		bad "$*: expected exit $want and /$pattern/, got exit $rc:"
		sed 's/^/    /' "$WORK/out"
	fi
}

echo "# --- smafd"
version=$(cat VERSION)
usage_error 0 "^$version\$" "$SMAFD" --version
# /nonexistent/cuse: were an option checked after opening it, the error would be about CUSE.
nocuse=(--cuse-device /nonexistent/cuse)
usage_error 64 "^Error: --rank 'x': expected NAME=N" "$SMAFD" "${nocuse[@]}" --rank x
usage_error 64 "^Error: --rank 'smaf-memfd=high': expected NAME=N" "$SMAFD" "${nocuse[@]}" --rank smaf-memfd=high
usage_error 64 "^Error: --rank 'bogus=1': 'bogus' is not an allocator name; allocators are smaf-heap-" "$SMAFD" "${nocuse[@]}" --rank bogus=1
usage_error 64 "^Error: --alias 'x': expected OLD=NEW" "$SMAFD" "${nocuse[@]}" --alias x
usage_error 64 "^Error: --alias 'smaf-cma=bogus': 'bogus' is not an allocator name" "$SMAFD" "${nocuse[@]}" --alias smaf-cma=bogus
usage_error 64 "^Error: --kernel-mappings smaf-vgem=maybe: expected NAME=correct or NAME=wrong" "$SMAFD" "${nocuse[@]}" --kernel-mappings smaf-vgem=maybe
usage_error 64 "^Error: --kernel-mappings: 'bogus' is not an allocator name; allocators are smaf-heap-" "$SMAFD" "${nocuse[@]}" --kernel-mappings bogus=wrong
usage_error 64 "^Error: --user nosuchuser: no such user" "$SMAFD" "${nocuse[@]}" --user nosuchuser
usage_error 64 "^Error: --drm-device /nonexistent: No such file or directory; give a DRM primary node" "$SMAFD" "${nocuse[@]}" --drm-device /nonexistent
usage_error 64 "^Error: --drm-device /etc/passwd: not a character device" "$SMAFD" "${nocuse[@]}" --drm-device /etc/passwd
usage_error 64 "^Error: --allocators: 'bogus' is not an allocator name; allocators are smaf-heap-<heap> .*smaf-memfd, smaf-secretmem" \
	"$SMAFD" "${nocuse[@]}" --allocators smaf-memfd,bogus
usage_error 64 "^Error: --max-buffer-size '1Q' is not a size; give a number of bytes, or with K, M or G" "$SMAFD" "${nocuse[@]}" --max-buffer-size 1Q
usage_error 64 "^Error: --max-bytes-per-user '99999999999G' is too large" "$SMAFD" "${nocuse[@]}" --max-bytes-per-user 99999999999G
usage_error 64 "^Error: --user-limit 'bob=1G': 'bob' is not a numeric uid" "$SMAFD" "${nocuse[@]}" --user-limit bob=1G
usage_error 64 "^Error: --cgroup-limit 'qa=1M': 'qa' is not a cgroup path" "$SMAFD" "${nocuse[@]}" --cgroup-limit qa=1M
usage_error 64 "^Error: --quota-allocator: 'vgem' is not an allocator name" "$SMAFD" "${nocuse[@]}" --quota-allocator vgem
usage_error 64 "^Error: --total-limit 'lots' is not a size; .*, or unlimited" "$SMAFD" "${nocuse[@]}" --total-limit lots
usage_error 64 "^Error: --max-buffers-per-user must be at least 1" "$SMAFD" "${nocuse[@]}" --max-buffers-per-user 0
usage_error 64 "^Error: --max-channels-per-process must be at least 1" "$SMAFD" "${nocuse[@]}" --max-channels-per-process 0
usage_error 64 "^Error: --abi-generations: unknown ABI generation 'v99'" "$SMAFD" "${nocuse[@]}" --abi-generations v99
usage_error 64 "^Error: --devname 'a/b' must be" "$SMAFD" "${nocuse[@]}" --devname a/b
usage_error 64 "Please provide one of 'testsecure', 'deny-cpu' or 'none'" "$SMAFD" "${nocuse[@]}" --secure-module x
usage_error 64 "Error: Unknown option '--bogus'" "$SMAFD" "${nocuse[@]}" --bogus
# Valid options get as far as /dev/cuse: the one failure left is CUSE's.
usage_error 1 "^smafd: CUSE is not available" "$SMAFD" "${nocuse[@]}" --rank smaf-memfd=5 --alias smaf-cma=smaf-memfd --user nobody --max-buffer-size 1G --kernel-mappings smaf-udmabuf-hugetlb=correct,smaf-vgem=wrong --user-limit 1G --user-limit 1000=unlimited --cgroup-limit /qa=64M --total-limit 2G --quota-allocator smaf-vgem

"$SMAFD" --help >"$WORK/help"
dups=$(grep -c '(default [0-9]' "$WORK/help")
if [ "$dups" = 0 ] && ! grep -qE 'vm/smaf-vm|\.build/' "$WORK/help"; then
	ok "smafd --help gives each default once (by ArgumentParser) and names no file only a checkout has"
else
	bad "smafd --help repeats a default or names vm/smaf-vm or .build/:"
	grep -nE '\(default [0-9]|vm/smaf-vm|\.build/' "$WORK/help" | sed 's/^/    /'
fi
# Each "(default" a --help option line shows must be the only one in that option's text.
# Options whose help text gives "(default" more than once.
twice() { awk '/^  -/ { if (n > 1) print opt; opt = $0; n = 0 } { n += gsub(/\(default/, "&") } END { if (n > 1) print opt }'; }
twice <"$WORK/help" >"$WORK/twice"
if [ ! -s "$WORK/twice" ]; then ok "no smafd option's help gives '(default' twice"; else bad "options whose help gives '(default' twice:"; sed 's/^/    /' "$WORK/twice"; fi

echo "# --- smafctl"
usage_error 0 "^$version\$" "$SMAFCTL" --version
for s in info status create devices check; do
	"$SMAFCTL" "$s" --help | twice >"$WORK/twice"
	if [ ! -s "$WORK/twice" ]; then ok "no 'smafctl $s' option's help gives '(default' twice"; else bad "'smafctl $s' options whose help gives '(default' twice:"; sed 's/^/    /' "$WORK/twice"; fi
done
under() { echo "^Usage: smafctl $1 "; }
for cmd in "create --size 1Q" "create --size 99999999999999999999" "create --size -5" "create --size 0" "devices --size 1Q /dev/null"; do
	case "$cmd" in
	*1Q*) why="'1Q' is not a size; give a number of bytes, or with K, M or G \(also KiB, MiB, GiB" ;;
	*9999*) why="'99999999999999999999' is too large; the largest size is 9223372036854775807 bytes" ;;
	*-5) why="'-5' is negative" ;;
	*0) why="'0' is zero" ;;
	esac
	# shellcheck disable=SC2086
	usage_error 64 "^Error: --size $why" "$SMAFCTL" $cmd
	# shellcheck disable=SC2086
	usage_error 64 "$(under "${cmd%% *}")" "$SMAFCTL" $cmd
done
usage_error 64 "^Error: --generations: unknown ABI generation 'bogus'" "$SMAFCTL" check --generations bogus
usage_error 64 "$(under check)" "$SMAFCTL" check --generations bogus
usage_error 64 "$(under devices)" "$SMAFCTL" devices
usage_error 64 "$(under info)" "$SMAFCTL" info --bogus
usage_error 64 "$(under status)" "$SMAFCTL" status extra
usage_error 64 "^Error: Unexpected argument 'bogus'|^Error: Unknown" "$SMAFCTL" bogus

echo "# --- smafctl check on nodes that are no SMAF device"
tty=$(ls /dev/tty[0-9]* 2>/dev/null | head -1)
echo data >"$WORK/regular"
for node in /dev/null /dev/zero /dev/urandom ${tty:+"$tty"} /dev/ptmx "$WORK/regular"; do
	"$SMAFCTL" check --device "$node" >"$WORK/out" 2>&1
	rc=$?
	n=$(grep -c "not a SMAF device" "$WORK/out")
	if [ "$rc" = 1 ] && [ "$n" = 1 ] && ! grep -q PASS "$WORK/out"; then
		ok "smafctl check --device $node: exit 1, 'not a SMAF device' once, no PASS ($(head -1 "$WORK/out"))"
	else
		bad "smafctl check --device $node: want exit 1, one 'not a SMAF device', no PASS; got exit $rc:"
		sed 's/^/    /' "$WORK/out"
	fi
done

echo "cli-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
