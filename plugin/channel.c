/* libferry: the iqs it sends and the channel negotiation with the
 * component (XEP draft, "Channel Request" and "Channel Information").
 *
 * Every iq gets a fresh random id and is remembered with the JID it went
 * to: an answer counts only when both match, so no contact can answer a
 * query in the component's place, and an answer for a transfer that ended
 * finds nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "err.h"
#include "frame.h"
#include "internal.h"

struct pending_iq {
    enum iq_kind kind;
    char to[FERRY_JID_MAX + 1];
    ferry_transfer_t *t;
};

void iq_send(ferry_ctx_t *ctx, xmpp_stanza_t *iq, const char *to,
             enum iq_kind kind, ferry_transfer_t *t)
{
    struct pending_iq *p = g_new0(struct pending_iq, 1);
    char *id = g_uuid_string_random();

    p->kind = kind;
    g_strlcpy(p->to, to, sizeof(p->to));
    p->t = t;
    xmpp_stanza_set_id(iq, id);
    xmpp_stanza_set_to(iq, to);
    if (t != NULL) {
        g_free(t->iq_id);
        t->iq_id = g_strdup(id);
    }
    g_hash_table_replace(ctx->iqs, id, p);
    ctx_send(ctx, iq);
}

static gboolean of_transfer(gpointer k, gpointer v, gpointer t)
{
    (void)k;
    return ((struct pending_iq *)v)->t == t;
}

void iq_forget(ferry_ctx_t *ctx, ferry_transfer_t *t)
{
    g_hash_table_foreach_remove(ctx->iqs, of_transfer, t);
}

/* An answer comes from where the query went. A server answers for itself
 * without a from (RFC 6120, 8.1.2.1). */
static int answered_by(const ferry_ctx_t *ctx, const struct pending_iq *p,
                       const char *from)
{
    if (from == NULL)
        return ctx->domain != NULL &&
               g_ascii_strcasecmp(p->to, ctx->domain) == 0;
    return g_ascii_strcasecmp(p->to, from) == 0;
}

static void on_channel_result(ferry_transfer_t *t, xmpp_stanza_t *iq);

/* A refusal's condition as a static token (the application may keep the
 * done reason); anything unknown is "refused". */
static const char *refusal_token(const char *name)
{
    static const char *const known[] = {"quota-exceeded",
                                        "rate-limited",
                                        "no-relay",
                                        "too-large",
                                        "domain-not-allowed",
                                        "not-authorized",
                                        "resource-constraint",
                                        "policy-violation",
                                        "not-acceptable",
                                        "bad-request",
                                        "service-unavailable",
                                        "item-not-found",
                                        "forbidden",
                                        "internal-server-error",
                                        "remote-server-not-found",
                                        "remote-server-timeout",
                                        "bad-attribute"};
    size_t i;

    for (i = 0; name != NULL && i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(name, known[i]) == 0)
            return known[i];
    if (name != NULL && ferry_errcode(name) >= 0)
        return ferry_errname(ferry_errcode(name));
    return "refused";
}

int iq_answer(ferry_ctx_t *ctx, xmpp_stanza_t *iq)
{
    const char *id = xmpp_stanza_get_id(iq), *from = xmpp_stanza_get_from(iq);
    struct pending_iq *p, copy;

    if (id == NULL || (p = g_hash_table_lookup(ctx->iqs, id)) == NULL ||
        !answered_by(ctx, p, from))
        return 0;
    copy = *p;
    g_hash_table_remove(ctx->iqs, id);
    if (copy.kind == IQ_CHANNEL) {
        if (copy.t != NULL && copy.t->st == T_REQUESTING)
            on_channel_result(copy.t, iq);
    } else
        disco_answer(ctx, copy.kind, iq, copy.to);
    return 1;
}

/* ---- the channel ------------------------------------------------------- */

void channel_request(ferry_transfer_t *t)
{
    ferry_ctx_t *ctx = t->ctx;
    struct ferry_request rq;
    xmpp_stanza_t *iq;

    memset(&rq, 0, sizeof(rq));
    strcpy(rq.sid, t->sid);
    g_strlcpy(rq.peer, t->peer, sizeof(rq.peer));
    rq.role = t->is_sender ? ROLE_SENDER : ROLE_RECEIVER;
    rq.size = t->size;
    rq.deliver = t->deliver;
    iq = xmpp_iq_new(ctx->x, "set", "x");
    xmpp_stanza_add_child_ex(iq, ferry_request_build(ctx->x, &rq), 0);
    t->st = T_REQUESTING;
    t->deadline = ferry_now() + ctx->stage_s;
    iq_send(ctx, iq, ctx->component, IQ_CHANNEL, t);
}

static void on_channel_result(ferry_transfer_t *t, xmpp_stanza_t *iq)
{
    const char *type = xmpp_stanza_get_type(iq), *bad = NULL;
    xmpp_stanza_t *el, *err, *c;

    if (type != NULL && strcmp(type, "error") == 0) {
        const char *why = "refused";
        err = xmpp_stanza_get_child_by_name(iq, "error");
        /* Prefer the Ferry condition, else the RFC 6120 one. */
        for (c = err ? xmpp_stanza_get_children(err) : NULL; c;
             c = xmpp_stanza_get_next(c)) {
            const char *ns = xmpp_stanza_get_ns(c);
            if (!xmpp_stanza_is_tag(c) || ns == NULL)
                continue;
            if (strcmp(ns, FERRY_NS) == 0) {
                why = xmpp_stanza_get_name(c);
                break;
            }
            if (strcmp(xmpp_stanza_get_name(c), "text") != 0)
                why = xmpp_stanza_get_name(c);
        }
        /* The peer waits for channel information that will not come. */
        transfer_fail(t, FERRY_DONE_REFUSED, refusal_token(why),
                      ferry_errname(FERRY_ERR_LIMIT));
        return;
    }
    el = xmpp_stanza_get_child_by_name_and_ns(iq, "channel", FERRY_NS);
    if (el == NULL || ferry_channel_parse(el, &t->ch, &bad) != FERRY_OK ||
        strcmp(t->ch.sid, t->sid) != 0) {
        transfer_fail(t, FERRY_DONE_REFUSED, "bad-channel", "bad-value");
        return;
    }
    if (!t->deliver)
        send_message(t->ctx, t->peer, ferry_channel_build(t->ctx->x, &t->ch),
                     NULL);
    channel_ready(t);
}

void channel_ready(ferry_transfer_t *t)
{
    transfer_event(t, "channel");
    if (t->ch.tls)
        t->tls_cache = tls_cache_ref(t->ctx->tls);
    t->st = T_DATA;
    dp_start(t);
}

void channel_message(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el)
{
    const char *from = xmpp_stanza_get_from(m), *bad;
    struct ferry_channel ch;
    ferry_transfer_t *t = NULL;
    GList *l;

    if (ferry_channel_parse(el, &ch, &bad) != FERRY_OK) {
        reply_bad(ctx, m, bad);
        return;
    }
    for (l = ctx->transfers; l && t == NULL; l = l->next) {
        ferry_transfer_t *x = l->data;
        if (x->st == T_WAIT_CHANNEL && strcmp(x->sid, ch.sid) == 0)
            t = x;
    }
    if (t == NULL)
        return;
    /* From the partner itself, or from the component on its behalf. */
    if (!(transfer_from_peer(t, from) && !ch.requester[0]) &&
        !(from && ctx->component &&
          g_ascii_strcasecmp(from, ctx->component) == 0 && ch.requester[0] &&
          transfer_from_peer(t, ch.requester)))
        return;
    t->ch = ch;
    ferry_wipe(ch.key, sizeof(ch.key));
    channel_ready(t);
}
