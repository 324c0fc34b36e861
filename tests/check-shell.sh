#!/bin/sh
# check-shell.sh - our shell scripts pass shellcheck.
#
# Checked: every *.sh in the source tree (but not build-aux/, which automake
# installs, nor build or dist directories), .ci/run, and autogen.sh.
# Level: everything of severity "warning" and "error" fails, plus SC2086
# (an unquoted expansion that splits words and expands globs: the bug that
# matters most in scripts handling paths) although shellcheck files it as
# "info". Other info and style notes do not fail: SC2317 ("unreachable")
# is wrong for functions called through a variable, as .ci/run does.
# SC2154 ("referenced but not assigned") is excluded because test scripts
# get top_srcdir, top_builddir, CWTIMED... from make's AM_TESTS_ENVIRONMENT.
#
#   check-shell.sh FILE...   shellcheck the files; exit 1 on findings
#   check-shell.sh           TAP: check the tree, then prove the check fails
#                            on scripts with deliberate faults
set -u

# Runs both passes on the files; prints the findings; returns 1 if any.
check() {
    st=0
    shellcheck --severity=warning --exclude=SC2154 --format=gcc "$@" || st=1
    shellcheck --include=SC2086 --format=gcc "$@" || st=1
    return $st
}

if [ $# -gt 0 ]; then
    check "$@"
    exit $?
fi

: "${top_srcdir:?set by make check}"
if ! command -v shellcheck >/dev/null 2>&1; then
    echo "1..0 # SKIP shellcheck is not installed"
    echo "skip-probe: command -v shellcheck: not found (Debian: apt-get install shellcheck)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib/tap.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/tap.sh"

echo "1..4"
cd "$top_srcdir" || exit 1
find . \( -name '_build*' -o -name 'build-aux' -o -name '.git' -o -name 'autom4te.cache' \
    -o -name 'cwtimed-[0-9]*' \) -prune -o -name '*.sh' -type f -print | sort >"$tmp/list"
for f in .ci/run autogen.sh; do
    [ -f "$f" ] && echo "./$f" >>"$tmp/list"
done
count=$(grep -c . "$tmp/list")
# tools/*.sh and the meta checks themselves must be in the list.
if grep -q '^\./tests/check-shell\.sh$' "$tmp/list" && [ "$count" -ge 3 ]; then
    ok "found $count scripts"
else
    not_ok "found only: $(tr '\n' ' ' <"$tmp/list")"
fi
# shellcheck disable=SC2046 # one word per file; our paths have no blanks
if out=$(check $(cat "$tmp/list") 2>&1); then
    ok "shellcheck is clean on $count scripts"
else
    not_ok "shellcheck findings:"
    printf '%s\n' "$out" | sed 's/^/# /'
fi

# Test-the-test.
printf '%s\n' '#!/bin/sh' 'f=$1' 'rm -rf $f/tmp' 'cd /nonexistent' 'echo done' >"$tmp/bad.sh"
printf '%s\n' '#!/bin/sh' 'f=$1' 'rm -rf "$f/tmp"' 'cd /nonexistent || exit 1' >"$tmp/good.sh"
out=$(check "$tmp/bad.sh" 2>&1)
if printf '%s\n' "$out" | grep -q SC2086 && printf '%s\n' "$out" | grep -q SC2164; then
    ok "test-the-test: an unquoted \$f (SC2086) and an unchecked cd (SC2164) are refused"
else
    not_ok "test-the-test: not refused: $out"
fi
if out=$(check "$tmp/good.sh" 2>&1); then
    ok "test-the-test: the corrected script passes"
else
    not_ok "test-the-test: the corrected script is refused: $out"
fi
exit $fail
