#!/bin/bash
# Builds Ferry's libFuzzer targets with clang, the code under test
# instrumented along with the harness (-fsanitize=fuzzer-no-link,address,
# undefined on every source, -fsanitize=fuzzer at link), and runs each for
# FUZZ_SECONDS (default 20). `make fuzz` runs this from the build directory.
#
#   tests/fuzz/run.sh [TARGET...]        build and run (default: all)
#   FUZZ_BUILD_ONLY=1 tests/fuzz/run.sh  build only
#
# Environment: FUZZ_SECONDS, CLANG (default clang), FUZZ_OUT (default
# tests/fuzz/out under the current directory), FUZZ_ARGS (more libFuzzer
# options). Seeds come from tests/fuzz/corpus/TARGET/ (read only); what a
# run adds goes to $FUZZ_OUT/corpus/TARGET/, crashes to
# $FUZZ_OUT/artifacts/. Exits 1 if any target crashed or did not build.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=${top_srcdir:-$(cd "$here/../.." && pwd)}
src=$(cd "$src" && pwd)
out=${FUZZ_OUT:-$PWD/tests/fuzz/out}
secs=${FUZZ_SECONDS:-20}
cc=${CLANG:-clang}
ALL="frame ring http codec stanza state conf component libferry"
targets=${*:-$ALL}

command -v "$cc" >/dev/null || {
    echo "fuzz: $cc not found (Debian: apt-get install clang)" >&2
    exit 1
}

# Source lists from Makefile.am, so the fuzzers build what the programs do.
am_sources() {
    sed -n "/^$1 *=/,/[^\\\\]\$/p" "$src/Makefile.am" | sed 's/^[^=]*=//' |
        tr -d '\\' | tr ' \t' '\n\n' | grep '\.c$'
}
COMMON="$(am_sources libferrycommon_la_SOURCES) common/stanza.c"
LIBFERRY=$(am_sources plugin_libferry_la_SOURCES)

sources() {
    case $1 in
    frame | codec | stanza) ;;
    ring) echo relay/ring.c ;;
    http) echo relay/http.c ;;
    state) echo plugin/state.c ;;
    conf) echo relay/config.c component/config.c component/alloc.c \
        component/policy.c ;;
    component) echo component/config.c component/alloc.c \
        component/policy.c component/disco.c ;;
    libferry) echo "$LIBFERRY" ;;
    *) return 1 ;;
    esac
}

PKGS="glib-2.0 libssl libcrypto libstrophe"
CFLAGS="-g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE
    -DPACKAGE_VERSION=\"fuzz\" -I$src/common -I$src/relay -I$src/plugin
    -I$src/component -I$src/tests/fuzz $(pkg-config --cflags $PKGS)"
SAN="address,undefined -fno-sanitize-recover=all"
LIBS="$(pkg-config --libs $PKGS) -lpthread"
mkdir -p "$out/obj" "$out/bin" "$out/corpus" "$out/artifacts"

# obj FILE: its instrumented object (rebuilt when the source is newer).
obj() {
    local o="$out/obj/$(echo "$1" | tr / _).o"
    if [ ! -f "$o" ] || [ "$src/$1" -nt "$o" ] ||
        [ -n "$(find "$src/common" "$src/relay" "$src/plugin" \
            "$src/component" "$src/tests/fuzz" -name '*.h' -newer "$o" \
            2>/dev/null | head -1)" ]; then
        # shellcheck disable=SC2086
        "$cc" $CFLAGS -fsanitize=fuzzer-no-link,$SAN -c "$src/$1" -o "$o" ||
            return 1
    fi
    echo "$o"
}

build() {
    local t=$1 objs="" f o
    for f in tests/fuzz/fuzz_$t.c $COMMON $(sources "$t"); do
        o=$(obj "$f") || return 1
        objs="$objs $o"
    done
    # shellcheck disable=SC2086
    "$cc" -fsanitize=fuzzer,$SAN $objs $LIBS -o "$out/bin/fuzz_$t"
}

fail=0
summary=""
for t in $targets; do
    if ! sources "$t" >/dev/null; then
        echo "fuzz: unknown target $t (targets: $ALL)" >&2
        exit 1
    fi
    echo "fuzz: building fuzz_$t"
    if ! build "$t"; then
        summary="$summary$(printf '%-10s build failed' "$t")\n"
        fail=1
        continue
    fi
    [ -n "${FUZZ_BUILD_ONLY:-}" ] && continue
    mkdir -p "$out/corpus/$t"
    maxlen=""
    case $t in stanza | component | libferry | conf) maxlen=-max_len=8192 ;; esac
    log="$out/fuzz_$t.log"
    echo "fuzz: running fuzz_$t for ${secs}s (log: $log)"
    # -close_fd_mask=3: the code's own log lines stay out of the run's
    # output (libFuzzer and the sanitizers still report on a copy).
    # shellcheck disable=SC2086
    "$out/bin/fuzz_$t" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$t-" $maxlen ${FUZZ_ARGS:-} \
        "$out/corpus/$t" "$src/tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    line=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(echo "$line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    corp=$(echo "$line" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
    if [ $rc -eq 0 ]; then
        res=ok
    else
        res="CRASH (exit $rc; see $log and $out/artifacts/$t-*)"
        fail=1
        grep -m3 -E 'ERROR: |property failed|runtime error' "$log"
    fi
    summary="$summary$(printf '%-10s %5ss %12s execs %8s/s  cov %5s  ft %6s  corpus %5s  %s' \
        "$t" "$secs" "${execs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" \
        "${corp:-?}" "$res")\n"
done
[ -n "$summary" ] && printf "\nfuzz summary (execs, edges covered, features):\n$summary"
exit $fail
