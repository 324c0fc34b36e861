#!/bin/sh
# check-layering.sh - who may include what (STYLE.md section 2).
#
#   src/common  libc, json-c            not: libuv curl systemd inih core/ daemon/
#   src/core    libc, json-c, common/   not: libuv curl systemd inih daemon/,
#               nor file, socket or clock headers and calls (pure logic)
#   src/daemon  everything, but curl only in http.c; systemd headers only in
#               logind.c ipc.c cwtimed.c log.c; inih (<ini.h>) only in config.c
#   client/     libc, json-c, common/   not: libuv curl systemd inih core/ daemon/
# cmocka is for tests only. Includes are read from '#include' lines (also
# "../daemon/x.h" forms); src/core's forbidden calls (clock_gettime, time,
# gettimeofday, fopen, open, openat, creat, socket, connect, fsync,
# fdatasync, opendir) are grepped with comments and strings blanked.
#
#   check-layering.sh ROOT   check the tree at ROOT; exit 1 listing breaches
#   check-layering.sh        TAP: check $top_srcdir, then prove the checker
#                            fails on trees with deliberate breaches
set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/srcwalk.sh
. "$here/lib/srcwalk.sh"
core_calls='clock_gettime|gettimeofday|time|fopen|open|openat|creat|socket|connect|fsync|fdatasync|opendir'

# Prints the class of an included name: uv curl systemd inih cmocka core
# daemon io, or nothing for an allowed one.
classify() {
    case $1 in
    uv.h | uv/*) echo uv ;;
    curl/*) echo curl ;;
    systemd/*) echo systemd ;;
    ini.h) echo inih ;;
    cmocka.h) echo cmocka ;;
    core/* | */core/*) echo core ;;
    daemon/* | */daemon/*) echo daemon ;;
    sys/socket.h | sys/un.h | netinet/* | arpa/* | netdb.h | fcntl.h | \
        dirent.h | sys/stat.h | sys/file.h | poll.h | sys/epoll.h | \
        sys/time.h | sys/timerfd.h) echo io ;;
    esac
}

# Prints "file:line: <name>: reason" for one file ($2, relative path $3)
# under top directory $1 (src/common, src/core, src/daemon or client).
check_file() {
    layer=${1#src/}
    f=$2
    rel=$3
    base=${rel##*/}
    awk '/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
            s = $0
            sub(/^[ \t]*#[ \t]*include[ \t]*[<"]/, "", s)
            sub(/[>"].*$/, "", s)
            print NR, s
        }' "$f" |
        while read -r line name; do
            class=$(classify "$name")
            [ -n "$class" ] || continue
            why=""
            case $layer/$class in
            */cmocka) why="cmocka is for tests only" ;;
            core/io) why="core/ is pure logic: no file, socket or clock headers" ;;
            */io) ;;
            common/* | client/*) why="$layer/ may include libc, json-c and common/ only" ;;
            core/core) ;;
            core/*) why="core/ may include libc, json-c and common/ only" ;;
            daemon/curl) [ "$base" = http.c ] || why="curl only in src/daemon/http.c" ;;
            daemon/systemd)
                case $base in
                logind.c | ipc.c | cwtimed.c | log.c) ;;
                *) why="systemd headers only in logind.c ipc.c cwtimed.c log.c" ;;
                esac
                ;;
            daemon/inih) [ "$base" = config.c ] || why="inih only in src/daemon/config.c" ;;
            esac
            [ -n "$why" ] && echo "$rel:$line: <$name>: $why"
        done
    if [ "$layer" = core ]; then
        awk -f "$here/strip-comments.awk" "$f" |
            grep -nE "(^|[^A-Za-z0-9_.>])($core_calls)[[:space:]]*\\(" |
            sed "s|^|$rel:|; s|\$| (core/ is pure logic: pass time and data in)|"
    fi
}

# Prints each breach under root $1; returns 1 when there is one.
check() {
    srcwalk_check "$1" check_file src/common src/core src/daemon client
}

if [ $# -eq 1 ]; then
    check "$1"
    exit $?
fi

srcwalk_tap_begin
# expect_fail FILE CONTENT: a tree holding only FILE must be refused.
expect_fail() {
    srcwalk_expect_fail check "'$2'" "$1" "$2"
}

echo "1..13"
srcwalk_expect_clean check "$top_srcdir" \
    "layering of $top_srcdir follows STYLE.md section 2" "layering breaches:"
expect_fail src/common/a.c '#include <uv.h>'
expect_fail src/common/b.h '#include "core/records.h"'
expect_fail src/core/c.c '#include "daemon/journal.h"'
expect_fail src/core/d.c '#include <sys/socket.h>'
expect_fail src/core/e.c 'int f(void) { return clock_gettime(0, 0); }'
expect_fail src/daemon/cwapi.c '#include <curl/curl.h>'
expect_fail src/daemon/journal.c '#  include <systemd/sd-daemon.h>'
expect_fail src/daemon/rules.c '#include <ini.h>'
expect_fail client/conn.c '#include "../src/daemon/ipc.h"'
expect_fail client/cmds.c '#include <systemd/sd-bus.h>'
expect_fail src/daemon/log.c '#include <cmocka.h>'

# Allowed: each library in its one home, common/ everywhere, prose.
rm -rf "$tmp/t" && mkdir -p "$tmp/t/src/daemon" "$tmp/t/src/core" "$tmp/t/client"
printf '%s\n' '#include <curl/curl.h>' '#include <uv.h>' >"$tmp/t/src/daemon/http.c"
printf '%s\n' '#include <systemd/sd-daemon.h>' >"$tmp/t/src/daemon/cwtimed.c"
printf '%s\n' '#include <systemd/sd-bus.h>' >"$tmp/t/src/daemon/logind.c"
printf '%s\n' '#include <ini.h>' '#include "core/tracker.h"' >"$tmp/t/src/daemon/config.c"
printf '%s\n' '#include "common/errcode.h"' '#include <json-c/json.h>' \
    '#include "core/rules.h"' '/* never clock_gettime( here */' \
    'int g(struct s *x) { return x->time(x) + tracker_time(x); }' >"$tmp/t/src/core/tracker.c"
printf '%s\n' '#include "common/proto.h"' '#include <sys/socket.h>' >"$tmp/t/client/conn.c"
srcwalk_expect_pass check "$tmp/t" "allowed includes and calls"
exit $fail
