#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier 1 (no VM, no CUSE): "make install" and "make uninstall" into scratch
# DESTDIRs, and the installed files: the file list and modes, libsmaf's soname
# and links, libsmaf.pc, a C program built with nothing but
# `pkg-config --cflags --libs libsmaf`, the udev rule, and the systemd unit
# (systemd-analyze verify and its sandboxing). Prints "ok"/"FAIL" lines and
# "make-install-tests: N passed, M failed"; exits 1 on any failure.
#
#   Tests/host/make-install-tests.sh          run from anywhere; uses the checkout's Makefile
# Environment: SMAFD_BIN, SMAFCTL_BIN (default .build/debug/smafd and
# .build/debug/smafctl: the binaries to install, so no release build is needed).
set -u
. "$(dirname "$0")/hostlib.sh"
cd "$(dirname "$0")/../.."
ROOT=$(pwd -P)
SMAFD_BIN=${SMAFD_BIN:-.build/debug/smafd}
SMAFCTL_BIN=${SMAFCTL_BIN:-.build/debug/smafctl}
VERSION=$(cat VERSION)
host_work make-install-tests

# Every file and link below $1, as "TYPE MODE PATH" (symlinks: "l -> TARGET").
listing() {
	(cd "$1" && { find . ! -type d ! -type l -printf '%y %m %p\n'; find . -type l -printf '%y %m %p -> %l\n'; } | sort)
}

for b in "$SMAFD_BIN" "$SMAFCTL_BIN"; do
	if [ ! -x "$b" ]; then
		bad "$b is missing (swift build, or set SMAFD_BIN/SMAFCTL_BIN)"
		echo "make-install-tests: $pass passed, $fail failed"
		exit 1
	fi
done
echo "# installing $SMAFD_BIN and $SMAFCTL_BIN"

# ---- 1. default layout (PREFIX=/usr/local) into a scratch DESTDIR ---------
D=$WORK/dest
make -s install DESTDIR="$D" SMAFD_BIN="$SMAFD_BIN" SMAFCTL_BIN="$SMAFCTL_BIN" >"$WORK/install.log" 2>&1
rc=$?
expect "make install DESTDIR=... succeeds (rc=$rc)" test "$rc" = 0
[ "$rc" = 0 ] || show "$WORK/install.log"

cat >"$WORK/expected" <<EOF
f 644 ./etc/systemd/system/smafd.service
f 644 ./etc/udev/rules.d/70-smaf.rules
f 644 ./etc/udev/rules.d/75-smaf-constraints.rules
f 644 ./usr/local/include/gstreamer-1.0/gst/smaf/gstsmafallocator.h
f 644 ./usr/local/include/libsmaf.h
f 644 ./usr/local/include/smaf.h
f 644 ./usr/local/include/smaf_ext.h
f 644 ./usr/local/lib/libsmaf-preload.so
f 644 ./usr/local/lib/libsmaf.so.$VERSION
f 644 ./usr/local/lib/gstreamer-1.0/libgstsmaf.so
f 644 ./usr/local/lib/pkgconfig/gstreamer-smaf-1.0.pc
f 644 ./usr/local/lib/pkgconfig/libsmaf.pc
f 644 ./usr/local/share/bash-completion/completions/smafctl
f 644 ./usr/local/share/bash-completion/completions/smafd
f 644 ./usr/local/share/fish/vendor_completions.d/smafctl.fish
f 644 ./usr/local/share/fish/vendor_completions.d/smafd.fish
f 644 ./usr/local/share/man/man1/smafctl.1
f 644 ./usr/local/share/man/man3/libsmaf.3
f 644 ./usr/local/share/man/man4/smaf.4
f 644 ./usr/local/share/man/man8/smafd.8
f 644 ./usr/local/share/zsh/site-functions/_smafctl
f 644 ./usr/local/share/zsh/site-functions/_smafd
f 755 ./usr/local/bin/smafctl
f 755 ./usr/local/bin/smafd
l 777 ./usr/local/lib/libsmaf.so -> libsmaf.so.0
l 777 ./usr/local/lib/libsmaf.so.0 -> libsmaf.so.$VERSION
EOF
sort -o "$WORK/expected" "$WORK/expected"
listing "$D" >"$WORK/actual"
if cmp -s "$WORK/expected" "$WORK/actual"; then
	ok "installed files, modes and links are exactly the expected $(wc -l <"$WORK/expected")"
else
	bad "installed file list differs (- expected, + installed):"
	diff -u "$WORK/expected" "$WORK/actual" | tail -n +3 | show
fi
expect "no directory but the expected ones is created" \
	test "$(cd "$D" && find . -type d | sort | tr '\n' ' ')" = ". ./etc ./etc/systemd ./etc/systemd/system ./etc/udev ./etc/udev/rules.d ./usr ./usr/local ./usr/local/bin ./usr/local/include ./usr/local/include/gstreamer-1.0 ./usr/local/include/gstreamer-1.0/gst ./usr/local/include/gstreamer-1.0/gst/smaf ./usr/local/lib ./usr/local/lib/gstreamer-1.0 ./usr/local/lib/pkgconfig ./usr/local/share ./usr/local/share/bash-completion ./usr/local/share/bash-completion/completions ./usr/local/share/fish ./usr/local/share/fish/vendor_completions.d ./usr/local/share/man ./usr/local/share/man/man1 ./usr/local/share/man/man3 ./usr/local/share/man/man4 ./usr/local/share/man/man8 ./usr/local/share/zsh ./usr/local/share/zsh/site-functions "

L=$D/usr/local/lib
soname() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
expect_eq "libsmaf.so.$VERSION has soname libsmaf.so.0" libsmaf.so.0 "$(soname "$L/libsmaf.so.$VERSION")"
expect_eq "libsmaf-preload.so has soname libsmaf-preload.so" libsmaf-preload.so "$(soname "$L/libsmaf-preload.so")"
expect_eq "libsmaf.so (the link-time name) resolves to libsmaf.so.$VERSION" \
	"$L/libsmaf.so.$VERSION" "$(readlink -f "$L/libsmaf.so")"
expect "the installed libraries are the ones built in .build/c" \
	cmp -s "$L/libsmaf.so.$VERSION" .build/c/libsmaf.so.$VERSION
expect "  ... and smafd is the given binary" cmp -s "$D/usr/local/bin/smafd" "$SMAFD_BIN"
for h in lib/libsmaf.h Sources/CSmafABI/include/smaf.h Sources/CSmafABI/include/smaf_ext.h; do
	expect "header $(basename "$h") is installed as in the tree" cmp -s "$h" "$D/usr/local/include/$(basename "$h")"
done
expect "the udev rules are installed unchanged" bash -c "cmp -s udev/70-smaf.rules '$D/etc/udev/rules.d/70-smaf.rules' &&
	cmp -s udev/75-smaf-constraints.rules '$D/etc/udev/rules.d/75-smaf-constraints.rules'"
for m in man/*.[0-9]; do
	expect "man page $(basename "$m") is installed as in the tree" \
		cmp -s "$m" "$D/usr/local/share/man/man${m##*.}/$(basename "$m")"
done
expect_eq "the bash completion is the one smafd generates, without its #! line" \
	"$("$SMAFD_BIN" --generate-completion-script bash | sed '1{/^#!/d}' | md5sum)" \
	"$(md5sum <"$D/usr/local/share/bash-completion/completions/smafd")"
expect_eq "the zsh completion is the one smafctl generates" "$("$SMAFCTL_BIN" --generate-completion-script zsh | md5sum)" \
	"$(md5sum <"$D/usr/local/share/zsh/site-functions/_smafctl")"

# ---- 2. libsmaf.pc ----------------------------------------------------------
pc=$D/usr/local/lib/pkgconfig/libsmaf.pc
echo "# $pc:"
show "$pc"
expect "libsmaf.pc has no @VARIABLE@ left" bash -c "! grep -q '@[A-Z]*@' '$pc'"
# Only the installed .pc (PKG_CONFIG_LIBDIR replaces the default search path).
pcq() { PKG_CONFIG_LIBDIR=$D/usr/local/lib/pkgconfig PKG_CONFIG_PATH= pkg-config "$@"; }
expect_eq "Name: libsmaf" libsmaf "$(sed -n 's/^Name: *//p' "$pc")"
expect_eq "pkg-config --modversion libsmaf is VERSION ($VERSION)" "$VERSION" "$(pcq --modversion libsmaf)"
expect_eq "pkg-config --variable=libdir libsmaf is /usr/local/lib" /usr/local/lib "$(pcq --variable=libdir libsmaf)"
expect_eq "pkg-config --variable=includedir libsmaf is /usr/local/include" /usr/local/include "$(pcq --variable=includedir libsmaf)"
expect_eq "pkg-config --cflags --libs libsmaf (no sysroot)" \
	"-I/usr/local/include -L/usr/local/lib -lsmaf" "$(pcq --cflags --libs libsmaf | sed 's/ *$//')"
flags=$(PKG_CONFIG_SYSROOT_DIR=$D pcq --cflags --libs libsmaf | sed 's/ *$//')
expect_eq "with PKG_CONFIG_SYSROOT_DIR=DESTDIR the flags point into DESTDIR" \
	"-I$D/usr/local/include -L$D/usr/local/lib -lsmaf" "$flags"

# ---- 3. a C program built with nothing but the pkg-config flags -------------
prog=$WORK/pkgconfig-client
# shellcheck disable=SC2086 # the flags are words
gcc -std=c11 -Wall -Wextra -Werror -o "$prog" Tests/host/pkgconfig_client.c $flags >"$WORK/cc.log" 2>&1
rc=$?
expect "a C program including <libsmaf.h>, <smaf.h>, <smaf_ext.h> builds and links with only pkg-config's flags (rc=$rc)" test "$rc" = 0
[ "$rc" = 0 ] || show "$WORK/cc.log"
expect "  ... it needs libsmaf.so.0 (the soname, not the file name)" \
	bash -c "readelf -d '$prog' | grep -q 'NEEDED.*\[libsmaf.so.0\]'"
LD_LIBRARY_PATH=$L SMAF_DEVICE=/nonexistent/smaf "$prog" --expect-no-device >"$WORK/run.log" 2>&1
rc=$?
show "$WORK/run.log"
expect "  ... it runs against the installed libsmaf.so.0 (rc=$rc)" \
	bash -c "[ $rc = 0 ] && grep -qx 'libsmaf: $L/libsmaf.so.0' '$WORK/run.log'"

# ---- 4. the systemd unit ----------------------------------------------------
unit=$D/etc/systemd/system/smafd.service
key() { sed -n "s/^$1=//p" "$unit"; }
expect "smafd.service has no @VARIABLE@ left" bash -c "! grep -q '@[A-Z]*@' '$unit'"
expect_eq "ExecStart runs the installed smafd in the foreground" "/usr/local/bin/smafd --foreground" "$(key ExecStart)"
expect_eq "Type=notify" notify "$(key Type)"
expect_eq "Restart=on-failure" on-failure "$(key Restart)"
expect_eq "RuntimeDirectory=smaf (smafd's /run/smaf)" smaf "$(key RuntimeDirectory)"
expect_eq "RuntimeDirectoryMode=0755 (smafd refuses a group/other-writable socket directory)" 0755 "$(key RuntimeDirectoryMode)"
expect_eq "the cuse module is loaded with full privileges, failure ignored" "+-/sbin/modprobe cuse" "$(key ExecStartPre)"
# What smafd needs must not be sandboxed away (see the unit's comments).
caps=" $(key CapabilityBoundingSet) "
for c in CAP_SYS_PTRACE CAP_DAC_READ_SEARCH CAP_DAC_OVERRIDE; do
	expect "CapabilityBoundingSet keeps $c (/proc/<tid>/fd of other users' processes)" \
		bash -c "[[ '$caps' == *' $c '* ]]"
done
for o in 'ProtectProc=invisible' 'ProtectProc=noaccess' 'PrivateUsers=yes' 'PrivatePIDs=yes' 'PrivateDevices=yes' \
	'ProcSubset=pid' 'User=' 'DynamicUser=yes'; do
	expect "the unit does not set $o (smafd needs it otherwise)" bash -c "! grep -qx '$o.*' '$unit'"
done
expect "DeviceAllow= lets smafd open /dev/cuse read-write" grep -qx 'DeviceAllow=/dev/cuse rw' "$unit"
expect "  ... and the dma-buf exporters (heaps, udmabuf, DRM nodes)" bash -c "grep -qx 'DeviceAllow=char-dma_heap r' '$unit' &&
	grep -qx 'DeviceAllow=/dev/udmabuf rw' '$unit' && grep -qx 'DeviceAllow=char-drm rw' '$unit'"
expect "SystemCallFilter= lets smafd call memfd_secret (smaf-secretmem) and pidfd_getfd (SMAF_IOC_EXT_CONNECT)" \
	grep -qx 'SystemCallFilter=memfd_secret pidfd_getfd' "$unit"
# The filter the unit ends up with must allow them (pidfd_getfd is only in
# @debug): every call its allow lines name, groups expanded, minus its deny lines.
if command -v systemd-analyze >/dev/null; then
	expand_filter() { # expand_filter NAME...: system calls, nested groups resolved
		local x
		for x in "$@"; do
			case $x in
			@*) expand_filter $(systemd-analyze syscall-filter "$x" 2>/dev/null | sed 1d | grep -v '^ *#' | awk 'NF { print $1 }') ;;
			*) echo "$x" ;;
			esac
		done
	}
	allowed=$(expand_filter $(sed -n 's/^SystemCallFilter=\([^~].*\)/\1/p' "$unit") | sort -u)
	denied=$(expand_filter $(sed -n 's/^SystemCallFilter=~//p' "$unit") | sort -u)
	for sc in pidfd_getfd pidfd_open memfd_secret memfd_create sendmsg; do
		expect "  ... the unit's system call filter allows $sc" \
			bash -c "grep -qx '$sc' <<<\"\$1\" && ! grep -qx '$sc' <<<\"\$2\"" _ "$allowed" "$denied"
	done
	expect "  ... and denies mount (a check that the filter is read at all)" \
		bash -c "! grep -qx mount <<<\"\$1\" || grep -qx mount <<<\"\$2\"" _ "$allowed" "$denied"
fi

# systemd-analyze checks that ExecStart= exists, and the installed path is
# /usr/local/bin/smafd on the real system: verify a copy whose ExecStart
# points at the same binary inside DESTDIR.
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$WORK/verify"
	sed "s|^ExecStart=/|ExecStart=$D/|" "$unit" >"$WORK/verify/smafd.service"
	systemd-analyze verify --man=no "$WORK/verify/smafd.service" >"$WORK/verify.log" 2>&1
	rc=$?
	show "$WORK/verify.log"
	expect "systemd-analyze verify passes with no message (rc=$rc)" \
		bash -c "[ $rc = 0 ] && [ ! -s '$WORK/verify.log' ]"
	systemd-analyze security --offline=true --threshold=30 "$WORK/verify/smafd.service" >"$WORK/security.log" 2>&1
	rc=$?
	score=$(sed -n 's/.*Overall exposure level for smafd.service: \([0-9.]*\).*/\1/p' "$WORK/security.log")
	echo "# systemd-analyze security: exposure $score (0 = fully sandboxed, 10 = none)"
	expect "systemd-analyze security rates the sandbox 3.0 or better (got ${score:-nothing})" \
		bash -c "[ $rc = 0 ] && [ -n '$score' ] && awk 'BEGIN { exit !($score <= 3.0) }'"
	[ -n "$score" ] || show "$WORK/security.log"
else
	bad "systemd-analyze is not installed (apt-get install systemd)"
fi

# ---- 5. reinstall, then uninstall --------------------------------------------
make -s install DESTDIR="$D" SMAFD_BIN="$SMAFD_BIN" SMAFCTL_BIN="$SMAFCTL_BIN" >"$WORK/install2.log" 2>&1
rc=$?
expect "installing again over the same DESTDIR works (rc=$rc)" \
	bash -c "[ $rc = 0 ] && [ \"\$(readlink '$L/libsmaf.so.0')\" = libsmaf.so.$VERSION ]"
make -s uninstall DESTDIR="$D" >"$WORK/uninstall.log" 2>&1
rc=$?
left=$(cd "$D" && find . ! -type d | sort | tr '\n' ' ')
expect "make uninstall DESTDIR=... leaves no file or link behind (rc=$rc${left:+; left: $left})" \
	bash -c "[ $rc = 0 ] && [ -z '$left' ]"

# ---- 6. other directories ------------------------------------------------------
D2=$WORK/dest2
vars=(PREFIX=/usr LIBDIR=/usr/lib/x86_64-linux-gnu BINDIR=/usr/sbin INCLUDEDIR=/usr/include/smaf
	UDEVRULESDIR=/usr/lib/udev/rules.d SYSTEMDUNITDIR=/usr/lib/systemd/system)
make -s install DESTDIR="$D2" "${vars[@]}" SMAFD_BIN="$SMAFD_BIN" SMAFCTL_BIN="$SMAFCTL_BIN" >"$WORK/install3.log" 2>&1
rc=$?
expect "make install with PREFIX/LIBDIR/BINDIR/INCLUDEDIR/UDEVRULESDIR/SYSTEMDUNITDIR given (rc=$rc)" test "$rc" = 0
for f in usr/sbin/smafd usr/sbin/smafctl usr/lib/x86_64-linux-gnu/libsmaf.so.$VERSION usr/lib/x86_64-linux-gnu/pkgconfig/libsmaf.pc \
	usr/include/smaf/libsmaf.h usr/lib/udev/rules.d/70-smaf.rules usr/lib/systemd/system/smafd.service; do
	expect "  ... $f is there" test -f "$D2/$f"
done
# (pkg-config drops -I/-L of system directories unless told not to.)
pc2q() {
	PKG_CONFIG_LIBDIR=$D2/usr/lib/x86_64-linux-gnu/pkgconfig PKG_CONFIG_PATH= \
		PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1 pkg-config "$@"
}
expect_eq "  ... libsmaf.pc names those directories" \
	"-I/usr/include/smaf -L/usr/lib/x86_64-linux-gnu -lsmaf" "$(pc2q --cflags --libs libsmaf | sed 's/ *$//')"
expect_eq "  ... and the unit runs /usr/sbin/smafd" "/usr/sbin/smafd --foreground" \
	"$(sed -n 's/^ExecStart=//p' "$D2/usr/lib/systemd/system/smafd.service")"
make -s uninstall DESTDIR="$D2" "${vars[@]}" >/dev/null 2>&1
left=$(cd "$D2" && find . ! -type d | sort | tr '\n' ' ')
expect "  ... and uninstall with the same variables removes it all${left:+ (left: $left)}" test -z "$left"

# ---- 6b. the 32-bit libsmaf and shim into the i386 multiarch directory -------
D3=$(mktemp -d)
make -s install M32=1 DESTDIR="$D3" >"$D3.log" 2>&1 || sed 's/^/    /' "$D3.log"
expect_eq "make install M32=1 installs only the i386 libsmaf, its links, the shim and libsmaf.pc, into lib/i386-linux-gnu" \
	"./usr/local/lib/i386-linux-gnu/libsmaf-preload.so ./usr/local/lib/i386-linux-gnu/libsmaf.so ./usr/local/lib/i386-linux-gnu/libsmaf.so.0 ./usr/local/lib/i386-linux-gnu/libsmaf.so.$(cat VERSION) ./usr/local/lib/i386-linux-gnu/pkgconfig/libsmaf.pc " \
	"$(cd "$D3" && find . ! -type d | sort | tr '\n' ' ')"
expect "  ... and both libraries are ELF 32-bit i386" \
	bash -c "for f in '$D3'/usr/local/lib/i386-linux-gnu/libsmaf.so.$(cat VERSION) '$D3'/usr/local/lib/i386-linux-gnu/libsmaf-preload.so; do readelf -h \"\$f\" | grep -q 'Class:.*ELF32' && readelf -h \"\$f\" | grep -q 'Machine:.*80386' || exit 1; done"
make -s uninstall M32=1 DESTDIR="$D3" >/dev/null 2>&1
left=$(cd "$D3" && find . ! -type d | sort | tr '\n' ' ')
expect "  ... and make uninstall M32=1 removes them all${left:+ (left: $left)}" test -z "$left"
rm -rf "$D3" "$D3.log"

# ---- 7. what install would do, without doing it (make -n) -------------------
dry() { env -u SMAFD_BIN -u SMAFCTL_BIN make -n "$@" 2>/dev/null; }
expect "with DESTDIR, install runs no groupadd, ldconfig or udevadm" \
	bash -c "! make -n install DESTDIR=/x SMAFD_BIN='$SMAFD_BIN' SMAFCTL_BIN='$SMAFCTL_BIN' 2>/dev/null | grep -Eq 'groupadd|ldconfig|udevadm'"
out=$(dry install SMAFD_BIN="$SMAFD_BIN" SMAFCTL_BIN="$SMAFCTL_BIN")
expect "without DESTDIR, install creates group smaf if missing, runs ldconfig and udevadm control --reload" \
	bash -c "grep -q 'groupadd --system smaf' <<<\"\$1\" && grep -q 'ldconfig' <<<\"\$1\" && grep -q 'udevadm control --reload' <<<\"\$1\"" _ "$out"
out=$(dry uninstall)
expect "without DESTDIR, uninstall runs ldconfig and udevadm control --reload but never touches the group" \
	bash -c "grep -q 'ldconfig' <<<\"\$1\" && grep -q 'udevadm control --reload' <<<\"\$1\" && ! grep -q 'groupadd\|groupdel' <<<\"\$1\"" _ "$out"
out=$(dry install DESTDIR=/x)
expect "make install builds the Swift release products, self-contained, into .build-release when no binary is given" \
	bash -c "grep -q 'swift build -c release --scratch-path .build-release --static-swift-stdlib --disable-local-rpath .* --product smafd' <<<\"\$1\" && grep -q 'swift build -c release --scratch-path .build-release --static-swift-stdlib --disable-local-rpath .* --product smafctl' <<<\"\$1\"" _ "$out"
out=$(dry install DESTDIR=/x SMAFD_BIN="$SMAFD_BIN" SMAFCTL_BIN="$SMAFCTL_BIN")
expect "  ... and builds nothing with Swift when both are given" bash -c "! grep -q 'swift build' <<<\"\$1\"" _ "$out"

echo "make-install-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
