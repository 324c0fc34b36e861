# shellcheck shell=sh
# tap.sh - the TAP counters of the shell checks (tests/check-*.sh). Sourced,
# not run: `. "$here/lib/tap.sh"`. Sets n=0 and fail=0; ok and not_ok print
# the next "ok N - TEXT" / "not ok N - TEXT", not_ok also sets fail=1, with
# which the check exits.

n=0
fail=0

ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}

not_ok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    # shellcheck disable=SC2034 # the sourcing check exits with $fail
    fail=1
}
