#!/bin/sh
# Installs every build, test and run dependency of Ferry on Debian 12.
# Idempotent and quiet when everything is present. Run as root.
set -e
PKGS="build-essential autoconf automake libtool pkg-config
      libstrophe-dev libexpat1-dev libssl-dev libglib2.0-dev check
      libxml2-utils xsltproc prosody iproute2 valgrind procps psmisc
      docker-compose ejabberd curl openssl profanity tmux clang"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing:$missing; run as root (or with sudo)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
