/* ferry CLI: being an occupant of a group chat (XEP-0045), for fan-out.
 * Joins a room, keeps the list of the other occupants' room JIDs
 * (room@service/nick) from the presences the room sends, and leaves.
 * Session messages then go to those JIDs as private messages through the
 * room, which works in semi-anonymous rooms (real JIDs hidden).
 *
 * Everything a presence carries is untrusted: only presences whose bare
 * JID is the room count, nicks are checked (UTF-8, no control characters,
 * bounded), the list is capped at MUC_MAX_OCCUPANTS and error texts are
 * cleaned before they are shown.
 *
 * What Prosody 0.12.3 does (tests/integration/muc.sh shows it; the
 * stripping and the per-session routing are read in mod_muc): a private
 * message to room/nick keeps its type (headline, or none) and children and
 * reaches every session of that occupant with from=room/sender-nick; the
 * room strips muc and muc#user children the sender put in and adds an
 * empty <x xmlns='...muc#user'/> and an <occupant-id/> (XEP-0421); no real
 * JID is in it. One to an absent nick bounces as type='error'
 * (item-not-found) from room/nick. A message of type='error' with a
 * "kickable" condition (service-unavailable, item-not-found, ...) sent to
 * an occupant gets its sender put out of the room (status 333): never
 * answer a room JID with an error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "cli.h"

#define MUC_NS "http://jabber.org/protocol/muc"
#define MUC_USER_NS "http://jabber.org/protocol/muc#user"
#define MUC_OWNER_NS "http://jabber.org/protocol/muc#owner"
#define STANZAS_NS "urn:ietf:params:xml:ns:xmpp-stanzas"
#ifndef MUC_MAX_OCCUPANTS /* the test probe sets a small one */
#define MUC_MAX_OCCUPANTS 256
#endif
#define MUC_MAX_DROPPED 65536 /* nicks remembered beyond the cap */
#define MUC_MAX_NICK 1023     /* bytes, as a resourcepart */
#define MUC_MAX_ROOM 2047

struct muc {
    xmpp_conn_t *conn;
    char *room;          /* bare JID, as given */
    char *nick;          /* ours: asked for, then as the room says */
    char *first;         /* the nick asked for first (for the error text) */
    int state;           /* 0 joining, 1 in, -1 failed or out */
    int retried;         /* the nick conflict retry was made */
    int locked_tries;    /* joins refused while the room was locked */
    int rejoin_pending;  /* a timed rejoin is armed */
    char *unlock_id;     /* the instant-room form's iq, while it is out */
    GPtrArray *occ;      /* char* room JIDs, NULL-terminated */
    GHashTable *dropped; /* nick -> room JID of those beyond the cap */
    unsigned long dropped_more; /* present beyond MUC_MAX_DROPPED too */
    char error[600];
};

/* Every live muc: libstrophe deletes stanza handlers by function, so
 * leaving one room re-adds the handlers of the others on its connection. */
static GList *live;

static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud);
static void send_presence(struct muc *m, const char *type);

/* Another occupant created the room a moment ago and has not unlocked it
 * yet (Prosody answers item-not-found until then): join again shortly. */
#define MUC_LOCKED_TRIES 40
#define MUC_LOCKED_MS 250

static int rejoin(xmpp_conn_t *conn, void *ud)
{
    struct muc *m = ud;

    (void)conn;
    m->rejoin_pending = 0;
    if (m->state == 0)
        send_presence(m, NULL);
    return 0; /* once */
}

/* A nick (resourcepart) we accept from the network or the user. */
static int nick_ok(const char *s)
{
    size_t n = strlen(s);
    const unsigned char *p;

    if (n == 0 || n > MUC_MAX_NICK || !g_utf8_validate(s, (gssize)n, NULL))
        return 0;
    for (p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static int room_ok(const char *s)
{
    const char *at = strchr(s, '@');
    size_t n = strlen(s);
    const unsigned char *p;

    if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') ||
        strchr(s, '/') || n > MUC_MAX_ROOM ||
        !g_utf8_validate(s, (gssize)n, NULL))
        return 0;
    for (p = (const unsigned char *)s; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* jid's bare part is the room (case-insensitive, as servers fold JIDs);
 * *res the resource after it ("" when none), else NULL. */
static const char *room_resource(const struct muc *m, const char *jid)
{
    size_t n = strlen(m->room);

    if (jid == NULL || g_ascii_strncasecmp(jid, m->room, n) != 0)
        return NULL;
    if (jid[n] == '\0')
        return "";
    return jid[n] == '/' ? jid + n + 1 : NULL;
}

static const char *room_domain(const struct muc *m)
{
    return strchr(m->room, '@') + 1;
}

/* Untrusted text shown to the user: valid UTF-8, no control characters,
 * at most about 200 bytes. */
static void clean_text(const char *in, char *out, size_t len)
{
    char *v = g_utf8_make_valid(in, -1), *p;

    for (p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (strlen(v) > 200) {
        char *end = g_utf8_find_prev_char(v, v + 200);
        if (end != NULL)
            *end = '\0';
        g_strlcpy(out, v, len);
        g_strlcat(out, "...", len);
    } else
        g_strlcpy(out, v, len);
    g_free(v);
}

static void send_presence(struct muc *m, const char *type)
{
    xmpp_ctx_t *x = xmpp_conn_get_context(m->conn);
    xmpp_stanza_t *p, *c, *h;
    char *to = g_strdup_printf("%s/%s", m->room, m->nick);

    p = xmpp_presence_new(x);
    xmpp_stanza_set_to(p, to);
    if (type != NULL)
        xmpp_stanza_set_type(p, type);
    else {
        c = xmpp_stanza_new(x);
        xmpp_stanza_set_name(c, "x");
        xmpp_stanza_set_ns(c, MUC_NS);
        h = xmpp_stanza_new(x);
        xmpp_stanza_set_name(h, "history");
        xmpp_stanza_set_attribute(h, "maxstanzas", "0");
        xmpp_stanza_add_child(c, h);
        xmpp_stanza_release(h);
        xmpp_stanza_add_child(p, c);
        xmpp_stanza_release(c);
    }
    xmpp_send(m->conn, p);
    xmpp_stanza_release(p);
    g_free(to);
}

static int find_occupant(const struct muc *m, const char *nick)
{
    guint i;

    for (i = 0; i + 1 < m->occ->len; i++) {
        const char *r = room_resource(m, m->occ->pdata[i]);
        if (r != NULL && strcmp(r, nick) == 0)
            return (int)i;
    }
    return -1;
}

/* jid: the room JID as the room spelled it (its from), nick its
 * resource. */
static void add_occupant(struct muc *m, const char *nick, const char *jid)
{
    if (find_occupant(m, nick) >= 0 || g_hash_table_contains(m->dropped, nick))
        return;
    if (m->occ->len - 1 >= MUC_MAX_OCCUPANTS) {
        if (g_hash_table_size(m->dropped) < MUC_MAX_DROPPED)
            g_hash_table_insert(m->dropped, g_strdup(nick), g_strdup(jid));
        else
            m->dropped_more++;
        return;
    }
    m->occ->pdata[m->occ->len - 1] = g_strdup(jid);
    g_ptr_array_add(m->occ, NULL);
}

static void remove_occupant(struct muc *m, const char *nick)
{
    int i = find_occupant(m, nick);
    GHashTableIter it;
    gpointer k, v;

    if (i < 0) {
        if (!g_hash_table_remove(m->dropped, nick) && m->dropped_more > 0)
            m->dropped_more--;
        return;
    }
    g_ptr_array_remove_index(m->occ, (guint)i);
    /* A place came free: one of those beyond the cap takes it. */
    g_hash_table_iter_init(&it, m->dropped);
    if (g_hash_table_iter_next(&it, &k, &v)) {
        char *n = g_strdup(k), *j = g_strdup(v);
        g_hash_table_iter_remove(&it);
        add_occupant(m, n, j);
        g_free(n);
        g_free(j);
    }
}

static void clear_occupants(struct muc *m)
{
    g_ptr_array_set_size(m->occ, 0);
    g_ptr_array_add(m->occ, NULL);
    g_hash_table_remove_all(m->dropped);
    m->dropped_more = 0;
}

static const char *explain(const char *cond)
{
    static const struct {
        const char *cond, *words;
    } w[] = {
        {"conflict", "the nick is in use"},
        {"not-authorized", "the room needs a password"},
        {"forbidden", "we are banned from the room"},
        {"registration-required", "the room is members-only"},
        {"service-unavailable", "the room is full, or no such service"},
        {"item-not-found",
         "the room is locked (its creator has not configured it yet) "
         "or was destroyed"},
        {"not-allowed",
         "the server does not allow it: room creation restricted, or no "
         "such service"},
        {"not-acceptable", "the room does not accept this nick"},
        {"jid-malformed", "the nick or room name is not valid"},
        {"remote-server-not-found", "no such group chat service"},
        {"remote-server-timeout", "the group chat service did not answer"},
        {"policy-violation", "the service's policy refused us"},
    };
    size_t i;

    for (i = 0; i < sizeof(w) / sizeof(w[0]); i++)
        if (strcmp(cond, w[i].cond) == 0)
            return w[i].words;
    return NULL;
}

/* The stanza error's condition (static storage of the stanza) and text. */
static const char *error_condition(xmpp_stanza_t *st, const char **text)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(st, "error"), *c;
    const char *cond = NULL, *ns, *name;

    *text = NULL;
    if (e == NULL)
        return "undefined-condition";
    for (c = xmpp_stanza_get_children(e); c; c = xmpp_stanza_get_next(c)) {
        if (!xmpp_stanza_is_tag(c))
            continue;
        ns = xmpp_stanza_get_ns(c);
        name = xmpp_stanza_get_name(c);
        if (name == NULL || ns == NULL || strcmp(ns, STANZAS_NS) != 0)
            continue;
        if (strcmp(name, "text") == 0)
            *text = xmpp_stanza_get_text_ptr(c);
        else if (cond == NULL)
            cond = name;
    }
    return cond ? cond : "undefined-condition";
}

/* "conference.x: room@conference.x refused the join as bob: conflict (the
 * nick is in use)". */
static void join_failed(struct muc *m, xmpp_stanza_t *st)
{
    const char *text, *cond = error_condition(st, &text), *words;
    char c[80], t[260] = "";

    clean_text(cond, c, sizeof(c));
    words = explain(cond);
    if (text != NULL) {
        char tx[230];
        clean_text(text, tx, sizeof(tx));
        snprintf(t, sizeof(t), ": \"%s\"", tx);
    }
    if (strcmp(cond, "conflict") == 0 && m->retried)
        snprintf(m->error, sizeof(m->error),
                 "%s: %s refused the join: conflict (the nicks %s and %s are "
                 "in use)%s",
                 room_domain(m), m->room, m->first, m->nick, t);
    else
        snprintf(m->error, sizeof(m->error),
                 "%s: %s refused the join as %s: %s%s%s%s%s", room_domain(m),
                 m->room, m->nick, c, words ? " (" : "", words ? words : "",
                 words ? ")" : "", t);
    m->state = -1;
    clear_occupants(m);
}

static int on_unlocked(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct muc *m = ud;
    const char *from = xmpp_stanza_get_from(st);

    (void)conn;
    if (from == NULL || room_resource(m, from) == NULL ||
        room_resource(m, from)[0] != '\0')
        return 1; /* not the room's answer: keep waiting */
    /* Only the room answers this id: a result unlocks it; an error leaves
     * it locked, with us inside and nobody else able to join. */
    g_free(m->unlock_id);
    m->unlock_id = NULL;
    if (m->state == 0)
        m->state = 1;
    return 0;
}

/* A room we just created (status 201) is locked until its owner submits
 * a configuration: accept the defaults (XEP-0045 "instant room"). */
static void unlock_room(struct muc *m)
{
    xmpp_ctx_t *x = xmpp_conn_get_context(m->conn);
    xmpp_stanza_t *iq, *q, *f;
    char *id = xmpp_uuid_gen(x);

    if (id == NULL) {
        m->state = 1;
        return;
    }
    m->unlock_id = g_strdup(id);
    xmpp_free(x, id);
    iq = xmpp_iq_new(x, "set", m->unlock_id);
    xmpp_stanza_set_to(iq, m->room);
    q = xmpp_stanza_new(x);
    xmpp_stanza_set_name(q, "query");
    xmpp_stanza_set_ns(q, MUC_OWNER_NS);
    f = xmpp_stanza_new(x);
    xmpp_stanza_set_name(f, "x");
    xmpp_stanza_set_ns(f, "jabber:x:data");
    xmpp_stanza_set_type(f, "submit");
    xmpp_stanza_add_child(q, f);
    xmpp_stanza_release(f);
    xmpp_stanza_add_child(iq, q);
    xmpp_stanza_release(q);
    xmpp_id_handler_add(m->conn, on_unlocked, m->unlock_id, m);
    xmpp_send(m->conn, iq);
    xmpp_stanza_release(iq);
}

/* Why the room put us out (our own unavailable presence, not asked for). */
static void put_out(struct muc *m, xmpp_stanza_t *x, const int *codes,
                    int ncodes)
{
    const char *why = "the room removed us";
    int i;

    for (i = 0; i < ncodes; i++)
        switch (codes[i]) {
        case 301:
            why = "we were banned from the room";
            break;
        case 307:
            why = "we were kicked from the room";
            break;
        case 321:
            why = "our affiliation changed: removed from the room";
            break;
        case 322:
            why = "the room became members-only: removed";
            break;
        case 332:
            why = "the group chat service shut down";
            break;
        case 333:
            why = "the room removed us after an error";
            break;
        default:
            break;
        }
    if (x != NULL && xmpp_stanza_get_child_by_name(x, "destroy") != NULL)
        why = "the room was destroyed";
    snprintf(m->error, sizeof(m->error), "%s: %s", m->room, why);
    m->state = -1;
    clear_occupants(m);
}

static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    struct muc *m = ud;
    const char *from = xmpp_stanza_get_from(st);
    const char *type = xmpp_stanza_get_type(st), *nick, *code;
    xmpp_stanza_t *x, *c, *item;
    int codes[16], ncodes = 0, self = 0, created = 0, i;

    (void)conn;
    if (from == NULL || m->state < 0)
        return 1;
    nick = room_resource(m, from);
    if (type != NULL && strcmp(type, "error") == 0) {
        /* Errors count while joining, from the room, our room JID or the
         * service itself (no such room or service). */
        if (m->state != 0 ||
            (nick == NULL && g_ascii_strcasecmp(from, room_domain(m)) != 0))
            return 1;
        if (nick != NULL && nick[0] != '\0' && strcmp(nick, m->nick) != 0)
            return 1;
        {
            const char *text;
            if (strcmp(error_condition(st, &text), "conflict") == 0 &&
                !m->retried && strlen(m->first) + 5 <= MUC_MAX_NICK) {
                char *n = g_strdup_printf("%s-%04x", m->first,
                                          g_random_int() & 0xffff);
                m->retried = 1;
                g_free(m->nick);
                m->nick = n;
                send_presence(m, NULL);
                return 1;
            }
            if (strcmp(error_condition(st, &text), "item-not-found") == 0 &&
                m->locked_tries++ < MUC_LOCKED_TRIES && !m->rejoin_pending) {
                m->rejoin_pending = 1;
                xmpp_timed_handler_add(m->conn, rejoin, MUC_LOCKED_MS, m);
                return 1;
            }
        }
        join_failed(m, st);
        return 1;
    }
    if (nick == NULL || !nick_ok(nick))
        return 1;
    if (type != NULL && strcmp(type, "unavailable") != 0)
        return 1; /* subscribe, probe, ...: not occupancy */
    x = xmpp_stanza_get_child_by_name_and_ns(st, "x", MUC_USER_NS);
    item = x ? xmpp_stanza_get_child_by_name(x, "item") : NULL;
    for (c = x ? xmpp_stanza_get_children(x) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        const char *name = xmpp_stanza_get_name(c);
        if (!xmpp_stanza_is_tag(c) || name == NULL ||
            strcmp(name, "status") != 0 ||
            (code = xmpp_stanza_get_attribute(c, "code")) == NULL)
            continue;
        i = atoi(code);
        if (i == 110)
            self = 1;
        if (i == 201)
            created = 1;
        if (ncodes < (int)(sizeof(codes) / sizeof(codes[0])))
            codes[ncodes++] = i;
    }
    /* Ours: from our nick, or marked 110 while we join (the room may have
     * changed the nick we asked for). An unavailable 110 with another nick
     * is the echo of an earlier leave on this connection. */
    if (type != NULL || m->state != 0)
        self = 0;
    if (strcmp(nick, m->nick) == 0)
        self = 1;
    if (type == NULL) { /* available */
        if (!self) {
            add_occupant(m, nick, from);
            return 1;
        }
        if (strcmp(nick, m->nick) != 0) { /* the room changed our nick */
            g_free(m->nick);
            m->nick = g_strdup(nick);
        }
        remove_occupant(m, nick);
        if (m->state == 0 && m->unlock_id == NULL) {
            if (created)
                unlock_room(m);
            else
                m->state = 1;
        }
        return 1;
    }
    /* unavailable */
    if (!self) {
        remove_occupant(m, nick);
        return 1;
    }
    if (m->state == 0)
        return 1; /* not in yet: the echo of an earlier leave as this nick */
    for (i = 0; i < ncodes; i++)
        if (codes[i] == 303) { /* our nick changed: not a leave */
            const char *n =
                item ? xmpp_stanza_get_attribute(item, "nick") : NULL;
            if (n != NULL && nick_ok(n)) {
                g_free(m->nick);
                m->nick = g_strdup(n);
            }
            return 1;
        }
    put_out(m, x, codes, ncodes);
    return 1;
}

struct muc *muc_join(xmpp_conn_t *conn, const char *room, const char *nick)
{
    struct muc *m;

    if (conn == NULL || room == NULL || nick == NULL || !room_ok(room) ||
        !nick_ok(nick))
        return NULL;
    m = g_new0(struct muc, 1);
    m->conn = conn;
    m->room = g_strdup(room);
    m->nick = g_strdup(nick);
    m->first = g_strdup(nick);
    m->occ = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(m->occ, NULL);
    m->dropped = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    live = g_list_prepend(live, m);
    xmpp_handler_add(conn, on_presence, NULL, "presence", NULL, m);
    send_presence(m, NULL);
    return m;
}

int muc_ready(const struct muc *m)
{
    return m ? m->state : -1;
}

const char *muc_error(const struct muc *m)
{
    if (m == NULL)
        return "no room";
    return m->state < 0 ? m->error : NULL;
}

const char *muc_nick(const struct muc *m)
{
    return m ? m->nick : NULL;
}

const char *const *muc_occupants(const struct muc *m)
{
    static const char *const none[] = {NULL};
    return m ? (const char *const *)m->occ->pdata : none;
}

unsigned long muc_dropped(const struct muc *m)
{
    return m ? g_hash_table_size(m->dropped) + m->dropped_more : 0;
}

int muc_is_room_jid(const struct muc *m, const char *jid)
{
    const char *r;

    if (m == NULL || jid == NULL)
        return 0;
    r = room_resource(m, jid);
    return r != NULL && r[0] != '\0';
}

void muc_leave(struct muc *m)
{
    GList *l;

    if (m == NULL)
        return;
    if (m->state >= 0 && xmpp_conn_is_connected(m->conn))
        send_presence(m, "unavailable");
    live = g_list_remove(live, m);
    xmpp_handler_delete(m->conn, on_presence);
    for (l = live; l; l = l->next) {
        struct muc *other = l->data;
        if (other->conn == m->conn)
            xmpp_handler_add(other->conn, on_presence, NULL, "presence", NULL,
                             other);
    }
    if (m->rejoin_pending)
        xmpp_timed_handler_delete(m->conn, rejoin);
    if (m->unlock_id != NULL)
        xmpp_id_handler_delete(m->conn, on_unlocked, m->unlock_id);
    g_free(m->unlock_id);
    g_ptr_array_free(m->occ, TRUE);
    g_hash_table_destroy(m->dropped);
    g_free(m->room);
    g_free(m->nick);
    g_free(m->first);
    g_free(m);
}
