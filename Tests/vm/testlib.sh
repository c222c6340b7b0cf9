# SPDX-License-Identifier: MIT
# Tests/vm/testlib.sh - sourced by every VM-tier script (inside the test VM,
# as root). One copy of what they all need:
#   ok TEXT / bad TEXT         one passed / failed check
#   expect TEXT COMMAND...     passes if COMMAND succeeds
#   expect_eq TEXT WANT GOT / show FILE...
#                              (these four from Tests/host/hostlib.sh, which
#                              the host tier shares)
#   now_ms                     wall clock in milliseconds
#   setup NAME SMAFD BUILD_DIR PROGRAM...
#                              sets SMAFD, BUILD, WORK (scratch) and BIN: a
#                              directory every user can reach (the checkout
#                              may be private) holding libsmaf, the shim,
#                              buffer-test and PROGRAMs (they find
#                              libsmaf.so.0 next to themselves, $ORIGIN)
#   finish                     removes WORK, prints the time taken and
#                              "NAME: N passed, M failed"; returns the status
#   run_test TEXT COMMAND...   runs COMMAND, shows its output indented, one
#                              result from its exit status
#   run_grep TEXT PATTERN COMMAND...
#                              the same, and the output must match PATTERN
#   as_uid UID COMMAND...      as UID:UID without groups (no passwd entry needed)
#   as_nobody COMMAND...       as 65534:65534
#   wait_node [NAME] / wait_gone [NAME]
#                              up to 5 s for /dev/NAME (default $NODE) to
#                              appear (prints the ms it took) / to go away
#   wait_line FILE PATTERN [SECONDS]
#                              up to SECONDS (5) for a line matching PATTERN
#   launch_smafd LOG ARGS...   smafd --foreground ARGS in the background, PID
#                              set; --log-level $SMAFD_LOG_LEVEL (debug) first
#   start_smafd LOG ARGS...    launch_smafd, then /dev/$NODE must appear; gives
#                              up if the node exists before (another daemon
#                              would answer); chmod $NODE_MODE if that is set
#   stop_smafd [SIGNAL [NAME]] SIGTERM (or SIGNAL): exit 0, node /dev/NAME gone
#   status_field NAME          a field of SMAF_IOC_EXT_STATUS (buffer-test status)
#   wait_status NAME VALUE     up to 10 s for that field to be VALUE; prints
#                              "VALUE after N ms" (first word: last value seen)
#   fd_count / rss_kb / wait_fds N / expect_nothing_left FDS
#                              smafd's open fds and RSS; nothing of the clients left
set -u
# ok, bad, expect (and pass/fail): one copy for both tiers.
. "$(dirname "${BASH_SOURCE[0]}")/../host/hostlib.sh"
PID=
NODE=smaf
NODE_MODE=
SMAFD_LOG_LEVEL=${SMAFD_LOG_LEVEL-debug}
NAME=$(basename "$0" .sh)
STARTED=$(date +%s)

now_ms() { echo $(($(date +%s%N) / 1000000)); }

setup() {
	NAME=$1
	SMAFD=$(realpath "$2")
	BUILD=$(realpath "$3")
	shift 3
	local f
	WORK=$(mktemp -d "/tmp/smaf-$NAME.XXXXXX")
	chmod 0755 "$WORK"
	BIN=$WORK/bin
	mkdir -m 0755 "$BIN"
	# libsmaf.so.0 points at libsmaf.so.<VERSION> (the Makefile takes it from VERSION).
	local real
	real=$(readlink "$BUILD/libsmaf.so.0") || { echo "$NAME: $BUILD/libsmaf.so.0 is missing (run scripts/build-c)"; exit 1; }
	for f in "$real" libsmaf-preload.so buffer-test "$@"; do
		install -m 0755 "$BUILD/$f" "$BIN/$f" || { echo "$NAME: $BUILD/$f is missing (run scripts/build-c)"; exit 1; }
	done
	ln -s "$real" "$BIN/libsmaf.so.0"
	echo "# kernel $(uname -r), smafd $SMAFD, programs from $BUILD"
}

finish() {
	rm -rf "${WORK:-}"
	echo "# $NAME took $(($(date +%s) - STARTED)) s on $(uname -r)"
	echo "$NAME: $pass passed, $fail failed"
	[ "$fail" = 0 ]
}

run_test() {
	local what=$1 rc
	shift
	"$@" >"$WORK/out" 2>&1
	rc=$?
	sed 's/^/    /' "$WORK/out"
	if [ "$rc" = 0 ]; then ok "$what"; else bad "$what (exit $rc)"; fi
}

# run_grep WHAT PATTERN COMMAND...: run_test, and the output must also hold
# a line matching PATTERN (grep).
run_grep() {
	local what=$1 pattern=$2 rc
	shift 2
	"$@" >"$WORK/out" 2>&1
	rc=$?
	sed 's/^/    /' "$WORK/out"
	if [ "$rc" = 0 ] && grep -q "$pattern" "$WORK/out"; then ok "$what"; else bad "$what (exit $rc; want a line matching '$pattern')"; fi
}

as_uid() {
	local uid=$1
	shift
	setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}
as_nobody() { as_uid 65534 "$@"; }

wait_node() {
	local node=/dev/${1:-$NODE} start
	start=$(now_ms)
	# 15 s: a debug smafd under TCG probes every exporter before it serves.
	for _ in $(seq 1 300); do
		[ -c "$node" ] && { echo $(($(now_ms) - start)); return 0; }
		sleep 0.05
	done
	return 1
}

# Gone means the kernel has dropped the device (sysfs) and its node.
wait_gone() {
	local name=${1:-$NODE}
	for _ in $(seq 1 100); do
		[ -e "/dev/$name" ] || [ -e "/sys/class/cuse/$name" ] || return 0
		sleep 0.05
	done
	return 1
}

wait_line() {
	local i
	for i in $(seq 1 $((${3:-5} * 10))); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

launch_smafd() {
	local log=$1
	shift
	local level=()
	[ -n "$SMAFD_LOG_LEVEL" ] && level=(--log-level "$SMAFD_LOG_LEVEL")
	# A script's background jobs inherit SIGINT ignored; undo that so the
	# daemon sees the signals a user at a terminal would send.
	env --default-signal=INT,TERM,HUP "$SMAFD" --foreground "${level[@]}" "$@" >"$log" 2>&1 &
	PID=$!
}

start_smafd() {
	local log=$1 ms
	shift
	if [ -e "/dev/$NODE" ]; then
		bad "/dev/$NODE exists before smafd${*:+ $*} starts: a daemon left over by an earlier script serves it; giving up"
		ps -eo pid,args | grep '[s]mafd' | sed 's/^/    /'
		finish
		exit 1
	fi
	launch_smafd "$log" "$@"
	if ms=$(wait_node "$NODE") && kill -0 "$PID" 2>/dev/null; then
		ok "smafd${*:+ $*} serves /dev/$NODE (${ms} ms)"
		[ -n "$NODE_MODE" ] && chmod "$NODE_MODE" "/dev/$NODE"
		return 0
	fi
	bad "smafd${*:+ $*} did not serve /dev/$NODE within 15 s"
	cat "$log"
	return 1
}

stop_smafd() {
	local sig=${1:-TERM} name=${2:-$NODE} rc
	kill "-$sig" "$PID"
	for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$PID" 2>/dev/null; then
		bad "smafd still running 5 s after SIG$sig; killing it"
		kill -KILL "$PID"
	fi
	wait "$PID"
	rc=$?
	PID=
	expect "smafd exits 0 on SIG$sig (rc=$rc)" test "$rc" = 0
	expect "/dev/$name is removed after SIG$sig" wait_gone "$name"
}

status_field() {
	"$BIN/buffer-test" status | tr ' ' '\n' | sed -n "s/^$1=//p"
}

wait_status() {
	local v= start
	start=$(now_ms)
	for _ in $(seq 1 100); do
		v=$(status_field "$1")
		[ "$v" = "$2" ] && break
		sleep 0.1
	done
	echo "${v:-?} after $(($(now_ms) - start)) ms"
	[ "$v" = "$2" ]
}

# smafd's open fds, not counting the buffers its pools hold ready (their
# number changes as the pools learn and refill; a leak shows all the same).
fd_count() {
	local all ahead
	all=$(ls "/proc/$PID/fd" | wc -l)
	ahead=$(status_field ready_ahead)
	echo $((all - ${ahead:-0}))
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status" 2>/dev/null; }

wait_fds() {
	local n
	for _ in $(seq 1 50); do
		n=$(fd_count)
		[ "$n" = "$1" ] && break
		sleep 0.1
	done
	echo "$n"
	[ "$n" = "$1" ]
}

expect_nothing_left() {
	local r
	expect "smafd is still running" kill -0 "$PID"
	r=$(wait_status channels 0)
	expect "no handoff channel is left (channels=$r)" test "${r%% *}" = 0
	r=$(wait_status live_buffers 0)
	expect "no buffer is left (live_buffers=$r)" test "${r%% *}" = 0
	r=$(wait_fds "$1")
	expect "smafd has as many open fds as at its start ($1 -> $r)" test "$r" = "$1"
}

# The allocators a default smafd offers on this kernel, derived from the
# exporters the kernel has (not from smafd), in the documented default rank
# order: smaf-vgem 70, heaps (system 60, others 40), smaf-udmabuf 50,
# smaf-udmabuf-hugetlb 30, smaf-memfd 0, smaf-secretmem -10. With
# "deny-cpu": as that policy orders them, the sealable smaf-memfd first.
expected_allocators() {
	local h list= others=
	[ -d /sys/module/vgem ] && list+=" smaf-vgem"
	[ -e /dev/dma_heap/system ] && list+=" smaf-heap-system"
	[ -e /dev/udmabuf ] && list+=" smaf-udmabuf"
	for h in /dev/dma_heap/*; do [ -e "$h" ] && [ "${h##*/}" != system ] && others+=" smaf-heap-${h##*/}"; done
	list+=$others
	[ -e /dev/udmabuf ] && [ "$(awk '/^HugePages_Total:/ { print $2 }' /proc/meminfo)" != 0 ] &&
		list+=" smaf-udmabuf-hugetlb"
	if [ "${1:-}" = deny-cpu ]; then
		list="smaf-memfd$list"
	else
		list+=" smaf-memfd"
	fi
	# vm/smaf-vm always boots with secretmem.enable=1 (6.1 needs it).
	grep -qw 'secretmem.enable=1' /proc/cmdline && list+=" smaf-secretmem"
	echo $list
}

# "--allocator NAME" for each of expected_allocators, for smaf-abi-test.
expected_allocator_args() {
	local a
	for a in $(expected_allocators "$@"); do printf -- '--allocator %s ' "$a"; done
}

# Debian's systemd-udevd (package udev): its path, or nothing.
find_udevd() {
	local c
	for c in /lib/systemd/systemd-udevd /usr/lib/systemd/systemd-udevd; do
		[ -x "$c" ] && { echo "$c"; return 0; }
	done
	return 1
}

# start_udevd LOG: systemd-udevd with --debug (rule problems show in LOG),
# waited for until it answers; sets UDEVD_PID. Fails if it never answers.
# The VM runs the command chrooted into the host's root: udevadm ignores
# control, trigger and settle requests in a chroot unless told not to.
start_udevd() {
	local udevd _
	udevd=$(find_udevd) || return 1
	export SYSTEMD_IGNORE_CHROOT=1
	SYSTEMD_LOG_TARGET=console "$udevd" --debug >"$1" 2>&1 &
	UDEVD_PID=$!
	for _ in $(seq 1 100); do
		udevadm control --ping --timeout=1 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# v4l2_node NAME: /dev/videoN whose sysfs name is NAME (vivid makes several
# nodes per instance; numbers depend on load order). drm_card DRIVER:
# /dev/dri/cardN of that driver (vkms, vgem: their platform device has the
# driver's name; vkms's is bound to no driver).
v4l2_node() {
	local d
	for d in /sys/class/video4linux/video*; do
		[ "$(cat "$d/name" 2>/dev/null)" = "$1" ] && { echo "/dev/${d##*/}"; return 0; }
	done
	return 1
}
drm_card() {
	local c
	for c in /sys/class/drm/card[0-9]*; do
		case ${c##*/} in *-*) continue ;; esac
		[ "$(basename "$(readlink -f "$c/device")")" = "$1" ] && { echo "/dev/dri/${c##*/}"; return 0; }
	done
	return 1
}
