#!/bin/sh
# check-banned.sh - no banned C function is called in our code (STYLE.md
# sections 11 and 13, curl's checksrc idea).
#
# Banned everywhere in src/, client/ and tools/: strcpy strcat sprintf
# vsprintf strtok atoi atol atoll gets system popen (unbounded, unchecked or
# shell-running). The strtol family (strtol strtoul strtoll strtoull
# strtoimax strtoumax) only in src/common/duration.c and src/daemon/config.c,
# which hold the checked parsers every other file uses. Comments and string
# literals are ignored (tests/strip-comments.awk).
#
#   check-banned.sh ROOT   scan the tree at ROOT; exit 1 and list each call
#   check-banned.sh        TAP: scan $top_srcdir, then prove the scanner
#                          fails on trees with deliberate violations
set -u

here=$(cd "$(dirname "$0")" && pwd)
banned='strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|system|popen'
strtol_family='strtol|strtoul|strtoll|strtoull|strtoimax|strtoumax'

# Prints "file:line: text" for each banned call under root $1; returns 1
# when there is one.
scan() {
    out=$(
        for dir in src client tools; do
            [ -d "$1/$dir" ] && find "$1/$dir" -name '*.[ch]'
        done | sort | while IFS= read -r f; do
            rel=${f#"$1"/}
            case $rel in
            src/common/duration.c | src/daemon/config.c) calls=$banned ;;
            *) calls="$banned|$strtol_family" ;;
            esac
            awk -f "$here/strip-comments.awk" "$f" |
                grep -nE "(^|[^A-Za-z0-9_])($calls)[[:space:]]*\\(" |
                sed "s|^|$rel:|"
        done
    )
    [ -z "$out" ] && return 0
    printf '%s\n' "$out"
    return 1
}

if [ $# -eq 1 ]; then
    scan "$1"
    exit $?
fi

: "${top_srcdir:?set by make check}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
not_ok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    fail=1
}
# expect_fail NAME FILE CONTENT: a tree holding only FILE must be refused.
expect_fail() {
    rm -rf "$tmp/t" && mkdir -p "$tmp/t/$(dirname "$2")" &&
        printf '%s\n' "$3" >"$tmp/t/$2"
    if out=$(scan "$tmp/t"); then
        not_ok "test-the-test: $1 in $2 is not detected"
    elif printf '%s\n' "$out" | grep -q "^$2:"; then
        ok "test-the-test: $1 in $2 is refused"
    else
        not_ok "test-the-test: $1 refused without naming $2: $out"
    fi
}

echo "1..8"
if out=$(scan "$top_srcdir"); then
    ok "no banned call in $top_srcdir/{src,client,tools}"
else
    not_ok "banned calls:"
    printf '%s\n' "$out" | sed 's/^/# /'
fi
expect_fail strcpy src/common/a.c 'void f(char *d) { strcpy(d, "x"); }'
expect_fail sprintf client/b.c 'int g(char *d) { return sprintf (d, "%d", 1); }'
expect_fail atoi src/core/c.h 'static inline int h(const char *s) { return atoi(s); }'
expect_fail system tools/d.c 'int k(void) { return system("true"); }'
expect_fail strtol src/core/e.c 'long m(const char *s) { return strtol(s, 0, 10); }'
expect_fail strcat src/daemon/f.c 'void p(char *d) { strcat(d, "x"); }'

# Allowed: prose, strings, bounded relatives, and strtol in its two homes.
rm -rf "$tmp/t" && mkdir -p "$tmp/t/src/common" "$tmp/t/src/daemon"
cat >"$tmp/t/src/common/duration.c" <<'EOF'
/* Never strcpy(a, b) or sprintf( here;
 * atoi( is banned too. */
long q(const char *s, char *b) { snprintf(b, 4, "atoi(%s)", s); return strtoll(s, 0, 10); }
char *r(char *s, char **sp) { return strtok_r(s, " ", sp); } // system(
EOF
printf '%s\n' 'long u(const char *s) { return strtoul(s, 0, 10); }' \
    >"$tmp/t/src/daemon/config.c"
if out=$(scan "$tmp/t"); then
    ok "test-the-test: comments, strings, snprintf, strtok_r and strtol in duration.c/config.c pass"
else
    not_ok "test-the-test: false positives: $out"
fi
exit $fail
