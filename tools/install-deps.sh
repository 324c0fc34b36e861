#!/bin/sh
# Installs what cwtimed needs to build and to run its tests on Debian 12.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -eu

PACKAGES="build-essential autoconf automake pkg-config git
libuv1-dev libcurl4-openssl-dev libjson-c-dev libsystemd-dev libinih-dev
libcmocka-dev scdoc mandoc shellcheck python3 python3-jsonschema
strace curl socat i3blocks timewarrior clang xfsprogs e2fsprogs util-linux
openssl faketime dbus systemd valgrind fiu-utils libfiu-dev nftables python3-dbus python3-gi"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the list is intended
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
