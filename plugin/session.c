/* libferry: the session half of a transfer (XEP draft, "Offer" and
 * "Accept"): offers, acceptance, rejection, cancellation, and the stage
 * timers. It runs on the host's thread and never touches a socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "files.h"
#include "frame.h"
#include "internal.h"

static const char *status_names[] = {"ok",        "rejected",  "cancelled",
                                     "peer-gone", "integrity", "timeout",
                                     "refused",   "io"};

const char *ferry_status_name(ferry_status_t s)
{
    return (unsigned)s < sizeof(status_names) / sizeof(status_names[0])
               ? status_names[s]
               : "unknown";
}

const char *ferry_transfer_sid(const ferry_transfer_t *t)
{
    return t->sid;
}

const char *ferry_transfer_peer(const ferry_transfer_t *t)
{
    return t->peer;
}

uint64_t ferry_transfer_size(const ferry_transfer_t *t)
{
    /* A stream's size is known once its END went or came. */
    if (t->size == FERRY_SIZE_UNKNOWN && t->st == T_FINISHED &&
        t->end_count > 0)
        return t->end_size;
    return t->size;
}

const char *ferry_transfer_path(const ferry_transfer_t *t)
{
    return t->final_path;
}

int ferry_transfer_is_sender(const ferry_transfer_t *t)
{
    return t->is_sender;
}

void ferry_transfer_set_userdata(ferry_transfer_t *t, void *userdata)
{
    t->user = userdata;
}

void *ferry_transfer_userdata(const ferry_transfer_t *t)
{
    return t->user;
}

const char *ferry_transfer_detail(const ferry_transfer_t *t)
{
    return t->detail;
}

const char *ferry_transfer_cipher(const ferry_transfer_t *t)
{
    return ferry_cipher_name(t->cipher);
}

int ferry_active(const ferry_ctx_t *ctx)
{
    int n = 0;
    GList *l;

    for (l = ctx->transfers; l; l = l->next)
        if (((ferry_transfer_t *)l->data)->st != T_FINISHED)
            n++;
    return n;
}

void transfer_event(ferry_transfer_t *t, const char *what)
{
    if (t->ctx->cb.event)
        t->ctx->cb.event(t, what, t->ctx->ud);
}

void transfer_progress(ferry_transfer_t *t, uint64_t done)
{
    if (t->ctx->cb.progress)
        t->ctx->cb.progress(t, done, t->size, t->ctx->ud);
}

char *send_message_id(ferry_ctx_t *ctx, const char *to, xmpp_stanza_t *el)
{
    char *id = g_uuid_string_random();
    xmpp_stanza_t *m = xmpp_message_new(ctx->x, "headline", to, id), *hint;
    const char *hints[] = {"no-store", "no-copy"};
    size_t i;

    xmpp_stanza_add_child_ex(m, el, 0);
    /* A session is live or nothing. Headlines are never stored offline,
     * archived or carbon-copied (RFC 6121 8.5.2, XEP-0280, XEP-0313), and
     * the hints (XEP-0334) say so to servers that look at them. */
    for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        hint = xmpp_stanza_new(ctx->x);
        xmpp_stanza_set_name(hint, hints[i]);
        xmpp_stanza_set_ns(hint, "urn:xmpp:hints");
        xmpp_stanza_add_child_ex(m, hint, 0);
    }
    ctx_send(ctx, m);
    return id;
}

void send_message(ferry_ctx_t *ctx, const char *to, xmpp_stanza_t *el)
{
    g_free(send_message_id(ctx, to, el));
}

void send_cancel(ferry_transfer_t *t, const char *to, const char *reason)
{
    send_message(t->ctx, to,
                 ferry_reason_build(t->ctx->x, "cancel", t->sid, reason, NULL));
}

ferry_transfer_t *transfer_new(ferry_ctx_t *ctx, int is_sender)
{
    ferry_transfer_t *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->ctx = ctx;
    t->is_sender = is_sender;
    t->sock = -1;
    t->deadline = ferry_now() + ctx->stage_s;
    t->connect_s = ctx->connect_s;
    t->idle_s = ctx->idle_s;
    ctx->transfers = g_list_append(ctx->transfers, t);
    return t;
}

void transfer_free(ferry_transfer_t *t)
{
    dp_free(t);
    if (t->src.close)
        t->src.close(t->src.userdata);
    rfile_free(t->sink.file);
    ferry_wipe(t->my_priv, sizeof(t->my_priv));
    ferry_wipe(t->ch.key, sizeof(t->ch.key));
    g_free(t->peer);
    g_free(t->iq_id);
    g_free(t->msg_id);
    g_free(t->final_path);
    group_free(t);
    free(t);
}

/* A <cancel/> to the peer, once. */
static void tell_cancel(ferry_transfer_t *t, const char *wire_reason)
{
    guint i;

    if (t->cancel_sent || t->peer == NULL)
        return;
    t->cancel_sent = 1;
    /* A group's legs each hear it: those still in the session, or on a
     * fan-out channel every slot (their state is the data half's; a
     * cancel for a session that ended is ignored). */
    if (t->group != NULL && t->st == T_LOCATING) {
        for (i = 0; i < t->group->legs->len; i++) {
            struct leg *l = g_ptr_array_index(t->group->legs, i);
            if (l->st != LEG_FINAL)
                send_cancel(t, l->jid, wire_reason);
        }
        return;
    }
    if (t->group != NULL && t->group->fan) {
        for (i = 0; i < t->group->nslots; i++)
            send_cancel(t, t->group->slot[i]->jid, wire_reason);
        return;
    }
    send_cancel(t, t->peer, wire_reason);
}

void transfer_finish(ferry_transfer_t *t, ferry_status_t st, const char *reason)
{
    if (t->st == T_FINISHED)
        return;
    /* The data half ended before it had a link to the relay: the peer
     * would wait there for nobody until the relay's timeout; tell it. (A
     * relay lost midway tells both ends itself.) */
    if (t->st == T_DATA && st != FERRY_DONE_OK && !t->linked)
        tell_cancel(t, reason != NULL && g_str_has_prefix(reason, "relay-")
                           ? "no-relay" /* it could not reach the relay */
                           : "peer-error");
    /* The data half settles the sink itself; before it, this does. */
    if (t->st != T_DATA && !t->is_sender)
        dp_sink_end(t, t->resume_from > 0);
    t->st = T_FINISHED;
    /* The data half is done with the sink: its final name is settled. */
    if (t->sink.file != NULL) {
        g_free(t->final_path);
        t->final_path = g_strdup(rfile_path(t->sink.file));
    }
    iq_forget(t->ctx, t);
    t->fin_st = st;
    t->fin_reason = reason;
    t->fin_bytes = st == FERRY_DONE_OK ? ferry_transfer_size(t)
                                       : MIN(t->acked * t->chunk, t->size);
    t->fin_seconds = t->data_us > 0 ? (double)(g_get_monotonic_time() -
                                               t->data_us) / 1e6
                                    : 0;
    group_settle(t, st, reason);
    if (t->ctx->cb.done)
        t->ctx->cb.done(t, st, reason, t->ctx->ud);
}

void transfer_fail(ferry_transfer_t *t, ferry_status_t st, const char *reason,
                   const char *wire_reason)
{
    tell_cancel(t, wire_reason);
    transfer_finish(t, st, reason);
}

ferry_transfer_t *transfer_find(ferry_ctx_t *ctx, const char *sid, int sender)
{
    GList *l;

    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st != T_FINISHED && t->is_sender == sender &&
            strcmp(t->sid, sid) == 0)
            return t;
    }
    return NULL;
}

ferry_transfer_t *transfer_find_from(ferry_ctx_t *ctx, const char *sid,
                                     const char *from)
{
    GList *l;

    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st != T_FINISHED && !t->is_sender && strcmp(t->sid, sid) == 0 &&
            transfer_from_peer(t, from))
            return t;
    }
    return NULL;
}

int transfer_from_peer(const ferry_transfer_t *t, const char *from)
{
    if (from == NULL || t->peer == NULL)
        return 0;
    if (ferry_jid_is_full(t->peer))
        return strcmp(t->peer, from) == 0;
    return ferry_jid_same_bare(t->peer, from);
}

/* ---- receiving -------------------------------------------------------- */

void reply_bad(ferry_ctx_t *ctx, xmpp_stanza_t *m, const char *attr)
{
    char text[96];

    /* A message that came through a group chat (the room marks it with
     * muc#user): an error back would get us put out of the room (Prosody
     * kicks an occupant that sends one), so it gets none. */
    if (xmpp_stanza_get_child_by_name_and_ns(
            m, "x", "http://jabber.org/protocol/muc#user") != NULL)
        return;
    snprintf(text, sizeof(text), "attribute %s: missing or invalid", attr);
    ctx_send(ctx, ferry_error_reply(ctx->x, m, FERRY_ERR_BAD_REQUEST,
                                    "bad-attribute", attr, text));
}

#define PENDING_MAX 64     /* offers waiting for the user, in all */
#define PENDING_PER_PEER 8 /* ... and from one bare JID */

static int pending_offers(ferry_ctx_t *ctx, const char *from)
{
    GList *l;
    int n = 0;

    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st == T_WAIT_USER &&
            (from == NULL || ferry_jid_same_bare(t->peer, from)))
            n++;
    }
    return n;
}

int peer_key_ok(const uint8_t pub[32])
{
    uint8_t priv[32], mine[32], shared[32];
    int ok;

    /* X25519 is all zeros for a low-order point whatever our scalar: such
     * a key would give a content key anyone can compute (XEP "Keys"). */
    ferry_x25519_keygen(priv, mine);
    ok = ferry_x25519(priv, pub, shared) == FERRY_OK;
    ferry_wipe(priv, sizeof(priv));
    ferry_wipe(shared, sizeof(shared));
    return ok;
}

static void on_offer(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el)
{
    const char *from = xmpp_stanza_get_from(m), *bad = NULL;
    struct ferry_offer o;
    ferry_offer_info_t info;
    ferry_transfer_t *t;
    int cipher;

    if (from == NULL || !ferry_valid_jid(from) || !ferry_jid_is_full(from))
        return;
    if (ferry_offer_parse(el, &o, &bad) != FERRY_OK) {
        reply_bad(ctx, m, bad);
        return;
    }
    /* A duplicate from the same sender. (Sessions are told apart by sid
     * and sender: someone else who offers first under a sid he learnt
     * cannot shadow the sender's own offer, a resume say.) */
    if (transfer_find_from(ctx, o.sid, from) != NULL)
        return;
    if (!peer_key_ok(o.key)) {
        reply_bad(ctx, m, "key");
        return;
    }
    /* Offers waiting for the user are bounded, in all and per sender, so
     * strangers cannot flood the application; the rest are declined before
     * it sees them. Without a JID and a component no channel can come. */
    if (ctx->jid == NULL || ctx->component == NULL || ctx->closing ||
        pending_offers(ctx, NULL) >= PENDING_MAX ||
        pending_offers(ctx, from) >= PENDING_PER_PEER) {
        send_message(ctx, from,
                     ferry_reason_build(ctx->x, "reject", o.sid, "busy",
                                        ctx->jid ? "too many offers waiting"
                                                 : "not ready"));
        return;
    }
    /* No cipher in common (XEP "Ciphers"): declined before the
     * application hears of it, as a busy one is. */
    if ((cipher = cipher_choose(ctx, o.ciphers, o.nciphers)) < 0) {
        send_message(ctx, from,
                     ferry_reason_build(ctx->x, "reject", o.sid,
                                        "not-acceptable",
                                        "no cipher in common"));
        return;
    }
    if ((t = transfer_new(ctx, 0)) == NULL)
        return;
    t->cipher = cipher;
    strcpy(t->sid, o.sid);
    t->peer = g_strdup(from);
    strcpy(t->name, o.name);
    strcpy(t->media, o.media_type);
    t->size = o.size;
    t->chunk = o.chunk_size;
    t->nchunks = (t->size + t->chunk - 1) / t->chunk;
    t->requester = o.requester;
    memcpy(t->peer_pub, o.key, 32);
    memcpy(t->ciphers, o.ciphers, sizeof(t->ciphers));
    t->nciphers = o.nciphers;
    t->st = T_WAIT_USER;
    if (ctx->cb.offer == NULL) {
        ferry_reject(t, "not-acceptable", "no application to accept");
        return;
    }
    info.sid = t->sid;
    info.from = t->peer;
    info.name = t->name;
    info.size = t->size;
    info.media_type = t->media;
    info.chunk_size = t->chunk;
    info.sha256 = o.has_sha256 ? o.sha256 : NULL;
    ctx->cb.offer(t, &info, ctx->ud);
}

/* The accept message, then the channel: the receiver's half of claims 2-5. */
static int accept_common(ferry_transfer_t *t)
{
    ferry_ctx_t *ctx = t->ctx;
    struct ferry_accept a;

    ferry_x25519_keygen(t->my_priv, t->my_pub);
    memset(&a, 0, sizeof(a));
    strcpy(a.sid, t->sid);
    memcpy(a.key, t->my_pub, 32);
    a.has_resume = t->resume_from > 0;
    a.resume_from = t->resume_from;
    a.cipher = t->cipher;
    send_message(t->ctx, t->peer, ferry_accept_build(t->ctx->x, &a));
    if (t->resume_from > 0) {
        ctx_enter(ctx);
        transfer_event(t, "resuming");
        if (t->st == T_FINISHED) { /* cancelled from the callback */
            (void)ctx_leave(ctx);
            return FERRY_RC_OK;
        }
        (void)ctx_leave(ctx); /* the caller holds the context */
    }
    if (t->requester == ROLE_RECEIVER)
        channel_request(t);
    else {
        t->st = T_WAIT_CHANNEL;
        t->deadline = ferry_now() + ctx->stage_s;
    }
    return FERRY_RC_OK;
}

int ferry_accept_file(ferry_transfer_t *t, const char *dir)
{
    const char *why = "io";
    uint64_t resume = 0;
    int rc;

    if (t->is_sender || t->st != T_WAIT_USER) {
        ctx_error(t->ctx, "not an offer waiting for an answer");
        return FERRY_RC_STATE;
    }
    rc = rfile_open(dir ? dir : ".", t->name, t->sid, t->peer, t->size,
                    t->chunk, &t->sink.file, &resume, &why);
    if (rc != FERRY_OK) {
        ctx_error(t->ctx, "%s/%s: cannot create (%s)", dir ? dir : ".", t->name,
                  why);
        return strcmp(why, "name-taken") == 0 ? FERRY_RC_EXISTS : FERRY_RC_IO;
    }
    t->resume_from = resume;
    t->final_path = g_strdup(rfile_path(t->sink.file));
    return accept_common(t);
}

int ferry_accept_sink(ferry_transfer_t *t, const ferry_sink_t *sink)
{
    if (t->is_sender || t->st != T_WAIT_USER) {
        ctx_error(t->ctx, "not an offer waiting for an answer");
        return FERRY_RC_STATE;
    }
    if (sink == NULL || sink->write == NULL) {
        ctx_error(t->ctx, "a sink needs a write callback");
        return FERRY_RC_INVALID;
    }
    t->sink.user = *sink;
    return accept_common(t);
}

/* The reject reasons of the XEP ("Offer"), as static strings; NULL for
 * anything else. */
static const char *reject_token(const char *r)
{
    static const char *const tokens[] = {"declined", "busy", "too-large",
                                         "not-acceptable"};
    size_t i;

    for (i = 0; r != NULL && i < sizeof(tokens) / sizeof(tokens[0]); i++)
        if (strcmp(r, tokens[i]) == 0)
            return tokens[i];
    return NULL;
}

int ferry_reject(ferry_transfer_t *t, const char *reason, const char *text)
{
    if (t->is_sender || t->st != T_WAIT_USER) {
        ctx_error(t->ctx, "not an offer waiting for an answer");
        return FERRY_RC_STATE;
    }
    if ((reason = reject_token(reason)) == NULL)
        reason = "declined";
    send_message(t->ctx, t->peer,
                 ferry_reason_build(t->ctx->x, "reject", t->sid, reason, text));
    ctx_enter(t->ctx);
    transfer_finish(t, FERRY_DONE_REJECTED, reason);
    (void)ctx_leave(t->ctx);
    return FERRY_RC_OK;
}

int ferry_cancel(ferry_transfer_t *t)
{
    ferry_ctx_t *ctx;

    if (t->st == T_FINISHED || t->cancel_sent) {
        ctx_error(t->ctx, "transfer already ending");
        return FERRY_RC_STATE;
    }
    ctx = t->ctx;
    tell_cancel(t, "cancelled");
    ctx_enter(ctx);
    if (t->st == T_DATA)
        dp_cancel(t, FERRY_ERR_CANCELLED);
    else
        transfer_finish(t, FERRY_DONE_CANCELLED, "cancelled");
    (void)ctx_leave(ctx); /* t may be gone from here on */
    return FERRY_RC_OK;
}

static void on_end_msg(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el,
                       int is_reject)
{
    const char *sid = xmpp_stanza_get_attribute(el, "sid");
    const char *reason = xmpp_stanza_get_attribute(el, "reason");
    ferry_transfer_t *t;

    if (!ferry_valid_sid(sid))
        return;
    /* A reject only ends an offer we made; a cancel ends the session
     * whichever side we are. */
    t = transfer_find(ctx, sid, 1);
    if (t != NULL && t->group != NULL &&
        group_on_end_msg(
            t, xmpp_stanza_get_from(m), is_reject,
            is_reject ? (reject_token(reason) ? reject_token(reason)
                                              : "declined")
                      : (reason && ferry_errcode(reason) >= 0
                             ? ferry_errname(ferry_errcode(reason))
                             : "cancelled")))
        return;
    if (t == NULL && !is_reject)
        t = transfer_find_from(ctx, sid, xmpp_stanza_get_from(m));
    if (t == NULL || !transfer_from_peer(t, xmpp_stanza_get_from(m)))
        return;
    if (is_reject && t->st != T_OFFERED)
        return;
    if (is_reject)
        reason = reject_token(reason) ? reject_token(reason) : "declined";
    else
        reason = reason && ferry_errcode(reason) >= 0
                     ? ferry_errname(ferry_errcode(reason))
                     : "cancelled";
    t->cancel_sent = 1; /* the peer knows */
    if (t->st == T_DATA)
        dp_cancel(t, !is_reject && ferry_errcode(reason) > 0
                         ? ferry_errcode(reason)
                         : FERRY_ERR_CANCELLED);
    else
        transfer_finish(
            t, is_reject ? FERRY_DONE_REJECTED : FERRY_DONE_CANCELLED, reason);
}

void session_message(ferry_ctx_t *ctx, xmpp_stanza_t *m)
{
    xmpp_stanza_t *el;
    const char *name;

    for (el = xmpp_stanza_get_children(m); el; el = xmpp_stanza_get_next(el)) {
        if (!xmpp_stanza_is_tag(el) || xmpp_stanza_get_ns(el) == NULL ||
            strcmp(xmpp_stanza_get_ns(el), FERRY_NS) != 0)
            continue;
        name = xmpp_stanza_get_name(el);
        if (locate_message(ctx, m, el))
            ;
        else if (strcmp(name, "offer") == 0)
            on_offer(ctx, m, el);
        else if (strcmp(name, "accept") == 0)
            offer_on_accept(ctx, m, el);
        else if (strcmp(name, "channel") == 0)
            channel_message(ctx, m, el);
        else if (strcmp(name, "reject") == 0 || strcmp(name, "cancel") == 0)
            on_end_msg(ctx, m, el, name[0] == 'r');
        break;
    }
}

void session_timers(ferry_ctx_t *ctx, time_t now)
{
    GList *l;

    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st >= T_DATA || t->st == T_LOCATING || now < t->deadline)
            continue;
        if (t->st == T_WAIT_USER) /* the user's silence is not news */
            transfer_finish(t, FERRY_DONE_TIMEOUT, "timeout");
        else
            transfer_fail(t, FERRY_DONE_TIMEOUT, "timeout", "timeout");
    }
}
