/* ferry CLI: logging in, and saying exactly why it failed. libstrophe
 * reports a failed login as a bare disconnect, so the cause is pieced
 * together from a name lookup made first, the certificate callback, the
 * socket error and libstrophe's own log lines. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <glib.h>

#include "cli.h"

enum cause { C_NONE, C_TLS, C_AUTH };

static struct {
    int connected, failed, err;
    enum cause cause;
    char tls_why[200];
    char stream_error[200];
} st;

static void on_log(void *ud, xmpp_log_level_t level, const char *area,
                   const char *msg)
{
    (void)ud;
    if (getenv("FERRY_DEBUG_XMPP") != NULL)
        fprintf(stderr, "xmpp %d %s: %s\n", level, area, msg);
    if (st.connected || msg == NULL)
        return;
    /* The connect error reaches the connection handler as 0: take it from
     * here. */
    if (sscanf(msg, "connection failed, error %d", &st.err) == 1)
        return;
    if (strstr(msg, "auth failed") != NULL ||
        strstr(msg, "Cannot authenticate") != NULL ||
        strstr(msg, "authentication failed") != NULL)
        st.cause = C_AUTH;
    else if (strncmp(msg, "Handshake failed", 16) == 0 &&
             st.cause == C_NONE) {
        st.cause = C_TLS;
        if (st.tls_why[0] == '\0')
            g_strlcpy(st.tls_why, msg, sizeof(st.tls_why));
    }
}

xmpp_log_t *login_logger(void)
{
    static xmpp_log_t log = {on_log, NULL};
    return &log;
}

int login_connected(void)
{
    return st.connected;
}

static int on_certfail(const xmpp_tlscert_t *cert, const char *const why)
{
    (void)cert;
    st.cause = C_TLS;
    snprintf(st.tls_why, sizeof(st.tls_why), "%s",
             why ? why : "certificate not trusted");
    return 0; /* never trust what did not verify */
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int error,
                    xmpp_stream_error_t *se, void *ud)
{
    xmpp_ctx_t *x = ud;
    xmpp_stanza_t *pres, *c;

    if (ev == XMPP_CONN_CONNECT) {
        st.connected = 1;
        pres = xmpp_presence_new(x);
        xmpp_send(conn, pres);
        xmpp_stanza_release(pres);
        return;
    }
    if (!st.connected) {
        st.failed = 1;
        if (error != 0)
            st.err = error;
        if (se != NULL && se->stanza != NULL) {
            for (c = xmpp_stanza_get_children(se->stanza); c;
                 c = xmpp_stanza_get_next(c))
                if (xmpp_stanza_is_tag(c) &&
                    strcmp(xmpp_stanza_get_name(c), "text") != 0)
                    break;
            snprintf(st.stream_error, sizeof(st.stream_error), "%s%s%s",
                     c ? xmpp_stanza_get_name(c) : "stream error",
                     se->text ? ": " : "", se->text ? se->text : "");
        }
    }
    st.connected = 0;
}

/* The host libstrophe will look up: the --server name, else the JID's
 * domain (libstrophe tries its SRV record first). */
static int resolves(const char *host)
{
    struct addrinfo hints, *ai = NULL;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &ai);
    if (ai != NULL)
        freeaddrinfo(ai);
    return rc;
}

static void explain(const char *host, int port, int dns_rc)
{
    const char *where = o.server ? o.server : host;

    if (st.cause == C_AUTH) {
        err("login as %s refused by the server: wrong password, or no such "
            "account",
            o.jid);
        return;
    }
    if (st.cause == C_TLS) {
        err("TLS with %s failed: %s%s", where, st.tls_why,
            o.ca_file ? "" : " (to trust the server's CA: --ca-file FILE)");
        return;
    }
    if (dns_rc != 0 && st.err != 0) {
        err("cannot find the XMPP server %s: %s%s", where,
            gai_strerror(dns_rc), o.server ? "" : " (use --server HOST)");
        return;
    }
    if (st.err != 0) {
        err("cannot connect to the XMPP server %s port %d: %s", where,
            port ? port : 5222, strerror(st.err));
        return;
    }
    if (st.stream_error[0] != '\0') {
        err("the XMPP server %s ended the login: %s", where, st.stream_error);
        return;
    }
    err("login as %s failed: the server %s closed the connection", o.jid,
        where);
}

int login(xmpp_ctx_t *x, xmpp_conn_t *conn, ferry_ctx_t *fctx,
          const char *password, volatile int *interrupted)
{
    char *domain = NULL;
    const char *host;
    int limit = o.timeout < 30 ? o.timeout : 30, dns_rc;
    double deadline = now_s() + limit;

    xmpp_conn_set_jid(conn, o.jid);
    xmpp_conn_set_pass(conn, password);
    xmpp_conn_set_certfail_handler(conn, on_certfail);
    if (o.ca_file != NULL)
        xmpp_conn_set_cafile(conn, o.ca_file);
    if (o.server != NULL)
        host = o.server;
    else {
        const char *at = strchr(o.jid, '@');
        domain = g_strndup(at ? at + 1 : o.jid,
                           strcspn(at ? at + 1 : o.jid, "/"));
        host = domain;
    }
    dns_rc = resolves(host);
    if (xmpp_connect_client(conn, o.server, (unsigned short)o.port, on_conn,
                            x) != XMPP_EOK) {
        st.err = st.err ? st.err : EHOSTUNREACH;
        explain(host, o.port, dns_rc ? dns_rc : EAI_NONAME);
        g_free(domain);
        return EX_SERVER;
    }
    while (!st.connected && !st.failed && now_s() < deadline && !*interrupted)
        ferry_strophe_run_once(fctx, 50);
    if (!st.connected) {
        if (*interrupted)
            err("interrupted while logging in");
        else if (!st.failed)
            err("login as %s: no answer from the server %s in %d s", o.jid,
                host, limit);
        else
            explain(host, o.port, dns_rc);
        g_free(domain);
        return *interrupted ? EX_CANCELLED : EX_SERVER;
    }
    g_free(domain);
    return 0;
}
