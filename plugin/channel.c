/* libferry: the iqs it sends and the channel negotiation with the
 * component (XEP draft, "Channel Request", "Channel Information" and
 * "Releasing a channel").
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

/* A transfer's iqs are forgotten when it ends, except its channel
 * request: that one stays, detached, so that a channel the component
 * grants after the end is released at once instead of counting against
 * the quota until it expires. */
static gboolean of_transfer(gpointer k, gpointer v, gpointer t)
{
    struct pending_iq *p = v;

    (void)k;
    if (p->t != t)
        return FALSE;
    if (p->kind == IQ_CHANNEL) {
        p->t = NULL;
        return FALSE;
    }
    return TRUE;
}

/* <release/> for channel id to the component that allocated it; the
 * answer is only matched, and dropped. */
static void release_send(ferry_ctx_t *ctx, const char *component,
                         const uint8_t id[32])
{
    xmpp_stanza_t *iq = xmpp_iq_new(ctx->x, "set", "x");

    xmpp_stanza_add_child_ex(iq, ferry_release_build(ctx->x, id), 0);
    iq_send(ctx, iq, component, IQ_RELEASE, NULL);
}

void iq_forget(ferry_ctx_t *ctx, ferry_transfer_t *t)
{
    g_hash_table_foreach_remove(ctx->iqs, of_transfer, t);
    /* Any outcome ends the channel's use; only its requester may say so
     * (the component counts it against that JID). */
    if (t->ch_mine && ctx->component != NULL)
        release_send(ctx, ctx->component, t->ch.id);
    t->ch_mine = 0;
}

/* An answer to a channel request whose transfer is gone (or no longer
 * waits for it): a channel granted all the same is given back. */
static void release_orphan(ferry_ctx_t *ctx, xmpp_stanza_t *iq,
                           const char *component)
{
    const char *type = xmpp_stanza_get_type(iq), *bad;
    xmpp_stanza_t *el;
    struct ferry_channel ch;

    if (type == NULL || strcmp(type, "result") != 0 ||
        (el = xmpp_stanza_get_child_by_name_and_ns(iq, "channel",
                                                   FERRY_NS)) == NULL ||
        ferry_channel_parse(el, &ch, &bad) != FERRY_OK)
        return;
    release_send(ctx, component, ch.id);
    ferry_wipe(ch.key, sizeof(ch.key));
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
 * done reason); anything unknown is "refused". The peer's cancel reason
 * is the same token when it is a wire error name (quota-exceeded,
 * rate-limited, no-relay, too-large), else "refused" (XEP draft,
 * "Refusals after acceptance"). */
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

static const char *cancel_reason(const char *token)
{
    static const char *const same[] = {"quota-exceeded", "rate-limited",
                                       "no-relay", "too-large"};
    size_t i;

    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        if (strcmp(token, same[i]) == 0)
            return same[i];
    return ferry_errname(FERRY_ERR_REFUSED);
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
        else
            release_orphan(ctx, iq, copy.to);
    } else if (copy.kind != IQ_RELEASE)
        disco_answer(ctx, copy.kind, iq, copy.to);
    return 1;
}

/* The component's text, kept for ferry_transfer_detail(): valid UTF-8,
 * control and format characters (C0, C1, bidi overrides) turned into
 * spaces so that it prints safely, cut at a character boundary. */
static void set_detail(ferry_transfer_t *t, const char *text)
{
    size_t n = 0, in = strlen(text);
    gchar *v = g_utf8_make_valid(text, (gssize)(in < 4 * sizeof(t->detail)
                                                    ? in
                                                    : 4 * sizeof(t->detail)));
    const char *p;

    for (p = v; *p; p = g_utf8_next_char(p)) {
        gunichar u = g_utf8_get_char(p);
        char b[6];
        int l;

        if (g_unichar_iscntrl(u) || g_unichar_type(u) == G_UNICODE_FORMAT)
            u = ' ';
        l = g_unichar_to_utf8(u, b);
        if (n + (size_t)l >= sizeof(t->detail))
            break;
        memcpy(t->detail + n, b, (size_t)l);
        n += (size_t)l;
    }
    t->detail[n] = '\0';
    g_free(v);
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
    group_request(t, &rq);
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
        const char *why = "refused", *token, *wire;
        int ferry_cond = 0;
        err = xmpp_stanza_get_child_by_name(iq, "error");
        /* Prefer the Ferry condition, else the RFC 6120 one; keep the
         * text for the application. */
        for (c = err ? xmpp_stanza_get_children(err) : NULL; c;
             c = xmpp_stanza_get_next(c)) {
            const char *ns = xmpp_stanza_get_ns(c);
            if (!xmpp_stanza_is_tag(c) || ns == NULL)
                continue;
            if (strcmp(ns, FERRY_NS) == 0) {
                why = xmpp_stanza_get_name(c);
                ferry_cond = 1;
            } else if (strcmp(xmpp_stanza_get_name(c), "text") == 0) {
                char *text = xmpp_stanza_get_text(c);
                if (text != NULL) {
                    set_detail(t, text);
                    xmpp_free(t->ctx->x, text);
                }
            } else if (!ferry_cond)
                why = xmpp_stanza_get_name(c);
        }
        token = refusal_token(why);
        wire = cancel_reason(token);
        /* The peer waits for channel information that will not come. */
        transfer_fail(t, FERRY_DONE_REFUSED, token, wire);
        return;
    }
    el = xmpp_stanza_get_child_by_name_and_ns(iq, "channel", FERRY_NS);
    if (el == NULL || ferry_channel_parse(el, &t->ch, &bad) != FERRY_OK)
        t->ch_mine = 0;
    else
        t->ch_mine = 1; /* counted against us: released when we end */
    /* A fan-out needs the slots it asked for (an older component ignores
     * them); a one-to-one, none. */
    if (t->ch_mine &&
        t->ch.slots != (t->group != NULL && t->group->fan ? t->group->nslots
                                                          : 0))
        bad = "slots"; /* still ours to release */
    if (!t->ch_mine || strcmp(t->ch.sid, t->sid) != 0 || bad != NULL) {
        transfer_fail(t, FERRY_DONE_REFUSED, "bad-channel", "bad-value");
        return;
    }
    if (t->group != NULL && t->group->fan)
        group_send_channels(t);
    else if (!t->deliver)
        send_message(t->ctx, t->peer, ferry_channel_build(t->ctx->x, &t->ch));
    channel_ready(t);
}

void channel_ready(ferry_transfer_t *t)
{
    transfer_event(t, "channel");
    if (t->st == T_FINISHED)
        return; /* cancelled from the callback */
    t->data_us = g_get_monotonic_time();
    if (t->ch.tls)
        t->tls_cache = tls_cache_ref(t->ctx->tls);
    t->st = T_DATA;
    /* Polled by the host: the data half starts at the next
     * ferry_process(), once the host has written what this turn queued
     * (the channel information the peer waits for goes out before our own
     * relay connect). A worker thread starts it at once. */
    if (t->ctx->mode == FERRY_MODE_THREAD)
        dp_start(t);
}

/* 1 when from is a service address (no local part, no resource) of the
 * requester's domain or below it: its server stamped that from, and the
 * requester trusts its own server's components as we trust ours. */
static int service_of(const char *from, const char *requester)
{
    const char *at = strchr(requester, '@'), *dom = at ? at + 1 : requester;
    size_t dl = strcspn(dom, "/"), fl = strlen(from);

    if (strchr(from, '@') != NULL || strchr(from, '/') != NULL || dl == 0)
        return 0;
    if (fl == dl)
        return g_ascii_strncasecmp(from, dom, dl) == 0;
    return fl > dl + 1 && from[fl - dl - 1] == '.' &&
           g_ascii_strncasecmp(from + fl - dl, dom, dl) == 0;
}

void channel_message(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el)
{
    const char *from = xmpp_stanza_get_from(m), *bad;
    struct ferry_channel ch;
    ferry_transfer_t *t = NULL;
    GList *l;

    if (ferry_channel_parse(el, &ch, &bad) != FERRY_OK ||
        (ch.slots > 0 && !ch.has_slot && (bad = "slot") != NULL)) {
        reply_bad(ctx, m, bad);
        return;
    }
    /* The session of this sid whose partner sent it, or on whose behalf a
     * component did: ours, or a service of the partner's own domain (XEP
     * "Delivering"). Two sessions may share a sid if their senders
     * differ. */
    for (l = ctx->transfers; l && t == NULL; l = l->next) {
        ferry_transfer_t *x = l->data;
        if (x->st != T_WAIT_CHANNEL || strcmp(x->sid, ch.sid) != 0)
            continue;
        if ((transfer_from_peer(x, from) && !ch.requester[0]) ||
            (from && ch.requester[0] && transfer_from_peer(x, ch.requester) &&
             ((ctx->component &&
               g_ascii_strcasecmp(from, ctx->component) == 0) ||
              service_of(from, ch.requester))))
            t = x;
    }
    if (t == NULL)
        return;
    /* On a fan-out slot the sender names the one cipher of all legs: one
     * this end was offered and allows (XEP "Ciphers in a fan-out"). */
    if (ch.has_slot) {
        if (!cipher_in(ch.cipher, t->ciphers, t->nciphers) ||
            !cipher_in(ch.cipher, ctx->ciphers, ctx->nciphers)) {
            ferry_wipe(ch.key, sizeof(ch.key));
            snprintf(t->detail, sizeof(t->detail),
                     "the fan-out uses %s, which is not %s here",
                     ch.cipher >= 0 ? ferry_cipher_name(ch.cipher)
                                    : "an unknown cipher",
                     cipher_in(ch.cipher, t->ciphers, t->nciphers) ? "allowed"
                                                                   : "offered");
            transfer_fail(t, FERRY_DONE_REFUSED, "cipher", "bad-value");
            return;
        }
        t->cipher = ch.cipher;
    }
    t->ch = ch;
    ferry_wipe(ch.key, sizeof(ch.key));
    channel_ready(t);
}
