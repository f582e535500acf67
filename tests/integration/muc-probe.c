/* muc-probe: the facts Ferry's fan-out to a group chat depends on, on a
 * real server with its MUC service, through plugin/cli/muc.c. Logs in
 * alice, bob, carol, dave and eve (NAME@DOMAIN/probe, password NAME-pw)
 * and checks, printing "ok - ..." or "not ok - ..." for each and
 * "fact: ..." for what the server did:
 *   a. alice creates ROOM, bob, carol and dave join; each lists exactly
 *      the other three; in the semi-anonymous room bob does not see real
 *      JIDs (alice, the owner and a moderator, does);
 *   b. private messages through the room: a headline with
 *      <probe xmlns='urn:xmpp:ferry:0' sid='x'/> from alice to ROOM/bob
 *      reaches bob's real JID from ROOM/alice with the child intact, bob's
 *      headline answer to that address reaches alice; the same without a
 *      type; nobody else gets them; a private message to an absent nick
 *      bounces;
 *   c. bob leaves: alice's list drops him (and eve, one too many for the
 *      cap of 3 the probe builds muc.c with, takes his place);
 *   d. eve joins as "carol": the retry as carol-XXXX gets in;
 *   e. a join at a service that does not exist fails with words;
 *   f. dave answers alice's room JID with a type='error' message: the
 *      room kicks dave, muc.c says so, alice's list drops him.
 * Usage: muc-probe --port C2S_PORT [--domain localhost] [--room ROOM]
 * Exit 0 when every check passed. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <strophe.h>

#include "cli.h"

#define FERRY_NS "urn:xmpp:ferry:0"
#define MUC_USER_NS "http://jabber.org/protocol/muc#user"

enum { ALICE, BOB, CAROL, DAVE, EVE, NUSERS };
static const char *names[NUSERS] = {"alice", "bob", "carol", "dave", "eve"};

struct user {
    const char *name;
    xmpp_conn_t *conn;
    int connected, failed;
    struct muc *muc;
    GPtrArray *msgs;      /* xmpp_stanza_t* copies of messages received */
    GHashTable *real_jid; /* room JID -> jid='' of its presence ("-": none) */
};

static struct user users[NUSERS];
static xmpp_ctx_t *ctx;
static const char *room = "room@conference.localhost";
static int failures;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(int ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    va_list ap;

    printf("%s - ", ok ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    if (!ok)
        failures++;
}

/* Runs the loop until cond(arg) or `seconds` pass; returns cond(arg). */
static int until(int (*cond)(void *), void *arg, double seconds)
{
    double end = mono() + seconds;

    while (!cond(arg) && mono() < end)
        xmpp_run_once(ctx, 20);
    return cond(arg);
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static void settle(double seconds)
{
    until(never, NULL, seconds);
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct user *u = ud;

    (void)conn;
    g_ptr_array_add(u->msgs, xmpp_stanza_copy(st));
    return 1;
}

/* What each occupant's presence tells this user about real JIDs. */
static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct user *u = ud;
    const char *from = xmpp_stanza_get_from(st), *jid;
    xmpp_stanza_t *x, *item;

    (void)conn;
    if (from == NULL || u->muc == NULL || !muc_is_room_jid(u->muc, from))
        return 1;
    x = xmpp_stanza_get_child_by_name_and_ns(st, "x", MUC_USER_NS);
    item = x ? xmpp_stanza_get_child_by_name(x, "item") : NULL;
    jid = item ? xmpp_stanza_get_attribute(item, "jid") : NULL;
    g_hash_table_insert(u->real_jid, g_strdup(from), g_strdup(jid ? jid : "-"));
    return 1;
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                    xmpp_stream_error_t *se, void *ud)
{
    struct user *u = ud;
    xmpp_stanza_t *p;

    (void)error;
    (void)se;
    if (ev == XMPP_CONN_CONNECT) {
        u->connected = 1;
        p = xmpp_presence_new(ctx);
        xmpp_send(conn, p);
        xmpp_stanza_release(p);
    } else {
        if (!u->connected)
            u->failed = 1;
        u->connected = 0;
    }
}

static int all_logged_in(void *arg)
{
    int i;

    (void)arg;
    for (i = 0; i < NUSERS; i++)
        if (!users[i].connected && !users[i].failed)
            return 0;
    return 1;
}

static int joined(void *arg)
{
    return muc_ready(arg) != 0;
}

static int all_joined(void *arg)
{
    int *who = arg, i;

    for (i = 0; who[i] >= 0; i++)
        if (muc_ready(users[who[i]].muc) == 0)
            return 0;
    return 1;
}

static char *rjid(const char *nick)
{
    return g_strdup_printf("%s/%s", room, nick);
}

static gint by_string(gconstpointer a, gconstpointer b)
{
    return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

/* The occupant list, sorted, joined with spaces. */
static char *listing(const struct muc *m)
{
    const char *const *occ = muc_occupants(m);
    GPtrArray *a = g_ptr_array_new();
    char *s;
    int i;

    for (i = 0; occ[i] != NULL; i++)
        g_ptr_array_add(a, (char *)occ[i]);
    g_ptr_array_sort(a, by_string);
    g_ptr_array_add(a, NULL);
    s = g_strjoinv(" ", (char **)a->pdata);
    g_ptr_array_free(a, TRUE);
    return s;
}

/* "room/a room/b" of the given nicks, sorted. */
static char *expect(const char *n1, const char *n2, const char *n3)
{
    const char *in[3] = {n1, n2, n3};
    GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
    char *s;
    int i;

    for (i = 0; i < 3; i++)
        if (in[i] != NULL)
            g_ptr_array_add(a, rjid(in[i]));
    g_ptr_array_sort(a, by_string);
    g_ptr_array_add(a, NULL);
    s = g_strjoinv(" ", (char **)a->pdata);
    g_ptr_array_free(a, TRUE);
    return s;
}

struct want_list {
    int who;
    char *want;
};

static int lists(void *arg)
{
    struct want_list *w = arg;
    char *l = listing(users[w->who].muc);
    int ok = strcmp(l, w->want) == 0;

    g_free(l);
    return ok;
}

/* wait until users[who] lists exactly `want`; check and say so. */
static void check_list(int who, char *want, double seconds, const char *what)
{
    struct want_list w = {who, want};
    char *got;

    until(lists, &w, seconds);
    got = listing(users[who].muc);
    check(strcmp(got, want) == 0, "%s: %s lists [%s] (want [%s])", what,
          names[who], got, want);
    g_free(got);
    g_free(want);
}

static xmpp_stanza_t *find_msg(struct user *u, const char *id)
{
    guint i;

    for (i = 0; i < u->msgs->len; i++) {
        const char *mid = xmpp_stanza_get_id(u->msgs->pdata[i]);
        if (mid != NULL && strcmp(mid, id) == 0)
            return u->msgs->pdata[i];
    }
    return NULL;
}

struct want_msg {
    struct user *u;
    const char *id;
};

static int has_msg(void *arg)
{
    struct want_msg *w = arg;
    return find_msg(w->u, w->id) != NULL;
}

static xmpp_stanza_t *wait_msg(int who, const char *id, double seconds)
{
    struct want_msg w = {&users[who], id};

    until(has_msg, &w, seconds);
    return find_msg(&users[who], id);
}

static void send_xml(int who, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void send_xml(int who, const char *fmt, ...)
{
    va_list ap;
    char *s;
    xmpp_stanza_t *st;

    va_start(ap, fmt);
    s = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    st = xmpp_stanza_new_from_string(ctx, s);
    if (st == NULL) {
        check(0, "bad XML in the probe: %s", s);
        g_free(s);
        return;
    }
    xmpp_send(users[who].conn, st);
    xmpp_stanza_release(st);
    g_free(s);
}

static void print_fact(const char *what, xmpp_stanza_t *st)
{
    char *buf = NULL;
    size_t len = 0;

    if (st == NULL || xmpp_stanza_to_text(st, &buf, &len) != XMPP_EOK) {
        printf("fact: %s: (nothing)\n", what);
        return;
    }
    printf("fact: %s: %s\n", what, buf);
    xmpp_free(ctx, buf);
}

/* The ferry <probe/> child with this sid, intact (and nothing stripped
 * from it). */
static int probe_intact(xmpp_stanza_t *st, const char *sid)
{
    xmpp_stanza_t *p =
        st ? xmpp_stanza_get_child_by_name_and_ns(st, "probe", FERRY_NS) : NULL;
    const char *s = p ? xmpp_stanza_get_attribute(p, "sid") : NULL;

    return s != NULL && strcmp(s, sid) == 0 &&
           xmpp_stanza_get_attribute_count(p) == 2; /* xmlns, sid */
}

/* st, serialized, contains `what`. */
static int mentions(xmpp_stanza_t *st, const char *what)
{
    char *buf = NULL;
    size_t len = 0;
    int yes;

    if (xmpp_stanza_to_text(st, &buf, &len) != XMPP_EOK)
        return 1;
    yes = strstr(buf, what) != NULL;
    xmpp_free(ctx, buf);
    return yes;
}

static const char *attr_or(xmpp_stanza_t *st, const char *name)
{
    const char *v = st ? xmpp_stanza_get_attribute(st, name) : NULL;
    return v ? v : "(none)";
}

/* One private message each way: alice -> ROOM/bob, bob -> its from. */
static void private_round(const char *type, const char *tag)
{
    char *to_bob = rjid("bob"), *from_alice = rjid("alice");
    char id[64], rid[64], sid[32], rsid[32];
    char type_attr[40] = "";
    xmpp_stanza_t *got, *x;
    const char *bob_jid = xmpp_conn_get_bound_jid(users[BOB].conn);
    const char *alice_jid = xmpp_conn_get_bound_jid(users[ALICE].conn);
    const char *t;

    if (type != NULL)
        snprintf(type_attr, sizeof(type_attr), " type='%s'", type);
    snprintf(id, sizeof(id), "pm-%s", tag);
    snprintf(rid, sizeof(rid), "pm-%s-reply", tag);
    snprintf(sid, sizeof(sid), "x");
    snprintf(rsid, sizeof(rsid), "x-%s-reply", tag);
    send_xml(ALICE,
             "<message to='%s' id='%s'%s><probe xmlns='" FERRY_NS
             "' sid='%s'/></message>",
             to_bob, id, type_attr, sid);
    got = wait_msg(BOB, id, 5);
    print_fact(tag, got);
    check(got != NULL, "%s: alice -> %s reaches bob", tag, to_bob);
    check(got && g_strcmp0(xmpp_stanza_get_from(got), from_alice) == 0,
          "%s: from is %s (got %s)", tag, from_alice, attr_or(got, "from"));
    check(got && g_strcmp0(xmpp_stanza_get_to(got), bob_jid) == 0,
          "%s: to is bob's real JID %s (got %s)", tag, bob_jid,
          attr_or(got, "to"));
    t = got ? xmpp_stanza_get_type(got) : NULL;
    check(got && g_strcmp0(t, type) == 0, "%s: type kept (%s, got %s)", tag,
          type ? type : "none", t ? t : "none");
    check(probe_intact(got, sid), "%s: <probe xmlns='%s' sid='%s'/> intact",
          tag, FERRY_NS, sid);
    check(got && muc_is_room_jid(users[BOB].muc, xmpp_stanza_get_from(got)),
          "%s: bob's muc_is_room_jid() knows the sender", tag);
    x = got ? xmpp_stanza_get_child_by_name_and_ns(got, "x", MUC_USER_NS)
            : NULL;
    printf("fact: %s: the room %s <x xmlns='%s'/>%s\n", tag,
           x ? "adds" : "does not add", MUC_USER_NS,
           x && xmpp_stanza_get_children(x) == NULL ? " (empty)" : "");
    check(got && !mentions(got, "alice@"),
          "%s: nothing in it tells bob alice's real JID", tag);

    if (got != NULL)
        send_xml(BOB,
                 "<message to='%s' id='%s'%s><probe xmlns='" FERRY_NS
                 "' sid='%s'/></message>",
                 xmpp_stanza_get_from(got), rid, type_attr, rsid);
    got = wait_msg(ALICE, rid, 5);
    print_fact("reply", got);
    check(got != NULL, "%s: bob's answer to the from address reaches alice",
          tag);
    check(got && g_strcmp0(xmpp_stanza_get_from(got), to_bob) == 0 &&
              g_strcmp0(xmpp_stanza_get_to(got), alice_jid) == 0,
          "%s: the answer is from %s to alice's real JID (got from %s)", tag,
          to_bob, attr_or(got, "from"));
    t = got ? xmpp_stanza_get_type(got) : NULL;
    check(got && g_strcmp0(t, type) == 0 && probe_intact(got, rsid),
          "%s: the answer keeps its type and <probe/>", tag);
    g_free(to_bob);
    g_free(from_alice);
}

static void connect_all(const char *domain, int port)
{
    int i;

    for (i = 0; i < NUSERS; i++) {
        struct user *u = &users[i];
        char *jid = g_strdup_printf("%s@%s/probe", names[i], domain);
        char *pass = g_strdup_printf("%s-pw", names[i]);

        u->name = names[i];
        u->msgs = g_ptr_array_new_with_free_func(
            (GDestroyNotify)(void *)xmpp_stanza_release);
        u->real_jid =
            g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        u->conn = xmpp_conn_new(ctx);
        xmpp_conn_set_jid(u->conn, jid);
        xmpp_conn_set_pass(u->conn, pass);
        xmpp_handler_add(u->conn, on_message, NULL, "message", NULL, u);
        xmpp_handler_add(u->conn, on_presence, NULL, "presence", NULL, u);
        xmpp_connect_client(u->conn, "127.0.0.1", (unsigned short)port, on_conn,
                            u);
        g_free(jid);
        g_free(pass);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, 0, 'p'},
                                         {"domain", required_argument, 0, 'd'},
                                         {"room", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    const char *domain = "localhost";
    int port = 0, c, i, others[] = {BOB, CAROL, DAVE, -1};
    xmpp_stanza_t *got;
    char *s, *bad;
    struct muc *m;
    double t0 = mono();

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
        switch (c) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'd':
            domain = optarg;
            break;
        case 'r':
            room = optarg;
            break;
        default:
            return 2;
        }
    if (port <= 0) {
        fprintf(stderr, "usage: muc-probe --port C2S_PORT [--domain D] "
                        "[--room ROOM]\n");
        return 2;
    }
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    connect_all(domain, port);
    until(all_logged_in, NULL, 10);
    for (i = 0; i < NUSERS; i++)
        check(users[i].connected, "%s logged in", names[i]);
    if (failures)
        return 1;

    /* Arguments muc_join() refuses. */
    check(muc_join(users[ALICE].conn, "no-at-sign", "a") == NULL &&
              muc_join(users[ALICE].conn, "a@b/c", "a") == NULL &&
              muc_join(users[ALICE].conn, room, "") == NULL &&
              muc_join(users[ALICE].conn, room, "a\nb") == NULL &&
              muc_join(NULL, room, "a") == NULL,
          "muc_join() refuses bad rooms and nicks");

    /* a. Four occupants. The room is new: muc.c unlocks it. */
    users[ALICE].muc = muc_join(users[ALICE].conn, room, "alice");
    until(joined, users[ALICE].muc, 5);
    check(muc_ready(users[ALICE].muc) == 1, "alice created and joined %s%s%s",
          room, muc_error(users[ALICE].muc) ? ": " : "",
          muc_error(users[ALICE].muc) ? muc_error(users[ALICE].muc) : "");
    for (i = 0; others[i] >= 0; i++)
        users[others[i]].muc =
            muc_join(users[others[i]].conn, room, names[others[i]]);
    until(all_joined, others, 5);
    for (i = 0; others[i] >= 0; i++)
        check(muc_ready(users[others[i]].muc) == 1, "%s joined%s%s",
              names[others[i]], muc_error(users[others[i]].muc) ? ": " : "",
              muc_error(users[others[i]].muc) ? muc_error(users[others[i]].muc)
                                              : "");
    check_list(ALICE, expect("bob", "carol", "dave"), 3, "a");
    check_list(BOB, expect("alice", "carol", "dave"), 3, "a");
    check_list(CAROL, expect("alice", "bob", "dave"), 3, "a");
    check_list(DAVE, expect("alice", "bob", "carol"), 3, "a");
    s = rjid("alice");
    printf("fact: bob sees the item jid of %s as: %s\n", s,
           (char *)g_hash_table_lookup(users[BOB].real_jid, s));
    check(g_strcmp0(g_hash_table_lookup(users[BOB].real_jid, s), "-") == 0,
          "a: semi-anonymous: bob (participant) is not shown alice's real "
          "JID");
    g_free(s);
    s = rjid("bob");
    printf("fact: alice (owner, moderator) sees the item jid of %s as: %s\n", s,
           (char *)g_hash_table_lookup(users[ALICE].real_jid, s));
    g_free(s);

    /* b. Private messages, both ways. */
    private_round("headline", "headline");
    private_round(NULL, "normal");
    settle(0.3);
    check(find_msg(&users[CAROL], "pm-headline") == NULL &&
              find_msg(&users[CAROL], "pm-normal") == NULL &&
              find_msg(&users[DAVE], "pm-headline") == NULL,
          "b: the other occupants do not get the private messages");
    s = rjid("nobody");
    send_xml(ALICE,
             "<message to='%s' id='pm-absent' type='headline'><probe "
             "xmlns='" FERRY_NS "' sid='x'/></message>",
             s);
    got = wait_msg(ALICE, "pm-absent", 5);
    print_fact("to an absent nick, alice gets back", got);
    check(got && g_strcmp0(xmpp_stanza_get_type(got), "error") == 0,
          "b: a private message to an absent nick bounces as an error");
    g_free(s);
    bad = g_ascii_strup(room, -1);
    s = g_strdup_printf("%s/alice", bad);
    check(
        muc_is_room_jid(users[BOB].muc, s) &&
            !muc_is_room_jid(users[BOB].muc, room) &&
            !muc_is_room_jid(users[BOB].muc, "other@conference.localhost/x") &&
            !muc_is_room_jid(users[BOB].muc, "bob@localhost/probe"),
        "muc_is_room_jid(): the room's occupant JIDs only");
    g_free(s);
    g_free(bad);

    /* The cap (3 here, built with -DMUC_MAX_OCCUPANTS=3): eve is one too
     * many for alice's list, and takes bob's place when he leaves. */
    users[EVE].muc = muc_join(users[EVE].conn, room, "eve");
    until(joined, users[EVE].muc, 5);
    settle(0.3);
    s = listing(users[ALICE].muc);
    check(muc_ready(users[EVE].muc) == 1 &&
              strcmp(s, (bad = expect("bob", "carol", "dave"))) == 0 &&
              muc_dropped(users[ALICE].muc) == 1,
          "cap: with 4 others alice lists 3 [%s] and muc_dropped() is 1 "
          "(%lu)",
          s, muc_dropped(users[ALICE].muc));
    g_free(s);
    g_free(bad);

    /* c. bob leaves. */
    muc_leave(users[BOB].muc);
    users[BOB].muc = NULL;
    check_list(ALICE, expect("carol", "dave", "eve"), 3,
               "c: bob left (and eve took his place in the list)");
    check(muc_dropped(users[ALICE].muc) == 0, "cap: muc_dropped() back to 0");
    muc_leave(users[EVE].muc);
    users[EVE].muc = NULL;
    check_list(ALICE, expect("carol", "dave", NULL), 3, "c: eve left");

    /* d. eve asks for carol's nick. */
    users[EVE].muc = muc_join(users[EVE].conn, room, "carol");
    until(joined, users[EVE].muc, 5);
    m = users[EVE].muc;
    printf("fact: eve asked for \"carol\" and got \"%s\"\n", muc_nick(m));
    check(muc_ready(m) == 1 && strncmp(muc_nick(m), "carol-", 6) == 0 &&
              strlen(muc_nick(m)) == 10 &&
              strspn(muc_nick(m) + 6, "0123456789abcdef") == 4,
          "d: nick conflict: eve got in as carol-XXXX (%s)%s%s", muc_nick(m),
          muc_error(m) ? ": " : "", muc_error(m) ? muc_error(m) : "");
    s = g_strdup(muc_nick(m));
    check_list(ALICE, expect("carol", "dave", s), 3, "d");
    check_list(EVE, expect("alice", "carol", "dave"), 3, "d");
    g_free(s);

    /* e. A service that does not exist. */
    s = g_strdup_printf("room@nosuch.%s", domain);
    m = muc_join(users[CAROL].conn, s, "carol");
    until(joined, m, 5);
    printf("fact: joining %s: %s\n", s, muc_error(m) ? muc_error(m) : "-");
    check(muc_ready(m) == -1 && muc_error(m) != NULL &&
              strstr(muc_error(m), "refused the join") != NULL,
          "e: a join that fails says why (%s)",
          muc_error(m) ? muc_error(m) : "no error");
    muc_leave(m);
    g_free(s);
    check(muc_ready(users[CAROL].muc) == 1,
          "e: carol's other room is unaffected");

    /* f. An error message to an occupant: the room kicks its sender. */
    s = rjid("alice");
    send_xml(DAVE,
             "<message to='%s' id='err-1' type='error'><error type='cancel'>"
             "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-"
             "stanzas'/></error></message>",
             s);
    g_free(s);
    {
        double end = mono() + 5;
        while (muc_ready(users[DAVE].muc) == 1 && mono() < end)
            xmpp_run_once(ctx, 20);
    }
    printf("fact: dave after sending an error message to alice's room JID: "
           "ready=%d, %s\n",
           muc_ready(users[DAVE].muc),
           muc_error(users[DAVE].muc) ? muc_error(users[DAVE].muc) : "-");
    check(muc_ready(users[DAVE].muc) == -1 &&
              muc_occupants(users[DAVE].muc)[0] == NULL,
          "f: an error message to an occupant gets its sender put out, and "
          "muc.c says so");
    s = g_strdup(muc_nick(users[EVE].muc));
    check_list(ALICE, expect("carol", s, NULL), 3, "f: dave is gone");
    g_free(s);

    for (i = 0; i < NUSERS; i++) {
        muc_leave(users[i].muc);
        users[i].muc = NULL;
    }
    settle(0.2);
    for (i = 0; i < NUSERS; i++) {
        xmpp_disconnect(users[i].conn);
    }
    settle(0.3);
    for (i = 0; i < NUSERS; i++) {
        xmpp_conn_release(users[i].conn);
        g_ptr_array_free(users[i].msgs, TRUE);
        g_hash_table_destroy(users[i].real_jid);
    }
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    printf("probe: %d failed, %.1f s\n", failures, mono() - t0);
    return failures ? 1 : 0;
}
