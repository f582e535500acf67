# Shared harness for Ferry's integration scenarios (sourced by bash).
# Every daemon a scenario starts is stopped by cleanup(), and its logs are
# kept as failed-*.log next to the scenario when it fails.
# Provides: trace, fail, pass, free_port, wait_port, start_relay,
# start_prosody, start_component, register_user, cleanup.

: "${top_builddir:=.}"
: "${top_srcdir:=.}"
SCENARIO=$(basename "$0" .sh)
T=$(mktemp -d "${FERRY_TMP:-/tmp}/ferry-$SCENARIO.XXXXXX")
PIDS=""
PASSED=0
FAILED=0
TC="$top_builddir/tests/relay/ferry-testclient"
RELAY="$top_builddir/relay/ferry-relay"

trace() { echo "[$SCENARIO] $*"; }

pass() {
    PASSED=$((PASSED + 1))
    echo "ok $PASSED - $*"
}

fail() {
    FAILED=$((FAILED + 1))
    echo "not ok - $*"
}

# check DESCRIPTION COMMAND...: pass if the command succeeds.
check() {
    d=$1
    shift
    if "$@"; then pass "$d"; else fail "$d"; fi
}

cleanup() {
    eval "${ON_EXIT:-}"
    for p in $PIDS; do
        kill "$p" 2>/dev/null
    done
    for p in $PIDS; do
        i=0
        while alive "$p" && [ $i -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$p" 2>/dev/null
    done
    if [ "$FAILED" -ne 0 ]; then
        [ -n "${EJABBERD_DIR:-}" ] && cp "$EJABBERD_DIR"/logs/*.log "$T/" 2>/dev/null
        for f in "$T"/*.log; do
            [ -f "$f" ] && cp "$f" "failed-$SCENARIO-$(basename "$f")"
        done
    fi
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}

finish() {
    echo "$SCENARIO: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

trap 'cleanup' EXIT
trap 'exit 1' INT TERM

# A TCP port nobody listens on, below the kernel's ephemeral range
# (32768-60999) so outgoing connections never hold it. Parallel scenarios
# can still race for one; the start_* functions retry on a failed bind.
free_port() {
    local p
    while :; do
        p=$(( ($$ * 7919 + $(od -An -N2 -tu2 /dev/urandom)) % 12000 + 20000 ))
        if ! ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; then
            echo "$p"
            return
        fi
    done
}

# wait_port PORT [TRIES]: until something listens on 127.0.0.1:PORT.
wait_port() {
    local n=0
    while [ $n -lt "${2:-100}" ]; do
        ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.05
        n=$((n + 1))
    done
    return 1
}

# start_relay [EXTRA CONFIG LINES]: writes $T/relay.conf, checks it with
# -n, starts ferry-relay on $RELAY_PORT (stats on $STATS_PORT).
start_relay() {
    RELAY_PORT=$(free_port)
    STATS_PORT=$(free_port)
    [ -f "$T/secret" ] || head -c 32 /dev/urandom | od -An -tx1 |
        tr -d ' \n' >"$T/secret"
    {
        echo "[relay]"
        echo "listen = 127.0.0.1:$RELAY_PORT"
        echo "secret_files = $T/secret"
        echo "stats_listen = 127.0.0.1:$STATS_PORT"
        printf '%s\n' "$@"
    } >"$T/relay.conf"
    "$RELAY" -n -f "$T/relay.conf" >/dev/null || {
        fail "relay config check"
        return 1
    }
    "$RELAY" -f "$T/relay.conf" -v 2>>"$T/relay.log" &
    RELAY_PID=$!
    PIDS="$PIDS $RELAY_PID"
    if ! wait_port "$RELAY_PORT" || ! alive "$RELAY_PID"; then
        # Lost a port race with a parallel scenario: try other ports.
        RELAY_TRIES=$((${RELAY_TRIES:-0} + 1))
        if [ "$RELAY_TRIES" -lt 4 ]; then
            kill "$RELAY_PID" 2>/dev/null
            start_relay "$@"
            return
        fi
        fail "relay did not start"
        return 1
    fi
}

# wait_online LOG: until the `ferry recv` logging there waits for offers
# (at most 20 s). An offer sent before it is online is lost.
wait_online() {
    local n=0
    until grep -q "waiting for" "$1" 2>/dev/null; do
        n=$((n + 1))
        [ $n -gt 400 ] && return 1
        sleep 0.05
    done
}

# mkcert DIR: a self-signed certificate (DIR/cert.pem, DIR/key.pem) for
# 127.0.0.1 and localhost, its own CA.
mkcert() {
    mkdir -p "$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$1/key.pem" -out "$1/cert.pem" -days 2 -subj /CN=127.0.0.1 \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
}

# alive PID: running and not a zombie.
alive() {
    [ -r "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}

gone() { ! alive "$1"; }

relay_rss_kb() {
    awk '/VmHWM/ {print $2}' "/proc/$RELAY_PID/status"
}

# metric NAME: a value from the relay's Prometheus endpoint.
metric() {
    exec 9<>"/dev/tcp/127.0.0.1/$STATS_PORT" 2>/dev/null || return 1
    printf 'GET /metrics HTTP/1.0\r\n\r\n' >&9
    awk -v m="$1" '$1 == m {print $2}' <&9
    exec 9<&-
}

# write_prosody_conf C2S_ADDR C2S_PORT COMP_PORT DOMAIN COMPONENT_JID:
# a private Prosody config in $T (own data dir, pidfile, log; never /etc),
# the component port on loopback. Sets PROSODY_CONF; makes the component
# secret if there is none. PROSODY_GLOBAL and PROSODY_HOSTS, when set, add
# lines to the global section and hosts after the Ferry component.
# PROSODY_MUC=1 adds a group chat service (Prosody's "muc") as
# conference.DOMAIN, sets MUC_DOMAIN to it: local users create rooms by
# joining them, rooms are not persistent (gone with the last occupant),
# semi-anonymous (real JIDs for moderators only) and locked until their
# creator configures them, as Prosody's defaults have it.
write_prosody_conf() {
    local muc=""
    mkdir -p "$T/prosody/data" "$T/prosody/certs"
    [ -f "$T/component.secret" ] || head -c 24 /dev/urandom | od -An -tx1 |
        tr -d ' \n' >"$T/component.secret"
    PROSODY_CONF="$T/prosody/prosody.cfg.lua"
    if [ -n "${PROSODY_MUC:-}" ]; then
        MUC_DOMAIN="conference.$4"
        muc="Component \"$MUC_DOMAIN\" \"muc\"
    restrict_room_creation = \"local\"
    muc_room_default_persistent = false
"
    fi
    cat >"$PROSODY_CONF" <<CFG
run_as_root = true
data_path = "$T/prosody/data"
pidfile = "$T/prosody/prosody.pid"
certificates = "$T/prosody/certs"
log = { { levels = { min = "info" }, to = "file", filename = "$T/prosody.log" } }
interfaces = { "$1" }
c2s_ports = { $2 }
component_interfaces = { "127.0.0.1" }
component_ports = { $3 }
modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; ${PROSODY_MODULES:-} }
modules_disabled = { "s2s" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
disco_items = { { "$5", "Ferry file relay" } }
${PROSODY_GLOBAL:-}
VirtualHost "$4"
Component "$5"
    component_secret = "$(cat "$T/component.secret")"
$muc${PROSODY_HOSTS:-}
CFG
}

# start_prosody: a private Prosody on loopback, host "localhost" and the
# component "ferry.localhost". Sets PROSODY_CONF, C2S_PORT, COMP_PORT.
start_prosody() {
    C2S_PORT=$(free_port)
    COMP_PORT=$(free_port)
    write_prosody_conf 127.0.0.1 "$C2S_PORT" "$COMP_PORT" localhost \
        "${COMPONENT_JID:-ferry.localhost}"
    prosody --config "$PROSODY_CONF" >>"$T/prosody.log" 2>&1 &
    PROSODY_PID=$!
    PIDS="$PIDS $PROSODY_PID"
    if ! wait_port "$C2S_PORT" 200 || ! wait_port "$COMP_PORT" 200 ||
        grep -q "Failed to open server port" "$T/prosody.log"; then
        # Lost a port race with a parallel scenario: try other ports.
        PROSODY_TRIES=$((${PROSODY_TRIES:-0} + 1))
        kill "$PROSODY_PID" 2>/dev/null
        wait "$PROSODY_PID" 2>/dev/null
        if [ "$PROSODY_TRIES" -lt 4 ]; then
            mv "$T/prosody.log" "$T/prosody-try$PROSODY_TRIES.log"
            start_prosody
            return
        fi
        fail "prosody did not start"
        return 1
    fi
}

# register_user NAME PASSWORD: creates NAME@localhost on the server started
# (Prosody, or ejabberd after start_ejabberd), writes $T/NAME.pass.
register_user() {
    if [ -n "${EJABBERD_DIR:-}" ]; then
        ejabberd_ctl register "$1" localhost "$2" >>"$T/ejabberdctl.log" 2>&1
    else
        prosodyctl --config "$PROSODY_CONF" register "$1" localhost "$2" \
            >>"$T/prosody.log" 2>&1
    fi
    printf '%s\n' "$2" >"$T/$1.pass"
}

# ---- ejabberd (Debian's 23.01) as the second test server -------------------
# Runs from $T/ejabberd with its own config, spool, logs and Erlang node
# name, never the system service. ejabberdctl always su's to the ejabberd
# user, so that tree is chowned to it and $T made traversable.
ejabberd_ctl() {
    ejabberdctl --config-dir "$EJABBERD_DIR/etc" --logs "$EJABBERD_DIR/logs" \
        --spool "$EJABBERD_DIR/spool" "$@"
}

# start_ejabberd: host "localhost", component "ferry.localhost" on loopback
# ports. Sets EJABBERD_DIR, C2S_PORT, COMP_PORT.
start_ejabberd() {
    EJABBERD_DIR="$T/ejabberd"
    C2S_PORT=$(free_port)
    COMP_PORT=$(free_port)
    mkdir -p "$EJABBERD_DIR/etc" "$EJABBERD_DIR/logs" "$EJABBERD_DIR/spool"
    [ -f "$T/component.secret" ] || head -c 24 /dev/urandom | od -An -tx1 |
        tr -d ' \n' >"$T/component.secret"
    cp /etc/ejabberd/inetrc "$EJABBERD_DIR/etc/inetrc" 2>/dev/null ||
        : >"$EJABBERD_DIR/etc/inetrc"
    cat >"$EJABBERD_DIR/etc/ejabberdctl.cfg" <<CFG
ERLANG_NODE=ferry$$-$C2S_PORT@localhost
ERL_EPMD_ADDRESS=127.0.0.1
ERL_DIST_PORT=$(free_port)
INET_DIST_INTERFACE=127.0.0.1
CFG
    cat >"$EJABBERD_DIR/etc/ejabberd.yml" <<CFG
hosts:
  - localhost
loglevel: info
certfiles: []
listen:
  -
    port: $C2S_PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
    backlog: 1024
  -
    port: $COMP_PORT
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      ferry.localhost:
        password: "$(cat "$T/component.secret")"
auth_method: internal
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
modules:
  mod_disco: {}
  mod_ping: {}
  mod_roster: {}
  mod_version: {}
${EJABBERD_MODULES:-}
CFG
    chmod 755 "$T"
    chown -R ejabberd: "$EJABBERD_DIR"
    ejabberd_ctl start >>"$T/ejabberdctl.log" 2>&1
    ejabberd_ctl started >>"$T/ejabberdctl.log" 2>&1
    ON_EXIT="${ON_EXIT:-} stop_ejabberd;"
    if ! wait_port "$C2S_PORT" 200 || ! wait_port "$COMP_PORT" 200; then
        cp "$EJABBERD_DIR"/logs/*.log "$T/" 2>/dev/null
        fail "ejabberd did not start"
        return 1
    fi
}

# stop_ejabberd / restart: the component's server going away and back.
stop_ejabberd() {
    ejabberd_ctl stop >>"$T/ejabberdctl.log" 2>&1
    ejabberd_ctl stopped >>"$T/ejabberdctl.log" 2>&1
}

# start_component [EXTRA CONFIG LINES]: ferry-component for
# ferry.localhost against the Prosody and relay started before
# (COMPONENT_RELAYS replaces the relay pool).
start_component() {
    {
        echo "[component]"
        echo "server = 127.0.0.1"
        echo "port = $COMP_PORT"
        echo "jid = ${COMPONENT_JID:-ferry.localhost}"
        echo "secret_file = $T/component.secret"
        echo "reconnect_max = 2"
        echo "[channels]"
        echo "relay_secret_file = $T/secret"
        echo "relays = ${COMPONENT_RELAYS:-127.0.0.1:$RELAY_PORT}"
        printf '%s\n' "$@"
    } >"$T/component.conf"
    "$COMPONENT" -n -f "$T/component.conf" >/dev/null || {
        fail "component config check"
        return 1
    }
    "$COMPONENT" -f "$T/component.conf" -v 2>>"$T/component.log" &
    COMPONENT_PID=$!
    PIDS="$PIDS $COMPONENT_PID"
    i=0
    while ! grep -q "connected jid=" "$T/component.log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 100 ] && { fail "component did not connect"; return 1; }
        sleep 0.05
    done
}

COMPONENT="$top_builddir/component/ferry-component"
FERRY="$top_builddir/plugin/cli/ferry"

# ferry_cli USER COMMAND ARGS...: runs the CLI as USER@localhost against
# our server, in place of the calling (sub)shell, so that `ferry_cli ... &`
# leaves the ferry process itself in $!.
ferry_cli() {
    u=$1 cmd=$2
    shift 2
    # FERRY_DISCOVER=1: no --component, the CLI finds it with disco.
    comp=(--component "${COMPONENT_JID:-ferry.localhost}")
    [ -n "${FERRY_DISCOVER:-}" ] && comp=()
    # FERRY_DATA_THREAD=1: libferry's thread mode (the data on a worker).
    [ -n "${FERRY_DATA_THREAD:-}" ] && comp+=(--data-thread)
    # FERRY_THREADS=N: --threads N (default: the CLI's, the cores).
    [ -n "${FERRY_THREADS:-}" ] && comp+=(--threads "$FERRY_THREADS")
    # -v: the machine-readable lines (event=, reason=) scenarios grep;
    # FERRY_HUMAN=1: what a user sees instead. RES: the resource.
    v=(-v)
    [ -n "${FERRY_HUMAN:-}" ] && v=()
    exec "$FERRY" "$cmd" "${v[@]}" --jid "$u@localhost/${RES:-cli}" \
        --password-file "$T/$u.pass" --server "127.0.0.1:$C2S_PORT" \
        "${comp[@]}" "$@"
}
