/* libferry: a stream source's reader thread and its bounded ring (see
 * pump.h). The thread writes into the free part of the ring and the data
 * half reads from the filled part; only the indices change under the
 * lock, so neither copies while holding it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "pump.h"

#define PUMP_READ_MAX 65536    /* bytes asked of one read() */
#define PUMP_RETRY_MIN_US 1000 /* after EAGAIN: first pause ... */
#define PUMP_RETRY_MAX_US 8000 /* ... doubling up to this */

struct pump {
    ferry_source_t src;
    int efd;
    GMutex lock;
    GCond cond; /* the thread waits here for room (or a stop) */
    uint8_t *ring;
    size_t cap, head, len; /* filled: [head, head + len) mod cap */
    uint64_t offset;       /* bytes read so far */
    gint64 since;
    enum pump_state state;
    int stop;
    int refs; /* the transfer and the thread */
};

static void wake(int fd)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is already non-zero; the reader wakes. */
    }
}

static void pump_free(struct pump *p)
{
    if (p->src.close != NULL)
        p->src.close(p->src.userdata);
    close(p->efd);
    g_mutex_clear(&p->lock);
    g_cond_clear(&p->cond);
    free(p->ring);
    free(p);
}

static void unref(struct pump *p)
{
    int last;

    g_mutex_lock(&p->lock);
    last = --p->refs == 0;
    g_mutex_unlock(&p->lock);
    if (last)
        pump_free(p);
}

static gpointer pump_main(gpointer arg)
{
    struct pump *p = arg;
    gint64 retry = PUMP_RETRY_MIN_US;
    size_t at, want;
    ssize_t n;

    for (;;) {
        g_mutex_lock(&p->lock);
        while (!p->stop && p->len == p->cap)
            g_cond_wait(&p->cond, &p->lock);
        if (p->stop) {
            g_mutex_unlock(&p->lock);
            break;
        }
        at = (p->head + p->len) % p->cap;
        want = MIN(p->cap - p->len, p->cap - at);
        want = MIN(want, PUMP_READ_MAX);
        g_mutex_unlock(&p->lock);

        n = p->src.read(p->src.userdata, p->offset, p->ring + at, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* The source has no fd to wait on: ask again shortly. */
            g_mutex_lock(&p->lock);
            if (!p->stop)
                g_cond_wait_until(&p->cond, &p->lock,
                                  g_get_monotonic_time() + retry);
            g_mutex_unlock(&p->lock);
            retry = MIN(retry * 2, PUMP_RETRY_MAX_US);
            continue;
        }
        retry = PUMP_RETRY_MIN_US;
        g_mutex_lock(&p->lock);
        if (n > 0 && (size_t)n <= want) {
            if (p->len == 0)
                p->since = g_get_monotonic_time();
            p->len += (size_t)n;
            p->offset += (uint64_t)n;
        } else
            p->state = n == 0 ? PUMP_END : PUMP_ERROR;
        g_mutex_unlock(&p->lock);
        wake(p->efd);
        if (n <= 0 || (size_t)n > want)
            break;
    }
    unref(p);
    return NULL;
}

struct pump *pump_new(const ferry_source_t *src, size_t cap)
{
    struct pump *p = calloc(1, sizeof(*p));
    GThread *th;

    if (p == NULL)
        return NULL;
    p->src = *src;
    p->cap = cap;
    p->refs = 2;
    g_mutex_init(&p->lock);
    g_cond_init(&p->cond);
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    p->ring = malloc(cap);
    if (p->efd < 0 || p->ring == NULL ||
        (th = g_thread_try_new("ferry-source", pump_main, p, NULL)) == NULL) {
        p->src.close = NULL; /* the caller keeps the source */
        pump_free(p);
        return NULL;
    }
    g_thread_unref(th); /* detached: it frees itself */
    return p;
}

int pump_fd(const struct pump *p)
{
    return p->efd;
}

void pump_drain(struct pump *p)
{
    uint64_t v;

    if (read(p->efd, &v, sizeof(v)) < 0) {
        /* EAGAIN: nothing was signalled */
    }
}

size_t pump_avail(struct pump *p, enum pump_state *state, gint64 *since)
{
    size_t n;

    g_mutex_lock(&p->lock);
    n = p->len;
    *state = p->state;
    *since = n > 0 ? p->since : 0;
    g_mutex_unlock(&p->lock);
    return n;
}

void pump_take(struct pump *p, uint8_t *dst, size_t len)
{
    size_t head, first;

    g_mutex_lock(&p->lock);
    head = p->head;
    g_mutex_unlock(&p->lock);
    /* The thread writes only outside [head, head + len): copy unlocked. */
    first = MIN(len, p->cap - head);
    memcpy(dst, p->ring + head, first);
    memcpy(dst + first, p->ring, len - first);
    g_mutex_lock(&p->lock);
    p->head = (head + len) % p->cap;
    p->len -= len;
    /* What is left arrived after the bytes taken: keeping their time is
     * early, never late. */
    g_cond_signal(&p->cond);
    g_mutex_unlock(&p->lock);
}

void pump_release(struct pump *p)
{
    if (p == NULL)
        return;
    g_mutex_lock(&p->lock);
    p->stop = 1;
    g_cond_signal(&p->cond);
    g_mutex_unlock(&p->lock);
    unref(p);
}
