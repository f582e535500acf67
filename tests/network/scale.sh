#!/bin/bash
# The scale-out network (contrib/docker/scale.yml) run for real, on podman
# through docker-compose like compose.sh: two XMPP domains whose Prosody
# servers talk s2s, a component each, three relays in one pool.
#  1. transfers across the domains, both ways, arrive byte-identical;
#  2. a relay is killed (SIGKILL) in the middle of a transfer: both ends
#     fail, no partial file under the final name, and both components'
#     health probes take it out of the pool within health_interval (2 s)
#     + the probe timeout (2 s);
#  3. new transfers all succeed, on the other relays;
#  4. the interrupted transfer, sent again with the same --sid, resumes
#     (not from chunk 0) on another relay and arrives byte-identical;
#  5. each relay's channel count is printed; `down -v` leaves nothing.
# The relays' links are shaped to 80 Mbit/s from the host (tc in their
# network namespaces) so that a transfer lasts long enough to be cut.
#   tests/network/scale.sh [--install]
# Skips (77) where podman cannot run containers.
set -u
src=$(cd "${top_srcdir:-$(dirname "$0")/../..}" && pwd)
T=$(mktemp -d "${FERRY_TMP:-/tmp}/ferry-scale.XXXXXX")
. "$src/tests/network/podman-lib.sh"
P=ferry-scale
FILE="$src/contrib/docker/scale.yml"
NET=172.28.78
HEALTH_INTERVAL=2 PROBE_TIMEOUT=2
passed=0 failed=0 BG=""
pass() { passed=$((passed + 1)); echo "ok $passed - $*"; }
fail() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
dc() {
    COMPOSE_DOCKER_CLI_BUILD=0 timeout --foreground 900 docker-compose --ansi never \
        -p "$P" -f "$FILE" "$@"
}
ct() { echo "${P}_$1_1"; }
# on HOST ARGS...: ferry-node ARGS in client host HOST; sh HOST CMD: bash.
on() { local h=$1; shift; podman exec "$(ct "$h")" ferry-node "$@"; }
sh_on() { podman exec "$(ct "$1")" bash -c "$2"; }
domain() { case $1 in alice | carol) echo alpha.test ;; *) echo beta.test ;; esac; }
component_of() { case $1 in alice | carol) echo component-a ;; *) echo component-b ;; esac; }
cleanup() {
    local p
    for p in $BG; do kill "$p" 2>/dev/null; done
    podman_health_stop
    if [ -n "${PODMAN_PID:-}" ]; then
        if [ "$failed" -ne 0 ]; then
            dc logs --no-color --tail 30 prosody-a prosody-b component-a \
                component-b relay-1 relay-2 relay-3 >&2 2>/dev/null
        fi
        dc down -v --remove-orphans -t 5 >/dev/null 2>&1
    fi
    podman_service_stop
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

podman_prepare scale "${1:-}"
for c in nsenter tc curl; do
    command -v $c >/dev/null || { echo "scale: needs $c; skipped"; exit 77; }
done
t0=$(now)
podman_base_image || { echo "scale: cannot make the base image" >&2; exit 1; }
if ! podman run --rm --network none docker.io/library/debian:12 true >"$T/probe.log" 2>&1; then
    echo "scale: podman cannot run a container here ($(tail -n 1 "$T/probe.log")); skipped"
    exit 77
fi
podman_service_start || exit 1
podman_health_start "$P"
dc down -v --remove-orphans -t 5 >/dev/null 2>&1

t=$(now)
dc build >"$T/build.log" 2>&1
check "the image builds ($(since "$t") s)" test $? -eq 0 || tail -n 30 "$T/build.log"
t=$(now)
dc up -d >"$T/up.log" 2>&1
check "up -d: init, both servers, both components, three relays, four hosts ($(since "$t") s)" \
    test $? -eq 0 || tail -n 30 "$T/up.log"
healthy() {
    local s
    for s in prosody-a prosody-b component-a component-b relay-1 relay-2 relay-3; do
        [ "$(podman inspect "$(ct "$s")" --format '{{.State.Health.Status}}' 2>/dev/null)" = healthy ] ||
            return 1
    done
}
n=0
until healthy || [ $n -gt 120 ]; do sleep 0.5; n=$((n + 1)); done
check "every daemon reports healthy" healthy

# Relay i's counters, from the host through the stats port the probes use.
metric() { curl -s --max-time 2 "http://$NET.2$1:5291/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
relay_counts() {
    local i line=""
    for i in 1 2 3; do
        if [ "$i" = "${KILLED:-}" ]; then
            line="$line relay-$i: killed;"
        else
            line="$line relay-$i: $(metric "$i" ferry_relay_channels_paired_total) channels ($(metric "$i" ferry_relay_channels) open);"
        fi
    done
    echo "# relays:$line"
}
# The relay the receiver's component picked for session SID (the last one).
relay_of() {
    podman logs "$(ct "$(component_of "$2")")" 2>&1 |
        sed -n "s/.*channel allocated .* sid=$1 relay=$NET\.2\([0-9]\):5290.*/\1/p" | tail -n 1
}

# recv_bg TO FROM: TO's receiver in the background, ready for FROM's offer.
# Its status lands in $T/recv-TO.rc.
recv_bg() {
    local to=$1 from=$2 n=0
    rm -f "$T/recv-$to.rc"
    : >"$T/recv-$to.log"
    (sh_on "$to" "echo \$\$ >/tmp/recv.pid; exec ferry-node recv --dir /files/in-$to \
        --accept-from $from@$(domain "$from") --count 1 --timeout 120" \
        2>"$T/recv-$to.log"
    echo $? >"$T/recv-$to.rc") &
    BG="$BG $!"
    until grep -q "waiting for" "$T/recv-$to.log" || [ $n -gt 200 ]; do
        sleep 0.1; n=$((n + 1))
    done
}
# The receiver's process in its container, when the sender failed.
# shellcheck disable=SC2016 # expanded in the container
recv_stop() { sh_on "$1" 'kill "$(cat /tmp/recv.pid)" 2>/dev/null'; }
wait_rc() { local n=0; until [ -s "$1" ] || [ $n -gt 1500 ]; do sleep 0.1; n=$((n + 1)); done; cat "$1" 2>/dev/null; }
# xfer FROM TO MIB SID: one transfer start to end; 0 when TO's copy is
# byte-identical. Every host sees /files (the check's shortcut; the bytes
# themselves go through the servers and relays).
mkfile() { sh_on "$1" "mkdir -p /files/out /files/in-$2 && head -c $(($3 * 1048576)) /dev/urandom >/files/out/$4.bin"; }
same() { sh_on alice "cmp -s /files/out/$1.bin /files/in-$2/$1.bin"; }
xfer() {
    local from=$1 to=$2 mib=$3 sid=$4 rc
    mkfile "$from" "$to" "$mib" "$sid"
    recv_bg "$to" "$from"
    on "$from" send --sid "$sid" "$to@$(domain "$to")/box" "/files/out/$sid.bin" \
        2>"$T/send-$sid.log"
    rc=$?
    if [ $rc -ne 0 ]; then
        recv_stop "$to"
        tail -n 3 "$T/send-$sid.log" | sed 's/^/# /'
    fi
    [ "$(wait_rc "$T/recv-$to.rc")" = 0 ] && [ $rc -eq 0 ] && same "$sid" "$to"
}

# 1. Across the domains, both ways.
for x in "alice bob" "dave carol" "carol bob" "bob alice"; do
    # shellcheck disable=SC2086 # two names
    set -- $x
    sid=cross-$1-$2
    t=$(now)
    xfer "$1" "$2" 8 "$sid"
    check "$1@$(domain "$1") -> $2@$(domain "$2"): 8 MiB byte-identical via relay-$(relay_of "$sid" "$2") ($(since "$t") s)" \
        test $? -eq 0
done
relay_counts

# 2. Slow links, a long transfer, and its relay killed in the middle.
for i in 1 2 3; do
    pid=$(podman inspect "$(ct "relay-$i")" --format '{{.State.Pid}}')
    nsenter -t "$pid" -n tc qdisc replace dev eth0 root tbf rate 80mbit \
        burst 32kb latency 400ms
done
SID=scale-resume-1
mkfile alice bob 64 "$SID"
recv_bg bob alice
(on alice send --sid "$SID" "bob@beta.test/box" "/files/out/$SID.bin" \
    2>"$T/send-$SID.log"; echo $? >"$T/send-$SID.rc") &
BG="$BG $!"
KILLED='' n=0
until [ -n "$KILLED" ] || [ $n -gt 100 ]; do
    sleep 0.1; n=$((n + 1)); KILLED=$(relay_of "$SID" bob)
done
# Well into the transfer: some MiB through the relay.
through() { local b; b=$(metric "${KILLED:-0}" ferry_relay_bytes_forwarded_total); echo "${b:-0}"; }
n=0
until [ "$(through)" -gt 8000000 ] || [ $n -gt 100 ]; do sleep 0.1; n=$((n + 1)); done
before=$(through)
t_kill=$(date -u +%s.%N)
podman kill -s KILL "$(ct "relay-$KILLED")" >/dev/null
check "relay-$KILLED killed with $((${before:-0} / 1048576)) MiB of 64 through it" \
    test -n "$KILLED" -a "${before:-0}" -gt 0
send_rc=$(wait_rc "$T/send-$SID.rc") recv_rc=$(wait_rc "$T/recv-bob.rc")
check "both ends of the cut transfer fail (send $send_rc, recv $recv_rc, $(since "$t_kill") s after the kill)" \
    test "$send_rc" != 0 -a "$recv_rc" != 0
check "no partial file under the final name" \
    sh_on alice "test ! -e /files/in-bob/$SID.bin"
# Both components' probes: the relay's address stops answering. The delay
# is read from the component's own log time (UTC, ms), not from polling.
down_after() {
    local n=0 line
    until line=$(podman logs "$(ct "$1")" 2>&1 | grep "relay down $NET.2$KILLED:5290" | head -n 1) &&
        [ -n "$line" ] || [ $n -gt 150 ]; do sleep 0.1; n=$((n + 1)); done
    [ -n "$line" ] || { echo "never"; return; }
    echo "$line" | awk -v k="$t_kill" '{
        split($1, h, ":"); d = h[1] * 3600 + h[2] * 60 + h[3] - k % 86400
        if (d < -43200) d += 86400
        r = $0; sub(/.*reason=/, "", r)
        printf "%.1f %s", d, r }'
}
for c in component-a component-b; do
    read -r secs why <<<"$(down_after "$c")"
    check "$c takes relay-$KILLED out of the pool $secs s after the kill (reason $why; bound: health_interval $HEALTH_INTERVAL s + probe timeout $PROBE_TIMEOUT s + 1 s of clock granularity)" \
        awk -v s="$secs" -v m=$((HEALTH_INTERVAL + PROBE_TIMEOUT + 1)) 'BEGIN { exit !(s != "never" && s <= m) }'
done

# 3. New transfers: all through the relays still up.
for x in "carol dave" "bob carol" "alice dave" "dave alice" "carol bob" "bob alice"; do
    # shellcheck disable=SC2086 # two names
    set -- $x
    sid=after-$1-$2
    xfer "$1" "$2" 2 "$sid"
    ok=$?
    r=$(relay_of "$sid" "$2")
    check "after the kill: $1 -> $2 byte-identical via relay-$r (not relay-$KILLED)" \
        test $ok -eq 0 -a -n "$r" -a "$r" != "$KILLED"
done

# 4. The interrupted transfer, sent again with the same session id.
t=$(now)
recv_bg bob alice
on alice send --sid "$SID" "bob@beta.test/box" "/files/out/$SID.bin" 2>"$T/send-$SID-2.log"
rc=$?
r=$(relay_of "$SID" bob)
check "the same send resumes and completes via relay-$r ($(since "$t") s)" \
    test $rc -eq 0 -a "$(wait_rc "$T/recv-bob.rc")" = 0 -a -n "$r" -a "$r" != "$KILLED"
check "it resumed past chunk 0" grep -q "resuming" "$T/recv-bob.log"
check "the resumed copy is byte-identical (64 MiB)" same "$SID" bob
relay_counts

t=$(now)
dc down -v --remove-orphans -t 5 >"$T/down.log" 2>&1
check "down -v ($(since "$t") s)" test $? -eq 0
left_c=$(podman ps -aq --filter "label=com.docker.compose.project=$P" | wc -l)
left_v=$(podman volume ls -q | grep -c "^${P}_")
left_n=$(podman network ls --format '{{.Name}}' | grep -c "^${P}_")
check "down -v leaves nothing behind (containers $left_c, volumes $left_v, networks $left_n)" \
    test "$left_c" -eq 0 -a "$left_v" -eq 0 -a "$left_n" -eq 0
echo "# scale: wall time $(since "$t0") s"
echo "scale: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
