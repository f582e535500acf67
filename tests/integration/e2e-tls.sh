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

# Without the CA the relay's certificate does not verify: both refuse it.
(ferry_cli bob recv --dir "$T/in2" --accept-from alice@localhost \
    --timeout 30) 2>"$T/bob2.log" &
b=$!
wait_online "$T/bob2.log" || fail "the second receiver never came online"
(ferry_cli alice send bob@localhost/cli "$T/16m.bin") 2>"$T/alice2.log"
ar=$?
wait $b
br=$?
check "an unverifiable relay certificate: both fail ($ar, $br), relay-tls-failed" \
    eval '[ $ar -ne 0 ] && [ $br -ne 0 ] && grep -q "reason=relay-tls-failed" "$T/alice2.log" "$T/bob2.log"'
check "and no file under the final name" [ ! -e "$T/in2/16m.bin" ]
finish
