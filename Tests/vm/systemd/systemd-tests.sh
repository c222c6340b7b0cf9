#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: the README's install path under a real systemd.
# On the host:
#   Tests/vm/systemd/systemd-tests.sh KERNEL [PACKAGES_DIR]
# boots KERNEL (default|newest) twice with vm/smaf-vm --init systemd and
# the same --state image (the second boot is a reboot of the same machine),
# vgem loaded (6.12 has the dma-buf heaps and udmabuf built in), and runs
# this script in each boot ("--boot 1|2"), as root, once systemd has reached
# its default target. PACKAGES_DIR (.build/packages) holds the smafd,
# libsmaf0 and libsmaf-dev packages scripts/package built in tier 1.
# Boot 1, on the guest's own writable root (nothing reaches the host):
#   1. dpkg -i the three packages; systemctl enable --now smafd: the unit is
#      active, its start-up line is in the journal, /dev/smaf is root:smaf
#      0660 (the packaged udev rule, applied by systemd-udevd), cuse was
#      loaded by the unit (the VM's init loads no cuse in this mode);
#   2. the service lists the same allocators as smafd started by hand,
#      including vgem's (and on 6.12 the system heap and udmabuf): nothing
#      the sandbox blocks; no SIGSYS or seccomp kill in the journal;
#   3. a user added with usermod -aG smaf builds systemd_client.c with only
#      pkg-config in a new login session (runuser -l: pam_systemd opens a
#      logind session) and creates, maps and writes a buffer; a user outside
#      the group gets EACCES and smafctl's usermod hint;
#   4. systemctl restart smafd under a client holding a mapped buffer: its
#      data is intact and its next create works; systemd-analyze security
#      of the running service: exposure at most 2.0;
#   5. systemctl stop smafd removes /dev/smaf (the unit stays enabled).
# Boot 2: the enabled unit is active by itself, cuse loaded, /dev/smaf
# root:smaf 0660, the same allocators, the user's client works in a new
# login session, and neither boot's journal has a seccomp kill.
#   6. quotas under systemd: the unit's MemoryHigh=/MemoryMax= are 60%/70%
#      of memory; the user's system-heap hog (Tests/vm/quota/quota_hog.c, built
#      with pkg-config) stops at a quarter of memory, counted in its login
#      session's cgroup; with MemoryMax= lowered to smafd's usage + 48 MiB,
#      a udmabuf hog gets ENOMEM and smafd is neither OOM-killed nor restarted.
set -u
ROOT=$(cd "$(dirname "$0")/../../.." && pwd -P)
SELF=$ROOT/Tests/vm/systemd/systemd-tests.sh
MEMBER=smaf-sdmember
OUTSIDER=smaf-sdoutsider
MAX_EXPOSURE=2.0

# ---- on the host: two boots of one machine ---------------------------------------
if [ "${1:-}" != --boot ]; then
	kernel=${1:?usage: Tests/vm/systemd/systemd-tests.sh KERNEL [PACKAGES_DIR]}
	pkgs=${2:-$ROOT/.build/packages}
	cd "$ROOT" || exit 1
	if ! ls "$pkgs"/smafd_*.deb >/dev/null 2>&1; then
		echo "systemd-tests: no packages in $pkgs (scripts/package, or tier 1 of scripts/test, builds them)"
		[ "${CI:-}" = true ] && exit 1
		echo "systemd-tests: SKIPPED (run by hand outside CI)"
		exit 0
	fi
	state=$ROOT/.build/systemd-tests/state-$kernel.img
	mkdir -p "$(dirname "$state")"
	# A machine whose VM died (smaf-vm's status 125: a guest crash or hang
	# under the emulated CPU, not a test's verdict) is set up again once,
	# from a new state image; a test that failed is never run again.
	for attempt in 1 2; do
		rm -f "$state"
		rc=0
		for boot in 1 2; do
			start=$(date +%s)
			echo "# --- boot $boot of the same machine (kernel '$kernel', state $state)"
			vm/smaf-vm --kernel "$kernel" --init systemd --state "$state" --modules vgem --timeout 900 \
				-- "$SELF" --boot "$boot" "$pkgs"
			rc=$?
			echo "# boot $boot took $(($(date +%s) - start)) s (qemu start to power-off)"
			[ "$rc" = 0 ] || break # boot 2 checks what boot 1 set up
		done
		[ "$rc" = 125 ] && [ "$attempt" = 1 ] || break
		echo "# the VM itself failed (status 125) in boot $boot: the machine is set up once more"
	done
	rm -f "$state"
	[ "$rc" = 0 ] || exit 1
	exit 0
fi

# ---- in the guest ---------------------------------------------------------------------
BOOT=$2
PKGS=$(realpath "$3")
. "$ROOT/Tests/vm/testlib.sh"
NAME=systemd-tests-boot$BOOT
WORK=$(mktemp -d /tmp/smaf-systemd-tests.XXXXXX)
chmod 0755 "$WORK"
VERSION=$(cat "$ROOT/VERSION")
# What boot 1 measured, for boot 2 (on the guest's persistent root).
KEEP=/var/lib/smaf-systemd-tests
# in_session USER COMMAND: COMMAND in a new login session of USER (runuser -l
# goes through PAM's runuser-l, whose pam_systemd registers a logind
# session), after printing the session's cgroup and the user's groups.
in_session() {
	runuser -l "$1" -c 'echo "cgroup: $(cut -d: -f3 /proc/self/cgroup)"; echo "groups: $(id -nG)"; '"$2"
}
# The allocator table of smafctl info (name and backing; rankings aside).
allocators() { smafctl info | awk '/^allocators/ { on = 1; next } on && $1 ~ /^[0-9]+$/ { print $2 }' | sort; }
# A call outside SystemCallFilter= fails with EPERM (SystemCallErrorNumber=),
# which the allocator comparison catches; a kill would show here (the
# kernel's audit record of a seccomp kill is type 1326).
no_seccomp_kills() { # no_seccomp_kills JOURNALCTL_ARGS...
	! journalctl --no-pager -q "$@" | grep -Ei 'sigsys|type=1326|bad system call|code=dumped|core-dump'
}
# systemd-analyze security of the running service: printed, at most MAX_EXPOSURE.
check_exposure() {
	systemd-analyze security --no-pager smafd >"$WORK/security" 2>&1
	show "$WORK/security"
	level=$(sed -n 's/.*Overall exposure level for smafd.service: \([0-9.]*\).*/\1/p' "$WORK/security")
	expect "systemd-analyze security smafd: exposure $level is at most $MAX_EXPOSURE" \
		awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l != "" && l + 0 <= m + 0) }'
}

echo "# boot $BOOT, kernel $(uname -r), PID 1 is $(cat /proc/1/comm), systemd $(systemctl --version | awk 'NR == 1 { print $2 }')"
expect_eq "PID 1 is systemd" systemd "$(cat /proc/1/comm)"
[ "${SMAF_VM_INIT:-}" = systemd ] || bad "not booted with vm/smaf-vm --init systemd"

if [ "$BOOT" = 1 ]; then
	echo "# --- 1. dpkg -i, systemctl enable --now smafd"
	expect "cuse is not loaded before the packages are installed" test ! -d /sys/module/cuse
	# man-db's trigger (dpkg -i, --purge) would rebuild the whole manual index
	# over 9p: minutes of emulated CPU that test nothing of ours (the host
	# tier checks man).
	rm -f /var/lib/man-db/auto-update
	if dpkg-query -W -f='${Status}' smafd 2>/dev/null | grep -q 'install ok installed'; then
		# The guest's root starts as a copy of the host's: purge there only.
		echo "# the host has the packages installed: purging them inside the guest first"
		dpkg --purge gstreamer1.0-smaf smafd libsmaf-dev libsmaf0 >/dev/null
	fi
	debs=()
	for p in smafd libsmaf0 libsmaf-dev; do
		debs+=("$(ls "$PKGS/${p}_${VERSION}_"*.deb 2>/dev/null | head -n 1)")
	done
	run_test "dpkg -i ${debs[*]##*/}" dpkg -i "${debs[@]}"
	expect_eq "the unit is installed disabled" disabled "$(systemctl is-enabled smafd 2>&1)"
	run_test "systemctl enable --now smafd" systemctl enable --now smafd
	expect_eq "the unit is active" active "$(systemctl is-active smafd)"
	journalctl --no-pager -b -u smafd -o cat >"$WORK/journal"
	grep "starting on kernel" "$WORK/journal" | show
	expect "the journal has smafd's start-up line (smafd $VERSION starting on kernel $(uname -r))" \
		grep -q "smafd $VERSION starting on kernel $(uname -r)" "$WORK/journal"
	udevadm settle --timeout=15
	expect_eq "/dev/smaf is root:smaf 0660 (70-smaf.rules, applied by systemd-udevd)" "root smaf 660" \
		"$(stat -c '%U %G %a' /dev/smaf 2>&1)"
	expect "cuse is loaded now: by the unit's ExecStartPre ($(systemctl show -P ExecStartPre smafd | grep -o 'argv\[\][^;]*'))" \
		test -d /sys/module/cuse

	echo "# --- 2. the sandboxed service and smafd by hand offer the same allocators"
	allocators >"$WORK/service.alloc"
	show "$WORK/service.alloc"
	expect "the service offers smaf-vgem (DeviceAllow lets vgem's DRM node through)" grep -qx smaf-vgem "$WORK/service.alloc"
	if [ -e /dev/dma_heap/system ]; then
		expect "  ... and smaf-heap-system (/dev/dma_heap/system)" grep -qx smaf-heap-system "$WORK/service.alloc"
	fi
	if [ -e /dev/udmabuf ]; then
		expect "  ... and smaf-udmabuf (/dev/udmabuf)" grep -qx smaf-udmabuf "$WORK/service.alloc"
	fi
	systemctl stop smafd
	mkdir -p -m 0755 /run/smaf
	/usr/sbin/smafd --foreground >"$WORK/byhand.log" 2>&1 &
	PID=$!
	if wait_node >/dev/null; then
		allocators >"$WORK/byhand.alloc"
		kill -TERM "$PID"
		wait "$PID"
		wait_gone
	else
		bad "smafd started by hand serves no /dev/smaf"
		show "$WORK/byhand.log"
	fi
	PID=
	rmdir /run/smaf 2>/dev/null
	expect "smafd by hand (root, no sandbox) offers exactly the service's allocators ($(tr '\n' ' ' <"$WORK/service.alloc"))" \
		cmp -s "$WORK/service.alloc" "$WORK/byhand.alloc"
	cmp -s "$WORK/service.alloc" "$WORK/byhand.alloc" || diff "$WORK/service.alloc" "$WORK/byhand.alloc" | show
	mkdir -p "$KEEP"
	cp "$WORK/service.alloc" "$KEEP/allocators"
	run_test "systemctl start smafd (again)" systemctl start smafd
	grep -i "not offered" "$WORK/journal" | show
	expect "no SIGSYS, seccomp kill or core dump in this boot's journal" no_seccomp_kills -b

	echo "# --- 3. a user in group smaf, in a new login session; one outside it"
	useradd -m -s /bin/bash "$MEMBER" && useradd -m -s /bin/bash "$OUTSIDER"
	run_test "usermod -aG smaf $MEMBER (the README's step)" usermod -aG smaf "$MEMBER"
	for u in "$MEMBER" "$OUTSIDER"; do
		install -o "$u" -m 0644 "$ROOT/Tests/vm/systemd/systemd_client.c" "/home/$u/systemd_client.c"
	done
	build='cc -o systemd-client systemd_client.c $(pkg-config --cflags --libs libsmaf)'
	in_session "$MEMBER" "$build && ./systemd-client write" >"$WORK/member" 2>&1
	rc=$?
	show "$WORK/member"
	expect "runuser -l opened a logind session (cgroup user.slice/.../session-N.scope; cN: no audit session id)" \
		grep -Eq "^cgroup: /user.slice/user-$(id -u "$MEMBER").slice/session-c?[0-9]+.scope" "$WORK/member"
	expect "  ... where $MEMBER is in group smaf" grep -Eq '^groups: .*\bsmaf\b' "$WORK/member"
	expect "$MEMBER builds the client with only pkg-config and creates, maps and writes a buffer (rc=$rc)" \
		bash -c "[ $rc = 0 ] && grep -q '^created, mapped and wrote' '$WORK/member'"
	in_session "$OUTSIDER" "$build && ./systemd-client write" >"$WORK/outsider" 2>&1
	rc=$?
	show "$WORK/outsider"
	expect "$OUTSIDER (not in smaf) gets EACCES (rc=$rc)" \
		bash -c "[ $rc = 1 ] && grep -q '^FAIL smaf_open: EACCES' '$WORK/outsider'"
	in_session "$OUTSIDER" "smafctl info" >"$WORK/outsider-ctl" 2>&1
	rc=$?
	show "$WORK/outsider-ctl"
	expect "  ... and smafctl info tells $OUTSIDER to ask for usermod -aG smaf (rc=$rc)" \
		bash -c "[ $rc = 1 ] && grep -q 'usermod -aG smaf' '$WORK/outsider-ctl'"

	echo "# --- 4. systemctl restart under a client holding a mapped buffer"
	ctl=/home/$MEMBER/ctl
	runuser -u "$MEMBER" -- mkfifo "$ctl"
	in_session "$MEMBER" "./systemd-client hold <ctl" >"$WORK/hold" 2>&1 &
	hold=$!
	exec 7>"$ctl" # returns once the client's shell has opened the other end
	wait_line "$WORK/hold" '^holding' 30 || bad "the holding client did not start"
	before=$(systemctl show -P MainPID smafd)
	run_test "systemctl restart smafd" systemctl restart smafd
	after=$(systemctl show -P MainPID smafd)
	expect "  ... a new smafd (pid $before -> $after), active" \
		bash -c "[ '$before' != '$after' ] && [ \"\$(systemctl is-active smafd)\" = active ]"
	# (A client that died already has closed its end: no SIGPIPE for us.)
	(trap '' PIPE; echo go >&7) 2>/dev/null
	exec 7>&-
	wait "$hold"
	rc=$?
	show "$WORK/hold"
	expect "the client's mapped data is intact and its next create works (rc=$rc)" \
		bash -c "[ $rc = 0 ] && grep -q '^after the restart: a new buffer' '$WORK/hold'"

	echo "# --- systemd-analyze security smafd (the running service)"
	check_exposure

	echo "# --- 5. systemctl stop smafd"
	run_test "systemctl stop smafd" systemctl stop smafd
	expect "/dev/smaf is gone" wait_gone
	expect_eq "the unit is inactive" inactive "$(systemctl is-active smafd)"
	expect_eq "  ... and still enabled (for the reboot)" enabled "$(systemctl is-enabled smafd)"
else
	echo "# --- after the reboot: the enabled unit came back by itself"
	expect_eq "the unit is enabled" enabled "$(systemctl is-enabled smafd 2>&1)"
	expect_eq "the unit is active" active "$(systemctl is-active smafd)"
	expect_eq "  ... started once, never restarted" 0 "$(systemctl show -P NRestarts smafd)"
	expect "cuse is loaded (nothing but the unit's ExecStartPre loads it here)" test -d /sys/module/cuse
	journalctl --no-pager -b -u smafd -o cat >"$WORK/journal"
	expect "this boot's journal has smafd's start-up line" grep -q "smafd $VERSION starting on kernel $(uname -r)" "$WORK/journal"
	udevadm settle --timeout=15
	expect_eq "/dev/smaf is root:smaf 0660" "root smaf 660" "$(stat -c '%U %G %a' /dev/smaf 2>&1)"
	allocators >"$WORK/service.alloc"
	expect "the same allocators as in boot 1 ($(tr '\n' ' ' <"$WORK/service.alloc"))" cmp -s "$KEEP/allocators" "$WORK/service.alloc"
	in_session "$MEMBER" "./systemd-client write" >"$WORK/member" 2>&1
	rc=$?
	show "$WORK/member"
	expect "$MEMBER, in a new login session, creates, maps and writes a buffer (rc=$rc)" \
		bash -c "[ $rc = 0 ] && grep -q '^created, mapped and wrote' '$WORK/member'"

	echo "# --- 6. quotas under systemd: the unit's MemoryHigh=/MemoryMax=, a session's hog"
	mem=$(awk '/^MemTotal:/ { print $2 * 1024 }' /proc/meminfo)
	high=$(systemctl show -P MemoryHigh smafd) max=$(systemctl show -P MemoryMax smafd)
	cg=/sys/fs/cgroup$(systemctl show -P ControlGroup smafd)
	echo "    MemTotal $mem bytes; MemoryHigh=$high, MemoryMax=$max; $cg holds $(cat "$cg/memory.current")"
	expect "MemoryHigh= is 60% of memory" awk -v v="$high" -v m="$mem" 'BEGIN { exit !(v >= m * 0.59 && v <= m * 0.61) }'
	expect "MemoryMax= is 70% of memory" awk -v v="$max" -v m="$mem" 'BEGIN { exit !(v >= m * 0.69 && v <= m * 0.71) }'
	expect_eq "  ... and smafd's cgroup has them (memory.high, memory.max)" "$high $max" "$(cat "$cg/memory.high") $(cat "$cg/memory.max")"
	install -o "$MEMBER" -m 0644 "$ROOT/Tests/vm/quota/quota_hog.c" "/home/$MEMBER/quota_hog.c"
	in_session "$MEMBER" 'cc -o quota-hog quota_hog.c $(pkg-config --cflags --libs libsmaf)' >"$WORK/hogbuild" 2>&1 ||
		{ bad "quota_hog.c does not build with pkg-config"; show "$WORK/hogbuild"; }
	if [ -e /dev/dma_heap/system ]; then
		want=$((mem / 4 / (64 << 20)))
		in_session "$MEMBER" "./quota-hog $((64 << 20)) 100 smaf-heap-system hold" >"$WORK/qhog" 2>&1 &
		wait_line "$WORK/qhog" 'created=' 300
		show "$WORK/qhog"
		expect "$MEMBER's system-heap hog stops at a quarter of memory ($want buffers of 64 MiB) with ENOMEM" \
			grep -q "^created=$want bytes=$((want << 26)) errno=ENOMEM" "$WORK/qhog"
		smafctl status --json | python3 -c 'import json, sys; d = json.load(sys.stdin)["quotas"]; print([(c["cgroup"], c["buffers"]) for c in d["by_cgroup"]])' >"$WORK/qcg"
		show "$WORK/qcg"
		expect "  ... counted in its login session's cgroup" grep -Eq "^\[\('/user.slice/user-$(id -u "$MEMBER").slice/session-c?[0-9]+.scope', $want\)\]" "$WORK/qcg"
		kill -TERM "$(sed -n 's/.* pid=\([0-9]*\).*/\1/p' "$WORK/qhog")"
		wait
	fi
	if [ -e /dev/udmabuf ]; then
		oom0=$(awk '/^oom_kill / { print $2 }' /proc/vmstat)
		pid0=$(systemctl show -P MainPID smafd)
		bound=$((($(cat "$cg/memory.current") + (48 << 20)) / 4096 * 4096))
		run_test "systemctl set-property --runtime smafd MemoryMax=$bound (smafd's usage + 48 MiB)" \
			systemctl set-property --runtime smafd MemoryMax="$bound"
		in_session "$MEMBER" "./quota-hog $((16 << 20)) 100 smaf-udmabuf" >"$WORK/uhog" 2>&1
		show "$WORK/uhog"
		expect "$MEMBER's udmabuf hog gets ENOMEM before smafd's cgroup is full" grep -Eq '^created=[1-9][0-9]* .*errno=ENOMEM' "$WORK/uhog"
		expect_eq "  ... and smafd lives on: same pid, never restarted, no OOM kill in its cgroup or the machine" \
			"$pid0 0 0 $oom0" "$(systemctl show -P MainPID smafd) $(systemctl show -P NRestarts smafd) $(awk '/^oom_kill / { print $2 }' "$cg/memory.events") $(awk '/^oom_kill / { print $2 }' /proc/vmstat)"
		systemctl set-property --runtime smafd MemoryMax=70%
		expect_eq "MemoryMax= is back to 70%" "$max" "$(cat "$cg/memory.max")"
	fi
	expect "no SIGSYS, seccomp kill or core dump in either boot's journal" no_seccomp_kills
	check_exposure
fi
finish
