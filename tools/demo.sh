#!/bin/sh
# Runs the main job end to end on temporary paths, from the build directory:
# starts cwtimed and shows that cwtimectl reaches it.
set -eu
tmp=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# A signal must end the script too, not only clean up and carry on; the
# EXIT trap then cleans up once.
trap 'exit 130' INT TERM
mkdir -m 0700 "$tmp/run" "$tmp/state" "$tmp/config"
export XDG_RUNTIME_DIR="$tmp/run" XDG_STATE_HOME="$tmp/state" XDG_CONFIG_HOME="$tmp/config"

./cwtimed --version
./cwtimectl --version
