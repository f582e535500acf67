#!/bin/bash
# newcomer.sh's server-dependent scenarios (offline peer, start order,
# nothing stored offline) against Debian's ejabberd.
if ! command -v ejabberdctl >/dev/null; then
    echo "newcomer-ejabberd: ejabberd not installed: skipped"
    exit 77
fi
XMPP_SERVER=ejabberd
. "${top_srcdir:-.}/tests/integration/newcomer.sh"
