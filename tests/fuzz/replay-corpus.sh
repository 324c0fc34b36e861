#!/bin/sh
# Replays every fuzz target's seed corpus through the plain driver (TAP).
set -u
n=0
fail=0
targets=$(cd "$top_builddir/tests/fuzz" 2>/dev/null && ls fuzz-* 2>/dev/null | grep -v '[.]' || true)
count=$(printf '%s\n' "$targets" | grep -c . || true)
if [ "$count" -eq 0 ]; then
    echo "1..0 # SKIP no fuzz target is built yet"
    echo "skip-probe: ls $top_builddir/tests/fuzz/fuzz-* found none"
    exit 0
fi
echo "1..$count"
for t in $targets; do
    n=$((n + 1))
    name=${t#fuzz-}
    if "$top_builddir/tests/fuzz/$t" "$top_srcdir/tests/fuzz/corpus/$name" >"$top_builddir/tests/fuzz/$t.replay.log" 2>&1; then
        echo "ok $n - $name: $(tail -n 1 "$top_builddir/tests/fuzz/$t.replay.log")"
    else
        echo "not ok $n - $name"
        sed 's/^/# /' "$top_builddir/tests/fuzz/$t.replay.log"
        fail=1
    fi
done
exit $fail
