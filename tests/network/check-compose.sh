#!/bin/bash
# The compose file mirrors tests/network/topology.env: same subnet, same
# address for every host, every service on a declared network, a
# healthcheck on each daemon; the entrypoint parses; and docker-compose (no
# engine needed) accepts it and the scale-out file (contrib/docker/scale.yml).
# Running them is tests/network/compose.sh and scale.sh (from .ci/run).
# Skips (77) only the docker-compose part when it is not installed.
set -u
src=${top_srcdir:-.}
compose="$src/contrib/docker/compose.yml"
. "$src/tests/network/topology.env"
fails=0 checks=0
check() {
    checks=$((checks + 1))
    if "${@:2}"; then echo "ok - $1"; else echo "not ok - $1"; fails=$((fails + 1)); fi
}
# service -> address, from the compose file's text
addr() {
    awk -v svc="  $1:" '$0 == svc { in_svc = 1; next }
        /^  [a-z]/ { in_svc = 0 }
        in_svc && /ipv4_address/ { print; exit }' "$compose" |
        sed -n 's/.*ipv4_address: *\([0-9.]*\).*/\1/p'
}
for pair in prosody:$XMPP_IP component:$COMPONENT_IP relay:$RELAY_IP \
    alice:$ALICE_IP bob:$BOB_IP; do
    s=${pair%%:*} ip=${pair#*:}
    got=$(addr "$s")
    check "service $s has the topology's address $ip (compose: $got)" [ "$got" = "$ip" ]
done
check "subnet matches topology ($FERRY_NET)" grep -q "subnet: $FERRY_NET" "$compose"
undeclared=$(grep -o '{ferrynet\|networks: {[a-z]*' "$compose" | sed 's/.*{//' |
    sort -u | grep -v '^ferrynet$')
check "services use only declared networks" [ -z "$undeclared" ]
check "entrypoint parses" bash -n "$src/contrib/docker/ferry-node"
check "Dockerfile copies only files that exist" \
    bash -c "for f in contrib/docker/ferry-node tests/network/topology.env; do [ -f '$src/'\$f ] || exit 1; done"
check "no sleep orders the services (healthchecks and conditions do)" \
    bash -c "! grep -n 'sleep [0-9]' '$src/contrib/docker/ferry-node'"
for s in prosody component relay bob; do
    check "service $s has a healthcheck" bash -c "awk -v svc='  $s:' '\$0 == svc { f = 1; next }
        /^  [a-z]/ { f = 0 } f && /healthcheck:/ { ok = 1 } END { exit !ok }' '$compose'"
done
scale="$src/contrib/docker/scale.yml"
undeclared=$(grep -o 'networks: {[a-z]*' "$scale" | sed 's/.*{//' | sort -u | grep -v '^scalenet$')
check "scale-out services use only declared networks" [ -z "$undeclared" ]
check "scale-out subnet differs from topology's" bash -c "! grep -q 'subnet: $FERRY_NET' '$scale'"
if command -v docker-compose >/dev/null 2>&1; then
    check "docker-compose config accepts the file" \
        docker-compose -f "$compose" config -q
    check "docker-compose config accepts the scale-out file" \
        docker-compose -f "$scale" config -q
else
    echo "compose: docker-compose not installed, its check skipped"
fi
echo "compose: $((checks - fails)) passed, $fails failed"
[ $fails -eq 0 ]
