/* libferry: the context. Stanzas in and out, settings, and the host-driven
 * loop (ferry_fds / ferry_process) in both modes. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "err.h"
#include "internal.h"

#define CONNECT_S 10
#define IDLE_S 60
#define STAGE_S 120

static const char *rc_names[] = {"ok",    "invalid", "state",
                                 "nomem", "io",      "exists"};

const char *ferry_rc_name(int rc)
{
    return rc <= 0 && -rc < (int)(sizeof(rc_names) / sizeof(rc_names[0]))
               ? rc_names[-rc]
               : "unknown";
}

time_t ferry_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

const char *ferry_feature(void)
{
    return FERRY_NS;
}

void ctx_error(ferry_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
    va_end(ap);
}

const char *ferry_error(const ferry_ctx_t *ctx)
{
    return ctx->err;
}

void ctx_send(ferry_ctx_t *ctx, xmpp_stanza_t *s)
{
    char *text = NULL;
    size_t len;

    if (ctx->strophe != NULL)
        strophe_send(ctx, s);
    else if (ctx->cb.send_stanza != NULL)
        ctx->cb.send_stanza(s, ctx->ud);
    else if (ctx->cb.send_xml != NULL &&
             xmpp_stanza_to_text(s, &text, &len) == XMPP_EOK) {
        ctx->cb.send_xml(text, ctx->ud);
        xmpp_free(ctx->x, text);
    }
    xmpp_stanza_release(s);
}

static gpointer warm_thread(gpointer unused)
{
    (void)unused;
    ferry_crypto_warm();
    return NULL;
}

/* The thread of ferry_crypto_warm(), once per process. It must not be
 * inside OpenSSL when the process exits: OpenSSL's exit-time cleanup frees
 * what it uses (a program that exited right after ferry_ctx_new(), as the
 * CLI does on a bad --cipher, crashed in one run of seven). So it is
 * joined by whichever context is freed first, or at exit before OpenSSL's
 * own cleanup (atexit handlers run last registered first). */
G_LOCK_DEFINE_STATIC(warm);
static GThread *warm_th;

static void warm_join(void)
{
    GThread *th;

    G_LOCK(warm);
    th = warm_th;
    warm_th = NULL;
    G_UNLOCK(warm);
    if (th != NULL)
        g_thread_join(th);
}

/* A child of fork() has no such thread: joining its handle would wait for
 * ever. (The lock is left alone: the child has one thread.) */
static void warm_forget(void)
{
    warm_th = NULL;
}

ferry_ctx_t *ferry_ctx_new(xmpp_ctx_t *xctx, const ferry_callbacks_t *cb,
                           void *userdata)
{
    static gint warmed;
    ferry_ctx_t *ctx = calloc(1, sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    if (xctx == NULL) {
        if ((xctx = xmpp_ctx_new(NULL, NULL)) == NULL) {
            free(ctx);
            return NULL;
        }
        ctx->own_x = 1;
    }
    ctx->x = xctx;
    if (cb != NULL)
        ctx->cb = *cb;
    ctx->ud = userdata;
    ctx->connect_s = CONNECT_S;
    ctx->idle_s = IDLE_S;
    ctx->stage_s = STAGE_S;
    ctx->threads = 1;
    (void)ferry_set_ciphers(ctx, NULL);
    ctx->tls = tls_cache_new(NULL);
    ctx->iqs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    /* OpenSSL's first X25519 and HKDF cost ~3 ms, which would land on the
     * path from an offer to its accept (bench/first-byte): pay it now, on
     * another core, while the host logs in. Once per process. */
    if (g_atomic_int_compare_and_exchange(&warmed, 0, 1) &&
        OPENSSL_init_crypto(0, NULL) == 1 && atexit(warm_join) == 0 &&
        pthread_atfork(NULL, NULL, warm_forget) == 0) {
        G_LOCK(warm);
        warm_th = g_thread_try_new("ferry-warm", warm_thread, NULL, NULL);
        G_UNLOCK(warm);
    }
    return ctx;
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

static void ctx_destroy(ferry_ctx_t *ctx)
{
    warm_join();
    ferry_strophe_detach(ctx);
    g_hash_table_destroy(ctx->iqs);
    g_free(ctx->jid);
    g_free(ctx->domain);
    g_free(ctx->component);
    g_free(ctx->relay_ca);
    tls_cache_unref(ctx->tls);
    if (ctx->own_x)
        xmpp_ctx_free(ctx->x);
    free(ctx);
}

/* Calls into libferry that may run the application's callbacks are
 * bracketed: a callback may call libferry again, even ferry_ctx_free(),
 * and nothing is freed until the outermost call leaves. */
void ctx_enter(ferry_ctx_t *ctx)
{
    ctx->in_process++;
}

int ctx_leave(ferry_ctx_t *ctx)
{
    if (--ctx->in_process > 0)
        return 0;
    reap(ctx);
    if (!ctx->free_pending)
        return 0;
    ctx_destroy(ctx);
    return 1;
}

void ferry_ctx_free(ferry_ctx_t *ctx)
{
    GList *l;

    if (ctx == NULL || ctx->closing)
        return;
    ctx->closing = 1; /* no new transfers from here on */
    ctx_enter(ctx);
    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st != T_FINISHED && !t->cancel_sent)
            ferry_cancel(t);
    }
    /* The worker ends what it holds (CANCEL frames, closes) and hands
     * every transfer back before it stops. */
    worker_stop(ctx);
    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st == T_DATA)
            dp_cancel(t, FERRY_ERR_CANCELLED);
        else if (t->st != T_FINISHED)
            transfer_finish(t, FERRY_DONE_CANCELLED, "cancelled");
    }
    ctx->free_pending = 1;
    (void)ctx_leave(ctx);
}

int ferry_set_mode(ferry_ctx_t *ctx, ferry_mode_t mode)
{
    if (mode != FERRY_MODE_POLLED && mode != FERRY_MODE_THREAD) {
        ctx_error(ctx, "unknown mode");
        return FERRY_RC_INVALID;
    }
    if (ctx->mode == mode)
        return FERRY_RC_OK;
    if (ctx->transfers != NULL) {
        ctx_error(ctx, "the mode changes only while no transfer exists");
        return FERRY_RC_STATE;
    }
    if (mode == FERRY_MODE_THREAD && worker_start(ctx) != FERRY_OK) {
        ctx_error(ctx, "cannot start the data thread");
        return FERRY_RC_IO;
    }
    if (mode == FERRY_MODE_POLLED)
        worker_stop(ctx);
    ctx->mode = mode;
    return FERRY_RC_OK;
}

/**
 * How many threads seal (sender) or open (receiver) one transfer's chunks:
 * with n > 1 each transfer gets n - 1 threads of its own besides the one
 * that moves its data, and the chunks are sealed or opened in batches
 * across them; what goes on the wire and into the sink, and in what
 * order, is the same. Only while no transfer exists.
 * @param n 1 (the default): no extra thread; 0: the number of online
 * cores; at most FERRY_THREADS_MAX
 * @return FERRY_RC_OK; FERRY_RC_INVALID for n out of range;
 * FERRY_RC_STATE while a transfer exists
 */
int ferry_set_threads(ferry_ctx_t *ctx, int n)
{
    if (n < 0 || n > FERRY_THREADS_MAX) {
        ctx_error(ctx, "threads are 0..%d", FERRY_THREADS_MAX);
        return FERRY_RC_INVALID;
    }
    if (ctx->transfers != NULL) {
        ctx_error(ctx, "the threads change only while no transfer exists");
        return FERRY_RC_STATE;
    }
    if (n == 0)
        n = (int)MIN(g_get_num_processors(), FERRY_THREADS_MAX);
    ctx->threads = (unsigned)MAX(n, 1);
    return FERRY_RC_OK;
}

/**
 * The ciphers to offer (sender) and to allow (receiver), in order of
 * preference: a space-separated list of "aes-256-gcm" and
 * "chacha20-poly1305". NULL or "auto": both, AES-256-GCM first when this
 * CPU has AES instructions, else ChaCha20-Poly1305 first. Transfers
 * already offered keep the list they had.
 * @return FERRY_RC_OK, or FERRY_RC_INVALID for an unknown name or an
 * empty list (the list is then unchanged).
 */
int ferry_set_ciphers(ferry_ctx_t *ctx, const char *list)
{
    int c[FERRY_CIPHERS];
    const char *p;
    size_t n = 0, len;

    if (list == NULL || strcmp(list, "auto") == 0) {
        int hw = ferry_cpu_has_aes();
        ctx->ciphers[0] =
            hw ? FERRY_CIPHER_AES256GCM : FERRY_CIPHER_CHACHA20POLY1305;
        ctx->ciphers[1] =
            hw ? FERRY_CIPHER_CHACHA20POLY1305 : FERRY_CIPHER_AES256GCM;
        ctx->nciphers = 2;
        return FERRY_RC_OK;
    }
    /* Every name must be known here (the wire ignores unknown ones; a
     * user's typo should not). */
    for (p = list; *p != '\0'; p += len) {
        p += strspn(p, " ,");
        if ((len = strcspn(p, " ,")) == 0)
            break;
        if (ferry_cipher_from_name(p, len) < 0) {
            ctx_error(ctx,
                      "unknown cipher '%.*s' (aes-256-gcm, "
                      "chacha20-poly1305)",
                      (int)MIN(len, 40), p);
            return FERRY_RC_INVALID;
        }
        n++;
    }
    if (n == 0) {
        ctx_error(ctx, "no cipher named");
        return FERRY_RC_INVALID;
    }
    {
        char *copy = g_strdelimit(g_strdup(list), ",", ' ');
        n = ferry_cipher_list(copy, c);
        g_free(copy);
    }
    memcpy(ctx->ciphers, c, n * sizeof(c[0]));
    ctx->nciphers = n;
    return FERRY_RC_OK;
}

int cipher_in(int cipher, const int *list, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (list[i] == cipher)
            return 1;
    return 0;
}

int cipher_choose(const ferry_ctx_t *ctx, const int *offered, size_t n)
{
    size_t i;

    /* A receiver without AES instructions (ChaCha20-Poly1305 its first
     * choice) takes it whenever offered; otherwise the sender's order. */
    if (ctx->nciphers > 0 && ctx->ciphers[0] == FERRY_CIPHER_CHACHA20POLY1305 &&
        cipher_in(FERRY_CIPHER_CHACHA20POLY1305, offered, n))
        return FERRY_CIPHER_CHACHA20POLY1305;
    for (i = 0; i < n; i++)
        if (cipher_in(offered[i], ctx->ciphers, ctx->nciphers))
            return offered[i];
    return -1;
}

int ferry_set_jid(ferry_ctx_t *ctx, const char *full_jid)
{
    const char *at, *dom;

    if (full_jid == NULL || !ferry_valid_jid(full_jid)) {
        ctx_error(ctx, "invalid JID");
        return FERRY_RC_INVALID;
    }
    g_free(ctx->jid);
    g_free(ctx->domain);
    ctx->jid = g_strdup(full_jid);
    at = strchr(full_jid, '@');
    dom = at && (strchr(full_jid, '/') == NULL || at < strchr(full_jid, '/'))
              ? at + 1
              : full_jid;
    ctx->domain = g_strndup(dom, strcspn(dom, "/"));
    disco_start(ctx);
    return FERRY_RC_OK;
}

int ferry_set_component(ferry_ctx_t *ctx, const char *jid)
{
    if (jid == NULL || !ferry_valid_jid(jid)) {
        ctx_error(ctx, "invalid component JID");
        return FERRY_RC_INVALID;
    }
    g_free(ctx->component);
    ctx->component = g_strdup(jid);
    ctx->component_set = 1;
    if (ctx->jid != NULL)
        disco_start(ctx); /* learns its limits */
    return FERRY_RC_OK;
}

const char *ferry_component(const ferry_ctx_t *ctx)
{
    return ctx->component;
}

int ferry_set_relay_ca(ferry_ctx_t *ctx, const char *pem_file)
{
    g_free(ctx->relay_ca);
    ctx->relay_ca = pem_file ? g_strdup(pem_file) : NULL;
    /* Transfers under way keep the context they have. */
    tls_cache_unref(ctx->tls);
    ctx->tls = tls_cache_new(ctx->relay_ca);
    return FERRY_RC_OK;
}

int ferry_set_timeouts(ferry_ctx_t *ctx, int connect_s, int idle_s, int stage_s)
{
    if (connect_s < 0 || idle_s < 0 || stage_s < 0 || connect_s > 86400 ||
        idle_s > 86400 || stage_s > 86400) {
        ctx_error(ctx, "timeouts are 0..86400 seconds");
        return FERRY_RC_INVALID;
    }
    if (connect_s)
        ctx->connect_s = connect_s;
    if (idle_s)
        ctx->idle_s = idle_s;
    if (stage_s)
        ctx->stage_s = stage_s;
    return FERRY_RC_OK;
}

/* ---- stanzas in -----------------------------------------------------------
 */

int ferry_handle_stanza(ferry_ctx_t *ctx, xmpp_stanza_t *s)
{
    const char *name = xmpp_stanza_get_name(s), *type;
    xmpp_stanza_t *c;
    int mine = 0;

    if (name == NULL)
        return 0;
    type = xmpp_stanza_get_type(s);
    ctx_enter(ctx);
    if (strcmp(name, "iq") == 0) {
        if (type != NULL &&
            (strcmp(type, "result") == 0 || strcmp(type, "error") == 0))
            mine = iq_answer(ctx, s);
    } else if (strcmp(name, "message") == 0) {
        for (c = xmpp_stanza_get_children(s); c && !mine;
             c = xmpp_stanza_get_next(c))
            mine = xmpp_stanza_is_tag(c) && xmpp_stanza_get_ns(c) &&
                   strcmp(xmpp_stanza_get_ns(c), FERRY_NS) == 0;
        /* Errors bounce our own messages (servers need not return the
         * payload: match them by id); a delayed (XEP-0203) message belongs
         * to a session that is gone. */
        if (type != NULL && strcmp(type, "error") == 0)
            mine = locate_error(ctx, s) || mine;
        else if (mine && !xmpp_stanza_get_child_by_name_and_ns(
                             s, "delay", "urn:xmpp:delay"))
            session_message(ctx, s);
    } else if (strcmp(name, "presence") == 0)
        locate_presence(ctx, s);
    (void)ctx_leave(ctx);
    return mine;
}

int ferry_handle_xml(ferry_ctx_t *ctx, const char *xml)
{
    xmpp_stanza_t *s;
    int r;

    if (xml == NULL || (s = xmpp_stanza_new_from_string(ctx->x, xml)) == NULL)
        return -1;
    r = ferry_handle_stanza(ctx, s);
    xmpp_stanza_release(s);
    return r;
}

/* ---- the loop -------------------------------------------------------------
 */

static void min_timeout(int *timeout_ms, int ms)
{
    if (ms >= 0 && (*timeout_ms < 0 || ms < *timeout_ms))
        *timeout_ms = ms;
}

int ferry_fds(ferry_ctx_t *ctx, struct pollfd *fds, int max, int *timeout_ms)
{
    time_t now = ferry_now();
    struct pollfd p;
    int n = 0, to = -1;
    GList *l;

    for (l = ctx->transfers; l; l = l->next) {
        ferry_transfer_t *t = l->data;
        if (t->st < T_DATA)
            min_timeout(&to, t->deadline > now ? (int)(t->deadline - now) * 1000
                                               : 0);
        if (t->st == T_LOCATING) /* probes again each second or two */
            min_timeout(&to, 1000);
        min_timeout(&to, group_timeout_ms(t));
        if (t->st != T_DATA || ctx->mode == FERRY_MODE_THREAD)
            continue;
        if (dp_want(t, &p, &to, now)) {
            if (n < max)
                fds[n] = p;
            n++;
        }
    }
    if (ctx->mode == FERRY_MODE_THREAD && worker_event_fd(ctx) >= 0) {
        if (n < max) {
            fds[n].fd = worker_event_fd(ctx);
            fds[n].events = POLLIN;
            fds[n].revents = 0;
        }
        n++;
    }
    if (timeout_ms != NULL)
        *timeout_ms = to;
    return n;
}

int ferry_process(ferry_ctx_t *ctx, const struct pollfd *fds, int nfds)
{
    time_t now = ferry_now();
    GList *l;
    int i, n;

    ctx_enter(ctx);
    if (ctx->mode == FERRY_MODE_THREAD)
        worker_deliver(ctx);
    else
        for (l = ctx->transfers; l; l = l->next) {
            ferry_transfer_t *t = l->data;
            short rev = 0;
            if (t->st != T_DATA)
                continue;
            for (i = 0; fds != NULL && i < nfds; i++)
                if (fds[i].fd >= 0 && fds[i].fd == conn_fd(t, NULL))
                    rev |= fds[i].revents;
            dp_run(t, rev, now);
        }
    locate_timers(ctx, now);
    session_timers(ctx, now);
    n = ferry_active(ctx);
    return ctx_leave(ctx) ? 0 : n;
}
