/* ferry-component: the XEP-0114 external component that authenticates
 * requesters and allocates relay channels (XEP draft, "Channel request").
 * Runs on libstrophe's loop; reconnects with capped exponential backoff. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "component.h"
#include "conf.h"
#include "err.h"
#include "log.h"
#include "stanza.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

void comp_send(struct comp *c, xmpp_stanza_t *s)
{
    if (c->conn != NULL && c->connected)
        xmpp_send(c->conn, s);
    xmpp_stanza_release(s);
}

static xmpp_stanza_t *first_element(xmpp_stanza_t *s)
{
    xmpp_stanza_t *ch;

    for (ch = xmpp_stanza_get_children(s); ch; ch = xmpp_stanza_get_next(ch))
        if (xmpp_stanza_is_tag(ch))
            return ch;
    return NULL;
}

static int on_iq(xmpp_conn_t *conn, xmpp_stanza_t *iq, void *ud)
{
    struct comp *c = ud;
    const char *type = xmpp_stanza_get_type(iq), *ns, *name;
    xmpp_stanza_t *el;

    (void)conn;
    if (type == NULL || strcmp(type, "result") == 0 ||
        strcmp(type, "error") == 0)
        return 1;
    if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0) {
        comp_send(c, ferry_error_reply(c->ctx, iq, FERRY_ERR_BAD_REQUEST, NULL,
                                       NULL, "unknown iq type"));
        return 1;
    }
    if ((el = first_element(iq)) == NULL) {
        comp_send(c, ferry_error_reply(c->ctx, iq, FERRY_ERR_BAD_REQUEST, NULL,
                                       NULL, "iq without payload"));
        return 1;
    }
    ns = xmpp_stanza_get_ns(el);
    name = xmpp_stanza_get_name(el);
    if (ns != NULL && strcmp(ns, FERRY_NS) == 0 && strcmp(type, "set") == 0 &&
        name != NULL && strcmp(name, "request") == 0)
        return alloc_handle(c, iq, el);
    if (ns != NULL && strcmp(ns, FERRY_NS) == 0 && strcmp(type, "set") == 0 &&
        name != NULL && strcmp(name, "release") == 0)
        return release_handle(c, iq, el);
    if (ns != NULL && strcmp(type, "get") == 0 && disco_handle(c, iq, ns))
        return 1;
    /* RFC 6120 8.4: an IQ nobody here understands. */
    xmpp_stanza_t *err =
        xmpp_stanza_reply_error(iq, "cancel", "service-unavailable", NULL);
    if (err != NULL) {
        xmpp_stanza_del_attribute(err, "lang");
        xmpp_stanza_set_from(err, c->conf.jid);
        comp_send(c, err);
    }
    return 1;
}

static int on_message(xmpp_conn_t *conn, xmpp_stanza_t *m, void *ud)
{
    struct comp *c = ud;
    const char *type = xmpp_stanza_get_type(m);

    (void)conn;
    /* Never answer an error with an error (RFC 6120 8.3.1). */
    if (type != NULL && strcmp(type, "error") == 0)
        return 1;
    xmpp_stanza_t *err = xmpp_stanza_reply_error(
        m, "cancel", "service-unavailable", "this service takes no messages");
    if (err != NULL) {
        xmpp_stanza_del_attribute(err, "lang");
        xmpp_stanza_set_from(err, c->conf.jid);
        comp_send(c, err);
    }
    return 1;
}

static int on_presence(xmpp_conn_t *conn, xmpp_stanza_t *p, void *ud)
{
    (void)conn;
    (void)p;
    (void)ud;
    return 1; /* a component has no roster: presence is ignored */
}

static struct {
    int pending;
    time_t at;
    int backoff;
} reconnect = {0, 0, 1};

/* libstrophe reports a failed connect with no errno: ask the kernel once,
 * with a connect of our own (at most 500 ms), so that the log can say
 * "Connection refused" rather than "connection closed". 0 when it
 * connects. */
static int connect_errno(const char *host, int64_t port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV},
                    *ai;
    struct pollfd pfd;
    char ps[8];
    int fd, err = 0;
    socklen_t el = sizeof(err);

    snprintf(ps, sizeof(ps), "%lld", (long long)port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0)
        return EHOSTUNREACH;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        err = errno;
    else if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            pfd.fd = fd;
            pfd.events = POLLOUT;
            if (poll(&pfd, 1, 500) != 1)
                err = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
                err = errno;
        }
    }
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return err;
}

/* Why the link to the server failed or dropped, in words an operator can
 * act on: the address and the errno, or the stream error and the setting
 * that fixes it. */
static void describe_failure(const struct comp *c, int error,
                             const xmpp_stream_error_t *se, char *buf,
                             size_t len)
{
    const char *hint = "", *cond = "";
    xmpp_stanza_t *ch;

    if (se != NULL) {
        /* The condition is the stream error's first child element. */
        for (ch = se->stanza ? xmpp_stanza_get_children(se->stanza) : NULL;
             ch != NULL && *cond == '\0'; ch = xmpp_stanza_get_next(ch))
            if (xmpp_stanza_is_tag(ch) && xmpp_stanza_get_name(ch) != NULL &&
                strcmp(xmpp_stanza_get_name(ch), "text") != 0)
                cond = xmpp_stanza_get_name(ch);
        switch (se->type) {
        case XMPP_SE_NOT_AUTHORIZED:
            hint = " (the server refused the component secret: "
                   "component.secret_file must hold the server's "
                   "component_secret (Prosody) or password (ejabberd))";
            break;
        case XMPP_SE_HOST_UNKNOWN:
            hint = " (the server has no component of this name: "
                   "component.jid must match its Component entry)";
            break;
        case XMPP_SE_CONFLICT:
            hint = " (another component is connected with this JID)";
            break;
        default:
            break;
        }
        snprintf(buf, len, "%s:%lld (jid %s): stream error %s%s%s%s",
                 c->conf.server, (long long)c->conf.port, c->conf.jid,
                 *cond ? cond : "(unnamed)", se->text ? ": " : "",
                 se->text ? se->text : "", hint);
        return;
    }
    if (error == 0 && !c->connected)
        error = connect_errno(c->conf.server, c->conf.port);
    if (error == ECONNREFUSED)
        hint = " (nothing listens there: is the XMPP server running, with "
               "its component port at component.server and "
               "component.port?)";
    else if (error == ETIMEDOUT || error == EHOSTUNREACH ||
             error == ENETUNREACH)
        hint = " (the address is unreachable from here)";
    if (error != 0)
        snprintf(buf, len, "%s:%lld: %s%s", c->conf.server,
                 (long long)c->conf.port, strerror(error), hint);
    else if (!c->connected)
        snprintf(buf, len,
                 "%s:%lld: the server closed the stream before the "
                 "handshake (is this its component port, and is %s "
                 "declared there?)",
                 c->conf.server, (long long)c->conf.port, c->conf.jid);
    else
        snprintf(buf, len, "%s:%lld: connection closed", c->conf.server,
                 (long long)c->conf.port);
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                    xmpp_stream_error_t *se, void *ud)
{
    struct comp *c = ud;
    char why[512];

    (void)conn;
    if (ev == XMPP_CONN_CONNECT) {
        c->connected = 1;
        reconnect.backoff = 1;
        log_info("connected jid=%s server=%s:%lld", c->conf.jid, c->conf.server,
                 (long long)c->conf.port);
        return;
    }
    describe_failure(c, error, se, why, sizeof(why));
    if (stop_signal) {
        c->connected = 0;
        return;
    }
    reconnect.pending = 1;
    reconnect.at = time(NULL) + reconnect.backoff;
    if (c->connected)
        log_warnx("disconnected from %s; reconnecting in %ds", why,
                  reconnect.backoff);
    else
        log_warnx("cannot connect to the XMPP server at %s; retrying in %ds",
                  why, reconnect.backoff);
    c->connected = 0;
    reconnect.backoff = reconnect.backoff * 2 > c->conf.reconnect_max
                            ? (int)c->conf.reconnect_max
                            : reconnect.backoff * 2;
}

static int refuse_socket(xmpp_conn_t *conn, void *sock)
{
    (void)conn;
    (void)sock;
    return -1;
}

/* Replies are single small writes: without TCP_NODELAY a second one in a
 * row waits for the server's delayed ACK (40 ms). */
static int stream_sockopt(xmpp_conn_t *conn, void *sock)
{
    int one = 1;

    (void)setsockopt(*(int *)sock, IPPROTO_TCP, TCP_NODELAY, &one,
                     sizeof(one));
    return xmpp_sockopt_cb_keepalive(conn, sock);
}

static int start_conn(struct comp *c)
{
    int rc;

    if (c->conn != NULL)
        xmpp_conn_release(c->conn);
    c->conn = xmpp_conn_new(c->ctx);
    xmpp_conn_set_jid(c->conn, c->conf.jid);
    xmpp_conn_set_pass(c->conn, c->secret);
    xmpp_handler_add(c->conn, on_iq, NULL, "iq", NULL, c);
    xmpp_handler_add(c->conn, on_message, NULL, "message", NULL, c);
    xmpp_handler_add(c->conn, on_presence, NULL, "presence", NULL, c);
    /* libstrophe 0.12 allocates the XEP-0198 state only in
     * xmpp_connect_client(), yet reads it for every received stanza: a
     * component crashes on its first stanza. A client connect whose socket
     * option callback refuses fails at once, without I/O, and leaves that
     * state allocated (see NOTES.md). */
    xmpp_conn_set_sockopt_callback(c->conn, refuse_socket);
    (void)xmpp_connect_client(c->conn, "127.0.0.1", 1, NULL, NULL);
    xmpp_conn_set_sockopt_callback(c->conn, stream_sockopt);
    rc = xmpp_connect_component(c->conn, c->conf.server,
                                (unsigned short)c->conf.port, on_conn, c);
    if (rc != XMPP_EOK) {
        log_warnx("cannot connect to the XMPP server at %s:%lld (libstrophe "
                  "error %d: the host name does not resolve, or no socket); "
                  "retrying in %ds",
                  c->conf.server, (long long)c->conf.port, rc,
                  reconnect.backoff);
        reconnect.pending = 1;
        reconnect.at = time(NULL) + reconnect.backoff;
        return -1;
    }
    log_info("connecting to %s:%lld as %s", c->conf.server,
             (long long)c->conf.port, c->conf.jid);
    return 0;
}

static void strophe_log(void *ud, xmpp_log_level_t level, const char *area,
                        const char *msg)
{
    (void)ud;
    if (level >= XMPP_LEVEL_WARN)
        log_warnx("strophe %s: %s", area, msg);
    else if (level == XMPP_LEVEL_INFO)
        log_debug("strophe %s: %s", area, msg);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ferry-component [-dhnTVv] [-f file] [-o section.key=value]\n"
            "  -f file      configuration file (ferry-component.conf(5))\n"
            "  -o s.k=v     set one key over the file, e.g.\n"
            "               -o component.secret_file=%%d/component.secret\n"
            "               in a systemd unit (repeatable)\n"
            "  -n           check the configuration and exit\n"
            "  -T           print the effective configuration and exit\n"
            "  -v, -d       more log output (-d: debug)\n"
            "  -V, --version  print the version and exit\n"
            "  -h, --help   this help\n");
}

static int load_secrets(struct comp *c)
{
    uint8_t *s;
    size_t l;
    int rc;

    if (c->conf.secret_file == NULL || c->conf.relay_secret_file == NULL) {
        fprintf(stderr, "component.secret_file and channels.relay_secret_file "
                        "are required\n");
        return -1;
    }
    if ((rc = conf_read_secret(c->conf.secret_file, &s, &l)) != FERRY_OK) {
        fprintf(stderr, "component.secret_file %s: %s\n", c->conf.secret_file,
                conf_secret_why(rc));
        return -1;
    }
    c->secret = g_strndup((const char *)s, l);
    conf_secret_free(s, l);
    if ((rc = conf_read_secret(c->conf.relay_secret_file, &c->relay_secret,
                               &c->relay_secret_len)) != FERRY_OK) {
        fprintf(stderr, "channels.relay_secret_file %s: %s\n",
                c->conf.relay_secret_file, conf_secret_why(rc));
        return -1;
    }
    return 0;
}

/* What loading the configuration allocated (secrets wiped). */
static void config_release(struct comp *c)
{
    g_free(c->secret);
    conf_secret_free(c->relay_secret, c->relay_secret_len);
    free(c->relays);
    conf_free(comp_opts, comp_nopts, &c->conf);
}

int main(int argc, char **argv)
{
    struct comp c;
    const char *path = NULL;
    int ch, check_only = 0, dump = 0, verbose = -1, problems = 0;
    time_t last_prune;
    xmpp_log_t logger = {strophe_log, NULL};
    static const struct option lo[] = {{"help", 0, NULL, 'h'},
                                       {"version", 0, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
    const char *sets[32];
    size_t nsets = 0, k;

    memset(&c, 0, sizeof(c));
    while ((ch = getopt_long(argc, argv, "df:hno:TVv", lo, NULL)) != -1) {
        switch (ch) {
        case 'd':
            verbose = LOG_LVL_DEBUG;
            break;
        case 'f':
            path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'n':
            check_only = 1;
            break;
        case 'o':
            if (nsets == sizeof(sets) / sizeof(sets[0])) {
                fprintf(stderr, "ferry-component: too many -o\n");
                return 64;
            }
            sets[nsets++] = optarg;
            break;
        case 'T':
            dump = 1;
            break;
        case 'V':
            printf("ferry-component %s\n", PACKAGE_VERSION);
            return 0;
        case 'v':
            verbose = verbose < 0 ? 2 : verbose + 1;
            break;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "ferry-component: unexpected argument %s\n",
                argv[optind]);
        usage(stderr);
        return 64;
    }
    log_init("ferry-component", LOG_LVL_INFO);
    if (conf_defaults(comp_opts, comp_nopts, &c.conf) != FERRY_OK)
        fatalx("built-in defaults are invalid");
    if (path != NULL)
        problems = conf_load(comp_opts, comp_nopts, &c.conf, path, stderr);
    for (k = 0; k < nsets; k++)
        problems += conf_set(comp_opts, comp_nopts, &c.conf, sets[k], stderr);
    if (problems == 0 && load_secrets(&c) < 0)
        problems++;
    if (problems == 0 && relays_parse(&c) != FERRY_OK)
        problems++;
    if (check_only || dump) {
        if (dump)
            conf_dump(comp_opts, comp_nopts, &c.conf, stdout);
        else if (problems == 0)
            printf("configuration OK\n");
        config_release(&c);
        return problems ? 78 : 0;
    }
    if (problems)
        fatalx("%d configuration problem(s); run with -n for the list",
               problems);
    log_setlevel(verbose >= 0 ? verbose : (int)c.conf.log_level);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    xmpp_initialize();
    c.ctx = xmpp_ctx_new(NULL, &logger);
    c.policy = policy_new(&c.conf);
    last_prune = time(NULL);
    start_conn(&c);
    while (!stop_signal) {
        time_t now;

        xmpp_run_once(c.ctx, 200);
        now = time(NULL);
        if (reconnect.pending && now >= reconnect.at) {
            reconnect.pending = 0;
            start_conn(&c);
        }
        health_tick(&c, now);
        /* Quota records outlive their channels only until the next sweep,
         * so the table tracks active requesters, not every JID ever seen. */
        if (now - last_prune >= 60) {
            size_t left = policy_prune(c.policy, (uint64_t)now);
            log_debug("policy sweep tracked_jids=%zu", left);
            last_prune = now;
        }
    }
    health_stop(&c);
    log_info("signal %d: shutting down served=%llu refused=%llu",
             (int)stop_signal, (unsigned long long)c.served,
             (unsigned long long)c.refused);
    if (c.conn != NULL) {
        if (c.connected) {
            int i;
            xmpp_disconnect(c.conn);
            for (i = 0; i < 20 && c.connected; i++)
                xmpp_run_once(c.ctx, 50);
        }
        xmpp_conn_release(c.conn);
    }
    policy_free(c.policy);
    xmpp_ctx_free(c.ctx);
    xmpp_shutdown();
    config_release(&c);
    return 0;
}
