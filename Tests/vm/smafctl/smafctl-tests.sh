#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: smafctl against a running smafd (runs inside the test VM as root).
#   Tests/vm/smafctl/smafctl-tests.sh SMAFD SMAFCTL BUILD_DIR      (BUILD_DIR: .build/c)
# Prints ok/FAIL lines and "smafctl-tests: N passed, M failed".
. "$(dirname "$0")/../testlib.sh"
CTL=$(realpath "$2")
setup smafctl-tests "$1" "$3"
NODE_MODE=0666
# json FILE EXPR: evaluates a python expression over the parsed JSON in FILE (j).
json() { python3 -c "import json,sys; j=json.load(open('$1')); sys.exit(0 if ($2) else 1)"; }

# hold_buffer AS_USER: a process (python + libsmaf through ctypes) that keeps
# one 8 KiB buffer until killed; prints its pid.
hold_buffer() {
	local code="import ctypes,time; l=ctypes.CDLL('$BIN/libsmaf.so.0'); fd=ctypes.c_int(-1); assert l.smaf_open()==0; assert l.smaf_create_buffer(8192, 0x80002, None, ctypes.byref(fd))==0; print('held', fd.value, flush=True); time.sleep(120)"
	if [ "$1" = root ]; then python3 -c "$code" >"$WORK/hold.$1" 2>&1 &
	else as_nobody python3 -c "$code" >"$WORK/hold.$1" 2>&1 & fi
	echo $!
}

start_smafd "$WORK/smafd.log" --alias smaf-cma=smaf-memfd

"$CTL" info >"$WORK/info.txt"
rc=$?
sed 's/^/    /' "$WORK/info.txt"
expect "smafctl info exits 0" test "$rc" = 0
expect "  ... names version, node and secure module" grep -q "smafd 0.3.0 serving /dev/smaf on kernel" "$WORK/info.txt"
# The alias ranks with smaf-memfd (0) and sorts before it by name.
want=$(expected_allocators | sed 's/smaf-memfd/smaf-cma smaf-memfd/')
expect "  ... lists the allocators in rank order ($want)" \
	test "$(awk '/^ *[0-9]+  smaf-/ { printf "%s ", $2 }' "$WORK/info.txt" | sed 's/ $//')" = "$want"
expect "  ... with the columns dmabuf, contiguous, kernel mappings, lazy, max size and secure" \
	grep -Eq 'index +allocator +ranking +dmabuf +contiguous +kernel mappings +lazy +max size +secure +charged to +committed +quota +backing' "$WORK/info.txt"
"$CTL" info --json >"$WORK/info.json"
expect "smafctl info --json: the allocators in rank order, each with its declared properties" \
	json "$WORK/info.json" "' '.join(a['name'] for a in j['allocators'])=='$want' and all(type(a['dmabuf'])==bool and type(a['contiguous'])==bool and type(a['lazy'])==bool and a['max_size']>0 and a['backing'] and 'ranking' in a for a in j['allocators']) and [a['dmabuf'] for a in j['allocators'] if a['name']=='smaf-memfd']==[False] and j['secure_module']=='testsecure' and all(a['charged_to'] in ('caller','smafd','no one') and a['committed_at'] in ('creation','first touch','pinned') and a['quota_counted']==(a['charged_to']!='caller') for a in j['allocators']) and [a['charged_to'] for a in j['allocators'] if a['name']=='smaf-memfd']==['caller']"

"$CTL" create --size 4M >"$WORK/create.txt"
rc=$?
sed 's/^/    /' "$WORK/create.txt"
expect "smafctl create --size 4M maps, writes and verifies" bash -c "[ $rc = 0 ] && grep -q 'verified in .* ok' '$WORK/create.txt'"
first=$(expected_allocators | cut -d' ' -f1)
expect "smafctl create names the allocator smafd chose for an unnamed buffer ($first)" grep -q "allocator $first," "$WORK/create.txt"
"$CTL" create --size 64K --name smaf-cma --secure --json >"$WORK/create.json"
expect "smafctl create --name smaf-cma --secure --json" json "$WORK/create.json" "j['verified'] and j['secure'] and j['buffer_bytes']==65536 and j['allocator']=='smaf-cma' and 'dmabuf_exporter' not in j"
"$CTL" create --size 64K --name deadbeef >"$WORK/bad.txt" 2>&1
rc=$?
expect "smafctl create with an unknown allocator fails and says why (rc=$rc)" bash -c "[ $rc != 0 ] && grep -q 'SMAF_IOC_CREATE: Invalid argument' '$WORK/bad.txt'"

h1=$(hold_buffer root)
h2=$(hold_buffer nobody)
for _ in $(seq 1 100); do grep -q held "$WORK/hold.root" && grep -q held "$WORK/hold.nobody" && break; sleep 0.05; done
"$CTL" status >"$WORK/status.txt"
rc=$?
sed 's/^/    /' "$WORK/status.txt"
expect "smafctl status exits 0 and shows 2 live buffers" bash -c "[ $rc = 0 ] && grep -q '2 live buffers, 16 KiB' '$WORK/status.txt'"
"$CTL" status --json >"$WORK/status.json"
expect "smafctl status --json: per-uid buffers, connections, requests and refusals" \
	json "$WORK/status.json" "j['live_buffers']==2 and sorted((u['uid'],u['buffers'],u['bytes']) for u in j['by_uid'])==[(0,1,8192),(65534,1,8192)] and j['handoff_connections']>=2 and j['requests']['SMAF_IOC_CREATE']>=4 and j['refusals']['EINVAL']>=1 and j['created_total']>=4"
expect "smafctl status --json: the quotas per user and allocator, each with its limit" \
	json "$WORK/status.json" "[(u['uid'],u['buffers'],u['bytes']) for u in j['quotas']['by_user']]==[(0,1,8192),(65534,1,8192)] and all(u['limit']==j['quotas']['user_limit']>0 for u in j['quotas']['by_user']) and sum(a['buffers'] for a in j['quotas']['by_allocator'])==2 and j['quotas']['total']['bytes']==16384 and j['quotas']['total_limit']>0"
expect "smafctl status's table: a per-user line for each holder" bash -c "grep -A3 '^per user:' '$WORK/status.txt' | grep -Eq '^ +65534 +1 +8 KiB '"
"$CTL" buffers >"$WORK/buffers.txt"
sed 's/^/    /' "$WORK/buffers.txt"
expect "smafctl buffers (root) lists both held buffers" bash -c "grep -q '^2 live buffers' '$WORK/buffers.txt' && grep -Eq '^ +pid +uid +allocator +size +counted +age +open in +mapped in +cgroup' '$WORK/buffers.txt'"
"$CTL" buffers --json >"$WORK/buffers.json"
expect "smafctl buffers --json: creator uid and size, open in its creator (pid), mapped nowhere" \
	json "$WORK/buffers.json" "sorted((b['uid'],b['bytes']) for b in j['buffers'])==[(0,8192),(65534,8192)] and all(b['pid']>0 and b['open_in']==[b['pid']] and b['mapped_in']==[] for b in j['buffers'])"
# The socket is open to every user; the per-uid table is not.
install -m 0755 "$CTL" "$BIN/smafctl"
as_nobody "$BIN/smafctl" status --json >"$WORK/status-nobody.json"
expect "smafctl status as nobody: the totals, but only nobody's own row of the per-uid table" \
	json "$WORK/status-nobody.json" "j['live_buffers']==2 and [(u['uid'],u['buffers'],u['bytes']) for u in j['by_uid']]==[(65534,1,8192)] and [u['uid'] for u in j['quotas']['by_user']]==[65534]"
as_nobody "$BIN/smafctl" buffers --json >"$WORK/buffers-nobody.json"
expect "smafctl buffers as nobody: only nobody's own buffer" \
	json "$WORK/buffers-nobody.json" "j['live_buffers']==1 and [b['uid'] for b in j['buffers']]==[65534] and j['buffers'][0]['open_in']==[j['buffers'][0]['pid']]"
kill "$h1" "$h2"
wait "$h1" "$h2" 2>/dev/null

"$CTL" check >"$WORK/check.txt"
rc=$?
tail -n 3 "$WORK/check.txt" | sed 's/^/    /'
expect "smafctl check passes on smafd's /dev/smaf (rc=$rc)" bash -c "[ $rc = 0 ] && grep -q 'smafctl check: [0-9]* passed, 0 failed' '$WORK/check.txt'"
"$CTL" check --json >"$WORK/check.json"
expect "smafctl check --json lists every check as passed" json "$WORK/check.json" "len(j)>=25 and all(c['passed'] for c in j)"
"$CTL" check --device /dev/null >"$WORK/null.txt" 2>&1
rc=$?
expect "smafctl check on /dev/null: exit 1, 'not a SMAF device' once, no PASS (rc=$rc)" \
	bash -c "[ $rc = 1 ] && [ \$(grep -c 'not a SMAF device' '$WORK/null.txt') = 1 ] && ! grep -q PASS '$WORK/null.txt'"
"$CTL" info --device /dev/nonexistent >"$WORK/err.txt" 2>&1
rc=$?
expect "errors say what to do (rc=$rc)" bash -c "[ $rc != 0 ] && grep -q 'is smafd running' '$WORK/err.txt'"
stop_smafd

start_smafd "$WORK/smafd.log" --secure-module deny-cpu
"$CTL" create --size 64K --secure >"$WORK/deny.txt" 2>&1
rc=$?
sed 's/^/    /' "$WORK/deny.txt"
expect "under deny-cpu, smafctl create --secure reports the refused mapping (rc=$rc)" \
	bash -c "[ $rc = 1 ] && grep -q 'writable mmap refused' '$WORK/deny.txt'"
expect "smafd logged its start-up facts at info level" grep -q "smafd 0.3.0 starting on kernel" "$WORK/smafd.log"
stop_smafd

# Buffers only a CPU can use: smafd warns at start-up and smafctl info says
# so, naming what would give dma-bufs; with an exporter neither does.
cpu_only="no dma-buf exporter is usable"
if expected_allocators | grep -Eq 'smaf-(vgem|heap-|udmabuf|drm-)'; then
	expect "with a dma-buf exporter, smafd gives no CPU-only warning" bash -c "! grep -q '$cpu_only' '$WORK/smafd.log'"
	expect "  ... nor does smafctl info" bash -c "! grep -q '$cpu_only' '$WORK/info.txt'"
fi
start_smafd "$WORK/cpu-only.log" --allocators smaf-memfd,smaf-secretmem
expect "smafd --allocators smaf-memfd,smaf-secretmem warns at start-up that buffers are CPU-only, naming vgem, heaps and udmabuf" \
	grep -Eq "warning.*$cpu_only.*modprobe vgem.*/dev/dma_heap.*/dev/udmabuf" "$WORK/cpu-only.log"
run_grep "  ... and smafctl info shows the warning" "^warning: $cpu_only.*modprobe vgem" "$CTL" info
stop_smafd

# docs/smafctl.md's sample session must be what the binaries print now
# (numbers and column widths aside): scripts/doc-samples made it.
echo "# --- docs/smafctl.md's sample session, made again by scripts/doc-samples"
top=$(cd "$(dirname "$0")/../../.." && pwd)
if ! expected_allocators | grep -qw smaf-vgem; then
	expect "vgem is loaded for the sample session (vm/smaf-vm --modules vgem)" test -z "${CI:-}"
	echo "# skipped by hand: vgem is not loaded, and the sample uses smaf-vgem"
else
	"$top/scripts/doc-samples" "$SMAFD" >"$WORK/sample.md" 2>&1
	rc=$?
	# What differs between kernels and runs: numbers, the kernel's name, column
	# widths, and where a device's facts come from (udev runs under
	# all-tests.sh, after constraints-tests.sh, but not in a lone run).
	mask() {
		sed -E 's/on kernel [^ ]+/on kernel K/; s/[0-9]+/#/g; s/[[:space:]]+/ /g; s/ $//; s/buffers/buffer/g' |
			sed -E 's/^( \/dev\/[^ ]+ (yes|no) (yes|no) # bits # (yes|no) ).*( smaf-.*)$/\1F\5/'
	}
	awk '/^<!-- sample: begin/ { on = 1; next } /^<!-- sample: end/ { on = 0 } on' "$top/docs/smafctl.md" | mask >"$WORK/doc.masked"
	sed '1d;$d' "$WORK/sample.md" | mask >"$WORK/now.masked"
	if [ "$rc" = 0 ] && [ -s "$WORK/doc.masked" ] && cmp -s "$WORK/doc.masked" "$WORK/now.masked"; then
		ok "docs/smafctl.md's sample session is what smafd and smafctl print now ($(wc -l <"$WORK/now.masked") lines)"
	else
		bad "docs/smafctl.md's sample differs from a fresh scripts/doc-samples (rc=$rc; - doc, + now; run it with --write):"
		diff -u "$WORK/doc.masked" "$WORK/now.masked" | tail -n +3 | head -n 30 | sed 's/^/    /'
	fi
fi

finish
