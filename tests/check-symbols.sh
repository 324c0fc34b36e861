#!/bin/sh
# check-symbols.sh - none of our global symbols is also exported by a
# library we link (STYLE.md section 3).
#
# A definition in the program silently replaces the library's for every
# caller in the process, libraries included, so a `timer_delete` or `log`
# of ours would break libc's or libm's own callers. Our symbols are
# `nm -g --defined-only` of the build's archives (lib*.a, tests/lib/*.a) and
# of the objects of the programs and test helpers (src, client, tools,
# tests/lib, tests/bench);
# the libraries' are `nm -D --defined-only` of libc.so.6, libm.so.6 and the
# shared libuv, libcurl, libjson-c, libsystemd, libinih and libcmocka,
# found with `$CC -print-file-name` and, failing that, `ldconfig -p`.
#
#   check-symbols.sh FILE...   exit 1 listing each overlap of the FILEs'
#                              symbols (archives or objects) with the libraries
#   check-symbols.sh           TAP: check $top_builddir, then prove the check
#                              fails on an archive defining library symbols
set -u
LC_ALL=C
export LC_ALL

libs="libc.so.6 libm.so.6 libuv.so libcurl.so libjson-c.so libsystemd.so libinih.so libcmocka.so"
cc=${CC:-cc}

# Prints the absolute path of shared library $1, or nothing.
find_lib() {
    p=$($cc -print-file-name="$1" 2>/dev/null)
    case $p in
    /*) ;;
    *) p=$(ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }') ;;
    esac
    [ -n "$p" ] && [ -e "$p" ] && readlink -f "$p"
}

# Writes the sorted names every library exports to $1; fails naming a
# library that cannot be found.
lib_symbols() {
    : >"$1.all"
    for l in $libs; do
        p=$(find_lib "$l")
        if [ -z "$p" ]; then
            echo "cannot find $l (probed: $cc -print-file-name=$l, ldconfig -p)" >&2
            return 1
        fi
        nm -D --defined-only -P "$p" | awk -v l="$l" '
            NF >= 2 && length($2) == 1 { n = $1; sub(/@.*/, "", n); print n, l }' >>"$1.all" ||
            return 1
    done
    sort -u "$1.all" >"$1"
}

# Prints "symbol (ours: FILE) also in LIB" for each overlap of files $2...
# with the library list in file $1; returns 1 when there is one.
overlap() {
    libsyms=$1
    shift
    out=$(
        for f in "$@"; do
            nm -g --defined-only -P "$f" 2>/dev/null |
                awk -v f="${f##*/}" 'NF >= 2 && length($2) == 1 && $1 !~ /:$/ { print $1, f }'
        done | sort -u | join - "$libsyms" |
            awk '{ print $1 " (ours: " $2 ") is also exported by " $3 }' | sort -u
    )
    [ -z "$out" ] && return 0
    printf '%s\n' "$out"
    return 1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! lib_symbols "$tmp/libsyms"; then
    if [ $# -gt 0 ]; then
        exit 2
    fi
    echo "1..1"
    echo "not ok 1 - cannot list the libraries' symbols"
    exit 1
fi

if [ $# -gt 0 ]; then
    overlap "$tmp/libsyms" "$@"
    exit $?
fi

: "${top_builddir:?set by make check}"
# shellcheck source=tests/lib/tap.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/tap.sh"

echo "1..4"
ours=$(
    cd "$top_builddir" &&
        { ls lib*.a tests/lib/*.a 2>/dev/null; find src client tools tests/lib tests/bench -name '*.o' 2>/dev/null; } | sort -u
)
nours=$(printf '%s\n' "$ours" | grep -c .)
nlib=$(wc -l <"$tmp/libsyms")
# Both lists must be real: an empty one would make the check vacuous.
if printf '%s\n' "$ours" | grep -q '^libcwtcommon[.]a$' && [ "$nlib" -gt 1000 ]; then
    ok "found $nours archives and objects of ours and $nlib library symbols"
else
    not_ok "vacuous: ours: $(echo "$ours" | tr '\n' ' '); library symbols: $nlib"
fi
# shellcheck disable=SC2046 # one word per file: the names come from make
if out=$(cd "$top_builddir" && overlap "$tmp/libsyms" $(printf '%s\n' "$ours")); then
    ok "no symbol of ours is exported by $libs"
else
    not_ok "symbols of ours that a library exports:"
    printf '%s\n' "$out" | sed 's/^/# /'
fi

# Test-the-test: an archive that defines libc's timer_delete, libm's log,
# json-c's json_object_get and libuv's uv_run must be refused by name.
cat >"$tmp/bad.c" <<'EOF'
int timer_delete(void *t) { return t != 0; }
double log(double x) { return x; }
void *json_object_get(void *o) { return o; }
int uv_run(void *l, int m) { return m + (l != 0); }
int cwt_innocent_symbol(void) { return 0; }
EOF
printf '%s\n' 'int cwt_innocent_symbol(void) { return 0; }' >"$tmp/good.c"
if $cc -c -fno-builtin -o "$tmp/bad.o" "$tmp/bad.c" && ar cr "$tmp/libbad.a" "$tmp/bad.o" &&
    $cc -c -o "$tmp/good.o" "$tmp/good.c" && ar cr "$tmp/libgood.a" "$tmp/good.o"; then
    out=$(overlap "$tmp/libsyms" "$tmp/libbad.a")
    missing=""
    for s in timer_delete log json_object_get uv_run; do
        printf '%s\n' "$out" | grep -q "^$s (ours: libbad.a)" || missing="$missing $s"
    done
    if [ -z "$missing" ] && ! printf '%s\n' "$out" | grep -q cwt_innocent_symbol; then
        ok "test-the-test: an archive defining timer_delete, log, json_object_get and uv_run is refused"
    else
        not_ok "test-the-test: not reported:$missing; output: $out"
    fi
    if overlap "$tmp/libsyms" "$tmp/libgood.a" >/dev/null; then
        ok "test-the-test: an archive of our own names passes"
    else
        not_ok "test-the-test: an archive of our own names is refused"
    fi
else
    not_ok "test-the-test: cannot compile the test archives with $cc"
    not_ok "test-the-test: (not run)"
fi
exit $fail
