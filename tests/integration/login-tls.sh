#!/bin/bash
# Logging in to a server whose TLS certificate comes from a CA the system
# does not know: the CLI says it is the certificate (exit 69, with the
# hint), and --ca-file with that CA lets it in.
. "${top_srcdir:-.}/tests/integration/lib.sh"
export FERRY_HUMAN=1

mkcert "$T/tls"
PROSODY_GLOBAL="ssl = { certificate = \"$T/tls/cert.pem\"; key = \"$T/tls/key.pem\" }
c2s_require_encryption = true" PROSODY_MODULES='"tls"' start_prosody || exit 1
register_user alice alice-pw
printf 'x' >"$T/x.bin"

(ferry_cli alice send --wait 1 bob@localhost "$T/x.bin" 2>"$T/notrust.log")
rc=$?
check "unknown CA: exit 69" [ $rc -eq 69 ]
check "unknown CA: says TLS failed and how to trust the CA" \
    eval 'grep -q "TLS with 127.0.0.1 failed" "$T/notrust.log" &&
          grep -q -- "--ca-file" "$T/notrust.log"'

(ferry_cli alice send --ca-file "$T/tls/cert.pem" --wait 1 bob@localhost \
    "$T/x.bin" 2>"$T/trust.log")
rc=$?
check "--ca-file: logged in over TLS (then bob is offline: 66)" [ $rc -eq 66 ]
check "--ca-file: no TLS complaint" eval '! grep -q "TLS" "$T/trust.log"'
finish
