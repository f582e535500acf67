# Shared harness for Ferry's integration scenarios (sourced by bash).
# Every daemon a scenario starts is stopped by cleanup(), and its logs are
# kept as failed-*.log next to the scenario when it fails.
# Provides: trace, fail, pass, free_port, wait_port, start_relay,
# start_prosody, start_component, register_user, cleanup.

: "${top_builddir:=.}"
: "${top_srcdir:=.}"
SCENARIO=$(basename "$0" .sh)
T=$(mktemp -d "/tmp/ferry-$SCENARIO.XXXXXX")
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
        for f in "$T"/*.log; do
            [ -f "$f" ] && cp "$f" "failed-$SCENARIO-$(basename "$f")"
        done
    fi
    [ -n "$KEEP" ] || rm -rf "$T"
}

finish() {
    echo "$SCENARIO: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

trap 'cleanup' EXIT
trap 'exit 1' INT TERM

# A TCP port nobody listens on (bash's /dev/tcp is not POSIX: use ss).
free_port() {
    while :; do
        p=$(( (($$ * 7919) + $(od -An -N2 -tu2 /dev/urandom)) % 20000 + 30000 ))
        if ! ss -ltnH "sport = :$p" 2>/dev/null | grep -q .; then
            echo "$p"
            return
        fi
    done
}

# wait_port PORT [TRIES]: until something listens on 127.0.0.1:PORT.
wait_port() {
    i=0
    while [ $i -lt "${2:-100}" ]; do
        ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
        sleep 0.05
        i=$((i + 1))
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
    wait_port "$RELAY_PORT" || {
        fail "relay did not start"
        return 1
    }
}

# alive PID: running and not a zombie.
alive() {
    [ -r "/proc/$1/status" ] && ! grep -q '^State:.*Z' "/proc/$1/status"
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
