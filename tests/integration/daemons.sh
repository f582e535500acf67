#!/bin/bash
# ferry-relay and ferry-component as an operator meets them: --help and
# --version, -o over the configuration file (how contrib/'s systemd units
# pass a credential's path), a secret the service user cannot read, a
# port in use, and a component that cannot reach or log in to its server:
# each error names the port or file and the cause. The systemd units are
# checked with systemd-analyze verify when it is installed.
. "${top_srcdir:-.}/tests/integration/lib.sh"

VERSION=$(sed -n 's/^AC_INIT(\[ferry\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
for dm in relay component; do
    bin="$top_builddir/$dm/ferry-$dm"
    out=$("$bin" --help 2>/dev/null)
    rc=$?
    check "ferry-$dm --help: usage on stdout, exit 0" \
        eval '[ $rc -eq 0 ] && echo "$out" | grep -q "^usage: ferry-$dm" &&
              echo "$out" | grep -q -- "--version"'
    check "ferry-$dm --version and -V: ferry-$dm $VERSION" \
        eval '[ "$("$bin" --version)" = "ferry-$dm $VERSION" ] &&
              [ "$("$bin" -V)" = "ferry-$dm $VERSION" ]'
    "$bin" --no-such-option >/dev/null 2>"$T/badopt.err"
    rc=$?
    check "ferry-$dm with an unknown option: exit 64 and the usage" \
        eval '[ $rc -eq 64 ] && grep -q "^usage:" "$T/badopt.err"'
done

# -o: the secret's path from the command line, over the file.
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/secret"
printf '[relay]\nlisten = 127.0.0.1:1\nsecret_files = /nonexistent/secret\n' \
    >"$T/o.conf"
"$RELAY" -n -f "$T/o.conf" >"$T/o1.out" 2>&1
check "relay -n: a missing secret file is named, with the cause" \
    grep -q "secret file /nonexistent/secret: No such file or directory" \
    "$T/o1.out"
check "relay -n -o relay.secret_files=FILE: configuration OK" \
    eval '"$RELAY" -n -f "$T/o.conf" -o "relay.secret_files=$T/secret" |
          grep -q "configuration OK"'
"$RELAY" -n -f "$T/o.conf" -o "relay.nope=1" -o "limits.max_frame=1" \
    >"$T/o2.out" 2>&1
rc=$?
check "relay -o with an unknown key or a bad value: exit 78, each named" \
    eval '[ $rc -eq 78 ] && grep -q "unknown key relay.nope" "$T/o2.out" &&
          grep -q "limits.max_frame: 1 out of range" "$T/o2.out"'

# What DynamicUser= meets: a root-only secret, then the credential copy.
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
    chmod 600 "$T/secret"
    mkdir -p "$T/creds" && chmod 755 "$T"
    install -m 0444 "$T/secret" "$T/creds/relay.secret"
    asuser() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
    asuser "$RELAY" -n -f "$T/o.conf" -o "relay.secret_files=$T/secret" \
        >"$T/perm.out" 2>&1
    check "a secret the service user cannot read: Permission denied, with the way out" \
        grep -q "secret file $T/secret: Permission denied (not readable by this user; a systemd unit with DynamicUser= passes it with LoadCredential=" "$T/perm.out"
    check "... the credential's copy, given with -o: configuration OK" \
        eval 'asuser "$RELAY" -n -f "$T/o.conf" \
              -o "relay.secret_files=$T/creds/relay.secret" |
              grep -q "configuration OK"'
fi

# A port in use: the relay names the key, the port and the cause.
start_relay || exit 1
printf '[relay]\nlisten = 127.0.0.1:%s\nsecret_files = %s\nstats_listen =\n' \
    "$RELAY_PORT" "$T/secret" >"$T/busy.conf"
"$RELAY" -f "$T/busy.conf" >"$T/busy.out" 2>&1
rc=$?
check "a second relay on a port in use exits ($rc) and says which port and why" \
    eval '[ $rc -ne 0 ] && grep -q "cannot listen on port $RELAY_PORT (relay.listen = 127.0.0.1:$RELAY_PORT): Address already in use (another process listens on that port" "$T/busy.out"'
printf '[relay]\nlisten = 127.0.0.1:%s\nsecret_files = %s\nstats_listen = 127.0.0.1:%s\n' \
    "$(free_port)" "$T/secret" "$STATS_PORT" >"$T/busy2.conf"
"$RELAY" -f "$T/busy2.conf" >"$T/busy2.out" 2>&1
check "the stats port in use: named as relay.stats_listen" \
    grep -q "cannot listen on port $STATS_PORT (relay.stats_listen = 127.0.0.1:$STATS_PORT): Address already in use" "$T/busy2.out"
check "the first relay is unharmed" alive "$RELAY_PID"

# The component: nothing on the server's component port.
DEAD=$(free_port)
COMP_PORT=$DEAD
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/component.secret"
{
    echo "[component]"
    echo "server = 127.0.0.1"
    echo "port = $DEAD"
    echo "secret_file = $T/component.secret"
    echo "[channels]"
    echo "relay_secret_file = $T/secret"
    echo "relays = 127.0.0.1:$RELAY_PORT"
} >"$T/comp-dead.conf"
# The relay list: an empty host, or weights whose sum would overflow,
# are configuration errors (-n), not "no relay available" later.
check "component -n: this configuration is fine" \
    "$COMPONENT" -n -f "$T/comp-dead.conf"
for bad in "[]:5290" "a:1,weight=2147483647 b:2,weight=2147483647"; do
    grep -v "^relays = " "$T/comp-dead.conf" >"$T/comp-bad.conf"
    echo "relays = $bad" >>"$T/comp-bad.conf"
    check "component -n refuses relays = $bad" \
        eval '! "$COMPONENT" -n -f "$T/comp-bad.conf" >/dev/null 2>&1'
done
"$COMPONENT" -f "$T/comp-dead.conf" 2>"$T/comp-dead.log" &
CP=$!
PIDS="$PIDS $CP"
i=0
until grep -q "cannot connect" "$T/comp-dead.log" || [ $i -gt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
kill "$CP" 2>/dev/null
check "component, nothing on the server's port: the address and Connection refused" \
    grep -q "cannot connect to the XMPP server at 127.0.0.1:$DEAD: Connection refused (nothing listens there" "$T/comp-dead.log"

# The component: a server that refuses its secret.
start_prosody || exit 1
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/wrong.secret"
sed -e "s/^port = .*/port = $COMP_PORT/" \
    -e "s#^secret_file = .*#secret_file = $T/wrong.secret#" \
    "$T/comp-dead.conf" >"$T/comp-wrong.conf"
"$COMPONENT" -f "$T/comp-wrong.conf" 2>"$T/comp-wrong.log" &
CP=$!
PIDS="$PIDS $CP"
i=0
until grep -q "stream error" "$T/comp-wrong.log" || [ $i -gt 100 ]; do
    sleep 0.05
    i=$((i + 1))
done
kill "$CP" 2>/dev/null
check "component with the wrong secret: stream error not-authorized, and which setting" \
    grep -q "stream error not-authorized.*(the server refused the component secret: component.secret_file" "$T/comp-wrong.log"

if command -v systemd-analyze >/dev/null; then
    for dm in relay component; do
        sed "s#/usr/local/bin/ferry-$dm#$(cd "$top_builddir" && pwd)/$dm/ferry-$dm#g" \
            "$top_srcdir/contrib/ferry-$dm.service" >"$T/ferry-$dm.service"
    done
    check "systemd-analyze verify: both units" \
        systemd-analyze verify --man=no "$T/ferry-relay.service" \
        "$T/ferry-component.service"
    check "both units pass the secrets as credentials (LoadCredential=, -o ...%d/)" \
        eval 'grep -q "^LoadCredential=relay.secret:" "$top_srcdir/contrib/ferry-relay.service" &&
              grep -q "^ExecStart=.* -o relay.secret_files=%d/relay.secret" "$top_srcdir/contrib/ferry-relay.service" &&
              grep -q "^ExecStart=.* -o component.secret_file=%d/component.secret -o channels.relay_secret_file=%d/relay.secret" "$top_srcdir/contrib/ferry-component.service"'
fi

finish
