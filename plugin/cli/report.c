/* ferry CLI: what the user sees. One progress line on a terminal, lines a
 * person reads for what happened, one summary line per file, and for a
 * failure the cause and the exit status it means. With -v the
 * machine-readable lines (sid=, event=, mono=) that benchmarks parse. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "cli.h"

struct tstat {
    double t_start;  /* first heard of (the receiver: accepted) */
    double t_data;   /* the sender: accepted */
    double t_rate;   /* the rate's last sample; 0 before any progress */
    uint64_t done_rate, first_done, last_done;
    double rate; /* bytes/s, smoothed */
    int resuming; /* tell the resume point with the next progress */
};

static GHashTable *stats; /* ferry_transfer_t* -> struct tstat */
static int line_shown;
static double last_draw;
static unsigned slow_downs;

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void human_size(double v, char *out, size_t len)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;

    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    if (i == 0)
        snprintf(out, len, "%.0f B", v);
    else
        snprintf(out, len, "%.1f %s", v, u[i]);
}

static void human_time(double s, char *out, size_t len)
{
    long v = s < 0 ? 0 : (long)(s + 0.5);

    if (v >= 3600)
        snprintf(out, len, "%ld:%02ld:%02ld", v / 3600, v / 60 % 60, v % 60);
    else
        snprintf(out, len, "%ld:%02ld", v / 60, v % 60);
}

static struct tstat *stat_of(ferry_transfer_t *t)
{
    struct tstat *s;

    if (stats == NULL)
        stats = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                      g_free);
    if ((s = g_hash_table_lookup(stats, t)) == NULL) {
        s = g_new0(struct tstat, 1);
        s->t_start = now_s();
        g_hash_table_insert(stats, t, s);
    }
    return s;
}

static const char *name_of(ferry_transfer_t *t)
{
    const char *n = ferry_transfer_userdata(t);
    return n ? n : "the file";
}

void report_clear(void)
{
    if (line_shown) {
        fputs("\r\033[K", stderr);
        line_shown = 0;
    }
}

static void vsay(const char *fmt, va_list ap)
{
    report_clear();
    fputs("ferry: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void say(const char *fmt, ...)
{
    va_list ap;

    if (o.quiet)
        return;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

void err(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

void report_progress(ferry_transfer_t *t, uint64_t done, uint64_t total)
{
    struct tstat *s = stat_of(t);
    double now = now_s(), pct;
    char a[32], b[32], r[32], eta[32], bar[24];
    int w = 20, filled, i;

    if (s->t_rate == 0) {
        s->t_rate = now;
        s->done_rate = done;
    }
    if (s->resuming) {
        s->resuming = 0;
        s->first_done = done;
        say("resuming %s at %d%%", name_of(t),
            total ? (int)(100.0 * done / total) : 0);
    }
    s->last_done = done;
    /* The rate over the last half second or more, smoothed. */
    if (now - s->t_rate >= 0.5) {
        double inst = (done - s->done_rate) / (now - s->t_rate);
        s->rate = s->rate > 0 ? 0.7 * s->rate + 0.3 * inst : inst;
        s->t_rate = now;
        s->done_rate = done;
    }
    /* Before the first half second: the average so far. */
    if (s->rate == 0 && now - s->t_rate >= 0.1)
        s->rate = (done - s->done_rate) / (now - s->t_rate);
    if (o.quiet || !isatty(2) || (now - last_draw < 0.1 && done != total))
        return;
    last_draw = now;
    if (total == FERRY_SIZE_UNKNOWN) { /* a stream: no end to measure to */
        human_size((double)done, a, sizeof(a));
        human_size(s->rate, r, sizeof(r));
        fprintf(stderr, "\r\033[K%.32s %s  %s/s  (stream)", name_of(t), a,
                s->rate > 0 ? r : "-");
        line_shown = 1;
        return;
    }
    pct = total ? 100.0 * done / total : 100.0;
    filled = (int)(pct / 100 * w);
    for (i = 0; i < w; i++)
        bar[i] = i < filled ? '#' : '-';
    bar[w] = '\0';
    human_size((double)done, a, sizeof(a));
    human_size((double)total, b, sizeof(b));
    human_size(s->rate, r, sizeof(r));
    if (s->rate > 0)
        human_time((total - done) / s->rate, eta, sizeof(eta));
    else
        g_strlcpy(eta, "-:--", sizeof(eta));
    fprintf(stderr, "\r\033[K%.32s %3d%% [%s] %s / %s  %s/s  ETA %s",
            name_of(t), (int)pct, bar, a, b, s->rate > 0 ? r : "-", eta);
    line_shown = 1;
}

/* -v: the lines benchmarks parse. mono= is CLOCK_MONOTONIC, comparable
 * between processes of one host. */
static void verbose_event(ferry_transfer_t *t, const char *what)
{
    double now = now_s();

    report_clear();
    /* From the channel on, the session's cipher is settled. */
    fprintf(stderr, "ferry: sid=%s event=%s ms=%.1f mono=%.6f%s%s\n",
            ferry_transfer_sid(t), what, (now - stat_of(t)->t_start) * 1e3, now,
            strcmp(what, "channel") == 0 || strcmp(what, "admitted") == 0
                ? " cipher="
                : "",
            strcmp(what, "channel") == 0 || strcmp(what, "admitted") == 0
                ? ferry_transfer_cipher(t)
                : "");
}

void report_event(ferry_transfer_t *t, const char *what)
{
    char size[32];

    if (strcmp(what, "slow-down") == 0)
        slow_downs++;
    if (strcmp(what, "accepted") == 0)
        stat_of(t)->t_data = now_s();
    if (strcmp(what, "resuming") == 0)
        stat_of(t)->resuming = 1;
    if (o.verbose) {
        /* Flow control can flip many times a second: the first only. */
        if ((strcmp(what, "slow-down") != 0 &&
             strcmp(what, "resume") != 0) ||
            slow_downs <= 1)
            verbose_event(t, what);
        return;
    }
    if (ferry_transfer_size(t) == FERRY_SIZE_UNKNOWN)
        g_strlcpy(size, "a stream", sizeof(size));
    else
        human_size((double)ferry_transfer_size(t), size, sizeof(size));
    if (strcmp(what, "waiting") == 0)
        say("waiting for %s to come online (up to %d s; --wait to change)",
            ferry_transfer_peer(t), o.wait);
    else if (strcmp(what, "offered") == 0)
        say("offered %s (%s) to %s", name_of(t), size,
            ferry_transfer_peer(t));
    else if (strcmp(what, "accepted") == 0)
        say("%s accepted", ferry_transfer_peer(t));
}

static int one_of(const char *r, const char *const *set)
{
    for (; r != NULL && *set != NULL; set++)
        if (strcmp(r, *set) == 0)
            return 1;
    return 0;
}

static const char *const refusals[] = {"quota-exceeded", "rate-limited",
                                       "no-relay", "quota", "policy",
                                       "not-authorized", NULL};
static const char *const relay_down[] = {
    "relay-unreachable", "relay-unresolved", "relay-tls-failed",
    "relay-connect-timeout", "relay-tls-timeout", "relay-handshake-timeout",
    NULL};

/* The cause of a failure, for people, and its exit status. */
static int explain(ferry_transfer_t *t, ferry_status_t s, const char *r,
                   char *msg, size_t len)
{
    const char *peer = ferry_transfer_peer(t), *name = name_of(t);
    const char *detail = ferry_transfer_detail(t);
    int sender = ferry_transfer_is_sender(t);

    r = r ? r : "";
    if (one_of(r, refusals)) {
        snprintf(msg, len, "the Ferry service refused the transfer of %s: %s",
                 name,
                 detail[0] ? detail
                 : strcmp(r, "no-relay") == 0 ? "no relay is available"
                 : strcmp(r, "rate-limited") == 0 ? "too many requests"
                                                  : "quota exceeded");
        return EX_REFUSED;
    }
    if (one_of(r, relay_down)) {
        snprintf(msg, len, "the relay could not be reached (%s)%s%s", r,
                 detail[0] ? ": " : "", detail);
        return EX_RELAY_DOWN;
    }
    switch (s) {
    case FERRY_DONE_OK:
        return EX_DONE;
    case FERRY_DONE_REJECTED:
        if (strcmp(r, "busy") == 0)
            snprintf(msg, len, "%s is busy and declined %s", peer, name);
        else if (strcmp(r, "too-large") == 0)
            snprintf(msg, len, "%s declined %s: too large", peer, name);
        else if (strcmp(r, "not-acceptable") == 0)
            snprintf(msg, len, "%s did not take %s (not accepted there)",
                     peer, name);
        else
            snprintf(msg, len, "%s declined %s", peer, name);
        return EX_REJECTED;
    case FERRY_DONE_PEER_GONE:
        if (strcmp(r, "offline") == 0 && sender &&
            strchr(peer, '/') == NULL)
            snprintf(msg, len,
                     "no Ferry client of %s is online (waited %d s): it is "
                     "offline, the address is wrong, or it runs no Ferry "
                     "client. Start `ferry recv` there, or wait longer "
                     "with --wait",
                     peer, o.wait);
        else if (strcmp(r, "offline") == 0)
            snprintf(msg, len, "%s is not online%s%s", peer,
                     detail[0] ? ": " : "", detail);
        else if (strcmp(r, "no-such-server") == 0 ||
                 strcmp(r, "server-unreachable") == 0)
            snprintf(msg, len, "the server of %s cannot be reached (%s)",
                     peer, detail[0] ? detail : r);
        else if (strcmp(r, "unavailable") == 0 ||
                 strcmp(r, "no-such-user") == 0 ||
                 strcmp(r, "forbidden") == 0)
            snprintf(msg, len, "%s cannot be reached: %s", peer,
                     detail[0] ? detail : r);
        else
            snprintf(msg, len, "the connection to %s was lost (%s)", peer,
                     r);
        return EX_PEER_GONE;
    case FERRY_DONE_INTEGRITY:
        snprintf(msg, len, "%s did not verify (%s)%s", name, r,
                 sender ? "" : ": nothing was saved under its name");
        return EX_INTEGRITY;
    case FERRY_DONE_TIMEOUT:
        snprintf(msg, len, "%s: %s did not answer in time (%s)", name, peer,
                 r);
        return EX_TIMEOUT;
    case FERRY_DONE_CANCELLED:
        if (strcmp(r, "offline") == 0) {
            snprintf(msg, len, "%s went offline", peer);
            return EX_PEER_GONE;
        }
        snprintf(msg, len, "%s: cancelled%s%s", name,
                 strcmp(r, "cancelled") == 0 ? "" : " (",
                 strcmp(r, "cancelled") == 0 ? "" : r);
        if (strcmp(r, "cancelled") != 0)
            g_strlcat(msg, ")", len);
        return EX_CANCELLED;
    case FERRY_DONE_REFUSED:
        snprintf(msg, len, "%s was refused by the relay or the component (%s)",
                 name, detail[0] ? detail : r);
        return EX_REFUSED;
    default:
        snprintf(msg, len, "%s: local I/O error (%s)%s%s", name, r,
                 detail[0] ? ": " : "", detail);
        return EX_IO;
    }
}

/* One row per receiver of a send to several (XEP "Fan-out"): outcome,
 * bytes and time; with -v also as machine lines. */
static void receipts(ferry_transfer_t *t)
{
    ferry_receipt_t r[64];
    size_t n = ferry_transfer_receipts(t, r, 64), i, ok = 0, w = 8;
    char size[32];

    if (n <= 1)
        return;
    n = MIN(n, 64);
    for (i = 0; i < n; i++) {
        ok += r[i].status == FERRY_DONE_OK;
        w = MAX(w, strlen(r[i].jid));
    }
    say("%s: %zu of %zu receivers verified it", name_of(t), ok, n);
    for (i = 0; i < n; i++) {
        const char *what = r[i].status == FERRY_DONE_OK
                               ? "verified"
                               : (r[i].reason ? r[i].reason
                                              : ferry_status_name(r[i].status));
        human_size((double)r[i].bytes, size, sizeof(size));
        if (!o.quiet)
            fprintf(stderr, "  %-*s  %-12s %10s  %7.2f s\n", (int)w, r[i].jid,
                    what, size, r[i].seconds);
        if (o.verbose)
            fprintf(stderr,
                    "ferry: sid=%s receipt jid=%s outcome=%s bytes=%llu "
                    "seconds=%.3f\n",
                    ferry_transfer_sid(t), r[i].jid, what,
                    (unsigned long long)r[i].bytes, r[i].seconds);
    }
}

int report_done(ferry_transfer_t *t, ferry_status_t s, const char *reason)
{
    struct tstat *st = stat_of(t);
    double now = now_s(), secs;
    char msg[512], size[32], rate[32];
    uint64_t size_b = ferry_transfer_size(t);
    int code;

    report_clear();
    secs = now - (st->t_data ? st->t_data : st->t_start);
    if (size_b == FERRY_SIZE_UNKNOWN) /* an empty or failed stream */
        size_b = st->last_done;
    human_size((double)size_b, size, sizeof(size));
    human_size(secs > 0 ? (size_b - st->first_done) / secs : 0, rate,
               sizeof(rate));
    code = explain(t, s, reason, msg, sizeof(msg));
    if (o.verbose) {
        if (s == FERRY_DONE_OK)
            fprintf(stderr,
                    "ferry: sid=%s done peer=%s size=%s seconds=%.3f "
                    "rate=%s/s slow_downs=%u mono=%.6f\n",
                    ferry_transfer_sid(t), ferry_transfer_peer(t), size, secs,
                    rate, slow_downs, now);
        else
            fprintf(stderr,
                    "ferry: sid=%s failed status=%s reason=%s peer=%s\n",
                    ferry_transfer_sid(t), ferry_status_name(s),
                    reason ? reason : "-", ferry_transfer_peer(t));
    }
    if (s == FERRY_DONE_OK) {
        if (ferry_transfer_is_sender(t))
            say("sent %s to %s: %s in %.2f s (%s/s), verified by the "
                "receiver",
                name_of(t), ferry_transfer_peer(t), size, secs, rate);
        else if (ferry_transfer_path(t) == NULL)
            say("received %s from %s: %s in %.2f s (%s/s), verified, "
                "written to standard output",
                name_of(t), ferry_transfer_peer(t), size, secs, rate);
        else
            say("received %s from %s: %s in %.2f s (%s/s), verified, "
                "saved as %s",
                name_of(t), ferry_transfer_peer(t), size, secs, rate,
                ferry_transfer_path(t));
    } else
        err("%s", msg);
    if (ferry_transfer_is_sender(t))
        receipts(t);
    g_hash_table_remove(stats, t);
    return code;
}
