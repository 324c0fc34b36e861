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
# shellcheck source=tests/lib/srcwalk.sh
. "$here/lib/srcwalk.sh"
banned='strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|system|popen'
strtol_family='strtol|strtoul|strtoll|strtoull|strtoimax|strtoumax'

# Prints "file:line: text" for each banned call in file $2 (path $3 below
# the root).
scan_file() {
    case $3 in
    src/common/duration.c | src/daemon/config.c) calls=$banned ;;
    *) calls="$banned|$strtol_family" ;;
    esac
    awk -f "$here/strip-comments.awk" "$2" |
        grep -nE "(^|[^A-Za-z0-9_])($calls)[[:space:]]*\\(" |
        sed "s|^|$3:|"
}

# Prints each banned call under root $1; returns 1 when there is one. The
# directories in this order list the files as one sort of the tree would.
scan() {
    srcwalk_check "$1" scan_file client src tools
}

if [ $# -eq 1 ]; then
    scan "$1"
    exit $?
fi

srcwalk_tap_begin
# expect_fail NAME FILE CONTENT: a tree holding only FILE must be refused.
expect_fail() {
    srcwalk_expect_fail scan "$1" "$2" "$3"
}

echo "1..8"
srcwalk_expect_clean scan "$top_srcdir" \
    "no banned call in $top_srcdir/{src,client,tools}" "banned calls:"
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
srcwalk_expect_pass scan "$tmp/t" \
    "comments, strings, snprintf, strtok_r and strtol in duration.c/config.c"
exit $fail
