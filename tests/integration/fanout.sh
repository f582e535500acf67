#!/bin/bash
# One sender, many receivers (XEP "Fan-out"), through a real Prosody (with
# its MUC), the component and the relay: every device of a contact gets one
# send; every occupant of a room gets one send; a receiver that declines
# and one that is killed midway leave the others whole; a receiver that
# stops reading is dropped (too-slow) past the relay's lag limit, and later
# resumes one-to-one; one that pauses briefly is caught up. The sender
# uploads each byte once: the relay counts what it read from it.
. "${top_srcdir:-.}/tests/integration/lib.sh"

# A short lag limit, so a stopped receiver is dropped within the test.
start_relay "[limits]" "fanout_lag_ms = 1500" || exit 1
PROSODY_MUC=1
start_prosody || exit 1
start_component || exit 1
for u in alice bob carol dave erin frank; do register_user $u $u-pw; done
head -c 48000000 /dev/urandom >"$T/f.bin"
head -c 300000000 /dev/urandom >"$T/big.bin"

# recv_bg NAME USER [RES] ARGS...: a receiver in the background, into
# $T/NAME/, logging to $T/NAME.log; its PID in $NAME_pid.
recv_bg() {
    local name=$1 user=$2 res=$3
    shift 3
    mkdir -p "$T/$name"
    (RES=$res ferry_cli "$user" recv --dir "$T/$name" --timeout 60 "$@" \
        2>"$T/$name.log") &
    eval "${name}_pid=$!"
}

# wait_part FILE BYTES: until FILE (a .part) holds more than BYTES (8 s).
wait_part() {
    local n=0
    until [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt "$2" ]; do
        n=$((n + 1)); [ $n -gt 400 ] && return 1; sleep 0.02
    done
}

# outcome LOG JID: what alice's receipt line says of JID.
outcome() {
    sed -n "s|.* receipt jid=$2 outcome=\([^ ]*\) .*|\1|p" "$1" | tail -1
}

# 1. Three devices of bob; `ferry send bob@localhost` reaches all three.
for r in phone desk laptop; do
    recv_bg "dev_$r" bob "$r" --accept-from alice@localhost
done
for r in phone desk laptop; do wait_online "$T/dev_$r.log" || fail "bob/$r online"; done
(ferry_cli alice send bob@localhost "$T/f.bin" 2>"$T/dev.alice.log")
ar=$?
ok=1
for r in phone desk laptop; do
    eval "wait \$dev_${r}_pid" || ok=0
    cmp -s "$T/f.bin" "$T/dev_$r/f.bin" || ok=0
done
trace "devices: alice $ar"
check "three devices: the sender exits 0" [ $ar -eq 0 ]
check "three devices: every device exits 0 with an identical copy" [ $ok -eq 1 ]
check "three devices: one receipt per device, all verified" \
    eval '[ "$(grep -c "receipt jid=bob@localhost/.* outcome=verified" "$T/dev.alice.log")" = 3 ]'
check "three devices: one fan-out channel" \
    grep -q "event=channel" "$T/dev.alice.log"
up=$(metric ferry_relay_bytes_from_senders_total)
trace "relay read from senders: ${up:-?} bytes for a 48000000-byte file"
if [ -n "$up" ]; then
    check "three devices: the sender uploaded each byte once (< 1.01x)" \
        awk -v u="$up" 'BEGIN { exit !(u < 48000000 * 1.01) }'
fi

# 2. Five occupants of a room; alice sends to the room.
ROOM=team@$MUC_DOMAIN
for u in bob carol dave erin frank; do
    recv_bg "room_$u" $u cli --muc "$ROOM" --yes
done
for u in bob carol dave erin frank; do
    n=0
    until grep -q "joined $ROOM" "$T/room_$u.log" 2>/dev/null; do
        n=$((n + 1)); [ $n -gt 300 ] && break; sleep 0.05
    done
done
(ferry_cli alice send --muc "$ROOM" "$T/f.bin" 2>"$T/room.alice.log")
ar=$?
ok=1 codes=
for u in bob carol dave erin frank; do
    eval "wait \$room_${u}_pid"
    c=$?
    codes="$codes $u:$c"
    [ $c -eq 0 ] || ok=0
    cmp -s "$T/f.bin" "$T/room_$u/f.bin" || ok=0
done
trace "room: alice $ar, receivers$codes"
check "room: the sender exits 0" [ $ar -eq 0 ]
check "room: five occupants, each an identical copy" [ $ok -eq 1 ]
check "room: five receipts by room JID, all verified" \
    eval '[ "$(grep -c "receipt jid=$ROOM/.* outcome=verified" "$T/room.alice.log")" = 5 ]'

# 3. One declines, one is killed midway; the others complete.
recv_bg rj_no bob no --accept-from nobody@localhost
recv_bg rj_kill bob kill --accept-from alice@localhost
recv_bg rj_a bob a --accept-from alice@localhost
recv_bg rj_b bob b --accept-from alice@localhost
for n in no kill a b; do wait_online "$T/rj_$n.log"; done
(ferry_cli alice send bob@localhost "$T/big.bin" 2>"$T/rj.alice.log") &
a=$!
wait_part "$T/rj_kill/big.bin.part" 1000000
kill -9 $rj_kill_pid
wait $a
ar=$?
wait $rj_a_pid && wait $rj_b_pid
ok=$?
trace "decline+kill: alice $ar"
check "decline+kill: the others exit 0 with identical copies" \
    eval '[ $ok -eq 0 ] && cmp -s "$T/big.bin" "$T/rj_a/big.bin" && cmp -s "$T/big.bin" "$T/rj_b/big.bin"'
check "decline+kill: the decline is its own receipt" \
    eval '[ "$(outcome "$T/rj.alice.log" bob@localhost/no)" = not-acceptable ]'
check "decline+kill: the killed one is gone, not verified" \
    eval 'o=$(outcome "$T/rj.alice.log" bob@localhost/kill); [ -n "$o" ] && [ "$o" != verified ]'
check "decline+kill: the sender says not all verified (exit != 0)" [ $ar -ne 0 ]

# 4. A receiver stopped longer than the lag limit is dropped (too-slow),
# the others go on; afterwards it resumes one-to-one from where it was.
recv_bg sl_slow bob slow --accept-from alice@localhost
recv_bg sl_a bob a2 --accept-from alice@localhost
for n in slow a; do wait_online "$T/sl_$n.log"; done
(ferry_cli alice send bob@localhost "$T/big.bin" 2>"$T/sl.alice.log") &
a=$!
# Past the first CHECK (every 64 MiB): what a resume may keep.
wait_part "$T/sl_slow/big.bin.part" 80000000
kill -STOP $sl_slow_pid
sleep 4
kill -CONT $sl_slow_pid
wait $a
ar=$?
wait $sl_a_pid
sa=$?
wait $sl_slow_pid
trace "slow: alice $ar, fast $sa"
check "slow: the fast one completes" \
    eval '[ $sa -eq 0 ] && cmp -s "$T/big.bin" "$T/sl_a/big.bin"'
check "slow: the stopped one was dropped as too-slow" \
    eval '[ "$(outcome "$T/sl.alice.log" bob@localhost/slow)" = too-slow ]'
check "slow: it kept its partial file and a resume record" \
    eval 'ls "$T"/sl_slow/big.bin.part "$T"/sl_slow/big.bin.ferry >/dev/null 2>&1'
recv_bg sl_again bob slow --accept-from alice@localhost
wait_online "$T/sl_again.log"
mv "$T"/sl_slow/big.bin.part "$T"/sl_slow/big.bin.ferry "$T/sl_again/" 2>/dev/null
(ferry_cli alice send bob@localhost/slow "$T/big.bin" 2>"$T/sl2.alice.log")
ar=$?
wait $sl_again_pid
check "slow: it resumes one-to-one later, and the copy is identical" \
    eval '[ $ar -eq 0 ] && cmp -s "$T/big.bin" "$T/sl_again/big.bin"'
check "slow: the second session resumed past chunk 0" \
    grep -q "event=resuming" "$T/sl2.alice.log"

# 5. A pause shorter than the lag limit: caught up, nobody dropped.
recv_bg cu_p bob pause --accept-from alice@localhost
recv_bg cu_a bob a3 --accept-from alice@localhost
for n in p a; do wait_online "$T/cu_$n.log"; done
(ferry_cli alice send bob@localhost "$T/big.bin" 2>"$T/cu.alice.log") &
a=$!
wait_part "$T/cu_p/big.bin.part" 1000000
kill -STOP $cu_p_pid
sleep 0.5
kill -CONT $cu_p_pid
wait $a
ar=$?
wait $cu_p_pid && wait $cu_a_pid
ok=$?
check "pause: both complete, the sender exits 0" \
    eval '[ $ar -eq 0 ] && [ $ok -eq 0 ] && cmp -s "$T/big.bin" "$T/cu_p/big.bin"'

finish
