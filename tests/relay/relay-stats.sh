#!/bin/bash
# The relay's metrics listener under attack, each limit with its test:
# a scrape split byte by byte, oversized and malformed requests, a slow
# request cut at stats_timeout_ms, hundreds of idle connections (while a
# transfer runs through the same relay and stays intact), and fd
# exhaustion under a low `ulimit -n` (the relay's CPU must stay low, and it
# must serve again once fds are free).
. "${top_srcdir:-.}/tests/integration/lib.sh"

start_relay "[limits]" "stats_max_connections = 8" "stats_timeout_ms = 1000" \
    "stats_max_request = 1024" "max_per_ip = 1000" || exit 1
S="$T/secret"
head -c 67108864 /dev/urandom >"$T/64m"
head -c 1048576 /dev/urandom >"$T/1m"

mint() { "$TC" mint --secret-file "$S" "$@"; }

# transfer FILE NAME [PORT]: one receiver, one sender, compare.
transfer() {
    local port=${3:-$RELAY_PORT} id
    id=$(mint)
    "$TC" recv --port "$port" --secret-file "$S" --id "$id" \
        --out "$T/$2.out" >"$T/$2.recv" 2>&1 &
    rp=$!
    "$TC" send --port "$port" --secret-file "$S" --id "$id" \
        --file "$1" >"$T/$2.send" 2>&1
    sr=$?
    wait $rp
    rr=$?
    [ $sr -eq 0 ] && [ $rr -eq 0 ] && cmp -s "$1" "$T/$2.out"
}

# http NAME [testclient http options]: one request to the metrics port.
http() {
    local n=$1
    shift
    "$TC" http --port "${HTTP_PORT:-$STATS_PORT}" "$@" >"$T/$n.http" 2>&1
}
answered() { grep -q "event=http status=$2 length-ok=1 eof=1" "$T/$1.http"; }
sent_all() { grep -Eq "event=sent bytes=([0-9]+) of=\1$" "$T/$1.http"; }

relay_fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

http plain
check "a scrape in one write gets 200 with the right Content-Length" \
    answered plain 200
check "the scrape carries the relay's metrics" \
    grep -q "^ferry_relay_connections " "$T/plain.http"
check "metric() (bash /dev/tcp, HTTP/1.0) still reads a value" \
    [ "$(metric ferry_relay_stats_connections)" = 1 ]

http split --split 1 --delay-ms 3
check "a request split byte by byte is read whole before the answer" \
    sent_all split
check "byte-by-byte request gets 200 and the whole answer" answered split 200

http crlf --hex 474554202f6d65747269637320485454502f312e300a0a
check "bare-LF request gets 200" answered crlf 200
http head --hex 48454144202f20485454502f312e310d0a0d0a
check "HEAD gets 200" grep -q "event=http status=200" "$T/head.http"
check "HEAD gets no body" \
    eval '! grep -q "^ferry_relay" "$T/head.http"'

http big --size 2000
check "request head over stats_max_request (1024) gets 431" answered big 431
http edge --size 1024
check "request head of exactly stats_max_request gets 200" answered edge 200
http bad --hex 0200004300
check "binary bytes get 400 and the connection closed" answered bad 400
http nover --hex 474554202f0d0a0d0a
check "request line without a version gets 400" answered nover 400
http post --hex 504f5354202f6d65747269637320485454502f312e310d0a0d0a
check "POST gets 405" answered post 405
check "errors counted by reason" \
    eval '[ "$(metric "ferry_relay_stats_dropped_total{reason=\"too-large\"}")" = 1 ] &&
          [ "$(metric "ferry_relay_stats_dropped_total{reason=\"bad-request\"}")" = 3 ]'

# 106 bytes at 40 ms each take 4 s: cut off at stats_timeout_ms (1 s).
start=$(date +%s%N)
http slow --split 1 --delay-ms 40
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "slow request: closed by the relay without an answer" \
    grep -q "event=http-no-answer" "$T/slow.http"
check "slow request cut near stats_timeout_ms (after ${ms} ms, not 4 s)" \
    eval '[ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ]'
"$TC" hold --port "$STATS_PORT" --count 1 --hold-ms 3000 >"$T/idle1.out"
check "an idle metrics connection is closed after stats_timeout_ms" \
    grep -q "event=held opened=1 closed-by-peer=1" "$T/idle1.out"

# Hundreds of idle connections while 64 MiB move through the relay.
fd0=$(relay_fds "$RELAY_PID")
"$TC" hold --port "$STATS_PORT" --count 400 --hold-ms 2500 \
    >"$T/flood.out" 2>&1 &
hp=$!
id=$(mint)
"$TC" recv --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --out "$T/fl.out" --read-delay-ms 1 >"$T/fl.recv" 2>&1 &
rp=$!
"$TC" send --port "$RELAY_PORT" --secret-file "$S" --id "$id" \
    --file "$T/64m" >"$T/fl.send" 2>&1 &
sp=$!
sleep 0.8
fd1=$(relay_fds "$RELAY_PID")
http during
wait $sp
sr=$?
wait $rp
rr=$?
wait $hp
trace "relay fds: $fd0 before, $fd1 during the flood of 400"
check "400 idle connections: the transfer stays intact" \
    eval '[ $sr -eq 0 ] && [ $rr -eq 0 ] && cmp -s "$T/64m" "$T/fl.out"'
check "400 idle connections: all were opened, all closed by the relay" \
    grep -q "event=held opened=400 closed-by-peer=400" "$T/flood.out"
check "400 idle connections: relay fds stay under the limit ($fd1 <= $fd0 + 8 + 4)" \
    [ "$fd1" -le $((fd0 + 12)) ]
check "400 idle connections: a scrape during the flood gets 200" \
    answered during 200
check "pushed-out connections are counted" \
    eval '[ "$(metric "ferry_relay_stats_dropped_total{reason=\"limit\"}")" -ge 300 ]'

# fd exhaustion: a relay with 64 fds, 100 connections held on each port.
LOW_PORT=$(free_port)
LOW_STATS=$(free_port)
printf '[relay]\nlisten = 127.0.0.1:%s\nsecret_files = %s\nstats_listen = 127.0.0.1:%s\n[limits]\nhandshake_timeout_ms = 20000\n' \
    "$LOW_PORT" "$S" "$LOW_STATS" >"$T/low.conf"
(ulimit -n 64 && exec "$RELAY" -f "$T/low.conf" -v) 2>>"$T/relay-low.log" &
LOW_PID=$!
PIDS="$PIDS $LOW_PID"
if wait_port "$LOW_PORT" && wait_port "$LOW_STATS"; then
    "$TC" hold --port "$LOW_PORT" --count 100 --hold-ms 6000 \
        >"$T/low-relay.out" 2>&1 &
    h1=$!
    "$TC" hold --port "$LOW_STATS" --count 100 --hold-ms 6000 \
        >"$T/low-stats.out" 2>&1 &
    h2=$!
    sleep 1.5
    c0=$(cpu_ticks "$LOW_PID")
    sleep 3
    c1=$(cpu_ticks "$LOW_PID")
    cpu=$(( (c1 - c0) * 100 / ($(getconf CLK_TCK) * 3) ))
    trace "relay CPU under fd exhaustion: ${cpu}% of one core over 3 s"
    check "fd exhaustion: relay CPU stays low (${cpu}% < 20%)" [ "$cpu" -lt 20 ]
    check "fd exhaustion: the relay logged the pause" \
        grep -q "accepts paused for 100 ms" "$T/relay-low.log"
    wait $h1 $h2
    sleep 0.3
    check "after fd exhaustion: a transfer completes" \
        transfer "$T/1m" low "$LOW_PORT"
    HTTP_PORT=$LOW_STATS http lowafter
    check "after fd exhaustion: a scrape gets 200" answered lowafter 200
    check "after fd exhaustion: accept pauses counted" \
        eval '[ "$(grep "^ferry_relay_accept_backoffs_total " "$T/lowafter.http" |
                 cut -d" " -f2)" -ge 1 ]'
else
    fail "relay with 64 fds did not start"
fi
check "relay with 64 fds still running" alive "$LOW_PID"
check "first relay still running" alive "$RELAY_PID"
finish
