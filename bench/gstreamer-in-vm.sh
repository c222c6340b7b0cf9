#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs inside the test VM (booted with vivid n_devs=2 allocators=0,1 and vkms,
# as scripts/bench does): camera to display, FRAMES frames (300) from vivid's
# vmalloc instance into vkms, by two paths in this one boot:
#   smafpool  v4l2src io-mode=dmabuf-import ! smafpool devices=CAM,CARD ! kmssink
#             (vivid captures into the SMAF buffer kmssink scans out)
#   mmap      v4l2src io-mode=mmap ! kmssink (kmssink copies each frame into
#             its own dumb buffer)
# Each path runs twice; the table shows the second run (the first warms the
# page cache) with frames per second, the pipeline process's CPU time per
# frame and the whole VM's (vivid draws and vkms composes in kernel threads,
# which the process's own time leaves out), and kmssink's copies.
#   bench/gstreamer-in-vm.sh SMAFD BUILD_DIR [FRAMES]
set -eu
SMAFD=$(realpath "$1")
BUILD=$(realpath "$2")
FRAMES=${3:-300}
export GST_REGISTRY=$BUILD/gst/registry.bin GST_REGISTRY_UPDATE=no GST_PLUGIN_PATH=$BUILD/gst
. "$(dirname "$0")/../Tests/vm/testlib.sh"
cam=$(v4l2_node vivid-000-vid-cap)
card=$(drm_card vkms)
[ -n "$cam" ] && [ -n "$card" ] || { echo "bench: vivid instance 0 or vkms is missing" >&2; exit 1; }
WORK=$(mktemp -d /tmp/smaf-gst-bench.XXXXXX)
env --default-signal=INT,TERM "$SMAFD" --foreground --log-level warning >"$WORK/smafd.log" 2>&1 &
smafd=$!
trap 'kill -TERM $smafd 2>/dev/null; wait; rm -rf "$WORK"' EXIT
for _ in $(seq 1 300); do [ -c /dev/smaf ] && break; sleep 0.05; done
[ -c /dev/smaf ] || { echo "bench: smafd did not serve /dev/smaf" >&2; cat "$WORK/smafd.log" >&2; exit 1; }

CAPS=video/x-raw,format=BGRx,width=640,height=480
SINK="kmssink driver-name=vkms force-modesetting=true sync=false"
# Busy jiffies of all CPUs (user+nice+system+irq+softirq+steal).
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
hz=$(getconf CLK_TCK)

# run NAME PIPELINE...: prints "fps cpu_ms_per_frame_process cpu_ms_per_frame_vm copies"
run() {
	local name=$1 t0 t1 b0 b1 rc
	shift
	b0=$(busy)
	t0=$(date +%s%N)
	# bash's time of the child: real, user and system seconds.
	{ TIMEFORMAT='%R %U %S'; time GST_DEBUG=GST_PERFORMANCE:5 GST_DEBUG_FILE=$WORK/$name.log \
		gst-launch-1.0 -q "$@" >"$WORK/$name.out" 2>&1; } 2>"$WORK/$name.time" || {
		rc=$?
		echo "bench: $name failed ($rc):" >&2
		cat "$WORK/$name.out" >&2
		return "$rc"
	}
	t1=$(date +%s%N)
	b1=$(busy)
	read -r _ user sys <"$WORK/$name.time"
	awk -v n="$FRAMES" -v ns=$((t1 - t0)) -v u="$user" -v s="$sys" -v jb=$((b1 - b0)) -v hz="$hz" \
		-v copies="$(grep -c 'frame copy' "$WORK/$name.log")" \
		'BEGIN { printf "%.1f %.2f %.2f %d\n", n / (ns / 1e9), (u + s) * 1000 / n, jb * 1000 / hz / n, copies }'
}

# shellcheck disable=SC2206 # SINK is words on purpose
smaf=(v4l2src device="$cam" io-mode=dmabuf-import num-buffers="$FRAMES" ! "$CAPS" ! smafpool devices="$cam,$card" ! $SINK)
# shellcheck disable=SC2206
mmap=(v4l2src device="$cam" io-mode=mmap num-buffers="$FRAMES" ! "$CAPS" ! $SINK)
run smaf-warm "${smaf[@]}" >/dev/null
read -r s_fps s_cpu s_vm s_copies < <(run smaf "${smaf[@]}")
run mmap-warm "${mmap[@]}" >/dev/null
read -r m_fps m_cpu m_vm m_copies < <(run mmap "${mmap[@]}")

echo "== GStreamer camera to display, $FRAMES frames 640x480 BGRx, vivid $cam -> vkms $card, kernel $(uname -r)"
printf '%-44s %12s %12s\n' "" "smafpool" "io-mode=mmap"
printf '%-44s %12s %12s\n' "frames per second" "$s_fps" "$m_fps"
printf '%-44s %12s %12s\n' "CPU ms per frame, gst-launch process" "$s_cpu" "$m_cpu"
printf '%-44s %12s %12s\n' "CPU ms per frame, whole VM" "$s_vm" "$m_vm"
printf '%-44s %12s %12s\n' "frames kmssink copied (\"frame copy\")" "$s_copies" "$m_copies"
