#!/bin/bash
# Ferry inside Profanity: headless Profanity 0.13.1 instances with ferry.so,
# each under tmux on a private socket with its own HOME and XDG dirs,
# against a private Prosody, ferry-component and ferry-relay. Keys are
# typed with tmux send-keys; every assertion reads a log file (the plugin's
# own, FERRY_PROFANITY_LOG, or the CLI's), never the screen.
# Cases: Profanity -> CLI, CLI -> Profanity, Profanity -> Profanity,
# reject and cancel both ways, /ferry list answered within 1 s while
# 512 MiB move, auto-accept only from roster contacts.
: "${top_builddir:=.}"
PLUGIN_SO="$top_builddir/plugin/profanity/.libs/ferry.so"

skip() {
    echo "profanity: skipped: $*"
    echo "profanity: 0 passed, 0 failed"
    exit 77
}
# An ASan-instrumented ferry.so cannot load into an uninstrumented
# Profanity; the plain build runs this.
[ -n "${FERRY_SANITIZERS:-}" ] && skip "sanitizer build (the plain build runs it)"
command -v profanity >/dev/null || skip "profanity not installed (apt-get install profanity)"
command -v tmux >/dev/null || skip "tmux not installed (apt-get install tmux)"
[ -f "$PLUGIN_SO" ] || skip "ferry.so not built (no profapi.h at configure time, or --without-profanity)"

. "${top_srcdir:-.}/tests/integration/lib.sh"
SCENARIO=profanity
SOCK="ferry-prof-$$"
unset TMUX
# On failure, the screens are kept too (failed-profanity-NAME.screen.log).
screens() {
    local n
    [ "$FAILED" -eq 0 ] && return
    for n in alice carol; do
        tmux -L "$SOCK" capture-pane -p -S -200 -t "$n" >"$T/$n.screen.log" 2>/dev/null
    done
}
ON_EXIT="screens; tmux -L $SOCK kill-server 2>/dev/null;"

# now_ms: wall clock, as the plugin's log lines are stamped.
now_ms() { date +%s%3N; }

# wait_log FILE REGEX [SECONDS]: until a line matches (default 30 s).
wait_log() {
    local n=0 max=$((${3:-30} * 10))
    until grep -Eq "$2" "$1" 2>/dev/null; do
        n=$((n + 1))
        [ $n -gt $max ] && return 1
        sleep 0.1
    done
}

# start_prof NAME: NAME@localhost/prof in Profanity with ferry.so; its
# plugin logs to $T/NAME.plugin.log. Waits until the plugin is online.
start_prof() {
    local h="$T/$1"
    mkdir -p "$h/.config/profanity" "$h/.local/share/profanity/plugins"
    cp "$PLUGIN_SO" "$h/.local/share/profanity/plugins/ferry.so"
    cat >"$h/.local/share/profanity/accounts" <<EOF
[$1]
enabled=true
jid=$1@localhost
server=127.0.0.1
port=$C2S_PORT
resource=prof
password=$(cat "$T/$1.pass")
tls.policy=disable
EOF
    printf '[plugins]\nload=ferry.so;\n' >"$h/.config/profanity/profrc"
    tmux -L "$SOCK" -f /dev/null new-session -d -s "$1" -x 160 -y 45 \
        "cd '$h' && exec env HOME='$h' XDG_CONFIG_HOME='$h/.config' \
         XDG_DATA_HOME='$h/.local/share' FERRY_PROFANITY_LOG='$T/$1.plugin.log' \
         profanity -a $1 -l DEBUG -f '$T/$1.profanity.log'"
    PIDS="$PIDS $(tmux -L "$SOCK" display -p -t "$1" '#{pane_pid}')"
    wait_log "$T/$1.plugin.log" "online jid=$1@localhost/prof" 30 || {
        fail "$1's Profanity did not come online"
        return 1
    }
    # Profanity asks the server's disco after login; let it settle.
    sleep 1
}

# type NAME TEXT: types a line into NAME's Profanity.
type_in() {
    tmux -L "$SOCK" send-keys -t "$1" -l "$2"
    tmux -L "$SOCK" send-keys -t "$1" Enter
}

# count NAME REGEX: matching lines in NAME's plugin log so far.
count() { grep -Ec "$2" "$T/$1.plugin.log"; }

# new_id NAME KIND BEFORE: waits (30 s) for NAME's log to hold more than
# BEFORE lines "KIND id=N" (KIND: offer or send), prints the newest N.
new_id() {
    local n=0
    until [ "$(count "$1" " $2 id=")" -gt "$3" ]; do
        n=$((n + 1))
        [ $n -gt 300 ] && return 1
        sleep 0.1
    done
    grep -Eo " $2 id=[0-9]+" "$T/$1.plugin.log" | tail -1 | cut -d= -f2
}

# done_line NAME ID [SECONDS]: NAME's done line for transfer ID.
done_line() {
    wait_log "$T/$1.plugin.log" "done id=$2 " "${3:-60}"
    grep -E "done id=$2 " "$T/$1.plugin.log" | tail -1
}

# send NAME PEER FILE: NAME types /ferry send; prints the transfer's id.
send() {
    local b
    b=$(count "$1" " send id=")
    type_in "$1" "/ferry send $2 $3"
    new_id "$1" send "$b"
}

# die: the summary line even when the setup fails.
die() {
    finish
    exit 1
}
start_relay || die
start_prosody || die
start_component "[policy]" "max_channels_per_jid = 100" \
    "requests_per_minute = 1000" || die
for u in alice bob carol; do register_user $u $u-pw; done
start_prof alice || die
start_prof carol || die
head -c 3000000 /dev/urandom >"$T/three.bin"
head -c 1048576 /dev/urandom >"$T/one.bin"
head -c 536870912 /dev/urandom >"$T/big.bin"

# 1. Profanity sends two files (one name with a space) to `ferry recv`.
mkdir -p "$T/in1"
cp "$T/one.bin" "$T/with space.bin"
ferry_cli bob recv --dir "$T/in1" --accept-from alice@localhost --count 2 \
    --timeout 60 2>"$T/c1.bob.log" &
b=$!
wait_online "$T/c1.bob.log"
s=$(send alice bob@localhost/cli "$T/three.bin '$T/with space.bin'")
wait $b
br=$?
check "Profanity -> CLI: ferry recv exits 0" [ $br -eq 0 ]
check "Profanity -> CLI: both files byte-identical" \
    eval 'cmp -s "$T/three.bin" "$T/in1/three.bin" &&
          cmp -s "$T/with space.bin" "$T/in1/with space.bin"'
check "Profanity -> CLI: Profanity says verified, twice" \
    eval 'done_line alice "$s" | grep -q "status=ok" &&
          done_line alice "$((s - 1))" | grep -q "status=ok"'

# 2. `ferry send` to Profanity, accepted with /ferry accept.
o=$(count alice " offer id=")
ferry_cli bob send alice@localhost/prof "$T/one.bin" 2>"$T/c2.bob.log" &
b=$!
id=$(new_id alice offer "$o")
check "CLI -> Profanity: the offer shows in bob's chat window" \
    grep -q "ui peer=bob@localhost text=ferry: bob@localhost offers one.bin (1.0 MiB). Accept: /ferry accept $id" \
    "$T/alice.plugin.log"
type_in alice "/ferry accept $id $T/in2"
wait $b
br=$?
check "CLI -> Profanity: ferry send exits 0" [ $br -eq 0 ]
check "CLI -> Profanity: byte-identical" cmp -s "$T/one.bin" "$T/in2/one.bin"
check "CLI -> Profanity: verified, in bob's window" \
    wait_log "$T/alice.plugin.log" \
    "ui peer=bob@localhost text=ferry: #$id one.bin.*verified" 20

# 3. Profanity to Profanity (to the bare JID).
o=$(count carol " offer id=")
s=$(send alice carol@localhost "$T/three.bin")
id=$(new_id carol offer "$o")
type_in carol "/ferry accept $id $T/in3"
check "Profanity -> Profanity: receiver verified" \
    eval 'done_line carol "$id" | grep -q "status=ok"'
check "Profanity -> Profanity: sender verified" \
    eval 'done_line alice "$s" | grep -q "status=ok"'
check "Profanity -> Profanity: byte-identical" \
    cmp -s "$T/three.bin" "$T/in3/three.bin"
# Ferry's stanzas never reach Profanity's own handlers (no chat line
# "... offers you ..." in its history), while a chat message still does.
type_in carol "/msg alice@localhost plain-chat-still-works"
wait_log "$T/alice.profanity.log" "plain-chat-still-works" 20
sleep 1
db="$T/alice/.local/share/profanity/database/alice_at_localhost/chatlog.db"
check "other stanzas pass: carol's chat message is in alice's history" \
    eval 'strings "$db" | grep -q plain-chat-still-works'
check "Ferry's stanzas are consumed: no offer text in alice's history" \
    eval '! strings "$db" | grep -q "offers you"'
# The plugin's feature is in Profanity's own disco#info answer.
type_in carol "/disco info alice@localhost/prof"
check "disco#info of a Profanity with ferry.so lists urn:xmpp:ferry:0" \
    eval 'wait_log "$T/carol.profanity.log" \
        "RECV: <iq [^>]*from=\"alice@localhost/prof\".*urn:xmpp:ferry:0" 10'

# 4. Reject and cancel, both directions.
o=$(count carol " offer id=")
s=$(send alice carol@localhost/prof "$T/one.bin")
id=$(new_id carol offer "$o")
type_in carol "/ferry reject $id"
check "carol rejects: alice hears rejected (declined)" \
    eval 'done_line alice "$s" | grep -q "status=rejected reason=declined"'
check "carol rejects: carol's window says so" \
    eval 'done_line carol "$id" | grep -q "status=rejected"'
o=$(count alice " offer id=")
s=$(send carol alice@localhost/prof "$T/one.bin")
id=$(new_id alice offer "$o")
type_in alice "/ferry reject $id"
check "alice rejects: carol hears rejected (declined)" \
    eval 'done_line carol "$s" | grep -q "status=rejected reason=declined"'
# The sender cancels its offer before an answer.
o=$(count carol " offer id=")
s=$(send alice carol@localhost/prof "$T/one.bin")
id=$(new_id carol offer "$o")
type_in alice "/ferry cancel $s"
check "alice cancels her offer: carol hears cancelled" \
    eval 'done_line carol "$id" | grep -q "status=cancelled"'
check "alice cancels her offer: alice ends cancelled" \
    eval 'done_line alice "$s" | grep -q "status=cancelled"'
# The receiver cancels mid-transfer.
o=$(count alice " offer id=")
s=$(send carol alice@localhost/prof "$T/big.bin")
id=$(new_id alice offer "$o")
type_in alice "/ferry accept $id $T/in4"
wait_log "$T/alice.plugin.log" "event id=$id .*what=(connected|first-byte)" 30
type_in alice "/ferry cancel $id"
check "alice cancels while receiving: alice ends cancelled" \
    eval 'done_line alice "$id" | grep -q "status=cancelled"'
# Mid-transfer, the XMPP cancel races the relay's close: libferry then
# reports peer-gone/peer-closed (e2e.sh accepts either too).
heard() {
    local l
    l=$(done_line "$1" "$2")
    trace "$1 heard: $(echo "$l" | grep -o 'status=.*reason=[^ ]*')"
    echo "$l" | grep -Eq "status=cancelled|status=peer-gone reason=peer-closed"
}
check "alice cancels while receiving: carol hears cancelled (or peer-closed)" \
    heard carol "$s"
check "alice cancels while receiving: no file under the final name" \
    [ ! -e "$T/in4/big.bin" ]
# The sender cancels mid-transfer.
o=$(count carol " offer id=")
s=$(send alice carol@localhost/prof "$T/big.bin")
id=$(new_id carol offer "$o")
type_in carol "/ferry accept $id $T/in4b"
wait_log "$T/alice.plugin.log" "event id=$s .*what=(connected|admitted)" 30
type_in alice "/ferry cancel $s"
check "alice cancels while sending: alice ends cancelled" \
    eval 'done_line alice "$s" | grep -q "status=cancelled"'
check "alice cancels while sending: carol hears cancelled (or peer-closed)" \
    heard carol "$id"
check "alice cancels while sending: no file under the final name" \
    [ ! -e "$T/in4b/big.bin" ]

# 5. Responsiveness: /ferry list typed on both ends while 512 MiB move.
o=$(count carol " offer id=")
s=$(send alice carol@localhost/prof "$T/big.bin")
id=$(new_id carol offer "$o")
type_in carol "/ferry accept $id $T/in5"
wait_log "$T/alice.plugin.log" "event id=$s .*what=(connected|admitted)" 30
la=$(count alice "list answered")
lc=$(count carol "list answered")
ta=$(now_ms)
type_in alice "/ferry list"
tc=$(now_ms)
type_in carol "/ferry list"
# answered_ms NAME BEFORE T0: ms from typing to the plugin's answer.
answered_ms() {
    local n=0 line
    until [ "$(count "$1" "list answered")" -gt "$2" ] || [ $n -gt 100 ]; do
        n=$((n + 1))
        sleep 0.1
    done
    line=$(grep "list answered" "$T/$1.plugin.log" | sed -n "$(($2 + 1))p")
    [ -n "$line" ] || { echo 99999; return; }
    echo $(( $(echo "$line" | cut -d' ' -f1 | tr -d .) - $3 ))
}
ma=$(answered_ms alice "$la" "$ta")
mc=$(answered_ms carol "$lc" "$tc")
trace "/ferry list answered in $ma ms (sender), $mc ms (receiver)"
check "512 MiB moving: /ferry list answered within 1 s (sender)" [ "$ma" -lt 1000 ]
check "512 MiB moving: /ferry list answered within 1 s (receiver)" [ "$mc" -lt 1000 ]
dl=$(done_line carol "$id" 120)
tl=$(grep "list answered" "$T/carol.plugin.log" | tail -1 | cut -d' ' -f1 | tr -d .)
check "512 MiB: still moving when /ferry list was answered" \
    [ "$tl" -lt "$(echo "$dl" | cut -d' ' -f1 | tr -d .)" ]
check "512 MiB Profanity -> Profanity: verified, byte-identical" \
    eval 'echo "$dl" | grep -q status=ok && cmp -s "$T/big.bin" "$T/in5/big.bin"'

# 6. Auto-accept (a setting, off by default): only from roster contacts.
type_in alice "/ferry set autoaccept on"
type_in alice "/ferry set dir $T/in6"
o=$(count alice " offer id=")
ferry_cli bob send alice@localhost/prof "$T/one.bin" 2>"$T/c6.bob.log" &
b=$!
id=$(new_id alice offer "$o")
check "auto-accept: an offer from outside the roster is shown, not accepted" \
    wait_log "$T/alice.plugin.log" "text=ferry: not accepted automatically: bob@localhost" 10
type_in alice "/ferry reject $id"
wait $b
check "auto-accept: ... and rejecting it by hand still works (CLI exits 65)" [ $? -eq 65 ]
type_in alice "/roster add carol@localhost"
sleep 1
o=$(count alice " offer id=")
s=$(send carol alice@localhost/prof "$T/three.bin")
id=$(new_id alice offer "$o")
check "auto-accept: a roster contact's offer is accepted and verified" \
    eval 'done_line alice "$id" | grep -q "status=ok" &&
          cmp -s "$T/three.bin" "$T/in6/three.bin"'
finish
