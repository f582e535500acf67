#!/bin/bash
# The test network in Linux network namespaces (tests/network/topology.env):
# hosts xmpp (Prosody + component), relay, alice and bob on a bridge, bob's
# link shaped to 8 Mbit/s (+40 ms with netem where the kernel has it).
#  1. alice -> bob 32 MiB: bob's first bytes arrive while alice still sends,
#     alice gets SLOW_DOWN, the relay's memory stays bounded, the file is
#     byte-identical.
#  2. bob's link cut mid-transfer: alice ends with "peer gone" within the
#     relay's idle timeout; link restored, a resume completes the file.
# Needs root and iproute2; skips (77) otherwise. Tears everything down.
. "${top_srcdir:-.}/tests/integration/lib.sh"
. "$top_srcdir/tests/network/topology.env"

if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null ||
    ! ip netns add "fx-probe-$$" 2>/dev/null; then
    echo "netns: needs root and network namespaces; skipped"
    exit 77
fi
ip netns del "fx-probe-$$"
P="fx$$"
HOSTS="xmpp relay alice bob"
teardown() {
    # Whatever still runs in a namespace dies with it, never outlives it.
    for h in $HOSTS sw; do
        ip netns pids "$P-$h" 2>/dev/null | xargs -r kill -9 2>/dev/null
        ip netns del "$P-$h" 2>/dev/null
    done
}
trap 'cleanup; teardown' EXIT

ip netns add "$P-sw"
ip netns exec "$P-sw" ip link add br0 type bridge
ip netns exec "$P-sw" ip link set br0 up
for h in $HOSTS; do
    ip netns add "$P-$h"
    ip link add "$h" netns "$P-sw" type veth peer name eth0 netns "$P-$h"
    ip netns exec "$P-sw" ip link set "$h" master br0 up
    var=$(echo "$h" | tr a-z A-Z)_IP
    ip netns exec "$P-$h" ip addr add "${!var}/24" dev eth0
    ip netns exec "$P-$h" ip link set eth0 up
    ip netns exec "$P-$h" ip link set lo up
done
on() { local h=$1; shift; ip netns exec "$P-$h" "$@"; }
# on_bg HOST CMD... &: the same in the background, exec'd so that $! is the
# daemon itself (cleanup() kills $PIDS).
on_bg() { local h=$1; shift; exec ip netns exec "$P-$h" "$@"; }
# Bob's downlink: the bridge port toward bob.
if on sw tc qdisc add dev bob root handle 1: netem delay 40ms 2>/dev/null; then
    on sw tc qdisc add dev bob parent 1: handle 2: tbf rate 8mbit burst 32kbit latency 400ms
    shaping="8 Mbit/s + 40 ms"
else
    on sw tc qdisc add dev bob root tbf rate 8mbit burst 32kbit latency 400ms
    shaping="8 Mbit/s (no netem in this kernel: no added delay)"
fi
trace "bob's link: $shaping"
on_port() { local n=0; until on "$1" ss -ltnH "sport = :$2" | grep -q .; do
    n=$((n + 1)); [ $n -gt 200 ] && return 1; sleep 0.05; done; }

# relay host
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/secret"
printf '[relay]\nlisten = %s:%s\nsecret_files = %s\nstats_listen = %s:%s\n[limits]\nidle_timeout = 5\nbuffer_size = 524288\n' \
    "$RELAY_IP" "$RELAY_PORT" "$T/secret" "$RELAY_IP" "$STATS_PORT" >"$T/relay.conf"
on_bg relay "$RELAY" -f "$T/relay.conf" -v 2>>"$T/relay.log" &
RELAY_PID=$!
PIDS="$PIDS $RELAY_PID"
on_port relay "$RELAY_PORT" || fail "relay did not start"

# xmpp host: Prosody + component
write_prosody_conf "$XMPP_IP" "$C2S_PORT" "$COMPONENT_PORT" "$XMPP_DOMAIN" \
    "$COMPONENT_JID"
on_bg xmpp prosody --config "$PROSODY_CONF" >>"$T/prosody.log" 2>&1 &
PIDS="$PIDS $!"
on_port xmpp "$C2S_PORT" && on_port xmpp "$COMPONENT_PORT" || fail "prosody did not start"
for u in alice bob; do
    prosodyctl --config "$PROSODY_CONF" register "$u" "$XMPP_DOMAIN" "$u-pw" >>"$T/prosody.log" 2>&1
    echo "$u-pw" >"$T/$u.pass"
done
printf '[component]\nserver = 127.0.0.1\nport = %s\njid = %s\nsecret_file = %s\n[channels]\nrelay_secret_file = %s\nrelays = %s:%s\n' \
    "$COMPONENT_PORT" "$COMPONENT_JID" "$T/component.secret" "$T/secret" \
    "$RELAY_IP" "$RELAY_PORT" >"$T/component.conf"
on_bg xmpp "$COMPONENT" -f "$T/component.conf" -v 2>>"$T/component.log" &
PIDS="$PIDS $!"
n=0
until grep -q "connected jid=" "$T/component.log" 2>/dev/null; do
    n=$((n + 1)); [ $n -gt 100 ] && { fail "component did not connect"; break; }; sleep 0.05
done

cli() { # host user cmd args...
    local h=$1 u=$2 c=$3
    shift 3
    exec ip netns exec "$P-$h" "$FERRY" "$c" -v --jid "$u@$XMPP_DOMAIN/${RES:-net}" \
        --password-file "$T/$u.pass" --server "$XMPP_IP:$C2S_PORT" \
        --component "$COMPONENT_JID" "$@"
}

# 1. real time through a slow link
head -c 33554432 /dev/urandom >"$T/src.bin"
mkdir -p "$T/in"
cli bob bob recv --dir "$T/in" --accept-from "alice@$XMPP_DOMAIN" --timeout 120 2>"$T/bob1.log" &
B=$!
wait_online "$T/bob1.log"
t0=$(date +%s%N)
cli alice alice send "bob@$XMPP_DOMAIN/net" "$T/src.bin" 2>"$T/alice1.log" &
A=$!
while [ ! -s "$T/in/src.bin.part" ] && alive $A; do sleep 0.01; done
t1=$(date +%s%N)
alive $A
check "bob's first bytes arrive while alice is still sending ($(( (t1 - t0) / 1000000 )) ms after start)" [ $? -eq 0 ]
wait $A
ar=$?
wait $B
br=$?
t2=$(date +%s%N)
check "32 MiB over the slow link: both ends exit 0" eval '[ $ar -eq 0 ] && [ $br -eq 0 ]'
check "32 MiB over the slow link: byte-identical" cmp -s "$T/src.bin" "$T/in/src.bin"
sd=$(sed -n 's/.*slow_downs=\([0-9]*\).*/\1/p' "$T/alice1.log")
check "alice received SLOW_DOWN (${sd:-0} times)" [ "${sd:-0}" -gt 0 ]
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$RELAY_PID/status")
check "relay peak memory stays bounded (${hwm} KiB)" [ "$hwm" -lt 16384 ]
trace "32 MiB in $(( (t2 - t0) / 1000000 )) ms; first byte at bob after $(( (t1 - t0) / 1000000 )) ms; relay peak ${hwm} KiB"

# 2. cut bob's link mid-transfer, then resume
rm -rf "$T/in" && mkdir -p "$T/in"
cli bob bob recv --dir "$T/in" --accept-from "alice@$XMPP_DOMAIN" --timeout 120 2>"$T/bob2.log" &
B=$!
wait_online "$T/bob2.log"
cli alice alice send --sid net-resume-1 "bob@$XMPP_DOMAIN/net" "$T/src.bin" 2>"$T/alice2.log" &
A=$!
while [ "$(stat -c %s "$T/in/src.bin.part" 2>/dev/null || echo 0)" -lt 4000000 ] && alive $A; do
    sleep 0.05
done
on sw ip link set bob down
tc0=$(date +%s%N)
wait $A
ar=$?
tc1=$(date +%s%N)
[ $ar -eq 66 ] || { echo "[netns] alice exited $ar; her log ends:"; tail -8 "$T/alice2.log"; } >&2
check "link cut: alice exits 66 (peer gone): $ar" [ $ar -eq 66 ]
check "link cut: detected within the 5 s idle timeout (+2 s) ($(( (tc1 - tc0) / 1000000 )) ms)" \
    [ $(( (tc1 - tc0) / 1000000 )) -lt 7500 ]
grep -q "reason=idle-timeout" "$T/alice2.log"
check "link cut: the reason is idle-timeout" [ $? -eq 0 ]
kill -9 $B 2>/dev/null
wait $B 2>/dev/null
on sw ip link set bob up
check "link cut: no file under the final name" [ ! -e "$T/in/src.bin" ]
# Bob comes back under a new resource, as a restarted client usually does:
# his killed client's session lingers on the server until its connection
# is found dead. Alice offers once he is online (an offer to a full JID
# that is not there is lost, and the sender times out).
RES=net2 cli bob bob recv --dir "$T/in" --accept-from "alice@$XMPP_DOMAIN" --timeout 120 2>"$T/bob3.log" &
B=$!
wait_online "$T/bob3.log"
cli alice alice send --sid net-resume-1 "bob@$XMPP_DOMAIN/net2" "$T/src.bin" 2>"$T/alice3.log" &
A=$!
wait $A
ar=$?
wait $B
br=$?
check "after the link is restored, resume completes the file" \
    eval '[ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/src.bin" "$T/in/src.bin"'
check "the resume started past chunk 0" grep -q "event=resuming" "$T/bob3.log"
finish
