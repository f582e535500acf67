#!/bin/bash
# The scenarios of component.sh against Debian's ejabberd, which is
# stricter than Prosody about addressing (it closes a component's stream
# on a reply without `from`). Skips (77) only when ejabberd is not
# installed; tools/install-deps.sh installs it, so CI runs it.
if ! command -v ejabberdctl >/dev/null; then
    echo "component-ejabberd: ejabberd not installed (apt-get install ejabberd): skipped"
    exit 77
fi
XMPP_SERVER=ejabberd
. "${top_srcdir:-.}/tests/integration/component.sh"
