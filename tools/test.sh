#!/bin/sh
# README's test command: installs what is missing, builds in build/ with
# -Werror and runs `make check`.
set -e
cd "$(dirname "$0")/.."
tools/install-deps.sh
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
mkdir -p build
cd build
[ -f Makefile ] || ../configure -q --enable-werror
make -j"$(nproc)" -s
status=0
make -j"$(nproc)" check || status=$?
../tools/summary.sh .
exit $status
