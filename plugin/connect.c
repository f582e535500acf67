/* libferry: the link to the relay, without ever blocking the loop that
 * drives it. A host name is resolved on a short-lived thread (getaddrinfo
 * has no asynchronous form worth having), which wakes the loop through a
 * pipe; the TCP connect and the TLS handshake are non-blocking and advance
 * on readiness. The caller bounds the whole with its connect deadline. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/ssl.h>

#include "err.h"
#include "internal.h"
#include "tls.h"

/* OpenSSL writes with write(2), and a peer that has gone raises SIGPIPE,
 * which kills a host that does not ignore it. Around TLS calls SIGPIPE is
 * blocked, and one that the call raised is taken back before unblocking.
 * Plain sockets use send(MSG_NOSIGNAL). */
struct nosig {
    sigset_t old;
    int pending;
};

static void nosig_begin(struct nosig *s)
{
    sigset_t set, pend;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &s->old);
    s->pending = sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE);
}

static void nosig_end(struct nosig *s)
{
    struct timespec zero = {0, 0};
    sigset_t set, pend;
    int e = errno;

    if (!s->pending && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE)) {
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        (void)sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &s->old, NULL);
    errno = e;
}

/* The relay's certificate must verify against the system's CAs (plus the
 * application's relay CA file) for the host named in the channel info.
 * Loading the CA store takes tens of milliseconds, so it is done once per
 * context and CA file, on the resolving thread, never on the host's. */
struct tls_cache {
    gint refs;
    GMutex lock;
    SSL_CTX *c;
    char *ca;
    /* "host port" -> the last session ticket that relay gave (TLS session
     * resumption: the next connection to it skips the certificate chain
     * and its verification); each is used once, then replaced by the
     * tickets of the connection that used it. */
    GHashTable *sessions;
};

#define TLS_SESSIONS_MAX 32 /* relays remembered per context */

struct tls_cache *tls_cache_new(const char *ca_file)
{
    struct tls_cache *tc = g_new0(struct tls_cache, 1);

    tc->refs = 1;
    g_mutex_init(&tc->lock);
    tc->ca = g_strdup(ca_file);
    tc->sessions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)SSL_SESSION_free);
    return tc;
}

struct tls_cache *tls_cache_ref(struct tls_cache *tc)
{
    g_atomic_int_inc(&tc->refs);
    return tc;
}

void tls_cache_unref(struct tls_cache *tc)
{
    if (tc == NULL || !g_atomic_int_dec_and_test(&tc->refs))
        return;
    SSL_CTX_free(tc->c);
    g_hash_table_destroy(tc->sessions);
    g_mutex_clear(&tc->lock);
    g_free(tc->ca);
    g_free(tc);
}

static char *session_key(const ferry_transfer_t *t)
{
    return g_strdup_printf("%s %u", t->ch.host, (unsigned)t->ch.port);
}

/* OpenSSL hands over each session (a TLS 1.3 ticket arrives after the
 * handshake, in a read): keep the newest per relay. Returns 1: the
 * session is ours now. */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    ferry_transfer_t *t = SSL_get_app_data(ssl);
    struct tls_cache *tc = t != NULL ? t->tls_cache : NULL;

    if (tc == NULL || !SSL_SESSION_is_resumable(sess))
        return 0;
    g_mutex_lock(&tc->lock);
    if (g_hash_table_size(tc->sessions) >= TLS_SESSIONS_MAX)
        g_hash_table_remove_all(tc->sessions);
    g_hash_table_replace(tc->sessions, session_key(t), sess);
    g_mutex_unlock(&tc->lock);
    return 1;
}

/* The session to resume with this transfer's relay, taken out of the
 * cache (a ticket is used once), or NULL. */
static SSL_SESSION *tls_cache_take(struct tls_cache *tc,
                                   const ferry_transfer_t *t)
{
    char *key = session_key(t);
    gpointer k = NULL, v = NULL;

    g_mutex_lock(&tc->lock);
    if (g_hash_table_steal_extended(tc->sessions, key, &k, &v))
        g_free(k);
    g_mutex_unlock(&tc->lock);
    g_free(key);
    return v;
}

/* A reference to the context (made on first use), or NULL. */
static SSL_CTX *tls_cache_get(struct tls_cache *tc)
{
    SSL_CTX *c;

    g_mutex_lock(&tc->lock);
    if (tc->c == NULL && (c = SSL_CTX_new(TLS_client_method())) != NULL) {
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
        SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT |
                                              SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, on_new_session);
        if (SSL_CTX_set_default_verify_paths(c) != 1 ||
            (tc->ca != NULL &&
             SSL_CTX_load_verify_locations(c, tc->ca, NULL) != 1))
            SSL_CTX_free(c);
        else
            tc->c = c;
    }
    c = tc->c;
    if (c != NULL)
        SSL_CTX_up_ref(c);
    g_mutex_unlock(&tc->lock);
    return c;
}

/* Shared by the loop and the resolving thread; the last to let go frees
 * it, so a transfer may end while its lookup still runs. */
struct resolver {
    gint refs;
    int pipe[2];
    char host[FERRY_HOST_MAX + 1];
    char port[8];
    struct addrinfo *res;
    int err;
    struct tls_cache *tc; /* a TLS channel's: its context is made here */
    SSL_CTX *ssl_ctx;
    GThread *th; /* the loop's handle: joined once the byte came */
    /* A transfer that ends while its lookup runs lets the thread go on
     * alone, and the process may then exit: the thread must not be inside
     * OpenSSL by then (its exit-time cleanup frees what OpenSSL calls
     * use). So OpenSSL work on the thread happens under `lock`, only
     * while the loop still wants it, and the loop waits for it to end. */
    GMutex lock;
    GCond done;
    int in_openssl, abandoned;
};

static void resolver_unref(struct resolver *r)
{
    if (r == NULL || !g_atomic_int_dec_and_test(&r->refs))
        return;
    if (r->res != NULL)
        freeaddrinfo(r->res);
    SSL_CTX_free(r->ssl_ctx); /* NULL unless the loop's thread is here */
    tls_cache_unref(r->tc);
    close(r->pipe[0]);
    close(r->pipe[1]);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->done);
    free(r);
}

/* The loop gives up a lookup still running: waits for the thread's OpenSSL
 * work to end, then takes what OpenSSL objects it holds, so that the thread
 * has none left to free. */
static void resolver_abandon(struct resolver *r)
{
    SSL_CTX *c;
    struct tls_cache *tc;

    g_mutex_lock(&r->lock);
    r->abandoned = 1;
    while (r->in_openssl)
        g_cond_wait(&r->done, &r->lock);
    c = r->ssl_ctx;
    tc = r->tc;
    r->ssl_ctx = NULL;
    r->tc = NULL;
    g_mutex_unlock(&r->lock);
    SSL_CTX_free(c);
    tls_cache_unref(tc);
    g_thread_unref(r->th);
    r->th = NULL;
}

static gpointer resolve_thread(gpointer p)
{
    struct resolver *r = p;
    struct addrinfo hints;
    char one = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    r->err = getaddrinfo(r->host, r->port, &hints, &r->res);
    g_mutex_lock(&r->lock);
    r->in_openssl = r->tc != NULL && !r->abandoned;
    g_mutex_unlock(&r->lock);
    if (r->in_openssl) {
        SSL_CTX *c = tls_cache_get(r->tc);
        g_mutex_lock(&r->lock);
        r->ssl_ctx = c;
        r->in_openssl = 0;
        g_cond_signal(&r->done);
        g_mutex_unlock(&r->lock);
    }
    /* The pipe is the memory barrier: the loop reads res after the byte. */
    if (write(r->pipe[1], &one, 1) < 0) {
        /* nothing to do: the loop's deadline ends the wait */
    }
    resolver_unref(r);
    return NULL;
}

static int resolver_start(ferry_transfer_t *t)
{
    struct resolver *r = calloc(1, sizeof(*r));
    GThread *th;

    if (r == NULL)
        return FERRY_ERR_NOMEM;
    if (pipe2(r->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        free(r);
        return FERRY_ERR_IO;
    }
    g_mutex_init(&r->lock);
    g_cond_init(&r->done);
    g_strlcpy(r->host, t->ch.host, sizeof(r->host));
    snprintf(r->port, sizeof(r->port), "%u", t->ch.port);
    if (t->ch.tls)
        r->tc = tls_cache_ref(t->tls_cache);
    r->refs = 2;
    th = g_thread_try_new("ferry-dns", resolve_thread, r, NULL);
    if (th == NULL) {
        r->refs = 1;
        resolver_unref(r);
        return FERRY_ERR_IO;
    }
    r->th = th;
    t->res = r;
    return FERRY_OK;
}

/* A literal address needs no lookup: resolve it here, it cannot block. */
static int numeric(ferry_transfer_t *t)
{
    struct addrinfo hints, *res = NULL;
    char port[8];

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", t->ch.port);
    if (getaddrinfo(t->ch.host, port, &hints, &res) != 0)
        return 0;
    t->ai = res;
    t->ai_next = res;
    return 1;
}

static void drop_socket(ferry_transfer_t *t)
{
    if (t->ssl != NULL) {
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    if (t->sock >= 0)
        close(t->sock);
    t->sock = -1;
}

static int try_next(ferry_transfer_t *t);

int conn_begin(ferry_transfer_t *t)
{
    /* A TLS channel always goes through the thread, for its context. */
    if (!t->ch.tls && numeric(t)) {
        t->ds = D_CONNECTING;
        return try_next(t) == 0 ? FERRY_OK : FERRY_ERR_IO;
    }
    t->ds = D_RESOLVING;
    return resolver_start(t);
}

/* Starts a connect to the next address; 0 when one is in progress. */
static int try_next(ferry_transfer_t *t)
{
    struct addrinfo *ai;
    int one = 1;

    drop_socket(t);
    while ((ai = t->ai_next) != NULL) {
        t->ai_next = ai->ai_next;
        t->sock = socket(ai->ai_family,
                         SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (t->sock < 0)
            continue;
        (void)setsockopt(t->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(t->sock, ai->ai_addr, ai->ai_addrlen) == 0 ||
            errno == EINPROGRESS)
            return 0;
        drop_socket(t);
    }
    return -1;
}

static int tls_setup(ferry_transfer_t *t)
{
    SSL_SESSION *resume;

    if ((t->ssl = SSL_new(t->tls)) == NULL ||
        SSL_set_fd(t->ssl, t->sock) != 1 ||
        SSL_set_tlsext_host_name(t->ssl, t->ch.host) != 1 ||
        SSL_set1_host(t->ssl, t->ch.host) != 1 ||
        SSL_set_app_data(t->ssl, t) != 1)
        return FERRY_ERR_CRYPTO;
    /* Sessions are kept per relay name and port, whose certificate they
     * verified; a stale one only costs a full handshake. */
    if (t->tls_cache != NULL && (resume = tls_cache_take(t->tls_cache, t))) {
        (void)SSL_set_session(t->ssl, resume);
        SSL_SESSION_free(resume);
    }
    t->ds = D_TLS;
    return FERRY_OK;
}

int conn_step(ferry_transfer_t *t, const char **why)
{
    char byte;
    int err = 0, rc;
    socklen_t el = sizeof(err);

    if (t->ds == D_RESOLVING) {
        if (read(t->res->pipe[0], &byte, 1) != 1)
            return FERRY_ERR_NEED_MORE;
        /* The thread has written its byte and only lets go of its share
         * now: wait for that, so the last of the OpenSSL objects is freed
         * here and never on a thread that outlives the transfer (one that
         * ran into the process's exit crashed in OpenSSL's cleanup). */
        g_thread_join(t->res->th);
        t->res->th = NULL;
        if (t->res->err != 0 || t->res->res == NULL) {
            *why = "relay-unresolved";
            return FERRY_ERR_IO;
        }
        t->ai = t->res->res; /* ours now: the thread is done with it */
        t->res->res = NULL;
        t->tls = t->res->ssl_ctx;
        t->res->ssl_ctx = NULL;
        if (t->ch.tls && t->tls == NULL) {
            *why = "relay-tls-failed";
            return FERRY_ERR_CRYPTO;
        }
        t->ai_next = t->ai;
        resolver_unref(t->res);
        t->res = NULL;
        t->ds = D_CONNECTING;
        t->sock = -1;
        if (try_next(t) < 0) {
            *why = "relay-unreachable";
            return FERRY_ERR_IO;
        }
        return FERRY_ERR_NEED_MORE;
    }
    if (t->ds == D_CONNECTING) {
        if (t->sock < 0) {
            if (try_next(t) < 0) {
                *why = "relay-unreachable";
                return FERRY_ERR_IO;
            }
            return FERRY_ERR_NEED_MORE;
        }
        if (getsockopt(t->sock, SOL_SOCKET, SO_ERROR, &err, &el) < 0 ||
            err != 0) {
            if (try_next(t) < 0) {
                *why = "relay-unreachable";
                return FERRY_ERR_IO;
            }
            return FERRY_ERR_NEED_MORE;
        }
        /* Writable with no error: connected, unless still in progress. */
        {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            if (getpeername(t->sock, (struct sockaddr *)&ss, &sl) < 0)
                return FERRY_ERR_NEED_MORE;
        }
        if (t->ch.tls) {
            if (tls_setup(t) != FERRY_OK) {
                *why = "relay-tls-failed";
                return FERRY_ERR_CRYPTO;
            }
        } else
            return FERRY_OK;
    }
    if (t->ds == D_TLS) {
        struct nosig ns;
        nosig_begin(&ns);
        rc = SSL_connect(t->ssl);
        nosig_end(&ns);
        if (rc == 1)
            return FERRY_OK;
        rc = SSL_get_error(t->ssl, rc);
        if (rc == SSL_ERROR_WANT_READ || rc == SSL_ERROR_WANT_WRITE)
            return FERRY_ERR_NEED_MORE;
        *why = "relay-tls-failed";
        return FERRY_ERR_CRYPTO;
    }
    return FERRY_OK;
}

int conn_fd(const ferry_transfer_t *t, short *events)
{
    short ev = POLLIN;

    if (t->ds == D_RESOLVING) {
        if (events)
            *events = POLLIN;
        return t->res ? t->res->pipe[0] : -1;
    }
    if (t->ds == D_CONNECTING)
        ev = POLLOUT;
    else if (t->ds == D_TLS)
        ev = SSL_want_write(t->ssl) ? POLLOUT : POLLIN;
    if (events)
        *events = ev;
    return t->sock;
}

void conn_close(ferry_transfer_t *t)
{
    if (t->ssl != NULL && t->ds > D_TLS) {
        struct nosig ns;
        nosig_begin(&ns);
        (void)SSL_shutdown(t->ssl);
        nosig_end(&ns);
    }
    drop_socket(t);
    /* Still resolving: the thread finishes on its own, and frees what is
     * left if it is the last (no OpenSSL object: resolver_abandon). */
    if (t->res != NULL && t->res->th != NULL)
        resolver_abandon(t->res);
    resolver_unref(t->res);
    t->res = NULL;
    if (t->ai != NULL)
        freeaddrinfo(t->ai);
    t->ai = t->ai_next = NULL;
}

ssize_t conn_recv(ferry_transfer_t *t, void *p, size_t n)
{
    struct nosig ns;
    ssize_t r;
    int rc;

    if (t->ssl == NULL)
        return read(t->sock, p, n);
    nosig_begin(&ns); /* TLS may write while reading (key update) */
    rc = SSL_read(t->ssl, p, (int)n);
    r = rc > 0 ? rc : tls_io_result(t->ssl, rc, NULL);
    nosig_end(&ns);
    return r;
}

ssize_t conn_send(ferry_transfer_t *t, const void *p, size_t n)
{
    struct nosig ns;
    ssize_t r;
    int rc;

    if (t->sock < 0) {
        errno = EPIPE;
        return -1;
    }
    if (t->ssl == NULL)
        return send(t->sock, p, n, MSG_NOSIGNAL);
    nosig_begin(&ns);
    rc = SSL_write(t->ssl, p, (int)n);
    r = rc > 0 ? rc : tls_io_result(t->ssl, rc, NULL);
    nosig_end(&ns);
    return r;
}

size_t conn_pending(const ferry_transfer_t *t)
{
    return t->ssl != NULL && t->ds > D_TLS ? (size_t)SSL_pending(t->ssl) : 0;
}
