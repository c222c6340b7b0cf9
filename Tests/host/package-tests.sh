#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier 1 (host, root): the Debian packages, from build to purge, in phases
# that scripts/test runs around the VM tier (the VM sees the host's root as
# it was when it booted, so the packages must be installed before it starts):
#
#   build    scripts/package builds smafd, libsmaf0, libsmaf-dev and
#            gstreamer1.0-smaf; lintian
#            reports no error, and exactly the warnings docs/packaging.md
#            lists; the version in VERSION, debian/changelog and the Swift
#            source agree; every man page passes mandoc -T lint, groff -ww and
#            man -l without a warning.
#   install  records the host's files and groups, installs the packages with
#            dpkg -i and follows the README's install steps on the host
#            ("systemctl enable smafd", "usermod -aG smaf" of a test user);
#            checks the installed binaries (no RUNPATH, no Swift library, no
#            path into the toolchain), the group, the unit (installed
#            disabled), man pages and completions where man, bash-completion
#            and zsh find them, smafd --help against smafd(8) and smafctl's
#            commands and options against smafctl(1), pkg-config, the
#            README's C example built against the installed libsmaf-dev, and
#            the GStreamer plugin: where GStreamer looks, depending on
#            libsmaf0, found by gst-inspect-1.0 smafpool (whose registry is
#            kept for Tests/vm/installed-packages/installed-packages-tests.sh), docs/gstreamer.md's example
#            built with pkg-config.
#   purge    dpkg --purge: no file under /usr, /etc or /var and no group or
#            user is left that was not there before "install".
#
#   Tests/host/package-tests.sh PHASE...     e.g. build install, later purge
# The tests never remove what they did not install: with any of the packages
# installed before "install", it stops (exit status 3) and "purge" removes
# only what an "install" of the same run (SMAF_PACKAGE_TEST_RUN) installed.
# Prints "ok"/"FAIL" lines and "package-tests: N passed, M failed".
set -u
. "$(dirname "$0")/hostlib.sh"
cd "$(dirname "$0")/../.."
ROOT=$(pwd -P)
STATE=$ROOT/.build/package-tests     # what "install" records for "purge"
PKGDIR=$ROOT/.build/packages
VERSION=$(cat VERSION)
TEST_USER=${PKG_TEST_USER:-smaf-pkgtest}   # the user the README's usermod step adds (scripts/test sets it)
PACKAGES=(gstreamer1.0-smaf libsmaf-dev libsmaf0 smafd)
BUILT=(smafd libsmaf0 libsmaf-dev gstreamer1.0-smaf)
# Which run installed the packages: purge removes only its own install
# (scripts/test sets one id for its install and purge phases).
RUN=${SMAF_PACKAGE_TEST_RUN:-by-hand}
host_work package-tests

# The toolchain's root directory (e.g. /opt/swift for /opt/swift/usr/bin/swift).
toolchain_dir() {
	local s
	s=$(readlink -f "$(command -v swift)") || return 1
	s=${s%/bin/*}
	echo "${s%/usr}"
}

# Every file and directory under /usr, /etc and /var. Left out: logs, the
# caches of apt and man-db (dpkg and man-db's trigger write there), /var/tmp,
# and the VM kernel cache (other test runs may fill it meanwhile).
snapshot() {
	find /usr /etc /var -xdev \( -path /var/log -o -path /var/tmp -o -path /var/cache/man -o -path /var/cache/apt \
		-o -path /var/lib/apt/lists -o -path /var/cache/smaf-cuse \) -prune -o -print 2>/dev/null | sort
}

# Option names (--xxx, and -x) defined in the OPTIONS part of a --help text.
help_options() {
	awk '/^OPTIONS:/ { on = 1; next } /^[A-Z]+:/ { on = 0 } on' |
		grep -oE '^  (-[a-zA-Z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' | sort -u
}
# Option names a man page defines: the lines after .TP in the given sections.
man_options() { # man_options FILE SECTION...
	local f=$1
	shift
	awk -v want="$*" '
		/^\.SH / { sec = $2; for (i = 3; i <= NF; i++) sec = sec " " $i; gsub(/"/, "", sec); on = index(" " want " ", " " sec " ") > 0; next }
		on && prev == ".TP" { print }
		{ prev = $1 }' "$f" | sed 's/\\-/-/g' | grep -oE -- '--[a-z0-9-]+' | sort -u
}

# The README's C example (the first ```c block).
readme_example() { awk '/^```c$/ { on = 1; next } /^```$/ { if (on) exit } on' README.md; }

# ---------------------------------------------------------------------------
phase_build() {
	echo "# --- build: scripts/package"
	scripts/package >"$WORK/package.log" 2>&1
	local rc=$?
	tail -n 5 "$WORK/package.log" | show
	expect "scripts/package builds the packages and lintian reports no error (rc=$rc)" test "$rc" = 0
	[ "$rc" = 0 ] || { tail -n 60 "$WORK/package.log" | show; return; }
	for p in "${BUILT[@]}"; do
		expect "  ... ${p}_${VERSION}_amd64.deb is there" test -f "$PKGDIR/${p}_${VERSION}_amd64.deb"
	done
	expect_eq "  ... and nothing else (.deb files)" "${#BUILT[@]}" "$(find "$PKGDIR" -name '*.deb' | wc -l)"
	local lint=$PKGDIR/lintian.txt
	expect "lintian's report has no E: line" bash -c "! grep -q '^E: ' '$lint'"
	grep '^W: ' "$lint" | sed -E 's/^W: ([^:]+): ([^ ]+).*/\1 \2/' | sort -u >"$WORK/warnings"
	sed -nE 's/^\| `([a-z0-9-]+)` \| `([a-z0-9-]+)` \|.*/\1 \2/p' docs/packaging.md | sort -u >"$WORK/documented"
	if cmp -s "$WORK/warnings" "$WORK/documented"; then
		ok "lintian's warnings are exactly those docs/packaging.md lists ($(wc -l <"$WORK/warnings"))"
	else
		bad "lintian's warnings differ from docs/packaging.md (- documented, + reported):"
		diff -u "$WORK/documented" "$WORK/warnings" | tail -n +3 | show
	fi

	echo "# --- the version comes from VERSION ($VERSION)"
	expect_eq "debian/changelog's version is VERSION" "$VERSION" "$(dpkg-parsechangelog -S Version)"
	expect_eq "SmafVersion.string in the Swift source is VERSION" "$VERSION" \
		"$(sed -n 's/.*public static let string = "\(.*\)".*/\1/p' Sources/SmafABI/Version.swift)"
	for p in "${BUILT[@]}"; do
		expect_eq "package $p has version VERSION" "$VERSION" "$(dpkg-deb -f "$PKGDIR/${p}_${VERSION}_amd64.deb" Version)"
	done

	echo "# --- man pages"
	for m in man/*.[1-8]; do
		mandoc -T lint "$m" >"$WORK/lint" 2>&1
		expect "mandoc -T lint: $m has no message" test ! -s "$WORK/lint"
		show "$WORK/lint"
		LC_ALL=C.UTF-8 groff -ww -z -man -t "$m" >"$WORK/groff" 2>&1
		expect "groff -ww -z -man: $m has no warning" test ! -s "$WORK/groff"
		show "$WORK/groff"
		MANWIDTH=80 man --warnings -l "$m" >"$WORK/page" 2>"$WORK/man.err"
		expect "man -l renders $m ($(wc -l <"$WORK/page") lines) without a warning" \
			bash -c "[ -s '$WORK/page' ] && [ ! -s '$WORK/man.err' ]"
		show "$WORK/man.err"
	done
}

# Those of PACKAGES dpkg has in any state but not-installed (installed,
# half-installed, conffiles left), on one line.
leftover_packages() {
	local p
	for p in "${PACKAGES[@]}"; do
		case $(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null) in
		?n* | "") ;;
		*) printf '%s ' "$p" ;;
		esac
	done
}

# ---------------------------------------------------------------------------
phase_install() {
	echo "# --- install: dpkg -i, then the README's steps"
	# Packages these tests did not install are someone's install (and the
	# smaf group its users are in): never purge them. A run stopped before
	# its purge leaves its packages too; they are not this run's either.
	local leftover
	leftover=$(leftover_packages)
	if [ -n "$leftover" ]; then
		bad "${leftover% } installed before this run: the package tests install and purge these packages, so they stop here rather than remove an install they did not make; purge them yourself (dpkg --purge ${PACKAGES[*]}) or run the tests on a host without them"
		echo "package-tests: stopped: packages installed before this run; $pass passed, $fail failed"
		exit 3
	fi
	mkdir -p "$STATE"
	if getent passwd "$TEST_USER" >/dev/null; then userdel "$TEST_USER"; fi
	snapshot >"$STATE/files.before"
	getent group | cut -d: -f1 | sort >"$STATE/groups.before"
	getent passwd | cut -d: -f1 | sort >"$STATE/users.before"
	local had_group=0
	getent group smaf >/dev/null && had_group=1

	local debs=() p
	for p in "${BUILT[@]}"; do debs+=("$PKGDIR/${p}_${VERSION}_amd64.deb"); done
	# What "apt install ./...deb" would do (it also fetches missing dependencies).
	apt-get install -s "${debs[@]}" >"$WORK/apt.log" 2>&1
	local rc=$?
	expect "apt-get install -s of the ${#BUILT[@]} files resolves (rc=$rc)" \
		bash -c "[ $rc = 0 ] && [ \$(grep -cE '^Inst (smafd|libsmaf0|libsmaf-dev|gstreamer1.0-smaf)[ :]' '$WORK/apt.log') = ${#BUILT[@]} ]"
	[ "$rc" = 0 ] || show "$WORK/apt.log"
	dpkg -i "${debs[@]}" >"$WORK/dpkg.log" 2>&1
	rc=$?
	expect "dpkg -i installs the ${#BUILT[@]} packages (rc=$rc)" test "$rc" = 0
	# From here the packages are this run's: the purge phase may remove them.
	echo "$RUN" >"$STATE/installed-by"
	[ "$rc" = 0 ] || { show "$WORK/dpkg.log"; return; }
	if [ "$had_group" = 0 ]; then
		expect "smafd's postinst created the system group smaf (gid $(getent group smaf | cut -d: -f3))" \
			bash -c "getent group smaf >/dev/null && [ \$(getent group smaf | cut -d: -f3) -lt 1000 ]"
	else
		ok "group smaf existed before; postinst keeps it (and purge will too)"
	fi

	echo "# --- the installed binaries need no toolchain"
	local tc
	tc=$(toolchain_dir)
	echo "# toolchain: ${tc:-none found}"
	for b in /usr/sbin/smafd /usr/bin/smafctl; do
		expect "$b is installed" test -x "$b"
		expect "$b has no RUNPATH or RPATH" bash -c "! readelf -d '$b' | grep -Eq 'RUNPATH|RPATH'"
		ldd "$b" >"$WORK/ldd" 2>&1
		expect "ldd $b: no Swift shared library, nothing missing" \
			bash -c "! grep -Eqi 'swift|Foundation|not found' '$WORK/ldd'"
		show "$WORK/ldd"
		# docs/packaging.md: Debian's libc, libstdc++, libgcc, libfuse3 (smafd)
		# and libudev (device constraints), nothing else.
		readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$WORK/needed"
		expect "$b needs only libc, libm, libstdc++, libgcc_s, libfuse3, libudev and the loader ($(tr '\n' ' ' <"$WORK/needed"))" \
			bash -c "! grep -Ev '^(libc|libm|libstdc\+\+|libgcc_s|libfuse3|libudev)\.so\.[0-9]+$|^ld-linux-x86-64\.so\.2$' '$WORK/needed'"
	done
	expect "the smafd package depends on libudev1 and libfuse3-3 (dpkg-shlibdeps)" \
		bash -c "dpkg-query -W -f='\${Depends}' smafd | grep -q 'libudev1' && dpkg-query -W -f='\${Depends}' smafd | grep -q 'libfuse3-3'"
	if [ -n "$tc" ]; then
		dpkg -L "${PACKAGES[@]}" | while read -r f; do [ -f "$f" ] && [ ! -L "$f" ] && echo "$f"; done >"$WORK/files"
		expect "no installed file ($(wc -l <"$WORK/files") files) contains the toolchain path $tc" \
			bash -c "! xargs -d '\n' grep -lF '$tc/' <'$WORK/files'"
	fi
	expect_eq "smafctl --version is VERSION" "$VERSION" "$(/usr/bin/smafctl --version)"
	expect_eq "pkg-config --modversion libsmaf is VERSION" "$VERSION" "$(pkg-config --modversion libsmaf)"

	echo "# --- the unit and the udev rule"
	local unit=/lib/systemd/system/smafd.service
	expect_eq "the unit runs /usr/sbin/smafd --foreground" "/usr/sbin/smafd --foreground" "$(sed -n 's/^ExecStart=//p' "$unit")"
	expect "the udev rules are installed in /lib/udev/rules.d" bash -c "cmp -s udev/70-smaf.rules /lib/udev/rules.d/70-smaf.rules &&
		cmp -s udev/75-smaf-constraints.rules /lib/udev/rules.d/75-smaf-constraints.rules"
	expect_eq "the package leaves the service disabled (systemctl is-enabled)" disabled "$(systemctl is-enabled smafd 2>&1)"
	systemd-analyze verify --man=no "$unit" >"$WORK/verify" 2>&1
	rc=$?
	expect "systemd-analyze verify $unit: no message (rc=$rc)" bash -c "[ $rc = 0 ] && [ ! -s '$WORK/verify' ]"
	show "$WORK/verify"
	# The README's "systemctl enable --now smafd": enabling works on a host
	# without a running systemd, starting does not (the VM tier starts the
	# unit's command lines instead).
	systemctl enable smafd >"$WORK/enable" 2>&1
	rc=$?
	show "$WORK/enable"
	expect "systemctl enable smafd (rc=$rc) links it into multi-user.target" \
		bash -c "[ $rc = 0 ] && [ \"\$(readlink /etc/systemd/system/multi-user.target.wants/smafd.service)\" = '$unit' ]"
	expect_eq "  ... systemctl is-enabled says enabled" enabled "$(systemctl is-enabled smafd 2>&1)"
	# The README's "usermod -aG smaf alice", for a test user.
	useradd --system --no-create-home --shell /usr/sbin/nologin -g nogroup "$TEST_USER" &&
		usermod -aG smaf "$TEST_USER"
	expect "usermod -aG smaf $TEST_USER: the user is in group smaf ($(id -nG "$TEST_USER" 2>&1))" \
		bash -c "id -nG '$TEST_USER' | tr ' ' '\n' | grep -qx smaf"

	echo "# --- man pages and completions where the tools look"
	for p in smafctl.1 libsmaf.3 smaf.4 smafd.8; do
		local sec=${p##*.} name=${p%.*}
		expect_eq "man -w $sec $name finds the installed page" "/usr/share/man/man$sec/$p.gz" "$(man -w "$sec" "$name" 2>&1)"
		MANWIDTH=80 man --warnings "$sec" "$name" >"$WORK/page" 2>"$WORK/man.err"
		expect "man $sec $name renders without a warning" bash -c "[ -s '$WORK/page' ] && [ ! -s '$WORK/man.err' ]"
		show "$WORK/man.err"
	done
	expect_eq "bash-completion's completionsdir is where the package put them" /usr/share/bash-completion/completions \
		"$(pkg-config --variable=completionsdir bash-completion)"
	for c in smafd smafctl; do
		local out
		out=$(bash -c ". /usr/share/bash-completion/bash_completion; __load_completion $c; complete -p $c" 2>&1)
		expect "bash-completion loads the completion of $c on demand ($out)" \
			bash -c "[[ '$out' == 'complete '*'-F _$c $c' ]]"
		expect_eq "zsh's compinit finds _$c (in $(zsh -fc 'print -l $fpath' | grep -m1 vendor-completions))" "_$c" \
			"$(zsh -fc "autoload -U compinit; compinit -u -d '$WORK/zcompdump'; print \${_comps[$c]}" 2>&1)"
	done
	bash -c "$(/usr/bin/smafctl --generate-completion-script bash); COMP_WORDS=(smafctl c); COMP_CWORD=1; COMP_LINE='smafctl c'; COMP_POINT=9; _smafctl; echo \"\${COMPREPLY[*]}\"" >"$WORK/compl" 2>&1
	expect_eq "  ... and smafctl's offers its commands after 'smafctl '" "buffers check create devices help info status" \
		"$(tr ' ' '\n' <"$WORK/compl" | sort | tr '\n' ' ' | sed 's/ $//')"

	echo "# --- what the man pages say of files and exit status"
	for f in $(awk '/^\.SH FILES/ { on = 1; next } /^\.SH / { on = 0 } on && prev == ".TP" { print $2 } { prev = $1 }' man/smafd.8 |
		sed 's/\\-/-/g' | grep -E '^/(lib|usr)/'); do
		expect "smafd(8) FILES: $f is installed" test -f "$f"
	done
	/usr/sbin/smafd --no-such-option >/dev/null 2>&1
	expect_eq "smafd(8) EXIT STATUS: an invalid option gives 64" 64 "$?"
	/usr/sbin/smafd --max-buffers-per-user 0 >/dev/null 2>&1
	expect_eq "  ... and so does an invalid value" 64 "$?"
	/usr/bin/smafctl no-such-command >/dev/null 2>&1
	expect_eq "smafctl(1) EXIT STATUS: an unknown command gives 64" 64 "$?"
	/usr/bin/smafctl info --device /nonexistent/smaf >"$WORK/nodev" 2>&1
	expect_eq "  ... a device that cannot be used gives 1" 1 "$?"
	SMAF_DEVICE=/nonexistent/from-env /usr/bin/smafctl check >"$WORK/env" 2>&1
	rc=$?
	expect "smafctl(1) ENVIRONMENT: SMAF_DEVICE is the default --device (rc=$rc: $(head -n 1 "$WORK/env"))" \
		bash -c "[ $rc = 1 ] && grep -q /nonexistent/from-env '$WORK/env'"

	echo "# --- smafd --help and smafd(8) list the same options"
	/usr/sbin/smafd --help 2>&1 | help_options >"$WORK/help"
	man_options man/smafd.8 OPTIONS >"$WORK/man"
	if [ -s "$WORK/help" ] && cmp -s "$WORK/help" "$WORK/man"; then
		ok "smafd --help and smafd(8) OPTIONS: the same $(wc -l <"$WORK/help") options"
	else
		bad "smafd --help and smafd(8) differ (- man page, + --help):"
		diff -u "$WORK/man" "$WORK/help" | tail -n +3 | show
	fi
	expect "  ... and the synopsis names every option but --help" \
		bash -c "for o in \$(grep -v -- --help '$WORK/help'); do sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' man/smafd.8 | sed 's/\\\\-/-/g' | grep -q -- \"\$o\\b\" || { echo \"missing: \$o\"; exit 1; }; done"
	local subs
	subs=$(/usr/bin/smafctl --help | awk '/^SUBCOMMANDS:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' | sort)
	expect_eq "smafctl's commands are the COMMANDS of smafctl(1)" "$subs" \
		"$(awk '/^\.SH COMMANDS/ { on = 1; next } /^\.SH / { on = 0 } on && prev == ".TP" { print } { prev = $1 }' man/smafctl.1 |
			sed -E 's/^\.BI? "?([a-z]+).*/\1/' | sort)"
	{
		/usr/bin/smafctl --help | help_options
		for s in $subs; do /usr/bin/smafctl "$s" --help | help_options; done
	} | sort -u >"$WORK/help"
	man_options man/smafctl.1 OPTIONS COMMANDS >"$WORK/man"
	if [ -s "$WORK/help" ] && cmp -s "$WORK/help" "$WORK/man"; then
		ok "smafctl's options (every command's --help) and smafctl(1): the same $(wc -l <"$WORK/help")"
	else
		bad "smafctl --help and smafctl(1) differ (- man page, + --help):"
		diff -u "$WORK/man" "$WORK/help" | tail -n +3 | show
	fi
	expect_eq "every function of libsmaf.h has a paragraph in libsmaf(3)" \
		"$(grep -oE '^[a-z ]+\*?(smaf_[a-z_]+)\(' /usr/include/libsmaf.h | grep -oE 'smaf_[a-z_]+' | sort | tr '\n' ' ')" \
		"$(awk '/^\.SH DESCRIPTION/ { on = 1; next } /^\.SH / { on = 0 } on && prev == ".TP" { print } { prev = $1 }' man/libsmaf.3 |
			grep -oE 'smaf_[a-z_]+' | sort | tr '\n' ' ')"
	{
		printf '#include <stdio.h>\n#include <smaf.h>\n#include <smaf_ext.h>\nint main(void) {\n'
		for r in SMAF_IOC_CREATE SMAF_IOC_GET_SECURE_FLAG SMAF_IOC_SET_SECURE_FLAG SMAF_IOC_GET_INFO; do
			printf '\tprintf("%s (0x%%08X)\\n", (unsigned)%s);\n' "$r" "$r"
		done
		printf '\tprintf("%%zu %%zu %%zu\\n", sizeof(struct smaf_create_data), sizeof(struct smaf_secure_flag), sizeof(struct smaf_info));\n\treturn 0;\n}\n'
	} >"$WORK/numbers.c"
	gcc -o "$WORK/numbers" "$WORK/numbers.c" && "$WORK/numbers" >"$WORK/numbers.out"
	for r in SMAF_IOC_CREATE SMAF_IOC_GET_SECURE_FLAG SMAF_IOC_SET_SECURE_FLAG SMAF_IOC_GET_INFO; do
		local num
		num=$(sed -n "s/^$r (\(.*\))$/\1/p" "$WORK/numbers.out")
		expect "smaf(4) gives $r the installed header's number $num" \
			grep -qE "^\.BR $r \" \($num\)\"$" man/smaf.4
	done
	expect_eq "smaf(4)'s struct sizes are the installed header's" "$(tail -n 1 "$WORK/numbers.out")" \
		"$(grep -oE '/\* (128|64) bytes \*/' man/smaf.4 | grep -oE '[0-9]+' | tr '\n' ' ' | sed 's/ $//')"

	echo "# --- libsmaf-dev: the README's C example, built with pkg-config only"
	expect_eq "pkg-config --cflags --libs libsmaf (system directories are implied)" "-lsmaf" \
		"$(pkg-config --cflags --libs libsmaf | sed 's/ *$//')"
	readme_example >"$WORK/hello.c"
	# shellcheck disable=SC2046 # the flags are words
	gcc -Wall -Wextra -Werror -o "$WORK/hello" "$WORK/hello.c" $(pkg-config --cflags --libs libsmaf) >"$WORK/cc.log" 2>&1
	rc=$?
	expect "the README's example ($(wc -l <"$WORK/hello.c") lines) builds against the installed headers and library (rc=$rc)" test "$rc" = 0
	show "$WORK/cc.log"
	expect "  ... and loads the installed libsmaf.so.0" \
		bash -c "ldd '$WORK/hello' | grep -Eq 'libsmaf.so.0 => (/usr)?/lib/x86_64-linux-gnu/libsmaf.so.0 '"
	SMAF_DEVICE=/nonexistent/smaf "$WORK/hello" >"$WORK/hello.out" 2>&1
	rc=$?
	expect "  ... without a device it reports smaf_open's error and exits 1 (the VM tier runs it for real)" \
		bash -c "[ $rc = 1 ] && grep -q '^smaf: No such file or directory' '$WORK/hello.out'"

	echo "# --- gstreamer1.0-smaf: the plugin where GStreamer looks"
	local plugin=/usr/lib/x86_64-linux-gnu/gstreamer-1.0/libgstsmaf.so
	expect "$plugin is installed, from gstreamer1.0-smaf" bash -c "dpkg -S '$plugin' | grep -q '^gstreamer1.0-smaf:'"
	expect "  ... without RUNPATH or RPATH" bash -c "! readelf -d '$plugin' | grep -Eq 'RUNPATH|RPATH'"
	expect "gstreamer1.0-smaf depends on libsmaf0 ($(dpkg-query -W -f='${Depends}' gstreamer1.0-smaf))" \
		bash -c "dpkg-query -W -f='\${Depends}' gstreamer1.0-smaf | grep -q 'libsmaf0'"
	# (GStreamer may name it by /lib, merged /usr's link.)
	# A registry of the installed plugins only, outside anyone's home; kept
	# in $STATE for the VM tier (a scan there takes minutes), purged with it.
	GST_REGISTRY=$STATE/gst-registry.bin GST_PLUGIN_PATH= gst-inspect-1.0 smafpool >"$WORK/inspect" 2>&1
	rc=$?
	expect "gst-inspect-1.0 smafpool finds the installed plugin (rc=$rc)" \
		bash -c "[ $rc = 0 ] && grep -Eq 'Filename +(/usr)?${plugin#/usr}\$' '$WORK/inspect' && grep -q 'SMAF buffer pool' '$WORK/inspect'"
	[ "$rc" = 0 ] || show "$WORK/inspect"
	expect_eq "pkg-config --modversion gstreamer-smaf-1.0 is VERSION" "$VERSION" "$(pkg-config --modversion gstreamer-smaf-1.0)"
	awk '/^```c$/ { on = 1; next } /^```$/ { if (on) exit } on' docs/gstreamer.md >"$WORK/gst.c"
	# shellcheck disable=SC2046 # the flags are words
	gcc -Wall -Wextra -Werror -o "$WORK/gst" "$WORK/gst.c" $(pkg-config --cflags --libs gstreamer-smaf-1.0) >"$WORK/gstcc.log" 2>&1
	rc=$?
	expect "docs/gstreamer.md's example builds against the installed header (rc=$rc)" test "$rc" = 0
	show "$WORK/gstcc.log"
	GST_REGISTRY=$STATE/gst-registry.bin GST_REGISTRY_UPDATE=no SMAF_DEVICE=/nonexistent/smaf "$WORK/gst" >"$WORK/gst.out" 2>&1
	rc=$?
	expect "  ... and, without a device, prints the allocator's error and exits 1 (the VM tier runs it for real)" \
		bash -c "[ $rc = 1 ] && grep -q '^smaf: cannot open /nonexistent/smaf: No such file or directory' '$WORK/gst.out'"
	show "$WORK/gst.out"
}

# ---------------------------------------------------------------------------
phase_purge() {
	echo "# --- purge: dpkg --purge leaves nothing behind"
	if [ ! -f "$STATE/files.before" ] || [ "$(cat "$STATE/installed-by" 2>/dev/null)" != "$RUN" ]; then
		bad "this run ($RUN) did not install the packages (no record in $STATE): nothing purged"
		return
	fi
	local rc
	dpkg --purge "${PACKAGES[@]}" >"$WORK/purge.log" 2>&1
	rc=$?
	expect "dpkg --purge ${PACKAGES[*]} (rc=$rc)" test "$rc" = 0
	[ "$rc" = 0 ] || show "$WORK/purge.log"
	if getent passwd "$TEST_USER" >/dev/null; then userdel "$TEST_USER"; fi
	snapshot >"$WORK/files.after"
	if cmp -s "$STATE/files.before" "$WORK/files.after"; then
		ok "/usr, /etc and /var hold exactly the files and directories they held before dpkg -i ($(wc -l <"$WORK/files.after"))"
	else
		bad "/usr, /etc or /var differ from before dpkg -i (- before, + after purge):"
		diff -u "$STATE/files.before" "$WORK/files.after" | tail -n +3 | head -n 40 | show
	fi
	getent group | cut -d: -f1 | sort >"$WORK/groups.after"
	getent passwd | cut -d: -f1 | sort >"$WORK/users.after"
	expect "the groups are those before dpkg -i (smaf is gone unless it was there)" cmp -s "$STATE/groups.before" "$WORK/groups.after"
	expect "the users are those before dpkg -i" cmp -s "$STATE/users.before" "$WORK/users.after"
	for p in "${PACKAGES[@]}"; do
		expect "dpkg no longer knows $p" bash -c "! dpkg-query -W -f='\${Status}' '$p' 2>/dev/null | grep -q installed"
	done
	rm -rf "$STATE"
}

[ $# -gt 0 ] || { echo "usage: $0 build|install|purge..." >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "package-tests: needs root (dpkg -i)" >&2; exit 2; }
for phase in "$@"; do
	case $phase in
	build | install | purge) "phase_$phase" ;;
	*) echo "package-tests: unknown phase $phase" >&2; exit 2 ;;
	esac
done
echo "package-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
