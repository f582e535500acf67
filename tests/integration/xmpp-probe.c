/* xmpp-probe: logs in N connections as one user (resources probe1..N),
 * sends each the given stanza (with "@N@" replaced by the connection
 * number and "@ID@" by a fresh id), prints every reply, and with
 * --relay-secret checks that each <channel/> key equals
 * HMAC(secret, id) with common/. Ends with "probe: R replies, V verified,
 * E errors". With --repeat R each connection sends R requests one after
 * another and the rate is printed. With --release each channel received
 * is released (<release/>) before the connection's next request, and the
 * line "probe: L released, F release errors" is added. Exit 0 when every
 * request got a reply. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>
#include <strophe.h>

#include "chan.h"
#include "codec.h"
#include "conf.h"
#include "err.h"
#include "stanza.h"

static int replies, verified, errors, connected_n, failed_n;
static int release_mode, released, release_errors, releases_pending;
#define RTT_MAX 200000
static double sent_at[501], rtt_ms[RTT_MAX];
static int nrtt, repeat = 1, sent_per[501];
static double t_first, t_last;

static void send_one(xmpp_conn_t *conn, long n);

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static uint8_t *rsecret;
static size_t rsecret_len;
static const char *xml;
static int quiet;

static int on_release_reply(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    const char *type = xmpp_stanza_get_type(st);
    char *text;
    size_t len;

    releases_pending--;
    if (type != NULL && strcmp(type, "result") == 0)
        released++;
    else {
        release_errors++;
        if (!quiet && xmpp_stanza_to_text(st, &text, &len) == 0) {
            printf("%s\n", text);
            xmpp_free(xmpp_conn_get_context(conn), text);
        }
    }
    if (sent_per[(intptr_t)ud] < repeat)
        send_one(conn, (long)(intptr_t)ud);
    return 0;
}

static void send_release(xmpp_conn_t *conn, const uint8_t id[32], long n)
{
    xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);
    char *iqid = xmpp_uuid_gen(ctx);
    xmpp_stanza_t *iq = xmpp_iq_new(ctx, "set", iqid);

    xmpp_stanza_set_to(iq, "ferry.localhost");
    xmpp_stanza_add_child_ex(iq, ferry_release_build(ctx, id), 0);
    xmpp_id_handler_add(conn, on_release_reply, iqid, (void *)(intptr_t)n);
    releases_pending++;
    xmpp_send(conn, iq);
    xmpp_stanza_release(iq);
    xmpp_free(ctx, iqid);
}

static int on_reply(xmpp_conn_t *conn, xmpp_stanza_t *st, void *ud)
{
    char *text;
    size_t len;
    xmpp_stanza_t *ch;
    struct ferry_channel c;
    const char *bad;
    uint8_t key[32];

    (void)conn;
    if (nrtt < RTT_MAX)
        rtt_ms[nrtt++] = mono_ms() - sent_at[(intptr_t)ud];
    replies++;
    if (xmpp_stanza_get_type(st) &&
        strcmp(xmpp_stanza_get_type(st), "error") == 0)
        errors++;
    if (!quiet && xmpp_stanza_to_text(st, &text, &len) == 0) {
        printf("%s\n", text);
        xmpp_free(xmpp_conn_get_context(conn), text);
    }
    t_last = mono_ms();
    ch = xmpp_stanza_get_child_by_name_and_ns(st, "channel", FERRY_NS);
    if (ch != NULL && ferry_channel_parse(ch, &c, &bad) == FERRY_OK) {
        if (rsecret != NULL &&
            chan_key(rsecret, rsecret_len, c.id, key) == FERRY_OK &&
            memcmp(key, c.key, 32) == 0)
            verified++;
        if (release_mode) {
            send_release(conn, c.id, (long)(intptr_t)ud);
            return 0; /* the next request follows the release's answer */
        }
    }
    if (sent_per[(intptr_t)ud] < repeat)
        send_one(conn, (long)(intptr_t)ud);
    return 0;
}

static void send_one(xmpp_conn_t *conn, long n)
{
    char num[16], *id, *s1, *s2;
    gchar **parts;
    xmpp_stanza_t *st;
    xmpp_ctx_t *ctx = xmpp_conn_get_context(conn);

    snprintf(num, sizeof(num), "%ld", n);
    id = xmpp_uuid_gen(ctx);
    parts = g_strsplit(xml, "@N@", -1);
    s1 = g_strjoinv(num, parts);
    g_strfreev(parts);
    parts = g_strsplit(s1, "@ID@", -1);
    s2 = g_strjoinv(id, parts);
    g_strfreev(parts);
    st = xmpp_stanza_new_from_string(ctx, s2);
    if (st != NULL) {
        xmpp_stanza_set_id(st, id);
        xmpp_id_handler_add(conn, on_reply, id, (void *)(intptr_t)n);
        sent_at[n] = mono_ms();
        if (t_first == 0)
            t_first = sent_at[n];
        sent_per[n]++;
        xmpp_send(conn, st);
        xmpp_stanza_release(st);
    } else
        fprintf(stderr, "probe: stanza does not parse\n");
    xmpp_free(ctx, id);
    g_free(s1);
    g_free(s2);
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err,
                    xmpp_stream_error_t *se, void *ud)
{
    (void)err;
    (void)se;
    if (ev != XMPP_CONN_CONNECT) {
        /* the disconnect at the end is not a failed login */
        if (sent_per[(intptr_t)ud] == 0)
            failed_n++;
        return;
    }
    connected_n++;
    send_one(conn, (long)(intptr_t)ud);
}

int main(int argc, char **argv)
{
    const char *jid = NULL, *pass = NULL, *host = "127.0.0.1";
    int port = 5222, n = 1, i, ch, secs = 20;
    xmpp_ctx_t *ctx;
    xmpp_conn_t **conns;
    time_t end;
    char full[512];

    static const struct option lo[] = {
        {"jid", 1, 0, 'j'},    {"password", 1, 0, 'p'},
        {"port", 1, 0, 'P'},   {"conns", 1, 0, 'n'},
        {"xml", 1, 0, 'x'},    {"relay-secret", 1, 0, 'r'},
        {"quiet", 0, 0, 'q'},  {"seconds", 1, 0, 's'},
        {"repeat", 1, 0, 'R'}, {"release", 0, 0, 'L'},
        {0, 0, 0, 0}};
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'j':
            jid = optarg;
            break;
        case 'p':
            pass = optarg;
            break;
        case 'P':
            port = atoi(optarg);
            break;
        case 'n':
            n = atoi(optarg);
            break;
        case 'x':
            xml = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 's':
            secs = atoi(optarg);
            break;
        case 'R':
            repeat = atoi(optarg) > 0 ? atoi(optarg) : 1;
            break;
        case 'L':
            release_mode = 1;
            break;
        case 'r':
            if (conf_read_secret(optarg, &rsecret, &rsecret_len) != FERRY_OK)
                return 2;
            break;
        default:
            return 2;
        }
    }
    if (jid == NULL || pass == NULL || xml == NULL || n < 1 || n > 500) {
        fprintf(stderr, "usage: xmpp-probe --jid J --password P --port N "
                        "--xml STANZA [--conns N] [--relay-secret F]\n");
        return 2;
    }
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    conns = calloc((size_t)n, sizeof(*conns));
    for (i = 0; i < n; i++) {
        conns[i] = xmpp_conn_new(ctx);
        snprintf(full, sizeof(full), "%s/probe%d", jid, i + 1);
        xmpp_conn_set_jid(conns[i], full);
        xmpp_conn_set_pass(conns[i], pass);
        xmpp_connect_client(conns[i], host, (unsigned short)port, on_conn,
                            (void *)(intptr_t)(i + 1));
    }
    end = time(NULL) + secs;
    while ((replies < n * repeat || releases_pending > 0) &&
           failed_n + connected_n <= n &&
           time(NULL) < end && !(failed_n == n))
        xmpp_run_once(ctx, 50);
    for (i = 0; i < n; i++) {
        xmpp_disconnect(conns[i]);
    }
    for (i = 0; i < 10; i++)
        xmpp_run_once(ctx, 20);
    for (i = 0; i < n; i++)
        xmpp_conn_release(conns[i]);
    free(conns);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    if (nrtt > 0) {
        qsort(rtt_ms, (size_t)nrtt, sizeof(double), cmp_double);
        printf("probe: round trip p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
               rtt_ms[nrtt / 2], rtt_ms[(nrtt * 99) / 100], rtt_ms[nrtt - 1]);
    }
    if (repeat > 1 && t_last > t_first)
        printf("probe: %d requests in %.3f s: %.0f per second\n", replies,
               (t_last - t_first) / 1e3, replies / ((t_last - t_first) / 1e3));
    printf("probe: %d replies, %d verified, %d errors, %d logins failed\n",
           replies, verified, errors, failed_n);
    if (release_mode)
        printf("probe: %d released, %d release errors\n", released,
               release_errors);
    return replies == n * repeat ? 0 : 1;
}
