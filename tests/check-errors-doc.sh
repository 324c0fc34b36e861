#!/bin/sh
# check-errors-doc.sh - the committed doc/errors.md is what tools/gen-errors
# prints from the error-code table now, so the document cannot go stale.
# After changing src/common/errcode.h, run `make update-docs` and commit the
# result.
#
#   check-errors-doc.sh GEN DOC   exit 1 (with a diff) when DOC differs
#                                 from GEN's output
#   check-errors-doc.sh           TAP: compare the tree's, check that the
#                                 document lists every code of errcode.h,
#                                 and prove a stale copy is refused
set -u

# compare GEN DOC: prints a diff and returns 1 when they differ.
compare() {
    "$1" >"$tmp/generated.md" || return 1
    diff -u "$2" "$tmp/generated.md"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ $# -eq 2 ]; then
    compare "$1" "$2"
    exit $?
fi

: "${top_srcdir:?set by make check}" "${top_builddir:?set by make check}"
gen=$top_builddir/tools/gen-errors
doc=$top_srcdir/doc/errors.md
# shellcheck source=tests/lib/tap.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/tap.sh"

echo "1..4"
if out=$(compare "$gen" "$doc" 2>&1); then
    ok "doc/errors.md matches tools/gen-errors"
else
    not_ok "doc/errors.md is stale; run 'make update-docs' and commit it:"
    printf '%s\n' "$out" | sed 's/^/# /'
fi

# Every name in the table has a row, with its number: the generator really
# walks the table (a generator printing nothing would match an empty doc).
names=$(sed -n 's/.*X([A-Z_0-9]*, *\([0-9]*\), *"\([a-z0-9-]*\)".*/\1 \2/p' \
    "$top_srcdir/src/common/errcode.h")
missing=""
count=0
while read -r num name; do
    count=$((count + 1))
    grep -q "^| $num | \`$name\` | [0-4] | " "$tmp/generated.md" || missing="$missing $name"
done <<EOF
$names
EOF
if [ "$count" -ge 10 ] && [ -z "$missing" ]; then
    ok "all $count codes of errcode.h have a row with their number and an exit status 0-4"
else
    not_ok "codes without a row ($count in errcode.h):$missing"
fi

# Test-the-test: a copy with one message changed, or one row missing, is
# refused.
sed 's/| no such timer |/| no such clock |/' "$doc" >"$tmp/stale1.md"
grep -v -F 'no-such-timer' "$doc" >"$tmp/stale2.md"
if cmp -s "$doc" "$tmp/stale1.md" || cmp -s "$doc" "$tmp/stale2.md"; then
    not_ok "test-the-test: could not make stale copies (no-such-timer row not found)"
    not_ok "test-the-test: (not run)"
else
    if compare "$gen" "$tmp/stale1.md" >/dev/null; then
        not_ok "test-the-test: a changed message is not detected"
    else
        ok "test-the-test: a copy with a changed message is refused"
    fi
    if compare "$gen" "$tmp/stale2.md" >/dev/null; then
        not_ok "test-the-test: a missing row is not detected"
    else
        ok "test-the-test: a copy with a missing row is refused"
    fi
fi
exit $fail
