/* ferry: send and receive files with Ferry from the command line.
 *
 *   ferry send --jid JID --password-file FILE [options] PEER_JID FILE
 *   ferry recv --jid JID --password-file FILE [options]
 *
 * Exit status: 0 done, 64 usage, 65 rejected, 66 peer gone, 67 integrity
 * failure, 68 timeout, 69 server or login failure, 70 cancelled,
 * 71 refused by component or relay, 72 local I/O error. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <strophe.h>

#include "ferry.h"

enum {
    EX_DONE = 0,
    EX_USAGE_ = 64,
    EX_REJECTED = 65,
    EX_PEER_GONE = 66,
    EX_INTEGRITY = 67,
    EX_TIMEOUT = 68,
    EX_SERVER = 69,
    EX_CANCELLED = 70,
    EX_REFUSED = 71,
    EX_IO = 72,
};

static struct {
    int sending;
    const char *jid, *password_file, *server, *component, *dir, *sid;
    const char *relay_ca;
    char *password;
    int port;
    ferry_requester_t requester;
    unsigned chunk;
    int deliver, count, timeout, quiet, shuffle, yes, data_thread;
    unsigned long long corrupt;
    char **accept_from;
    const char *peer, *file;
} o = {.requester = FERRY_REQUESTER_RECEIVER,
       .dir = ".",
       .count = 1,
       .timeout = 600};

static volatile sig_atomic_t interrupted;
static int connected, login_failed, exit_code = -1, finished_count;
static int tty;
static double t_start;
static uint64_t last_done;
static double last_draw;
static ferry_ctx_t *fctx;
static ferry_transfer_t *current;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_sigint(int s)
{
    (void)s;
    interrupted = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: ferry send --jid JID --password-file FILE [options] PEER_JID "
        "FILE\n"
        "       ferry recv --jid JID --password-file FILE [options]\n"
        "common options:\n"
        "  --jid JID             your account (FERRY_JID)\n"
        "  --password-file FILE  file with the password (or FERRY_PASSWORD)\n"
        "  --server HOST[:PORT]  XMPP server (default: from the JID, port "
        "5222)\n"
        "  --component JID       Ferry component (default: found with disco,\n"
        "                        else ferry.DOMAIN)\n"
        "  --relay-ca FILE       PEM CA certificates trusted for TLS relays,\n"
        "                        besides the system's\n"
        "  --timeout SECONDS     give up after this long (default 600)\n"
        "  -q, --quiet           only errors\n"
        "  --data-thread         move the data on a thread of its own\n"
        "send options:\n"
        "  --requester sender|receiver  who requests the channel (default "
        "receiver)\n"
        "  --deliver             the component delivers the channel info\n"
        "  --chunk-size BYTES    1024..1048576 (default 262144)\n"
        "  --sid SID             session id (reuse one to resume)\n"
        "  --shuffle             test: send chunks out of order\n"
        "  --test-corrupt-chunk N  test: damage chunk N after sealing\n"
        "recv options:\n"
        "  --dir DIR             where files go (default .)\n"
        "  --accept-from JID     accept offers from this JID (repeatable)\n"
        "  -y, --yes             accept every offer (with --accept-from: only "
        "those)\n"
        "  --count N             files to receive before exiting (default 1)\n"
        "exit status: 0 done, 64 usage, 65 rejected, 66 peer gone, 67 "
        "integrity,\n"
        "  68 timeout, 69 server/login, 70 cancelled, 71 refused, 72 I/O\n");
}

static void human(double v, char *out, size_t len)
{
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;

    while (v >= 1024 && i < 4) {
        v /= 1024;
        i++;
    }
    snprintf(out, len, "%.1f %s", v, u[i]);
}

static void on_progress(ferry_transfer_t *t, uint64_t done, uint64_t total,
                        void *ud)
{
    double now = now_s(), el = now - t_start, rate;
    char a[32], b[32], r[32];
    int w = 30, filled;

    (void)t;
    (void)ud;
    last_done = done;
    if (o.quiet || !tty || (now - last_draw < 0.1 && done != total))
        return;
    last_draw = now;
    rate = el > 0 ? done / el : 0;
    filled = total ? (int)((double)done / total * w) : w;
    human((double)done, a, sizeof(a));
    human((double)total, b, sizeof(b));
    human(rate, r, sizeof(r));
    fprintf(stderr, "\r[%.*s%*s] %3d%% %s / %s  %s/s  ETA %.0fs ", filled,
            "##############################", w - filled, "",
            total ? (int)(100.0 * done / total) : 100, a, b, r,
            rate > 0 ? (total - done) / rate : 0.0);
}

static unsigned slow_downs;

static void on_event(ferry_transfer_t *t, const char *what, void *ud)
{
    (void)ud;
    /* Flow control can flip many times a second: report the first one and
     * count the rest for the summary line. */
    if (strcmp(what, "slow-down") == 0 && slow_downs++ > 0)
        return;
    if (strcmp(what, "resume") == 0 && slow_downs > 1)
        return;
    if (o.quiet ||
        (tty && strcmp(what, "first-byte") != 0 &&
         strcmp(what, "channel") != 0 && strcmp(what, "accepted") != 0))
        return;
    if (tty)
        fprintf(stderr, "\r");
    /* mono= is CLOCK_MONOTONIC, comparable between processes of one host:
     * benchmarks subtract the sender's "admitted" from the receiver's
     * "first-byte". */
    double now = now_s();
    fprintf(stderr, "ferry: sid=%s event=%s ms=%.1f mono=%.6f\n",
            ferry_transfer_sid(t), what, (now - t_start) * 1e3, now);
}

static int status_exit(ferry_status_t s)
{
    switch (s) {
    case FERRY_DONE_OK:
        return EX_DONE;
    case FERRY_DONE_REJECTED:
        return EX_REJECTED;
    case FERRY_DONE_CANCELLED:
        return EX_CANCELLED;
    case FERRY_DONE_PEER_GONE:
        return EX_PEER_GONE;
    case FERRY_DONE_INTEGRITY:
        return EX_INTEGRITY;
    case FERRY_DONE_TIMEOUT:
        return EX_TIMEOUT;
    case FERRY_DONE_REFUSED:
        return EX_REFUSED;
    default:
        return EX_IO;
    }
}

static void on_done(ferry_transfer_t *t, ferry_status_t s, const char *reason,
                    void *ud)
{
    double el = now_s() - t_start;
    char a[32], r[32];

    (void)ud;
    if (tty && !o.quiet)
        fprintf(stderr, "\n");
    human((double)ferry_transfer_size(t), a, sizeof(a));
    human(el > 0 ? ferry_transfer_size(t) / el : 0, r, sizeof(r));
    if (s == FERRY_DONE_OK) {
        if (!o.quiet)
            fprintf(stderr,
                    "ferry: sid=%s done peer=%s size=%s seconds=%.3f "
                    "rate=%s/s slow_downs=%u mono=%.6f\n",
                    ferry_transfer_sid(t), ferry_transfer_peer(t), a, el, r,
                    slow_downs, now_s());
    } else
        fprintf(stderr, "ferry: sid=%s failed status=%s reason=%s peer=%s\n",
                ferry_transfer_sid(t), ferry_status_name(s),
                reason ? reason : "-", ferry_transfer_peer(t));
    if (t == current)
        current = NULL;
    finished_count++;
    if (exit_code <= 0)
        exit_code = status_exit(s);
}

static int allowed(const char *from)
{
    size_t i, lf = strcspn(from, "/");

    for (i = 0; o.accept_from && o.accept_from[i]; i++) {
        const char *a = o.accept_from[i];
        if (strcmp(a, from) == 0 ||
            (strchr(a, '/') == NULL && strlen(a) == lf &&
             g_ascii_strncasecmp(a, from, lf) == 0))
            return 1;
    }
    return 0;
}

static void on_offer(ferry_transfer_t *t, const ferry_offer_info_t *info,
                     void *ud)
{
    char ans[16], size[32];

    (void)ud;
    human((double)info->size, size, sizeof(size));
    if (o.accept_from != NULL || o.yes) {
        if (o.accept_from != NULL && !allowed(info->from)) {
            fprintf(stderr,
                    "ferry: offer of %s from %s refused: not in "
                    "--accept-from\n",
                    info->name, info->from);
            ferry_reject(t, "declined", "not accepted from this sender");
            return;
        }
    } else if (isatty(0)) {
        /* Claim 3: the user confirms. */
        fprintf(stderr, "%s offers %s (%s). Accept? [y/N] ", info->from,
                info->name, size);
        if (fgets(ans, sizeof(ans), stdin) == NULL ||
            (ans[0] != 'y' && ans[0] != 'Y')) {
            ferry_reject(t, "declined", NULL);
            return;
        }
    } else {
        fprintf(stderr,
                "ferry: offer of %s from %s refused: no terminal to "
                "ask and no --accept-from or --yes\n",
                info->name, info->from);
        ferry_reject(t, "declined", "receiver cannot confirm");
        return;
    }
    t_start = now_s();
    current = t;
    if (ferry_accept_file(t, o.dir) != FERRY_RC_OK) {
        fprintf(stderr, "ferry: cannot accept %s: %s\n", info->name,
                ferry_error(fctx));
        ferry_reject(t, "not-acceptable", "receiver cannot write the file");
        return;
    }
    if (!o.quiet)
        fprintf(stderr, "ferry: accepting %s (%s) from %s into %s\n",
                info->name, size, info->from, ferry_transfer_path(t));
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err,
                    xmpp_stream_error_t *se, void *ud)
{
    xmpp_ctx_t *x = ud;
    xmpp_stanza_t *pres;

    (void)err;
    (void)se;
    if (ev == XMPP_CONN_CONNECT) {
        connected = 1;
        pres = xmpp_presence_new(x);
        xmpp_send(conn, pres);
        xmpp_stanza_release(pres);
        if (!o.quiet)
            fprintf(stderr, "ferry: logged in as %s\n",
                    xmpp_conn_get_bound_jid(conn));
        return;
    }
    if (!connected)
        login_failed = 1;
    connected = 0;
}

static char *read_password(void)
{
    const char *env = getenv("FERRY_PASSWORD");
    gchar *data = NULL;
    gsize len;

    if (o.password_file == NULL)
        return env ? g_strdup(env) : NULL;
    if (!g_file_get_contents(o.password_file, &data, &len, NULL))
        return NULL;
    g_strchomp(data);
    return data;
}

static int parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"jid", 1, 0, 'j'},         {"password-file", 1, 0, 'p'},
        {"server", 1, 0, 's'},      {"component", 1, 0, 'c'},
        {"relay-ca", 1, 0, 'R'},    {"requester", 1, 0, 'r'},
        {"chunk-size", 1, 0, 'k'},  {"deliver", 0, 0, 'D'},
        {"sid", 1, 0, 'I'},         {"dir", 1, 0, 'd'},
        {"accept-from", 1, 0, 'a'}, {"count", 1, 0, 'n'},
        {"timeout", 1, 0, 't'},     {"quiet", 0, 0, 'q'},
        {"yes", 0, 0, 'y'},         {"help", 0, 0, 'h'},
        {"shuffle", 0, 0, 'S'},     {"test-corrupt-chunk", 1, 0, 'C'},
        {"data-thread", 0, 0, 'T'}, {0, 0, 0, 0}};
    GPtrArray *af = NULL;
    char *colon;
    int ch;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? -1 : 1;
    }
    if (strcmp(argv[1], "send") == 0)
        o.sending = 1;
    else if (strcmp(argv[1], "recv") != 0) {
        fprintf(stderr, "ferry: unknown command %s\n", argv[1]);
        return -1;
    }
    o.jid = getenv("FERRY_JID");
    optind = 2;
    while ((ch = getopt_long(argc, argv, "qyh", lo, NULL)) != -1) {
        switch (ch) {
        case 'j':
            o.jid = optarg;
            break;
        case 'p':
            o.password_file = optarg;
            break;
        case 's':
            o.server = optarg;
            break;
        case 'c':
            o.component = optarg;
            break;
        case 'R':
            o.relay_ca = optarg;
            break;
        case 'r':
            if (strcmp(optarg, "sender") == 0)
                o.requester = FERRY_REQUESTER_SENDER;
            else if (strcmp(optarg, "receiver") == 0)
                o.requester = FERRY_REQUESTER_RECEIVER;
            else {
                fprintf(stderr, "ferry: --requester sender|receiver\n");
                return -1;
            }
            break;
        case 'k':
            o.chunk = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'D':
            o.deliver = 1;
            break;
        case 'I':
            o.sid = optarg;
            break;
        case 'd':
            o.dir = optarg;
            break;
        case 'a':
            if (af == NULL)
                af = g_ptr_array_new();
            g_ptr_array_add(af, optarg);
            break;
        case 'n':
            o.count = atoi(optarg);
            break;
        case 't':
            o.timeout = atoi(optarg);
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'y':
            o.yes = 1;
            break;
        case 'S':
            o.shuffle = 1;
            break;
        case 'C':
            o.corrupt = strtoull(optarg, NULL, 10) + 1;
            break;
        case 'T':
            o.data_thread = 1;
            break;
        case 'h':
            usage(stdout);
            return 1;
        default:
            return -1;
        }
    }
    if (af != NULL) {
        g_ptr_array_add(af, NULL);
        o.accept_from = (char **)g_ptr_array_free(af, FALSE);
    }
    if (o.sending) {
        if (argc - optind != 2) {
            fprintf(stderr, "ferry: send needs PEER_JID and FILE\n");
            return -1;
        }
        o.peer = argv[optind];
        o.file = argv[optind + 1];
        if (o.chunk && (o.chunk < 1024 || o.chunk > 1048576)) {
            fprintf(stderr, "ferry: --chunk-size must be 1024..1048576\n");
            return -1;
        }
    } else if (optind != argc) {
        fprintf(stderr, "ferry: recv takes no arguments\n");
        return -1;
    }
    if (o.jid == NULL) {
        fprintf(stderr, "ferry: --jid is required\n");
        return -1;
    }
    if (o.server != NULL && (colon = strrchr(o.server, ':')) != NULL) {
        o.port = atoi(colon + 1);
        o.server = g_strndup(o.server, (gsize)(colon - o.server));
    }
    return 0;
}

int main(int argc, char **argv)
{
    ferry_callbacks_t cb = {NULL,        NULL,     on_offer,
                            on_progress, on_event, on_done};
    ferry_send_opts_t so;
    xmpp_ctx_t *x;
    xmpp_conn_t *conn;
    double deadline;
    int rc;

    if ((rc = parse_args(argc, argv)) != 0)
        return rc > 0 ? 0 : EX_USAGE_;
    if ((o.password = read_password()) == NULL) {
        fprintf(stderr, "ferry: no password: use --password-file or "
                        "FERRY_PASSWORD\n");
        return EX_USAGE_;
    }
    tty = isatty(2);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    signal(SIGPIPE, SIG_IGN);
    xmpp_initialize();
    x = xmpp_ctx_new(NULL, NULL);
    conn = xmpp_conn_new(x);
    xmpp_conn_set_jid(conn, o.jid);
    xmpp_conn_set_pass(conn, o.password);
    /* Plain connections are for local tests; a TLS-capable server is used
     * with TLS as libstrophe negotiates it. */
    fctx = ferry_ctx_new(x, &cb, NULL);
    if (fctx == NULL || ferry_strophe_attach(fctx, conn) != FERRY_RC_OK) {
        fprintf(stderr, "ferry: out of memory\n");
        return EX_IO;
    }
    if (o.data_thread &&
        ferry_set_mode(fctx, FERRY_MODE_THREAD) != FERRY_RC_OK) {
        fprintf(stderr, "ferry: %s\n", ferry_error(fctx));
        return EX_IO;
    }
    if (o.component)
        ferry_set_component(fctx, o.component);
    if (o.relay_ca)
        ferry_set_relay_ca(fctx, o.relay_ca);
    if (xmpp_connect_client(conn, o.server, (unsigned short)o.port, on_conn,
                            x) != XMPP_EOK) {
        fprintf(stderr, "ferry: cannot connect to the server\n");
        return EX_SERVER;
    }
    deadline = now_s() + o.timeout;
    t_start = now_s();
    while (!connected && !login_failed && now_s() < deadline && !interrupted)
        ferry_strophe_run_once(fctx, 50);
    if (!connected) {
        fprintf(stderr, "ferry: login as %s failed\n", o.jid);
        return EX_SERVER;
    }
    ferry_strophe_run_once(fctx, 0); /* libferry learns the bound JID */
    if (o.sending) {
        memset(&so, 0, sizeof(so));
        so.requester = o.requester;
        so.chunk_size = o.chunk;
        so.deliver = o.deliver;
        so.sid = o.sid;
        so.shuffle = o.shuffle;
        so.corrupt_chunk = o.corrupt;
        t_start = now_s();
        rc = ferry_send_file(fctx, o.peer, o.file, &so, &current);
        if (rc != FERRY_RC_OK) {
            fprintf(stderr, "ferry: cannot send: %s\n", ferry_error(fctx));
            return rc == FERRY_RC_IO ? EX_IO : EX_USAGE_;
        }
        if (!o.quiet)
            fprintf(stderr, "ferry: sid=%s offered %s to %s\n",
                    ferry_transfer_sid(current), o.file, o.peer);
        o.count = 1;
    } else if (!o.quiet)
        fprintf(stderr, "ferry: waiting for %d offer(s)\n", o.count);
    while (finished_count < o.count && connected && !interrupted) {
        if (now_s() > deadline) {
            if (current)
                ferry_cancel(current);
            fprintf(stderr, "ferry: timed out after %d s\n", o.timeout);
            exit_code = EX_TIMEOUT;
            break;
        }
        ferry_strophe_run_once(fctx, 100);
    }
    if (interrupted && current) {
        ferry_cancel(current);
        exit_code = EX_CANCELLED;
    }
    /* In thread mode a cancel ends on the worker: let its done arrive. */
    for (rc = 0; rc < 20 && ferry_active(fctx) > 0 && connected; rc++)
        ferry_strophe_run_once(fctx, 10);
    if (!connected && finished_count < o.count && exit_code < 0) {
        fprintf(stderr, "ferry: lost the server connection\n");
        exit_code = EX_SERVER;
    }
    ferry_ctx_free(fctx);
    xmpp_disconnect(conn);
    for (rc = 0; rc < 10 && connected; rc++)
        xmpp_run_once(x, 50);
    xmpp_conn_release(conn);
    xmpp_ctx_free(x);
    xmpp_shutdown();
    g_free(o.password);
    return exit_code < 0 ? EX_DONE : exit_code;
}
