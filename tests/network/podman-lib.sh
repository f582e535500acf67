# Sourced by the container tests (tests/network/compose.sh): podman serving
# the Docker API on a private socket, driven by Debian's docker-compose.
# See NOTES.md, "Running the compose network for real".
#   podman_prepare NAME [--install]   the common start of every container
#                       test: install (with --install), configure, or exit 77
#   podman_install      apt-get what is missing (root; CI passes --install)
#   podman_usable       0 when podman and docker-compose can run containers here
#   podman_base_image   debian:12 (and -slim, bookworm) from a cached debootstrap
#   podman_service_start / podman_service_stop   the API on $PODMAN_SOCK
#   podman_health_start / podman_health_stop     see below
# The caller sets T (a private temp dir) and stops what it started by PID.

FERRY_CI_CACHE=${FERRY_CI_CACHE:-/var/cache/ferry-ci}
PODMAN_PKGS="podman runc catatonit docker-compose debootstrap curl"
# The runtime and limits that worked (NOTES.md), in a file of our own: the
# host's /etc/containers is left as it is.
podman_conf() {
    cat >"$T/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF
    export CONTAINERS_CONF="$T/containers.conf"
}

podman_install() {
    local p missing=
    for p in $PODMAN_PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "podman: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # With the recommends, as verified (NOTES.md): netavark, not CNI.
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
}

# Says why not on stdout and returns 1 when containers cannot run here.
podman_usable() {
    local c
    for c in podman docker-compose; do
        command -v "$c" >/dev/null || { echo "$c is not installed"; return 1; }
    done
    [ "$(id -u)" = 0 ] || { echo "needs root (rootful podman, fixed addresses)"; return 1; }
    if ! podman info >"$T/podman-info" 2>&1; then
        echo "podman info fails: $(tail -n 1 "$T/podman-info")"
        return 1
    fi
    return 0
}

# No image registry is reachable, only Debian's mirror: the base image is a
# slim debootstrap of bookworm (minbase), kept as a tarball in
# $FERRY_CI_CACHE (delete it to refresh) and imported under the names the
# Dockerfile uses, labelled with the recipe's version.
BASE_RECIPE=slim-1
podman_base_image() {
    local tar="$FERRY_CI_CACHE/debian-12-slim.tar" dir mirror n
    if [ "$(podman image inspect docker.io/library/debian:12-slim \
        --format '{{index .Labels "org.ferry.base"}}' 2>/dev/null)" = "$BASE_RECIPE" ]; then
        return 0
    fi
    if [ ! -s "$tar" ]; then
        command -v debootstrap >/dev/null || { echo "podman: no debootstrap" >&2; return 1; }
        mkdir -p "$FERRY_CI_CACHE"
        mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
        mirror=${mirror:-http://deb.debian.org/debian}
        dir="$FERRY_CI_CACHE/rootfs.$$"
        rm -rf "$dir"
        echo "podman: debootstrap bookworm from $mirror"
        if ! debootstrap --variant=minbase --include=ca-certificates \
            bookworm "$dir" "$mirror" >"$T/debootstrap.log" 2>&1; then
            tail -n 20 "$T/debootstrap.log" >&2
            rm -rf "$dir"
            return 1
        fi
        # apt inside sees the host's sources (mirror and security).
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            rm -f "$dir/etc/apt/sources.list"
            cp /etc/apt/sources.list.d/debian.sources "$dir/etc/apt/sources.list.d/"
        fi
        rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
        # Slim, as Debian's own -slim images: no documentation, manuals or
        # translations, now or from later installs.
        printf '%s\n' 'path-exclude /usr/share/doc/*' \
            'path-include /usr/share/doc/*/copyright' \
            'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
            'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
            >"$dir/etc/dpkg/dpkg.cfg.d/slim"
        find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
        rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/*
        find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias \
            -exec rm -rf {} +
        tar -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
        rm -rf "$dir"
    fi
    podman import -q --change "LABEL org.ferry.base=$BASE_RECIPE" "$tar" \
        docker.io/library/debian:12 >/dev/null || return 1
    for n in 12-slim bookworm bookworm-slim; do
        podman tag docker.io/library/debian:12 "docker.io/library/debian:$n"
    done
}

# The Docker API on a socket of our own; DOCKER_HOST points there.
podman_service_start() {
    PODMAN_SOCK="$T/podman.sock"
    podman system service --time=0 "unix://$PODMAN_SOCK" >"$T/podman-service.log" 2>&1 &
    PODMAN_PID=$!
    export DOCKER_HOST="unix://$PODMAN_SOCK"
    local n=0
    until [ -S "$PODMAN_SOCK" ] &&
        curl -sf --unix-socket "$PODMAN_SOCK" http://d/_ping >/dev/null 2>&1; do
        n=$((n + 1))
        if [ $n -gt 100 ] || ! kill -0 "$PODMAN_PID" 2>/dev/null; then
            echo "podman: the API service did not come up" >&2
            tail -n 20 "$T/podman-service.log" >&2
            return 1
        fi
        sleep 0.1
    done
}
podman_service_stop() {
    [ -n "${PODMAN_PID:-}" ] || return 0
    kill "$PODMAN_PID" 2>/dev/null
    wait "$PODMAN_PID" 2>/dev/null
    PODMAN_PID=
}

# Podman runs healthchecks from systemd timers; with no systemd (these
# machines, most CI containers) nothing runs them and every service stays
# "starting". Where that is so, this loop plays the timer: once a second
# it runs the healthcheck of each running container of project $1 that
# has one (Docker's engine runs them itself). Its PID is HEALTH_PID.
podman_health_start() {
    HEALTH_PID=
    [ -d /run/systemd/system ] && return 0
    (
        while :; do
            for id in $(podman ps -q --filter "label=com.docker.compose.project=$1" \
                --filter status=running 2>/dev/null); do
                podman healthcheck run "$id" >/dev/null 2>&1 &
            done
            wait
            sleep 1
        done
    ) &
    HEALTH_PID=$!
}
podman_health_stop() {
    [ -n "${HEALTH_PID:-}" ] || return 0
    kill "$HEALTH_PID" 2>/dev/null
    wait "$HEALTH_PID" 2>/dev/null
    HEALTH_PID=
}

# podman_prepare NAME [--install]: installs what is missing when asked
# (root only), writes our containers.conf, and exits the calling script
# with 77 where podman cannot run containers.
podman_prepare() {
    local name=$1 why
    if [ "${2:-}" = --install ]; then
        [ "$(id -u)" = 0 ] || { echo "$name: --install needs root" >&2; exit 1; }
        podman_install || exit 1
    fi
    podman_conf
    if ! why=$(podman_usable); then
        echo "$name: $why; skipped"
        exit 77
    fi
}
