#!/bin/sh
# Regenerates configure and Makefile.in from a git checkout.
set -e
cd "$(dirname "$0")"
autoreconf --install --force
# automake does not install the TAP driver by itself.
cp -f "$(automake --print-libdir)/tap-driver.sh" build-aux/
