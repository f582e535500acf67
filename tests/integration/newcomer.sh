#!/bin/bash
# What a new user meets, with the default CLI options and the output a
# person reads (no -v): a peer that is offline or wrong, any start order,
# offers never stored on the server, --count and strangers, login errors,
# exit codes that say what happened. Runs against Prosody, and against
# ejabberd with XMPP_SERVER=ejabberd (newcomer-ejabberd.sh) for the parts
# that depend on the server.
. "${top_srcdir:-.}/tests/integration/lib.sh"
export FERRY_HUMAN=1

start_relay || exit 1
if [ "${XMPP_SERVER:-prosody}" = ejabberd ]; then
    EJABBERD_MODULES="  mod_offline: {}
  mod_admin_extra: {}"
    start_ejabberd || exit 1
else
    PROSODY_MODULES='"offline"; "carbons"'
    start_prosody || exit 1
fi
start_component || exit 1
for u in alice bob carol dave; do register_user $u $u-pw; done
mkdir -p "$T/in"
head -c 300000 /dev/urandom >"$T/a.bin"
head -c 200000 /dev/urandom >"$T/b.bin"
head -c 67108864 /dev/urandom >"$T/big.bin"

# offline_count USER: messages the server holds for USER.
offline_count() {
    if [ -n "${EJABBERD_DIR:-}" ]; then
        ejabberd_ctl get_offline_count "$1" localhost 2>/dev/null | tr -d ' \n'
    else
        f="$T/prosody/data/localhost/offline/$1.list"
        if [ -s "$f" ]; then grep -c "^item(" "$f"; else echo 0; fi
    fi
}

# The count works: an ordinary message to offline dave is stored.
"$top_builddir/tests/integration/xmpp-probe" --jid carol@localhost \
    --password carol-pw --port "$C2S_PORT" --seconds 2 --xml \
    "<message to='dave@localhost' type='chat'><body>hi</body></message>" \
    >/dev/null 2>&1
n=$(offline_count dave)
trace "messages stored for dave: $n"
check "control: a chat message to an offline user is stored" [ "$n" = 1 ]

# 1. Bob is offline: a fast, clear failure, and nothing left on the server.
t0=$(date +%s.%N)
(ferry_cli alice send --wait 3 bob@localhost "$T/a.bin" 2>"$T/off.log")
rc=$?
t1=$(date +%s.%N)
check "offline peer: exit 66" [ $rc -eq 66 ]
check "offline peer: within seconds (--wait 3)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 8) }'
check "offline peer: says it waited and why" \
    grep -q "no Ferry client of bob@localhost is online" "$T/off.log"
check "offline peer: said it was waiting" \
    grep -q "waiting for bob@localhost to come online" "$T/off.log"
n=$(offline_count bob)
trace "messages stored for bob: $n"
check "offline peer: no offer stored for bob on the server" [ "$n" = 0 ]

# 2. A peer on a server that does not exist: the server says so at once.
t0=$(date +%s.%N)
(ferry_cli alice send bob@nowhere.invalid "$T/a.bin" 2>"$T/dom.log")
rc=$?
t1=$(date +%s.%N)
check "unknown server: exit 66" [ $rc -eq 66 ]
check "unknown server: fails fast (< 10 s, default --wait 30)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 10) }'
check "unknown server: names the cause" \
    grep -q "cannot be reached" "$T/dom.log"

# 3. The sender first, the receiver 3 s later: the offer waits for it.
rm -f "$T/in/a.bin"
ferry_cli alice send bob@localhost "$T/a.bin" 2>"$T/late.alice.log" &
a=$!
sleep 3
RES=phone ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost \
    --timeout 30 2>"$T/late.bob.log" &
b=$!
wait $a
ar=$?
wait $b
br=$?
check "receiver started after the sender: both exit 0, file identical" \
    eval '[ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/a.bin" "$T/in/a.bin"'
check "receiver started late: the sender said it was waiting" \
    grep -q "waiting for bob@localhost to come online" "$T/late.alice.log"
check "the offer went to bob's full JID" \
    grep -q "offered a.bin (.*) to bob@localhost/phone" "$T/late.alice.log"
check "summary line: size, time, rate, verified" \
    grep -q "sent a.bin to bob@localhost/phone: 293.0 KiB in .* s (.*/s), verified" \
    "$T/late.alice.log"
check "receiver's summary: verified, saved as" \
    grep -q "received a.bin from alice@localhost/cli: .* verified, saved as" \
    "$T/late.bob.log"
check "no progress bar when stderr is not a terminal" \
    eval '! grep -q "ETA" "$T/late.alice.log"'
check "still nothing stored for bob" [ "$(offline_count bob)" = 0 ]

if [ -n "${EJABBERD_DIR:-}" ]; then
    finish
    exit
fi

# 4. --count 1, a stranger and two offers: the stranger is declined and
# does not end the receiver; the second offer is declined as busy before
# it starts; only the accepted file counts.
rm -f "$T/in/a.bin" "$T/in/b.bin"
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --count 1 \
    --timeout 30 2>"$T/cnt.bob.log" &
b=$!
sleep 0.5
(RES=c1 ferry_cli carol send bob@localhost "$T/b.bin" 2>"$T/cnt.carol.log")
cr=$?
check "stranger: declined (65)" [ $cr -eq 65 ]
check "stranger: the receiver goes on waiting" alive $b
check "stranger: the receiver says why" \
    grep -q "declined b.bin (.*) from carol@localhost/c1: not in --accept-from" \
    "$T/cnt.bob.log"
# Small chunks: the first transfer lasts a while (seconds).
RES=s1 ferry_cli alice send --chunk-size 4096 bob@localhost "$T/big.bin" \
    2>"$T/cnt.a1.log" &
a1=$!
for i in $(seq 200); do grep -q "receiving" "$T/cnt.bob.log" && break; sleep 0.05; done
(RES=s2 ferry_cli alice send bob@localhost "$T/b.bin" 2>"$T/cnt.a2.log")
r2=$?
wait $a1
r1=$?
wait $b
br=$?
check "--count 1, a second offer while receiving: declined busy (65)" \
    [ $r2 -eq 65 ]
check "--count 1: the busy sender is told so" \
    grep -q "bob@localhost/cli is busy and declined b.bin" "$T/cnt.a2.log"
check "--count 1: the first file arrives, the receiver exits 0" \
    eval '[ $r1 -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/big.bin" "$T/in/big.bin"'
check "--count 1: the declined file never started" \
    eval '! ls "$T/in" | grep -q "^b.bin"'

# 5. A dropped transfer resumes by itself when the same send is run again
# (no --sid): both sides know the file by its identity.
rm -f "$T/in/big.bin"*
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 60 \
    2>"$T/rs1.bob.log" &
b=$!
RES=d1 ferry_cli alice send --chunk-size 4096 bob@localhost "$T/big.bin" \
    2>"$T/rs1.alice.log" &
a=$!
for i in $(seq 400); do
    [ "$(stat -c %s "$T/in/big.bin.part" 2>/dev/null || echo 0)" -gt 8000000 ] && break
    sleep 0.02
done
kill -9 $a
wait $b
wait $a 2>/dev/null
check "drop: the receiver keeps .part and its state" \
    eval '[ -s "$T/in/big.bin.part" ] && [ -s "$T/in/big.bin.ferry" ]'
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 60 \
    2>"$T/rs2.bob.log" &
b=$!
(RES=d2 ferry_cli alice send --chunk-size 4096 bob@localhost "$T/big.bin" \
    2>"$T/rs2.alice.log")
ar=$?
wait $b
br=$?
check "rerun of the same send: completes byte-identical" \
    eval '[ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/big.bin" "$T/in/big.bin"'
check "rerun: the sender says where it resumes" \
    grep -q "resuming big.bin at [1-9][0-9]*%" "$T/rs2.alice.log"
check "rerun: the receiver says where it resumes" \
    grep -q "resuming big.bin at [1-9][0-9]*%" "$T/rs2.bob.log"
check "rerun: no second copy" eval '! ls "$T/in" | grep -q "big (1)"'
check "received file mode is 0666 less the umask (0644 here)" \
    [ "$(stat -c %a "$T/in/big.bin")" = "$(printf '%o' $((0666 & ~$(umask))))" ]

# 6. Several files and a folder: every file, relative paths kept below
# the receiver's --dir, one summary at the end.
mkdir -p "$T/trip/day 1" "$T/trip/.hidden" "$T/out"
head -c 1000 /dev/urandom >"$T/trip/day 1/a.jpg"
head -c 2000 /dev/urandom >"$T/trip/b.jpg"
head -c 3000 /dev/urandom >"$T/trip/.hidden/c.txt"
ln -s /etc/passwd "$T/trip/link"
ferry_cli bob recv --dir "$T/out" --accept-from alice@localhost --count 5 \
    --timeout 60 2>"$T/many.bob.log" &
b=$!
(ferry_cli alice send bob@localhost "$T/a.bin" "$T/trip" "$T/b.bin" \
    2>"$T/many.alice.log")
ar=$?
wait $b
br=$?
check "files and a folder: both exit 0" eval '[ $ar -eq 0 ] && [ $br -eq 0 ]'
check "files and a folder: every file identical, paths kept" \
    eval 'cmp -s "$T/a.bin" "$T/out/a.bin" && cmp -s "$T/b.bin" "$T/out/b.bin" &&
          cmp -s "$T/trip/day 1/a.jpg" "$T/out/trip/day 1/a.jpg" &&
          cmp -s "$T/trip/b.jpg" "$T/out/trip/b.jpg" &&
          cmp -s "$T/trip/.hidden/c.txt" "$T/out/trip/_.hidden/c.txt"'
check "a symlink in the folder is skipped, and said so" \
    eval '[ ! -e "$T/out/trip/link" ] && grep -q "skipping .*link" "$T/many.alice.log"'
check "one summary for the set" \
    grep -q "5 of 5 files sent (.*), all verified" "$T/many.alice.log"

# 7. A stream of unknown length: stdin to stdout, the output starting
# while the input is still being written.
ferry_cli bob recv --stdout --accept-from alice@localhost --timeout 60 \
    >"$T/stream.out" 2>"$T/stream.bob.log" &
b=$!
# Online first: a sender that finds nobody probes again only every 2 s,
# which is longer than this check waits for the first bytes.
wait_online "$T/stream.bob.log"
( (for i in 1 2 3 4 5; do cat "$T/a.bin"; sleep 0.5; done) |
    ferry_cli alice send --name live.bin bob@localhost - 2>"$T/stream.alice.log") &
a=$!
early=0
for i in $(seq 40); do
    if [ -s "$T/stream.out" ]; then
        alive $a && early=1
        break
    fi
    sleep 0.05
done
wait $a
ar=$?
wait $b
br=$?
for i in 1 2 3 4 5; do cat "$T/a.bin"; done >"$T/stream.want"
check "stream: both exit 0, stdout byte-identical to stdin" \
    eval '[ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/stream.want" "$T/stream.out"'
check "stream: the output started before the input ended" [ $early -eq 1 ]
check "stream: the receiver was offered a live stream" \
    grep -q "offers\|receiving live.bin from alice@localhost/cli to standard output" \
    "$T/stream.bob.log"
check "stream: the summary gives the final size" \
    grep -q "sent live.bin to bob@localhost/cli: 1.4 MiB" "$T/stream.alice.log"

# 7b. Several peers at once (--to, repeatable): each gets the file and
# decides for itself; one summary for the set.
rm -rf "$T/to-bob" "$T/to-carol" && mkdir -p "$T/to-bob" "$T/to-carol"
ferry_cli bob recv --dir "$T/to-bob" --accept-from alice@localhost \
    --count 2 --timeout 60 2>"$T/to.bob.log" &
b=$!
ferry_cli carol recv --dir "$T/to-carol" --accept-from alice@localhost \
    --count 2 --timeout 60 2>"$T/to.carol.log" &
c=$!
(ferry_cli alice send --to bob@localhost --to carol@localhost "$T/a.bin" \
    "$T/b.bin" 2>"$T/to.alice.log")
ar=$?
wait $b
br=$?
wait $c
cr=$?
trace "--to: alice $ar, bob $br, carol $cr"
check "--to two peers: every exit 0" \
    eval '[ $ar -eq 0 ] && [ $br -eq 0 ] && [ $cr -eq 0 ]'
every_copy() {
    for x in to-bob to-carol; do
        cmp -s "$T/a.bin" "$T/$x/a.bin" && cmp -s "$T/b.bin" "$T/$x/b.bin" ||
            return 1
    done
}
check "--to two peers: every copy identical" every_copy
check "--to two peers: one summary" \
    grep -q "2 of 2 files sent to 2 peers (.*), all verified" "$T/to.alice.log"

# 8. Login errors: each names its cause, all exit 69.
printf 'wrong\n' >"$T/bad.pass"
"$FERRY" send --jid alice@localhost --password-file "$T/bad.pass" \
    --server "127.0.0.1:$C2S_PORT" bob@localhost "$T/a.bin" 2>"$T/auth.log"
check "wrong password: exit 69" [ $? -eq 69 ]
check "wrong password: says so" grep -q "wrong password" "$T/auth.log"
"$FERRY" send --jid alice@localhost --password-file "$T/alice.pass" \
    --server "127.0.0.1:$(free_port)" bob@localhost "$T/a.bin" 2>"$T/conn.log"
check "closed port: exit 69" [ $? -eq 69 ]
check "closed port: says connection refused" \
    grep -q "cannot connect to the XMPP server 127.0.0.1 port .*refused" \
    "$T/conn.log"
"$FERRY" send --jid alice@nowhere.invalid --password-file "$T/alice.pass" \
    bob@localhost "$T/a.bin" 2>"$T/dns.log"
check "unknown domain: exit 69" [ $? -eq 69 ]
check "unknown domain: says the name does not resolve" \
    grep -q "cannot find the XMPP server nowhere.invalid" "$T/dns.log"

# 9. Exit codes that say what happened.
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if [ "$(id -u)" -ne 0 ]; then
    (ferry_cli bob recv --dir "$T/ro" --yes 2>"$T/ro.log")
    rc=$?
    check "inbox not writable: exit 72 before login, naming it" \
        eval '[ $rc -eq 72 ] && grep -q "cannot receive into $T/ro" "$T/ro.log"'
fi
(ferry_cli bob recv --dir "$T/missing" --yes 2>"$T/ro.log")
rc=$?
check "inbox missing: exit 72, naming it" \
    eval '[ $rc -eq 72 ] && grep -q "cannot receive into $T/missing" "$T/ro.log"'
(ferry_cli bob recv --dir "$T/in" </dev/null 2>"$T/notty.log")
rc=$?
check "no terminal and no --yes/--accept-from: usage error (64) at once" \
    eval '[ $rc -eq 64 ] && grep -q "use --yes or --accept-from" "$T/notty.log"'
(ferry_cli alice send bob@localhost "$T/nonexistent" 2>"$T/nofile.log")
rc=$?
check "missing file: exit 72, naming it" \
    eval '[ $rc -eq 72 ] && grep -q "cannot send $T/nonexistent" "$T/nofile.log"'

# The y/N prompt (a pseudo-terminal): the sender withdraws the offer while
# it is open; it closes and says so, and Ctrl-C ends the receiver (70).
if command -v script >/dev/null; then
    mkfifo "$T/tty.in"
    sleep 60 >"$T/tty.in" &
    hold=$!
    script -qfec "$FERRY recv --jid bob@localhost/tty \
        --password-file $T/bob.pass --server 127.0.0.1:$C2S_PORT \
        --component ferry.localhost --dir $T/in --timeout 30" \
        "$T/tty.out" <"$T/tty.in" >/dev/null 2>&1 &
    b=$!
    for i in $(seq 300); do grep -qs "waiting for" "$T/tty.out" && break; sleep 0.1; done
    ferry_cli alice send bob@localhost/tty "$T/a.bin" 2>"$T/wd.alice.log" &
    a=$!
    for i in $(seq 300); do grep -q "Accept?" "$T/tty.out" && break; sleep 0.1; done
    kill -INT $a
    wait $a
    ar=$?
    for i in $(seq 200); do grep -q "withdrew" "$T/tty.out" && break; sleep 0.1; done
    check "prompt open, sender cancels: sender exits 70" [ $ar -eq 70 ]
    check "prompt open, sender cancels: the prompt closes and says so" \
        grep -q "alice@localhost/cli withdrew the offer of a.bin" "$T/tty.out"
    pkill -INT -f "^[^ ]*ferry recv --jid bob@localhost/tty"
    wait $b
    check "Ctrl-C at the receiver: exit 70" [ $? -eq 70 ]
    kill $hold 2>/dev/null
fi

# 10. The relay is down: a code and a message that say so (73 when it
# cannot be reached, 71 once the component knows no relay is available).
kill "$RELAY_PID"
wait "$RELAY_PID" 2>/dev/null
ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost --timeout 20 \
    2>"$T/rd.bob.log" &
b=$!
(RES=rd ferry_cli alice send bob@localhost "$T/b.bin" 2>"$T/rd.alice.log")
ar=$?
wait $b
br=$?
trace "relay down: sender $ar, receiver $br"
check "relay down: the receiver exits 73 or 71" \
    eval '[ $br -eq 73 ] || [ $br -eq 71 ]'
check "relay down: the receiver says the relay is the cause" \
    grep -q "relay could not be reached\|no relay" "$T/rd.bob.log"
check "relay down: the sender does not exit 0" [ $ar -ne 0 ]

finish
