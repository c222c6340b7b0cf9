#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: runs inside the test VM (root, /dev/cuse present, see vm/smaf-vm).
# Checks what "make install" put into DESTDIR (scripts/test installs into
# .build/destdir on the host first) against the real kernel:
#   1. a C program built with nothing but `pkg-config --cflags --libs libsmaf`
#      uses /dev/smaf served by the installed smafd (started as the unit's
#      ExecStart= says), through the installed libsmaf.so.0;
#   2. udev: Debian's systemd-udevd with the installed rule gives the node
#      group smaf and mode 0660, and edited rules take effect;
#   3. readiness: smafd tells $NOTIFY_SOCKET READY=1 once the node exists and
#      STOPPING=1 on SIGTERM (a listener of the test's own plays systemd);
#   4. the unit's capability bounding set, no_new_privs and a private network
#      namespace still let smafd serve an unprivileged client;
# Prints "ok"/"FAIL" lines and "installed-tree-tests: N passed, M failed".
#
#   Tests/vm/installed-tree/installed-tree-tests.sh SMAFD BUILD_DIR DESTDIR
#     SMAFD: the smafd that was installed (checked to be the installed copy),
#     BUILD_DIR: .build/c, DESTDIR: the staged install (.build/destdir)
. "$(dirname "$0")/../testlib.sh"
here=$(cd "$(dirname "$0")" && pwd -P)
SMAFD_BUILT=$(realpath "$1")
BUILD=$(realpath "$2")
DEST=$(realpath "$3")
WORK=$(mktemp -d /tmp/smaf-ops-tests.XXXXXX)
chmod 0755 "$WORK"
PID=
UDEVD_PID=
SD_PID=
GROUP_BOUND=0


cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
	[ -n "$SD_PID" ] && kill -KILL "$SD_PID" 2>/dev/null
	if [ -n "$UDEVD_PID" ]; then
		udevadm control --exit 2>/dev/null || kill -TERM "$UDEVD_PID" 2>/dev/null
	fi
	rm -f /run/udev/rules.d/70-smaf.rules /run/udev/rules.d/71-smaf-test-*.rules
	[ "$GROUP_BOUND" = 1 ] && umount /etc/group
	rm -rf "$WORK"
}
trap cleanup EXIT

# ---- what was installed -------------------------------------------------------
unit=$(find "$DEST" -name smafd.service -type f | head -n 1)
rule=$(find "$DEST" -name 70-smaf.rules -type f | head -n 1)
pc=$(find "$DEST" -name libsmaf.pc -type f | head -n 1)
if [ -z "$unit" ] || [ -z "$rule" ] || [ -z "$pc" ]; then
	bad "$DEST holds no installed smafd.service, 70-smaf.rules and libsmaf.pc (run make install DESTDIR=$DEST)"
	echo "installed-tree-tests: $pass passed, $fail failed"
	exit 1
fi
# The unit's command line, run from DESTDIR.
read -r -a START <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
SMAFD=$DEST${START[0]}
START_ARGS=("${START[@]:1}")
export PKG_CONFIG_LIBDIR=${pc%/*} PKG_CONFIG_PATH= PKG_CONFIG_SYSROOT_DIR=$DEST
LIBDIR=$(pkg-config --libs-only-L libsmaf | sed 's/^ *-L//; s/ *$//')
echo "# kernel $(uname -r); installed: ${START[*]} (in $DEST), libsmaf in $LIBDIR"
expect "the unit's ExecStart binary is the smafd under test" cmp -s "$SMAFD" "$SMAFD_BUILT"

# start_installed LOG ARGS...: the installed smafd with the unit's arguments plus
# ARGS, in the background (PID); environment variables go before: VAR=... start_installed
start_installed() {
	local log=$1
	shift
	env --default-signal=INT,TERM,HUP "$SMAFD" "${START_ARGS[@]}" "$@" >"$log" 2>&1 &
	PID=$!
}
# stop_installed NAME: SIGTERM; smafd must exit 0 and the node must go.
stop_installed() {
	local rc
	kill -TERM "$PID"
	for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$PID" 2>/dev/null && { bad "smafd still runs 5 s after SIGTERM"; kill -KILL "$PID"; }
	wait "$PID"
	rc=$?
	PID=
	local gone=0
	wait_gone "$1" && gone=1
	expect "smafd exits 0 on SIGTERM and /dev/$1 goes away (rc=$rc)" test "$rc$gone" = 01
}
as_user() { # as_user GID[,GID...] COMMAND...: as nobody, primary group nogroup
	local groups=$1
	shift
	setpriv --reuid=65534 --regid=65534 --groups="$groups" env LD_LIBRARY_PATH="$WORK/lib" "$@"
}

# The client, built here from the installed tree with pkg-config's flags only.
flags=$(pkg-config --cflags --libs libsmaf)
# shellcheck disable=SC2086 # the flags are words
gcc -std=c11 -Wall -Wextra -Werror -o "$WORK/client" "$here/../../host/pkgconfig_client.c" $flags >"$WORK/cc.log" 2>&1
rc=$?
expect "the client builds with only \`pkg-config --cflags --libs libsmaf\` ($flags) (rc=$rc)" test "$rc" = 0
[ "$rc" = 0 ] || show "$WORK/cc.log"
# For unprivileged runs: a copy of the installed libsmaf where every user can
# read it (the checkout may be a private directory).
mkdir -m 0755 "$WORK/lib"
cp -P "$LIBDIR"/libsmaf.so* "$WORK/lib/"

# ---- 1. the pkg-config-built client against the installed smafd -------------
echo "# --- 1. libsmaf client built with pkg-config, installed smafd"
start_installed "$WORK/smafd1.log"
if ms=$(wait_node smaf); then ok "installed smafd (${START[*]}) serves /dev/smaf (${ms} ms)"; else bad "no /dev/smaf from the installed smafd"; show "$WORK/smafd1.log"; fi
LD_LIBRARY_PATH=$LIBDIR "$WORK/client" >"$WORK/client1.log" 2>&1
rc=$?
show "$WORK/client1.log"
expect "the client creates, maps, writes and reads back a buffer, and makes it secure (rc=$rc)" test "$rc" = 0
expect "  ... through the installed libsmaf.so.0" grep -qx "libsmaf: $LIBDIR/libsmaf.so.0" "$WORK/client1.log"
stop_installed smaf

# ---- 2. udev --------------------------------------------------------------------
echo "# --- 2. udev: the installed rule under Debian's systemd-udevd"
if ! find_udevd >/dev/null; then
	bad "systemd-udevd is not installed (Debian package udev; scripts/install-deps installs it)"
else
	# Group smaf: the root file system is read-only here, so a copy of
	# /etc/group with the group added is bind-mounted over it.
	gid=$(getent group smaf | cut -d: -f3)
	if [ -z "$gid" ]; then
		gid=999
		while getent group "$gid" >/dev/null; do gid=$((gid - 1)); done
		cp /etc/group "$WORK/group"
		echo "smaf:x:$gid:" >>"$WORK/group"
		chmod 0644 "$WORK/group"
		mount --bind "$WORK/group" /etc/group && GROUP_BOUND=1
	fi
	expect "group smaf exists (gid $gid)" test "$(getent group smaf | cut -d: -f3)" = "$gid"
	nogroup=$(getent group nogroup | cut -d: -f3)

	mkdir -p /run/udev/rules.d
	install -m 0644 "$rule" /run/udev/rules.d/70-smaf.rules
	expect "systemd-udevd is up" start_udevd "$WORK/udevd.log"

	start_installed "$WORK/smafd2.log"
	wait_node smaf >/dev/null || { bad "no /dev/smaf"; show "$WORK/smafd2.log"; }
	udevadm settle --timeout=15
	udevadm info /dev/smaf >"$WORK/info" 2>&1
	expect "udev sees the node as subsystem cuse, kernel name smaf" \
		bash -c "grep -qx 'E: SUBSYSTEM=cuse' '$WORK/info' && grep -qx 'E: DEVNAME=/dev/smaf' '$WORK/info'"
	expect_eq "the installed rule gives /dev/smaf owner root, group smaf, mode 660" \
		"root smaf 660" "$(stat -c '%U %G %a' /dev/smaf)"
	as_user "$gid" "$WORK/client" >"$WORK/client2.log" 2>&1
	rc=$?
	expect "a user in group smaf (nobody + smaf) uses /dev/smaf with the client (rc=$rc)" test "$rc" = 0
	[ "$rc" = 0 ] || show "$WORK/client2.log"
	expect "a user outside group smaf cannot open it" \
		bash -c "! setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'exec 3<>/dev/smaf' 2>/dev/null"

	# Changing group and mode as the README says: a later-numbered rule file,
	# udevadm control --reload, and a change event for the running node.
	echo 'SUBSYSTEM=="cuse", KERNEL=="smaf", GROUP="nogroup", MODE="0640"' >/run/udev/rules.d/71-smaf-test-local.rules
	udevadm control --reload
	udevadm trigger --action=change --subsystem-match=cuse --sysname-match=smaf
	udevadm settle --timeout=15
	expect_eq "a later rule (GROUP=nogroup MODE=0640) applies to the running node after reload + trigger" \
		"root nogroup 640" "$(stat -c '%U %G %a' /dev/smaf)"
	rm -f /run/udev/rules.d/71-smaf-test-local.rules
	stop_installed smaf

	# An edited copy of the installed rule for another --devname.
	sed -e 's/KERNEL=="smaf"/KERNEL=="smaf-alt"/' -e 's/GROUP="smaf"/GROUP="nogroup"/' -e 's/MODE="0660"/MODE="0604"/' \
		"$rule" >/run/udev/rules.d/71-smaf-test-alt.rules
	udevadm control --reload
	start_installed "$WORK/smafd3.log" --devname smaf-alt
	wait_node smaf-alt >/dev/null || { bad "no /dev/smaf-alt"; show "$WORK/smafd3.log"; }
	udevadm settle --timeout=15
	expect_eq "the installed rule edited to KERNEL==\"smaf-alt\", GROUP=\"nogroup\", MODE=\"0604\" gives /dev/smaf-alt exactly that" \
		"root nogroup 604" "$(stat -c '%U %G %a' /dev/smaf-alt)"
	stop_installed smaf-alt
	rm -f /run/udev/rules.d/71-smaf-test-alt.rules

	udevadm control --exit
	stopped=0
	for _ in $(seq 1 100); do kill -0 "$UDEVD_PID" 2>/dev/null || { stopped=1; break; }; sleep 0.05; done
	expect "systemd-udevd stops (udevadm control --exit)" test "$stopped" = 1
	[ "$stopped" = 1 ] || kill -KILL "$UDEVD_PID"
	wait "$UDEVD_PID" 2>/dev/null
	UDEVD_PID=
	if grep -q "smaf" "$WORK/udevd.log" && [ "$fail" != 0 ]; then
		echo "# systemd-udevd's log about smaf:"
		grep -i "smaf" "$WORK/udevd.log" | tail -n 20 | show
	fi
	rm -f /run/udev/rules.d/70-smaf.rules
	[ "$GROUP_BOUND" = 1 ] && umount /etc/group && GROUP_BOUND=0
fi

# ---- 3. readiness over $NOTIFY_SOCKET -------------------------------------------
echo "# --- 3. sd_notify: READY=1 once /dev/smaf exists, STOPPING=1 on SIGTERM"
# listen SOCKET NODE OUT: the listener in the background (LPID), bound.
listen() {
	rm -f "$3"
	python3 "$here/notify-listener.py" "$1" "$2" "$3" 60 &
	LPID=$!
	for _ in $(seq 1 100); do [ -e "$3" ] && return 0; sleep 0.05; done
	bad "the notify listener did not start"
	return 1
}
field() { # field LINE KEY: the value of KEY=... in a listener line's message
	printf '%s\n' "${1#*msg=}" | tr '|' '\n' | sed -n "s/^$2=//p" | head -n 1
}

out=$WORK/notify.out
listen "$WORK/notify.sock" /dev/smaf "$out"
start=$(now_ms)
NOTIFY_SOCKET=$WORK/notify.sock start_installed "$WORK/smafd4.log"
if wait_line "$out" 'msg=(.*\|)?READY=1(\||$)'; then
	ok "READY=1 arrives within 5 s of starting smafd ($(($(now_ms) - start)) ms)"
else
	bad "no READY=1 within 5 s"
	show "$out" "$WORK/smafd4.log"
fi
line=$(grep -E 'msg=(.*\|)?READY=1(\||$)' "$out" | head -n 1)
echo "# received: $line"
expect "/dev/smaf already exists when READY=1 arrives" test "$(sed -n 's/^pid=[^ ]* node=\([01]\).*/\1/p' <<<"$line")" = 1
status=$(field "$line" STATUS)
expect "READY=1 comes with STATUS= naming /dev/smaf ('$status')" bash -c "[[ '$status' == *'/dev/smaf'* ]]"
expect_eq "it comes from smafd's main process (what NotifyAccess=main accepts)" "$PID" "$(sed -n 's/^pid=\([0-9]*\) .*/\1/p' <<<"$line")"
mainpid=$(field "$line" MAINPID)
# smafd always sends MAINPID= (Smafd.swift): an empty one is a failure too.
expect_eq "MAINPID= is smafd's pid" "$PID" "$mainpid"
smafd_pid=$PID
start=$(now_ms)
kill -TERM "$PID"
if wait_line "$out" 'msg=(.*\|)?STOPPING=1(\||$)'; then
	ok "STOPPING=1 arrives within 5 s of SIGTERM ($(($(now_ms) - start)) ms)"
else
	bad "no STOPPING=1 within 5 s of SIGTERM"
	show "$out" "$WORK/smafd4.log"
fi
expect_eq "  ... from smafd's main process" "$smafd_pid" \
	"$(grep -E 'STOPPING=1' "$out" | head -n 1 | sed -n 's/^pid=\([0-9]*\) .*/\1/p')"
wait "$PID"
rc=$?
PID=
expect "smafd exits 0 (rc=$rc)" test "$rc" = 0
wait "$LPID"
expect_eq "READY=1 was sent exactly once" 1 "$(grep -cE 'msg=(.*\|)?READY=1(\||$)' "$out")"
echo "# all messages:"
show "$out"
wait_gone smaf

# The abstract namespace ('@name'), which sd_notify(3) also allows.
listen "@smaf-ops-tests-$$" /dev/smaf "$out"
NOTIFY_SOCKET=@smaf-ops-tests-$$ start_installed "$WORK/smafd5.log"
expect "with NOTIFY_SOCKET=@abstract-name, READY=1 arrives too" wait_line "$out" 'msg=(.*\|)?READY=1(\||$)'
kill -TERM "$PID"
wait "$PID"
PID=
wait "$LPID"
wait_gone smaf

# Nobody listening: smafd serves all the same.
NOTIFY_SOCKET=$WORK/nobody-listens.sock start_installed "$WORK/smafd6.log"
if wait_node smaf >/dev/null; then ok "with nobody at \$NOTIFY_SOCKET, smafd still serves /dev/smaf"; else bad "no /dev/smaf when nobody listens at \$NOTIFY_SOCKET"; show "$WORK/smafd6.log"; fi
stop_installed smaf

# ---- 4. the unit's privileges -----------------------------------------------------
echo "# --- 4. the unit's capability bounding set, no_new_privs, private network"
capset=-all
for c in $(sed -n 's/^CapabilityBoundingSet=//p' "$unit"); do
	c=${c#CAP_}
	capset+=",+${c,,}"
done
# start_confined LOG CAPSET ARGS...: smafd as the unit confines it (as far as
# these tools can): its own network namespace, the bounding set, no_new_privs.
start_confined() {
	local log=$1 caps=$2
	shift 2
	env --default-signal=INT,TERM,HUP unshare --net -- setpriv --bounding-set="$caps" --no-new-privs -- \
		"$SMAFD" "${START_ARGS[@]}" "$@" >"$log" 2>&1 &
	PID=$!
}
start_confined "$WORK/smafd7.log" "$capset" --secure-module deny-cpu
if wait_node smaf >/dev/null; then ok "smafd starts with bounding set '$capset', no_new_privs, no network"; else bad "confined smafd did not start"; show "$WORK/smafd7.log"; fi
bnd=$(sed -n 's/^CapBnd:\t*//p' "/proc/$PID/status")
eff=$(sed -n 's/^CapEff:\t*//p' "/proc/$PID/status")
expect "  ... and runs with just those capabilities (CapBnd=CapEff=$bnd, NoNewPrivs=1)" \
	bash -c "[ '$bnd' = '$eff' ] && [ '$bnd' != 000001ffffffffff ] && grep -q '^NoNewPrivs:.1' /proc/$PID/status"
chgrp nogroup /dev/smaf && chmod 0660 /dev/smaf
as_user "${nogroup:-65534}" "$WORK/client" --deny-cpu >"$WORK/client3.log" 2>&1
rc=$?
show "$WORK/client3.log"
expect "an unprivileged client creates, secures (deny-cpu re-opens its fd through /proc) and is refused a writable mapping (rc=$rc)" test "$rc" = 0
stop_installed smaf
# The control: without CAP_SYS_PTRACE smafd cannot see another user's fds.
start_confined "$WORK/smafd8.log" "${capset/,+sys_ptrace/}" --secure-module deny-cpu
if wait_node smaf >/dev/null; then
	chgrp nogroup /dev/smaf && chmod 0660 /dev/smaf
	as_user "${nogroup:-65534}" "$WORK/client" --deny-cpu >"$WORK/client4.log" 2>&1
	expect "control: without CAP_SYS_PTRACE the same client's SET_SECURE fails (why the unit keeps it)" \
		grep -q "FAIL: smaf_set_secure" "$WORK/client4.log"
else
	bad "smafd without CAP_SYS_PTRACE did not start"
	show "$WORK/smafd8.log"
fi
stop_installed smaf

# ---- (no 5th section) -------------------------------------------------------------
# Booting Debian's systemd as PID 1 inside the emulated (TCG) guest crashed the
# 6.12 guest kernel intermittently (an int3 oops during kernel text patching
# under emulated SMP), so the unit is not run under systemd here: tier 1 checks
# it with systemd-analyze verify/security, and section 4 runs smafd with the
# unit's bounding set, no_new_privs and private network.

echo "installed-tree-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
