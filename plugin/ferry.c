/* libferry: the XMPP side (offers, acceptance, channel requests, channel
 * information) and the transfer state machine. Relay I/O lives in
 * relay.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "chan.h"
#include "codec.h"
#include "err.h"
#include "frame.h"
#include "internal.h"
#include "reorder.h"
#include "state.h"

#define STAGE_TIMEOUT 120 /* seconds for each XMPP stage */

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
    return t->size;
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

static void send_stanza(ferry_ctx_t *ctx, xmpp_stanza_t *s)
{
    xmpp_send(ctx->conn, s);
    xmpp_stanza_release(s);
}

static void send_message(ferry_ctx_t *ctx, const char *to, xmpp_stanza_t *el,
                         const char *body)
{
    char *id = xmpp_uuid_gen(ctx->x);
    xmpp_stanza_t *m = xmpp_message_new(ctx->x, NULL, to, id);

    xmpp_stanza_t *hint;

    xmpp_free(ctx->x, id);
    xmpp_stanza_add_child_ex(m, el, 0);
    if (body != NULL)
        xmpp_message_set_body(m, body);
    /* A session is live or nothing: never stored for later (XEP-0334). */
    hint = xmpp_stanza_new(ctx->x);
    xmpp_stanza_set_name(hint, "no-store");
    xmpp_stanza_set_ns(hint, "urn:xmpp:hints");
    xmpp_stanza_add_child_ex(m, hint, 0);
    send_stanza(ctx, m);
}

static void transfer_free(ferry_transfer_t *t)
{
    if (t->fd >= 0)
        close(t->fd);
    relay_close(t);
    aead_free(t->aead);
    sha256_free(t->hash);
    buf_free(t->in);
    buf_free(t->out);
    reorder_free(t->cache);
    free(t->scratch);
    ferry_wipe(t->my_priv, sizeof(t->my_priv));
    ferry_wipe(t->ch.key, sizeof(t->ch.key));
    g_free(t->peer);
    g_free(t->path);
    g_free(t->part_path);
    g_free(t->state_path);
    g_free(t->iq_id);
    g_free(t->order);
    free(t);
}

/* Ends a transfer once: tells the application, then frees it at the end
 * of the current ferry_run_once() turn. */
void transfer_finish(ferry_transfer_t *t, ferry_status_t st, const char *reason)
{
    if (t->st == T_FINISHED)
        return;
    t->st = T_FINISHED;
    relay_close(t);
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    /* A receiver keeps .part and its state for a resume, except when it
     * never started. */
    if (!t->is_sender && st != FERRY_DONE_OK && t->part_path &&
        t->written == 0 && t->resume_from == 0) {
        unlink(t->part_path);
        unlink(t->state_path);
    }
    if (t->ctx->cb.done)
        t->ctx->cb.done(t, st, reason, t->ctx->ud);
}

static ferry_transfer_t *transfer_new(ferry_ctx_t *ctx, int is_sender)
{
    ferry_transfer_t *t = calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    t->ctx = ctx;
    t->is_sender = is_sender;
    t->fd = t->sock = -1;
    t->deadline = time(NULL) + STAGE_TIMEOUT;
    ctx->transfers = g_list_prepend(ctx->transfers, t);
    return t;
}

static ferry_transfer_t *find(ferry_ctx_t *ctx, const char *sid, int sender)
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

/* Bare-JID equality, for matching an answer to an offer sent to a bare
 * JID. */
static int same_bare(const char *a, const char *b)
{
    size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
    return la == lb && g_ascii_strncasecmp(a, b, la) == 0;
}

static int from_peer(const ferry_transfer_t *t, const char *from)
{
    if (from == NULL || t->peer == NULL)
        return 0;
    if (ferry_jid_is_full(t->peer))
        return strcmp(t->peer, from) == 0;
    return same_bare(t->peer, from);
}

/* ---- channel request (iq to the component) ------------------------------ */

static int on_channel_result(xmpp_conn_t *conn, xmpp_stanza_t *iq, void *ud);

static void request_channel(ferry_transfer_t *t)
{
    ferry_ctx_t *ctx = t->ctx;
    struct ferry_request rq;
    xmpp_stanza_t *iq;

    memset(&rq, 0, sizeof(rq));
    strcpy(rq.sid, t->sid);
    snprintf(rq.peer, sizeof(rq.peer), "%s", t->peer);
    rq.role = t->is_sender ? ROLE_SENDER : ROLE_RECEIVER;
    rq.size = t->size;
    rq.deliver = t->deliver;
    g_free(t->iq_id);
    {
        char *id = xmpp_uuid_gen(ctx->x);
        t->iq_id = g_strdup(id);
        xmpp_free(ctx->x, id);
    }
    iq = xmpp_iq_new(ctx->x, "set", t->iq_id);
    xmpp_stanza_set_to(iq, ctx->component);
    xmpp_stanza_add_child_ex(iq, ferry_request_build(ctx->x, &rq), 0);
    xmpp_id_handler_add(ctx->conn, on_channel_result, t->iq_id, t);
    t->st = T_REQUESTING;
    t->deadline = time(NULL) + STAGE_TIMEOUT;
    send_stanza(ctx, iq);
}

static void channel_ready(ferry_transfer_t *t)
{
    int rc;

    transfer_event(t, "channel");
    if ((rc = relay_connect(t)) != FERRY_OK)
        transfer_finish(t, FERRY_DONE_IO,
                        rc == FERRY_ERR_CRYPTO ? "relay-tls-failed"
                                               : "relay-unreachable");
}

static int on_channel_result(xmpp_conn_t *conn, xmpp_stanza_t *iq, void *ud)
{
    ferry_transfer_t *t = ud;
    const char *type = xmpp_stanza_get_type(iq), *bad = NULL;
    xmpp_stanza_t *el, *err, *c;

    (void)conn;
    if (t->st != T_REQUESTING)
        return 0;
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
        /* The peer is waiting for channel information that will not
         * come: tell it. */
        send_message(t->ctx, t->peer,
                     ferry_reason_build(t->ctx->x, "cancel", t->sid,
                                        ferry_errname(FERRY_ERR_LIMIT), NULL),
                     NULL);
        transfer_finish(t, FERRY_DONE_REFUSED, why);
        return 0;
    }
    el = xmpp_stanza_get_child_by_name_and_ns(iq, "channel", FERRY_NS);
    if (el == NULL || ferry_channel_parse(el, &t->ch, &bad) != FERRY_OK ||
        strcmp(t->ch.sid, t->sid) != 0) {
        transfer_finish(t, FERRY_DONE_REFUSED, "bad-channel");
        return 0;
    }
    if (!t->deliver)
        send_message(t->ctx, t->peer, ferry_channel_build(t->ctx->x, &t->ch),
                     NULL);
    channel_ready(t);
    return 0;
}

/* ---- sending ---------------------------------------------------------- */

ferry_transfer_t *ferry_send_file(ferry_ctx_t *ctx, const char *peer,
                                  const char *path,
                                  const ferry_send_opts_t *opts)
{
    ferry_send_opts_t def = {FERRY_REQUESTER_RECEIVER, 0, 0, NULL, NULL, 0, 0};
    ferry_transfer_t *t;
    struct ferry_offer o;
    struct stat sb;
    const char *base;
    char body[1600];
    uint8_t rnd[12];

    if (opts == NULL)
        opts = &def;
    if (!ferry_valid_jid(peer))
        return NULL;
    if ((t = transfer_new(ctx, 1)) == NULL)
        return NULL;
    t->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (t->fd < 0 || fstat(t->fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        ctx->transfers = g_list_remove(ctx->transfers, t);
        transfer_free(t);
        return NULL;
    }
    t->path = g_strdup(path);
    t->peer = g_strdup(peer);
    t->size = (uint64_t)sb.st_size;
    t->chunk = opts->chunk_size ? opts->chunk_size : FERRY_CHUNK_DEFAULT;
    if (t->chunk < FERRY_CHUNK_MIN || t->chunk > FERRY_CHUNK_MAX)
        t->chunk = FERRY_CHUNK_DEFAULT;
    t->nchunks = (t->size + t->chunk - 1) / t->chunk;
    t->requester =
        opts->requester == FERRY_REQUESTER_SENDER ? ROLE_SENDER : ROLE_RECEIVER;
    t->deliver = opts->deliver;
    t->shuffle = opts->shuffle;
    t->corrupt_chunk = opts->corrupt_chunk;
    if (opts->sid && ferry_valid_sid(opts->sid))
        snprintf(t->sid, sizeof(t->sid), "%s", opts->sid);
    else {
        ferry_random(rnd, sizeof(rnd));
        b64_encode(rnd, sizeof(rnd), t->sid);
        for (char *p = t->sid; *p; p++)
            if (*p == '+' || *p == '/')
                *p = *p == '+' ? '-' : '_';
    }
    base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(t->name, sizeof(t->name), "%s", base[0] ? base : "file");
    snprintf(t->media, sizeof(t->media), "%s",
             opts->media_type ? opts->media_type : "application/octet-stream");
    ferry_x25519_keygen(t->my_priv, t->my_pub);
    memset(&o, 0, sizeof(o));
    strcpy(o.sid, t->sid);
    strcpy(o.name, t->name);
    o.size = t->size;
    strcpy(o.media_type, t->media);
    o.chunk_size = t->chunk;
    memcpy(o.key, t->my_pub, 32);
    o.requester = t->requester;
    snprintf(body, sizeof(body), "%s offers you %s (%llu bytes) with Ferry.",
             xmpp_conn_get_bound_jid(ctx->conn)
                 ? xmpp_conn_get_bound_jid(ctx->conn)
                 : "someone",
             t->name, (unsigned long long)t->size);
    send_message(ctx, peer, ferry_offer_build(ctx->x, &o), body);
    t->st = T_OFFERED;
    return t;
}

static void on_accept(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el)
{
    const char *from = xmpp_stanza_get_from(m), *bad;
    struct ferry_accept a;
    ferry_transfer_t *t;

    if (ferry_accept_parse(el, &a, &bad) != FERRY_OK)
        return;
    t = find(ctx, a.sid, 1);
    /* Only the first acceptance of an offer counts (XEP draft, "Offer"). */
    if (t == NULL || t->st != T_OFFERED || !from_peer(t, from) ||
        !ferry_jid_is_full(from))
        return;
    g_free(t->peer);
    t->peer = g_strdup(from);
    memcpy(t->peer_pub, a.key, 32);
    if (a.has_resume) {
        if (a.resume_from > t->nchunks) {
            transfer_finish(t, FERRY_DONE_INTEGRITY, "bad-resume");
            return;
        }
        t->resume_from = a.resume_from;
    }
    transfer_event(t, "accepted");
    if (t->requester == ROLE_SENDER)
        request_channel(t);
    else {
        t->st = T_WAIT_CHANNEL;
        t->deadline = time(NULL) + STAGE_TIMEOUT;
    }
}

/* ---- receiving -------------------------------------------------------- */

static void reply_bad(ferry_ctx_t *ctx, xmpp_stanza_t *m, const char *attr)
{
    char text[96];

    snprintf(text, sizeof(text), "attribute %s: missing or invalid", attr);
    send_stanza(ctx, ferry_error_reply(ctx->x, m, FERRY_ERR_BAD_REQUEST,
                                       "bad-attribute", attr, text));
}

static void on_offer(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el)
{
    const char *from = xmpp_stanza_get_from(m), *bad = NULL;
    struct ferry_offer o;
    ferry_offer_info_t info;
    ferry_transfer_t *t;

    if (from == NULL || !ferry_jid_is_full(from))
        return;
    if (ferry_offer_parse(el, &o, &bad) != FERRY_OK) {
        reply_bad(ctx, m, bad);
        return;
    }
    if (find(ctx, o.sid, 0) != NULL)
        return; /* a duplicate */
    if ((t = transfer_new(ctx, 0)) == NULL)
        return;
    strcpy(t->sid, o.sid);
    t->peer = g_strdup(from);
    strcpy(t->name, o.name);
    strcpy(t->media, o.media_type);
    t->size = o.size;
    t->chunk = o.chunk_size;
    t->nchunks = (t->size + t->chunk - 1) / t->chunk;
    t->requester = o.requester;
    memcpy(t->peer_pub, o.key, 32);
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
    ctx->cb.offer(t, &info, ctx->ud);
}

/* Where an interrupted transfer resumes: the state file must name this
 * session, size, chunk size and sender, and the .part file must hold the
 * chunks it counts; anything else starts from chunk 0. */
static uint64_t resume_point(ferry_transfer_t *t)
{
    struct ferry_state st;
    struct stat sb;

    if (state_load(t->state_path, &st) == FERRY_OK &&
        strcmp(st.sid, t->sid) == 0 && st.size == t->size &&
        st.chunk == t->chunk && same_bare(st.peer, t->peer) &&
        st.next <= t->nchunks && stat(t->part_path, &sb) == 0 &&
        (uint64_t)sb.st_size >= st.next * st.chunk)
        return st.next;
    return 0;
}

void transfer_state_save(ferry_transfer_t *t)
{
    struct ferry_state st;

    memset(&st, 0, sizeof(st));
    g_strlcpy(st.sid, t->sid, sizeof(st.sid));
    g_strlcpy(st.peer, t->peer, sizeof(st.peer));
    st.size = t->size;
    st.chunk = t->chunk;
    st.next = t->next;
    /* Best effort: without it a later resume starts over, nothing worse. */
    (void)state_save(t->state_path, &st);
}

int ferry_accept(ferry_transfer_t *t, const char *dest)
{
    struct ferry_accept a;
    uint8_t buf[65536];
    uint64_t left;
    ssize_t n;

    if (t->is_sender || t->st != T_WAIT_USER)
        return -1;
    t->path = g_strdup(dest);
    t->part_path = g_strdup_printf("%s.part", dest);
    t->state_path = g_strdup_printf("%s.ferry", dest);
    t->hash = sha256_new();
    t->resume_from = resume_point(t);
    t->fd = open(t->part_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (t->fd < 0 || t->hash == NULL) {
        ferry_reject(t, "not-acceptable", "cannot write the file");
        return -1;
    }
    /* Keep the verified prefix, hash it again, drop anything after. */
    if (ftruncate(t->fd, (off_t)(t->resume_from * t->chunk)) < 0) {
        ferry_reject(t, "not-acceptable", "cannot write the file");
        return -1;
    }
    for (left = t->resume_from * t->chunk; left > 0; left -= (uint64_t)n) {
        n = read(t->fd, buf, left < sizeof(buf) ? left : sizeof(buf));
        if (n <= 0)
            break;
        sha256_update(t->hash, buf, (size_t)n);
    }
    t->next = t->resume_from;
    t->written = t->resume_from * t->chunk;
    transfer_state_save(t);
    ferry_x25519_keygen(t->my_priv, t->my_pub);
    memset(&a, 0, sizeof(a));
    strcpy(a.sid, t->sid);
    memcpy(a.key, t->my_pub, 32);
    a.has_resume = t->resume_from > 0;
    a.resume_from = t->resume_from;
    send_message(t->ctx, t->peer, ferry_accept_build(t->ctx->x, &a), NULL);
    if (t->resume_from > 0)
        transfer_event(t, "resuming");
    if (t->requester == ROLE_RECEIVER)
        request_channel(t);
    else {
        t->st = T_WAIT_CHANNEL;
        t->deadline = time(NULL) + STAGE_TIMEOUT;
    }
    return 0;
}

int ferry_reject(ferry_transfer_t *t, const char *reason, const char *text)
{
    if (t->is_sender || t->st != T_WAIT_USER)
        return -1;
    send_message(t->ctx, t->peer,
                 ferry_reason_build(t->ctx->x, "reject", t->sid,
                                    reason ? reason : "declined", text),
                 NULL);
    transfer_finish(t, FERRY_DONE_REJECTED, reason ? reason : "declined");
    return 0;
}

int ferry_cancel(ferry_transfer_t *t)
{
    uint8_t tmp[8];
    struct buf *b;

    if (t->st == T_FINISHED)
        return -1;
    if (t->sock >= 0) {
        b = buf_new(sizeof(tmp));
        frame_put_code(b, FRAME_CANCEL, FERRY_ERR_CANCELLED);
        (void)relay_send(t, buf_ptr(b), buf_len(b));
        buf_free(b);
    }
    send_message(
        t->ctx, t->peer,
        ferry_reason_build(t->ctx->x, "cancel", t->sid, "cancelled", NULL),
        NULL);
    transfer_finish(t, FERRY_DONE_CANCELLED, "cancelled");
    return 0;
}

static void on_channel_msg(ferry_ctx_t *ctx, xmpp_stanza_t *m,
                           xmpp_stanza_t *el)
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
    if (!(from_peer(t, from) && !ch.requester[0]) &&
        !(from && strcmp(from, ctx->component) == 0 && ch.requester[0] &&
          from_peer(t, ch.requester)))
        return;
    t->ch = ch;
    channel_ready(t);
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *m, void *ud)
{
    ferry_ctx_t *ctx = ud;
    const char *type = xmpp_stanza_get_type(m), *name, *sid, *reason;
    xmpp_stanza_t *el;
    ferry_transfer_t *t;

    (void)conn;
    if (type != NULL && strcmp(type, "error") == 0)
        return 1;
    /* Delivered late from offline storage (XEP-0203 stamp): the session it
     * belongs to is gone. */
    if (xmpp_stanza_get_child_by_name_and_ns(m, "delay", "urn:xmpp:delay"))
        return 1;
    for (el = xmpp_stanza_get_children(m); el; el = xmpp_stanza_get_next(el)) {
        if (!xmpp_stanza_is_tag(el) || xmpp_stanza_get_ns(el) == NULL ||
            strcmp(xmpp_stanza_get_ns(el), FERRY_NS) != 0)
            continue;
        name = xmpp_stanza_get_name(el);
        if (strcmp(name, "offer") == 0)
            on_offer(ctx, m, el);
        else if (strcmp(name, "accept") == 0)
            on_accept(ctx, m, el);
        else if (strcmp(name, "channel") == 0)
            on_channel_msg(ctx, m, el);
        else if (strcmp(name, "reject") == 0 || strcmp(name, "cancel") == 0) {
            sid = xmpp_stanza_get_attribute(el, "sid");
            reason = xmpp_stanza_get_attribute(el, "reason");
            if (!ferry_valid_sid(sid))
                continue;
            /* A reject only ends an offer we made; a cancel ends the
             * session whichever side we are. */
            t = find(ctx, sid, 1);
            if (t == NULL && name[0] == 'c')
                t = find(ctx, sid, 0);
            if (t == NULL || !from_peer(t, xmpp_stanza_get_from(m)))
                continue;
            transfer_finish(
                t, name[0] == 'r' ? FERRY_DONE_REJECTED : FERRY_DONE_CANCELLED,
                reason && ferry_errcode(reason) >= 0
                    ? ferry_errname(ferry_errcode(reason))
                    : (name[0] == 'r' ? "declined" : "cancelled"));
        }
        break;
    }
    return 1;
}

/* XEP-0030: tell askers that this client speaks Ferry. */
static int on_disco_info(xmpp_conn_t *conn, xmpp_stanza_t *iq, void *ud)
{
    ferry_ctx_t *ctx = ud;
    const char *type = xmpp_stanza_get_type(iq);
    xmpp_stanza_t *res, *q, *f;

    (void)conn;
    if (type == NULL || strcmp(type, "get") != 0)
        return 1;
    res = ferry_reply(ctx->x, iq, "result");
    xmpp_stanza_del_attribute(res, "from");
    q = xmpp_stanza_new(ctx->x);
    xmpp_stanza_set_name(q, "query");
    xmpp_stanza_set_ns(q, FERRY_NS_DISCO_INFO);
    f = xmpp_stanza_new(ctx->x);
    xmpp_stanza_set_name(f, "identity");
    xmpp_stanza_set_attribute(f, "category", "client");
    xmpp_stanza_set_attribute(f, "type", "pc");
    xmpp_stanza_add_child_ex(q, f, 0);
    f = xmpp_stanza_new(ctx->x);
    xmpp_stanza_set_name(f, "feature");
    xmpp_stanza_set_attribute(f, "var", FERRY_NS_DISCO_INFO);
    xmpp_stanza_add_child_ex(q, f, 0);
    f = xmpp_stanza_new(ctx->x);
    xmpp_stanza_set_name(f, "feature");
    xmpp_stanza_set_attribute(f, "var", FERRY_NS);
    xmpp_stanza_add_child_ex(q, f, 0);
    xmpp_stanza_add_child_ex(res, q, 0);
    send_stanza(ctx, res);
    return 1;
}

/* ---- context and loop --------------------------------------------------- */

/* libstrophe has no fd getter; its socket-option callback sees every new
 * socket, so remember it per connection (fd + 1, 0 meaning unknown). */
static GHashTable *fd_of_conn;
static int on_disco_result(xmpp_conn_t *conn, xmpp_stanza_t *iq, void *ud);

static int track_fd(xmpp_conn_t *conn, void *sock)
{
    int one = 1;

    if (fd_of_conn != NULL)
        g_hash_table_insert(fd_of_conn, conn,
                            GINT_TO_POINTER(*(int *)sock + 1));
    /* Stanzas are written whole: Nagle would only hold a second small one
     * back for the peer's delayed ACK (40 ms per exchange). */
    (void)setsockopt(*(int *)sock, IPPROTO_TCP, TCP_NODELAY, &one,
                     sizeof(one));
    return xmpp_sockopt_cb_keepalive(conn, sock);
}

ferry_ctx_t *ferry_ctx_new(xmpp_ctx_t *xctx, xmpp_conn_t *conn,
                           const ferry_callbacks_t *cb, void *userdata)
{
    ferry_ctx_t *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->x = xctx;
    ctx->conn = conn;
    if (cb != NULL)
        ctx->cb = *cb;
    ctx->ud = userdata;
    ctx->xmpp_fd = -1;
    if (fd_of_conn == NULL)
        fd_of_conn = g_hash_table_new(g_direct_hash, g_direct_equal);
    xmpp_conn_set_sockopt_callback(conn, track_fd);
    xmpp_handler_add(conn, on_message, NULL, "message", NULL, ctx);
    xmpp_handler_add(conn, on_disco_info, FERRY_NS_DISCO_INFO, "iq", NULL, ctx);
    xmpp_handler_add(conn, on_disco_result, NULL, "iq", "result", ctx);
    return ctx;
}

void ferry_set_component(ferry_ctx_t *ctx, const char *jid)
{
    g_free(ctx->component);
    ctx->component = g_strdup(jid);
    ctx->component_found = 1;
}

const char *ferry_component(const ferry_ctx_t *ctx)
{
    return ctx->component;
}

/* ---- component discovery (XEP-0030) -------------------------------------- */
/* disco#items of the user's server, then disco#info of each item: the
 * first that has the Ferry feature becomes the component. Until then (and
 * when none has it) "ferry." + domain is used. */
#define DISCO_ITEMS_ID "ferry-disco-items"
#define DISCO_INFO_ID "ferry-disco-info"
#define DISCO_MAX_ITEMS 32

static void disco_query(ferry_ctx_t *ctx, const char *to, const char *ns,
                        const char *id)
{
    xmpp_stanza_t *iq = xmpp_iq_new(ctx->x, "get", id), *q;

    xmpp_stanza_set_to(iq, to);
    q = xmpp_stanza_new(ctx->x);
    xmpp_stanza_set_name(q, "query");
    xmpp_stanza_set_ns(q, ns);
    xmpp_stanza_add_child_ex(iq, q, 0);
    send_stanza(ctx, iq);
}

static int on_disco_result(xmpp_conn_t *conn, xmpp_stanza_t *iq, void *ud)
{
    ferry_ctx_t *ctx = ud;
    const char *id = xmpp_stanza_get_id(iq), *from = xmpp_stanza_get_from(iq);
    xmpp_stanza_t *q, *c;

    (void)conn;
    if (id == NULL || from == NULL || ctx->component_found)
        return 1;
    if (strcmp(id, DISCO_ITEMS_ID) == 0) {
        q = xmpp_stanza_get_child_by_name_and_ns(iq, "query",
                                                 FERRY_NS_DISCO_ITEMS);
        for (c = q ? xmpp_stanza_get_children(q) : NULL; c;
             c = xmpp_stanza_get_next(c)) {
            const char *jid = xmpp_stanza_get_attribute(c, "jid");
            if (xmpp_stanza_get_name(c) == NULL ||
                strcmp(xmpp_stanza_get_name(c), "item") != 0 || jid == NULL ||
                !ferry_valid_jid(jid) || ctx->disco_queries >= DISCO_MAX_ITEMS)
                continue;
            ctx->disco_queries++;
            disco_query(ctx, jid, FERRY_NS_DISCO_INFO, DISCO_INFO_ID);
        }
    } else if (strcmp(id, DISCO_INFO_ID) == 0 && ferry_valid_jid(from)) {
        q = xmpp_stanza_get_child_by_name_and_ns(iq, "query",
                                                 FERRY_NS_DISCO_INFO);
        for (c = q ? xmpp_stanza_get_children(q) : NULL; c;
             c = xmpp_stanza_get_next(c)) {
            const char *var = xmpp_stanza_get_attribute(c, "var");
            if (var != NULL && strcmp(var, FERRY_NS) == 0) {
                g_free(ctx->component);
                ctx->component = g_strdup(from);
                ctx->component_found = 1;
                break;
            }
        }
    }
    return 1;
}

static void reap(ferry_ctx_t *ctx)
{
    GList *l = ctx->transfers, *next;

    while (l) {
        next = l->next;
        if (((ferry_transfer_t *)l->data)->st == T_FINISHED) {
            transfer_free(l->data);
            ctx->transfers = g_list_delete_link(ctx->transfers, l);
        }
        l = next;
    }
}

void ferry_ctx_free(ferry_ctx_t *ctx)
{
    GList *l;

    if (ctx == NULL)
        return;
    for (l = ctx->transfers; l; l = l->next)
        if (((ferry_transfer_t *)l->data)->st != T_FINISHED)
            ferry_cancel(l->data);
    reap(ctx);
    xmpp_handler_delete(ctx->conn, on_message);
    xmpp_handler_delete(ctx->conn, on_disco_info);
    xmpp_handler_delete(ctx->conn, on_disco_result);
    if (fd_of_conn)
        g_hash_table_remove(fd_of_conn, ctx->conn);
    g_free(ctx->component);
    g_free(ctx->relay_ca);
    SSL_CTX_free(ctx->tls_ctx);
    free(ctx);
}

void ferry_set_relay_ca(ferry_ctx_t *ctx, const char *pem_file)
{
    g_free(ctx->relay_ca);
    ctx->relay_ca = pem_file ? g_strdup(pem_file) : NULL;
    SSL_CTX_free(ctx->tls_ctx); /* remade with it on the next channel */
    ctx->tls_ctx = NULL;
}

void ferry_run_once(ferry_ctx_t *ctx, int timeout_ms)
{
    struct pollfd pfd[65];
    ferry_transfer_t *owner[65];
    int n = 0, i, xfd, xmpp_in;
    time_t now = time(NULL);
    GList *l;

    if (ctx->component == NULL && xmpp_conn_get_bound_jid(ctx->conn)) {
        char *dom = xmpp_jid_domain(ctx->x, xmpp_conn_get_bound_jid(ctx->conn));
        ctx->component = g_strdup_printf("ferry.%s", dom);
        disco_query(ctx, dom, FERRY_NS_DISCO_ITEMS, DISCO_ITEMS_ID);
        xmpp_free(ctx->x, dom);
    }
    xfd = GPOINTER_TO_INT(g_hash_table_lookup(fd_of_conn, ctx->conn)) - 1;
    if (xfd >= 0) {
        pfd[n].fd = xfd;
        pfd[n].events = POLLIN;
        if (xmpp_conn_send_queue_len(ctx->conn) > 0)
            pfd[n].events |= POLLOUT;
        owner[n++] = NULL;
    }
    /* Until the stream is up, libstrophe's own socket state (connect in
     * progress, negotiation writes) is not visible here: poll briefly. */
    if (xmpp_conn_get_bound_jid(ctx->conn) == NULL && timeout_ms > 1)
        timeout_ms = 1;
    for (l = ctx->transfers; l && n < 65; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st == T_FINISHED)
            continue;
        if (t->st < T_RELAY_HS && now > t->deadline) {
            transfer_finish(t, FERRY_DONE_TIMEOUT, "timeout");
            continue;
        }
        if (t->sock < 0)
            continue;
        pfd[n].fd = t->sock;
        pfd[n].events = POLLIN | (relay_want_write(t) ? POLLOUT : 0);
        owner[n++] = t;
        /* Bytes TLS already decrypted never wake poll(): don't sleep. */
        if (relay_pending(t) > 0)
            timeout_ms = 0;
    }
    /* Without the XMPP socket, poll briefly so XMPP is still served. */
    if (xfd < 0 && timeout_ms > 10)
        timeout_ms = 10;
    for (i = 0; i < n; i++)
        pfd[i].revents = 0; /* poll() leaves them unset when it fails */
    (void)poll(pfd, (nfds_t)n, timeout_ms);
    xmpp_in = xfd >= 0 && (pfd[0].revents & POLLIN);
    if (xmpp_in) {
        /* Servers write stanzas with Nagle on (Prosody does by default):
         * their second stanza in a row waits for our ACK, which the kernel
         * delays by up to 40 ms unless asked to ACK at once. The flag does
         * not stick, so it is re-armed on every read turn. */
        int one = 1;
        (void)setsockopt(xfd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
    }
    xmpp_run_once(ctx->x, 0);
    /* Handlers that just ran may have queued stanzas, which libstrophe
     * writes only at the start of a turn: take that turn now rather than
     * after the next poll timeout. Only stanzas read run handlers, so a
     * turn of pure relay I/O costs no second select(). */
    if (xmpp_in)
        xmpp_run_once(ctx->x, 0);
    for (i = 0; i < n; i++)
        if (owner[i] != NULL && owner[i]->st != T_FINISHED &&
            owner[i]->sock == pfd[i].fd)
            relay_io(owner[i], (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) ||
                                   relay_pending(owner[i]) > 0);
    reap(ctx);
}
