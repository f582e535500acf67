#!/bin/bash
# ferry-relay's fan-out channels (one sender, up to `slots` receivers)
# against the wire-protocol test client: every leg gets the file intact;
# a receiver refused at AUTH (taken slot, wrong slot key, slot out of
# range, 66-byte AUTH), killed, too slow or too late is the only one to
# fail while the others complete; a bad LEG is the sender's error alone;
# 50 legs of 64 MiB with bounded relay memory.
. "${top_srcdir:-.}/tests/integration/lib.sh"

BUF=524288
start_relay "[limits]" "buffer_size = $BUF" "max_per_ip = 128" \
    "fanout_lag_ms = 1000" || exit 1
S="$T/secret"
head -c 4194304 /dev/urandom >"$T/4m"
head -c 16777216 /dev/urandom >"$T/16m"
head -c 67108864 /dev/urandom >"$T/64m"

mint() { "$TC" mint --secret-file "$S" "$@"; }
tc() { "$TC" "$1" --port "$RELAY_PORT" --secret-file "$S" "${@:2}"; }
metric() {
    "$TC" http --port "$STATS_PORT" | awk -v m="$1" '$1 == m {print $2}'
}
# leg_outcome FILE SLOT OUTCOME [CODE]: the sender's line for that leg.
leg_outcome() {
    grep -q "event=leg slot=$2 outcome=$3 code=${4:-none}\$" "$1"
}
# legs_ok PREFIX N FILE: receivers 0..N-1 of PREFIX exited 0 with FILE.
legs_ok() {
    local i
    for i in $(seq 0 $(($2 - 1))); do
        [ "$(cat "$T/$1.$i.rc")" = 0 ] && cmp -s "$3" "$T/$1.$i.out" ||
            return 1
    done
}
# recv_bg PREFIX SLOT [options]: a receiver in the background; its exit
# status lands in PREFIX.SLOT.rc.
recv_bg() {
    (
        tc recv --id "$id" --slot "$2" --out "$T/$1.$2.out" "${@:3}" \
            >"$T/$1.$2.recv" 2>&1
        echo $? >"$T/$1.$2.rc"
    ) &
    RPIDS="$RPIDS $!"
}
wait_recvs() {
    local p
    for p in $RPIDS; do wait "$p"; done
    RPIDS=""
}
# wait_for FILE PATTERN: until FILE has PATTERN (at most 10 s).
wait_for() {
    local n=0
    until grep -q "$2" "$1" 2>/dev/null; do
        n=$((n + 1))
        [ $n -gt 200 ] && return 1
        sleep 0.05
    done
}
t0=$SECONDS

# Three legs, one file: each byte-identical, each verified to the sender.
id=$(mint --slots 3)
for i in 0 1 2; do recv_bg ok3 $i; done
tc send --id "$id" --legs 3 --file "$T/16m" >"$T/ok3.send" 2>&1
sr=$?
wait_recvs
check "3 legs: the sender saw all three verified (exit $sr)" [ $sr -eq 0 ]
check "3 legs: every receiver has the file byte-identical" legs_ok ok3 3 "$T/16m"
for i in 0 1 2; do
    check "3 legs: leg $i verified" leg_outcome "$T/ok3.send" $i verified
done
check "3 legs: each receiver got its KEY before the data" \
    eval 'for i in 0 1 2; do grep -q "event=key" "$T/ok3.$i.recv" || exit 1; done'

# Refusals at AUTH, each to the offender only; the three legs complete.
id=$(mint --slots 4)
for i in 0 1 2; do recv_bg au $i; done
wait_for "$T/au.0.recv" "event=admitted"
tc recv --id "$id" --slot 0 --out "$T/au.dup" >"$T/au.dup.recv" 2>&1
check "a slot already taken gets role-taken" \
    grep -q "event=error code=role-taken" "$T/au.dup.recv"
tc recv --id "$id" --slot 3 --slot-key 0 --out "$T/au.key" \
    >"$T/au.key.recv" 2>&1
check "a wrong slot key gets bad-proof" \
    grep -q "event=error code=bad-proof" "$T/au.key.recv"
tc recv --id "$id" --slot 4 --out "$T/au.range" >"$T/au.range.recv" 2>&1
check "slot >= slots gets bad-value" \
    grep -q "event=error code=bad-value" "$T/au.range.recv"
tc recv --id "$id" --slot 3 --auth66 --out "$T/au.66" >"$T/au.66.recv" 2>&1
check "a 66-byte receiver AUTH on a fan-out channel gets bad-value" \
    grep -q "event=error code=bad-value" "$T/au.66.recv"
tc recv --id "$(mint)" --slot 0 --out "$T/au.67" >"$T/au.67.recv" 2>&1
check "a 67-byte AUTH on a one-to-one channel gets bad-value" \
    grep -q "event=error code=bad-value" "$T/au.67.recv"
tc send --id "$id" --legs 3 --file "$T/4m" >"$T/au.send" 2>&1
sr=$?
wait_recvs
check "after the refusals the three legs complete (exit $sr)" \
    eval '[ $sr -eq 0 ] && legs_ok au 3 "$T/4m"'

# A leg killed mid-transfer: gone for the sender, the others intact.
id=$(mint --slots 3)
recv_bg k9 0
recv_bg k9 1
# "$TC" itself, not the tc function: $! must be the client's pid.
"$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" --slot 2 \
    --out "$T/k9.2.out" --read-delay-ms 20 >"$T/k9.2.recv" 2>&1 &
victim=$!
tc send --id "$id" --legs 3 --file "$T/16m" >"$T/k9.send" 2>&1 &
ks=$!
wait_for "$T/k9.2.recv" "event=first-byte"
kill -9 $victim
wait $ks
sr=$?
wait $victim 2>/dev/null
wait_recvs
check "killed leg: the sender reports it gone peer-closed" \
    leg_outcome "$T/k9.send" 2 gone peer-closed
check "killed leg: the other two complete intact" legs_ok k9 2 "$T/16m"
check "killed leg: the other two verified to the sender (exit $sr: 4)" \
    eval 'leg_outcome "$T/k9.send" 0 verified && leg_outcome "$T/k9.send" 1 verified && [ $sr -eq 4 ]'

# A leg whose CANCEL carries no wire code: its own error (the relay checks
# the whole frame before it wraps it for the sender, who would refuse the
# LEG and end every leg); the other two complete.
id=$(mint --slots 3)
recv_bg bc 0
recv_bg bc 1
tc raw --id "$id" --role receiver --slot 2 --hex "1300000200ff" \
    >"$T/bc.2.raw" 2>&1 &
bp=$!
tc send --id "$id" --legs 3 --file "$T/4m" >"$T/bc.send" 2>&1
wait $bp
wait_recvs
check "bad CANCEL code from a leg: ERROR bad-value to it alone" \
    grep -q "event=error code=bad-value" "$T/bc.2.raw"
check "bad CANCEL code from a leg: the others verified and intact" \
    eval 'legs_ok bc 2 "$T/4m" && leg_outcome "$T/bc.send" 0 verified && leg_outcome "$T/bc.send" 1 verified'

# A leg that comes and goes before the sender spends its own slot, not
# the channel: the sender and the other leg go on.
id=$(mint --slots 2)
timeout 1 "$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --slot 1 --out "$T/early.x" >/dev/null 2>&1
recv_bg el 0
tc send --id "$id" --legs 2 --join-ms 500 --file "$T/4m" >"$T/el.send" 2>&1
wait_recvs
check "a leg that left before the sender came: the channel still serves" \
    eval 'legs_ok el 1 "$T/4m" && leg_outcome "$T/el.send" 0 verified'

# A leg still attached when its channel expires (no sender came): the
# relay keeps the channel until the leg is gone (no use after free).
id=$(mint --slots 2 --ttl 2)
recv_bg ex 0
sleep 3.5
kill $RPIDS 2>/dev/null
pkill -f -- "--id $id" 2>/dev/null
wait_recvs
sleep 1.2
check "a leg on an expired channel leaves: the relay lives on" alive "$RELAY_PID"

# A leg that cancels and a leg that sends what a receiver may not: each
# is gone for the sender (cancelled, peer-error), the others complete.
id=$(mint --slots 4)
recv_bg ce 0
recv_bg ce 1
tc recv --id "$id" --slot 2 --out "$T/ce.2.out" --cancel-after 3 \
    >"$T/ce.2.recv" 2>&1 &
cp=$!
tc raw --id "$id" --role receiver --slot 3 --hex "15000030$(printf '%096d' 0)" \
    >"$T/ce.3.raw" 2>&1 &
ep=$!
tc send --id "$id" --legs 4 --file "$T/4m" >"$T/ce.send" 2>&1
wait $cp $ep
wait_recvs
check "cancelling leg: the sender sees it gone cancelled" \
    leg_outcome "$T/ce.send" 2 gone cancelled
check "offending leg: it gets ERROR unexpected" \
    grep -q "event=error code=unexpected" "$T/ce.3.raw"
check "offending leg: the sender sees it gone peer-error" \
    leg_outcome "$T/ce.send" 3 gone peer-error
check "cancel and error: the other two complete intact" \
    eval 'legs_ok ce 2 "$T/4m" && leg_outcome "$T/ce.send" 0 verified && leg_outcome "$T/ce.send" 1 verified'

# The sender killed mid-transfer: every leg hears PEER_GONE.
id=$(mint --slots 2)
recv_bg sk 0 --read-delay-ms 20
recv_bg sk 1 --read-delay-ms 20
"$TC" send --port "$RELAY_PORT" --secret-file "$S" --id "$id" --legs 2 \
    --file "$T/16m" >"$T/sk.send" 2>&1 &
skp=$!
wait_for "$T/sk.send" "event=first-data"
kill -9 $skp
wait $skp 2>/dev/null
wait_recvs
check "sender killed: every leg gets PEER_GONE peer-closed" \
    eval 'grep -q "event=peer-gone reason=peer-closed" "$T/sk.0.recv" && grep -q "event=peer-gone reason=peer-closed" "$T/sk.1.recv"'

# A leg that reads too slowly is dropped too-slow after fanout_lag_ms.
# Its ERROR waits behind the megabytes already in the socket buffers, which
# it reads at 1.5 s a frame: it is killed once the others are done.
slow0=$(metric ferry_relay_fanout_dropped_slow_total)
id=$(mint --slots 3)
recv_bg sl 0
recv_bg sl 1
"$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" --slot 2 \
    --out "$T/sl.2.out" --read-delay-ms 1500 >"$T/sl.2.recv" 2>&1 &
slow=$!
ts=$SECONDS
tc send --id "$id" --legs 3 --file "$T/16m" >"$T/sl.send" 2>&1
sr=$?
wait_recvs
kill $slow 2>/dev/null
wait $slow 2>/dev/null
check "slow leg: the sender sees it gone too-slow" \
    leg_outcome "$T/sl.send" 2 gone too-slow
check "slow leg: the relay sent it ERROR too-slow" \
    grep -q "error=too-slow .*role=receiver" "$T/relay.log"
check "slow leg: the others complete intact ($((SECONDS - ts)) s)" \
    eval 'legs_ok sl 2 "$T/16m" && leg_outcome "$T/sl.send" 0 verified && leg_outcome "$T/sl.send" 1 verified'
check "slow leg: counted in ferry_relay_fanout_dropped_slow_total" \
    [ "$(metric ferry_relay_fanout_dropped_slow_total)" -gt "$slow0" ]

# A leg that stops reading (SIGSTOP, before the sender comes) is dropped
# the same way; woken up after the drop, it reads what was queued and then
# its ERROR too-slow.
id=$(mint --slots 3)
recv_bg st 0
recv_bg st 1
"$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" --slot 2 \
    --out "$T/st.2.out" >"$T/st.2.recv" 2>&1 &
stopped=$!
wait_for "$T/st.2.recv" "event=admitted"
kill -STOP $stopped
tc send --id "$id" --legs 3 --file "$T/16m" >"$T/st.send" 2>&1 &
sp=$!
wait_for "$T/st.send" "event=leg-gone slot=2"
kill -CONT $stopped
wait $sp
sr=$?
wait $stopped
wait_recvs
check "stopped leg: it gets ERROR too-slow once it reads again" \
    grep -q "event=error code=too-slow" "$T/st.2.recv"
check "stopped leg: the sender sees it gone too-slow, the others verified" \
    eval 'leg_outcome "$T/st.send" 2 gone too-slow && leg_outcome "$T/st.send" 0 verified && leg_outcome "$T/st.send" 1 verified'
check "stopped leg: the others complete intact" legs_ok st 2 "$T/16m"

# A receiver that comes after the data began is too late.
id=$(mint --slots 3)
recv_bg tl 0 --read-delay-ms 20
recv_bg tl 1
tc send --id "$id" --legs 3 --join-ms 300 --file "$T/4m" \
    >"$T/tl.send" 2>&1 &
tlp=$!
wait_for "$T/tl.send" "event=first-data"
tc recv --id "$id" --slot 2 --out "$T/tl.2.out" >"$T/tl.2.recv" 2>&1
check "late receiver gets too-late" \
    grep -q "event=error code=too-late" "$T/tl.2.recv"
wait $tlp
wait_recvs
check "late receiver: the two legs on time complete" legs_ok tl 2 "$T/4m"
check "late receiver: the sender reports it not joined" \
    leg_outcome "$T/tl.send" 2 gone not-joined

# A bad LEG from the sender is its error alone; its legs hear PEER_GONE.
# slot out of range, PEER_JOINED inside, LEG inside LEG, truncated inner
# frame, a LEG longer than any inner frame.
for bad in 240000050520000000 240000050020000000 \
    2400000a00240000050020000000 240000050013000002 24000046; do
    id=$(mint --slots 2)
    recv_bg bl 0
    recv_bg bl 1
    # both legs in before the sender (a leg that comes after it left is
    # refused, and would hear no PEER_GONE)
    wait_for "$T/bl.0.recv" "event=admitted"
    wait_for "$T/bl.1.recv" "event=admitted"
    tc raw --id "$id" --role sender --hex "$bad" >"$T/bl.raw" 2>&1
    wait_recvs
    code=$(sed -n 's/.*event=error code=\([a-z-]*\).*/\1/p' "$T/bl.raw")
    check "bad LEG $bad: ERROR $code to the sender" \
        grep -q "event=error code=[a-z-]" "$T/bl.raw"
    check "bad LEG $bad: its legs get PEER_GONE peer-error" \
        grep -q "event=peer-gone reason=peer-error" "$T/bl.0.recv"
done

# 50 legs of 64 MiB on one channel, relay memory bounded by the rings.
base=$(relay_rss_kb)
id=$(mint --slots 50)
# Each leg opens and hashes the data (END's SHA-256 must match) but
# writes it nowhere: 50 copies would be 3.2 GB of disk.
for i in $(seq 0 49); do recv_bg big $i --out /dev/null; done
ts=$SECONDS
tc send --id "$id" --legs 50 --file "$T/64m" >"$T/big.send" 2>&1
sr=$?
wait_recvs
secs=$((SECONDS - ts))
hwm=$(relay_rss_kb)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$RELAY_PID/status")
# 50 rings of buffer_size, plus a staging ring, the ring toward the
# sender and per-connection state, on top of the relay's own size.
bound=$((base + 50 * BUF / 1024 + 8192))
trace "50 legs x 64 MiB: ${secs} s; relay VmHWM ${hwm} KiB, VmRSS ${rss} KiB," \
    "before ${base} KiB, bound ${bound} KiB (50 x $((BUF / 1024)) KiB + 8 MiB)"
check "50 legs: the sender saw all fifty verified (exit $sr)" [ $sr -eq 0 ]
want=$(sha256sum "$T/64m" | cut -d' ' -f1)
check "50 legs: every receiver verified 64 MiB with the file's SHA-256" \
    eval 'for i in $(seq 0 49); do [ "$(cat "$T/big.$i.rc")" = 0 ] && grep -q "event=done bytes=67108864 sha256=$want " "$T/big.$i.recv" || exit 1; done'
check "50 legs: relay peak memory ${hwm} KiB < ${bound} KiB" [ "$hwm" -lt "$bound" ]
check "50 legs: counted in ferry_relay_fanout_legs_total" \
    [ "$(metric ferry_relay_fanout_legs_total)" -ge 50 ]

check "one-to-one still works beside fan-out" eval '
    id=$(mint)
    tc recv --id "$id" --out "$T/one.out" >"$T/one.recv" 2>&1 &
    tc send --id "$id" --file "$T/4m" >"$T/one.send" 2>&1 && wait $! &&
        cmp -s "$T/4m" "$T/one.out"'
trace "total $((SECONDS - t0)) s"
finish
