#!/bin/bash
# End to end through a real Prosody, ferry-component and ferry-relay with
# the ferry CLI: both requester flows, edge sizes, small chunks, out of
# order delivery, reject, cancel, a killed receiver, a killed sender and
# resume, a tampered chunk.
. "${top_srcdir:-.}/tests/integration/lib.sh"

start_relay || exit 1
start_prosody || exit 1
start_component "[policy]" "max_channels_per_jid = 1000" \
    "requests_per_minute = 1000" || exit 1
register_user alice alice-pw
register_user bob bob-pw
mkdir -p "$T/in"

# online NAME PID: waits until the receiver logging to $T/NAME.bob.log
# waits for offers (else stops it and fails). An offer sent before that is
# lost: the server drops a message to a full JID that is not bound yet, so
# the receiver never hears of it and the sender waits for its stage
# timeout. Sleeping 0.3 s instead made cases fail at random under load.
online() {
    wait_online "$T/$1.bob.log" && return 0
    kill "$2" 2>/dev/null
    return 1
}

# part_flowing FILE: until FILE (a .part) has bytes, at most 20 s.
part_flowing() {
    local i=0
    until [ -s "$1" ]; do
        i=$((i + 1))
        [ $i -gt 1000 ] && return 1
        sleep 0.02
    done
}

# send NAME FILE [alice options]: bob accepts from alice; both must exit 0
# and bob's copy must equal FILE.
send_ok() {
    name=$1 file=$2
    shift 2
    rm -f "$T/in/$(basename "$file")"
    ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost \
        --timeout 60 2>"$T/$name.bob.log" &
    b=$!
    online "$name" $b || return 1
    (ferry_cli alice send "$@" bob@localhost/cli "$file" 2>"$T/$name.alice.log")
    ar=$?
    wait $b
    br=$?
    [ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$file" "$T/in/$(basename "$file")"
}

: >"$T/empty.bin"
printf 'x' >"$T/one.bin"
head -c 1048576 /dev/urandom >"$T/1m.bin"
head -c 67108864 /dev/urandom >"$T/64m.bin"
head -c 4194304 /dev/urandom >"$T/4m.bin"
head -c 268435456 /dev/urandom >"$T/256m.bin"

check "receiver requests (claims 2-3): 1 MiB byte-identical" \
    send_ok r1 "$T/1m.bin"
check "sender requests (claims 4-5): 1 MiB byte-identical" \
    send_ok s1 "$T/1m.bin" --requester sender
check "sender requests, component delivers: 1 MiB byte-identical" \
    send_ok d1 "$T/1m.bin" --requester sender --deliver
check "receiver requests, component delivers: 1 MiB byte-identical" \
    send_ok d2 "$T/1m.bin" --deliver
check "0 B file" send_ok z0 "$T/empty.bin"
check "1 B file" send_ok z1 "$T/one.bin" --requester sender
check "1 KiB chunks, 1 MiB file" send_ok k1 "$T/1m.bin" --chunk-size 1024
check "64 MiB, receiver flow" send_ok m64r "$T/64m.bin"
check "64 MiB, sender flow" send_ok m64s "$T/64m.bin" --requester sender
check "out-of-order chunks assemble (16 KiB chunks, shuffled)" \
    send_ok sh "$T/4m.bin" --shuffle --chunk-size 16384
# The relay keeps its default max_frame (256 KiB chunks): a sender asking
# for 1 MiB chunks is clamped to what the component announces.
check "1 MiB chunks asked, relay default: clamped, completes" \
    send_ok big "$T/4m.bin" --chunk-size 1048576
thread_send_ok() { FERRY_DATA_THREAD=1 send_ok "$@"; }
check "libferry thread mode: 64 MiB, receiver flow" \
    thread_send_ok m64t "$T/64m.bin"
check "libferry thread mode: shuffled, sender flow" \
    thread_send_ok sht "$T/4m.bin" --shuffle --chunk-size 16384 \
    --requester sender

# ChaCha20-Poly1305 (XEP "Ciphers"): the sender offers it alone, the
# receiver (default: both allowed) takes it; both -v lines name it.
check "--cipher chacha20-poly1305: 4 MiB byte-identical" \
    send_ok cc "$T/4m.bin" --cipher chacha20-poly1305
check "--cipher chacha20-poly1305: both ends were admitted with it" \
    eval 'grep -q "event=admitted .*cipher=chacha20-poly1305" "$T/cc.alice.log" &&
          grep -q "event=admitted .*cipher=chacha20-poly1305" "$T/cc.bob.log"'
check "default ciphers on this CPU: the -v line names the cipher used" \
    grep -q "event=admitted .*cipher=$(grep -qw aes /proc/cpuinfo &&
        echo aes-256-gcm || echo chacha20-poly1305)" "$T/r1.alice.log"
# No cipher in common: declined before the receiver's user is asked.
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 20 \
    --cipher chacha20-poly1305 2>"$T/nc.bob.log" &
b=$!
online nc $b || fail "nc: the receiver never came online"
(ferry_cli alice send --cipher aes-256-gcm bob@localhost/cli "$T/one.bin" \
    2>"$T/nc.alice.log")
check "no cipher in common: sender exits 65 (declined)" [ $? -eq 65 ]
kill $b 2>/dev/null
wait $b
# A bad --cipher exits right after the context is made, while libferry's
# ferry_crypto_warm() thread may still be inside OpenSSL: that exit must
# not crash in OpenSSL's exit-time cleanup (it did in one run of seven).
bad_cipher_exits() {
    local i rc
    for i in $(seq 1 150); do
        FERRY_PASSWORD=x "$FERRY" send --jid alice@localhost/cli \
            --cipher bogus bob@localhost "$T/one.bin" 2>/dev/null
        rc=$?
        [ $rc -eq 64 ] || { echo "run $i: exit $rc"; return 1; }
    done
}
check "a bad --cipher exits 64, never on a signal (150 runs)" bad_cipher_exits

# A second file of the same name never replaces the first.
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 30 \
    2>"$T/dup.bob.log" &
b=$!
online dup $b || fail "dup: the receiver never came online"
(ferry_cli alice send bob@localhost/cli "$T/one.bin" 2>"$T/dup.alice.log")
ar=$?
wait $b
check "same name again: lands as 'one (1).bin', the first untouched" \
    eval '[ $ar -eq 0 ] && cmp -s "$T/one.bin" "$T/in/one (1).bin" &&
          cmp -s "$T/one.bin" "$T/in/one.bin"'

# Reject: alice is not in bob's --accept-from. A stranger's offer is
# declined and does not end the receiver (it neither counts nor uses it up).
ferry_cli bob recv --dir "$T/in" --accept-from carol@localhost --timeout 20 \
    2>"$T/rej.bob.log" &
b=$!
online rej $b || fail "rej: the receiver never came online"
(ferry_cli alice send bob@localhost/cli "$T/1m.bin" 2>"$T/rej.alice.log")
check "rejected offer: sender exits 65" [ $? -eq 65 ]
check "rejected offer: receiver says why" \
    grep -q "not in --accept-from" "$T/rej.bob.log"
check "rejected offer: the receiver is still waiting" alive $b
kill $b 2>/dev/null
wait $b

# Tampered chunk: integrity failure and no file under the final name.
rm -f "$T/in/1m.bin"
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 30 \
    2>"$T/tm.bob.log" &
b=$!
online tm $b || fail "tm: the receiver never came online"
(ferry_cli alice send --test-corrupt-chunk 2 --chunk-size 65536 \
    bob@localhost/cli "$T/1m.bin" 2>"$T/tm.alice.log")
ar=$?
wait $b
br=$?
check "tampered chunk: receiver exits 67 (integrity)" [ $br -eq 67 ]
check "tampered chunk: sender learns integrity (67)" [ $ar -eq 67 ]
check "tampered chunk: no file under the final name" [ ! -e "$T/in/1m.bin" ]

# Receiver killed mid-transfer: the sender hears "peer gone".
rm -f "$T/in/256m.bin"*
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 60 \
    2>"$T/kr.bob.log" &
b=$!
online kr $b || fail "kr: the receiver never came online"
ferry_cli alice send bob@localhost/cli "$T/256m.bin" 2>"$T/kr.alice.log" &
a=$!
for i in $(seq 1 100); do
    [ -s "$T/in/256m.bin.part" ] && break
    sleep 0.02
done
kill -9 $b
wait $a
check "receiver killed: sender exits 66 (peer gone)" [ $? -eq 66 ]
check "receiver killed: reason is peer-closed" \
    grep -q "reason=peer-closed" "$T/kr.alice.log"
wait $b 2>/dev/null

# Sender killed mid-transfer: receiver keeps only .part; resume completes.
rm -f "$T/in/256m.bin"*
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 60 \
    2>"$T/ks.bob.log" &
b=$!
online ks $b || fail "ks: the receiver never came online"
ferry_cli alice send --sid resume-test-1 bob@localhost/cli "$T/256m.bin" \
    2>"$T/ks.alice.log" &
a=$!
for i in $(seq 1 200); do
    [ "$(stat -c %s "$T/in/256m.bin.part" 2>/dev/null || echo 0)" -gt 8000000 ] && break
    sleep 0.02
done
kill -9 $a
wait $b
check "sender killed: receiver exits 66 (peer gone)" [ $? -eq 66 ]
check "sender killed: no file under the final name" [ ! -e "$T/in/256m.bin" ]
check "sender killed: .part and state kept" \
    eval '[ -s "$T/in/256m.bin.part" ] && [ -s "$T/in/256m.bin.ferry" ]'
wait $a 2>/dev/null
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 60 \
    2>"$T/rs.bob.log" &
b=$!
online rs $b || fail "rs: the receiver never came online"
(ferry_cli alice send --sid resume-test-1 bob@localhost/cli "$T/256m.bin" \
    2>"$T/rs.alice.log")
ar=$?
wait $b
br=$?
check "resume completes the file byte-identical" \
    eval '[ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/256m.bin" "$T/in/256m.bin"'
check "resume started past chunk 0" grep -q "event=resuming" "$T/rs.bob.log"

# Cancel mid-transfer, by either side. Once bytes reach the .part, the
# other side is frozen (SIGSTOP) before the cancel: the transfer can no
# longer finish first, however slow the machine, and the cancel meets a
# transfer in flight. The other side then runs on and must hear of it.
# Cancel by the sender (SIGINT): both sides say cancelled.
rm -f "$T/in/256m.bin"*
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 60 \
    2>"$T/cs.bob.log" &
b=$!
online cs $b || fail "cs: the receiver never came online"
ferry_cli alice send bob@localhost/cli "$T/256m.bin" 2>"$T/cs.alice.log" &
a=$!
part_flowing "$T/in/256m.bin.part"
kill -STOP $b
check "sender cancels: the transfer was in flight" \
    eval '[ "$(stat -c %s "$T/in/256m.bin.part")" -lt 268435456 ]'
kill -INT $a
wait $a
check "sender cancels: sender exits 70" [ $? -eq 70 ]
kill -CONT $b
wait $b
br=$?
check "sender cancels: receiver exits 70 (cancelled) or 66" \
    eval '[ $br -eq 70 ] || [ $br -eq 66 ]'
check "sender cancels: no file under the final name" [ ! -e "$T/in/256m.bin" ]

# Cancel by the receiver.
rm -f "$T/in/256m.bin"*
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 60 \
    2>"$T/cr.bob.log" &
b=$!
online cr $b || fail "cr: the receiver never came online"
ferry_cli alice send bob@localhost/cli "$T/256m.bin" 2>"$T/cr.alice.log" &
a=$!
part_flowing "$T/in/256m.bin.part"
kill -STOP $a
check "receiver cancels: the transfer was in flight" \
    eval '[ "$(stat -c %s "$T/in/256m.bin.part")" -lt 268435456 ]'
kill -INT $b
wait $b
check "receiver cancels: receiver exits 70" [ $? -eq 70 ]
kill -CONT $a
wait $a
ar=$?
check "receiver cancels: sender exits 70 (cancelled) or 66" \
    eval '[ $ar -eq 70 ] || [ $ar -eq 66 ]'
check "receiver cancels: no file under the final name" [ ! -e "$T/in/256m.bin" ]

# Component discovery: a component under a name that is not ferry.DOMAIN,
# listed by the server; the CLIs are given no --component and find it with
# disco#items + disco#info (XEP-0030).
kill "$COMPONENT_PID" "$PROSODY_PID"
wait "$COMPONENT_PID" "$PROSODY_PID" 2>/dev/null
COMPONENT_JID=files.localhost
mv "$T/prosody.log" "$T/prosody-first.log"
start_prosody || exit 1
: >"$T/component.log"
start_component || exit 1
head -c 100000 /dev/urandom >"$T/disco.bin"
rm -rf "$T/dn" && mkdir -p "$T/dn"
(FERRY_DISCOVER=1 ferry_cli bob recv --dir "$T/dn" --accept-from alice@localhost \
    --timeout 30) 2>"$T/dn.bob.log" &
b=$!
online dn $b || fail "dn: the receiver never came online"
(FERRY_DISCOVER=1 ferry_cli alice send bob@localhost/cli "$T/disco.bin") \
    2>"$T/dn.alice.log"
ar=$?
wait $b
br=$?
ok=0
[ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/disco.bin" "$T/dn/disco.bin" && ok=1
check "component found by disco (files.localhost): transfer completes" \
    [ $ok -eq 1 ]
check "and the discovered component allocated the channel" \
    grep -q "channel allocated from=bob@localhost/cli" "$T/component.log"
finish
