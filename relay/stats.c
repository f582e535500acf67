#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "err.h"
#include "http.h"
#include "log.h"
#include "relay.h"

/* Prometheus text format on a separate (loopback) listener. Every byte
 * from it is untrusted like the relay port's: a connection may hold at
 * most stats_max_request bytes of request head and live stats_timeout_ms
 * from accept to its last byte out; at most stats_max_connections are
 * open, and a new one pushes out the one that has waited longest, so a
 * flood of idle connections never locks out a scrape. The request is
 * read whole (however it is split), up to its blank line, before the
 * answer; any path gets the metrics. */

enum sc_state {
    SC_READ,   /* request head not complete */
    SC_WRITE,  /* answer being written */
    SC_LINGER, /* answer out and write side shut: reading until EOF */
};

struct stats_conn {
    struct relay *r;
    size_t slot; /* index in r->stats_conns */
    int fd;
    enum sc_state state;
    long long since;    /* ms: accept */
    long long deadline; /* ms: closed then, whatever its state */
    char *req;          /* stats_max_request bytes */
    size_t req_len, scan;
    char *resp;
    size_t resp_len, resp_off;
};

static const char *const drop_names[STATS_DROP_MAX] = {
    [STATS_DROP_LIMIT] = "limit",
    [STATS_DROP_TIMEOUT] = "timeout",
    [STATS_DROP_BAD_REQUEST] = "bad-request",
    [STATS_DROP_TOO_LARGE] = "too-large",
};

static void sc_close(struct relay *r, struct stats_conn *sc)
{
    /* the last one takes its slot */
    r->stats_conns[sc->slot] = r->stats_conns[--r->nstats];
    r->stats_conns[sc->slot]->slot = sc->slot;
    loop_del(r->loop, sc->fd);
    close(sc->fd);
    free(sc->req);
    free(sc->resp);
    free(sc);
}

static void sc_drop(struct relay *r, struct stats_conn *sc, int why)
{
    r->st.stats_dropped[why]++;
    log_debug("stats fd=%d dropped reason=%s", sc->fd, drop_names[why]);
    sc_close(r, sc);
}

static char *metrics_body(const struct relay *r, size_t *len)
{
    GString *b = g_string_sized_new(2048);
    int c;

    g_string_append_printf(b, "# TYPE ferry_relay_connections gauge\n");
    g_string_append_printf(b, "ferry_relay_connections %zu\n", r->nconns);
    g_string_append_printf(b, "# TYPE ferry_relay_channels gauge\n");
    g_string_append_printf(b, "ferry_relay_channels %zu\n", r->nchannels_live);
    g_string_append_printf(b, "# TYPE ferry_relay_connections_accepted_total "
                              "counter\n");
    g_string_append_printf(b, "ferry_relay_connections_accepted_total %llu\n",
                           (unsigned long long)r->st.conns_accepted);
    g_string_append_printf(b, "ferry_relay_connections_refused_total %llu\n",
                           (unsigned long long)r->st.conns_refused);
    g_string_append_printf(b, "ferry_relay_channels_paired_total %llu\n",
                           (unsigned long long)r->st.channels_paired);
    g_string_append_printf(b, "ferry_relay_channels_completed_total %llu\n",
                           (unsigned long long)r->st.channels_completed);
    g_string_append_printf(b, "ferry_relay_bytes_forwarded_total %llu\n",
                           (unsigned long long)r->st.bytes_forwarded);
    g_string_append_printf(b,
                           "# TYPE ferry_relay_bytes_from_senders_total "
                           "counter\n");
    g_string_append_printf(b, "ferry_relay_bytes_from_senders_total %llu\n",
                           (unsigned long long)r->st.bytes_from_senders);
    g_string_append_printf(b, "ferry_relay_frames_forwarded_total %llu\n",
                           (unsigned long long)r->st.frames_forwarded);
    g_string_append_printf(b, "ferry_relay_slow_downs_total %llu\n",
                           (unsigned long long)r->st.slow_downs);
    g_string_append_printf(b, "ferry_relay_resumes_total %llu\n",
                           (unsigned long long)r->st.resumes);
    g_string_append_printf(b, "# TYPE ferry_relay_fanout_legs_total counter\n");
    g_string_append_printf(b, "ferry_relay_fanout_legs_total %llu\n",
                           (unsigned long long)r->st.fanout_legs);
    g_string_append_printf(b, "# TYPE ferry_relay_fanout_dropped_slow_total "
                              "counter\n");
    g_string_append_printf(b, "ferry_relay_fanout_dropped_slow_total %llu\n",
                           (unsigned long long)r->st.fanout_dropped_slow);
    g_string_append_printf(b, "# TYPE ferry_relay_accept_backoffs_total "
                              "counter\n");
    g_string_append_printf(b, "ferry_relay_accept_backoffs_total %llu\n",
                           (unsigned long long)r->st.accept_backoffs);
    g_string_append_printf(b, "# TYPE ferry_relay_stats_connections gauge\n");
    g_string_append_printf(b, "ferry_relay_stats_connections %zu\n",
                           r->nstats);
    g_string_append_printf(b, "# TYPE ferry_relay_stats_dropped_total "
                              "counter\n");
    for (c = 0; c < STATS_DROP_MAX; c++)
        g_string_append_printf(b,
                               "ferry_relay_stats_dropped_total{reason=\"%s\"} "
                               "%llu\n",
                               drop_names[c],
                               (unsigned long long)r->st.stats_dropped[c]);
    g_string_append_printf(b, "# TYPE ferry_relay_errors_total counter\n");
    for (c = 1; c <= FERRY_ERR_WIRE_MAX; c++)
        if (r->st.errors[c])
            g_string_append_printf(b,
                                   "ferry_relay_errors_total{code=\"%s\"} "
                                   "%llu\n",
                                   ferry_errname(c),
                                   (unsigned long long)r->st.errors[c]);
    g_string_append_printf(b, "# TYPE ferry_relay_peer_gone_total counter\n");
    for (c = 1; c <= FERRY_ERR_WIRE_MAX; c++)
        if (r->st.peer_gone[c])
            g_string_append_printf(b,
                                   "ferry_relay_peer_gone_total{reason=\"%s\"} "
                                   "%llu\n",
                                   ferry_errname(c),
                                   (unsigned long long)r->st.peer_gone[c]);
    *len = b->len;
    return g_string_free(b, FALSE);
}

/* Queues the answer for v and switches to writing it. */
static void sc_answer(struct relay *r, struct stats_conn *sc,
                      enum http_verdict v)
{
    GString *o = g_string_sized_new(4096);
    char *body = NULL;
    size_t blen = 0;

    if (v == HTTP_GET || v == HTTP_HEAD)
        body = metrics_body(r, &blen);
    else
        body = g_strdup_printf("%s\n", http_status(v));
    if (body != NULL && v != HTTP_GET && v != HTTP_HEAD)
        blen = strlen(body);
    g_string_append_printf(o,
                           "HTTP/1.0 %s\r\nContent-Type: text/plain; "
                           "version=0.0.4\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n\r\n",
                           http_status(v), blen);
    if (v == HTTP_BAD_METHOD)
        g_string_insert(o, o->len - 2, "Allow: GET, HEAD\r\n");
    if (v != HTTP_HEAD)
        g_string_append_len(o, body, (gssize)blen);
    g_free(body);
    free(sc->resp);
    sc->resp_len = o->len;
    sc->resp = malloc(o->len);
    if (sc->resp != NULL)
        memcpy(sc->resp, o->str, o->len);
    g_string_free(o, TRUE);
    if (sc->resp == NULL) {
        sc_close(r, sc);
        return;
    }
    sc->resp_off = 0;
    sc->state = SC_WRITE;
    /* Stop reading: what follows the head is not ours to parse. */
    loop_mask(r->loop, sc->fd, LOOP_WRITE, LOOP_READ);
}

static void sc_read(struct relay *r, struct stats_conn *sc)
{
    size_t max = (size_t)r->conf.stats_max_request;
    enum http_verdict v;
    ssize_t n;

    if (sc->state == SC_LINGER) {
        char junk[4096];
        n = read(sc->fd, junk, sizeof(junk));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            sc_close(r, sc);
        return;
    }
    /* At most max bytes in all: http_request_check() says 431 there. */
    n = read(sc->fd, sc->req + sc->req_len, max - sc->req_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        /* Closed (or reset) before the request was whole: no answer. */
        sc_close(r, sc);
        return;
    }
    sc->req_len += (size_t)n;
    v = http_request_check(sc->req, sc->req_len, max, &sc->scan);
    if (v == HTTP_NEED_MORE)
        return;
    if (v == HTTP_BAD)
        r->st.stats_dropped[STATS_DROP_BAD_REQUEST]++;
    else if (v == HTTP_TOO_LARGE)
        r->st.stats_dropped[STATS_DROP_TOO_LARGE]++;
    else if (v == HTTP_BAD_METHOD)
        r->st.stats_dropped[STATS_DROP_BAD_REQUEST]++;
    sc_answer(r, sc, v);
}

static void sc_write(struct relay *r, struct stats_conn *sc)
{
    ssize_t n;

    while (sc->resp_off < sc->resp_len) {
        n = send(sc->fd, sc->resp + sc->resp_off, sc->resp_len - sc->resp_off,
                 MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            sc_close(r, sc);
            return;
        }
        sc->resp_off += (size_t)n;
    }
    /* All out: half-close and drain what the client still sends until it
     * closes, so that unread input never resets the answer away. */
    shutdown(sc->fd, SHUT_WR);
    sc->state = SC_LINGER;
    if (sc->deadline > loop_now_ms() + 1000)
        sc->deadline = loop_now_ms() + 1000;
    loop_mask(r->loop, sc->fd, LOOP_READ, LOOP_WRITE);
}

static void stats_io(struct loop *l, int fd, void *ud, int mask)
{
    struct stats_conn *sc = ud;

    (void)l;
    (void)fd;
    if (mask & LOOP_READ)
        sc_read(sc->r, sc);
    else if ((mask & LOOP_WRITE) && sc->state == SC_WRITE)
        sc_write(sc->r, sc);
}

/* The connection to push out for a new one: one already answered
 * (lingering), else the one that has waited longest for its request, else
 * the oldest still being written. */
static struct stats_conn *victim(struct relay *r)
{
    static const int rank[] = {[SC_LINGER] = 0, [SC_READ] = 1, [SC_WRITE] = 2};
    struct stats_conn *best = NULL;
    size_t i;

    for (i = 0; i < r->nstats; i++) {
        struct stats_conn *sc = r->stats_conns[i];
        if (best == NULL || rank[sc->state] < rank[best->state] ||
            (rank[sc->state] == rank[best->state] && sc->since < best->since))
            best = sc;
    }
    return best;
}

void stats_serve(struct loop *l, int lfd, void *ud, int mask)
{
    struct relay *r = ud;
    struct stats_conn *sc;
    int fd, burst;

    (void)mask;
    for (burst = 0; burst < 16; burst++) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM)
                accept_backoff(r, "stats accept");
            else if (errno != EAGAIN && errno != EINTR &&
                     errno != ECONNABORTED)
                log_warn("stats accept");
            return;
        }
        if (fd >= r->setsize) {
            close(fd);
            continue;
        }
        if (r->nstats >= (size_t)r->conf.stats_max_connections) {
            struct stats_conn *v = victim(r);
            if (v->state == SC_LINGER)
                sc_close(r, v);
            else
                sc_drop(r, v, STATS_DROP_LIMIT);
        }
        sc = calloc(1, sizeof(*sc));
        if (sc == NULL ||
            (sc->req = malloc((size_t)r->conf.stats_max_request)) == NULL) {
            free(sc);
            close(fd);
            continue;
        }
        sc->r = r;
        sc->fd = fd;
        sc->state = SC_READ;
        sc->since = loop_now_ms();
        sc->deadline = sc->since + r->conf.stats_timeout_ms;
        if (loop_set(l, fd, LOOP_READ, stats_io, sc) < 0) {
            free(sc->req);
            free(sc);
            close(fd);
            continue;
        }
        sc->slot = r->nstats;
        r->stats_conns[r->nstats++] = sc;
    }
}

/* Closes the connections past their deadline (from the relay's tick). */
void stats_sweep(struct relay *r, long long now)
{
    size_t i = 0;

    while (i < r->nstats) {
        struct stats_conn *sc = r->stats_conns[i];
        if (now < sc->deadline) {
            i++;
            continue;
        }
        if (sc->state == SC_LINGER)
            sc_close(r, sc); /* answered: a normal end */
        else
            sc_drop(r, sc, STATS_DROP_TIMEOUT);
        /* the last one moved into slot i: look at it next */
    }
}

void stats_free_all(struct relay *r)
{
    while (r->nstats > 0)
        sc_close(r, r->stats_conns[0]);
    free(r->stats_conns);
    r->stats_conns = NULL;
}
