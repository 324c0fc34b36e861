#!/bin/sh
# Runs the main job end to end on temporary paths, from the build directory:
# starts cwtimed, starts a timer on ticket 54321 back-dated 25 minutes,
# stops it and shows the queued entry.
set -eu
tmp=$(mktemp -d)
pid=""
cwpid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    # submission part: the fake ConnectWise
    if [ -n "$cwpid" ]; then
        kill "$cwpid" 2>/dev/null || true
        wait "$cwpid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
# A signal must end the script too, not only clean up and carry on; the
# EXIT trap then cleans up once.
trap 'exit 130' INT TERM
chmod 0700 "$tmp"
mkdir -m 0700 "$tmp/run" "$tmp/state" "$tmp/config"
export XDG_RUNTIME_DIR="$tmp/run" XDG_STATE_HOME="$tmp/state" XDG_CONFIG_HOME="$tmp/config"

./cwtimed --version
./cwtimectl --version

./cwtimed >"$tmp/cwtimed.log" 2>&1 &
pid=$!
# Wait for the socket to answer, with a deadline (10 s): polling, not a
# fixed sleep.
tries=0
until ./cwtimectl ping >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "demo: cwtimed exited:" >&2
        cat "$tmp/cwtimed.log" >&2
        pid=""
        exit 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 200 ]; then
        echo "demo: cwtimed did not answer within 10 s" >&2
        exit 1
    fi
    sleep 0.05
done

echo '$ cwtimectl start 54321 --ago 25m'
./cwtimectl start 54321 --ago 25m >/dev/null
echo '$ cwtimectl list'
./cwtimectl list
echo '$ cwtimectl stop'
./cwtimectl stop >/dev/null
echo '$ cwtimectl queue'
./cwtimectl queue

# ---- submission: the entries go to a fake ConnectWise ----
# The entry above waited in the queue (no credentials: offline). Start the
# fake server (tests/fakecw) on port 0, configure cwtimed for it, reload,
# then stop one more timer, flush, and show what the server received.
srcdir=$(cd "$(dirname "$0")/.." && pwd)
python3 "$srcdir/tests/fakecw/fakecw.py" --port-file "$tmp/cw.port" \
    --log "$tmp/cw.jsonl" >/dev/null 2>"$tmp/fakecw.log" &
cwpid=$!
tries=0
until [ -s "$tmp/cw.port" ]; do
    if ! kill -0 "$cwpid" 2>/dev/null; then
        echo "demo: the fake ConnectWise exited:" >&2
        cat "$tmp/fakecw.log" >&2
        cwpid=""
        exit 1
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 200 ]; then
        echo "demo: the fake ConnectWise did not start within 10 s" >&2
        exit 1
    fi
    sleep 0.05
done
port=$(cat "$tmp/cw.port")
mkdir -m 0700 "$tmp/config/cwtimed"
printf '[api]\nurl = http://127.0.0.1:%s/v4_6_release/apis/3.0\ncompany = examplemsp\n' \
    "$port" >"$tmp/config/cwtimed/cwtimed.conf"
(
    umask 077
    printf '[api]\npublic_key = fakePublicKey01\nprivate_key = fakePrivateKey01\nclient_id = 5c2f3f7e-1b2a-4c59-9d3e-7f0a1b2c3d4e\n' \
        >"$tmp/config/cwtimed/credentials"
)
echo "# fake ConnectWise on 127.0.0.1:$port; config written; SIGHUP reloads cwtimed"
kill -HUP "$pid"
tries=0
until ./cwtimectl --json status 2>/dev/null | grep -q '"submission":{"state":"ok"'; do
    tries=$((tries + 1))
    if [ "$tries" -ge 200 ]; then
        echo "demo: cwtimed did not reload within 10 s" >&2
        exit 1
    fi
    sleep 0.05
done
echo '$ cwtimectl start 54322 --ago 40m'
./cwtimectl start 54322 --ago 40m >/dev/null
echo '$ cwtimectl stop'
./cwtimectl stop >/dev/null
echo '$ cwtimectl flush'
./cwtimectl flush
echo '$ cwtimectl queue'
./cwtimectl queue
echo '# what the fake ConnectWise received:'
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["method"] == "POST" and r["relpath"] == "/time/entries":
        print("POST /time/entries -> %s, id %s" % (
            r["status"], (r.get("response") or {}).get("id")))
        print(json.dumps(r["body"], indent=2, sort_keys=True))
' "$tmp/cw.jsonl"
