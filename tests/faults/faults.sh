#!/bin/bash
# Fault trials: FAULT_TRIALS (30) transfers of 16 MiB; in each, one of
# sender, receiver, relay, component, Prosody is killed with SIGKILL at a
# random moment. Every trial checks: no file under the final name that
# differs from the source; each surviving end exits within its timeout
# with a defined status; after restarting what was killed, a new transfer
# succeeds. Last line: "faults: N trials, C corrupt, H hung".
. "${top_srcdir:-.}/tests/integration/lib.sh"

N=${FAULT_TRIALS:-30}
LIMIT=12 # seconds a surviving end may take to give up
start_relay || exit 1
start_prosody || exit 1
start_component "[policy]" "max_channels_per_jid = 0" \
    "requests_per_minute = 0" || exit 1
register_user alice alice-pw
register_user bob bob-pw
head -c 16777216 /dev/urandom >"$T/src.bin"
corrupt=0 hung=0 failed_after=0
defined() { case $1 in 0 | 6[5-9] | 7[0-3] | 137) return 0 ;; esac; return 1; }

# wait_exit PID: sets RC to its exit status, or "hung" after LIMIT
# seconds (it must run in this shell: only the parent can wait).
wait_exit() {
    local n=0
    while alive "$1" && [ $n -lt $((LIMIT * 10)) ]; do
        sleep 0.1
        n=$((n + 1))
    done
    if alive "$1"; then
        kill -9 "$1"
        wait "$1" 2>/dev/null
        RC=hung
    else
        wait "$1"
        RC=$?
    fi
}

restart() {
    case $1 in
    relay)
        "$RELAY" -f "$T/relay.conf" -v 2>>"$T/relay.log" &
        RELAY_PID=$!
        PIDS="$PIDS $RELAY_PID"
        wait_port "$RELAY_PORT"
        ;;
    component)
        "$COMPONENT" -f "$T/component.conf" -v 2>>"$T/component.log" &
        COMPONENT_PID=$!
        PIDS="$PIDS $COMPONENT_PID"
        ;;
    prosody)
        prosody --config "$PROSODY_CONF" >>"$T/prosody.log" 2>&1 &
        PROSODY_PID=$!
        PIDS="$PIDS $PROSODY_PID"
        wait_port "$C2S_PORT" 200
        ;;
    esac
    # The component (re)connects within its backoff; wait for it.
    local before=$(grep -c "connected jid=" "$T/component.log") n=0
    if [ "$1" != relay ]; then
        while [ "$(grep -c "connected jid=" "$T/component.log")" -le "$before" ] &&
            [ $n -lt 100 ]; do
            sleep 0.1
            n=$((n + 1))
        done
    fi
}

transfer() { # dir timeout -> sets A B (pids)
    ferry_cli bob recv --dir "$1" --accept-from alice@localhost \
        --timeout "$2" -q 2>>"$T/bob.log" &
    B=$!
    sleep 0.3
    # --wait: a receiver killed before it answered the probe is waited for
    # this long, as for any peer not online yet.
    ferry_cli alice send -q --chunk-size 4096 --timeout "$2" --wait 6 \
        bob@localhost/cli \
        "$T/src.bin" 2>>"$T/alice.log" &
    A=$!
}

victims=(sender receiver relay component prosody)
for trial in $(seq 1 "$N"); do
    v=${victims[$((RANDOM % 5))]}
    ms=$((RANDOM % 600))
    dir="$T/in$trial"
    mkdir -p "$dir"
    transfer "$dir" "$LIMIT"
    sleep "$(printf '0.%03d' $ms)"
    case $v in
    sender) kill -9 $A ;;
    receiver) kill -9 $B ;;
    relay) kill -9 "$RELAY_PID" ;;
    component) kill -9 "$COMPONENT_PID" ;;
    prosody) kill -9 "$PROSODY_PID" ;;
    esac
    wait_exit $A
    ra=$RC
    wait_exit $B
    rb=$RC
    case $v in
    relay) wait "$RELAY_PID" 2>/dev/null ;;
    component) wait "$COMPONENT_PID" 2>/dev/null ;;
    prosody) wait "$PROSODY_PID" 2>/dev/null ;;
    esac
    if [ -e "$dir/src.bin" ] && ! cmp -s "$T/src.bin" "$dir/src.bin"; then
        corrupt=$((corrupt + 1))
        fail "trial $trial ($v at ${ms} ms): corrupt file under the final name"
    fi
    [ "$ra" = hung ] || [ "$rb" = hung ] && hung=$((hung + 1))
    if ! defined "$ra" || ! defined "$rb"; then
        fail "trial $trial ($v at ${ms} ms): sender $ra, receiver $rb"
    fi
    case $v in relay | component | prosody) restart $v ;; esac
    # After the fault: a fresh transfer must succeed.
    rm -rf "$dir" && mkdir -p "$dir"
    transfer "$dir" 30
    wait_exit $A
    ra2=$RC
    wait_exit $B
    rb2=$RC
    if [ "$ra2" = 0 ] && [ "$rb2" = 0 ] && cmp -s "$T/src.bin" "$dir/src.bin"; then
        pass "trial $trial: $v killed at ${ms} ms -> sender $ra, receiver $rb; next transfer ok"
    else
        failed_after=$((failed_after + 1))
        fail "trial $trial: $v killed at ${ms} ms -> sender $ra, receiver $rb; next transfer sender $ra2 receiver $rb2"
    fi
    rm -rf "$dir"
done
echo "faults: $N trials, $corrupt corrupt, $hung hung"
finish
