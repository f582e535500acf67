#!/bin/bash
# ferry-relay's TLS listener, with the wire test client: transfers over TLS
# arrive byte-identical (both ends TLS, and TLS meeting plain TCP on one
# channel), the certificate verifies against its CA and fails against
# another, a plaintext client on the TLS port is closed without a frame,
# and a broken TLS configuration is refused by -n with its reason.
. "${top_srcdir:-.}/tests/integration/lib.sh"

mkcert "$T/good"
mkcert "$T/other"
TLS_PORT=$(free_port)
start_relay "tls_listen = 127.0.0.1:$TLS_PORT" "tls_cert = $T/good/cert.pem" \
    "tls_key = $T/good/key.pem" || exit 1
wait_port "$TLS_PORT"
head -c 1048576 /dev/urandom >"$T/1m"
head -c 67108864 /dev/urandom >"$T/64m"

# transfer NAME FILE SENDER_TLS RECEIVER_TLS: both ends through the relay.
transfer() {
    id=$("$TC" mint --secret-file "$T/secret")
    rargs=(--port "$RELAY_PORT")
    sargs=(--port "$RELAY_PORT")
    [ "$4" = tls ] && rargs=(--port "$TLS_PORT" --tls --tls-ca "$T/good/cert.pem")
    [ "$3" = tls ] && sargs=(--port "$TLS_PORT" --tls --tls-ca "$T/good/cert.pem")
    "$TC" recv "${rargs[@]}" --secret-file "$T/secret" --id "$id" \
        --out "$T/$1.out" >"$T/$1.recv" &
    r=$!
    "$TC" send "${sargs[@]}" --secret-file "$T/secret" --id "$id" \
        --file "$2" --chunk 262144 >"$T/$1.send"
    s=$?
    wait $r
    rr=$?
    [ $s -eq 0 ] && [ $rr -eq 0 ] && cmp -s "$2" "$T/$1.out"
}
check "1 MiB, both ends over TLS: byte-identical" transfer t1 "$T/1m" tls tls
check "64 MiB, both ends over TLS: byte-identical" transfer t64 "$T/64m" tls tls
check "the ends saw TLS 1.2 or later" grep -q "event=tls version=TLSv1.[23]" "$T/t64.send"
check "the sender opened the receiver's sealed VERIFIED over TLS" \
    grep -q "event=verified" "$T/t64.send"
check "TLS sender to a plain TCP receiver: byte-identical" transfer mix "$T/64m" tls plain
check "plain sender to a TLS receiver: byte-identical" transfer mix2 "$T/1m" plain tls

id=$("$TC" mint --secret-file "$T/secret")
"$TC" send --port "$TLS_PORT" --tls --tls-ca "$T/other/cert.pem" \
    --secret-file "$T/secret" --id "$id" --file "$T/1m" >"$T/wrongca.out"
check "a certificate from another CA is refused by the client" \
    grep -q "event=tls-failed verify=" "$T/wrongca.out"
timeout 10 "$TC" raw --port "$TLS_PORT" --hex 0200 >"$T/plain.out"
check "plaintext on the TLS port: closed, no frame (exit $?)" \
    eval '! grep -q "event=error" "$T/plain.out"'
check "and the relay logs the failed TLS handshake" \
    grep -q "tls handshake failed" "$T/relay.log"
check "the relay still serves TLS afterwards" transfer t2 "$T/1m" tls tls

# Certificate renewal: new files in place, SIGHUP, and new connections get
# the new certificate while a transfer that started before goes on.
id=$("$TC" mint --secret-file "$T/secret")
"$TC" recv --port "$TLS_PORT" --tls --tls-ca "$T/good/cert.pem" --secret-file "$T/secret" \
    --id "$id" --out "$T/hup.out" --read-delay-ms 2 >"$T/hup.recv" &
hr=$!
"$TC" send --port "$TLS_PORT" --tls --tls-ca "$T/good/cert.pem" --secret-file "$T/secret" \
    --id "$id" --file "$T/64m" >"$T/hup.send" &
hs=$!
sleep 0.3
cp "$T/good/cert.pem" "$T/old-cert.pem"
cp "$T/other/cert.pem" "$T/good/cert.pem"
cp "$T/other/key.pem" "$T/good/key.pem"
kill -HUP "$RELAY_PID"
i=0
until grep -q "tls certificate reloaded" "$T/relay.log" || [ $i -gt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
check "SIGHUP reloads the TLS certificate" grep -q "tls certificate reloaded" "$T/relay.log"
id=$("$TC" mint --secret-file "$T/secret")
"$TC" send --port "$TLS_PORT" --tls --tls-ca "$T/old-cert.pem" \
    --secret-file "$T/secret" --id "$id" --file "$T/1m" >"$T/hupold.out"
check "after it, the old certificate is no longer presented" \
    grep -q "event=tls-failed" "$T/hupold.out"
check "and a client trusting the new one gets through" \
    transfer t3 "$T/1m" tls tls
wait $hs
hsr=$?
wait $hr
check "the transfer that began before the reload completes ($hsr)" \
    eval '[ $hsr -eq 0 ] && cmp -s "$T/64m" "$T/hup.out"'

printf '[relay]\nlisten = 127.0.0.1:1\nsecret_files = %s\ntls_listen = 127.0.0.1:2\ntls_cert = %s\n' \
    "$T/secret" "$T/good/cert.pem" >"$T/nokey.conf"
"$RELAY" -n -f "$T/nokey.conf" >"$T/nokey.out" 2>&1
check "-n: tls_listen without tls_key is refused (exit $?)" \
    grep -q "tls_listen needs tls_cert and tls_key" "$T/nokey.out"
printf '[relay]\nlisten = 127.0.0.1:1\nsecret_files = %s\ntls_listen = 127.0.0.1:2\ntls_cert = %s\ntls_key = %s\n' \
    "$T/secret" "$T/old-cert.pem" "$T/other/key.pem" >"$T/mismatch.conf"
"$RELAY" -n -f "$T/mismatch.conf" >"$T/mismatch.out" 2>&1
check "-n: a key that does not match the certificate is refused" \
    grep -q "does not match" "$T/mismatch.out"
finish
