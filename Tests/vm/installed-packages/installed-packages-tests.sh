#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM tier: the installed Debian packages against a real kernel, with the
# Swift toolchain hidden. Runs inside the test VM (root, /dev/cuse), after
# Tests/host/package-tests.sh install has installed smafd, libsmaf0 and
# libsmaf-dev on the host, enabled the unit and added a test user to group
# smaf (the README's steps); the VM shares the host's root read-only.
#   1. an empty tmpfs is mounted over the toolchain directory (/opt/swift):
#      nothing of Swift is reachable any more;
#   2. Debian's systemd-udevd runs with the installed rule; smafd is started
#      as the installed unit starts it (its ExecStartPre, RuntimeDirectory and
#      ExecStart lines; the VM has no systemd to do it) and serves /dev/smaf
#      as root:smaf 0660;
#   3. as the test user (its groups from /etc/group, as at login): the
#      installed smafctl check passes; the README's C example and libsmaf(3)'s
#      example, built with only `pkg-config --cflags --libs libsmaf`, create
#      and map a buffer; a raw-ioctl program gets its fd through the
#      installed preload shim; gst-inspect-1.0 smafpool finds the installed
#      plugin (gstreamer1.0-smaf), a pipeline through smafpool runs, and
#      docs/gstreamer.md's C example, built with only
#      `pkg-config --cflags --libs gstreamer-smaf-1.0`, gets a dma-buf;
#   4. SIGHUP stops smafd with status 0 and removes the node.
#
#   Tests/vm/installed-packages/installed-packages-tests.sh BUILD_DIR TEST_USER
#     BUILD_DIR: .build/c (for buffer-raw-create); TEST_USER: the user in group smaf
. "$(dirname "$0")/../testlib.sh"
BUILD=$(realpath "$1")
TEST_USER=$2
ROOT=$(cd "$(dirname "$0")/../../.." && pwd -P)
WORK=$(mktemp -d /tmp/smaf-installed-packages-tests.XXXXXX)
chmod 0755 "$WORK"
UDEVD_PID=
HIDDEN=

cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
	if [ -n "$UDEVD_PID" ]; then
		udevadm control --exit 2>/dev/null || kill -TERM "$UDEVD_PID" 2>/dev/null
	fi
	[ -n "$HIDDEN" ] && umount "$HIDDEN"
	rm -rf "$WORK"
}
trap cleanup EXIT
# as_user COMMAND...: as TEST_USER with the groups /etc/group gives it.
as_user() { setpriv --reuid="$TEST_USER" --regid="$(id -g "$TEST_USER")" --init-groups "$@"; }

echo "# kernel $(uname -r)"
for p in smafd libsmaf0 libsmaf-dev gstreamer1.0-smaf; do
	expect "$p is installed (on the host, before the VM booted)" \
		bash -c "dpkg-query -W -f='\${Status}' $p 2>/dev/null | grep -q 'install ok installed'"
done
expect "$TEST_USER is in group smaf (usermod -aG smaf on the host)" \
	bash -c "id -nG '$TEST_USER' 2>/dev/null | tr ' ' '\n' | grep -qx smaf"

# ---- 1. hide the toolchain -------------------------------------------------------
echo "# --- 1. the toolchain hidden"
swift_path=$(command -v swift)
if [ -n "$swift_path" ]; then
	tc=$(readlink -f "$swift_path")
	tc=${tc%/bin/*}
	tc=${tc%/usr}
	mount -t tmpfs -o ro,size=4k,mode=0755 tmpfs "$tc" && HIDDEN=$tc
	expect "an empty tmpfs hides the toolchain $tc" test -n "$HIDDEN"
	expect "  ... swift no longer runs, and no Swift runtime library is left there" \
		bash -c "! swift --version >/dev/null 2>&1 && [ -z \"\$(ls -A '$tc')\" ]"
else
	bad "no swift on PATH: which toolchain should be hidden?"
fi
for b in /usr/sbin/smafd /usr/bin/smafctl; do
	ldd "$b" >"$WORK/ldd" 2>&1
	expect "ldd $b: every library found without the toolchain" bash -c "! grep -q 'not found' '$WORK/ldd'"
	expect "$b --help runs" bash -c "'$b' --help >/dev/null"
done

# ---- 2. udev, and smafd started as the unit says -----------------------------------
echo "# --- 2. smafd started as the installed unit starts it"
unit=/lib/systemd/system/smafd.service
UDEVD=
for c in /lib/systemd/systemd-udevd /usr/lib/systemd/systemd-udevd; do
	[ -x "$c" ] && { UDEVD=$c; break; }
done
export SYSTEMD_IGNORE_CHROOT=1
if [ -n "$UDEVD" ]; then
	"$UDEVD" >"$WORK/udevd.log" 2>&1 &
	UDEVD_PID=$!
	up=0
	for _ in $(seq 1 100); do
		udevadm control --ping --timeout=1 2>/dev/null && { up=1; break; }
		sleep 0.1
	done
	expect "systemd-udevd is up (it reads the installed /lib/udev/rules.d/70-smaf.rules)" test "$up" = 1
else
	bad "systemd-udevd is not installed (Debian package udev)"
fi
# ExecStartPre=+-/sbin/modprobe cuse: "+" full privileges, "-" failure ignored.
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
${pre#+-} >/dev/null 2>&1
expect "ExecStartPre (${pre#+-}): /dev/cuse is there" test -c /dev/cuse
# RuntimeDirectory=smaf with RuntimeDirectoryMode=0755.
mkdir -p -m "$(sed -n 's/^RuntimeDirectoryMode=//p' "$unit")" "/run/$(sed -n 's/^RuntimeDirectory=//p' "$unit")"
read -r -a START <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
expect_eq "the unit starts /usr/sbin/smafd" /usr/sbin/smafd "${START[0]}"
env --default-signal=INT,TERM,HUP "${START[@]}" >"$WORK/smafd.log" 2>&1 &
PID=$!
if ms=$(wait_node smaf); then
	ok "the installed smafd (${START[*]}) serves /dev/smaf (${ms} ms)"
else
	bad "no /dev/smaf from the installed smafd"
	show "$WORK/smafd.log"
fi
udevadm settle --timeout=15
expect_eq "the installed udev rule makes /dev/smaf root:smaf 0660" "root smaf 660" "$(stat -c '%U %G %a' /dev/smaf 2>&1)"

# ---- 3. the test user ---------------------------------------------------------------
echo "# --- 3. as $TEST_USER (member of smaf)"
as_user /usr/bin/smafctl check >"$WORK/check.log" 2>&1
rc=$?
tail -n 1 "$WORK/check.log" | show
expect "the installed smafctl check passes (rc=$rc)" \
	bash -c "[ $rc = 0 ] && grep -Eq '^smafctl check: [0-9]+ passed, 0 failed' '$WORK/check.log'"
[ "$rc" = 0 ] || show "$WORK/check.log"
setpriv --reuid="$TEST_USER" --regid="$(id -g "$TEST_USER")" --clear-groups /usr/bin/smafctl check >"$WORK/nogroup.log" 2>&1
rc=$?
expect "control: the same user without group smaf cannot use the device (rc=$rc)" \
	bash -c "[ $rc = 1 ] && grep -q 'usermod -aG smaf' '$WORK/nogroup.log'"
[ "$rc" = 1 ] || show "$WORK/nogroup.log"
as_user /usr/bin/smafctl info >"$WORK/info.log" 2>&1
expect "smafctl info reports smafd $(cat "$ROOT/VERSION") (the packaged version)" \
	grep -q "^smafd $(cat "$ROOT/VERSION") serving /dev/smaf" "$WORK/info.log"

# The README's example and libsmaf(3)'s, from the installed libsmaf-dev only.
awk '/^```c$/ { on = 1; next } /^```$/ { if (on) exit } on' "$ROOT/README.md" >"$WORK/readme.c"
awk '/^\.SH EXAMPLES/ { s = 1; next } /^\.SH / { s = 0 } s && /^\.EX/ { on = 1; next } s && /^\.EE/ { exit } on' \
	"$ROOT/man/libsmaf.3" | sed 's/\\e/\\/g' >"$WORK/man3.c"
flags=$(env -u PKG_CONFIG_PATH -u PKG_CONFIG_LIBDIR pkg-config --cflags --libs libsmaf)
for ex in readme man3; do
	# shellcheck disable=SC2086 # the flags are words
	cc -o "$WORK/$ex" "$WORK/$ex.c" $flags >"$WORK/$ex.cc" 2>&1
	rc=$?
	expect "the $ex example builds with cc \$(pkg-config --cflags --libs libsmaf) = '$flags' (rc=$rc)" test "$rc" = 0
	show "$WORK/$ex.cc"
	as_user "$WORK/$ex" >"$WORK/$ex.out" 2>&1
	rc=$?
	show "$WORK/$ex.out"
	case $ex in
	readme) expect "  ... and as $TEST_USER creates and maps a buffer (rc=$rc)" \
		bash -c "[ $rc = 0 ] && grep -q '^mapped a SMAF buffer at 0x' '$WORK/$ex.out'" ;;
	man3) expect "  ... and as $TEST_USER creates, maps and reads the secure flag (rc=$rc)" \
		bash -c "[ $rc = 0 ] && grep -qx 'secure: 0' '$WORK/$ex.out'" ;;
	esac
done
install -m 0755 "$BUILD/buffer-raw-create" "$WORK/buffer-raw-create"
shim=$(dpkg -L libsmaf0 | grep '/libsmaf-preload.so$')
as_user env LD_PRELOAD="$shim" "$WORK/buffer-raw-create" expect-fd >"$WORK/raw.log" 2>&1
rc=$?
tail -n 1 "$WORK/raw.log" | show
expect "a raw SMAF_IOC_CREATE gets a real fd through the installed shim $shim (rc=$rc)" test "$rc" = 0
[ "$rc" = 0 ] || show "$WORK/raw.log"

# The GStreamer plugin from its package. A registry scan takes minutes under
# the VM's emulated CPU: Tests/host/package-tests.sh install made one of the
# installed plugins (no build tree in it) before the boot.
registry=$ROOT/.build/package-tests/gst-registry.bin
expect "the host's install phase left a registry of the installed plugins ($registry)" test -r "$registry"
# (copied where the test user can read it: the checkout may be private)
install -m 0644 "$registry" "$WORK/gst-registry.bin"
export GST_REGISTRY=$WORK/gst-registry.bin GST_REGISTRY_UPDATE=no
unset GST_PLUGIN_PATH
as_user gst-inspect-1.0 smafpool >"$WORK/inspect.log" 2>&1
rc=$?
expect "as $TEST_USER, gst-inspect-1.0 smafpool finds the installed plugin (rc=$rc)" \
	bash -c "[ $rc = 0 ] && grep -Eq 'Filename +(/usr)?/lib/x86_64-linux-gnu/gstreamer-1.0/libgstsmaf.so\$' '$WORK/inspect.log'"
[ "$rc" = 0 ] || show "$WORK/inspect.log"
as_user timeout 120 gst-launch-1.0 videotestsrc num-buffers=10 ! smafpool ! fakesink >"$WORK/launch.log" 2>&1
rc=$?
expect "  ... and videotestsrc ! smafpool ! fakesink runs on the installed smafd (rc=$rc)" test "$rc" = 0
[ "$rc" = 0 ] || show "$WORK/launch.log"
awk '/^```c$/ { on = 1; next } /^```$/ { if (on) exit } on' "$ROOT/docs/gstreamer.md" >"$WORK/gst.c"
flags=$(env -u PKG_CONFIG_PATH -u PKG_CONFIG_LIBDIR pkg-config --cflags --libs gstreamer-smaf-1.0)
# shellcheck disable=SC2086 # the flags are words
cc -o "$WORK/gst" "$WORK/gst.c" $flags >"$WORK/gst.cc" 2>&1
rc=$?
expect "docs/gstreamer.md's example builds with \$(pkg-config --cflags --libs gstreamer-smaf-1.0) (rc=$rc)" test "$rc" = 0
show "$WORK/gst.cc"
as_user "$WORK/gst" >"$WORK/gst.out" 2>&1
rc=$?
show "$WORK/gst.out"
expect "  ... and as $TEST_USER gets a dma-buf from GstSmafAllocator (rc=$rc)" \
	bash -c "[ $rc = 0 ] && grep -Eq '^dma-buf fd [0-9]+$' '$WORK/gst.out'"

# ---- 4. stop ---------------------------------------------------------------------------
echo "# --- 4. SIGHUP (smafd(8): like SIGTERM and SIGINT, which abi-tests.sh checks)"
stop_smafd HUP smaf
if [ "$fail" != 0 ]; then
	echo "# smafd's log:"
	tail -n 20 "$WORK/smafd.log" | show
fi
echo "installed-packages-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
