/* The in-process Ferry deployment of harness.h: router, server and
 * component stand-ins, the real relay as a child process, fake relays. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "buf.h"
#include "chan.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "frame.h"
#include "harness.h"
#include "stanza.h"

#ifndef HX_RELAY_PATH
#define HX_RELAY_PATH "relay/ferry-relay"
#endif

#define CHANNEL_LIFETIME 600

struct hx_sink {
    struct hx *h;
    struct hx_peer *p;
    GByteArray *data;
    uint64_t stall;
    int nfinish;
    int verified;
    GMutex m; /* bytes and last_us, read while a data thread writes */
    uint64_t bytes;
    int64_t last_us;
};

struct hx_stream {
    int rfd, wfd;
    int fail;   /* atomic: EIO at the end of the pipe */
    int closed; /* atomic: libferry's close() came */
};

struct hx_source {
    struct hx *h;
    struct hx_peer *p;
    uint8_t *mem;
    int fd;
    uint64_t size;
    uint64_t stall;
    int nclose;
    uint64_t read_max; /* furthest offset read so far */
};

struct queued {
    char *from;
    char *xml;
};

struct hx {
    xmpp_ctx_t *x;
    char *dir;
    char err[256];
    uint8_t secret[64];
    size_t secret_len;
    pid_t relay_pid;
    uint16_t relay_port;
    /* the component */
    char relay_host[FERRY_HOST_MAX + 1];
    uint16_t comp_port;
    int comp_tls;
    enum hx_comp_mode comp_mode;
    GPtrArray *held; /* xmpp_stanza_t *: requests kept */
    uint32_t chunk_max;
    int served;
    int released;
    char last_release[65], last_release_from[FERRY_JID_MAX + 1];
    char last_channel[65];
    int preset_component;
    int server_answers;
    /* the router */
    GPtrArray *peers;
    GQueue queue;
    GPtrArray *log;
    int last_rc;
    /* owned */
    GPtrArray *sinks, *sources, *streams;
    struct pollfd *fds;
    int fds_cap;
    /* the gate */
    GMutex gate_m;
    GCond gate_c;
    int gate_open, gate_hit;
    struct hx_peer *gate_peer;
};

static void stanza_unref(gpointer s)
{
    xmpp_stanza_release(s);
}

static void hx_err(struct hx *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void hx_err(struct hx *h, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(h->err, sizeof(h->err), fmt, ap);
    va_end(ap);
}

const char *hx_error(const struct hx *h)
{
    return h->err;
}

const char *hx_dir(const struct hx *h)
{
    return h->dir;
}

xmpp_ctx_t *hx_xmpp(struct hx *h)
{
    return h->x;
}

int64_t hx_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hx_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- files --------------------------------------------------------------- */

void hx_fill(uint8_t *p, size_t len, uint32_t seed)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)seed << 17 | seed), v;
    size_t i;

    for (i = 0; i < len; i += 8) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        v = s * 0x2545f4914f6cdd1dULL;
        memcpy(p + i, &v, len - i < 8 ? len - i : 8);
    }
}

int hx_write_file(const char *path, uint64_t size, uint32_t seed)
{
    size_t blk = 1 << 20, n;
    uint8_t *b = malloc(blk);
    uint64_t done = 0;
    FILE *f;
    int ok = 1;

    if (b == NULL || (f = fopen(path, "wb")) == NULL) {
        free(b);
        return -1;
    }
    while (ok && done < size) {
        n = size - done < blk ? (size_t)(size - done) : blk;
        /* A different block each time: no two chunks alike. */
        hx_fill(b, n, seed + (uint32_t)(done / blk) * 2654435761u);
        ok = fwrite(b, 1, n, f) == n;
        done += n;
    }
    ok = fclose(f) == 0 && ok;
    free(b);
    return ok ? 0 : -1;
}

int hx_same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    static uint8_t ba[65536], bb[65536];
    size_t na, nb;
    int same = fa != NULL && fb != NULL;

    while (same) {
        na = fread(ba, 1, sizeof(ba), fa);
        nb = fread(bb, 1, sizeof(bb), fb);
        if (na != nb || memcmp(ba, bb, na) != 0)
            same = 0;
        if (na == 0)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void hx_rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the gate ------------------------------------------------------------ */

/* A source or sink callback about to move past `upto`. */
static void gate_pass(struct hx *h, struct hx_peer *p, uint64_t upto,
                      uint64_t stall)
{
    gint64 end;

    if (stall == 0 || upto <= stall)
        return;
    g_mutex_lock(&h->gate_m);
    if (!h->gate_open) {
        h->gate_hit = 1;
        h->gate_peer = p;
        if (p->mode == FERRY_MODE_THREAD) {
            /* Bounded, so a broken test cannot hang the data thread. */
            end = g_get_monotonic_time() + 30 * G_TIME_SPAN_SECOND;
            while (!h->gate_open)
                if (!g_cond_wait_until(&h->gate_c, &h->gate_m, end))
                    break;
        } else
            p->held = 1;
    }
    g_mutex_unlock(&h->gate_m);
}

int hx_gate_hit(struct hx *h)
{
    int r;

    g_mutex_lock(&h->gate_m);
    r = h->gate_hit;
    g_mutex_unlock(&h->gate_m);
    return r;
}

void hx_gate_open(struct hx *h)
{
    guint i;

    g_mutex_lock(&h->gate_m);
    h->gate_open = 1;
    g_cond_broadcast(&h->gate_c);
    g_mutex_unlock(&h->gate_m);
    for (i = 0; i < h->peers->len; i++)
        ((struct hx_peer *)g_ptr_array_index(h->peers, i))->held = 0;
}

/* ---- sinks and sources --------------------------------------------------- */

static int sink_write(void *ud, const void *buf, size_t len)
{
    struct hx_sink *s = ud;

    gate_pass(s->h, s->p, s->data->len + (uint64_t)len, s->stall);
    g_byte_array_append(s->data, buf, (guint)len);
    g_mutex_lock(&s->m);
    s->bytes += len;
    s->last_us = hx_now_us();
    g_mutex_unlock(&s->m);
    return 0;
}

uint64_t hx_sink_bytes(const struct hx_sink *s, int64_t *last_us)
{
    struct hx_sink *w = (struct hx_sink *)s; /* the lock only */
    uint64_t n;

    g_mutex_lock(&w->m);
    n = s->bytes;
    if (last_us != NULL)
        *last_us = s->last_us;
    g_mutex_unlock(&w->m);
    return n;
}

static int sink_finish(void *ud, int verified)
{
    struct hx_sink *s = ud;

    s->nfinish++;
    s->verified = verified;
    return 0;
}

static struct hx_sink *sink_new(struct hx_peer *p, uint64_t stall)
{
    struct hx_sink *s = g_new0(struct hx_sink, 1);

    s->h = p->h;
    s->p = p;
    s->data = g_byte_array_new();
    s->stall = stall;
    g_mutex_init(&s->m);
    g_ptr_array_add(p->h->sinks, s);
    return s;
}

static void sink_free(gpointer p)
{
    struct hx_sink *s = p;

    g_byte_array_free(s->data, TRUE);
    g_mutex_clear(&s->m);
    g_free(s);
}

const uint8_t *hx_sink_data(const struct hx_sink *s, size_t *len)
{
    *len = s->data->len;
    return s->data->data;
}

int hx_sink_finishes(const struct hx_sink *s, int *verified)
{
    if (verified != NULL)
        *verified = s->verified;
    return s->nfinish;
}

static ssize_t source_read(void *ud, uint64_t off, void *buf, size_t len)
{
    struct hx_source *s = ud;

    if (off >= s->size)
        return 0;
    if (len > s->size - off)
        len = (size_t)(s->size - off);
    gate_pass(s->h, s->p, off + len, s->stall);
    if (off + len > s->read_max)
        s->read_max = off + len; /* one data thread per source */
    if (s->mem == NULL)
        return pread(s->fd, buf, len, (off_t)off);
    memcpy(buf, s->mem + off, len);
    return (ssize_t)len;
}

static void source_close(void *ud)
{
    ((struct hx_source *)ud)->nclose++;
}

static void source_free(gpointer p)
{
    struct hx_source *s = p;

    if (s->fd >= 0)
        close(s->fd);
    g_free(s->mem);
    g_free(s);
}

int hx_source_closes(const struct hx_source *s)
{
    return s->nclose;
}

uint64_t hx_source_read_max(const struct hx_source *s)
{
    return s->read_max;
}

/* ---- streams through a pipe --------------------------------------------- */

static ssize_t stream_read(void *ud, uint64_t off, void *buf, size_t len)
{
    struct hx_stream *s = ud;
    ssize_t n;

    (void)off;
    n = read(s->rfd, buf, len);
    if (n == 0 && g_atomic_int_get(&s->fail)) {
        errno = EIO;
        return -1;
    }
    return n;
}

static void stream_close(void *ud)
{
    struct hx_stream *s = ud;

    close(s->rfd);
    s->rfd = -1;
    g_atomic_int_set(&s->closed, 1);
}

/* A stream libferry never closed (a test that failed midway): its reader
 * may still be in read(), so the write end closes and the record waits
 * for it a little; if it never comes, it is left, not freed under it. */
static void stream_free(gpointer p)
{
    struct hx_stream *s = p;
    int64_t end = hx_now_ms() + 2000;

    hx_stream_end(s, 0);
    while (!g_atomic_int_get(&s->closed) && hx_now_ms() < end)
        g_usleep(1000);
    if (g_atomic_int_get(&s->closed))
        g_free(s);
}

int hx_stream_fd(const struct hx_stream *s)
{
    return s->wfd;
}

void hx_stream_end(struct hx_stream *s, int fail)
{
    if (s->wfd < 0)
        return;
    if (fail)
        g_atomic_int_set(&s->fail, 1);
    close(s->wfd);
    s->wfd = -1;
}

int hx_stream_closed(const struct hx_stream *s)
{
    return g_atomic_int_get(&((struct hx_stream *)s)->closed);
}

/* ---- transfer records ---------------------------------------------------- */

static struct hx_xfer *xfer_new(struct hx_peer *p, ferry_transfer_t *t,
                                int is_sender)
{
    struct hx_xfer *x = g_new0(struct hx_xfer, 1);

    x->peer = p;
    x->t = t;
    x->is_sender = is_sender;
    x->status = (ferry_status_t)-1;
    x->events = g_string_new("");
    g_strlcpy(x->sid, ferry_transfer_sid(t), sizeof(x->sid));
    ferry_transfer_set_userdata(t, x);
    g_ptr_array_add(p->xfers, x);
    return x;
}

static void xfer_free(gpointer p)
{
    struct hx_xfer *x = p;

    g_string_free(x->events, TRUE);
    if (x->receipts != NULL)
        g_string_free(x->receipts, TRUE);
    g_free(x->path);
    g_free(x);
}

int hx_accept_sink(struct hx_xfer *x)
{
    ferry_sink_t sk;

    x->sink = sink_new(x->peer, x->peer->sink_stall);
    memset(&sk, 0, sizeof(sk));
    sk.write = sink_write;
    sk.finish = sink_finish;
    sk.userdata = x->sink;
    return ferry_accept_sink(x->t, &sk);
}

static void on_offer(ferry_transfer_t *t, const ferry_offer_info_t *o, void *ud)
{
    struct hx_peer *p = ud;
    struct hx_xfer *x = xfer_new(p, t, 0);

    x->offered_size = o->size;
    x->offered_chunk = o->chunk_size;
    g_strlcpy(x->offered_name, o->name, sizeof(x->offered_name));
    p->last_offer = x;
    if (p->max_size > 0 && p->offer_mode != HX_OFFER_DEFER)
        (void)ferry_transfer_set_max_size(t, p->max_size);
    if (p->check_sha256 != NULL && p->offer_mode != HX_OFFER_DEFER)
        (void)ferry_transfer_check_sha256(t, p->check_sha256);
    switch (p->offer_mode) {
    case HX_OFFER_FILE:
        x->accept_rc = ferry_accept_file(t, p->dir);
        break;
    case HX_OFFER_SINK:
        x->accept_rc = hx_accept_sink(x);
        break;
    case HX_OFFER_REJECT:
        x->accept_rc = ferry_reject(t, p->reject_reason, "not now");
        break;
    case HX_OFFER_DEFER:
        break;
    }
}

static void on_progress(ferry_transfer_t *t, uint64_t done, uint64_t total,
                        void *ud)
{
    struct hx_xfer *x = ferry_transfer_userdata(t);

    (void)ud;
    if (x == NULL)
        return;
    x->progress = done;
    x->total = total;
    x->nprogress++;
}

static void on_event(ferry_transfer_t *t, const char *what, void *ud)
{
    struct hx_xfer *x = ferry_transfer_userdata(t);
    struct hx_peer *p = ud;

    if (x == NULL)
        return;
    g_string_append_printf(x->events, ",%s", what);
    if (p->event_hook != NULL)
        p->event_hook(x, what, p->hook_arg);
}

static void on_done(ferry_transfer_t *t, ferry_status_t st, const char *reason,
                    void *ud)
{
    struct hx_xfer *x = ferry_transfer_userdata(t);

    (void)ud;
    if (x == NULL)
        return;
    x->ndone++;
    x->status = st;
    g_strlcpy(x->reason, reason ? reason : "", sizeof(x->reason));
    g_strlcpy(x->detail, ferry_transfer_detail(t) ? ferry_transfer_detail(t) : "",
              sizeof(x->detail));
    if (!x->is_sender && ferry_transfer_path(t) != NULL) {
        g_free(x->path);
        x->path = g_strdup(ferry_transfer_path(t));
    }
    if (x->is_sender) {
        ferry_receipt_t r[16];
        size_t i, n = ferry_transfer_receipts(t, r, 16);
        if (x->receipts == NULL)
            x->receipts = g_string_new(NULL);
        x->nreceipts = (int)n;
        for (i = 0; i < n && i < 16; i++)
            g_string_append_printf(x->receipts, "%s=%s;", r[i].jid,
                                   r[i].status == FERRY_DONE_OK ? "verified"
                                   : r[i].reason                ? r[i].reason
                                                                : "?");
    }
    /* Still valid here, and already over: every call must say so. */
    x->cancel_rc_in_done = ferry_cancel(t);
    x->answer_rc_in_done = ferry_reject(t, NULL, NULL);
    x->t = NULL;
}

/* ---- the router ---------------------------------------------------------- */

static void enqueue(struct hx *h, const char *from, const char *xml)
{
    struct queued *q = g_new0(struct queued, 1);

    q->from = g_strdup(from);
    q->xml = g_strdup(xml);
    g_queue_push_tail(&h->queue, q);
}

/* Queues a stanza built in h->x as coming from `from`; releases it. */
static void emit(struct hx *h, const char *from, xmpp_stanza_t *s)
{
    char *text = NULL;
    size_t len;

    if (xmpp_stanza_to_text(s, &text, &len) == XMPP_EOK) {
        enqueue(h, from, text);
        xmpp_free(h->x, text);
    }
    xmpp_stanza_release(s);
}

static void on_send_stanza(xmpp_stanza_t *s, void *ud)
{
    struct hx_peer *p = ud;
    char *text = NULL;
    size_t len;

    if (xmpp_stanza_to_text(s, &text, &len) == XMPP_EOK) {
        enqueue(p->h, p->jid, text);
        xmpp_free(p->h->x, text);
    }
}

static void on_send_xml(const char *xml, void *ud)
{
    struct hx_peer *p = ud;

    enqueue(p->h, p->jid, xml);
}

static int same_jid(const char *a, const char *b)
{
    return a != NULL && b != NULL && g_ascii_strcasecmp(a, b) == 0;
}

static int same_bare_jid(const char *a, const char *b)
{
    size_t la = strcspn(a, "/"), lb = strcspn(b, "/");

    return la == lb && g_ascii_strncasecmp(a, b, la) == 0;
}

static struct hx_peer *find_peer(struct hx *h, const char *to)
{
    struct hx_peer *p;
    guint i;

    for (i = 0; i < h->peers->len; i++) {
        p = g_ptr_array_index(h->peers, i);
        if (p->ctx != NULL && same_jid(p->jid, to))
            return p;
    }
    if (strchr(to, '/') != NULL)
        return NULL;
    for (i = 0; i < h->peers->len; i++) {
        p = g_ptr_array_index(h->peers, i);
        if (p->ctx != NULL && same_bare_jid(p->jid, to))
            return p;
    }
    return NULL;
}

static int child_ns_is(xmpp_stanza_t *s, const char *name, const char *ns)
{
    return xmpp_stanza_get_child_by_name_and_ns(s, name, ns) != NULL;
}

static int is_iq(xmpp_stanza_t *s, const char *type)
{
    const char *n = xmpp_stanza_get_name(s), *t = xmpp_stanza_get_type(s);

    return n != NULL && strcmp(n, "iq") == 0 && t != NULL &&
           strcmp(t, type) == 0;
}

/* The user's server: disco#items lists the component. */
static int server_handle(struct hx *h, xmpp_stanza_t *s)
{
    const char *to = xmpp_stanza_get_from(s), *id = xmpp_stanza_get_id(s);
    char *xml;

    if (!h->server_answers || !is_iq(s, "get") || id == NULL)
        return 0;
    if (child_ns_is(s, "query", FERRY_NS_DISCO_ITEMS))
        xml = g_markup_printf_escaped(
            "<iq type='result' id='%s' to='%s'><query xmlns='%s'>"
            "<item jid='%s'/></query></iq>",
            id, to, FERRY_NS_DISCO_ITEMS, HX_COMPONENT);
    else if (child_ns_is(s, "query", FERRY_NS_DISCO_INFO))
        xml = g_markup_printf_escaped(
            "<iq type='result' id='%s' to='%s'><query xmlns='%s'>"
            "<identity category='server' type='im'/>"
            "<feature var='%s'/></query></iq>",
            id, to, FERRY_NS_DISCO_INFO, FERRY_NS_DISCO_INFO);
    else
        return 0;
    enqueue(h, HX_DOMAIN, xml);
    g_free(xml);
    return 1;
}

static void component_info(struct hx *h, xmpp_stanza_t *iq)
{
    char *xml, limit[160] = "";

    if (h->chunk_max)
        snprintf(limit, sizeof(limit),
                 "<field var='chunk-size-max'><value>%u</value></field>",
                 h->chunk_max);
    xml = g_strdup_printf(
        "<iq type='result' id='%s' to='%s'><query xmlns='%s'>"
        "<identity category='proxy' type='ferry' name='Ferry file relay'/>"
        "<feature var='%s'/><feature var='%s'/>"
        "<x xmlns='%s' type='result'><field var='FORM_TYPE' type='hidden'>"
        "<value>%s</value></field>%s</x></query></iq>",
        xmpp_stanza_get_id(iq), xmpp_stanza_get_from(iq), FERRY_NS_DISCO_INFO,
        FERRY_NS_DISCO_INFO, FERRY_NS, FERRY_NS_DATA, FERRY_NS, limit);
    enqueue(h, HX_COMPONENT, xml);
    g_free(xml);
}

/* What component/alloc.c does, minus policy: mint, deliver, answer. */
static void component_answer(struct hx *h, xmpp_stanza_t *iq)
{
    const char *from = xmpp_stanza_get_from(iq), *bad = NULL;
    xmpp_stanza_t *el, *msg;
    struct ferry_request rq;
    struct ferry_channel ch;
    char *id;

    el = xmpp_stanza_get_child_by_name_and_ns(iq, "request", FERRY_NS);
    if (el == NULL || ferry_request_parse(el, &rq, &bad) != FERRY_OK) {
        emit(h, HX_COMPONENT,
             ferry_error_reply(h->x, iq, FERRY_ERR_BAD_REQUEST, "bad-attribute",
                               bad, "bad request"));
        return;
    }
    if (h->comp_mode == HX_COMP_REFUSE) {
        emit(h, HX_COMPONENT,
             ferry_error_reply(h->x, iq, FERRY_ERR_QUOTA_EXCEEDED,
                               "quota-exceeded", NULL, HX_REFUSAL));
        return;
    }
    memset(&ch, 0, sizeof(ch));
    ch.expires = (uint64_t)time(NULL) + CHANNEL_LIFETIME;
    g_strlcpy(ch.sid, rq.sid, sizeof(ch.sid));
    g_strlcpy(ch.host, h->relay_host, sizeof(ch.host));
    ch.port = h->comp_port;
    ch.tls = h->comp_tls;
    ch.slots = rq.slots; /* a fan-out's receivers (XEP "Fan-out") */
    if (chan_id_new_slots(ch.expires, rq.slots, ch.id) != FERRY_OK ||
        chan_key(h->secret, h->secret_len, ch.id, ch.key) != FERRY_OK) {
        emit(h, HX_COMPONENT,
             ferry_error_reply(h->x, iq, FERRY_ERR_INTERNAL, NULL, NULL,
                               "cannot mint a channel"));
        return;
    }
    if (rq.deliver) {
        id = xmpp_uuid_gen(h->x);
        msg = xmpp_message_new(h->x, NULL, rq.peer, id);
        xmpp_free(h->x, id);
        g_strlcpy(ch.requester, from, sizeof(ch.requester));
        xmpp_stanza_add_child_ex(msg, ferry_channel_build(h->x, &ch), 0);
        emit(h, HX_COMPONENT, msg);
        ch.requester[0] = '\0';
    }
    msg = ferry_reply(h->x, iq, "result");
    xmpp_stanza_add_child_ex(msg, ferry_channel_build(h->x, &ch), 0);
    emit(h, HX_COMPONENT, msg);
    ferry_wipe(ch.key, sizeof(ch.key));
    hex_encode(ch.id, 32, h->last_channel);
    h->served++;
}

/* What component/alloc.c does with a <release/>, minus the policy: any
 * well-formed one is answered with a result and recorded. */
static void component_release_answer(struct hx *h, xmpp_stanza_t *iq)
{
    xmpp_stanza_t *el =
        xmpp_stanza_get_child_by_name_and_ns(iq, "release", FERRY_NS);
    const char *bad = NULL, *from = xmpp_stanza_get_from(iq);
    uint8_t id[32];

    if (el == NULL || ferry_release_parse(el, id, &bad) != FERRY_OK) {
        emit(h, HX_COMPONENT,
             ferry_error_reply(h->x, iq, FERRY_ERR_BAD_REQUEST, "bad-attribute",
                               bad, "bad release"));
        return;
    }
    hex_encode(id, 32, h->last_release);
    g_strlcpy(h->last_release_from, from ? from : "",
              sizeof(h->last_release_from));
    h->released++;
    emit(h, HX_COMPONENT, ferry_reply(h->x, iq, "result"));
}

/* An iq for the component, answered now. 1 when it was one it serves. */
static int component_iq(struct hx *h, xmpp_stanza_t *s)
{
    if (is_iq(s, "get") && child_ns_is(s, "query", FERRY_NS_DISCO_INFO)) {
        component_info(h, s);
        return 1;
    }
    if (is_iq(s, "set") && child_ns_is(s, "release", FERRY_NS)) {
        component_release_answer(h, s);
        return 1;
    }
    if (!is_iq(s, "set") || !child_ns_is(s, "request", FERRY_NS))
        return 0;
    component_answer(h, s);
    return 1;
}

static int component_handle(struct hx *h, xmpp_stanza_t *s)
{
    /* A slow component: everything waits, disco included. */
    if (h->comp_mode == HX_COMP_HOLD && (is_iq(s, "get") || is_iq(s, "set"))) {
        g_ptr_array_add(h->held, xmpp_stanza_copy(s));
        return 1;
    }
    return component_iq(h, s);
}

void hx_component_release(struct hx *h)
{
    GPtrArray *held = h->held;
    guint i;

    h->held = g_ptr_array_new_with_free_func(stanza_unref);
    if (h->comp_mode == HX_COMP_HOLD)
        h->comp_mode = HX_COMP_ANSWER;
    for (i = 0; i < held->len; i++)
        component_iq(h, g_ptr_array_index(held, i));
    g_ptr_array_free(held, TRUE);
}

static void log_stanza(struct hx *h, const char *from, xmpp_stanza_t *s,
                       const char *xml)
{
    struct hx_logged *l = g_new0(struct hx_logged, 1);
    const char *to = xmpp_stanza_get_to(s);

    l->from = g_strdup(from);
    l->to = g_strdup(to ? to : "");
    l->xml = g_strdup(xml);
    l->s = xmpp_stanza_copy(s);
    g_ptr_array_add(h->log, l);
}

static void logged_free(gpointer p)
{
    struct hx_logged *l = p;

    g_free(l->from);
    g_free(l->to);
    g_free(l->xml);
    xmpp_stanza_release(l->s);
    g_free(l);
}

/* Stamps from and hands the stanza to whoever it is for. */
static int deliver(struct hx_peer *p, xmpp_stanza_t *s)
{
    char *text = NULL;
    size_t len;
    int r = -2;

    if (!p->xml)
        r = ferry_handle_stanza(p->ctx, s);
    else if (xmpp_stanza_to_text(s, &text, &len) == XMPP_EOK) {
        r = ferry_handle_xml(p->ctx, text);
        xmpp_free(p->h->x, text);
    }
    return r;
}

/* A headline to a bare JID goes to every resource, as a server does
 * (RFC 6121, 8.5.2.1.1). */
static int to_every_resource(struct hx *h, const char *to, xmpp_stanza_t *s)
{
    const char *type = xmpp_stanza_get_type(s);
    struct hx_peer *p;
    int r = -2;
    guint i;

    if (strchr(to, '/') != NULL || type == NULL ||
        strcmp(type, "headline") != 0)
        return -3;
    for (i = 0; i < h->peers->len; i++) {
        p = g_ptr_array_index(h->peers, i);
        if (p->ctx != NULL && same_bare_jid(p->jid, to))
            r = deliver(p, s);
    }
    return r;
}

static int dispatch(struct hx *h, const char *from, const char *xml)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(h->x, xml);
    struct hx_logged *l;
    struct hx_peer *p;
    const char *to;
    int r = -2;

    if (s == NULL)
        return -1;
    xmpp_stanza_set_from(s, from);
    to = xmpp_stanza_get_to(s);
    log_stanza(h, from, s, xml);
    l = g_ptr_array_index(h->log, h->log->len - 1);
    if (to == NULL || same_jid(to, HX_DOMAIN))
        r = server_handle(h, s);
    else if (same_jid(to, HX_COMPONENT))
        r = component_handle(h, s);
    else if ((r = to_every_resource(h, to, s)) != -3)
        ;
    else if ((p = find_peer(h, to)) != NULL)
        r = deliver(p, s);
    else
        r = -2;
    l->rc = r;
    xmpp_stanza_release(s);
    return r;
}

static void route(struct hx *h)
{
    struct queued *q;
    int n = 0;

    while (n++ < 100000 && (q = g_queue_pop_head(&h->queue)) != NULL) {
        h->last_rc = dispatch(h, q->from, q->xml);
        g_free(q->from);
        g_free(q->xml);
        g_free(q);
    }
}

int hx_inject(struct hx *h, const char *from, const char *xml)
{
    return dispatch(h, from, xml);
}

const GPtrArray *hx_log(const struct hx *h)
{
    return h->log;
}

const char *hx_find_iq(const struct hx *h, const char *from, const char *to,
                       const char *ns)
{
    xmpp_stanza_t *c;
    guint i;

    for (i = h->log->len; i-- > 0;) {
        struct hx_logged *l = g_ptr_array_index(h->log, i);
        const char *name = xmpp_stanza_get_name(l->s);
        if (name == NULL || strcmp(name, "iq") != 0 ||
            (from && !same_jid(l->from, from)) || (to && !same_jid(l->to, to)))
            continue;
        c = xmpp_stanza_get_children(l->s);
        while (c != NULL && !xmpp_stanza_is_tag(c))
            c = xmpp_stanza_get_next(c);
        if (ns != NULL && (c == NULL || xmpp_stanza_get_ns(c) == NULL ||
                           strcmp(xmpp_stanza_get_ns(c), ns) != 0))
            continue;
        return xmpp_stanza_get_id(l->s);
    }
    return NULL;
}

int hx_count_to(const struct hx *h, const char *from, const char *to)
{
    int n = 0;
    guint i;

    for (i = 0; i < h->log->len; i++) {
        struct hx_logged *l = g_ptr_array_index(h->log, i);
        if ((from == NULL || same_jid(l->from, from)) &&
            (to == NULL || same_jid(l->to, to)))
            n++;
    }
    return n;
}

char *hx_channel_xml(struct hx *h, const char *sid, const char *host,
                     uint16_t port, const char *requester)
{
    struct ferry_channel ch;
    char *text = NULL, *r;
    xmpp_stanza_t *el;
    size_t len;

    memset(&ch, 0, sizeof(ch));
    ch.expires = (uint64_t)time(NULL) + CHANNEL_LIFETIME;
    g_strlcpy(ch.sid, sid, sizeof(ch.sid));
    g_strlcpy(ch.host, host, sizeof(ch.host));
    ch.port = port;
    chan_id_new(ch.expires, ch.id);
    ferry_random(ch.key, sizeof(ch.key));
    if (requester != NULL)
        g_strlcpy(ch.requester, requester, sizeof(ch.requester));
    el = ferry_channel_build(h->x, &ch);
    if (xmpp_stanza_to_text(el, &text, &len) != XMPP_EOK)
        text = NULL;
    xmpp_stanza_release(el);
    r = g_strdup(text);
    if (text)
        xmpp_free(h->x, text);
    return r;
}

/* ---- the loop ------------------------------------------------------------ */

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

void hx_tick(struct hx *h, int max_ms)
{
    int n = 0, to = max_ms, pto, k;
    double t0;
    struct hx_peer *p;
    guint i;

    route(h);
    for (i = 0; i < h->peers->len; i++) {
        p = g_ptr_array_index(h->peers, i);
        p->nfd_off = n;
        p->nfd = -1; /* no turn */
        if (p->ctx == NULL || p->held)
            continue;
        for (;;) {
            k = ferry_fds(p->ctx, h->fds + n, h->fds_cap - n, &pto);
            if (k <= h->fds_cap - n)
                break;
            h->fds_cap = (n + k) * 2;
            h->fds = g_renew(struct pollfd, h->fds, h->fds_cap);
        }
        p->nfd = k;
        n += k;
        if (pto >= 0 && (to < 0 || pto < to))
            to = pto;
    }
    if (!g_queue_is_empty(&h->queue))
        to = 0;
    if (poll(h->fds, (nfds_t)n, to) < 0 && errno != EINTR)
        hx_err(h, "poll: %s", strerror(errno));
    for (i = 0; i < h->peers->len; i++) {
        p = g_ptr_array_index(h->peers, i);
        if (p->ctx != NULL && p->nfd >= 0) {
            t0 = now_us();
            ferry_process(p->ctx, h->fds + p->nfd_off, p->nfd);
            if ((now_us() - t0) / 1e3 > p->process_ms_max)
                p->process_ms_max = (now_us() - t0) / 1e3;
        }
    }
    route(h);
}

/* ---- peers --------------------------------------------------------------- */

struct hx_peer *hx_peer_new(struct hx *h, const char *jid, int mode, int xml)
{
    struct hx_peer *p = g_new0(struct hx_peer, 1);
    ferry_callbacks_t cb;
    int rc;

    memset(&cb, 0, sizeof(cb));
    if (xml)
        cb.send_xml = on_send_xml;
    else
        cb.send_stanza = on_send_stanza;
    cb.offer = on_offer;
    cb.progress = on_progress;
    cb.event = on_event;
    cb.done = on_done;
    p->h = h;
    g_strlcpy(p->jid, jid, sizeof(p->jid));
    p->mode = mode;
    p->xml = xml;
    p->xfers = g_ptr_array_new_with_free_func(xfer_free);
    p->offer_mode = HX_OFFER_FILE;
    p->reject_reason = "declined";
    snprintf(p->dir, sizeof(p->dir), "%s/in-%.*s", h->dir,
             (int)strcspn(jid, "@"), jid);
    mkdir(p->dir, 0700);
    g_ptr_array_add(h->peers, p);
    p->ctx = ferry_ctx_new(xml ? NULL : h->x, &cb, p);
    if (p->ctx == NULL) {
        hx_err(h, "ferry_ctx_new failed");
        return NULL;
    }
    if ((rc = ferry_set_mode(p->ctx, (ferry_mode_t)mode)) != FERRY_RC_OK) {
        hx_err(h, "ferry_set_mode: %s", ferry_error(p->ctx));
        return NULL;
    }
    if (h->preset_component &&
        ferry_set_component(p->ctx, HX_COMPONENT) != FERRY_RC_OK) {
        hx_err(h, "ferry_set_component: %s", ferry_error(p->ctx));
        return NULL;
    }
    if (ferry_set_jid(p->ctx, jid) != FERRY_RC_OK) {
        hx_err(h, "ferry_set_jid: %s", ferry_error(p->ctx));
        return NULL;
    }
    return p;
}

void hx_peer_free(struct hx_peer *p)
{
    ferry_ctx_t *ctx = p->ctx;
    int blocked;

    if (ctx == NULL)
        return;
    /* Its data thread may be waiting at the gate: joining it would hang. */
    g_mutex_lock(&p->h->gate_m);
    blocked = p->h->gate_peer == p && !p->h->gate_open;
    g_mutex_unlock(&p->h->gate_m);
    if (blocked && p->mode == FERRY_MODE_THREAD)
        hx_gate_open(p->h);
    ferry_ctx_free(ctx);
    p->ctx = NULL;
}

static void peer_free(gpointer ptr)
{
    struct hx_peer *p = ptr;

    hx_peer_free(p);
    g_ptr_array_free(p->xfers, TRUE);
    g_free(p);
}

int hx_send_file(struct hx_peer *p, const char *to, const char *path,
                 const ferry_send_opts_t *opts, struct hx_xfer **out)
{
    ferry_transfer_t *t = NULL;
    int rc;

    *out = NULL;
    rc = ferry_send_file(p->ctx, to, path, opts, &t);
    if (rc == FERRY_RC_OK)
        *out = xfer_new(p, t, 1);
    return rc;
}

int hx_send_source(struct hx_peer *p, const char *to, const void *data,
                   const char *path, uint64_t size, uint64_t stall,
                   const ferry_send_opts_t *opts, struct hx_xfer **out)
{
    struct hx_source *s = g_new0(struct hx_source, 1);
    ferry_transfer_t *t = NULL;
    ferry_source_t src;
    int rc;

    *out = NULL;
    s->h = p->h;
    s->p = p;
    s->fd = -1;
    s->size = size;
    s->stall = stall;
    if (data != NULL)
        s->mem = g_memdup2(data, size ? size : 1);
    else if ((s->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        g_free(s);
        return FERRY_RC_IO;
    }
    g_ptr_array_add(p->h->sources, s);
    memset(&src, 0, sizeof(src));
    src.read = source_read;
    src.close = source_close;
    src.size = size;
    src.userdata = s;
    rc = ferry_send(p->ctx, to, &src, opts, &t);
    if (rc == FERRY_RC_OK) {
        *out = xfer_new(p, t, 1);
        (*out)->src = s;
    }
    return rc;
}

int hx_send_stream(struct hx_peer *p, const char *to,
                   const ferry_send_opts_t *opts, struct hx_stream **st,
                   struct hx_xfer **out)
{
    struct hx_stream *s = g_new0(struct hx_stream, 1);
    ferry_transfer_t *t = NULL;
    ferry_source_t src;
    int fds[2], rc;

    *out = NULL;
    *st = NULL;
    if (pipe2(fds, O_CLOEXEC) < 0) {
        g_free(s);
        return FERRY_RC_IO;
    }
    s->rfd = fds[0];
    s->wfd = fds[1];
    memset(&src, 0, sizeof(src));
    src.read = stream_read;
    src.close = stream_close;
    src.size = FERRY_SIZE_UNKNOWN;
    src.userdata = s;
    rc = ferry_send(p->ctx, to, &src, opts, &t);
    if (rc != FERRY_RC_OK) {
        close(fds[0]);
        close(fds[1]);
        g_free(s);
        return rc;
    }
    g_ptr_array_add(p->h->streams, s);
    *st = s;
    *out = xfer_new(p, t, 1);
    return rc;
}

/* ---- the deployment ------------------------------------------------------ */

struct hx *hx_new(void)
{
    struct hx *h = g_new0(struct hx, 1);
    const char *tmp = getenv("FERRY_TMP");
    uint8_t raw[32];
    char *b64, *path;
    int ok;

    /* libferry writes to relay sockets with write() and SSL_write(), so a
     * relay that goes away can raise SIGPIPE in the host (seen here: a
     * receiver's ACK after the relay was killed). Hosts must ignore it
     * today, as the ferry CLI does; HX_SIGPIPE=1 keeps the default, to
     * see whether libferry still needs this. */
    if (getenv("HX_SIGPIPE") == NULL)
        signal(SIGPIPE, SIG_IGN);
    h->dir = g_strdup_printf("%s/ferry-engine-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(h->dir) == NULL) {
        fprintf(stderr, "hx_new: mkdtemp: %s\n", strerror(errno));
        g_free(h->dir);
        g_free(h);
        return NULL;
    }
    xmpp_initialize();
    h->x = xmpp_ctx_new(NULL, NULL);
    h->peers = g_ptr_array_new_with_free_func(peer_free);
    h->log = g_ptr_array_new_with_free_func(logged_free);
    h->held = g_ptr_array_new_with_free_func(stanza_unref);
    h->sinks = g_ptr_array_new_with_free_func(sink_free);
    h->sources = g_ptr_array_new_with_free_func(source_free);
    h->streams = g_ptr_array_new_with_free_func(stream_free);
    g_queue_init(&h->queue);
    g_mutex_init(&h->gate_m);
    g_cond_init(&h->gate_c);
    h->fds_cap = 16;
    h->fds = g_new0(struct pollfd, h->fds_cap);
    h->relay_pid = -1;
    h->preset_component = 1;
    h->server_answers = 1;
    h->chunk_max = FERRY_CHUNK_DEFAULT;
    g_strlcpy(h->relay_host, "127.0.0.1", sizeof(h->relay_host));
    /* The relay's secret file is raw bytes: this base64 text is the
     * secret, as the component and the relay both read it. */
    ferry_random(raw, sizeof(raw));
    b64 = g_base64_encode(raw, sizeof(raw));
    ferry_wipe(raw, sizeof(raw));
    h->secret_len = strlen(b64);
    memcpy(h->secret, b64, h->secret_len);
    path = g_strdup_printf("%s/secret", h->dir);
    ok = g_file_set_contents(path, b64, -1, NULL) && chmod(path, 0600) == 0;
    g_free(path);
    g_free(b64);
    if (!ok || h->x == NULL) {
        fprintf(stderr, "hx_new: cannot write the secret\n");
        hx_free(h);
        return NULL;
    }
    return h;
}

void hx_free(struct hx *h)
{
    struct queued *q;
    guint i;

    if (h == NULL)
        return;
    /* A data thread at the gate must be let go before its context ends. */
    hx_gate_open(h);
    for (i = 0; i < h->peers->len; i++)
        hx_peer_free(g_ptr_array_index(h->peers, i));
    g_ptr_array_free(h->peers, TRUE);
    hx_relay_kill(h);
    while ((q = g_queue_pop_head(&h->queue)) != NULL) {
        g_free(q->from);
        g_free(q->xml);
        g_free(q);
    }
    g_ptr_array_free(h->log, TRUE);
    g_ptr_array_free(h->held, TRUE);
    g_ptr_array_free(h->sinks, TRUE);
    g_ptr_array_free(h->sources, TRUE);
    g_ptr_array_free(h->streams, TRUE);
    g_free(h->fds);
    g_mutex_clear(&h->gate_m);
    g_cond_clear(&h->gate_c);
    if (h->x != NULL)
        xmpp_ctx_free(h->x);
    xmpp_shutdown();
    if (getenv("HX_KEEP") == NULL)
        hx_rmtree(h->dir);
    g_free(h->dir);
    ferry_wipe(h->secret, sizeof(h->secret));
    g_free(h);
}

void hx_component_relay(struct hx *h, const char *host, uint16_t port, int tls)
{
    g_strlcpy(h->relay_host, host, sizeof(h->relay_host));
    h->comp_port = port;
    h->comp_tls = tls;
}

void hx_component_mode(struct hx *h, enum hx_comp_mode mode)
{
    h->comp_mode = mode;
}

int hx_component_held(const struct hx *h)
{
    return (int)h->held->len;
}

void hx_component_chunk_max(struct hx *h, uint32_t max)
{
    h->chunk_max = max;
}

int hx_component_served(const struct hx *h)
{
    return h->served;
}

int hx_component_released(const struct hx *h)
{
    return h->released;
}

const char *hx_component_last_release(const struct hx *h, const char **from)
{
    if (from != NULL)
        *from = h->last_release_from;
    return h->last_release;
}

const char *hx_component_last_channel(const struct hx *h)
{
    return h->last_channel;
}

void hx_preset_component(struct hx *h, int yes)
{
    h->preset_component = yes;
}

void hx_server_answers(struct hx *h, int yes)
{
    h->server_answers = yes;
}

/* ---- the real relay ------------------------------------------------------ */

/* A loopback port nobody listens on right now (the kernel's choice). */
static uint16_t free_port(void)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    uint16_t port = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int port_open(uint16_t port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int hx_relay_start(struct hx *h, const char *extra)
{
    const char *bin =
        getenv("FERRY_RELAY") ? getenv("FERRY_RELAY") : HX_RELAY_PATH;
    char *conf, *text, *log;
    pid_t parent = getpid(), pid;
    int tries, status, fd;
    int64_t end;

    conf = g_strdup_printf("%s/relay.conf", h->dir);
    log = g_strdup_printf("%s/relay.log", h->dir);
    for (tries = 0; tries < 5; tries++) {
        uint16_t port = free_port();
        text = g_strdup_printf("[relay]\nlisten = 127.0.0.1:%u\n"
                               "secret_files = %s/secret\nstats_listen =\n"
                               "[log]\nlevel = 1\n%s\n",
                               port, h->dir, extra ? extra : "");
        g_file_set_contents(conf, text, -1, NULL);
        g_free(text);
        if ((pid = fork()) < 0) {
            hx_err(h, "fork: %s", strerror(errno));
            break;
        }
        if (pid == 0) {
            /* Never outlive the test, even one that dies. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(1);
            fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execl(bin, bin, "-f", conf, (char *)NULL);
            _exit(127);
        }
        end = hx_now_ms() + 5000;
        while (hx_now_ms() < end && waitpid(pid, &status, WNOHANG) == 0 &&
               !port_open(port))
            usleep(5000);
        if (waitpid(pid, &status, WNOHANG) == 0 && port_open(port)) {
            h->relay_pid = pid;
            h->relay_port = port;
            hx_component_relay(h, "127.0.0.1", port, 0);
            g_free(conf);
            g_free(log);
            return 0;
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        hx_err(h, "%s did not start (see %s)", bin, log);
    }
    g_free(conf);
    g_free(log);
    return -1;
}

uint16_t hx_relay_port(const struct hx *h)
{
    return h->relay_port;
}

void hx_relay_kill(struct hx *h)
{
    int status;

    if (h->relay_pid <= 0)
        return;
    kill(h->relay_pid, SIGKILL);
    waitpid(h->relay_pid, &status, 0);
    h->relay_pid = -1;
}

/* ---- fake relays --------------------------------------------------------- */

#define FAKE_CONNS 8
#define FAKE_IN (FERRY_FRAME_HDR + FERRY_FRAME_MAX + 65536)

struct fconn {
    int fd;
    uint8_t *in;
    size_t len;
    int role;
};

struct hx_fake {
    enum hx_fake_mode mode;
    int lfd, filler;
    uint16_t port;
    int stop[2];
    GThread *th;
    gint frames, verified;
    int spent; /* the sender came and went: later connections are shut */
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void fake_close(struct fconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    c->fd = -1;
    c->in = NULL;
    c->len = 0;
}

/* One frame from a client: the handshake is waved through, END gets a
 * forged VERIFIED. -1 closes the connection. */
static int fake_frame(struct hx_fake *f, struct fconn *c,
                      const struct frame *fr)
{
    uint8_t sealed[FERRY_VERIFIED_SEALED_LEN];
    struct buf *b = buf_new(256);
    int rc = 0;

    g_atomic_int_inc(&f->frames);
    if (fr->type == FRAME_AUTH) {
        c->role = fr->role;
        frame_put_admitted(b, 0);
        frame_put_empty(b, FRAME_PEER_JOINED);
        if (fr->has_slot && f->mode == HX_FAKE_LEG_BAD_KEY) {
            uint8_t k[FERRY_KEY_SEALED_LEN];
            ferry_random(k, sizeof(k));
            frame_put_key(b, k);
        } else if (fr->has_slot && f->mode == HX_FAKE_LEG_NO_KEY) {
            uint8_t d[64];
            ferry_random(d, sizeof(d));
            frame_put_data(b, 0, d, sizeof(d));
        }
    } else if (fr->type == FRAME_END && c->role == ROLE_SENDER) {
        if (f->mode == HX_FAKE_VERIFIED_ZEROS)
            memset(sealed, 0, sizeof(sealed));
        else
            ferry_random(sealed, sizeof(sealed));
        frame_put_verified(b, sealed);
        g_atomic_int_inc(&f->verified);
    }
    if (buf_len(b) > 0 && write_all(c->fd, buf_ptr(b), buf_len(b)) < 0)
        rc = -1;
    buf_free(b);
    return rc;
}

static gpointer fake_main(gpointer arg)
{
    struct hx_fake *f = arg;
    struct fconn c[FAKE_CONNS];
    struct pollfd pf[FAKE_CONNS + 2];
    uint8_t challenge[FERRY_CHALLENGE_LEN];
    struct frame fr;
    struct buf *b;
    size_t used;
    ssize_t n;
    int i, k, rc, sender_gone;

    for (i = 0; i < FAKE_CONNS; i++)
        c[i].fd = -1, c[i].in = NULL, c[i].len = 0, c[i].role = 0;
    for (;;) {
        pf[0].fd = f->stop[0];
        pf[0].events = POLLIN;
        pf[1].fd = f->lfd;
        pf[1].events = POLLIN;
        for (i = 0; i < FAKE_CONNS; i++) {
            pf[i + 2].fd = c[i].fd;
            pf[i + 2].events = POLLIN;
        }
        if (poll(pf, FAKE_CONNS + 2, -1) < 0 && errno != EINTR)
            break;
        if (pf[0].revents)
            break;
        if (pf[1].revents & POLLIN) {
            int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
            for (i = 0; fd >= 0 && i < FAKE_CONNS && c[i].fd >= 0; i++)
                ;
            /* A receiver that comes after the sender left finds the
             * channel gone, as at a real relay. */
            if (fd >= 0 && (i == FAKE_CONNS || f->spent))
                close(fd);
            else if (fd >= 0) {
                c[i].fd = fd;
                c[i].in = malloc(FAKE_IN);
                c[i].len = 0;
                c[i].role = 0;
                ferry_random(challenge, sizeof(challenge));
                b = buf_new(64);
                frame_put_hello(b, challenge);
                if (write_all(fd, buf_ptr(b), buf_len(b)) < 0)
                    fake_close(&c[i]);
                buf_free(b);
            }
        }
        sender_gone = 0;
        for (i = 0; i < FAKE_CONNS; i++) {
            if (c[i].fd < 0 ||
                !(pf[i + 2].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            n = read(c[i].fd, c[i].in + c[i].len, FAKE_IN - c[i].len);
            rc = n > 0 ? 0 : -1;
            if (n > 0)
                c[i].len += (size_t)n;
            while (rc == 0) {
                k = frame_decode(c[i].in, c[i].len, FERRY_FRAME_MAX, &fr,
                                 &used);
                if (k == FERRY_ERR_NEED_MORE)
                    break;
                if (k != FERRY_OK || fake_frame(f, &c[i], &fr) < 0) {
                    rc = -1;
                    break;
                }
                memmove(c[i].in, c[i].in + used, c[i].len - used);
                c[i].len -= used;
            }
            if (rc < 0) {
                sender_gone |= c[i].role == ROLE_SENDER;
                fake_close(&c[i]);
            }
        }
        /* The sender is gone: so is the channel, for the receiver too. */
        if (sender_gone) {
            f->spent = 1;
            for (i = 0; i < FAKE_CONNS; i++)
                fake_close(&c[i]);
        }
    }
    for (i = 0; i < FAKE_CONNS; i++)
        fake_close(&c[i]);
    return NULL;
}

struct hx_fake *hx_fake_start(enum hx_fake_mode mode)
{
    struct hx_fake *f = g_new0(struct hx_fake, 1);
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);

    f->mode = mode;
    f->lfd = f->filler = -1;
    f->stop[0] = f->stop[1] = -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(f->lfd, mode == HX_FAKE_SYN_DROP ? 0 : 16) < 0 ||
        getsockname(f->lfd, (struct sockaddr *)&sa, &sl) < 0)
        goto fail;
    f->port = ntohs(sa.sin_port);
    if (mode == HX_FAKE_SYN_DROP) {
        /* One connection fills an accept queue of length 0, nobody
         * accepts it: from now on the kernel drops every SYN. */
        if ((f->filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
            connect(f->filler, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            goto fail;
        return f;
    }
    if (mode == HX_FAKE_SILENT)
        return f;
    if (pipe2(f->stop, O_CLOEXEC) < 0 ||
        (f->th = g_thread_try_new("hx-fake", fake_main, f, NULL)) == NULL)
        goto fail;
    return f;
fail:
    hx_fake_stop(f);
    return NULL;
}

uint16_t hx_fake_port(const struct hx_fake *f)
{
    return f->port;
}

int hx_fake_frames(const struct hx_fake *f, int *verified_sent)
{
    if (verified_sent != NULL)
        *verified_sent = g_atomic_int_get(&f->verified);
    return g_atomic_int_get(&f->frames);
}

void hx_fake_stop(struct hx_fake *f)
{
    if (f == NULL)
        return;
    if (f->th != NULL) {
        if (write(f->stop[1], "x", 1) < 0) {
            /* the thread then waits for its next connection event */
        }
        g_thread_join(f->th);
    }
    if (f->stop[0] >= 0)
        close(f->stop[0]);
    if (f->stop[1] >= 0)
        close(f->stop[1]);
    if (f->filler >= 0)
        close(f->filler);
    if (f->lfd >= 0)
        close(f->lfd);
    g_free(f);
}
