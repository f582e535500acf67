#!/bin/bash
# Group chat fan-out's ground: plugin/cli/muc.c against a real Prosody
# with its MUC service (lib.sh's PROSODY_MUC=1), through muc-probe: four
# users join one room and each lists the other three; private messages
# (headline and normal, a <probe xmlns='urn:xmpp:ferry:0'/> child) from
# alice to ROOM/bob reach bob's real JID from ROOM/alice intact and his
# answer comes back the same way; a leave drops the occupant; a nick
# conflict is retried as NICK-XXXX; a failed join says why; an error
# message to an occupant gets its sender kicked. The probe's "fact:"
# lines show what the server did. Skips (77) without Prosody's MUC.
PROBE="${top_builddir:-.}/tests/integration/muc-probe"
if ! command -v prosody >/dev/null ||
    [ ! -f /usr/lib/prosody/modules/muc/mod_muc.lua ]; then
    echo "muc: Prosody with its MUC module not installed (apt-get install prosody): skipped"
    exit 77
fi
. "${top_srcdir:-.}/tests/integration/lib.sh"

PROSODY_MUC=1
start_prosody || exit 1
for u in alice bob carol dave eve; do register_user $u $u-pw; done
trace "MUC service $MUC_DOMAIN"

timeout 50 "$PROBE" --port "$C2S_PORT" --room "room@$MUC_DOMAIN" \
    >"$T/probe.log" 2>&1
rc=$?
cat "$T/probe.log"
grep -q "^not ok" "$T/probe.log" && fail "muc-probe: a check failed"
check "muc-probe ran every check and exited 0 (rc $rc)" [ "$rc" -eq 0 ]
for c in "alice created and joined" "a: alice lists" "a: semi-anonymous" \
    "headline: from is" "headline: <probe" "headline: bob's answer" \
    "normal: from is" "normal: <probe" "normal: bob's answer" \
    "cap: with 4 others" "c: bob left" "cap: muc_dropped() back to 0" \
    "c: eve left" "d: nick conflict" "e: a join that fails" \
    "f: an error message"; do
    check "probe: $c" grep -q "^ok - $c" "$T/probe.log"
done
finish
