/* ferry-example: send or receive one file with libferry, using nothing but
 * <ferry.h>, libstrophe and libc.
 *
 *   ferry-example send PEER_FULL_JID FILE
 *   ferry-example recv DIR
 *
 * The account comes from the environment: FERRY_JID, FERRY_PASSWORD and,
 * optionally, FERRY_SERVER (host[:port]; default: from the JID) and
 * FERRY_COMPONENT (default: discovered). Exit status 0 when the transfer
 * ends FERRY_DONE_OK, 1 when it fails, 2 on a usage error.
 *
 * Build: cc ferry-example.c $(pkg-config --cflags --libs ferry)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ferry.h>

static ferry_ctx_t *fctx;
static ferry_transfer_t *mine; /* the one transfer of this run */
static const char *dir;        /* recv: where the file goes */
static int connected, login_failed, status = -1;

static void on_offer(ferry_transfer_t *t, const ferry_offer_info_t *o, void *ud)
{
    (void)ud;
    fprintf(stderr, "offer of %s (%llu bytes) from %s\n", o->name,
            (unsigned long long)o->size, o->from);
    if (dir == NULL || mine != NULL) { /* one file per run */
        ferry_reject(t, "busy", NULL);
    } else if (ferry_accept_file(t, dir) != FERRY_RC_OK) {
        fprintf(stderr, "cannot accept: %s\n", ferry_error(fctx));
        ferry_reject(t, "not-acceptable", NULL);
    } else {
        mine = t;
        fprintf(stderr, "receiving into %s\n", ferry_transfer_path(t));
    }
}

static void on_done(ferry_transfer_t *t, ferry_status_t s, const char *reason,
                    void *ud)
{
    (void)ud;
    if (t != mine)
        return; /* an offer declined above */
    fprintf(stderr, "transfer %s: %s%s%s\n", ferry_transfer_sid(t),
            ferry_status_name(s), reason ? " " : "", reason ? reason : "");
    status = (int)s;
    mine = NULL; /* freed when this returns */
}

static void on_conn(xmpp_conn_t *conn, xmpp_conn_event_t ev, int err,
                    xmpp_stream_error_t *se, void *ud)
{
    (void)err;
    (void)se;
    if (ev == XMPP_CONN_CONNECT) {
        xmpp_stanza_t *pres = xmpp_presence_new(ud);
        xmpp_send(conn, pres);
        xmpp_stanza_release(pres);
        connected = 1;
    } else {
        login_failed = !connected;
        connected = 0;
    }
}

int main(int argc, char **argv)
{
    ferry_callbacks_t cb = {NULL, NULL, on_offer, NULL, NULL, on_done};
    const char *jid = getenv("FERRY_JID"), *pass = getenv("FERRY_PASSWORD");
    const char *server = getenv("FERRY_SERVER");
    const char *component = getenv("FERRY_COMPONENT");
    int sending = argc == 4 && strcmp(argv[1], "send") == 0;
    time_t deadline = time(NULL) + 300;
    char host[256] = "", *colon;
    unsigned short port = 0;

    if (!sending && !(argc == 3 && strcmp(argv[1], "recv") == 0)) {
        fprintf(stderr, "usage: %s send PEER_FULL_JID FILE | recv DIR\n",
                argv[0]);
        return 2;
    }
    if (jid == NULL || pass == NULL) {
        fprintf(stderr, "set FERRY_JID and FERRY_PASSWORD\n");
        return 2;
    }
    if (server != NULL) {
        snprintf(host, sizeof(host), "%s", server);
        if ((colon = strrchr(host, ':')) != NULL) {
            *colon = '\0';
            port = (unsigned short)atoi(colon + 1);
        }
    }
    xmpp_initialize();
    xmpp_ctx_t *x = xmpp_ctx_new(NULL, NULL);
    xmpp_conn_t *conn = xmpp_conn_new(x);
    xmpp_conn_set_jid(conn, jid);
    xmpp_conn_set_pass(conn, pass);
    /* Attach before connecting: libferry then sees the login. */
    fctx = ferry_ctx_new(x, &cb, NULL);
    if (fctx == NULL || ferry_strophe_attach(fctx, conn) != FERRY_RC_OK ||
        (component && ferry_set_component(fctx, component) != FERRY_RC_OK) ||
        xmpp_connect_client(conn, host[0] ? host : NULL, port, on_conn, x) !=
            XMPP_EOK)
        return 1;
    while (!connected && !login_failed && time(NULL) < deadline)
        ferry_strophe_run_once(fctx, 50);
    if (!connected) {
        fprintf(stderr, "login as %s failed\n", jid);
        return 1;
    }
    ferry_strophe_run_once(fctx, 0); /* libferry learns the bound JID */
    if (sending) {
        ferry_send_opts_t opts;
        memset(&opts, 0, sizeof(opts)); /* defaults: the receiver requests */
        if (ferry_send_file(fctx, argv[2], argv[3], &opts, &mine) !=
            FERRY_RC_OK) {
            fprintf(stderr, "cannot send: %s\n", ferry_error(fctx));
            return 1;
        }
        fprintf(stderr, "offered %s to %s\n", argv[3], argv[2]);
    } else {
        dir = argv[2];
        fprintf(stderr, "logged in as %s, waiting for an offer\n",
                xmpp_conn_get_bound_jid(conn));
    }
    while (status < 0 && connected && time(NULL) < deadline)
        ferry_strophe_run_once(fctx, 100);
    ferry_ctx_free(fctx); /* cancels the transfer if it still runs */
    xmpp_disconnect(conn);
    for (int i = 0; i < 10 && connected; i++)
        xmpp_run_once(x, 50);
    xmpp_conn_release(conn);
    xmpp_ctx_free(x);
    xmpp_shutdown();
    return status == FERRY_DONE_OK ? 0 : 1;
}
