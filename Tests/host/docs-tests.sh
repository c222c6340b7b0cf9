#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Tier 1: the documentation says what the binaries do. smafd's and each
# smafctl command's SYNOPSIS in the manual pages name exactly the options
# their --help defines; docs/smafctl.md names every command and option; the
# README stays at most 90 lines; every document a file refers to exists.
# Prints "ok"/"FAIL" lines and "docs-tests: N passed, M failed".
#   Tests/host/docs-tests.sh [SMAFD] [SMAFCTL]   (default .build/debug/...)
set -u
. "$(dirname "$0")/hostlib.sh"
cd "$(dirname "$0")/../.."
SMAFD=${1:-.build/debug/smafd}
SMAFCTL=${2:-.build/debug/smafctl}
same() { # same DESCRIPTION EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: --help gives [$(echo $2)], the document [$(echo $3)]"; fi
}

# Long option names in a --help text's OPTIONS part.
help_options() { awk '/^OPTIONS:/ { on = 1; next } /^[A-Z]+:/ { on = 0 } on' | grep -oE '^  (-[a-zA-Z], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+' | sort -u; }
# Long option names in a piece of roff.
roff_options() { sed 's/\\-/-/g' | grep -oE -- '--[a-z0-9-]+' | sort -u; }
synopsis() { sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$1"; }

same "smafd(8)'s SYNOPSIS names exactly smafd --help's options" \
	"$("$SMAFD" --help | help_options)" "$(synopsis man/smafd.8 | roff_options)"
same "smafd(8)'s OPTIONS define exactly smafd --help's options" \
	"$("$SMAFD" --help | help_options)" \
	"$(awk '/^\.SH OPTIONS/ { on = 1; next } /^\.SH / { on = 0 } on && prev == ".TP" { print } { prev = $1 }' man/smafd.8 | roff_options)"

subs=$("$SMAFCTL" --help | awk '/^SUBCOMMANDS:/ { on = 1; next } on && /^  [a-z]/ { print $1 }' | sort)
same "smafctl(1)'s SYNOPSIS has one line per command" "$subs" \
	"$(synopsis man/smafctl.1 | sed -n 's/^\.B smafctl \([a-z]*\).*/\1/p' | sort)"
for s in $subs; do
	# The command's options but --help and --version, which the last SYNOPSIS line gives.
	want=$("$SMAFCTL" "$s" --help | help_options | grep -vxE -- '--help|--version')
	got=$(synopsis man/smafctl.1 | awk -v s="$s" '$0 == ".B smafctl " s { on = 1; next } /^\.br/ { on = 0 } on' | roff_options)
	same "smafctl(1) SYNOPSIS of '$s' names exactly 'smafctl $s --help's options" "$want" "$got"
	missing=$(for o in $want; do grep -q -- "$o" docs/smafctl.md || echo "$o"; done)
	if grep -q "smafctl $s" docs/smafctl.md && [ -z "$missing" ]; then
		ok "docs/smafctl.md describes 'smafctl $s' and its options"
	else
		bad "docs/smafctl.md lacks 'smafctl $s' or its options: $missing"
	fi
done

lines=$(wc -l <README.md)
if [ "$lines" -le 90 ]; then ok "README.md is at most 90 lines ($lines)"; else bad "README.md has $lines lines (at most 90)"; fi

# Documents named in the tree (docs/X.md and the like) must be in it.
dangling=$(git ls-files | grep -v '^Tests/fuzz/corpus/' | xargs grep -ohE '(^|[^$A-Za-z0-9_./-])([a-z-]+/)*[a-z][a-z-]*\.md\b' 2>/dev/null | sed -E 's/^[^a-z]//' | sort -u |
	while read -r d; do
		[ -e "$d" ] || [ -e "docs/$d" ] || [ -e "docs/${d#docs/}" ] || echo "$d"
	done)
if [ -z "$dangling" ]; then ok "every .md a file names exists"; else bad "files name documents that do not exist: $(echo $dangling)"; fi

# Comments and docs cite what a reader of this tree can open: no sections
# of a specification, design notes or issue numbers kept elsewhere.
cited=$(git ls-files | grep -v '^Tests/fuzz/corpus/' | grep -v '^Tests/host/docs-tests.sh$' | grep -v '^debian/changelog$' |
	xargs grep -nE 'spec §|design §|§ ?[0-9]|[Ii]ssue #?[0-9]+|spec smaf-abi|spec section|spec B[0-9]|, B[0-9]+\)' 2>/dev/null | head -5)
if [ -z "$cited" ]; then ok "no file cites documents outside the tree (spec sections, design notes, issues)"; else bad "files cite documents outside the tree: $cited"; fi

# The VM tier is grouped by subject: each folder D of Tests/vm holds
# D-tests.sh, and its programs are named D_*.c; no two test scripts of the
# tree share a name.
misnamed=$(for d in Tests/vm/*/; do
	d=${d%/}
	s=$(basename "$d")
	[ -f "$d/$s-tests.sh" ] || echo "$d has no $s-tests.sh"
	for c in "$d"/*.c; do
		[ -e "$c" ] || continue
		case $(basename "$c") in "${s//-/_}"_*.c) ;; *) echo "$c is not named ${s//-/_}_*.c" ;; esac
	done
done)
twice=$(git ls-files 'Tests/*-tests.sh' | xargs -n1 basename | sort | uniq -d)
if [ -z "$misnamed$twice" ]; then ok "Tests/vm is grouped by subject, scripts and programs named for it, no script name twice"
else bad "Tests/vm's grouping: $(echo $misnamed) $([ -n "$twice" ] && echo "scripts named twice: $(echo $twice)")"; fi

# Files stay readable: no Swift source over 350 lines, the dispatcher
# (SmafDevice.swift) at most 200 (docs/contributing.md).
long=$(git ls-files 'Sources/*.swift' | xargs wc -l | awk '$2 != "total" && $1 > 350 { print $2 " (" $1 " lines)" }')
dispatcher=$(wc -l <Sources/SmafCore/SmafDevice.swift)
if [ -z "$long" ] && [ "$dispatcher" -le 200 ]; then ok "no Swift source over 350 lines; SmafDevice.swift has $dispatcher (at most 200)"
else bad "Swift sources too long: $(echo $long) SmafDevice.swift: $dispatcher lines (at most 200)"; fi

echo "docs-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
