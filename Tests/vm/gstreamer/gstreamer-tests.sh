#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: stock GStreamer pipelines sharing smafd's dma-bufs through the
# plugin "smaf" (gst/, docs/gstreamer.md). Runs inside the test VM as root,
# booted as scripts/test does (vivid n_devs=2 allocators=0,1, vgem, vkms).
#   Tests/vm/gstreamer/gstreamer-tests.sh SMAFD_BINARY BUILD_DIR      (BUILD_DIR: .build/c)
# The plugin and its registry come from BUILD_DIR/gst (scripts/build-c makes
# both on the host: a registry scan under the VM's emulated CPU takes
# minutes), used with GST_REGISTRY_UPDATE=no. udevd runs with a rule saying
# vivid instance 1 (vb2-dma-contig) needs contiguous memory, as a board's
# rule would for such a camera.
# 1. camera: v4l2src io-mode=dmabuf-import ! smafpool devices=CAM ! fakesink,
#    every frame in a SMAF buffer, for each vivid instance an allocator of
#    this kernel fits; for one none fits, the state change fails naming it;
#    a 100-frame run makes only the pool's buffers (smafd's CREATE count).
# 2. display: videotestsrc ! smafpool devices=CARD ! kmssink: kmssink
#    imports ("setting KMS mem"), never copies ("frame copy").
#    gstreamer-pixels-test compares the pixels vivid captured and vkms
#    composed (writeback) in an allocator-made buffer, before any kmssink
#    run (on 6.1, a read-back after kmssink had set a mode never finished).
# 3. camera to display, the same checks; the dma-contig camera works where
#    an allocator fits and otherwise fails at the state change, showing
#    nothing.
#    Without smafpool: the dma-contig camera into kmssink fails, mmap copies.
# 4. output: videotestsrc ! smafpool ! v4l2sink io-mode=dmabuf-import.
# 5. errors: no such device, not a device, unknown allocator, devices and
#    allocator together, smafd not running: an error naming the problem at
#    the state change, never a hang; out of buffers: a flow error.
# 6. secure=true: each buffer carries the secure flag.
# Prints "ok"/"FAIL" lines and "gstreamer-tests: N passed, M failed".
. "$(dirname "$0")/../testlib.sh"
setup gstreamer-tests "$1" "$2" gstreamer-pixels-test
SMAFCTL=$(dirname "$SMAFD")/smafctl
T=$BIN/gstreamer-pixels-test
RULE=/run/udev/rules.d/72-smaf-test-gstreamer.rules
UDEVD_PID=
cleanup() {
	rm -f "$RULE"
	if [ -n "$UDEVD_PID" ]; then
		# The udev database forgets the test property before udevd goes.
		udevadm trigger --action=change --subsystem-match=video4linux 2>/dev/null
		udevadm settle --timeout=30 2>/dev/null
		udevadm control --exit 2>/dev/null || kill -TERM "$UDEVD_PID" 2>/dev/null
	fi
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
}
trap cleanup EXIT
export GST_REGISTRY=$BUILD/gst/registry.bin GST_REGISTRY_UPDATE=no GST_PLUGIN_PATH=$BUILD/gst
# Pipelines get this long; under the emulated CPU 30 frames take seconds.
LIMIT=240

cam0=$(v4l2_node vivid-000-vid-cap)
cam1=$(v4l2_node vivid-001-vid-cap)
out0=$(v4l2_node vivid-000-vid-out)
card=$(drm_card vkms)
CAPS=video/x-raw,format=BGRx,width=640,height=480

echo "# --- 0. the VM"
expect "vivid's capture and output nodes and vkms's card are there ($cam0 $cam1 $out0 $card)" \
	test -n "$cam0" -a -n "$cam1" -a -n "$out0" -a -n "$card"
expect "the build's registry lists smafpool (scripts/build-c made $GST_REGISTRY)" \
	bash -c "timeout 60 gst-inspect-1.0 smafpool | grep -q 'SMAF buffer pool'"
mkdir -p /run/udev/rules.d
echo 'SUBSYSTEM=="video4linux", ATTR{name}=="vivid-001-vid-cap", ENV{SMAF_DMA_CONTIGUOUS}="1"' >"$RULE"
export SYSTEMD_IGNORE_CHROOT=1
expect "systemd-udevd is up" start_udevd "$WORK/udevd.log"
udevadm trigger --action=add --subsystem-match=video4linux
udevadm settle --timeout=30
expect "udev gives $cam1 SMAF_DMA_CONTIGUOUS=1" bash -c "udevadm info --query=property '$cam1' | grep -qx SMAF_DMA_CONTIGUOUS=1"
start_smafd "$WORK/smafd.log"

# pipeline NAME ELEMENTS...: gst-launch-1.0 with the smafpool, kmssink and
# performance logs into $WORK/NAME.log, its output into $WORK/NAME.out;
# returns gst-launch's status (124: it hung and timeout stopped it).
pipeline() {
	local name=$1
	shift
	GST_DEBUG=smafpool:4,smafallocator:4,kmssink:7,GST_PERFORMANCE:5 GST_DEBUG_FILE=$WORK/$name.log GST_DEBUG_NO_COLOR=1 \
		timeout "$LIMIT" gst-launch-1.0 "$@" >"$WORK/$name.out" 2>&1
	local rc=$?
	sed 's/^/    /' "$WORK/$name.out" | grep -v '^    \(Setting pipeline\|Pipeline is\|Redistribute\|New clock\|Freeing\|Prerolled\|Execution ended\|Got EOS\|Waiting for EOS\)' | head -n 12
	return "$rc"
}
# frames NAME: "N frames in SMAF buffers, M in other memory" from smafpool's log.
frames() { grep -o '[0-9]* frames in SMAF buffers, [0-9]* in other memory' "$WORK/$1.log" | tail -n 1; }
count() { grep -c -- "$2" "$WORK/$1.log"; }
# fits DEVICE...: the allocators smafd says meet all the devices (smafctl devices).
fits() {
	"$SMAFCTL" devices --json "$@" | python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin)[-1]["allocators"]))'
}
# expect_state_failure WHAT NAME PATTERN: the pipeline NAME failed at its
# state change (no frame) with smafpool's error matching PATTERN.
expect_state_failure() {
	local what=$1 name=$2 pattern=$3 rc=$4
	# gst-launch-1.0 exits 255 when a state change fails, 1 on an error
	# while playing; 124 is timeout's (a hang), 129-165 a signal (a crash).
	expect "$what: gst-launch fails, does not hang nor crash (rc=$rc)" test "$rc" = 255
	expect "  ... smafpool's error says: $pattern" grep -q "ERROR: from element .*smafpool.*$pattern" "$WORK/$name.out"
	expect "  ... at the state change to PAUSED, before any frame" \
		bash -c "grep -q \"Failed to set pipeline to PAUSED\|pipeline doesn't want to p\" '$WORK/$name.out' && ! grep -q 'setting KMS mem' '$WORK/$name.log'"
}

echo "# --- 1. camera: v4l2src io-mode=dmabuf-import ! smafpool devices=CAM ! fakesink"
for cam in "$cam0" "$cam1"; do
	name=camera-${cam##*/}
	a=$(fits "$cam")
	pipeline "$name" v4l2src device="$cam" io-mode=dmabuf-import num-buffers=30 ! "$CAPS" ! smafpool devices="$cam" ! fakesink
	rc=$?
	if [ -n "$a" ]; then
		expect "$cam (allocators that fit: $a): 30 frames captured (rc=$rc)" test "$rc" = 0
		expect "  ... every one into a SMAF buffer ($(frames "$name"))" test "$(frames "$name")" = "30 frames in SMAF buffers, 0 in other memory"
	else
		expect "$cam: no allocator on $(uname -r) fits it (smafctl devices)" test -z "$a"
		expect_state_failure "$cam" "$name" "no allocator of smafd fits $cam.*$cam needs physically contiguous memory" "$rc"
	fi
done
before=$(status_field created_total)
pipeline reuse videotestsrc num-buffers=100 ! "$CAPS" ! smafpool devices="$cam0" ! fakesink
rc=$?
after=$(status_field created_total)
expect "100 frames through smafpool: smafd made $((after - before)) buffers, the pool's few, not one per frame (rc=$rc; $(frames reuse))" \
	test "$rc" = 0 -a "$((after - before))" -le 6 -a "$(frames reuse)" = "100 frames in SMAF buffers, 0 in other memory"

echo "# --- 1b. pixels: GstSmafAllocator's buffer for a camera and vkms (before kmssink has touched vkms)"
for cam in "$cam0" "$cam1"; do
	if [ -n "$(fits "$cam" "$card")" ]; then
		run_test "$cam and vkms: the pixels vivid captured are the pixels vkms composed" timeout "$LIMIT" "$T" --camera-display "$cam" "$card"
	else
		run_test "$cam and vkms: no allocator fits; the allocator, asked directly, says so and makes no buffer" \
			timeout "$LIMIT" "$T" --refused "$cam" "$card"
	fi
done

echo "# --- 2. display: videotestsrc ! smafpool devices=CARD ! kmssink driver-name=vkms force-modesetting=true"
pipeline display videotestsrc num-buffers=30 ! "$CAPS" ! smafpool devices="$card" ! kmssink driver-name=vkms force-modesetting=true
rc=$?
expect "30 frames shown (rc=$rc; $(frames display))" test "$rc" = 0 -a "$(frames display)" = "30 frames in SMAF buffers, 0 in other memory"
expect "kmssink imported the dma-bufs ($(count display 'setting KMS mem') x 'setting KMS mem')" test "$(count display 'setting KMS mem')" -ge 1
expect "kmssink never copied a frame ($(count display 'frame copy') x 'frame copy')" test "$(count display 'frame copy')" = 0

echo "# --- 3. camera to display: v4l2src io-mode=dmabuf-import ! smafpool devices=CAM,CARD ! kmssink"
for cam in "$cam0" "$cam1"; do
	name=camdisp-${cam##*/}
	a=$(fits "$cam" "$card")
	pipeline "$name" v4l2src device="$cam" io-mode=dmabuf-import num-buffers=30 ! "$CAPS" ! smafpool devices="$cam,$card" ! kmssink driver-name=vkms force-modesetting=true
	rc=$?
	if [ -n "$a" ]; then
		expect "$cam to vkms (allocators that fit: $a): 30 frames (rc=$rc; $(frames "$name"))" \
			test "$rc" = 0 -a "$(frames "$name")" = "30 frames in SMAF buffers, 0 in other memory"
		expect "  ... kmssink imported ($(count "$name" 'setting KMS mem')) and never copied ($(count "$name" 'frame copy'))" \
			test "$(count "$name" 'setting KMS mem')" -ge 1 -a "$(count "$name" 'frame copy')" = 0
	else
		expect "$cam with vkms: no allocator on $(uname -r) fits them (smafctl devices)" test -z "$a"
		expect_state_failure "$cam to vkms" "$name" "no allocator of smafd fits $cam,$card.*$cam needs physically contiguous memory, correct kernel mappings" "$rc"
	fi
done

echo "# --- 3b. the same without smafpool: what it fixes"
pipeline nopool v4l2src device="$cam1" io-mode=dmabuf-import num-buffers=10 ! "$CAPS" ! kmssink driver-name=vkms force-modesetting=true
rc=$?
expect "$cam1 io-mode=dmabuf-import straight into kmssink fails: it refuses kmssink's dumb buffers (rc=$rc)" \
	test "$rc" != 0 -a "$rc" != 124 -a "$(grep -c 'ERROR: from element .*v4l2src' "$WORK/nopool.out")" -ge 1
pipeline copying v4l2src device="$cam0" io-mode=mmap num-buffers=30 ! "$CAPS" ! kmssink driver-name=vkms force-modesetting=true
rc=$?
expect "$cam0 io-mode=mmap into kmssink works but copies frames ($(count copying 'frame copy') 'frame copy' lines for 30 frames, rc=$rc)" \
	test "$rc" = 0 -a "$(count copying 'frame copy')" -ge 20

echo "# --- 4. output: videotestsrc ! smafpool devices=OUT ! v4l2sink io-mode=dmabuf-import"
pipeline output videotestsrc num-buffers=30 ! "$CAPS" ! smafpool devices="$out0" ! v4l2sink device="$out0" io-mode=dmabuf-import
rc=$?
expect "30 frames to $out0 in SMAF buffers (rc=$rc; $(frames output))" \
	test "$rc" = 0 -a "$(frames output)" = "30 frames in SMAF buffers, 0 in other memory"

echo "# --- 5. errors"
pipeline missing videotestsrc num-buffers=3 ! smafpool devices=/dev/video-none ! fakesink
expect_state_failure "a device that does not exist" missing "device /dev/video-none: No such file or directory" $?
echo x >"$WORK/plain-file"
pipeline notdev videotestsrc num-buffers=3 ! smafpool devices="$WORK/plain-file" ! fakesink
expect_state_failure "a path that is not a device" notdev "device $WORK/plain-file: smafd answered No such device: it is not a character device" $?
pipeline unknown videotestsrc num-buffers=3 ! smafpool allocator=smaf-nonesuch ! fakesink
expect_state_failure "an unknown allocator" unknown "allocator 'smaf-nonesuch' is not one of smafd's (smaf-" $?
pipeline both videotestsrc num-buffers=3 ! smafpool devices="$cam0" allocator=smaf-vgem ! fakesink
expect_state_failure "devices and allocator together" both "give devices ($cam0) or an allocator name (smaf-vgem), not both" $?
run_test "secure=true: each buffer is secure, without it none" timeout "$LIMIT" "$T" --secure
stop_smafd
# Out of buffers: smafd lets this user own 3; a queue holds more than that.
start_smafd "$WORK/limited.log" --max-buffers-per-user 3
pipeline outofbuffers videotestsrc num-buffers=60 ! "$CAPS" ! smafpool devices="$cam0" min-buffers=1 ! \
	queue max-size-buffers=30 max-size-bytes=0 max-size-time=0 ! fakesink sync=true
rc=$?
expect "out of buffers: the pipeline stops with an error, no crash, no hang (rc=$rc)" test "$rc" = 1
expect "  ... smafpool says smafd refused a buffer (EMFILE)" grep -q "smafpool.*smafd refused a .*-byte buffer for $cam0: Too many open files" "$WORK/outofbuffers.out"
expect "  ... and the source stopped with a flow error" grep -q "streaming stopped, reason error" "$WORK/outofbuffers.out"
expect "smafd is still running" kill -0 "$PID"
stop_smafd
pipeline nosmafd videotestsrc num-buffers=3 ! smafpool devices="$cam0" ! fakesink
expect_state_failure "smafd not running" nosmafd "cannot open /dev/smaf: No such file or directory (is smafd running?)" $?
finish
