#!/bin/bash
# README's main job: installs what is missing, builds, starts a private
# Prosody (temp dir, loopback), ferry-relay and ferry-component, registers
# alice and bob, and sends a sample file from alice to bob with the ferry
# CLI. Verifies it, stops everything it started and removes its temporary
# files (the sample and its copy: twice FERRY_DEMO_MB) on every way out,
# an interrupt or a failure included; after a failure it keeps the logs,
# and says where. FERRY_DEMO_KEEP=1 keeps everything.
set -e
cd "$(dirname "$0")/.."
tools/install-deps.sh
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
mkdir -p build
(cd build && { [ -f Makefile ] || ../configure -q; } && make -j"$(nproc)" -s)
set +e
top_srcdir=$PWD
top_builddir=$PWD/build
KEEP=${FERRY_DEMO_KEEP:-}
# lib.sh's EXIT trap stops the daemons and removes $T, whichever way the
# script ends; before that, a run that did not verify saves its logs.
rc=1
keep_logs() {
    [ "$rc" -eq 0 ] && return
    [ -n "$KEEP" ] && { echo "== everything kept in $T"; return; }
    L=$(mktemp -d "${TMPDIR:-/tmp}/ferry-demo-logs.XXXXXX")
    cp "$T"/*.log "$L"/ 2>/dev/null
    echo "== logs kept in $L"
}
ON_EXIT="keep_logs;"
. tests/integration/lib.sh
size_mb=${FERRY_DEMO_MB:-64}

echo "== starting ferry-relay, Prosody and ferry-component in $T"
start_relay || exit 1
start_prosody || exit 1
start_component || exit 1
register_user alice alice-secret
register_user bob bob-secret
head -c $((size_mb * 1048576)) /dev/urandom >"$T/sample.bin"
mkdir -p "$T/bob-inbox"

echo "== bob waits for a file; alice sends $size_mb MiB to bob"
ferry_cli bob recv --dir "$T/bob-inbox" --accept-from alice@localhost \
    2>"$T/bob.log" &
BOB=$!
PIDS="$PIDS $BOB" # stopped with the daemons if the demo is interrupted
wait_online "$T/bob.log"
(ferry_cli alice send bob@localhost/cli "$T/sample.bin")
ALICE_RC=$?
wait $BOB
BOB_RC=$?
echo "== bob's side:"
cat "$T/bob.log"
if [ $ALICE_RC -eq 0 ] && [ $BOB_RC -eq 0 ] &&
    cmp -s "$T/sample.bin" "$T/bob-inbox/sample.bin"; then
    echo "== verified: bob's copy is byte-identical ($(sha256sum <"$T/sample.bin" | cut -c1-16)...)"
    rc=0
else
    echo "== FAILED: alice exit $ALICE_RC, bob exit $BOB_RC"
    rc=1
fi
[ $rc -eq 0 ] && echo "== temporary files removed${KEEP:+ (kept: $T)}"
exit $rc
