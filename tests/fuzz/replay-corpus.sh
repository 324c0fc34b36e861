#!/bin/sh
# Replays every fuzz target's seed corpus through the plain driver (TAP).
set -u
: "${top_builddir:?set by make check}" "${top_srcdir:?set by make check}"
dir="$top_builddir/tests/fuzz"
targets=""
for t in "$dir"/fuzz-*; do
    case $t in
    *.*) continue ;; # logs and objects
    esac
    [ -x "$t" ] && targets="$targets ${t##*/}"
done
count=0
for t in $targets; do count=$((count + 1)); done
if [ "$count" -eq 0 ]; then
    echo "1..0 # SKIP no fuzz target is built yet"
    echo "skip-probe: no executable $dir/fuzz-* exists"
    exit 0
fi
echo "1..$count"
n=0
fail=0
for t in $targets; do
    n=$((n + 1))
    name=${t#fuzz-}
    if "$dir/$t" "$top_srcdir/tests/fuzz/corpus/$name" >"$dir/$t.replay.log" 2>&1; then
        echo "ok $n - $name: $(tail -n 1 "$dir/$t.replay.log")"
    else
        echo "not ok $n - $name"
        sed 's/^/# /' "$dir/$t.replay.log"
        fail=1
    fi
done
exit $fail
