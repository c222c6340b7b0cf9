#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier 1: the license. LICENSE holds the MIT terms, every source file carries
# an SPDX-License-Identifier line, and debian/copyright is machine-readable
# and names the same terms (Expat, Debian's name for MIT). Prints "ok"/"FAIL"
# lines and "license-tests: N passed, M failed"; exits 1 on any failure.
set -u
. "$(dirname "$0")/hostlib.sh"
cd "$(dirname "$0")/../.."

# Source files: code, scripts, build and packaging files, man pages, units and
# rules; not docs, data (the fuzz corpus) or package metadata.
source_files() {
	git ls-files | grep -vE '^LICENSE$|^Tests/fuzz/corpus/|\.md$|^VERSION$|\.gitignore$|\.install$|^debian/(changelog|control|copyright|source/)'
}

if head -1 LICENSE | grep -qx 'MIT License' && grep -q 'Permission is hereby granted, free of charge' LICENSE; then
	ok "LICENSE holds the MIT license"
else
	bad "LICENSE is missing or is not the MIT license"
fi

missing=$(source_files | while read -r f; do
	# The tag sits in the first lines (after a shebang or swift-tools-version).
	head -3 "$f" | grep -q 'SPDX-License-Identifier: ' || echo "$f"
done)
if [ -z "$missing" ] && [ "$(source_files | wc -l)" -gt 100 ]; then
	ok "all $(source_files | wc -l) source files carry an SPDX-License-Identifier line"
else
	bad "source files without an SPDX-License-Identifier line in their first 3 lines:"
	printf '    %s\n' $missing
fi
others=$(source_files | xargs grep -h -m1 -o 'SPDX-License-Identifier: .*' | sed 's/ *\*\/$//' | sort -u |
	grep -vx 'SPDX-License-Identifier: MIT' | grep -vx 'SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT')
if [ -z "$others" ]; then ok "every SPDX line says MIT (the uapi header: GPL-2.0 WITH Linux-syscall-note OR MIT)"; else bad "other licenses: $others"; fi

c=debian/copyright
if head -1 "$c" | grep -qx 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' &&
	awk '/^Files: \*$/ { f = 1; next } f && /^License:/ { print; exit }' "$c" | grep -qx 'License: Expat' &&
	grep -qx 'License: Expat' "$c" && grep -q '^ Permission is hereby granted, free of charge' "$c" &&
	! grep -qi 'not chosen\|all rights are reserved' "$c"; then
	ok "debian/copyright is machine-readable and names Expat for every file, with its text"
else
	bad "debian/copyright: no DEP-5 Format line, no 'License: Expat' for 'Files: *', or no license text"
fi

echo "license-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
