#!/bin/bash
# The compose network run for real: contrib/docker/compose.yml through
# Debian's docker-compose on podman's Docker API (NOTES.md). Builds the
# image, then:
#  1. `up --exit-code-from alice alice`: alice's 32 MiB reach bob
#     byte-identical and the run exits 0;
#  2. a second `up` in a row (containers, volumes and network reused)
#     passes too, with a new file;
#  3. a run whose checker fails (a chunk damaged after sealing: bob refuses
#     it) exits with alice's status, not with the first container's;
#  4. `down -v` leaves no container, volume or network of the project.
# Takes minutes, so it runs from .ci/run, not from `make check`.
#   tests/network/compose.sh [--install]
# --install: apt-get what is missing first (root). Skips (77) where podman
# cannot run containers. Stops everything it starts.
set -u
src=$(cd "${top_srcdir:-$(dirname "$0")/../..}" && pwd)
T=$(mktemp -d "${FERRY_TMP:-/tmp}/ferry-compose.XXXXXX")
. "$src/tests/network/podman-lib.sh"
P=ferry-ci
FILE="$src/contrib/docker/compose.yml"
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok $passed - $*"; }
fail() { failed=$((failed + 1)); echo "not ok - $*"; }
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
now() { date +%s; }
# docker-compose's own builder (docker-py): a fresh machine has no docker CLI.
dc() {
    COMPOSE_DOCKER_CLI_BUILD=0 timeout --foreground 900 docker-compose --ansi never \
        -p "$P" -f "$FILE" "$@"
}
cleanup() {
    podman_health_stop
    if [ -n "${PODMAN_PID:-}" ]; then
        [ "$failed" -ne 0 ] && dc logs --no-color --tail 40 >&2 2>/dev/null
        dc down -v --remove-orphans -t 5 >/dev/null 2>&1
    fi
    podman_service_stop
    [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

podman_prepare compose "${1:-}"
t0=$(now)
podman_base_image || { echo "compose: cannot make the base image" >&2; exit 1; }
if ! podman run --rm --network none docker.io/library/debian:12 true >"$T/probe.log" 2>&1; then
    echo "compose: podman cannot run a container here ($(tail -n 1 "$T/probe.log")); skipped"
    exit 77
fi
t_base=$(($(now) - t0))
podman_service_start || exit 1
podman_health_start "$P"
# What a crashed earlier run may have left; images of earlier builds that
# no tag holds any more, once a day old (younger ones serve as build cache).
dc down -v --remove-orphans -t 5 >/dev/null 2>&1
podman image prune -f --filter label=org.ferry.testnet --filter until=24h >/dev/null 2>&1

t=$(now)
dc build >"$T/build.log" 2>&1
check "the image builds ($(($(now) - t)) s)" test $? -eq 0 ||
    tail -n 30 "$T/build.log"
size=$(podman image inspect ferry:latest --format '{{.Size}}' 2>/dev/null)
echo "# image ferry:latest: $((${size:-0} / 1048576)) MiB; base image ready in $t_base s"
check "the image's daemons run as a non-root user" \
    test "$(podman image inspect ferry:latest --format '{{.Config.User}}')" = ferry

# run N LOG: one `up` with alice attached; prints compose's exit status.
run() {
    dc up --exit-code-from alice alice >"$T/$1.log" 2>&1
    echo $?
}
name_sent() { sed -n "s/.*bob's copy of \(sample-[0-9-]*\.bin\).*byte-identical.*/\1/p" "$1"; }

for i in 1 2; do
    t=$(now)
    rc=$(run "up$i")
    secs=$(($(now) - t))
    which=first
    [ "$i" = 2 ] && which="second (reusing containers, volumes, network)"
    check "$which up exits 0 ($secs s)" test "$rc" -eq 0
    check "$which up: bob's copy is byte-identical" \
        grep -q "byte-identical" "$T/up$i.log"
    [ "$rc" -eq 0 ] || tail -n 30 "$T/up$i.log"
done
n1=$(name_sent "$T/up1.log") n2=$(name_sent "$T/up2.log")
check "the second run sent a file of its own ($n1, $n2)" \
    test -n "$n1" -a -n "$n2" -a "$n1" != "$n2"
dc logs --no-color init >"$T/init.log" 2>&1
check "the one-shot init ran on each up" \
    test "$(grep -c "init: secrets and accounts ready" "$T/init.log")" -ge 2

# The checker fails: alice's send damages a chunk, bob refuses the file.
t=$(now)
rc=$(FERRY_SEND_OPTS="--test-corrupt-chunk 3" run up3)
alice_rc=$(podman inspect "${P}_alice_1" --format '{{.State.ExitCode}}' 2>/dev/null)
check "a failing check fails the run ($rc) ($(($(now) - t)) s)" test "$rc" -ne 0
check "the run's status is alice's (compose $rc, alice ${alice_rc:-?})" \
    test "$rc" = "${alice_rc:-x}"

t=$(now)
dc down -v --remove-orphans -t 5 >"$T/down.log" 2>&1
check "down -v ($(($(now) - t)) s)" test $? -eq 0
left_c=$(podman ps -aq --filter "label=com.docker.compose.project=$P" | wc -l)
left_v=$(podman volume ls -q | grep -c "^${P}_")
left_n=$(podman network ls --format '{{.Name}}' | grep -c "^${P}_")
check "down -v leaves nothing behind (containers $left_c, volumes $left_v, networks $left_n)" \
    test "$left_c" -eq 0 -a "$left_v" -eq 0 -a "$left_n" -eq 0
echo "# compose: wall time $(($(now) - t0)) s"
echo "compose: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
