#!/bin/bash
# The installed libferry, as a user gets it: `make install` into a scratch
# DESTDIR (never the real system), ferry.pc there checked with pkg-config,
# plugin/examples/ferry-example.c built with nothing but
# `pkg-config --cflags --libs ferry` against that copy, then run as the
# receiver and as the sender through a real Prosody, ferry-component and
# ferry-relay: the file must arrive byte-identical.
. "${top_srcdir:-.}/tests/integration/lib.sh"

# The installed library of a sanitizer build needs the ASan runtime
# first; the plain build runs this.
[ -n "${FERRY_SANITIZERS:-}" ] &&
    { echo "example: sanitizer build (the plain build runs it): skipped"; exit 77; }
command -v prosody >/dev/null || { echo "example: no prosody: skipped"; exit 77; }
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
command -v "${PKG_CONFIG%% *}" >/dev/null ||
    { echo "example: no pkg-config: skipped"; exit 77; }

# ---- install into $T/dest ---------------------------------------------------
D="$T/dest"
# MAKEFLAGS of the `make check` around us (TESTS=..., a jobserver this
# child cannot use) stay out of the install.
# shellcheck disable=SC2086 # $MAKE may carry arguments
if ! env -u MAKEFLAGS -u MFLAGS ${MAKE:-make} -C "$top_builddir" install \
    DESTDIR="$D" >"$T/install.log" 2>&1; then
    fail "make install DESTDIR=\$T/dest"
    cat "$T/install.log"
    exit 1
fi
pass "make install DESTDIR=\$T/dest"
PC=$(find "$D" -name ferry.pc -path '*/pkgconfig/*' | head -n 1)
check "ferry.pc installed" [ -n "$PC" ]
[ -n "$PC" ] || { finish; exit 1; }

# pkg-config sees the staged tree as if it were installed: the sysroot is
# put in front of every path the .pc files give.
export PKG_CONFIG_SYSROOT_DIR="$D"
PKG_CONFIG_PATH="$(dirname "$PC")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
pc() { $PKG_CONFIG "$@" 2>>"$T/pkg-config.log"; }
# requires public|private PACKAGE: ferry.pc lists PACKAGE there.
requires() {
    local opt=--print-requires
    [ "$1" = private ] && opt=--print-requires-private
    pc $opt ferry | grep -q "^$2\b"
}
# has WORD LIST: WORD is one of the words of LIST.
has() { case " $2 " in *" $1 "*) return 0 ;; esac; return 1; }
check "pkg-config --validate ferry" pc --validate ferry
check "pkg-config --exists 'ferry = version'" pc --exists "ferry = $(
    sed -n 's/^Version: *//p' "$PC")"
check "Requires: libstrophe" requires public libstrophe
for p in libssl libcrypto glib-2.0; do
    check "Requires.private: $p" requires private $p
done
STATIC=$(pc --static --libs ferry)
check "pkg-config --static --libs ferry works" [ -n "$STATIC" ]
for l in -lferry -lstrophe -lssl -lcrypto -lglib-2.0; do
    check "--static --libs has $l" has "$l" "$STATIC"
done
LIBDIR=$D$(PKG_CONFIG_SYSROOT_DIR='' pc --variable=libdir ferry)
INCDIR=$D$(PKG_CONFIG_SYSROOT_DIR='' pc --variable=includedir ferry)
check "libdir has libferry.so" [ -e "$LIBDIR/libferry.so" ]
check "includedir has ferry.h" [ -e "$INCDIR/ferry.h" ]

# ---- build the example against the installed copy only -------------------
EX="$T/ferry-example"
FLAGS=$(pc --cflags --libs ferry)
echo "example: ${CC:-cc} ... $FLAGS" >"$T/build.log"
# shellcheck disable=SC2086 # FLAGS is a list of words
if ${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror -MD -MF "$T/ex.d" \
    -o "$EX" "$top_srcdir/plugin/examples/ferry-example.c" $FLAGS \
    2>>"$T/build.log"; then
    pass "example compiles (-std=c11 -Wall -Wextra -Wpedantic -Werror)"
else
    fail "example compiles (-std=c11 -Wall -Wextra -Wpedantic -Werror)"
    cat "$T/build.log"
    finish
    exit 1
fi
check "the example included the installed ferry.h" \
    grep -q "$INCDIR/ferry.h" "$T/ex.d"
NEEDED=$(readelf -d "$EX" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' |
    grep -v '^libc\.so' | sort | tr '\n' ' ')
check "the example needs libferry and libstrophe only ($NEEDED)" \
    [ "$NEEDED" = "libferry.so.0 libstrophe.so.0 " ]
check "it runs on the installed libferry.so" \
    grep -q "libferry.so.0 => $LIBDIR/" <(LD_LIBRARY_PATH="$LIBDIR" ldd "$EX")
LD_LIBRARY_PATH="$LIBDIR" "$EX" >/dev/null 2>&1
check "usage error exits 2" [ $? -eq 2 ]

# ---- a file through the test network -----------------------------------------
start_relay || exit 1
start_prosody || exit 1
start_component || exit 1
register_user alice alice-pw
register_user bob bob-pw

# example USER ARGS...: the example as USER@localhost/example.
example() {
    local u=$1
    shift
    FERRY_JID="$u@localhost/example" FERRY_PASSWORD="$(cat "$T/$u.pass")" \
        FERRY_SERVER="127.0.0.1:$C2S_PORT" LD_LIBRARY_PATH="$LIBDIR" \
        timeout 120 "$EX" "$@"
}

# transfer NAME FILE: bob receives into $T/NAME, alice sends FILE; both
# exit 0 and bob's copy equals FILE.
transfer() {
    local name=$1 file=$2 b br ar
    mkdir -p "$T/$name"
    example bob recv "$T/$name" 2>"$T/$name.bob.log" &
    b=$!
    wait_online "$T/$name.bob.log" || { kill $b; fail "$name: bob not online"; return 1; }
    example alice send bob@localhost/example "$file" 2>"$T/$name.alice.log"
    ar=$?
    wait $b
    br=$?
    [ $ar -eq 0 ] || echo "$name: sender exited $ar"
    [ $br -eq 0 ] || echo "$name: receiver exited $br"
    [ $ar -eq 0 ] && [ $br -eq 0 ] && cmp "$file" "$T/$name/$(basename "$file")"
}

head -c 1060921 /dev/urandom >"$T/payload.bin" # 1 MiB + 12345 bytes
export FERRY_COMPONENT=ferry.localhost
check "example: 1 MiB + 12345 B, alice to bob, byte-identical" \
    transfer one "$T/payload.bin"
check "receiver reported the saved path" \
    grep -q "receiving into $T/one/payload.bin" "$T/one.bob.log"
check "the component allocated the channel" \
    grep -q "channel allocated" "$T/component.log"

# No FERRY_COMPONENT: libferry finds ferry.localhost with disco.
unset FERRY_COMPONENT
printf 'ferry example, discovered component\n' >"$T/note.txt"
check "example with a discovered component: byte-identical" \
    transfer two "$T/note.txt"
finish
