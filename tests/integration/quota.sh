#!/bin/bash
# Quotas count channels in use, with the component's DEFAULT policy (16
# channels in use and 120 requests a minute per bare JID): a 100-photo
# album sent back to back with `ferry send`, each transfer releasing its
# channel, all arrives; a refusal says which limit was hit and when it
# frees, and reaches the other end as the cancel reason; releases of
# someone else's channel, of unknown or garbled ids, and a flood of them,
# change nothing and get stanza errors.
. "${top_srcdir:-.}/tests/integration/lib.sh"

PROBE="$top_builddir/tests/integration/xmpp-probe"
start_relay || exit 1
start_prosody || exit 1
start_component || exit 1 # no [policy]: the defaults
for u in alice bob carol mallory rate dave; do register_user $u $u-pw; done

probe() {
    u=$1
    shift
    "$PROBE" --jid "$u@localhost" --password "$u-pw" --port "$C2S_PORT" \
        --relay-secret "$T/secret" "$@"
}
req() { # role: a request for a channel
    echo "<iq type='set' to='ferry.localhost'><request xmlns='urn:xmpp:ferry:0' sid='q@N@' peer='dave@localhost/x' role='$1' size='5'/></iq>"
}
rel() { # attributes of <release/>
    echo "<iq type='set' to='ferry.localhost'><release xmlns='urn:xmpp:ferry:0' $1/></iq>"
}
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }

probe dave --xml "<iq type='get' to='ferry.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>" >"$T/disco.out"
check "disco#info announces the defaults: 16 channels in use, 120 requests a minute" \
    grep -q 'var="max-channels-per-jid"><value>16</value>.*var="requests-per-minute"><value>120</value>' "$T/disco.out"

# ---- a 100-photo album, back to back, one `ferry send` per file --------
mkdir -p "$T/album" "$T/in"
for i in $(seq -w 1 100); do
    head -c $((20000 + RANDOM % 40000)) /dev/urandom >"$T/album/IMG_$i.jpg"
done
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --count 120 \
    --timeout 300 2>"$T/bob.log" &
BOB=$!
wait_online "$T/bob.log" || fail "bob never came online"
start_ns=$(date +%s%N)
sent=0
for f in "$T"/album/*.jpg; do
    (ferry_cli alice send bob@localhost/cli "$f" 2>>"$T/alice.log") &&
        sent=$((sent + 1))
done
album_ms=$((($(date +%s%N) - start_ns) / 1000000))
trace "100 files sent one after another in ${album_ms} ms"
same=0
for f in "$T"/album/*.jpg; do
    cmp -s "$f" "$T/in/$(basename "$f")" && same=$((same + 1))
done
check "100 photos back to back, default quotas: $sent of 100 sent, $same byte-identical (${album_ms} ms)" \
    test "$sent" -eq 100 -a "$same" -eq 100
check "the receiver (requester) released each of its 100 channels" \
    test "$(count 'channel released from=bob@localhost' "$T/component.log")" -eq 100
check "no request was refused" \
    test "$(count 'refused from=' "$T/component.log")" -eq 0

# The sender requesting: alice's channels, released by alice's ferry send.
sent=0
for i in $(seq -w 1 20); do
    (ferry_cli alice send --requester sender bob@localhost/cli \
        "$T/album/IMG_0$i.jpg" 2>>"$T/alice-s.log") && sent=$((sent + 1))
done
check "20 more with --requester sender: all sent, each released by the sender" \
    test "$sent" -eq 20 -a \
    "$(count 'channel released from=alice@localhost' "$T/component.log")" -eq 20
wait $BOB
check "the receiver took 120 files and exited 0" test $? -eq 0

# ---- the refusal names the limit and when it frees ---------------------
# carol holds 16 channels she never releases: the 17th is refused.
probe carol --repeat 17 --xml "$(req receiver)" >"$T/quota.out"
check "17th channel in use refused: resource-constraint + quota-exceeded" \
    grep -q "<resource-constraint.*<quota-exceeded" "$T/quota.out"
check "the refusal says: 16 channels in use; the oldest expires in N s" \
    grep -Eq "<text[^>]*>16 channels in use; the oldest expires in (29[0-9]|30[01]) s</text>" "$T/quota.out"
CH=$(grep -o ' id="[0-9a-f]\{64\}"' "$T/quota.out" | head -1 | cut -d'"' -f2)

# The same limit met by the CLI: carol's `ferry recv` requests the channel
# and is refused; alice hears it as the cancel reason.
ferry_cli carol recv --dir "$T/in" --accept-from alice@localhost \
    --timeout 30 2>"$T/carol.log" &
CAROL=$!
wait_online "$T/carol.log"
(ferry_cli alice send carol@localhost/cli "$T/album/IMG_001.jpg" 2>"$T/alice-q.log")
arc=$?
wait $CAROL
crc=$?
check "the requester ends refused, reason quota-exceeded (exit $crc)" \
    grep -q "status=refused reason=quota-exceeded" "$T/carol.log"
check "the other end is cancelled with reason quota-exceeded (exit $arc)" \
    grep -q "status=cancelled reason=quota-exceeded" "$T/alice-q.log"

# ---- hostile releases ----------------------------------------------------
probe mallory --xml "$(rel "channel='$CH'")" >"$T/steal.out"
check "release of someone else's channel: item-not-found + unknown-channel" \
    grep -q "<item-not-found.*<unknown-channel" "$T/steal.out"
probe carol --xml "$(req receiver)" >"$T/still.out"
check "... and the owner's channels still count (17th still refused)" \
    grep -q "<quota-exceeded" "$T/still.out"
probe carol --xml "$(rel "channel='$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')'")" >"$T/unknown.out"
check "release of an unknown id: item-not-found + unknown-channel" \
    grep -q "<item-not-found.*<unknown-channel" "$T/unknown.out"
garbled() { # WHAT ATTRIBUTES
    probe carol --xml "$(rel "$2")" >"$T/garbled.out"
    check "release with $1: bad-request + bad-attribute channel" \
        grep -q '<bad-request.*<bad-attribute[^>]*name="channel"' "$T/garbled.out"
}
garbled "channel='xyz'" "channel='xyz'"
garbled "63 hex digits" "channel='${CH:1}'"
garbled "65 hex digits" "channel='${CH}0'"
garbled "upper-case hex" "channel='$(echo "$CH" | tr a-f A-F)'"
garbled "an empty channel" "channel=''"
garbled "no channel attribute" "id='$CH'"
probe mallory --conns 10 --repeat 100 --quiet --seconds 60 \
    --xml "$(rel "channel='$CH'")" >"$T/flood.out"
check "a flood of 1000 releases: every one answered with an error ($(tail -1 "$T/flood.out"))" \
    grep -q "probe: 1000 replies, 0 verified, 1000 errors" "$T/flood.out"
probe carol --xml "$(req receiver)" >"$T/after.out"
check "... after which carol's 16 channels still count" \
    grep -q "<quota-exceeded" "$T/after.out"
probe carol --xml "$(rel "channel='$CH'")" >"$T/own.out"
check "the owner's release is answered with a result" \
    grep -q 'type="result"' "$T/own.out"
probe carol --xml "$(req receiver)" >"$T/freed.out"
check "... and frees a channel at once: the next request is served" \
    grep -q "1 verified" "$T/freed.out"
probe carol --xml "$(rel "channel='$CH'")" >"$T/twice.out"
check "a second release of the same channel: item-not-found" \
    grep -q "<item-not-found.*<unknown-channel" "$T/twice.out"
check "the component is still up" alive "$COMPONENT_PID"

# ---- the rate limit: a burst of 120, then 2 a second ---------------------
probe rate --release --repeat 130 --seconds 60 --xml "$(req sender)" >"$T/rate.out"
check "past 120 requests: resource-constraint + rate-limited" \
    grep -q "<resource-constraint.*<rate-limited" "$T/rate.out"
check "the refusal says: rate limit 120/min; retry in N s" \
    grep -Eq "<text[^>]*>rate limit 120/min; retry in [0-9]+ s</text>" "$T/rate.out"
ok=$(sed -n 's/^probe: \([0-9]*\) released.*/\1/p' "$T/rate.out")
check "the burst: ${ok:-0} of 130 served and released (120 plus the refill)" \
    test "${ok:-0}" -ge 120 -a "${ok:-0}" -lt 130

finish
