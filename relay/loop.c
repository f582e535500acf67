#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"

struct slot {
    int mask;
    loop_fn *fn;
    void *ud;
};

struct loop {
    int epfd;
    int setsize;
    struct slot *slots;
    struct epoll_event *events;
    int stop;
    int tick_ms;
    long long next_tick;
    loop_tick_fn *tick_fn;
    void *tick_ud;
    loop_tick_fn *sleep_fn;
    void *sleep_ud;
};

long long loop_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct loop *loop_new(int setsize)
{
    struct loop *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->setsize = setsize;
    l->slots = calloc((size_t)setsize, sizeof(*l->slots));
    l->events = calloc((size_t)setsize, sizeof(*l->events));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->slots == NULL || l->events == NULL || l->epfd < 0) {
        loop_free(l);
        return NULL;
    }
    return l;
}

void loop_free(struct loop *l)
{
    if (l == NULL)
        return;
    if (l->epfd >= 0)
        close(l->epfd);
    free(l->slots);
    free(l->events);
    free(l);
}

static int apply(struct loop *l, int fd, int oldmask, int mask)
{
    struct epoll_event ee;
    int op;

    memset(&ee, 0, sizeof(ee));
    ee.data.fd = fd;
    if (mask & LOOP_READ)
        ee.events |= EPOLLIN | EPOLLRDHUP;
    if (mask & LOOP_WRITE)
        ee.events |= EPOLLOUT;
    if (oldmask == 0 && mask == 0)
        return 0;
    if (mask == 0)
        op = EPOLL_CTL_DEL;
    else
        op = oldmask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    return epoll_ctl(l->epfd, op, fd, &ee);
}

int loop_set(struct loop *l, int fd, int mask, loop_fn *fn, void *ud)
{
    struct slot *s;

    if (fd < 0 || fd >= l->setsize) {
        errno = ERANGE;
        return -1;
    }
    s = &l->slots[fd];
    /* An fd with no interest stays out of the epoll set, but keeps its
     * handler so a later loop_mask() can add it back. */
    if (apply(l, fd, s->fn ? s->mask : 0, mask) < 0)
        return -1;
    s->mask = mask;
    s->fn = fn;
    s->ud = ud;
    return 0;
}

int loop_mask(struct loop *l, int fd, int add, int del)
{
    struct slot *s = &l->slots[fd];
    int mask = (s->mask | add) & ~del;

    if (mask == s->mask)
        return 0;
    if (apply(l, fd, s->mask, mask) < 0)
        return -1;
    s->mask = mask;
    return 0;
}

int loop_getmask(struct loop *l, int fd)
{
    return l->slots[fd].mask;
}

void loop_del(struct loop *l, int fd)
{
    struct slot *s;

    if (fd < 0 || fd >= l->setsize)
        return;
    s = &l->slots[fd];
    if (s->mask != 0)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    memset(s, 0, sizeof(*s));
}

void loop_on_tick(struct loop *l, int interval_ms, loop_tick_fn *fn, void *ud)
{
    l->tick_ms = interval_ms;
    l->tick_fn = fn;
    l->tick_ud = ud;
    l->next_tick = loop_now_ms() + interval_ms;
}

void loop_on_before_sleep(struct loop *l, loop_tick_fn *fn, void *ud)
{
    l->sleep_fn = fn;
    l->sleep_ud = ud;
}

void loop_stop(struct loop *l)
{
    l->stop = 1;
}

void loop_run(struct loop *l)
{
    int n, i, fd, mask, timeout;
    long long now;
    struct slot *s;

    while (!l->stop) {
        if (l->sleep_fn)
            l->sleep_fn(l, l->sleep_ud);
        timeout = -1;
        if (l->tick_fn) {
            now = loop_now_ms();
            timeout = l->next_tick > now ? (int)(l->next_tick - now) : 0;
        }
        n = epoll_wait(l->epfd, l->events, l->setsize, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fatal("epoll_wait");
        }
        for (i = 0; i < n; i++) {
            fd = l->events[i].data.fd;
            s = &l->slots[fd];
            mask = 0;
            if (l->events[i].events &
                (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                mask |= LOOP_READ;
            if (l->events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                mask |= LOOP_WRITE;
            /* Read first; the read handler may change or drop the
             * registration, so check the slot again before writing. */
            if ((mask & LOOP_READ) && (s->mask & LOOP_READ) && s->fn)
                s->fn(l, fd, s->ud, LOOP_READ);
            if ((mask & LOOP_WRITE) && (s->mask & LOOP_WRITE) && s->fn)
                s->fn(l, fd, s->ud, LOOP_WRITE);
        }
        if (l->tick_fn && loop_now_ms() >= l->next_tick) {
            l->next_tick = loop_now_ms() + l->tick_ms;
            l->tick_fn(l, l->tick_ud);
        }
    }
}
