/* How long can libferry hold up the loop of the program that embeds it?
 *
 * A host loop that wants to run every 1 ms (poll timeout = min(1 ms,
 * libferry's timeout)) drives two libferry contexts, sender and receiver,
 * through the engine harness (in-process router and component, the real
 * ferry-relay), and records the worst gap between two consecutive turns
 * while libferry:
 *
 *   bulk      moves 1 GiB (file source, file sink; /dev/shm when present);
 *   syn-drop  connects to a relay whose SYNs vanish, 3 s connect timeout:
 *             a loopback port whose accept queue is full (the kernel drops
 *             the SYNs: no iptables needed), and an address outside
 *             (10.255.255.1; where the network is sandboxed, something may
 *             complete every TCP connect: it then acts as a silent relay);
 *   tls-stall does a TLS handshake with a relay that accepts and never
 *             answers (the channel says tls=true), 3 s timeout; once with
 *             the system's CAs, once with ferry_set_relay_ca() pointing at
 *             the system bundle (loaded when the channel arrives).
 *
 * Each case runs in FERRY_MODE_POLLED and FERRY_MODE_THREAD and prints
 *
 *   <case> <mode>: host stall max ms: X (target 5 ms: ratio X/5) ...
 *
 * with, to tell libferry's work from the scheduler's, the most CPU time
 * the host thread spent in one turn and the longest ferry_process() of
 * each side.
 *
 * Usage: embed-stall [--size MiB] [--only bulk|syn-drop|tls-stall]
 * FERRY_RELAY overrides the relay binary; FERRY_TMP the temp dir. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define TARGET_MS 5.0
#define TICK_MS 1

struct run {
    double max_gap_ms;  /* worst gap between two turns */
    double max_cpu_ms;  /* most CPU the host thread used in one turn */
    const char *max_at; /* the last event seen before it */
    long ticks, over;   /* turns, and gaps over the target */
    double secs;        /* from the offer to both dones */
    const char *last_event;
    unsigned hist[1001]; /* gaps in 0.1 ms buckets, the last one open */
    double steal_pct;    /* CPU the hypervisor took meanwhile, of all */
};

/* steal and total jiffies from /proc/stat: a VM's stolen time makes gaps
 * that no code in the guest can avoid. */
static void cpu_jiffies(unsigned long long *steal, unsigned long long *total)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    int i;

    *steal = *total = 0;
    if (f == NULL)
        return;
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
        for (i = 0; i < 8; i++)
            *total += v[i];
        *steal = v[7];
    }
    fclose(f);
}

static double p99_ms(const struct run *r)
{
    long want = r->ticks - r->ticks / 100, seen = 0;
    int i;

    for (i = 0; i < 1001; i++)
        if ((seen += r->hist[i]) >= want)
            return i / 10.0;
    return 100.0;
}

static struct run *cur;

static double clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

static void on_event(struct hx_xfer *x, const char *what, void *arg)
{
    (void)x;
    (void)arg;
    if (cur != NULL)
        cur->last_event = what; /* libferry's static strings */
}

static int finished(struct hx_peer *a, struct hx_peer *b)
{
    struct hx_peer *ps[] = {a, b};
    int k;

    for (k = 0; k < 2; k++) {
        if (ferry_active(ps[k]->ctx) != 0 || ps[k]->xfers->len == 0)
            return 0;
    }
    return 1;
}

/* The host loop: a turn every TICK_MS at most, gaps measured. */
static void host_loop(struct hx *h, struct hx_peer *a, struct hx_peer *b,
                      struct run *r, double limit_s)
{
    double t0 = now_ms(), prev = t0, t, gap, c0, cpu;
    unsigned long long st0, tot0, st1, tot1;

    cpu_jiffies(&st0, &tot0);
    cur = r;
    r->last_event = "offer";
    while (!finished(a, b) && now_ms() - t0 < limit_s * 1e3) {
        c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
        hx_tick(h, TICK_MS);
        cpu = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
        if (cpu > r->max_cpu_ms)
            r->max_cpu_ms = cpu;
        t = now_ms();
        gap = t - prev;
        if (gap > r->max_gap_ms) {
            r->max_gap_ms = gap;
            r->max_at = r->last_event;
        }
        if (gap > TARGET_MS)
            r->over++;
        r->hist[gap >= 100.0 ? 1000 : (int)(gap * 10)]++;
        r->ticks++;
        prev = t;
    }
    r->secs = (now_ms() - t0) / 1e3;
    cpu_jiffies(&st1, &tot1);
    r->steal_pct = tot1 > tot0 ? 100.0 * (st1 - st0) / (tot1 - tot0) : 0;
    cur = NULL;
}

static const char *mode_name(int m)
{
    return m == FERRY_MODE_THREAD ? "thread" : "polled";
}

/* The gap is wall clock between turns; cpu is what the host thread
 * itself spent in its worst turn (libferry's work on it), and the
 * slices are the longest ferry_process() of sender and receiver. */
static void report(const char *name, int m, const struct run *r,
                   struct hx_peer *a, struct hx_peer *b, struct hx_xfer *x,
                   struct hx_xfer *y, const char *extra)
{
    printf("%-22s %s: host stall max ms: %.2f (target 5 ms: ratio %.2f; "
           "p99 %.1f ms; cpu steal %.0f%%; "
           "worst after '%s'; %ld turns, %ld over 5 ms; host cpu/turn max "
           "%.2f ms; ferry_process max sender %.2f receiver %.2f ms) "
           "sender %s/%s, receiver %s/%s%s\n",
           name, mode_name(m), r->max_gap_ms, r->max_gap_ms / TARGET_MS,
           p99_ms(r), r->steal_pct, r->max_at ? r->max_at : "-", r->ticks,
           r->over, r->max_cpu_ms, a->process_ms_max, b->process_ms_max,
           x ? ferry_status_name(x->status) : "-",
           x && x->reason[0] ? x->reason : "-",
           y ? ferry_status_name(y->status) : "-",
           y && y->reason[0] ? y->reason : "-", extra ? extra : "");
    fflush(stdout);
}

static struct hx *setup(int m, struct hx_peer **a, struct hx_peer **b,
                        const char *sink_dir)
{
    struct hx *h = hx_new();

    if (h == NULL)
        exit(1);
    *a = hx_peer_new(h, HX_ALICE, m, 0);
    *b = hx_peer_new(h, HX_BOB, m, 1);
    if (*a == NULL || *b == NULL) {
        fprintf(stderr, "embed-stall: %s\n", hx_error(h));
        exit(1);
    }
    (*a)->event_hook = (*b)->event_hook = on_event;
    if (sink_dir != NULL)
        snprintf((*b)->dir, sizeof((*b)->dir), "%s", sink_dir);
    hx_tick(h, 0); /* disco#info of the component */
    return h;
}

/* (i) 1 GiB from a file to a file, both ends in this loop. */
static int bulk(int m, uint64_t size, const char *src, const char *base)
{
    struct hx_peer *a, *b;
    struct hx_xfer *x, *y;
    struct run r = {0};
    char dir[480], extra[160];
    struct hx *h;
    int ok;

    snprintf(dir, sizeof(dir), "%s/sink-%s", base, mode_name(m));
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -1;
    h = setup(m, &a, &b, NULL);
    if (hx_relay_start(h, NULL) < 0) {
        fprintf(stderr, "embed-stall: %s\n", hx_error(h));
        hx_free(h);
        return -1;
    }
    hx_tick(h, 0);
    snprintf(b->dir, sizeof(b->dir), "%s", dir);
    if (hx_send_file(a, HX_BOB, src, NULL, &x) != FERRY_RC_OK) {
        fprintf(stderr, "embed-stall: send: %s\n", ferry_error(a->ctx));
        hx_free(h);
        return -1;
    }
    host_loop(h, a, b, &r, 600);
    y = b->last_offer;
    ok = x->status == FERRY_DONE_OK && y != NULL && y->status == FERRY_DONE_OK;
    snprintf(extra, sizeof(extra), "; %.0f MiB in %.2f s = %.0f MB/s",
             (double)size / (1 << 20), r.secs, (double)size / r.secs / 1e6);
    report("bulk-1GiB", m, &r, a, b, x, y, extra);
    if (y != NULL && y->path != NULL)
        unlink(y->path);
    rmdir(dir);
    hx_free(h);
    return ok ? 0 : -1;
}

/* (ii) and (iii): a relay that never completes the connection or the
 * TLS handshake; the transfers must end by the connect timeout. */
static int dead_relay(const char *name, int m, const char *host, uint16_t port,
                      int tls, const char *ca)
{
    struct hx_peer *a, *b;
    struct hx_xfer *x, *y;
    struct run r = {0};
    char *src, extra[96];
    struct hx *h;

    h = setup(m, &a, &b, NULL);
    hx_component_relay(h, host, port, tls);
    ferry_set_timeouts(a->ctx, 3, 0, 0);
    ferry_set_timeouts(b->ctx, 3, 0, 0);
    if (ca != NULL) {
        ferry_set_relay_ca(a->ctx, ca);
        ferry_set_relay_ca(b->ctx, ca);
    }
    src = g_build_filename(hx_dir(h), "small.bin", NULL);
    hx_write_file(src, 64 * 1024, 1);
    if (hx_send_file(a, HX_BOB, src, NULL, &x) != FERRY_RC_OK) {
        fprintf(stderr, "embed-stall: send: %s\n", ferry_error(a->ctx));
        exit(1);
    }
    host_loop(h, a, b, &r, 30);
    y = b->last_offer;
    snprintf(extra, sizeof(extra), "; ended after %.2f s", r.secs);
    report(name, m, &r, a, b, x, y, extra);
    g_free(src);
    hx_free(h);
    return 0;
}

int main(int argc, char **argv)
{
    const char *only = NULL, *shm = "/dev/shm",
               *ca = "/etc/ssl/certs/ca-certificates.crt";
    uint64_t size = (uint64_t)1 << 30;
    char base[400], *src;
    struct hx_fake *f;
    struct stat sb;
    int i, m, rc = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = strtoull(argv[++i], NULL, 10) << 20;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: embed-stall [--size MiB] "
                            "[--only bulk|syn-drop|tls-stall]\n");
            return 64;
        }
    }
    if (stat(shm, &sb) != 0 || !S_ISDIR(sb.st_mode))
        shm = "/tmp";
    snprintf(base, sizeof(base), "%s/ferry-embed-XXXXXX", shm);
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    printf("embed-stall: host loop ticks every %d ms; files in %s\n", TICK_MS,
           base);
    if (only == NULL || strcmp(only, "bulk") == 0) {
        src = g_build_filename(base, "src.bin", NULL);
        if (hx_write_file(src, size, 42) != 0) {
            perror("source file");
            return 1;
        }
        for (m = 0; m < 2; m++)
            rc |= bulk(m, size, src, base);
        unlink(src);
        g_free(src);
    }
    if (only == NULL || strcmp(only, "syn-drop") == 0) {
        for (m = 0; m < 2; m++)
            dead_relay("syn-drop-10.255.255.1", m, "10.255.255.1", 5290, 0,
                       NULL);
        for (m = 0; m < 2; m++) {
            f = hx_fake_start(HX_FAKE_SYN_DROP);
            if (f == NULL)
                return 1;
            dead_relay("syn-drop-loopback", m, "127.0.0.1", hx_fake_port(f), 0,
                       NULL);
            hx_fake_stop(f);
        }
    }
    if (only == NULL || strcmp(only, "tls-stall") == 0) {
        for (m = 0; m < 2; m++) {
            f = hx_fake_start(HX_FAKE_SILENT);
            if (f == NULL)
                return 1;
            dead_relay("tls-stall", m, "127.0.0.1", hx_fake_port(f), 1, NULL);
            hx_fake_stop(f);
        }
        for (m = 0; m < 2; m++) {
            if (access(ca, R_OK) != 0)
                break;
            f = hx_fake_start(HX_FAKE_SILENT);
            if (f == NULL)
                return 1;
            dead_relay("tls-stall+relay-ca", m, "127.0.0.1", hx_fake_port(f), 1,
                       ca);
            hx_fake_stop(f);
        }
    }
    rmdir(base);
    return rc ? 1 : 0;
}
