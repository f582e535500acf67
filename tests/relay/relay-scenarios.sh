#!/bin/bash
# ferry-relay against the wire-protocol test client: transfers, every
# rejection path with its error code (each followed by a neighbouring
# transfer that must still complete), disconnect propagation, flow
# control with bounded memory, config check, drain on SIGTERM.
. "${top_srcdir:-.}/tests/integration/lib.sh"

start_relay "[limits]" "handshake_timeout_ms = 600" "max_per_ip = 64" \
    "buffer_size = 262144" || exit 1
S="$T/secret"
head -c 1048576 /dev/urandom >"$T/1m"
head -c 67108864 /dev/urandom >"$T/64m"

mint() { "$TC" mint --secret-file "$S" "$@"; }

# transfer FILE NAME [recv options]: one receiver, one sender, compare.
transfer() {
    id=$(mint)
    "$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
        --out "$T/$2.out" "${@:3}" >"$T/$2.recv" 2>&1 &
    rp=$!
    "$TC" send --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
        --file "$1" >"$T/$2.send" 2>&1
    sr=$?
    wait $rp
    rr=$?
    [ $sr -eq 0 ] && [ $rr -eq 0 ] && cmp -s "$1" "$T/$2.out"
}

neighbour() { transfer "$T/1m" "n$1"; }

# expect_error NAME OUTFILE: the client saw ERROR with that code.
expect_error() { grep -q "event=error code=$1 " "$2"; }

check "1 MiB transfer arrives byte-identical" transfer "$T/1m" t1
check "the sender opened the receiver's sealed VERIFIED" \
    grep -q "event=verified" "$T/t1.send"
check "64 MiB transfer arrives byte-identical" transfer "$T/64m" t64

# A VERIFIED the sender must refuse, though the relay forwards it and the
# file arrived: anyone without the content key (random bytes), a
# confirmation of another size, the sender's own END reflected back.
for m in random size end; do
    id=$(mint)
    "$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
        --out "$T/fv$m.out" --forge-verified "$m" >"$T/fv$m.recv" 2>&1 &
    fv=$!
    "$TC" send --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
        --file "$T/1m" >"$T/fv$m.send" 2>&1
    sr=$?
    wait $fv
    check "forged VERIFIED ($m): the sender refuses it as integrity (exit $sr)" \
        eval '[ $sr -eq 5 ] && grep -q "event=integrity verified" "$T/fv$m.send"'
    check "forged VERIFIED ($m): never reported verified" \
        eval '! grep -q "event=verified" "$T/fv$m.send"'
done
check "neighbour transfer after forged VERIFIED" neighbour fv

# Draft 0.1.0's empty VERIFIED is refused by the relay itself.
id=$(mint)
"$TC" raw --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --role sender --hex "" >"$T/ev.send" 2>&1 &
ev=$!
sleep 0.2
"$TC" raw --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --role receiver --hex 14000000 >"$T/ev.raw" 2>&1
check "empty VERIFIED gets bad-length" expect_error bad-length "$T/ev.raw"
wait $ev
check "its sender gets PEER_GONE peer-error, not VERIFIED" \
    grep -q "event=peer-gone reason=peer-error" "$T/ev.send"
check "neighbour transfer after empty VERIFIED" neighbour ev

id=$(mint)
"$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --out "$T/wp.out" >"$T/wp.recv" 2>&1 &
wp=$!
"$TC" send --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --file "$T/1m" --wrong-proof >"$T/wp.send" 2>&1
check "wrong proof gets bad-proof (exit 3)" [ $? -eq 3 ]
check "wrong proof: error code on the wire" expect_error bad-proof "$T/wp.send"
check "neighbour transfer after wrong proof" neighbour wp
kill $wp 2>/dev/null; wait $wp 2>/dev/null

id=$(mint --ttl -10)
"$TC" send --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --file "$T/1m" >"$T/ex.send" 2>&1
check "expired channel gets expired" expect_error expired "$T/ex.send"
check "neighbour transfer after expired channel" neighbour ex

id=$(mint)
"$TC" replay --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    >"$T/rp.out" 2>&1
check "replayed challenge answer gets bad-proof" expect_error bad-proof "$T/rp.out"
check "neighbour transfer after replay" neighbour rp

id=$(mint)
"$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --out "$T/rt.out" >"$T/rt.recv" 2>&1 &
rt=$!
sleep 0.2
"$TC" raw --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --role receiver --hex 00 >"$T/rt.raw" 2>&1
check "second receiver gets role-taken" expect_error role-taken "$T/rt.raw"
kill $rt 2>/dev/null; wait $rt 2>/dev/null
check "neighbour transfer after role-taken" neighbour rt

id=$(mint)
"$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --out "$T/os.out" >"$T/os.recv" 2>&1 &
os=$!
"$TC" raw --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --role sender --hex 10100000 >"$T/os.raw" 2>&1
check "oversize DATA frame gets too-large" expect_error too-large "$T/os.raw"
wait $os
check "its receiver gets PEER_GONE peer-error" \
    grep -q "event=peer-gone reason=peer-error" "$T/os.recv"
check "neighbour transfer after oversize frame" neighbour os

"$TC" raw --port "$RELAY_PORT" --hex 474554202f20485454502f312e310d0a \
    >"$T/gb.raw" 2>&1
check "garbage bytes get unknown-type" expect_error unknown-type "$T/gb.raw"
"$TC" raw --port "$RELAY_PORT" --hex 0200004100 >"$T/bl.raw" 2>&1
check "AUTH of wrong length gets bad-length" expect_error bad-length "$T/bl.raw"
"$TC" raw --port "$RELAY_PORT" --hex 1000002000 >"$T/ue.raw" 2>&1
check "DATA before AUTH gets unexpected" expect_error unexpected "$T/ue.raw"
check "neighbour transfer after garbage" neighbour gb

start=$(date +%s%N)
"$TC" raw --port "$RELAY_PORT" --hex 020000 >"$T/sl.raw" 2>&1
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "slow-loris handshake gets handshake-timeout" \
    expect_error handshake-timeout "$T/sl.raw"
check "slow-loris cut off near the 600 ms limit (took ${ms} ms)" \
    eval '[ "$ms" -ge 500 ] && [ "$ms" -lt 3000 ]'
check "neighbour transfer after slow-loris" neighbour sl

id=$(mint)
"$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --out "$T/k9.out" --read-delay-ms 20 >"$T/k9.recv" 2>&1 &
k9=$!
"$TC" send --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --file "$T/64m" >"$T/k9.send" 2>&1 &
ks=$!
sleep 0.5
kill -9 $k9
wait $ks
check "kill -9 of the receiver: sender exits 4" [ $? -eq 4 ]
check "kill -9 of the receiver: sender gets PEER_GONE peer-closed" \
    grep -q "event=peer-gone reason=peer-closed" "$T/k9.send"
wait $k9 2>/dev/null

rss0=$(relay_rss_kb)
check "slow receiver: 64 MiB still byte-identical" \
    transfer "$T/64m" slow --read-delay-ms 2
check "slow receiver: sender got SLOW_DOWN" grep -q "event=slow-down" "$T/slow.send"
check "slow receiver: sender got RESUME" grep -q "event=resume" "$T/slow.send"
rss1=$(relay_rss_kb)
trace "relay peak RSS ${rss0} KiB before, ${rss1} KiB after the slow transfer"
check "relay memory stays bounded (peak ${rss1} KiB < 32 MiB)" \
    [ "$rss1" -lt 32768 ]
check "stats endpoint counts slow-downs" \
    [ "$(metric ferry_relay_slow_downs_total)" -ge 1 ]

printf '[relay]\nlisten = 127.0.0.1:1\nbogus = 1\n[limits]\nmax_frame = 5\n' \
    >"$T/bad.conf"
"$RELAY" -n -f "$T/bad.conf" >"$T/bad.out" 2>&1
check "-n reports every config error with its line" \
    grep -q "bad.conf:3: unknown key relay.bogus" "$T/bad.out"
check "-n reports range errors with their line" \
    grep -q "bad.conf:5: limits.max_frame: 5 out of range" "$T/bad.out"
check "-T prints effective settings" \
    sh -c "'$RELAY' -T -f '$T/relay.conf' | grep -q 'limits.buffer_size = 262144'"

# The sample config and the man page list every key of the option table.
missing=""
for k in $("$RELAY" -T -f "$T/relay.conf" | sed 's/ = .*//'); do
    key=${k#*.}
    grep -q "^$key =" "$top_srcdir/relay/ferry-relay.conf" || missing="$missing conf:$k"
    grep -q "^\.B $key\$" "$top_srcdir/relay/ferry-relay.conf.5" || missing="$missing man:$k"
done
check "sample config and ferry-relay.conf(5) list every key${missing}" [ -z "$missing" ]

id=$(mint)
"$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --out "$T/dr.out" --read-delay-ms 1 >"$T/dr.recv" 2>&1 &
dr=$!
"$TC" send --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --file "$T/64m" >"$T/dr.send" 2>&1 &
ds=$!
sleep 0.3
kill -TERM "$RELAY_PID"
wait $ds
sr=$?
wait $dr
check "SIGTERM drains: the active transfer completes" \
    eval '[ $sr -eq 0 ] && cmp -s "$T/64m" "$T/dr.out"'
i=0
while alive "$RELAY_PID" && [ $i -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
done
check "SIGTERM: relay exits once drained" gone "$RELAY_PID"
finish
