#!/bin/sh
# Regenerates configure and Makefile.in from a git checkout.
set -e
cd "$(dirname "$0")"
autoreconf --install --force
# automake does not install the TAP driver by itself.
for f in tap-driver.sh test-driver; do
	cp -f "$(automake --print-libdir)/$f" build-aux/
done
