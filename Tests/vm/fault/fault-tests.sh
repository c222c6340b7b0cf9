#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: faults (runs inside the test VM as root, see vm/smaf-vm).
#   Tests/vm/fault/fault-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# 1. Clients killed with SIGKILL at every step: after connecting their
#    handoff channel but before any ioctl; with buffers sent to them but not
#    yet received (in flight on the channel); while holding mapped buffers;
#    and from outside at random moments of a create/map/close loop. After
#    each kind, smafd holds nothing of theirs within a few seconds, and a
#    client running all along ("steady") never sees an error.
# 2. smafd killed with SIGKILL under running clients (testsecure, then
#    deny-cpu): their mappings keep their data and buffers still pass between
#    processes; a restarted smafd brings /dev/smaf back and the same processes
#    create again (libsmaf reopens the device); buffers of the old instance
#    are "not SMAF buffers" to the new one (GET 0, SET EINVAL), and a deny-cpu
#    write seal stays.
# Prints "ok"/"FAIL" lines and "fault-tests: N passed, M failed".
. "$(dirname "$0")/../testlib.sh"
setup fault-tests "$1" "$2" fault-test
NODE_MODE=0666 # clients run under several uids
VICTIM_UID=1001
REPEAT=${SMAF_FAULT_REPEAT:-8}

# counts: "live_buffers=N channels=N uid_buffers=N" (the victims' uid).
counts() { "$BIN/fault-test" counts "$VICTIM_UID"; }
field() { sed -n "s/.*\<$1=\([0-9?]*\).*/\1/p"; }

# wait_counts LIVE CHANNELS UID_BUFFERS: polls for up to 10 s until smafd's
# counts are these ("-": any); prints the milliseconds it took and the last
# counts seen; fails if they never were.
wait_counts() {
	local start c live ch uid
	start=$(now_ms)
	for _ in $(seq 1 100); do
		c=$(counts)
		live=$(echo "$c" | field live_buffers)
		ch=$(echo "$c" | field channels)
		uid=$(echo "$c" | field uid_buffers)
		if { [ "$1" = - ] || [ "$live" = "$1" ]; } && { [ "$2" = - ] || [ "$ch" = "$2" ]; } &&
			{ [ "$3" = - ] || [ "$uid" = "$3" ]; }; then
			echo "$(($(now_ms) - start)) ms: $c"
			return 0
		fi
		sleep 0.1
	done
	echo "never (after 10 s): $c"
	return 1
}

# victims DESCRIPTION ARGS...: REPEAT victims, one after the other, as uid
# 1001; each must pass its checks and die by SIGKILL (exit status 137). The
# first one's output is shown.
victims() {
	local what=$1 died=0 rc i
	shift
	for i in $(seq 1 $REPEAT); do
		as_uid $VICTIM_UID "$BIN/fault-test" "$@" >"$WORK/victim.out" 2>&1
		rc=$?
		[ "$i" = 1 ] && sed 's/^/    /' "$WORK/victim.out"
		if [ "$rc" = 137 ] && ! grep -q '^FAIL' "$WORK/victim.out"; then
			died=$((died + 1))
		else
			echo "    (victim $i: exit $rc)"
			sed 's/^/    /' "$WORK/victim.out"
		fi
	done
	expect "$what: $died of $REPEAT victims did their part and died by SIGKILL" test "$died" = "$REPEAT"
}

# after_victims WHAT: the victims' buffers and channels are gone from smafd
# (only the steady client's channel is left) and smafd is still running.
after_victims() {
	local r
	if r=$(wait_counts - 1 0); then ok "$1: smafd holds no buffer and no channel of theirs after $r"; else bad "$1: smafd still holds something of theirs: $r"; fi
	expect "$1: smafd is still running" kill -0 "$PID"
}

# ---- 1. clients SIGKILLed at every step -------------------------------------
echo "# --- 1. clients SIGKILLed at every step, uid $VICTIM_UID, while a steady client (root) keeps working"
t1=$(date +%s)
start_smafd "$WORK/clients.log"
fds0=$(fd_count)
"$BIN/fault-test" steady >"$WORK/steady.out" 2>&1 &
STEADY=$!
if r=$(wait_counts - 1 0); then ok "the steady client is running with its channel ($r)"; else bad "the steady client has no channel: $r"; fi

victims "(a) SIGKILL after connecting the channel, before any ioctl" kill-connected
after_victims "(a)"
victims "(b) SIGKILL with 3 buffers in flight on the channel (sent, never received)" kill-in-flight 3
after_victims "(b)"
victims "(c) SIGKILL while holding 16 mapped buffers (4 secure, 1 read-only)" kill-mapped 16
after_victims "(c)"

echo "# --- (d) killed from outside at a random moment of a create/map/write/close loop"
killed=0
for i in $(seq 1 $REPEAT); do
	# Not through as_uid: a function in the background is a subshell,
	# and $! would name it instead of the client.
	setpriv --reuid=$VICTIM_UID --regid=$VICTIM_UID --clear-groups "$BIN/fault-test" loop >"$WORK/loop.out" 2>&1 &
	v=$!
	sleep "0.$((RANDOM % 6 + 1))"
	kill -KILL "$v"
	wait "$v" 2>/dev/null
	rc=$?
	if [ "$rc" = 137 ]; then killed=$((killed + 1)); else echo "    (loop $i: exit $rc)"; sed 's/^/    /' "$WORK/loop.out"; fi
done
expect "(d) $killed of $REPEAT looping clients were running (no error) when SIGKILLed" test "$killed" = "$REPEAT"
after_victims "(d)"

kill -TERM "$STEADY"
wait "$STEADY"
rc=$?
sed 's/^/    /' "$WORK/steady.out"
expect "the steady client was unaffected by all of that (exit $rc)" test "$rc" = 0
if r=$(wait_counts 0 0 0); then ok "once it exits too, live_buffers and channels return to 0 ($r)"; else bad "live_buffers/channels do not return to 0: $r"; fi
fds1=$(wait_fds "$fds0")
expect "smafd's open fds are back to their number at start ($fds0 -> $fds1)" test "$fds1" = "$fds0"
stop_smafd
echo "# section 1 took $(($(date +%s) - t1)) s"

# ---- 2. smafd SIGKILLed under running clients -------------------------------
for module in testsecure deny-cpu; do
	echo "# --- 2. smafd --secure-module $module SIGKILLed under clients holding mapped buffers, then restarted"
	t2=$(date +%s)
	start_smafd "$WORK/restart-$module.log" --secure-module "$module"
	out=$WORK/restart-$module.out
	mkfifo "$WORK/ctl-$module"
	"$BIN/fault-test" restart "$module" "$BIN/libsmaf-preload.so" <"$WORK/ctl-$module" >"$out" 2>&1 &
	CLIENT=$!
	exec 3>"$WORK/ctl-$module"
	if wait_line "$out" "^# phase 1 ready" 60; then
		kill -KILL "$PID"
		wait "$PID" 2>/dev/null
		rc=$?
		expect "smafd died of SIGKILL (rc=$rc)" test "$rc" = 137
		expect "the kernel removed /dev/smaf with it" wait_gone
		echo killed >&3
		if wait_line "$out" "^# phase 2 done" 60; then
			start_smafd "$WORK/restart-$module-2.log" --secure-module "$module"
			echo restarted >&3
		else
			bad "the client never finished phase 2"
		fi
	else
		bad "the client never got ready"
	fi
	exec 3>&-
	wait "$CLIENT"
	rc=$?
	sed 's/^/    /' "$out"
	expect "the same client processes lived through smafd's SIGKILL and restart ($module, exit $rc)" test "$rc" = 0
	if r=$(wait_counts 0 0 0); then ok "the new smafd holds nothing once they exit ($r)"; else bad "the new smafd still holds something: $r"; fi
	stop_smafd
	echo "# section 2 ($module) took $(($(date +%s) - t2)) s"
done

finish
