# shellcheck shell=sh
# srcwalk.sh - the file walk and the TAP frame shared by the source-tree
# meta checks (tests/check-banned.sh, tests/check-layering.sh). Sourced,
# not run: `. "$here/lib/srcwalk.sh"`.
#
# A check defines one function, FILEFN DIR FILE REL, that prints one
# "REL:LINE: reason" line per breach in FILE (REL: its path below the
# root; DIR: the top directory it was found under), and then uses:
#
#   srcwalk_check ROOT FILEFN DIR...
#       runs FILEFN on every *.c and *.h under ROOT/DIR, the DIRs in the
#       order given (a missing one is skipped), each DIR's files sorted;
#       prints the breaches and returns 1 when there is one, else 0.
#   srcwalk_tap_begin
#       the TAP frame for the no-argument mode: needs $top_srcdir (make
#       check sets it), makes the scratch directory $tmp (removed on exit)
#       and sources tests/lib/tap.sh (ok, not_ok, $n and $fail).
#   srcwalk_expect_clean CHECKFN ROOT OK NOT_OK
#       passes (saying OK) when CHECKFN accepts ROOT, the real tree; else
#       fails saying NOT_OK, with CHECKFN's findings as TAP comments.
#   srcwalk_expect_fail CHECKFN LABEL FILE CONTENT
#       writes CONTENT to FILE in a tree of its own and passes when CHECKFN
#       (a function taking a root, e.g. one calling srcwalk_check) refuses
#       that tree naming FILE: the proof that a check can fail.
#   srcwalk_expect_pass CHECKFN ROOT WHAT
#       passes when CHECKFN accepts ROOT (the allowed cases).

srcwalk_check() {
    srcwalk_root=$1
    srcwalk_fn=$2
    shift 2
    srcwalk_out=$(
        for srcwalk_dir in "$@"; do
            [ -d "$srcwalk_root/$srcwalk_dir" ] || continue
            find "$srcwalk_root/$srcwalk_dir" -name '*.[ch]' | sort |
                while IFS= read -r f; do
                    "$srcwalk_fn" "$srcwalk_dir" "$f" "${f#"$srcwalk_root"/}"
                done
        done
    )
    [ -z "$srcwalk_out" ] && return 0
    printf '%s\n' "$srcwalk_out"
    return 1
}

srcwalk_tap_begin() {
    : "${top_srcdir:?set by make check}"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # shellcheck source=tests/lib/tap.sh
    . "$top_srcdir/tests/lib/tap.sh"
}


srcwalk_expect_clean() {
    if out=$("$1" "$2"); then
        ok "$3"
    else
        not_ok "$4"
        printf '%s\n' "$out" | sed 's/^/# /'
    fi
}

srcwalk_expect_fail() {
    rm -rf "$tmp/t" && mkdir -p "$tmp/t/$(dirname "$3")" &&
        printf '%s\n' "$4" >"$tmp/t/$3"
    if out=$("$1" "$tmp/t"); then
        not_ok "test-the-test: $2 in $3 is not detected"
    elif printf '%s\n' "$out" | grep -q "^$3:"; then
        ok "test-the-test: $2 in $3 is refused"
    else
        not_ok "test-the-test: $2 refused without naming $3: $out"
    fi
}

srcwalk_expect_pass() {
    if out=$("$1" "$2"); then
        ok "test-the-test: $3 pass"
    else
        not_ok "test-the-test: false positives: $out"
    fi
}
