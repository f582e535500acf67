/* xmpp-baseline: the two stock ways of sending a file over XMPP that
 * bench/compare measures Ferry against, as a small libstrophe client.
 *
 *   s5b-recv    --jid J --password-file F --server H:P --out FILE
 *   s5b-send    --jid J --password-file F --server H:P --proxy JID
 *               --to FULL_JID --file FILE
 *   upload-slot --jid J --password-file F --server H:P --service JID
 *               --file FILE
 *   now         prints the clock of the event lines
 *
 * s5b-*: XEP-0065 through a proxy (Prosody's mod_proxy65): the initiator
 * asks the proxy for its address, offers it to the target, the target
 * connects first (SOCKS5, DST.ADDR = hex SHA-1(sid + initiator + target)),
 * then the initiator connects, activates and streams. upload-slot: XEP-0363
 * slot request; prints "put URL", "header NAME: VALUE" and "get URL" lines
 * for curl. Timing goes to stderr as "baseline: event=E mono=S" lines
 * (CLOCK_MONOTONIC, comparable between processes). Exit 0 on success. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <strophe.h>

#define NS_BS "http://jabber.org/protocol/bytestreams"
#define NS_UPLOAD "urn:xmpp:http:upload:0"
#define IO_BUF (1 << 20)

static struct {
    const char *mode, *jid, *pass_file, *server, *proxy, *to, *file, *out,
        *service;
} o;
static xmpp_ctx_t *ctx;
static xmpp_conn_t *conn;
static int logged_in, finished, failed;
static int data_fd = -1;      /* the SOCKS5 stream once it is set up */
static char sid[32], peer[512]; /* s5b-recv: the initiator's full JID */
static char sh_host[256];
static int sh_port;

static void event(const char *what)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    fprintf(stderr, "baseline: event=%s mono=%.6f\n", what,
            (double)ts.tv_sec + ts.tv_nsec / 1e9);
}

static void die(const char *why)
{
    fprintf(stderr, "baseline: %s\n", why);
    failed = 1;
    finished = 1;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_exact(int fd, void *p, size_t n)
{
    char *c = p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* SOCKS5 CONNECT to the proxy with the XEP-0065 destination hash. */
static int socks5(const char *initiator, const char *target)
{
    char port[8], *src, *hash;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    unsigned char req[4 + 1 + 40 + 2], rep[4 + 1 + 255 + 2];
    int fd;

    snprintf(port, sizeof(port), "%d", sh_port);
    if (getaddrinfo(sh_host, port, &hints, &ai) != 0)
        return -1;
    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(ai);
    src = g_strconcat(sid, initiator, target, NULL);
    hash = g_compute_checksum_for_string(G_CHECKSUM_SHA1, src, -1);
    g_free(src);
    memcpy(req, "\x05\x01\x00", 3);
    if (write_all(fd, req, 3) != 0 || read_exact(fd, rep, 2) != 0 ||
        rep[0] != 5 || rep[1] != 0)
        goto bad;
    memcpy(req, "\x05\x01\x00\x03", 4);
    req[4] = 40;
    memcpy(req + 5, hash, 40);
    req[45] = req[46] = 0;
    /* The reply echoes the 40-byte domain name: 4 + 1 + 40 + 2 bytes. */
    if (write_all(fd, req, 47) != 0 || read_exact(fd, rep, 47) != 0 ||
        rep[0] != 5 || rep[1] != 0)
        goto bad;
    g_free(hash);
    return fd;
bad:
    g_free(hash);
    close(fd);
    return -1;
}

static xmpp_stanza_t *iq_new(const char *type, const char *to,
                             const char *id)
{
    xmpp_stanza_t *iq = xmpp_iq_new(ctx, type, id);
    xmpp_stanza_set_to(iq, to);
    return iq;
}

static xmpp_stanza_t *child(xmpp_stanza_t *parent, const char *name,
                            const char *ns)
{
    xmpp_stanza_t *c = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(c, name);
    if (ns != NULL)
        xmpp_stanza_set_ns(c, ns);
    xmpp_stanza_add_child(parent, c);
    xmpp_stanza_release(c);
    return c;
}

static int is_error(xmpp_stanza_t *st)
{
    const char *t = xmpp_stanza_get_type(st);
    return t == NULL || strcmp(t, "result") != 0;
}

/* ---- s5b-send ---------------------------------------------------------- */

static int on_activated(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud)
{
    (void)c;
    (void)ud;
    if (is_error(st))
        die("proxy refused to activate");
    else
        finished = 1; /* main() streams the file */
    return 0;
}

static int on_used(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud)
{
    xmpp_stanza_t *iq, *q, *a, *txt;

    (void)ud;
    if (is_error(st)) {
        die("target refused the bytestream");
        return 0;
    }
    data_fd = socks5(xmpp_conn_get_bound_jid(c), o.to);
    if (data_fd < 0) {
        die("SOCKS5 connect to the proxy failed");
        return 0;
    }
    iq = iq_new("set", o.proxy, "act");
    q = child(iq, "query", NS_BS);
    xmpp_stanza_set_attribute(q, "sid", sid);
    a = child(q, "activate", NULL);
    txt = xmpp_stanza_new(ctx);
    xmpp_stanza_set_text(txt, o.to);
    xmpp_stanza_add_child(a, txt);
    xmpp_stanza_release(txt);
    xmpp_id_handler_add(c, on_activated, "act", NULL);
    xmpp_send(c, iq);
    xmpp_stanza_release(iq);
    return 0;
}

static int on_proxy_addr(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud)
{
    xmpp_stanza_t *q, *sh, *iq, *q2, *sh2;
    const char *host, *port;
    char pbuf[8];

    (void)ud;
    q = xmpp_stanza_get_child_by_name_and_ns(st, "query", NS_BS);
    sh = q ? xmpp_stanza_get_child_by_name(q, "streamhost") : NULL;
    host = sh ? xmpp_stanza_get_attribute(sh, "host") : NULL;
    port = sh ? xmpp_stanza_get_attribute(sh, "port") : NULL;
    if (is_error(st) || host == NULL || port == NULL ||
        strlen(host) >= sizeof(sh_host) || atoi(port) <= 0 ||
        atoi(port) > 65535) {
        die("proxy did not give its address");
        return 0;
    }
    g_strlcpy(sh_host, host, sizeof(sh_host));
    sh_port = atoi(port);
    iq = iq_new("set", o.to, "offer");
    q2 = child(iq, "query", NS_BS);
    xmpp_stanza_set_attribute(q2, "sid", sid);
    xmpp_stanza_set_attribute(q2, "mode", "tcp");
    sh2 = child(q2, "streamhost", NULL);
    xmpp_stanza_set_attribute(sh2, "jid", o.proxy);
    xmpp_stanza_set_attribute(sh2, "host", sh_host);
    snprintf(pbuf, sizeof(pbuf), "%d", sh_port);
    xmpp_stanza_set_attribute(sh2, "port", pbuf);
    xmpp_id_handler_add(c, on_used, "offer", NULL);
    xmpp_send(c, iq);
    xmpp_stanza_release(iq);
    return 0;
}

static void s5b_send_start(void)
{
    xmpp_stanza_t *iq = iq_new("get", o.proxy, "addr");
    child(iq, "query", NS_BS);
    g_snprintf(sid, sizeof(sid), "s%08x", g_random_int());
    xmpp_id_handler_add(conn, on_proxy_addr, "addr", NULL);
    xmpp_send(conn, iq);
    xmpp_stanza_release(iq);
}

/* ---- s5b-recv ---------------------------------------------------------- */

static int on_bs_offer(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud)
{
    xmpp_stanza_t *q, *sh, *r, *rq, *used;
    const char *s, *host, *port, *jid, *from = xmpp_stanza_get_from(st);

    (void)ud;
    if (data_fd >= 0 || xmpp_stanza_get_type(st) == NULL ||
        strcmp(xmpp_stanza_get_type(st), "set") != 0)
        return 1;
    q = xmpp_stanza_get_child_by_name_and_ns(st, "query", NS_BS);
    sh = q ? xmpp_stanza_get_child_by_name(q, "streamhost") : NULL;
    s = q ? xmpp_stanza_get_attribute(q, "sid") : NULL;
    host = sh ? xmpp_stanza_get_attribute(sh, "host") : NULL;
    port = sh ? xmpp_stanza_get_attribute(sh, "port") : NULL;
    jid = sh ? xmpp_stanza_get_attribute(sh, "jid") : NULL;
    if (from == NULL || s == NULL || host == NULL || port == NULL ||
        jid == NULL || strlen(s) >= sizeof(sid) ||
        strlen(host) >= sizeof(sh_host) || strlen(from) >= sizeof(peer) ||
        atoi(port) <= 0 || atoi(port) > 65535) {
        die("malformed bytestream offer");
        return 0;
    }
    g_strlcpy(sid, s, sizeof(sid));
    g_strlcpy(sh_host, host, sizeof(sh_host));
    g_strlcpy(peer, from, sizeof(peer));
    sh_port = atoi(port);
    data_fd = socks5(peer, xmpp_conn_get_bound_jid(c));
    if (data_fd < 0) {
        die("SOCKS5 connect to the proxy failed");
        return 0;
    }
    r = iq_new("result", from, xmpp_stanza_get_id(st));
    xmpp_stanza_set_from(r, xmpp_conn_get_bound_jid(c));
    rq = child(r, "query", NS_BS);
    xmpp_stanza_set_attribute(rq, "sid", sid);
    used = child(rq, "streamhost-used", NULL);
    xmpp_stanza_set_attribute(used, "jid", jid);
    xmpp_send(c, r);
    xmpp_stanza_release(r);
    finished = 1; /* main() receives the file */
    return 0;
}

/* ---- upload-slot ------------------------------------------------------- */

static int on_slot(xmpp_conn_t *c, xmpp_stanza_t *st, void *ud)
{
    xmpp_stanza_t *slot, *put, *get, *h;
    const char *pu, *gu;

    (void)c;
    (void)ud;
    slot = xmpp_stanza_get_child_by_name_and_ns(st, "slot", NS_UPLOAD);
    put = slot ? xmpp_stanza_get_child_by_name(slot, "put") : NULL;
    get = slot ? xmpp_stanza_get_child_by_name(slot, "get") : NULL;
    pu = put ? xmpp_stanza_get_attribute(put, "url") : NULL;
    gu = get ? xmpp_stanza_get_attribute(get, "url") : NULL;
    if (is_error(st) || pu == NULL || gu == NULL) {
        die("upload service gave no slot");
        return 0;
    }
    printf("put %s\n", pu);
    for (h = xmpp_stanza_get_children(put); h; h = xmpp_stanza_get_next(h)) {
        char *v = xmpp_stanza_get_text(h);
        const char *n = xmpp_stanza_get_attribute(h, "name");
        if (n != NULL && v != NULL && strchr(v, '\n') == NULL)
            printf("header %s: %s\n", n, v);
        if (v != NULL)
            xmpp_free(ctx, v);
    }
    printf("get %s\n", gu);
    finished = 1;
    return 0;
}

static void upload_start(void)
{
    xmpp_stanza_t *iq = iq_new("get", o.service, "slot"), *r;
    char size[32], *base = g_path_get_basename(o.file);
    FILE *f = fopen(o.file, "rb");
    long long n;

    if (f == NULL || fseeko(f, 0, SEEK_END) != 0 || (n = ftello(f)) < 0) {
        die("cannot read the file");
        if (f)
            fclose(f);
        g_free(base);
        xmpp_stanza_release(iq);
        return;
    }
    fclose(f);
    snprintf(size, sizeof(size), "%lld", n);
    r = child(iq, "request", NS_UPLOAD);
    xmpp_stanza_set_attribute(r, "filename", base);
    xmpp_stanza_set_attribute(r, "size", size);
    xmpp_stanza_set_attribute(r, "content-type", "application/octet-stream");
    xmpp_id_handler_add(conn, on_slot, "slot", NULL);
    xmpp_send(conn, iq);
    xmpp_stanza_release(iq);
    g_free(base);
}

/* ---- main -------------------------------------------------------------- */

static void on_conn(xmpp_conn_t *c, xmpp_conn_event_t status, int error,
                    xmpp_stream_error_t *se, void *ud)
{
    (void)c;
    (void)error;
    (void)se;
    (void)ud;
    if (status != XMPP_CONN_CONNECT) {
        if (!finished)
            die("disconnected");
        return;
    }
    logged_in = 1;
    event("logged-in");
    if (strcmp(o.mode, "s5b-send") == 0)
        s5b_send_start();
    else if (strcmp(o.mode, "upload-slot") == 0)
        upload_start();
}

static int stream_file(void)
{
    char *buf = g_malloc(IO_BUF);
    int fd = open(o.file, O_RDONLY), rc = 0;
    ssize_t n;

    if (fd < 0) {
        g_free(buf);
        return -1;
    }
    event("streaming");
    while ((n = read(fd, buf, IO_BUF)) > 0)
        if (write_all(data_fd, buf, (size_t)n) != 0) {
            rc = -1;
            break;
        }
    if (n < 0)
        rc = -1;
    close(fd);
    shutdown(data_fd, SHUT_WR);
    /* The proxy closes the target's side once ours is read to the end. */
    while (read(data_fd, buf, IO_BUF) > 0)
        ;
    g_free(buf);
    return rc;
}

static int receive_file(void)
{
    char *buf = g_malloc(IO_BUF);
    int fd = open(o.out, O_WRONLY | O_CREAT | O_TRUNC, 0644), rc = 0, first = 1;
    ssize_t n;

    if (fd < 0) {
        g_free(buf);
        return -1;
    }
    while ((n = read(data_fd, buf, IO_BUF)) > 0) {
        if (first) {
            event("first-byte");
            first = 0;
        }
        if (write_all(fd, buf, (size_t)n) != 0) {
            rc = -1;
            break;
        }
    }
    if (n < 0 || close(fd) != 0)
        rc = -1;
    g_free(buf);
    return rc;
}

static void usage(void)
{
    fputs("usage: xmpp-baseline s5b-recv|s5b-send|upload-slot --jid J "
          "--password-file F --server HOST:PORT [--out F] [--proxy JID "
          "--to JID --file F] [--service JID --file F]\n",
          stderr);
    exit(64);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"jid", 1, 0, 'j'},   {"password-file", 1, 0, 'p'},
        {"server", 1, 0, 's'}, {"proxy", 1, 0, 'x'},
        {"to", 1, 0, 't'},    {"file", 1, 0, 'f'},
        {"out", 1, 0, 'o'},   {"service", 1, 0, 'u'},
        {0, 0, 0, 0}};
    char *pass = NULL, *host, *colon;
    int c, rc = 0, i;
    long port;

    if (argc < 2)
        usage();
    o.mode = argv[1];
    if (strcmp(o.mode, "now") == 0) { /* the clock of the event lines */
        event("now");
        return 0;
    }
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'j': o.jid = optarg; break;
        case 'p': o.pass_file = optarg; break;
        case 's': o.server = optarg; break;
        case 'x': o.proxy = optarg; break;
        case 't': o.to = optarg; break;
        case 'f': o.file = optarg; break;
        case 'o': o.out = optarg; break;
        case 'u': o.service = optarg; break;
        default: usage();
        }
    }
    if (o.jid == NULL || o.pass_file == NULL || o.server == NULL ||
        (strcmp(o.mode, "s5b-recv") == 0 && o.out == NULL) ||
        (strcmp(o.mode, "s5b-send") == 0 &&
         (o.proxy == NULL || o.to == NULL || o.file == NULL)) ||
        (strcmp(o.mode, "upload-slot") == 0 &&
         (o.service == NULL || o.file == NULL)) ||
        (strcmp(o.mode, "s5b-recv") != 0 && strcmp(o.mode, "s5b-send") != 0 &&
         strcmp(o.mode, "upload-slot") != 0))
        usage();
    if (!g_file_get_contents(o.pass_file, &pass, NULL, NULL)) {
        fprintf(stderr, "baseline: cannot read %s\n", o.pass_file);
        return 64;
    }
    g_strchomp(pass);
    host = g_strdup(o.server);
    colon = strrchr(host, ':');
    port = colon ? strtol(colon + 1, NULL, 10) : 5222;
    if (colon)
        *colon = '\0';

    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    conn = xmpp_conn_new(ctx);
    xmpp_conn_set_flags(conn, XMPP_CONN_FLAG_DISABLE_TLS);
    xmpp_conn_set_jid(conn, o.jid);
    xmpp_conn_set_pass(conn, pass);
    if (strcmp(o.mode, "s5b-recv") == 0)
        xmpp_handler_add(conn, on_bs_offer, NS_BS, "iq", NULL, NULL);
    if (xmpp_connect_client(conn, host, (unsigned short)port, on_conn, NULL) !=
        XMPP_EOK)
        die("cannot connect");
    while (!finished)
        xmpp_run_once(ctx, 5);
    /* Flush what the last handler queued (the bytestream result). */
    for (i = 0; i < 3; i++)
        xmpp_run_once(ctx, 1);
    if (!failed && strcmp(o.mode, "s5b-send") == 0)
        rc = stream_file();
    else if (!failed && strcmp(o.mode, "s5b-recv") == 0)
        rc = receive_file();
    if (!failed && rc == 0 && strcmp(o.mode, "upload-slot") != 0)
        event("done");
    if (data_fd >= 0)
        close(data_fd);
    xmpp_disconnect(conn);
    for (i = 0; i < 20 && !xmpp_conn_is_disconnected(conn); i++)
        xmpp_run_once(ctx, 10);
    xmpp_conn_release(conn);
    xmpp_ctx_free(ctx);
    xmpp_shutdown();
    g_free(pass);
    g_free(host);
    return failed || rc != 0 ? 1 : 0;
}
