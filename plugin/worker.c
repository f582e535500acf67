/* libferry: thread mode. The data half of every transfer runs on one
 * worker thread with a poll loop of its own; the host's thread keeps the
 * session half and libstrophe. They talk through two queues, each with an
 * eventfd to wake the other side: commands (add, cancel, quit) go to the
 * worker, events (event, progress, done) come back and are delivered as
 * callbacks by ferry_process() on the host's thread. A transfer's "done"
 * is posted only after the worker has let go of it, so the host may free
 * it as soon as it is delivered. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "err.h"
#include "internal.h"

enum { CMD_ADD, CMD_CANCEL, CMD_QUIT };

struct cmd {
    int kind;
    ferry_transfer_t *t;
    int code;
};

struct event {
    int kind;
    ferry_transfer_t *t;
    const char *what;
    int st;
};

struct worker {
    GThread *th;
    int cmd_fd, ev_fd;
    GMutex lock;
    GQueue cmds, events;
    GList *owned; /* the worker's alone */
    int quit;
};

static void wake(int fd)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is already non-zero, the reader wakes. */
    }
}

static void drain(int fd)
{
    uint64_t v;

    if (read(fd, &v, sizeof(v)) < 0) {
        /* EAGAIN: nothing was signalled */
    }
}

void worker_post(ferry_transfer_t *t, int kind, uint64_t value,
                 const char *what)
{
    struct worker *w = t->ctx->worker;
    struct event *e;

    g_mutex_lock(&w->lock);
    if (kind == EV_PROGRESS && t->prog_pending) {
        t->prog_value = value; /* one queued progress event is enough */
        g_mutex_unlock(&w->lock);
        return;
    }
    e = g_new0(struct event, 1);
    e->kind = kind;
    e->t = t;
    e->what = what;
    e->st = kind == EV_DONE ? (int)t->done_st : 0;
    if (kind == EV_PROGRESS) {
        t->prog_pending = 1;
        t->prog_value = value;
    }
    g_queue_push_tail(&w->events, e);
    g_mutex_unlock(&w->lock);
    wake(w->ev_fd);
}

/* Worker side: hands back the transfers that are done. */
static void release_done(struct worker *w)
{
    GList *l = w->owned, *next;

    while (l) {
        ferry_transfer_t *t = l->data;
        next = l->next;
        if (t->done_emitted) {
            w->owned = g_list_delete_link(w->owned, l);
            worker_post(t, EV_DONE, 0, t->done_reason);
        }
        l = next;
    }
}

static void run_commands(struct worker *w)
{
    struct cmd *c;

    drain(w->cmd_fd);
    for (;;) {
        g_mutex_lock(&w->lock);
        c = g_queue_pop_head(&w->cmds);
        g_mutex_unlock(&w->lock);
        if (c == NULL)
            break;
        if (c->kind == CMD_ADD) {
            w->owned = g_list_append(w->owned, c->t);
            dp_setup(c->t);
        } else if (c->kind == CMD_CANCEL) {
            /* Only a transfer still held: a done one may be freed. */
            if (g_list_find(w->owned, c->t) != NULL)
                dp_cancel_now(c->t, c->code);
        } else
            w->quit = 1;
        g_free(c);
    }
}

static gpointer worker_main(gpointer p)
{
    struct worker *w = p;
    GArray *fds = g_array_new(FALSE, FALSE, sizeof(struct pollfd));
    GPtrArray *own = g_ptr_array_new();
    struct pollfd pf;
    time_t now;
    GList *l;
    guint i;
    int to, prio;

    /* Bulk data yields to the host's thread (its UI) when cores are
     * short: a little less priority for this thread alone. */
    errno = 0;
    prio = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (errno == 0)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), prio + 5);
    while (!w->quit) {
        now = ferry_now();
        g_array_set_size(fds, 0);
        g_ptr_array_set_size(own, 0);
        pf.fd = w->cmd_fd;
        pf.events = POLLIN;
        pf.revents = 0;
        g_array_append_val(fds, pf);
        g_ptr_array_add(own, NULL);
        to = -1;
        for (l = w->owned; l; l = l->next)
            if (dp_want(l->data, &pf, &to, now)) {
                g_array_append_val(fds, pf);
                g_ptr_array_add(own, l->data);
            }
        if (poll((struct pollfd *)(void *)fds->data, fds->len, to) < 0 &&
            errno != EINTR)
            break;
        run_commands(w);
        release_done(w);
        now = ferry_now();
        for (l = w->owned; l; l = l->next) {
            ferry_transfer_t *t = l->data;
            short rev = 0;
            for (i = 1; i < fds->len; i++)
                if (own->pdata[i] == t)
                    rev |= g_array_index(fds, struct pollfd, i).revents;
            dp_run(t, rev, now);
        }
        release_done(w);
    }
    /* Going down: end what is still held, so every transfer gets its
     * done. */
    for (l = w->owned; l; l = l->next)
        dp_cancel_now(l->data, FERRY_ERR_CANCELLED);
    release_done(w);
    g_array_free(fds, TRUE);
    g_ptr_array_free(own, TRUE);
    return NULL;
}

static void command(ferry_ctx_t *ctx, int kind, ferry_transfer_t *t, int code)
{
    struct worker *w = ctx->worker;
    struct cmd *c = g_new0(struct cmd, 1);

    c->kind = kind;
    c->t = t;
    c->code = code;
    g_mutex_lock(&w->lock);
    g_queue_push_tail(&w->cmds, c);
    g_mutex_unlock(&w->lock);
    wake(w->cmd_fd);
}

int worker_start(ferry_ctx_t *ctx)
{
    struct worker *w = g_new0(struct worker, 1);

    g_mutex_init(&w->lock);
    g_queue_init(&w->cmds);
    g_queue_init(&w->events);
    w->cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->ev_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ctx->worker = w;
    if (w->cmd_fd < 0 || w->ev_fd < 0 ||
        (w->th = g_thread_try_new("ferry-data", worker_main, w, NULL)) ==
            NULL) {
        worker_stop(ctx);
        return FERRY_ERR_IO;
    }
    return FERRY_OK;
}

void worker_add(ferry_ctx_t *ctx, ferry_transfer_t *t)
{
    command(ctx, CMD_ADD, t, 0);
}

void worker_cancel(ferry_ctx_t *ctx, ferry_transfer_t *t, int code)
{
    command(ctx, CMD_CANCEL, t, code);
}

int worker_event_fd(ferry_ctx_t *ctx)
{
    return ctx->worker ? ctx->worker->ev_fd : -1;
}

void worker_deliver(ferry_ctx_t *ctx)
{
    struct worker *w = ctx->worker;
    GQueue q = G_QUEUE_INIT;
    struct event *e;
    uint64_t v;

    if (w == NULL)
        return;
    drain(w->ev_fd);
    g_mutex_lock(&w->lock);
    q = w->events;
    g_queue_init(&w->events);
    g_mutex_unlock(&w->lock);
    while ((e = g_queue_pop_head(&q)) != NULL) {
        ferry_transfer_t *t = e->t;
        if (e->kind == EV_EVENT)
            transfer_event(t, e->what);
        else if (e->kind == EV_PROGRESS) {
            g_mutex_lock(&w->lock);
            v = t->prog_value;
            t->prog_pending = 0;
            g_mutex_unlock(&w->lock);
            transfer_progress(t, v);
        } else
            transfer_finish(t, (ferry_status_t)e->st, e->what);
        g_free(e);
    }
}

void worker_stop(ferry_ctx_t *ctx)
{
    struct worker *w = ctx->worker;

    if (w == NULL)
        return;
    if (w->th != NULL) {
        command(ctx, CMD_QUIT, NULL, 0);
        g_thread_join(w->th);
        w->th = NULL;
    }
    worker_deliver(ctx);
    if (w->cmd_fd >= 0)
        close(w->cmd_fd);
    if (w->ev_fd >= 0)
        close(w->ev_fd);
    g_queue_clear_full(&w->cmds, g_free);
    g_queue_clear_full(&w->events, g_free);
    g_mutex_clear(&w->lock);
    g_free(w);
    ctx->worker = NULL;
}
