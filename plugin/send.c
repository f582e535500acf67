/* libferry: the sender's part of the data path. Chunks are read from the
 * source, sealed in place in the output buffer and framed; END commits to
 * the size, the count and a running hash of the chunks' AEAD tags in
 * number order (XEP "Data Transfer"): no second pass over the data.
 * A stream's chunks are sealed as its data arrives, full or, after a
 * short wait, as they are; its END fixes the size and the count. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "err.h"
#include "files.h"
#include "frame.h"
#include "internal.h"
#include "pump.h"
#include "reorder.h"

/* A short chunk of a stream is sealed once its oldest byte has waited
 * this long: live data reaches the receiver within milliseconds, and
 * short chunks come at most this often (XEP "Data Transfer"). */
#define STREAM_FLUSH_US 2000
/* A stream's source is read ahead by up to this many chunks. */
#define STREAM_RING_CHUNKS 2

/* ---- sender ----------------------------------------------------------- */

int dp_src_read(ferry_transfer_t *t, uint8_t *p, size_t len, uint64_t off)
{
    size_t got = 0;
    ssize_t n;

    while (got < len) {
        n = t->src.read(t->src.userdata, off + got, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FERRY_ERR_IO;
        got += (size_t)n;
    }
    return FERRY_OK;
}

/* Adds chunk num's tag to END's digest, which takes the tags in number
 * order: a shuffled transfer's tags that come early wait in a small ring. */
static int chain_tag(ferry_transfer_t *t, uint64_t num, const uint8_t *tag)
{
    uint64_t bit;

    if (num == t->chained) {
        if (ferry_tags_add(t->hash, tag) != FERRY_OK)
            return FERRY_ERR_CRYPTO;
        t->chained++;
        while (t->tag_ring != NULL &&
               (t->tag_have & (bit = 1ull << (t->chained % TAG_RING)))) {
            if (ferry_tags_add(t->hash, t->tag_ring[t->chained % TAG_RING]) !=
                FERRY_OK)
                return FERRY_ERR_CRYPTO;
            t->tag_have &= ~bit;
            t->chained++;
        }
        return FERRY_OK;
    }
    if (num < t->chained || num - t->chained >= TAG_RING)
        return FERRY_ERR_INTERNAL; /* shuffles stay within a few chunks */
    if (t->tag_ring == NULL)
        t->tag_ring = g_malloc(TAG_RING * FERRY_TAG_RING_LEN);
    memcpy(t->tag_ring[num % TAG_RING], tag, FERRY_TAG_RING_LEN);
    t->tag_have |= 1ull << (num % TAG_RING);
    return FERRY_OK;
}

/* Seals chunk `num` of len bytes into the output buffer: from the file or
 * memory source at its offset, or from a stream's pump. */
static int put_chunk(ferry_transfer_t *t, uint64_t num, size_t len)
{
    uint8_t *p, nonce[12], ad[FERRY_AD_MAX];
    uint32_t body = (uint32_t)(8 + len + FERRY_TAG_LEN);
    size_t adl;

    if (buf_reserve(t->out, FERRY_FRAME_HDR + body, &p) != FERRY_OK)
        return FERRY_ERR_NO_SPACE;
    p[0] = FRAME_DATA;
    p[1] = (uint8_t)(body >> 16);
    p[2] = (uint8_t)(body >> 8);
    p[3] = (uint8_t)body;
    be64_put(p + 4, num);
    if (t->pump != NULL)
        pump_take(t->pump, p + 12, len);
    else if (dp_src_read(t, p + 12, len, num * t->chunk) != FERRY_OK) {
        buf_unreserve(t->out, FERRY_FRAME_HDR + body);
        return FERRY_ERR_IO;
    }
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, num, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, num, t->sid, ad);
    if (aead_seal(t->aead, nonce, ad, adl, p + 12, len, p + 12) != FERRY_OK)
        return FERRY_ERR_CRYPTO;
    if (t->corrupt_chunk == num + 1) /* test mode: after sealing */
        p[12] ^= 0x01;
    /* (a fan-out's CHECK frames go after the chunk: p is not used after) */
    if ((fan_sender(t) ? fan_chain(t, num, p + 12, len + FERRY_TAG_LEN)
                       : chain_tag(t, num, p + 12 + len)) != FERRY_OK)
        return FERRY_ERR_CRYPTO;
    return FERRY_OK;
}

/* With a pool: seals chunks num[0..n) of len[i] bytes into one stretch of
 * the output buffer. They are read in order (a stream's pump gives its
 * bytes in order), sealed together on the pool, then, in order, what
 * put_chunk() does after sealing. A fan-out's CHECK frames go after the
 * chunk they follow: the caller ends a batch at such a chunk, so they land
 * after the last DATA of the batch (and may move the buffer: p is not used
 * after). */
static int put_chunks(ferry_transfer_t *t, const uint64_t *num,
                      const size_t *len, size_t n)
{
    struct cjob jobs[CPOOL_BATCH_MAX];
    size_t i, total = 0, off = 0;
    uint8_t *p, *q;

    for (i = 0; i < n; i++)
        total += FERRY_FRAME_HDR + 8 + len[i] + FERRY_TAG_LEN;
    if (buf_reserve(t->out, total, &p) != FERRY_OK)
        return FERRY_ERR_NO_SPACE;
    for (i = 0; i < n; i++) {
        uint32_t body = (uint32_t)(8 + len[i] + FERRY_TAG_LEN);
        q = p + off;
        off += FERRY_FRAME_HDR + body;
        q[0] = FRAME_DATA;
        q[1] = (uint8_t)(body >> 16);
        q[2] = (uint8_t)(body >> 8);
        q[3] = (uint8_t)body;
        be64_put(q + 4, num[i]);
        if (t->pump != NULL)
            pump_take(t->pump, q + 12, len[i]);
        else if (dp_src_read(t, q + 12, len[i], num[i] * t->chunk) !=
                 FERRY_OK) {
            buf_unreserve(t->out, total);
            return FERRY_ERR_IO;
        }
        jobs[i].num = num[i];
        jobs[i].p = q + 12;
        jobs[i].len = len[i];
        jobs[i].elem = NULL;
    }
    cpool_run(t->pool, t->aead, t->sid, 0, jobs, n);
    for (i = 0; i < n; i++) {
        if (jobs[i].rc != FERRY_OK)
            return FERRY_ERR_CRYPTO;
        q = jobs[i].p;
        if (t->corrupt_chunk == num[i] + 1) /* test mode: after sealing */
            q[0] ^= 0x01;
        if ((fan_sender(t) ? fan_chain(t, num[i], q, len[i] + FERRY_TAG_LEN)
                           : chain_tag(t, num[i], q + len[i])) != FERRY_OK)
            return FERRY_ERR_CRYPTO;
    }
    return FERRY_OK;
}

/* END: the count and, sealed, the size and the digest of this session's
 * chunk tags. */
static void put_end(ferry_transfer_t *t, uint64_t count, uint64_t size)
{
    uint8_t pt[40], sealed[FERRY_END_SEALED_LEN], nonce[12], ad[FERRY_AD_MAX];
    size_t adl;

    if (fan_sender(t)) {
        fan_put_end(t, count, size);
        return;
    }
    t->end_count = count;
    t->end_size = size;
    be64_put(pt, size);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, count, nonce);
    adl = ferry_ad(FERRY_KIND_END, count, t->sid, ad);
    /* Every chunk of the session is in the chain, none waits in the ring. */
    if (t->chained != count || t->tag_have != 0 ||
        sha256_final(t->hash, t->end_hash) != FERRY_OK) {
        dp_finish(t, FERRY_DONE_IO, "internal");
        return;
    }
    memcpy(pt + 8, t->end_hash, 32);
    if (aead_seal(t->aead, nonce, ad, adl, pt, 40, sealed) != FERRY_OK ||
        frame_put_end(t->out, count, sealed) != FERRY_OK) {
        dp_finish(t, FERRY_DONE_IO, "internal");
        return;
    }
    t->ds = D_WAIT_VERIFIED;
    dp_emit_event(t, "sent");
}

/* The source failed: the receiver hears it at once (CANCEL internal),
 * not only when the link closes. */
static void source_failed(ferry_transfer_t *t, int rc)
{
    if (rc == FERRY_ERR_IO &&
        frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_INTERNAL) == FERRY_OK)
        dp_flush(t);
    dp_finish(t, FERRY_DONE_IO,
              rc == FERRY_ERR_IO ? "source-read" : ferry_errname(rc));
}

/* ---- a stream: size unknown ------------------------------------------ */

/* Chunk number -> bytes sealed up to and with it, for the ACKs (which
 * name chunks): a bounded FIFO; when full, every other entry goes, so
 * progress stays exact or a little behind, never ahead. */
#define MARKS_MAX 4096

struct marks {
    uint64_t num[MARKS_MAX], bytes[MARKS_MAX];
    size_t n;
    uint64_t acked; /* bytes of the last ACK */
};

static void marks_add(struct marks *m, uint64_t num, uint64_t bytes)
{
    size_t i;

    if (m->n == MARKS_MAX) {
        for (i = 0; i < MARKS_MAX / 2; i++) {
            m->num[i] = m->num[2 * i + 1];
            m->bytes[i] = m->bytes[2 * i + 1];
        }
        m->n = MARKS_MAX / 2;
    }
    m->num[m->n] = num;
    m->bytes[m->n] = bytes;
    m->n++;
}

uint64_t dp_stream_acked(ferry_transfer_t *t, uint64_t next)
{
    struct marks *m = t->marks;
    size_t i = 0;

    if (m == NULL)
        return 0;
    while (i < m->n && m->num[i] < next)
        m->acked = m->bytes[i++];
    memmove(m->num, m->num + i, (m->n - i) * sizeof(m->num[0]));
    memmove(m->bytes, m->bytes + i, (m->n - i) * sizeof(m->bytes[0]));
    m->n -= i;
    return m->acked;
}

enum { EP_SOCK = 1, EP_PUMP = 2 };

int dp_stream_start(ferry_transfer_t *t)
{
    /* With a pool, room for a batch of full chunks. */
    size_t ring = t->pool != NULL
                      ? MAX(STREAM_RING_CHUNKS, cpool_batch(t->pool, t->chunk))
                      : STREAM_RING_CHUNKS;
    struct epoll_event ev;

    t->marks = g_new0(struct marks, 1);
    if ((t->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return FERRY_ERR_IO;
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u32 = EP_SOCK;
    if (epoll_ctl(t->ep, EPOLL_CTL_ADD, t->sock, &ev) < 0 ||
        (t->pump = pump_new(&t->src, ring * (size_t)t->chunk)) == NULL) {
        close(t->ep);
        return FERRY_ERR_IO;
    }
    t->ep_events = POLLIN;
    ev.data.u32 = EP_PUMP;
    (void)epoll_ctl(t->ep, EPOLL_CTL_ADD, pump_fd(t->pump), &ev);
    /* The pump's thread may still be inside read() when the transfer is
     * freed: the source is closed by the pump, after that read(). */
    t->src.close = NULL;
    return FERRY_OK;
}

void dp_stream_free(ferry_transfer_t *t)
{
    if (t->pump != NULL) {
        pump_release(t->pump);
        close(t->ep);
        t->pump = NULL;
    }
    g_free(t->marks);
    t->marks = NULL;
}

/* Microseconds until a chunk should be sealed: 0 now, -1 not on time
 * (nothing waits, or no room: the socket or a frame wakes us). */
static gint64 stream_due_us(ferry_transfer_t *t, gint64 now)
{
    size_t need = dp_frame_room(t), avail;
    enum pump_state st;
    gint64 since;

    if (t->ds != D_STREAMING || t->paused || buf_avail(t->out) < need)
        return -1;
    avail = pump_avail(t->pump, &st, &since);
    if (st != PUMP_OPEN || avail >= t->chunk)
        return 0;
    if (avail == 0)
        return -1;
    return MAX(since + STREAM_FLUSH_US - now, 0);
}

void dp_stream_want(ferry_transfer_t *t, struct pollfd *p, short sock_events,
                    int *timeout_ms)
{
    struct epoll_event ev;
    short want = sock_events | (buf_len(t->out) > 0 ? POLLOUT : 0);
    gint64 due = stream_due_us(t, g_get_monotonic_time());
    int ms;

    if (want != t->ep_events) {
        memset(&ev, 0, sizeof(ev));
        ev.events =
            (want & POLLIN ? EPOLLIN : 0) | (want & POLLOUT ? EPOLLOUT : 0);
        ev.data.u32 = EP_SOCK;
        if (epoll_ctl(t->ep, EPOLL_CTL_MOD, t->sock, &ev) == 0)
            t->ep_events = want;
    }
    if (due >= 0) {
        ms = (int)((due + 999) / 1000);
        if (*timeout_ms < 0 || ms < *timeout_ms)
            *timeout_ms = ms;
    }
    p->fd = t->ep;
    p->events = POLLIN;
    p->revents = 0;
}

short dp_stream_revents(ferry_transfer_t *t)
{
    struct epoll_event ev[2];
    short rev = 0;
    int i, n;

    n = epoll_wait(t->ep, ev, 2, 0);
    for (i = 0; i < n; i++)
        if (ev[i].data.u32 == EP_SOCK)
            rev |= (ev[i].events & EPOLLIN ? POLLIN : 0) |
                   (ev[i].events & EPOLLOUT ? POLLOUT : 0) |
                   (ev[i].events & EPOLLHUP ? POLLHUP : 0) |
                   (ev[i].events & EPOLLERR ? POLLERR : 0);
    pump_drain(t->pump);
    return rev;
}

/* A stream's full chunks waiting (avail bytes), as many as fit, sealed
 * together; returns the bytes sealed (0 when it failed: the transfer
 * ended). */
static uint64_t stream_batch(ferry_transfer_t *t, size_t avail, size_t need)
{
    uint64_t num[CPOOL_BATCH_MAX];
    size_t len[CPOOL_BATCH_MAX], n = 0, i;
    size_t max = cpool_batch(t->pool, t->chunk);
    int rc;

    while (n < max && avail >= ((uint64_t)n + 1) * t->chunk &&
           buf_avail(t->out) / need >= n + 1) {
        num[n] = t->next + n;
        len[n] = t->chunk;
        n++;
        if (fan_checks_after(t, num[n - 1]))
            break;
    }
    if ((rc = put_chunks(t, num, len, n)) != FERRY_OK) {
        source_failed(t, rc);
        return 0;
    }
    for (i = 0; i < n; i++) {
        t->sealed += t->chunk;
        marks_add(t->marks, t->next, t->sealed);
        t->next++;
    }
    return (uint64_t)n * t->chunk;
}

/* A stream: seal what the pump holds, a full chunk at once, a short one
 * when its oldest byte has waited STREAM_FLUSH_US or the source ended;
 * after the last, END with the count and size now known. */
static void fill_stream(ferry_transfer_t *t, size_t need, gint64 t0)
{
    enum pump_state st;
    uint64_t moved = 0;
    gint64 since;
    size_t len;
    int rc;

    while (t->ds == D_STREAMING && !t->paused && buf_avail(t->out) >= need &&
           !dp_slice_over(t, t0, moved)) {
        len = pump_avail(t->pump, &st, &since);
        if (st == PUMP_ERROR) {
            source_failed(t, FERRY_ERR_IO);
            return;
        }
        if (len == 0 && st == PUMP_END) {
            put_end(t, t->next, t->sealed);
            return;
        }
        if (len == 0 || (len < t->chunk && st == PUMP_OPEN &&
                         g_get_monotonic_time() - since < STREAM_FLUSH_US))
            return; /* dp_stream_want() sets the timer */
        if (t->pool != NULL && len >= 2 * (size_t)t->chunk) {
            /* Full chunks waiting: seal them together. */
            moved += stream_batch(t, len, need);
            continue;
        }
        len = MIN(len, (size_t)t->chunk);
        if ((rc = put_chunk(t, t->next, len)) != FERRY_OK) {
            source_failed(t, rc);
            return;
        }
        t->sealed += len;
        marks_add(t->marks, t->next, t->sealed);
        t->next++;
        moved += len;
    }
}

size_t dp_frame_room(const ferry_transfer_t *t)
{
    return FERRY_FRAME_HDR + 8 + t->chunk + FERRY_TAG_LEN +
           (fan_sender(t) ? t->group->nslots * (FERRY_FRAME_HDR + FERRY_LEG_MAX)
                          : 0);
}

/* A file's next chunks, as many as fit, sealed together; returns how many
 * (0 when it failed: the transfer ended). */
static size_t file_batch(ferry_transfer_t *t, size_t need)
{
    uint64_t num[CPOOL_BATCH_MAX];
    size_t len[CPOOL_BATCH_MAX], n = 0;
    size_t max = cpool_batch(t->pool, t->chunk);
    int rc;

    while (n < max && t->next + n < t->nchunks &&
           buf_avail(t->out) / need >= n + 1) {
        num[n] = t->order ? t->order[t->next + n] : t->next + n;
        len[n] = (size_t)MIN(t->size - num[n] * t->chunk, t->chunk);
        n++;
        if (fan_checks_after(t, num[n - 1]))
            break;
    }
    if ((rc = put_chunks(t, num, len, n)) != FERRY_OK) {
        source_failed(t, rc);
        return 0;
    }
    t->next += n;
    return n;
}

/* Sender: fill the output buffer with sealed chunks while there is room. */
void dp_fill(ferry_transfer_t *t)
{
    size_t need = dp_frame_room(t);
    gint64 t0 = g_get_monotonic_time();
    uint64_t sealed = 0, num, off;
    size_t n;
    int rc;

    if (t->pump != NULL) {
        fill_stream(t, need, t0);
        return;
    }
    while (t->ds == D_STREAMING && !t->paused && buf_avail(t->out) >= need &&
           !dp_slice_over(t, t0, sealed)) {
        if (t->next == t->nchunks) {
            put_end(t, t->nchunks, t->size);
            return;
        }
        if (t->pool != NULL && t->first_out) {
            if ((n = file_batch(t, need)) == 0)
                return;
            sealed += (uint64_t)n * t->chunk;
            continue;
        }
        num = t->order ? t->order[t->next] : t->next;
        off = num * t->chunk;
        rc = put_chunk(t, num, (size_t)MIN(t->size - off, t->chunk));
        if (rc != FERRY_OK) {
            source_failed(t, rc);
            return;
        }
        t->next++;
        sealed += t->chunk;
        /* The first chunk goes out alone, before a buffer's worth is read
         * and sealed: the receiver's first byte waits for one chunk only
         * (bench/first-byte: 1 MiB went in the first write before). */
        if (!t->first_out) {
            t->first_out = 1;
            dp_flush(t);
        }
    }
}
