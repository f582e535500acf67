#!/bin/sh
# Checks xep/xep-ferry.xml against itself and against common/:
#  - well-formed and valid against xep/xep.dtd (header order, structure);
#  - the XML Schema section is a valid schema, and it really constrains
#    (a known-bad offer must fail);
#  - every example is well-formed and every Ferry element in it validates;
#  - the frame table and the error code table equal common/'s;
#  - the appendix test vectors equal what common/ computes.
set -u
src=${top_srcdir:-.}
bld=${top_builddir:-.}
xep="$src/xep/xep-ferry.xml"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
checks=0
check() { checks=$((checks + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
NS="namespace-uri()='urn:xmpp:ferry:0'"
TOP="//*[$NS and not(ancestor::*[$NS])]"

check
(cd "$src/xep" && xmllint --noout --valid xep-ferry.xml) ||
    fail "draft is not well-formed or not valid against xep.dtd"

xmllint --xpath "string(//section1[@anchor='schema']/code)" "$xep" \
    >"$tmp/ferry.xsd"
check
xmllint --noout "$tmp/ferry.xsd" || fail "schema section is not XML"
printf '%s\n' "<offer xmlns='urn:xmpp:ferry:0' sid='a' name='x' size='1'" \
    " media-type='a/b' chunk-size='12' key='hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo='" \
    " requester='sender'/>" >"$tmp/bad.xml"
check
if xmllint --noout --schema "$tmp/ferry.xsd" "$tmp/bad.xml" 2>/dev/null; then
    fail "schema accepts chunk-size=12"
fi

n=$(xmllint --xpath "count(//example)" "$xep")
check
[ "$n" -ge 15 ] || fail "only $n examples (at least 15 required)"
validated=0
i=1
while [ "$i" -le "$n" ]; do
    cap=$(xmllint --xpath "string((//example)[$i]/@caption)" "$xep")
    {
        echo "<wrap xmlns='jabber:client'>"
        xmllint --xpath "string((//example)[$i])" "$xep"
        echo "</wrap>"
    } >"$tmp/ex$i.xml"
    check
    if ! xmllint --noout "$tmp/ex$i.xml" 2>"$tmp/err"; then
        fail "example $i ($cap) is not well-formed: $(head -1 "$tmp/err")"
        i=$((i + 1))
        continue
    fi
    m=$(xmllint --xpath "count($TOP)" "$tmp/ex$i.xml")
    k=1
    while [ "$k" -le "$m" ]; do
        xmllint --xpath "($TOP)[$k]" "$tmp/ex$i.xml" >"$tmp/el.xml"
        check
        if xmllint --noout --schema "$tmp/ferry.xsd" "$tmp/el.xml" \
            2>"$tmp/err"; then
            validated=$((validated + 1))
        else
            fail "example $i ($cap): $(grep -v validates "$tmp/err" | head -1)"
        fi
        k=$((k + 1))
    done
    i=$((i + 1))
done

cat >"$tmp/rows.xsl" <<'XSL'
<xsl:stylesheet version='1.0' xmlns:xsl='http://www.w3.org/1999/XSL/Transform'>
  <xsl:output method='text'/>
  <xsl:param name='caption'/>
  <xsl:param name='cols'/>
  <xsl:template match='/'>
    <xsl:for-each select="//table[@caption=$caption]/tr[td]">
      <xsl:for-each select='td[position() &lt;= $cols]'>
        <xsl:value-of select='normalize-space(.)'/>
        <xsl:if test='position() != last()'><xsl:text> </xsl:text></xsl:if>
      </xsl:for-each>
      <xsl:text>&#10;</xsl:text>
    </xsl:for-each>
  </xsl:template>
</xsl:stylesheet>
XSL
xsltproc --nonet --stringparam caption 'Frame table' --param cols 4 \
    "$tmp/rows.xsl" "$xep" >"$tmp/xep-frames"
"$bld/tests/xep/frames" >"$tmp/code-frames"
check
diff -u "$tmp/code-frames" "$tmp/xep-frames" >"$tmp/d" ||
    fail "frame table differs from common/frame.h: $(cat "$tmp/d")"
xsltproc --nonet --stringparam caption 'Wire error codes (u16) and their names' \
    --param cols 2 "$tmp/rows.xsl" "$xep" >"$tmp/xep-errors"
"$bld/tests/xep/frames" errors >"$tmp/code-errors"
check
diff -u "$tmp/code-errors" "$tmp/xep-errors" >"$tmp/d" ||
    fail "error code table differs from common/err.c: $(cat "$tmp/d")"

xmllint --xpath "string(//section1[@anchor='vectors']/code)" "$xep" |
    sed '/^$/d' >"$tmp/xep-vectors"
"$bld/tests/xep/vectors" >"$tmp/code-vectors" || fail "vectors program failed"
check
diff -u "$tmp/code-vectors" "$tmp/xep-vectors" >"$tmp/d" ||
    fail "appendix test vectors differ from common/: $(cat "$tmp/d")"

# The ChaCha20-Poly1305 block and tests/data/chacha-kat.txt against an
# independent computation (python3-cryptography), when it is installed.
if /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then
    check
    /usr/bin/python3 "$src/tests/xep/chacha-vectors.py" --check >"$tmp/d" ||
        fail "ChaCha20-Poly1305 vectors: $(cat "$tmp/d")"
fi

echo "xep: $n examples, $validated Ferry elements validated against the schema"
echo "xep: $((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
