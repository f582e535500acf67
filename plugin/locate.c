/* libferry: finding the peer before offering (XEP draft, "Locating the
 * Receiver").
 *
 * An offer goes only to a full JID that is online and runs Ferry, never to
 * a bare JID, where a server could store it for later. So the sender first
 * sends a <probe/> in a headline message (servers deliver headlines to
 * every available resource and never store them), and offers to the first
 * resource that answers <here/>. Until one does, it probes again now and
 * then, and at once when the host hands in an available presence of the
 * peer; it gives up at the wait limit. A server error to the probe ends the
 * wait at once with the server's condition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define WAITING_AFTER 1 /* tell the application after this long */
#define ANSWERS_PER_S 20 /* <here/> replies per second, against floods */

xmpp_stanza_t *sid_el(ferry_ctx_t *ctx, const char *name, const char *sid)
{
    xmpp_stanza_t *el = xmpp_stanza_new(ctx->x);

    xmpp_stanza_set_name(el, name);
    xmpp_stanza_set_ns(el, FERRY_NS);
    xmpp_stanza_set_attribute(el, "sid", sid);
    return el;
}

void probe_send(ferry_transfer_t *t, const char *to, char **id,
                time_t *next)
{
    g_free(*id);
    *id = send_message_id(t->ctx, to, sid_el(t->ctx, "probe", t->sid));
    *next = ferry_now() + REPROBE_S;
}

static void probe(ferry_transfer_t *t, const char *to)
{
    probe_send(t, to, &t->msg_id, &t->next_probe);
}

void locate_start(ferry_transfer_t *t, int wait_s)
{
    t->st = T_LOCATING;
    t->located_since = ferry_now();
    t->deadline = t->located_since + (wait_s > 0 ? wait_s : FERRY_WAIT_S);
    probe(t, t->peer);
}

static int peer_matches(const ferry_transfer_t *t, const char *from)
{
    if (from == NULL || !ferry_jid_is_full(from))
        return 0;
    if (ferry_jid_is_full(t->peer))
        return strcmp(t->peer, from) == 0;
    return ferry_jid_same_bare(t->peer, from);
}

/* <here/>: the first Ferry resource of the peer that answers gets the
 * offer. */
static void on_here(ferry_ctx_t *ctx, const char *from, xmpp_stanza_t *el)
{
    const char *sid = xmpp_stanza_get_attribute(el, "sid");
    ferry_transfer_t *t;

    if (!ferry_valid_sid(sid) || (t = transfer_find(ctx, sid, 1)) == NULL)
        return;
    if (t->group != NULL) {
        group_on_here(t, from);
        return;
    }
    if (t->st != T_LOCATING || !peer_matches(t, from))
        return;
    g_free(t->peer);
    t->peer = g_strdup(from);
    offer_send(t);
}

/* <probe/>: answered only by an application that takes offers, and only
 * so often, so that probes cannot be used to flood through us. */
static void on_probe(ferry_ctx_t *ctx, const char *from, xmpp_stanza_t *el)
{
    const char *sid = xmpp_stanza_get_attribute(el, "sid");
    time_t now = ferry_now();

    if (!ferry_valid_sid(sid) || from == NULL || !ferry_jid_is_full(from) ||
        !ferry_valid_jid(from) || ctx->cb.offer == NULL || ctx->jid == NULL ||
        ctx->component == NULL || ctx->closing)
        return;
    if (now != ctx->answer_second) {
        ctx->answer_second = now;
        ctx->answers = 0;
    }
    if (ctx->answers++ >= ANSWERS_PER_S)
        return;
    send_message(ctx, from, sid_el(ctx, "here", sid));
}

int locate_message(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el)
{
    const char *name = xmpp_stanza_get_name(el);

    if (strcmp(name, "probe") == 0)
        on_probe(ctx, xmpp_stanza_get_from(m), el);
    else if (strcmp(name, "here") == 0)
        on_here(ctx, xmpp_stanza_get_from(m), el);
    else
        return 0;
    return 1;
}

/* The server's condition in an error stanza, or "undefined-condition". */
static const char *error_condition(xmpp_stanza_t *s)
{
    xmpp_stanza_t *e = xmpp_stanza_get_child_by_name(s, "error"), *c;

    for (c = e ? xmpp_stanza_get_children(e) : NULL; c;
         c = xmpp_stanza_get_next(c))
        if (xmpp_stanza_is_tag(c) && xmpp_stanza_get_ns(c) &&
            strcmp(xmpp_stanza_get_ns(c), FERRY_NS_STANZAS) == 0 &&
            strcmp(xmpp_stanza_get_name(c), "text") != 0)
            return xmpp_stanza_get_name(c);
    return "undefined-condition";
}

/* The conditions a server answers a message with, as reasons a user can
 * read; the rest pass through as they are. */
static const char *error_reason(const char *cond)
{
    static const char *const known[][2] = {
        {"remote-server-not-found", "no-such-server"},
        {"remote-server-timeout", "server-unreachable"},
        {"service-unavailable", "unavailable"},
        {"recipient-unavailable", "unavailable"},
        {"item-not-found", "no-such-user"},
        {"forbidden", "forbidden"},
        {"not-allowed", "forbidden"},
        {"policy-violation", "forbidden"},
        {"bad-request", "bad-request"}, /* an older peer refused the offer */
    };
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(cond, known[i][0]) == 0)
            return known[i][1];
    return "unavailable";
}

int locate_error(ferry_ctx_t *ctx, xmpp_stanza_t *m)
{
    const char *id = xmpp_stanza_get_id(m), *from = xmpp_stanza_get_from(m);
    GList *l;

    if (id == NULL)
        return 0;
    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->group != NULL && t->st != T_FINISHED) {
            if (from != NULL &&
                group_error(ctx, t, id, from, error_condition(m),
                            error_reason(error_condition(m))))
                return 1;
            if (t->st == T_LOCATING)
                continue;
        }
        if (!t->is_sender || t->msg_id == NULL || strcmp(t->msg_id, id) != 0 ||
            (t->st != T_LOCATING && t->st != T_OFFERED) || from == NULL ||
            !ferry_jid_same_bare(t->peer, from))
            continue;
        /* A bounced offer or probe: the peer is not there to tell. */
        t->cancel_sent = 1;
        snprintf(t->detail, sizeof(t->detail), "%s: %s", t->peer,
                 error_condition(m));
        transfer_finish(t, FERRY_DONE_PEER_GONE,
                        error_reason(error_condition(m)));
        return 1;
    }
    return 0;
}

void locate_presence(ferry_ctx_t *ctx, xmpp_stanza_t *p)
{
    const char *from = xmpp_stanza_get_from(p), *type = xmpp_stanza_get_type(p);
    int gone = type != NULL && strcmp(type, "unavailable") == 0;
    GList *l;

    if (from == NULL || !ferry_jid_is_full(from) ||
        (type != NULL && !gone))
        return;
    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st == T_FINISHED)
            continue;
        if (t->group != NULL && t->st == T_LOCATING) {
            group_presence(t, from, gone);
            continue;
        }
        /* A fan-out's legs are settled by the relay, one by one. */
        if (t->peer == NULL || (t->group != NULL && t->group->fan))
            continue;
        if (!gone && t->st == T_LOCATING && peer_matches(t, from))
            probe(t, from); /* it just came online: ask it now */
        else if (gone && t->st < T_DATA && t->st != T_LOCATING &&
                 strcmp(t->peer, from) == 0) {
            /* The peer left before the data started: nobody will answer. */
            t->cancel_sent = 1;
            snprintf(t->detail, sizeof(t->detail), "%s went offline",
                     t->peer);
            transfer_finish(t,
                            t->is_sender ? FERRY_DONE_PEER_GONE
                                         : FERRY_DONE_CANCELLED,
                            "offline");
        }
    }
}

void locate_timers(ferry_ctx_t *ctx, time_t now)
{
    GList *l;

    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st != T_LOCATING)
            continue;
        if (t->group != NULL) {
            group_timers(t, now);
            continue;
        }
        if (now >= t->deadline) {
            t->cancel_sent = 1; /* no one to tell */
            snprintf(t->detail, sizeof(t->detail),
                     "no Ferry client of %s came online in %lld s", t->peer,
                     (long long)(now - t->located_since));
            transfer_finish(t, FERRY_DONE_PEER_GONE, "offline");
            continue;
        }
        if (!t->waiting_told && now >= t->located_since + WAITING_AFTER) {
            t->waiting_told = 1;
            transfer_event(t, "waiting");
            if (t->st != T_LOCATING)
                continue;
        }
        if (now >= t->next_probe)
            probe(t, t->peer);
    }
}
