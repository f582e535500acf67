#!/bin/bash
# ferry-component against a real Prosody (or, from component-ejabberd.sh,
# a real ejabberd): disco, channel requests in both roles whose keys verify
# with common/, every refusal with its condition, malformed requests, 100
# concurrent requesters, unknown IQs, and a server restart the component
# survives.
. "${top_srcdir:-.}/tests/integration/lib.sh"
SERVER=${XMPP_SERVER:-prosody}

PROBE="$top_builddir/tests/integration/xmpp-probe"
start_relay || exit 1
if [ "$SERVER" = ejabberd ]; then
    start_ejabberd || exit 1
else
    start_prosody || exit 1
fi
start_component "[policy]" "allowed_domains = localhost" \
    "max_channels_per_jid = 3" "requests_per_minute = 1000" \
    "max_file_size = 1000000" || exit 1
register_user carol carol-pw
register_user dave dave-pw
register_user many many-pw
register_user eve eve-pw

probe() {
    u=$1
    shift
    "$PROBE" --jid "$u@localhost" --password "$u-pw" --port "$C2S_PORT" \
        --relay-secret "$T/secret" "$@"
}
req() { # role size [extra attributes]
    echo "<iq type='set' to='ferry.localhost'><request xmlns='urn:xmpp:ferry:0' sid='s@N@' peer='dave@localhost/x' role='$1' size='$2' $3/></iq>"
}

probe carol --xml "<iq type='get' to='ferry.localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>" >"$T/disco.out"
check "disco#info: feature urn:xmpp:ferry:0" grep -q "var=\"urn:xmpp:ferry:0\"" "$T/disco.out"
identity=$(grep -o '<identity [^>]*>' "$T/disco.out")
check "disco#info: identity proxy/ferry" \
    sh -c "echo '$identity' | grep -q 'category=\"proxy\"' && echo '$identity' | grep -q 'type=\"ferry\"'"
check "disco#info: limits form (XEP-0128)" grep -q 'var="chunk-size-max"' "$T/disco.out"
probe carol --xml "<iq type='get' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>" >"$T/items.out"
check "server lists the component in disco#items" grep -q 'jid="ferry.localhost"' "$T/items.out"
probe carol --xml "<iq type='get' to='ferry.localhost'><ping xmlns='urn:xmpp:ping'/></iq>" >"$T/ping.out"
check "XEP-0199 ping answered" grep -q 'type="result"' "$T/ping.out"
probe carol --xml "<iq type='get' to='ferry.localhost'><query xmlns='jabber:iq:version'/></iq>" >"$T/ver.out"
check "XEP-0092 version answered" grep -q "<name>ferry-component</name>" "$T/ver.out"

probe carol --xml "$(req receiver 1000)" >"$T/r1.out"
check "request as receiver: channel whose key verifies" grep -q "1 verified" "$T/r1.out"
probe carol --xml "$(req sender 1000 "deliver='true'")" >"$T/r2.out"
check "request as sender with delivery: key verifies" grep -q "1 verified" "$T/r2.out"
probe carol --xml "$(req sender 1000)" >/dev/null
probe carol --xml "$(req sender 1000)" >"$T/quota.out"
check "over quota: resource-constraint + quota-exceeded" \
    grep -q "<resource-constraint.*<quota-exceeded" "$T/quota.out"
probe dave --xml "$(req sender 2000000)" >"$T/big.out"
check "over the size limit: not-acceptable + too-large" \
    grep -q "<not-acceptable.*<too-large" "$T/big.out"

for bad in "role='boss'" "size='-1'" "size='99999999999999999999'" \
    "sid='bad sid'" "peer=''" "deliver='maybe'"; do
    x=$(echo "<iq type='set' to='ferry.localhost'><request xmlns='urn:xmpp:ferry:0' sid='ok' peer='dave@localhost/x' role='sender' size='1' deliver='false'/></iq>" |
        sed "s/ ${bad%%=*}='[^']*'/ $bad/")
    probe dave --xml "$x" >"$T/bad.out"
    check "malformed $bad: bad-request + bad-attribute ${bad%%=*}" \
        grep -q "<bad-request.*<bad-attribute[^>]*name=\"${bad%%=*}\"" "$T/bad.out"
done
probe dave --xml "<iq type='set' to='ferry.localhost'><request xmlns='urn:xmpp:ferry:0' sid='n' role='sender' size='1'/></iq>" >"$T/miss.out"
check "missing peer attribute: bad-attribute peer" grep -q 'name="peer"' "$T/miss.out"

# Fan-out requests (slots='N' and N <leg/>): one channel whose id carries
# the slots, counted once against the quota (3 for eve); each refusal names
# its attribute.
legs3="<leg jid='dave@localhost/x'/><leg jid='carol@localhost/y'/><leg jid='many@localhost/z'/>"
fan() { # attributes, legs
    echo "<iq type='set' to='ferry.localhost'><request xmlns='urn:xmpp:ferry:0' sid='f@N@' role='sender' size='1000' $1>$2</request></iq>"
}
probe eve --xml "$(fan "peer='dave@localhost/x' slots='3'" "$legs3")" >"$T/fan1.out"
check "fan-out request: a channel whose key verifies" grep -q "1 verified" "$T/fan1.out"
check "fan-out request: the answer says slots='3'" grep -q '<channel [^>]*slots="3"' "$T/fan1.out"
check "fan-out request: the channel id carries 3 slots" \
    grep -q '<channel [^>]*id="0003000000' "$T/fan1.out"
probe eve --xml "$(fan "slots='2'" "<leg jid='dave@localhost/x'/><leg jid='carol@localhost/y'/>")" >"$T/fan2.out"
check "fan-out request without peer: served" grep -q '<channel [^>]*slots="2"' "$T/fan2.out"
probe eve --xml "$(fan "slots='64'" "$(for i in $(seq 1 64); do printf "<leg jid='u%d@localhost/r'/>" $i; done)")" >"$T/fan64.out"
check "fan-out request with 64 legs: served, counted once (3rd of 3)" \
    grep -q '<channel [^>]*slots="64"' "$T/fan64.out"
probe eve --xml "$(fan "slots='3'" "$legs3")" >"$T/fanq.out"
check "fan-out: the 4th channel is over eve's quota of 3" \
    grep -q "<resource-constraint.*<quota-exceeded" "$T/fanq.out"
for bad in "slots0|slots|slots='0'|" "slots65|slots|slots='65'|" \
    "slotsx|slots|slots='x3'|" "count|slots|slots='2'|$legs3" \
    "legsonly|slots|peer='dave@localhost/x'|$legs3" "bare|jid|slots='1'|<leg jid='dave@localhost'/>" \
    "nojid|jid|slots='1'|<leg/>" \
    "twice|jid|slots='2'|<leg jid='dave@localhost/x'/><leg jid='dave@localhost/x'/>" \
    "peer|peer|peer='eve@localhost/q' slots='3'|$legs3" \
    "deliver|deliver|deliver='true' slots='3'|$legs3" \
    "receiver|role|slots='3'|$legs3"; do
    IFS='|' read -r name attr attrs legs <<<"$bad"
    x=$(fan "$attrs" "$legs")
    [ "$name" = receiver ] && x=$(echo "$x" | sed "s/role='sender'/role='receiver'/")
    probe dave --xml "$x" >"$T/fanbad.$name.out"
    check "fan-out refused ($name): bad-request + bad-attribute $attr" \
        grep -q "<bad-request.*<bad-attribute[^>]*name=\"$attr\"" "$T/fanbad.$name.out"
done
probe dave --xml "<iq type='get' to='ferry.localhost'><query xmlns='urn:example:unknown'/></iq>" >"$T/unk.out"
check "unknown IQ: service-unavailable" grep -q "<service-unavailable" "$T/unk.out"
probe dave --xml "<iq type='get' to='ferry.localhost'/>" >"$T/empty.out"
check "IQ without payload: bad-request" grep -q "<bad-request" "$T/empty.out"
probe dave --xml "<message to='ferry.localhost' type='chat'><body>hi</body></message>" >"$T/msg.out"
check "message to the component: service-unavailable error" \
    grep -q "<service-unavailable" "$T/msg.out"

# restart_component [EXTRA CONFIG LINES]: the component again, fresh log.
restart_component() {
    kill "$COMPONENT_PID"
    wait "$COMPONENT_PID" 2>/dev/null
    : >"$T/component.log"
    start_component "$@" || exit 1
}

# A domain not on the allow-list: a second virtual host would need DNS;
# restart the component with an allow-list that excludes localhost.
restart_component "[policy]" "allowed_domains = example.org"
probe dave --xml "$(req sender 1)" >"$T/dom.out"
check "domain not allowed: policy-violation + domain-not-allowed" \
    grep -q "<policy-violation.*<domain-not-allowed" "$T/dom.out"

# Relay health checks on the stats port. A stopped relay (its port still
# accepts, nothing answers) is taken out of the pool after the probe
# timeout, and requests get no-relay; it is back once it answers again.
wait_component_log() { # PATTERN: up to 10 s
    i=0
    while ! grep -q "$1" "$T/component.log" && [ $i -lt 200 ]; do
        sleep 0.05
        i=$((i + 1))
    done
    grep -q "$1" "$T/component.log"
}
COMPONENT_RELAYS="127.0.0.1:$RELAY_PORT,stats=127.0.0.1:$STATS_PORT" \
    restart_component "health_interval = 1"
kill -STOP "$RELAY_PID"
check "health: a relay that does not answer is marked down" \
    wait_component_log "relay down 127.0.0.1:$RELAY_PORT.*reason=timeout"
probe dave --xml "$(req sender 1)" >"$T/norelay.out"
check "no relay up: resource-constraint + no-relay" \
    grep -q "<resource-constraint.*<no-relay" "$T/norelay.out"
kill -CONT "$RELAY_PID"
check "health: the relay is back in the pool when it answers" \
    wait_component_log "relay up 127.0.0.1:$RELAY_PORT"
probe dave --xml "$(req sender 1)" >"$T/back.out"
check "and its channels verify again" grep -q "1 verified" "$T/back.out"
DEAD=$(free_port)
COMPONENT_RELAYS="127.0.0.1:$RELAY_PORT,stats=127.0.0.1:$STATS_PORT;127.0.0.1:$DEAD,stats=127.0.0.1:$DEAD" \
    restart_component "health_interval = 1" "[policy]" \
    "max_channels_per_jid = 1000" "requests_per_minute = 1000"
check "health: a relay whose stats port refuses is marked down" \
    wait_component_log "relay down 127.0.0.1:$DEAD.*reason=connect"
probe many --conns 20 --xml "$(req receiver 5)" >"$T/pool.out"
live=$(grep -c "port=\"$RELAY_PORT\"" "$T/pool.out")
dead=$(grep -c "port=\"$DEAD\"" "$T/pool.out")
check "every channel then names the live relay ($live live, $dead dead)" \
    test "$live" -eq 20 -a "$dead" -eq 0

probe many --conns 100 --quiet --seconds 60 --xml "$(req receiver 5)" >"$T/many.out"
check "100 concurrent requesters all answered, keys verify ($(tail -1 "$T/many.out"))" \
    grep -q "probe: 100 replies, 100 verified, 0 errors" "$T/many.out"

# The server restarted mid-run: the component reconnects and serves again.
if [ "$SERVER" = ejabberd ]; then
    stop_ejabberd
    ejabberd_ctl start >>"$T/ejabberdctl.log" 2>&1
    ejabberd_ctl started >>"$T/ejabberdctl.log" 2>&1
else
    kill "$PROSODY_PID"
    wait "$PROSODY_PID" 2>/dev/null
    prosody --config "$PROSODY_CONF" >>"$T/prosody.log" 2>&1 &
    PROSODY_PID=$!
    PIDS="$PIDS $PROSODY_PID"
fi
wait_port "$COMP_PORT" 200
i=0
while [ "$(grep -c "connected jid=" "$T/component.log")" -lt 2 ] && [ $i -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
done
check "component reconnected after a $SERVER restart" \
    [ "$(grep -c "connected jid=" "$T/component.log")" -ge 2 ]
probe carol --xml "$(req receiver 1000)" >"$T/after.out"
check "and serves again (key verifies)" grep -q "1 verified" "$T/after.out"
# The ferry CLI (libferry on its libstrophe adapter) through this server:
# a whole transfer, in each requester flow.
register_user erin erin-pw
register_user frank frank-pw
head -c 4194304 /dev/urandom >"$T/cli.bin"
for flow in receiver sender; do
    rm -rf "$T/cli-in" && mkdir -p "$T/cli-in"
    ferry_cli frank recv --dir "$T/cli-in" --accept-from erin@localhost \
        --timeout 30 2>"$T/cli-$flow.frank.log" &
    b=$!
    wait_online "$T/cli-$flow.frank.log"
    (ferry_cli erin send --requester $flow frank@localhost/cli "$T/cli.bin" \
        2>"$T/cli-$flow.erin.log")
    ar=$?
    wait $b
    br=$?
    check "ferry CLI through $SERVER ($flow requests): 4 MiB byte-identical" \
        eval '[ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/cli.bin" "$T/cli-in/cli.bin"'
done
finish
