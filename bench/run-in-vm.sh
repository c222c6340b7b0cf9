#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM: starts the daemons smaf-bench measures, the storm
# and the system-call counts, then smaf-bench itself, in this one boot, and
# stops them all.
#   bench/run-in-vm.sh SMAFD BUILD_DIR JSON_OUT [--short] [--only SECTIONS]
# Daemons (boot the VM with vivid/vgem, huge pages and secretmem.enable=1
# for every allocator, as scripts/bench does):
#   /dev/smaf           smafd as installed: every allocator this kernel has
#                       (named CREATE, CREATE_FOR);
#   /dev/smaf-memfd     smafd --allocators smaf-memfd: the unnamed memfd row,
#                       cost accounting, live buffers, throughput, scale;
#   /dev/smaf-only-X    smafd --allocators smaf-X for each other allocator
#                       /dev/smaf lists: its unnamed row;
#   /dev/smaf-scale     the same as smaf-memfd: the live-buffer and scale rows
#                       compare the two, one of them loaded;
#   /dev/smaf-storm     smafd with the storm test's limits, for the storm only;
#   /dev/smaf-baseline  the C CUSE floor (bench/cuse_baseline.c).
# The storm's rate and the system calls per CREATE (strace -c on the client
# and attached to the daemon, N cycles minus 0 cycles) go to smaf-bench in a
# file of "key value" lines, so it prints and judges them with the rest.
set -eu
SMAFD=$(realpath "$1")
BUILD=$(realpath "$2")
OUT=$3
shift 3
short=0 only=
args=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--short) short=1 ;;
	--only) only=$2; shift ;;
	esac
	shift
done
selected() { [ -z "$only" ] || case ",$only," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# 1,000 clients' channels and 10,000 live buffers are fds in smafd and here.
ulimit -n 65536
LOGS=$(mktemp -d /tmp/smaf-bench.XXXXXX)
EXTRA=$LOGS/extra
: >"$EXTRA"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$LOGS"
}
trap cleanup EXIT
wait_node() {
	for _ in $(seq 1 300); do [ -c "/dev/$1" ] && return 0; sleep 0.05; done
	echo "bench: /dev/$1 did not appear; smafd's logs:" >&2
	cat "$LOGS"/*.log >&2
	return 1
}
# start_smafd DEVNAME [OPTIONS...]: sets $last to its pid.
start_smafd() {
	local name=$1
	shift
	env --default-signal=INT,TERM "$SMAFD" --foreground --log-level warning --devname "$name" "$@" >"$LOGS/$name.log" 2>&1 &
	last=$!
	pids+=("$last")
	wait_node "$name"
}
env --default-signal=INT,TERM "$BUILD/cuse-baseline" --devname smaf-baseline &
baseline=$!
pids+=("$baseline")
start_smafd smaf
start_smafd smaf-memfd --allocators smaf-memfd --max-buffers-per-user 100000
memfd_pid=$last
scale=()
if selected scale || selected live; then
	start_smafd smaf-scale --allocators smaf-memfd --max-buffers-per-user 100000
	scale=(--scale-device /dev/smaf-scale --scale-pid "$last")
fi
wait_node smaf-baseline
if selected create; then
	for a in $("$BUILD/smaf-bench" --list-allocators --device /dev/smaf); do
		[ "$a" = smaf-memfd ] && continue
		start_smafd "smaf-only-${a#smaf-}" --allocators "$a"
	done
fi

if selected storm; then
	calls=100000
	[ "$short" = 1 ] && calls=20000
	# The storm test's limits (Tests/vm/storm/storm-tests.sh): its buffers
	# queue up unread, and eager exporters commit every page at CREATE.
	start_smafd smaf-storm --max-buffer-size 16M --max-bytes-per-user 256M
	storm_pid=$last
	"$BUILD/storm-test" --device /dev/smaf-storm --calls "$calls" --seed 20 --generations v10 >"$LOGS/storm.out" || {
		echo "bench: storm-test failed:" >&2
		cat "$LOGS/storm.out" "$LOGS/smaf-storm.log" >&2
		exit 1
	}
	# "storm-test: N calls in T s (R calls/s), kernel K"
	rate=$(sed -n 's/^storm-test: [0-9]* calls in .* s (\([0-9]*\) calls\/s).*/\1/p' "$LOGS/storm.out")
	[ -n "$rate" ] || { echo "bench: no rate in storm-test's output" >&2; cat "$LOGS/storm.out" >&2; exit 1; }
	printf 'storm.calls %s\nstorm.calls_per_s %s\n' "$calls" "$rate" >>"$EXTRA"
	kill -TERM "$storm_pid"
	wait "$storm_pid" || true
fi

# settle: waits (up to 15 s) until the VM's CPUs are at least 90% idle over
# half a second: daemons finishing their start-up, memory freed after the
# storm, must not land in the first rows' samples.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }
settle() {
	local b0 i0 b1 i1
	for _ in $(seq 1 30); do
		read -r b0 i0 <<<"$(cpu_ticks)"
		sleep 0.5
		read -r b1 i1 <<<"$(cpu_ticks)"
		[ $(((b1 - b0) * 10)) -le $((b1 - b0 + i1 - i0)) ] && return 0
	done
	echo "bench: the VM did not settle in 15 s; measuring anyway" >&2
}

# strace_calls FILE: the total of strace -c's calls column.
strace_calls() { awk '$NF == "total" { print $4 }' "$1"; }
# count_side SIDE N: system calls of the client and of its daemon for one
# warm-up cycle and N cycles of smaf-bench --cycles.
count_side() {
	local side=$1 n=$2 daemon=$memfd_pid
	[ "$side" = direct ] && daemon=$baseline
	strace -f -c -q -p "$daemon" -o "$LOGS/daemon-$side-$n" &
	local tracer=$!
	sleep 2 # attached to every thread before the cycles start
	strace -f -c -q -o "$LOGS/client-$side-$n" "$BUILD/smaf-bench" --cycles "$n" --side "$side" --memfd-device /dev/smaf-memfd
	sleep 1 # the daemon's after-close work
	kill -INT "$tracer"
	wait "$tracer" || true
	echo "$(strace_calls "$LOGS/client-$side-$n") $(strace_calls "$LOGS/daemon-$side-$n")"
}
if selected syscalls; then
	if command -v strace >/dev/null; then
		n=1000
		[ "$short" = 1 ] && n=200
		for side in smafd direct; do
			settle
			read -r c0 d0 <<<"$(count_side "$side" 0)"
			read -r c1 d1 <<<"$(count_side "$side" "$n")"
			awk -v s="$side" -v n="$n" -v c0="$c0" -v c1="$c1" -v d0="${d0:-0}" -v d1="${d1:-0}" 'BEGIN {
				printf "syscalls.%s.client %.2f\nsyscalls.%s.daemon %.2f\n", s, (c1 - c0) / n, s, (d1 - d0) / n }' >>"$EXTRA"
		done
	else
		echo "syscalls.strace_missing 1" >>"$EXTRA"
	fi
fi

settle
"$BUILD/smaf-bench" --smafd-pid "$memfd_pid" --baseline-pid "$baseline" --device /dev/smaf --memfd-device /dev/smaf-memfd \
	--unnamed-prefix /dev/smaf-only- "${scale[@]}" --extra "$EXTRA" --json "$OUT" "${args[@]}" || {
	r=$?
	echo "bench: smaf-bench failed ($r); smafd's logs:" >&2
	tail -n 20 "$LOGS"/*.log >&2
	exit $r
}
