/* Ferry for Profanity: the transfers the user sees, numbered from 1, and
 * the plugin's own log file (one line per event, for people and tests). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "xfer.h"

#define KEEP_DONE 20 /* finished entries /ferry list still shows */

static GList *all;
static int next_id = 1;
static FILE *plog_fp;

double xfer_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void xfer_human(uint64_t n, char *out, size_t len)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int i = 0;

    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, len, "%llu B", (unsigned long long)n);
    else
        snprintf(out, len, "%.1f %s", v, u[i]);
}

char *xfer_bare(const char *jid)
{
    return g_strndup(jid, strcspn(jid, "/"));
}

struct xfer *xfer_new(ferry_transfer_t *t, const char *peer, const char *name,
                      uint64_t size, int sender)
{
    struct xfer *x = g_new0(struct xfer, 1);

    x->x_id = next_id++;
    x->x_t = t;
    x->x_full = g_strdup(peer);
    x->x_peer = xfer_bare(peer);
    x->x_name = g_strdup(name);
    x->x_size = size;
    x->x_sender = sender;
    x->x_state = sender ? X_WAITING : X_OFFERED;
    x->x_t0 = xfer_now();
    ferry_transfer_set_userdata(t, x);
    all = g_list_append(all, x);
    return x;
}

struct xfer *xfer_of(ferry_transfer_t *t)
{
    return t ? ferry_transfer_userdata(t) : NULL;
}

struct xfer *xfer_get(int id)
{
    GList *l;

    for (l = all; l; l = l->next)
        if (((struct xfer *)l->data)->x_id == id)
            return l->data;
    return NULL;
}

struct xfer *xfer_newest(int mask, int *count)
{
    struct xfer *found = NULL;
    int n = 0;
    GList *l;

    for (l = all; l; l = l->next) {
        struct xfer *x = l->data;
        if (x->x_state & mask) {
            found = x;
            n++;
        }
    }
    if (count)
        *count = n;
    return found;
}

GList *xfer_all(void)
{
    return all;
}

static void xfer_free(struct xfer *x)
{
    if (x == NULL)
        return;
    g_free(x->x_peer);
    g_free(x->x_full);
    g_free(x->x_name);
    g_free(x->x_path);
    g_free(x->x_reason);
    g_free(x);
}

void xfer_finish(struct xfer *x, ferry_status_t st, const char *reason)
{
    int done = 0;
    GList *l, *next;

    x->x_state = X_DONE;
    x->x_status = st;
    x->x_reason = g_strdup(reason);
    x->x_t = NULL;
    for (l = all; l; l = l->next)
        done += ((struct xfer *)l->data)->x_state == X_DONE;
    for (l = all; l && done > KEEP_DONE; l = next) {
        struct xfer *o = l->data;
        next = l->next;
        if (o->x_state == X_DONE) {
            all = g_list_delete_link(all, l);
            xfer_free(o);
            done--;
        }
    }
}

void xfer_free_all(void)
{
    g_list_free_full(all, (GDestroyNotify)xfer_free);
    all = NULL;
}

char *xfer_describe(const struct xfer *x)
{
    char size[32], done[32];
    const char *st;

    xfer_human(x->x_size, size, sizeof(size));
    xfer_human(x->x_done, done, sizeof(done));
    switch (x->x_state) {
    case X_OFFERED:
        st = "offered to you";
        break;
    case X_WAITING:
        st = "waiting for the peer";
        break;
    case X_ACTIVE:
        st = "moving";
        break;
    default:
        st = x->x_status == FERRY_DONE_OK ? "verified"
                                          : ferry_status_name(x->x_status);
    }
    return g_strdup_printf(
        "#%d %s %s %s (%s) %s, %s %d%%%s%s", x->x_id,
        x->x_sender ? "to" : "from", x->x_peer, x->x_name, size, st, done,
        x->x_size ? (int)(100.0 * (double)x->x_done / (double)x->x_size)
                  : (x->x_state == X_DONE ? 100 : 0),
        x->x_reason && x->x_status != FERRY_DONE_OK ? " reason=" : "",
        x->x_reason && x->x_status != FERRY_DONE_OK ? x->x_reason : "");
}

char *xfer_result_text(const struct xfer *x, ferry_status_t st,
                       const char *reason, double seconds)
{
    char size[32];

    xfer_human(x->x_size, size, sizeof(size));
    if (st == FERRY_DONE_OK && x->x_sender)
        return g_strdup_printf("ferry: #%d %s (%s) to %s: verified, %.1f s",
                               x->x_id, x->x_name, size, x->x_peer, seconds);
    if (st == FERRY_DONE_OK)
        return g_strdup_printf(
            "ferry: #%d %s (%s) from %s: verified, saved as %s", x->x_id,
            x->x_name, size, x->x_peer, x->x_path);
    if (st == FERRY_DONE_REJECTED && !x->x_sender)
        return g_strdup_printf("ferry: #%d %s from %s: declined", x->x_id,
                               x->x_name, x->x_peer);
    return g_strdup_printf("ferry: #%d %s %s %s failed: %s (%s)", x->x_id,
                           x->x_name, x->x_sender ? "to" : "from", x->x_peer,
                           ferry_status_name(st),
                           reason ? reason : "no reason given");
}

void plog_open(const char *path)
{
    plog_close();
    if (path == NULL || *path == '\0')
        return;
    plog_fp = fopen(path, "a");
    if (plog_fp != NULL)
        setvbuf(plog_fp, NULL, _IOLBF, 0);
}

void plog_close(void)
{
    if (plog_fp != NULL)
        fclose(plog_fp);
    plog_fp = NULL;
}

void plog(const char *fmt, ...)
{
    struct timespec ts;
    va_list ap;

    if (plog_fp == NULL)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(plog_fp, "%lld.%03ld ferry: ", (long long)ts.tv_sec,
            ts.tv_nsec / 1000000);
    va_start(ap, fmt);
    vfprintf(plog_fp, fmt, ap);
    va_end(ap);
    fputc('\n', plog_fp);
}
