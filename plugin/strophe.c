/* libferry: the adapter for ordinary libstrophe programs. It does what a
 * host would: feeds received stanzas to the core, sends what the core
 * gives out, answers disco#info with the Ferry feature, tells the core its
 * JID once bound, and offers a loop turn that waits on the XMPP socket and
 * libferry's fds together. */
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "internal.h"

#define MAX_FDS 256

struct strophe {
    xmpp_conn_t *conn;
    xmpp_ctx_t *x;
    char *bound; /* the JID the core was told */
};

/* libstrophe has no fd getter; its socket-option callback sees every new
 * socket, so remember it per connection (fd + 1, 0 meaning unknown). */
static GHashTable *fd_of_conn;
G_LOCK_DEFINE_STATIC(fd_of_conn);

static int track_fd(xmpp_conn_t *conn, void *sock)
{
    int one = 1;

    G_LOCK(fd_of_conn);
    if (fd_of_conn != NULL)
        g_hash_table_insert(fd_of_conn, conn,
                            GINT_TO_POINTER(*(int *)sock + 1));
    G_UNLOCK(fd_of_conn);
    /* Stanzas are written whole: Nagle would only hold a second small one
     * back for the peer's delayed ACK (40 ms per exchange). */
    (void)setsockopt(*(int *)sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return xmpp_sockopt_cb_keepalive(conn, sock);
}

static int xmpp_fd(xmpp_conn_t *conn)
{
    int fd;

    G_LOCK(fd_of_conn);
    fd = fd_of_conn ? GPOINTER_TO_INT(g_hash_table_lookup(fd_of_conn, conn)) - 1
                    : -1;
    G_UNLOCK(fd_of_conn);
    return fd;
}

void strophe_send(ferry_ctx_t *ctx, xmpp_stanza_t *s)
{
    struct strophe *a = ctx->strophe;

    xmpp_send(a->conn, s);
}

static int answer_disco(ferry_ctx_t *ctx, xmpp_stanza_t *iq)
{
    const char *type = xmpp_stanza_get_type(iq);
    xmpp_stanza_t *res, *q, *f;
    const char *vars[] = {FERRY_NS_DISCO_INFO, ferry_feature()};
    size_t i;

    if (type == NULL || strcmp(type, "get") != 0 ||
        !xmpp_stanza_get_child_by_name_and_ns(iq, "query", FERRY_NS_DISCO_INFO))
        return 0;
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
    for (i = 0; i < 2; i++) {
        f = xmpp_stanza_new(ctx->x);
        xmpp_stanza_set_name(f, "feature");
        xmpp_stanza_set_attribute(f, "var", vars[i]);
        xmpp_stanza_add_child_ex(q, f, 0);
    }
    xmpp_stanza_add_child_ex(res, q, 0);
    ctx_send(ctx, res);
    return 1;
}

static int on_stanza(xmpp_conn_t *conn, xmpp_stanza_t *s, void *ud)
{
    ferry_ctx_t *ctx = ud;

    (void)conn;
    if (!ferry_handle_stanza(ctx, s) && xmpp_stanza_get_name(s) &&
        strcmp(xmpp_stanza_get_name(s), "iq") == 0)
        (void)answer_disco(ctx, s);
    return 1;
}

int ferry_strophe_attach(ferry_ctx_t *ctx, xmpp_conn_t *conn)
{
    struct strophe *a;

    if (ctx->strophe != NULL || conn == NULL) {
        ctx_error(ctx, ctx->strophe ? "already attached" : "no connection");
        return ctx->strophe ? FERRY_RC_STATE : FERRY_RC_INVALID;
    }
    a = g_new0(struct strophe, 1);
    a->conn = conn;
    a->x = xmpp_conn_get_context(conn);
    ctx->strophe = a;
    G_LOCK(fd_of_conn);
    if (fd_of_conn == NULL)
        fd_of_conn = g_hash_table_new(g_direct_hash, g_direct_equal);
    G_UNLOCK(fd_of_conn);
    xmpp_conn_set_sockopt_callback(conn, track_fd);
    /* One handler for every stanza: libstrophe keeps one entry per
     * (handler, userdata), whatever the name filter. */
    xmpp_handler_add(conn, on_stanza, NULL, NULL, NULL, ctx);
    return FERRY_RC_OK;
}

void ferry_strophe_detach(ferry_ctx_t *ctx)
{
    struct strophe *a = ctx->strophe;

    if (a == NULL)
        return;
    xmpp_handler_delete(a->conn, on_stanza);
    G_LOCK(fd_of_conn);
    if (fd_of_conn)
        g_hash_table_remove(fd_of_conn, a->conn);
    G_UNLOCK(fd_of_conn);
    g_free(a->bound);
    g_free(a);
    ctx->strophe = NULL;
}

void ferry_strophe_run_once(ferry_ctx_t *ctx, int timeout_ms)
{
    struct strophe *a = ctx->strophe;
    struct pollfd pfd[MAX_FDS + 1];
    const char *jid;
    int n, to, xfd, xmpp_in = 0;

    if (a == NULL)
        return;
    jid = xmpp_conn_get_bound_jid(a->conn);
    if (jid != NULL && (a->bound == NULL || strcmp(a->bound, jid) != 0)) {
        g_free(a->bound);
        a->bound = g_strdup(jid);
        ferry_set_jid(ctx, jid);
    }
    n = ferry_fds(ctx, pfd + 1, MAX_FDS, &to);
    if (n > MAX_FDS)
        n = MAX_FDS; /* the rest wait for a later turn */
    if (to >= 0 && to < timeout_ms)
        timeout_ms = to;
    xfd = xmpp_fd(a->conn);
    pfd[0].fd = xfd;
    pfd[0].events = POLLIN;
    if (xfd >= 0 && xmpp_conn_send_queue_len(a->conn) > 0)
        pfd[0].events |= POLLOUT;
    pfd[0].revents = 0;
    /* Until the stream is up, libstrophe's own socket state (connect in
     * progress, negotiation writes) is not visible here: poll briefly. */
    if ((xfd < 0 || jid == NULL) && timeout_ms > 1)
        timeout_ms = 1;
    (void)poll(pfd, (nfds_t)n + 1, timeout_ms);
    if (xfd >= 0 && (pfd[0].revents & POLLIN)) {
        /* Servers write stanzas with Nagle on (Prosody does by default):
         * their second stanza in a row waits for our ACK, which the kernel
         * delays by up to 40 ms unless asked to ACK at once. The flag does
         * not stick, so it is re-armed on every read turn. */
        int one = 1;
        (void)setsockopt(xfd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
        xmpp_in = 1;
    }
    xmpp_run_once(a->x, 0);
    /* Handlers that just ran may have queued stanzas, which libstrophe
     * writes only at the start of a turn: take that turn now rather than
     * after the next poll timeout, and before the data half runs (the
     * channel information the peer waits for goes out before our own
     * relay connect and set-up). */
    if (xmpp_conn_send_queue_len(a->conn) > 0)
        xmpp_run_once(a->x, 0);
    ferry_process(ctx, pfd + 1, n);
    if (xmpp_in || xmpp_conn_send_queue_len(a->conn) > 0)
        xmpp_run_once(a->x, 0);
    /* A write of ours turns delayed ACKs back on: the server's answer to
     * it (a <here/> to our probe) would then wait up to 40 ms behind its
     * own Nagle for our ACK (bench/first-byte measured it in most runs).
     * Re-arm after the turn's writes too. */
    if (xfd >= 0 && xfd == xmpp_fd(a->conn)) {
        int one = 1;
        (void)setsockopt(xfd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
    }
}
