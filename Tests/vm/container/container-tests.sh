#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: runs inside the test VM (root, /dev/cuse present, see vm/smaf-vm).
# Callers in containers: a process in its own pid, mount and
# network namespaces, with a private /run and /tmp, sees /dev/smaf but not
# smafd's handoff socket under /run. libsmaf and the preload shim then get
# their channel with SMAF_IOC_EXT_CONNECT (a socketpair end smafd takes with
# pidfd_getfd), so there:
#   - buffer-libsmaf-suite and buffer-test share (fork, SCM_RIGHTS, children's own
#     channels) pass, a raw CREATE and the v7 program get fds through the
#     shim, container-connect connect works by hand, and smafctl's info, status,
#     create and check work (its HandoffClient uses EXT_CONNECT too);
#   - the same as an unprivileged user in a user namespace (unshare -U -r),
#     where the kernel allows it (the VM's chroot is undone first by
#     container-unchroot: the kernel never gives a chrooted caller a user namespace);
#   - container-connect misuse: a socket another process or user made is EPERM (and
#     gives no channel), a closed fd EBADF, wrong kinds of fd EINVAL, and two
#     processes never get each other's buffers.
# Prints "ok"/"FAIL" lines and "container-tests: N passed, M failed".
#
#   Tests/vm/container/container-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
. "$(dirname "$0")/../testlib.sh"
setup container-tests "$1" "$2" buffer-libsmaf-suite buffer-raw-create generations-v7 container-connect container-unchroot
NODE_MODE=0666
USERNS_UID=4242
read -ra ALLOC <<<"$(expected_allocator_args)"
# smafctl sits next to smafd; inside, only what is under $BIN is visible.
install -m 0755 "$(dirname "$SMAFD")/smafctl" "$BIN/smafctl" || { bad "no smafctl next to $SMAFD"; finish; exit 1; }

# The container's view, set up by the shell unshare starts (its pid 1): a
# tmpfs on /run, the programs bound to /run/smaf-bin (they live under /tmp),
# then a tmpfs on /tmp. $C_BIN is where the programs are inside.
C_BIN=/run/smaf-bin
CONTAINER_SETUP='set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir /run/smaf-bin
mount --bind "$0" /run/smaf-bin
mount -t tmpfs -o mode=1777 tmpfs /tmp
set +e
exec "$@"'

# in_container COMMAND...: COMMAND in new pid, mount and network namespaces
# (unshare -pfmn --mount-proc), as root.
in_container() {
	unshare -pfmn --mount-proc --propagation private bash -c "$CONTAINER_SETUP" "$BIN" "$@"
}

# in_userns COMMAND...: the same, as uid $USERNS_UID mapped to root of a new
# user namespace (unshare -U -r), the VM's chroot undone first.
in_userns() {
	"$BIN/container-unchroot" setpriv --reuid="$USERNS_UID" --regid="$USERNS_UID" --clear-groups \
		unshare -U -r -pfmn --mount-proc --propagation private bash -c "$CONTAINER_SETUP" "$BIN" "$@"
}

# The checks made inside one kind of container ($1: in_container or in_userns).
container_checks() {
	local run=$1 label=$2
	expect "$label: smafd's handoff socket $SOCK is not visible inside" \
		"$run" bash -c "[ ! -e '$SOCK' ] && [ ! -e '$(dirname "$SOCK")' ] && [ -c /dev/$NODE ]"
	expect "$label: the shell is pid 1 of its own pid namespace, in a network namespace with only lo" \
		"$run" bash -c '[ $$ = 1 ] && [ "$(tail -n +3 /proc/net/dev | grep -vc "^ *lo:")" = 0 ]'
	run_test "$label: buffer-libsmaf-suite creates, maps and secures" "$run" "$C_BIN/buffer-libsmaf-suite" --secure-mmap succeed
	run_test "$label: buffer-test share (fork, SCM_RIGHTS, children's own channels)" "$run" "$C_BIN/buffer-test" share
	run_test "$label: raw CREATE through the shim gets a real, mappable fd" \
		"$run" env LD_PRELOAD="$C_BIN/libsmaf-preload.so" "$C_BIN/buffer-raw-create" expect-fd
	run_test "$label: generations-v7 (v7 ABI) through the shim" \
		"$run" env LD_PRELOAD="$C_BIN/libsmaf-preload.so" "$C_BIN/generations-v7" "${ALLOC[@]}"
	run_test "$label: SMAF_IOC_EXT_CONNECT by hand (container-connect connect)" "$run" "$C_BIN/container-connect" connect
	# smafctl's queries go over the same kind of channel (HandoffClient).
	run_grep "$label: smafctl info answers with the daemon's generations" '^abi generations: .*v2.*s64' \
		"$run" "$C_BIN/smafctl" info
	run_test "$label: smafctl status" "$run" "$C_BIN/smafctl" status
	run_grep "$label: smafctl create --size 1M gets, maps and verifies a buffer" 'verified in .*: ok' \
		"$run" "$C_BIN/smafctl" create --size 1M
	run_test "$label: smafctl check --generations all" "$run" "$C_BIN/smafctl" check --generations all
}

log=$WORK/smafd.log
start_smafd "$log" --abi-generations all || { finish; exit 1; }
SOCK=/run/smaf/$NODE.sock
expect "outside, smafd's handoff socket is $SOCK" test -S "$SOCK"
created0=$(status_field created_total)

echo "# --- unshare -pfmn --mount-proc, private /run and /tmp, as root"
container_checks in_container "container"

echo "# --- the same in a user namespace, as uid $USERNS_UID (unshare -U -r)"
if ! "$BIN/container-unchroot" true 2>"$WORK/unchroot.err"; then
	bad "container-unchroot cannot undo the VM's chroot: $(cat "$WORK/unchroot.err")"
elif ! "$BIN/container-unchroot" setpriv --reuid="$USERNS_UID" --regid="$USERNS_UID" --clear-groups \
	unshare -U -r true 2>"$WORK/userns.err"; then
	why=$(cat "$WORK/userns.err")
	for f in /proc/sys/kernel/unprivileged_userns_clone /proc/sys/user/max_user_namespaces \
		/proc/sys/kernel/apparmor_restrict_unprivileged_userns; do
		[ -e "$f" ] && why+="; ${f#/proc/sys/} = $(cat "$f")"
	done
	echo "# SKIPPED: this kernel refuses unprivileged user namespaces ($why): the user-namespace checks are left out"
else
	container_checks in_userns "user namespace"
fi

echo "# --- misuse of SMAF_IOC_EXT_CONNECT, and channel isolation"
run_test "container-connect misuse (EPERM for others' sockets, EBADF, EINVAL, isolation)" "$BIN/container-connect" misuse

created1=$(status_field created_total)
echo "# smafd created $((${created1:-0} - ${created0:-0})) buffers for the container checks"
expect "smafd is still running" kill -0 "$PID"
live=$(wait_status live_buffers 0)
expect "no buffer is left once the containers are gone (live_buffers=$live)" test "${live%% *}" = 0
channels=$(wait_status channels 0)
expect "no channel is left (channels=$channels)" test "${channels%% *}" = 0
stop_smafd

# The fallback the docs promise: a smafd that cannot take a caller's socket
# (here: started without CAP_SYS_PTRACE, so pidfd_getfd of another user's
# process fails) answers EXT_CONNECT with EOPNOTSUPP, and the shim (libsmaf's
# handoff code) and smafctl then connect by the socket's path.
echo "# --- smafd without CAP_SYS_PTRACE: EXT_CONNECT from another user is EOPNOTSUPP; the clients use the path"
log2=$WORK/smafd-noptrace.log
SMAFD_PLAIN=$SMAFD
SMAFD="$BIN/smafd-noptrace"
printf '#!/bin/sh\nexec setpriv --bounding-set=-sys_ptrace "%s" "$@"\n' "$SMAFD_PLAIN" >"$SMAFD"
chmod 0755 "$SMAFD"
if start_smafd "$log2"; then
	capeff=$(awk '/^CapEff/ {print $2}' "/proc/$PID/status")
	expect "smafd runs without CAP_SYS_PTRACE (CapEff $capeff)" test $(((0x${capeff:-80000} >> 19) & 1)) = 0
	run_test "smafctl info as nobody answers by the socket path" as_nobody "$BIN/smafctl" info
	# (Not buffer-libsmaf-suite: without CAP_SYS_PTRACE smafd cannot resolve another
	# user's fd numbers either, so its secure-flag cases would fail.)
	run_grep "smafctl create as nobody gets, maps and verifies a buffer by the socket path" 'verified in .*: ok' \
		as_nobody "$BIN/smafctl" create --size 1M
	run_test "raw CREATE through the shim as nobody gets its fd by the socket path" \
		as_nobody env LD_PRELOAD="$BIN/libsmaf-preload.so" "$BIN/buffer-raw-create" expect-fd
	expect "smafd's log refuses those EXT_CONNECTs with EOPNOTSUPP: pidfd_getfd failed" \
		grep -q 'SMAF_IOC_EXT_CONNECT.*EOPNOTSUPP.*pidfd_getfd failed' "$log2"
	stop_smafd
fi
SMAFD=$SMAFD_PLAIN
if [ "$fail" != 0 ]; then
	echo "# smafd's log, lines about connect, pidfd or peer checks:"
	grep -iE 'connect|pidfd|peer|refused' "$log" | tail -n 30 | sed 's/^/    /'
fi
finish
