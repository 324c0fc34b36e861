#!/bin/sh
# The README's two quick-start commands:
#   tools/quickstart.sh demo   install, build, run the daemon end to end
#   tools/quickstart.sh test   install, build, pass the tests (make check)
set -eu
cd "$(dirname "$0")/.."

usage() {
    echo "usage: tools/quickstart.sh demo|test" >&2
    exit 2
}
[ $# -eq 1 ] || usage

tools/install-deps.sh
[ -x configure ] || ./autogen.sh >/dev/null
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure --quiet
make -s -j"$(nproc)"

case "$1" in
demo) exec sh ../tools/demo.sh ;;
test) exec make -s -j"$(nproc)" check ;;
*) usage ;;
esac
