#!/bin/bash
# End to end with TLS to the relay: the component hands out a relay
# address marked tls, the ferry CLIs connect with TLS and verify the relay's
# certificate (here against --relay-ca), and the file arrives intact; a
# client that cannot verify the certificate refuses the relay.
. "${top_srcdir:-.}/tests/integration/lib.sh"

mkcert "$T/ca"
TLS_PORT=$(free_port)
start_relay "tls_listen = 127.0.0.1:$TLS_PORT" "tls_cert = $T/ca/cert.pem" \
    "tls_key = $T/ca/key.pem" || exit 1
wait_port "$TLS_PORT"
start_prosody || exit 1
COMPONENT_RELAYS="127.0.0.1:$TLS_PORT,tls" start_component || exit 1
register_user alice alice-pw
register_user bob bob-pw
head -c 16777216 /dev/urandom >"$T/16m.bin"
mkdir -p "$T/in" "$T/in2"

(ferry_cli bob recv --dir "$T/in" --accept-from alice@localhost \
    --relay-ca "$T/ca/cert.pem" --timeout 60) 2>"$T/bob.log" &
b=$!
# An offer sent before the receiver is online is lost.
wait_online "$T/bob.log" || fail "the receiver never came online"
(ferry_cli alice send --relay-ca "$T/ca/cert.pem" bob@localhost/cli \
    "$T/16m.bin") 2>"$T/alice.log"
ar=$?
wait $b
br=$?
check "16 MiB through a TLS relay: both exit 0 ($ar, $br), byte-identical" \
    eval '[ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/16m.bin" "$T/in/16m.bin"'
check "the relay saw the two ends on its TLS listener" \
    grep -q "accepted peer=.* tls=1" "$T/relay.log"

# Several files from one process: each has its own channel and TLS
# connection, and every one after the first resumes the session (the
# relay's ticket from the connection before), on both ends.
mkdir -p "$T/three" "$T/in3"
for f in a b c; do head -c 300000 /dev/urandom >"$T/three/$f.bin"; done
(ferry_cli bob recv --dir "$T/in3" --accept-from alice@localhost --count 3 \
    --relay-ca "$T/ca/cert.pem" --timeout 60) 2>"$T/bob3.log" &
b=$!
wait_online "$T/bob3.log" || fail "the third receiver never came online"
before=$(grep -c "tls ready resumed=1" "$T/relay.log")
(ferry_cli alice send --relay-ca "$T/ca/cert.pem" bob@localhost/cli \
    "$T/three/a.bin" "$T/three/b.bin" "$T/three/c.bin") 2>"$T/alice3.log"
ar=$?
wait $b
br=$?
check "three files over TLS from one process: both exit 0 ($ar, $br), identical" \
    eval '[ $ar -eq 0 ] && [ $br -eq 0 ] && cmp -s "$T/three/a.bin" "$T/in3/a.bin" &&
          cmp -s "$T/three/b.bin" "$T/in3/b.bin" && cmp -s "$T/three/c.bin" "$T/in3/c.bin"'
resumed=$(( $(grep -c "tls ready resumed=1" "$T/relay.log") - before ))
check "the second and third files' connections resumed TLS sessions ($resumed of 4)" \
    [ "$resumed" -eq 4 ]

# Without the CA the relay's certificate does not verify: both refuse it.
(ferry_cli bob recv --dir "$T/in2" --accept-from alice@localhost \
    --timeout 30) 2>"$T/bob2.log" &
b=$!
wait_online "$T/bob2.log" || fail "the second receiver never came online"
(ferry_cli alice send bob@localhost/cli "$T/16m.bin") 2>"$T/alice2.log"
ar=$?
wait $b
br=$?
# (Exit codes, not signals: the sender once crashed at exit when its relay
# lookup thread freed OpenSSL objects after OpenSSL's own cleanup.)
check "an unverifiable relay certificate: both fail ($ar, $br), relay-tls-failed" \
    eval '[ $ar -ne 0 ] && [ $br -ne 0 ] && [ $ar -lt 128 ] && [ $br -lt 128 ] && grep -q "reason=relay-tls-failed" "$T/alice2.log" "$T/bob2.log"'
check "and no file under the final name" [ ! -e "$T/in2/16m.bin" ]
finish
