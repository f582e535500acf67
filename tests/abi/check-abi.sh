#!/bin/bash
# libferry's ABI: the functions declared in plugin/ferry.h and the symbols
# libferry.so exports (nm -D --defined-only) must be the same two sets.
# Anything else exported (ferry_random, ferry_x25519, ... from the
# convenience libraries) or anything declared but not exported fails.
: "${top_srcdir:=.}"
: "${top_builddir:=.}"
HEADER="$top_srcdir/plugin/ferry.h"
LIB="$top_builddir/plugin/.libs/libferry.so"
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-abi.XXXXXX")
trap 'rm -rf "$T"' EXIT

[ -r "$HEADER" ] || { echo "check-abi: no $HEADER"; exit 99; }
[ -r "$LIB" ] || { echo "check-abi: no $LIB (build first)"; exit 99; }

# Declared: preprocess the header alone (no includes, so no system headers
# and no compiler flags needed; comments and the C++ guard go away), then
# keep the file-scope declarations (brace depth 0) that are not typedefs
# and take the name before the parameter list.
grep -v '^[[:space:]]*#[[:space:]]*include' "$HEADER" |
    ${CC:-cc} -E -P -x c - >"$T/header.i" ||
    { echo "check-abi: cannot preprocess $HEADER"; exit 99; }
tr '\n' ' ' <"$T/header.i" | awk '
    {
        for (i = 1; i <= length($0); i++) {
            c = substr($0, i, 1)
            if (c == "{") depth++
            else if (c == "}") depth--
            else if (c == ";" && depth == 0) {
                print stmt
                stmt = ""
                continue
            }
            if (depth == 0 && c != "}") stmt = stmt c
        }
    }' |
    sed -E 's/__attribute__ *\(\((\([^()]*\)|[^()])*\)\)//g' |
    grep -Ev '^[[:space:]]*typedef' |
    sed -nE 's/^([^(]*[^A-Za-z0-9_(])?([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\(.*/\2/p' |
    sort -u >"$T/declared"

# Exported: defined dynamic symbols that are functions, minus the ones
# every shared object has (_init, _fini in the T column).
${NM:-nm} -D --defined-only "$LIB" |
    awk '$2 ~ /^[TtWiI]$/ && $3 != "_init" && $3 != "_fini" {print $3}' |
    sed 's/@.*//' | sort -u >"$T/exported"
# Data symbols would be ABI too: none is declared, none may be exported.
${NM:-nm} -D --defined-only "$LIB" |
    awk '$2 !~ /^[TtWiIAa]$/ {print $3}' | sed 's/@.*//' | sort -u >"$T/data"

nd=$(wc -l <"$T/declared")
ne=$(wc -l <"$T/exported")
rc=0
if [ "$nd" -lt 20 ]; then
    echo "check-abi: only $nd functions found in $HEADER: parser broken?"
    rc=1
fi
if ! cmp -s "$T/declared" "$T/exported"; then
    echo "check-abi: exported and declared functions differ:"
    comm -23 "$T/exported" "$T/declared" | sed 's/^/  exported, not in ferry.h: /'
    comm -13 "$T/exported" "$T/declared" | sed 's/^/  in ferry.h, not exported: /'
    rc=1
fi
if [ -s "$T/data" ]; then
    echo "check-abi: data symbols exported:"
    sed 's/^/  /' "$T/data"
    rc=1
fi
[ $rc -eq 0 ] && echo "check-abi: $ne functions exported, all declared in ferry.h"
exit $rc
