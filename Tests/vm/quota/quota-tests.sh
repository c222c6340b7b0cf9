#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: quotas on memory no cgroup of the caller pays for (runs inside
# the test VM as root; boot as scripts/test does, 2 GiB).
#   Tests/vm/quota/quota-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# Unprivileged users 1001, 1002, 1003 (no passwd entries; /dev/smaf opened
# to them), cgroups made with the cgroup2 filesystem. The "eager" allocator
# is smaf-heap-system where the kernel has it (6.12); 6.1 has neither heaps
# nor udmabuf, so there it is smaf-vgem, counted with --quota-allocator.
# Tests/vm/quota/quota_hog.c creates buffers, writes every page, holds them.
# 1. Default quotas: a hog stops at a quarter of memory with ENOMEM, the
#    reserve stays free, no OOM kill happens, a second user still creates
#    and maps a buffer; smafctl status and buffers report exactly what the
#    hog holds (root: all; the hog: its own; others: none); closing gives it
#    all back (status returns to zero).
# 2. Two cgroups: --cgroup-limit stops one user's hog in each cgroup at the
#    cgroup's bound, --user-limit the same user outside them, --total-limit
#    another user; status per cgroup, user and allocator is exact.
# 3. A caller-charged allocator (smaf-memfd) is not counted: a hog of it is
#    stopped by its own cgroup's memory.max (the kernel's OOM kill in that
#    cgroup only) and smafd survives.
# 4. Whose cgroup pays for each allocator's pages, as `smafctl info`
#    declares it (charged_to): measured with memory.current of the caller's
#    cgroup and of smafd's.
# Prints the figures, "ok"/"FAIL" lines and "quota-tests: N passed, M failed".
. "$(dirname "$0")/../testlib.sh"
setup quota-tests "$1" "$2" quota-hog privilege-probe
SMAFCTL=$(dirname "$SMAFD")/smafctl
NODE_MODE=0666
CGROOT=/sys/fs/cgroup
MOUNTED_CG=0
HOGS=()
MiB=$((1 << 20))

cleanup() {
	local h c
	for h in "${HOGS[@]}"; do kill -KILL "$h" 2>/dev/null; done
	[ -n "$PID" ] && { echo "$PID" >"$CGROOT/cgroup.procs"; kill -KILL "$PID"; } 2>/dev/null
	sleep 0.5
	for c in qa qb qm qc daemon; do rmdir "$CGROOT/smaf-$c" 2>/dev/null; done
	[ "$MOUNTED_CG" = 1 ] && umount "$CGROOT"
}
trap cleanup EXIT

# json EXPR: EXPR over the JSON document on stdin (as d), printed.
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
status_json() { "$SMAFCTL" status --json; }
oom_kills() { awk '/^oom_kill / { print $2 }' /proc/vmstat; }
avail() { awk '/^MemAvailable:/ { print $2 * 1024 }' /proc/meminfo; }

# hog NAME UID CGROUP SIZE COUNT ALLOCATOR: quota-hog ... hold in the
# background as UID in cgroup CGROUP ("" for the root cgroup); waits for its
# line and sets $HOG and $NAME_LINE.
hog() {
	local name=$1 uid=$2 cg=$3
	shift 3
	sh -c "echo \$\$ >'$CGROOT/${cg:+smaf-$cg/}cgroup.procs' && exec prlimit --memlock=unlimited:unlimited setpriv --reuid=$uid --regid=$uid --clear-groups '$BIN/quota-hog' $* hold" \
		>"$WORK/$name" 2>&1 &
	HOG=$!
	HOGS+=("$HOG")
	wait_line "$WORK/$name" "created=|rror" 300 || { bad "$name wrote nothing within 300 s"; cat "$WORK/$name"; }
	printf -v "${name}_LINE" '%s' "$(cat "$WORK/$name")"
	echo "    $name (uid $uid, cgroup /${cg:+smaf-$cg}): $(cat "$WORK/$name")"
}

# unhold PID...: SIGTERM the hogs and wait for them to close everything.
unhold() {
	local h
	for h in "$@"; do kill -TERM "$h"; done
	for h in "$@"; do wait "$h" 2>/dev/null; done
}

# quotas_zero: live buffers and every counted byte back to zero.
quotas_zero() {
	local s
	for _ in $(seq 1 100); do
		s=$(status_json | json 'd["live_buffers"], d["live_bytes"], d["quotas"]["total"]["quota_bytes"], len(d["quotas"]["by_user"]), len(d["quotas"]["by_cgroup"])')
		[ "$s" = "0 0 0 0 0" ] && break
		sleep 0.1
	done
	echo "$s"
	[ "$s" = "0 0 0 0 0" ]
}

if ! grep -q cgroup2 /proc/mounts; then
	mount -t cgroup2 none "$CGROOT" && MOUNTED_CG=1
fi
echo +memory >"$CGROOT/cgroup.subtree_control" 2>/dev/null
for c in qa qb qm qc daemon; do mkdir -p "$CGROOT/smaf-$c"; done
expect "cgroup2 with the memory controller: $(cat "$CGROOT/cgroup.subtree_control")" grep -qw memory "$CGROOT/cgroup.subtree_control"

EXTRA=()
if [ -e /dev/dma_heap/system ]; then
	EAGER=smaf-heap-system
else
	EAGER=smaf-vgem
	EXTRA=(--quota-allocator smaf-vgem)
fi
case $(uname -r) in 6.12.*) expect "6.12 has the system heap" test "$EAGER" = smaf-heap-system ;; esac
echo "# counted allocator used as the hog: $EAGER ${EXTRA[*]}"

echo "# --- 1. default quotas: one user's hog, a second user unaffected"
start_smafd "$WORK/smafd.log" "${EXTRA[@]}"
limits=$(status_json | json 'd["quotas"]["user_limit"], d["quotas"]["cgroup_limit"], d["quotas"]["total_limit"], d["quotas"]["reserve"]')
read -r user_limit cgroup_limit total_limit reserve <<<"$limits"
mem=$(awk '/^MemTotal:/ { print $2 * 1024 }' /proc/meminfo)
echo "    memory $mem bytes; per user $user_limit, per cgroup $cgroup_limit, all users $total_limit, reserve $reserve"
expect "default per-user and per-cgroup quotas are a quarter of memory, the total half" \
	test "$user_limit" = $((mem / 4 / 4096 * 4096)) -o "$user_limit" = $((mem / 4))
expect "  ($cgroup_limit, $total_limit)" test "$cgroup_limit" = "$user_limit" -a "$total_limit" -ge $((2 * user_limit - 4096)) -a "$total_limit" -le $((2 * user_limit + 4096))
size=$((64 * MiB))
want=$((user_limit / size))
oom0=$(oom_kills)
avail0=$(avail)
hog A 1001 "" "$size" 100 "$EAGER"
pidA=$HOG
expect "the hog got $want buffers of 64 MiB (a quarter of memory) and then ENOMEM" \
	test "$A_LINE" = "created=$want bytes=$((want * size)) errno=ENOMEM pid=$pidA"
expect "smafd logs who, how much and which limit" \
	grep -q "quota: uid 1001 in cgroup / asks $size bytes; uid 1001 already hold $((want * size)) of --user-limit $user_limit" "$WORK/smafd.log"
avail1=$(avail)
echo "    MemAvailable $avail0 -> $avail1 bytes while the hog holds $((want * size)); reserve $reserve"
expect "the machine keeps more than the reserve available" test "$avail1" -gt "$reserve"
expect "no OOM kill (oom_kill $oom0 -> $(oom_kills))" test "$(oom_kills)" = "$oom0"
as_uid 1002 "$BIN/privilege-probe" "$size" 1 "$EAGER" >"$WORK/second" 2>&1
expect "a second user still creates and maps a 64 MiB $EAGER buffer ($(cat "$WORK/second"))" \
	grep -q "created=1 errno=none usable=yes" "$WORK/second"
s=$(status_json | json '[(u["uid"], u["buffers"], u["bytes"], u["quota_bytes"], u["limit"]) for u in d["quotas"]["by_user"]], d["quotas"]["total"]["quota_bytes"], d["live_buffers"]')
expect_eq "smafctl status --json: exactly the hog's buffers, per user and in total" \
	"[(1001, $want, $((want * size)), $((want * size)), $user_limit)] $((want * size)) $want" "$s"
s=$(status_json | json '[(a["allocator"], a["buffers"], a["bytes"], a["quota_bytes"]) for a in d["quotas"]["by_allocator"]]')
expect_eq "  ... and per allocator" "[('$EAGER', $want, $((want * size)), $((want * size)))]" "$s"
"$SMAFCTL" status | sed -n '/^quotas/,/^requests/p' | sed 's/^/    /'
expect "smafctl status's table shows the user's line" bash -c "'$SMAFCTL' status | grep -Eq '^ +1001 +$want +$((want * 64)) MiB +$((want * 64)) MiB +'"
b=$("$SMAFCTL" buffers --json | json 'd["live_buffers"], sorted(set((x["pid"], x["uid"], x["allocator"], x["bytes"], x["quota_counted"], tuple(x["open_in"])) for x in d["buffers"])), sum(1 for x in d["buffers"] if x["mapped_in"] == ['"$pidA"'])')
expect_eq "smafctl buffers (root): $want buffers of the hog, open in it, one of them mapped" \
	"$want [($pidA, 1001, '$EAGER', $size, True, ($pidA,))] 1" "$b"
"$SMAFCTL" buffers | head -n 4 | sed 's/^/    /'
b=$(as_uid 1001 "$SMAFCTL" buffers --json | json 'd["live_buffers"], len(d["buffers"])')
expect_eq "smafctl buffers as the hog's user lists its own" "$want $want" "$b"
b=$(as_uid 1002 "$SMAFCTL" buffers --json | json 'd["live_buffers"], len(d["buffers"])')
expect_eq "smafctl buffers as another user lists none" "0 0" "$b"
b=$(as_uid 1002 "$SMAFCTL" status --json | json 'len(d["quotas"]["by_user"]), len(d["quotas"]["by_cgroup"])')
expect_eq "smafctl status as another user shows no one else's quota" "0 0" "$b"
unhold "$pidA"
r=$(quotas_zero)
expect "closing the hog's buffers gives the quota back (live buffers, bytes, counted bytes, users, cgroups: $r)" test "$r" = "0 0 0 0 0"
as_uid 1001 "$BIN/privilege-probe" "$size" 1 "$EAGER" >"$WORK/again" 2>&1
expect "and the hog's user can create again ($(cat "$WORK/again"))" grep -q "created=1 errno=none usable=yes" "$WORK/again"
stop_smafd

echo "# --- 2. two cgroups, the user and the total bound"
start_smafd "$WORK/cg.log" --cgroup-limit 128M --user-limit 320M --total-limit 448M "${EXTRA[@]}"
oom0=$(oom_kills)
hog QA 1001 qa "$size" 100 "$EAGER"
hQA=$HOG
hog QB 1001 qb "$size" 100 "$EAGER"
hQB=$HOG
hog QR 1001 "" "$size" 100 "$EAGER"
hQR=$HOG
hog QT 1002 "" "$size" 100 "$EAGER"
hQT=$HOG
expect "uid 1001 in /smaf-qa stops at --cgroup-limit 128M" test "${QA_LINE% pid=*}" = "created=2 bytes=$((128 * MiB)) errno=ENOMEM"
expect "  ... (logged)" grep -q "cgroup /smaf-qa already hold $((128 * MiB)) of --cgroup-limit $((128 * MiB))" "$WORK/cg.log"
expect "the same user in /smaf-qb has that cgroup's own quota" test "${QB_LINE% pid=*}" = "created=2 bytes=$((128 * MiB)) errno=ENOMEM"
expect "the same user in the root cgroup stops at --user-limit 320M" test "${QR_LINE% pid=*}" = "created=1 bytes=$((64 * MiB)) errno=ENOMEM"
expect "  ... (logged)" grep -q "uid 1001 already hold $((320 * MiB)) of --user-limit $((320 * MiB))" "$WORK/cg.log"
expect "another user stops at --total-limit 448M" test "${QT_LINE% pid=*}" = "created=2 bytes=$((128 * MiB)) errno=ENOMEM"
expect "  ... (logged)" grep -q "all users together already hold $((448 * MiB)) of --total-limit $((448 * MiB))" "$WORK/cg.log"
s=$(status_json | json '[(c["cgroup"], c["buffers"], c["quota_bytes"], c["limit"]) for c in d["quotas"]["by_cgroup"]]')
expect_eq "status per cgroup" "[('/', 3, $((192 * MiB)), 'none'), ('/smaf-qa', 2, $((128 * MiB)), $((128 * MiB))), ('/smaf-qb', 2, $((128 * MiB)), $((128 * MiB)))]" "$s"
s=$(status_json | json '[(u["uid"], u["buffers"], u["quota_bytes"]) for u in d["quotas"]["by_user"]], d["quotas"]["total"]["quota_bytes"]')
expect_eq "status per user and in total" "[(1001, 5, $((320 * MiB))), (1002, 2, $((128 * MiB)))] $((448 * MiB))" "$s"
"$SMAFCTL" status | sed -n '/^per cgroup/,/^per allocator/p' | sed 's/^/    /'
b=$("$SMAFCTL" buffers --json | json 'sorted((x["cgroup"], x["uid"]) for x in d["buffers"])')
expect_eq "smafctl buffers: each buffer's cgroup and uid" \
	"[('/', 1001), ('/', 1002), ('/', 1002), ('/smaf-qa', 1001), ('/smaf-qa', 1001), ('/smaf-qb', 1001), ('/smaf-qb', 1001)]" "$b"
expect "no OOM kill" test "$(oom_kills)" = "$oom0"
unhold "$hQA" "$hQB" "$hQR" "$hQT"
r=$(quotas_zero)
expect "everything given back ($r)" test "$r" = "0 0 0 0 0"

echo "# --- 3. a caller-charged allocator: the caller's own memory.max stops it"
echo $((64 * MiB)) >"$CGROOT/smaf-qm/memory.max"
[ -e "$CGROOT/smaf-qm/memory.swap.max" ] && echo 0 >"$CGROOT/smaf-qm/memory.swap.max"
oom0=$(oom_kills)
refusals0=$(grep -c 'quota: uid 1001' "$WORK/cg.log")
{
	sh -c "echo \$\$ >'$CGROOT/smaf-qm/cgroup.procs' && exec setpriv --reuid=1001 --regid=1001 --clear-groups '$BIN/quota-hog' $((16 * MiB)) 32 smaf-memfd" >"$WORK/memfd" 2>&1
	rc=$?
} 2>/dev/null
cg_ooms=$(awk '/^oom_kill / { print $2 }' "$CGROOT/smaf-qm/memory.events")
echo "    memfd hog in a 64 MiB cgroup: exit $rc, oom_kill in its cgroup $cg_ooms, in the machine $oom0 -> $(oom_kills); $(cat "$WORK/memfd")"
expect "the smaf-memfd hog (16 MiB buffers, writing them) was killed in its 64 MiB cgroup (exit $rc)" test "$rc" = 137
expect "  ... by its cgroup's OOM kill, the only one in the machine" test "$cg_ooms" -ge 1 -a "$(($(oom_kills) - oom0))" = "$cg_ooms"
expect "  ... and no quota refused it (smaf-memfd is not counted)" test "$(grep -c 'quota: uid 1001' "$WORK/cg.log")" = "$refusals0"
expect "smafd survives" kill -0 "$PID"
r=$(quotas_zero)
expect "and forgets the hog's buffers ($r)" test "$r" = "0 0 0 0 0"
as_uid 1002 "$BIN/privilege-probe" "$size" 1 "$EAGER" >"$WORK/after" 2>&1
expect "smafd still serves ($(cat "$WORK/after"))" grep -q "created=1 errno=none usable=yes" "$WORK/after"
stop_smafd

echo "# --- 4. whose cgroup pays for each allocator's pages (smafctl info's charged_to)"
start_smafd "$WORK/charge.log"
echo "$PID" >"$CGROOT/smaf-daemon/cgroup.procs"
current() { cat "$CGROOT/smaf-$1/memory.current"; }
"$SMAFCTL" info --json | json '"\n".join("%s %s %s %d" % (a["name"], a["charged_to"].replace(" ", "-"), a["committed_at"].replace(" ", "-"), a["max_size"]) for a in d["allocators"])' >"$WORK/allocs"
printf '    %-22s %-8s %-12s %12s %12s\n' allocator declared committed "caller cg" "smafd cg"
while read -r name charge commit max; do
	total=$((16 * MiB))
	one=$total
	[ "$max" -lt "$one" ] && one=$max
	count=$((total / one))
	c0=$(current qc) d0=$(current daemon)
	hog CH 1001 qc "$one" "$count" "$name" >/dev/null
	c1=$(current qc) d1=$(current daemon)
	unhold "$HOG"
	dc=$((c1 - c0)) dd=$((d1 - d0))
	printf '    %-22s %-8s %-12s %12d %12d   (%s)\n' "$name" "$charge" "$commit" "$dc" "$dd" "$CH_LINE"
	case $charge in
	caller) verdict=$([ "$dc" -ge $((total / 2)) ] && [ "$dd" -lt $((total / 4)) ] && echo yes) ;;
	smafd) verdict=$([ "$dd" -ge $((total / 2)) ] && [ "$dc" -lt $((total / 4)) ] && echo yes) ;;
	*) verdict=$([ "$dd" -lt $((total / 4)) ] && [ "$dc" -lt $((total / 4)) ] && echo yes) ;;
	esac
	expect "$name: $((count * one)) bytes charged as declared ($charge): caller's cgroup +$dc, smafd's +$dd" test "$verdict" = yes
	expect "  ... all $count created" test "${CH_LINE% pid=*}" = "created=$count bytes=$((count * one)) errno=none"
done <"$WORK/allocs"
r=$(quotas_zero)
expect "nothing left ($r)" test "$r" = "0 0 0 0 0"

echo "# --- 5. pages charged to smafd (udmabuf) never push smafd over its own cgroup's memory.max"
if grep -q '^smaf-udmabuf ' "$WORK/allocs"; then
	oom0=$(oom_kills)
	cur=$(current daemon)
	bound=$(((cur + 48 * MiB) / 4096 * 4096))
	echo "$bound" >"$CGROOT/smaf-daemon/memory.max"
	hog OWN 1001 "" $((16 * MiB)) 100 smaf-udmabuf
	echo "    smafd's cgroup: $cur bytes before, memory.max $bound, $(current daemon) while the hog holds its buffers"
	expect "the udmabuf hog got buffers, then ENOMEM before smafd's cgroup was full" bash -c "echo '$OWN_LINE' | grep -Eq '^created=[1-9][0-9]* .* errno=ENOMEM'"
	expect "  ... logged with smafd's cgroup and its bound" grep -q "smaf-udmabuf: smafd's own cgroup $CGROOT/smaf-daemon holds .* would cross its memory.max (MemoryMax=) $bound" "$WORK/charge.log"
	expect "smafd survives, no OOM kill (oom_kill $oom0 -> $(oom_kills), in smafd's cgroup $(awk '/^oom_kill / { print $2 }' "$CGROOT/smaf-daemon/memory.events"))" \
		test "$(oom_kills)" = "$oom0" -a "$(awk '/^oom_kill / { print $2 }' "$CGROOT/smaf-daemon/memory.events")" = 0
	expect "  ... and still running" kill -0 "$PID"
	as_uid 1002 "$BIN/privilege-probe" "$size" 1 "$EAGER" >"$WORK/other" 2>&1
	expect "other allocators still serve everyone ($EAGER: $(cat "$WORK/other"))" grep -q "created=1 errno=none usable=yes" "$WORK/other"
	unhold "$HOG"
	r=$(quotas_zero)
	expect "everything given back ($r)" test "$r" = "0 0 0 0 0"
	echo max >"$CGROOT/smaf-daemon/memory.max"
else
	echo "# no smaf-udmabuf on $(uname -r): no allocator charges smafd's own cgroup"
fi
echo "$PID" >"$CGROOT/cgroup.procs"
stop_smafd
finish
