/* ferry-relay: pairs the two ends of a Ferry channel and forwards frames
 * between them (XEP draft, "Relay Wire Protocol"). No XMPP, no disk. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"
#include "log.h"
#include "relay.h"

GHashTable *pair_table_new(void);

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ferry-relay [-dhnTVv] [-f file] [-o section.key=value]\n"
            "  -f file      configuration file (default: built-in defaults;\n"
            "               see ferry-relay.conf(5))\n"
            "  -o s.k=v     set one key over the file, e.g.\n"
            "               -o relay.secret_files=%%d/relay.secret in a\n"
            "               systemd unit (repeatable)\n"
            "  -n           check the configuration and exit\n"
            "  -T           print the effective configuration and exit\n"
            "  -v           more log output (repeat for debug)\n"
            "  -d           debug output (same as -vv)\n"
            "  -V, --version  print the version and exit\n"
            "  -h, --help   this help\n"
            "Signals: SIGTERM drains and exits, SIGHUP reloads secrets.\n");
}

/* Why bind() or listen() failed, and what fixes it. */
static const char *listen_hint(int err)
{
    switch (err) {
    case EADDRINUSE:
        return " (another process listens on that port, perhaps another "
               "ferry-relay; `ss -ltnp` shows which: stop it or choose "
               "another port)";
    case EACCES:
        return " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    case EADDRNOTAVAIL:
        return " (that address is not one of this host's)";
    default:
        return "";
    }
}

/* "host:port" or "[v6]:port" (the value of the key `what`) into a
 * listening socket, or -1 after saying why. */
static int listen_on(const char *what, const char *spec, int backlog)
{
    char host[256];
    const char *port, *h = spec;
    size_t hl;
    struct addrinfo hints, *res = NULL, *ai;
    int fd = -1, one = 1, rc, err;

    if (spec[0] == '[') {
        const char *e = strchr(spec, ']');
        if (e == NULL || e[1] != ':') {
            log_warnx("%s = %s: expected [v6]:port", what, spec);
            return -1;
        }
        h = spec + 1;
        hl = (size_t)(e - h);
        port = e + 2;
    } else {
        const char *e = strrchr(spec, ':');
        if (e == NULL) {
            log_warnx("%s = %s: expected host:port", what, spec);
            return -1;
        }
        hl = (size_t)(e - spec);
        port = e + 1;
    }
    if (hl >= sizeof(host)) {
        log_warnx("%s = %s: host name too long", what, spec);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if ((rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res)) != 0) {
        log_warnx("%s = %s: %s", what, spec, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family,
                    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, backlog) == 0)
            break;
        err = errno;
        log_warnx("cannot listen on port %s (%s = %s): %s%s", port, what,
                  spec, strerror(err), listen_hint(err));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int raise_nofile(int want)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    if (rl.rlim_cur < (rlim_t)want) {
        rl.rlim_cur = (rlim_t)want < rl.rlim_max ? (rlim_t)want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("setrlimit");
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (int)rl.rlim_cur;
}

static void begin_drain(struct relay *r)
{
    size_t i;
    int fd;
    struct conn *c;

    if (r->draining)
        return;
    r->draining = 1;
    r->drain_deadline = loop_now_ms() + r->conf.drain_timeout * 1000;
    for (i = 0; i < r->nlisten; i++) {
        loop_del(r->loop, r->listen_fds[i]);
        close(r->listen_fds[i]);
    }
    r->nlisten = 0;
    for (fd = 0; fd < r->setsize; fd++)
        if ((c = r->conns[fd]) != NULL &&
            (c->c_state == CONN_HANDSHAKE || c->c_state == CONN_WAITING))
            conn_fail(r, c, FERRY_ERR_SHUTDOWN, "relay shutting down");
    log_info("draining connections=%zu timeout=%llds", r->nconns,
             (long long)r->conf.drain_timeout);
}

static void on_signal(struct loop *l, int fd, void *ud, int mask)
{
    struct relay *r = ud;
    struct signalfd_siginfo si;

    (void)l;
    (void)mask;
    while (read(fd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            if (relay_load_secrets(r) == FERRY_OK)
                log_info("secrets reloaded count=%zu", r->nsecrets);
            else
                log_warnx("secret reload failed; keeping the old secrets");
            /* Renewed certificates take effect without a restart. */
            if (r->tls_ctx != NULL) {
                if (tls_setup(r) == FERRY_OK)
                    log_info("tls certificate reloaded cert=%s",
                             r->conf.tls_cert);
                else
                    log_warnx("tls reload failed; keeping the old certificate");
            }
        } else {
            log_info("signal %s", strsignal((int)si.ssi_signo));
            begin_drain(r);
        }
    }
}

static void on_tick(struct loop *l, void *ud)
{
    struct relay *r = ud;
    long long now = loop_now_ms();
    static long long last_pair_sweep;
    int fd;

    conn_sweep(r, now);
    if (now - last_pair_sweep > 1000) {
        pair_sweep(r, (uint64_t)time(NULL));
        last_pair_sweep = now;
    }
    stats_sweep(r, now);
    accept_resume(r, now);
    if (r->draining) {
        if (now >= r->drain_deadline)
            for (fd = 0; fd < r->setsize; fd++)
                if (r->conns[fd] != NULL)
                    conn_fail(r, r->conns[fd], FERRY_ERR_SHUTDOWN,
                              "relay shutting down");
        if (r->nconns == 0)
            loop_stop(l);
    }
}

static void before_sleep(struct loop *l, void *ud)
{
    (void)l;
    conn_reap(ud);
}

static int drop_privileges(const char *user)
{
    struct passwd *pw;

    if (user == NULL || user[0] == '\0')
        return 0;
    if ((pw = getpwnam(user)) == NULL) {
        log_warnx("user %s not found", user);
        return -1;
    }
    if (setgroups(1, &pw->pw_gid) < 0 ||
        setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
        setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
        log_warn("dropping privileges to %s", user);
        return -1;
    }
    log_info("running as user=%s", user);
    return 0;
}

int main(int argc, char **argv)
{
    struct relay r;
    int ch, check_only = 0, dump = 0, verbose = -1, nofile, problems = 0;
    size_t i, n, t;
    sigset_t mask;

    static const struct option lo[] = {{"help", 0, NULL, 'h'},
                                       {"version", 0, NULL, 'V'},
                                       {NULL, 0, NULL, 0}};
    const char *sets[32];
    size_t nsets = 0, k;

    memset(&r, 0, sizeof(r));
    r.stats_fd = r.sig_fd = -1;
    while ((ch = getopt_long(argc, argv, "df:hno:TVv", lo, NULL)) != -1) {
        switch (ch) {
        case 'd':
            verbose = LOG_LVL_DEBUG;
            break;
        case 'f':
            r.conf_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'n':
            check_only = 1;
            break;
        case 'o':
            if (nsets == sizeof(sets) / sizeof(sets[0])) {
                fprintf(stderr, "ferry-relay: too many -o\n");
                return 64;
            }
            sets[nsets++] = optarg;
            break;
        case 'T':
            dump = 1;
            break;
        case 'V':
            printf("ferry-relay %s\n", PACKAGE_VERSION);
            return 0;
        case 'v':
            verbose = verbose < 0 ? LOG_LVL_INFO + 1 : verbose + 1;
            break;
        default:
            usage(stderr);
            return 64;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 64;
    }
    log_init("ferry-relay", LOG_LVL_INFO);
    if (conf_defaults(relay_opts, relay_nopts, &r.conf) != FERRY_OK)
        fatalx("built-in defaults are invalid");
    if (r.conf_path != NULL)
        problems =
            conf_load(relay_opts, relay_nopts, &r.conf, r.conf_path, stderr);
    for (k = 0; k < nsets; k++)
        problems += conf_set(relay_opts, relay_nopts, &r.conf, sets[k], stderr);
    if (problems == 0 && relay_load_secrets(&r) != FERRY_OK)
        problems++;
    if (problems == 0 && tls_setup(&r) != FERRY_OK)
        problems++;
    if (check_only) {
        if (problems == 0)
            printf("configuration OK\n");
        conf_free(relay_opts, relay_nopts, &r.conf);
        relay_free_secrets(&r);
        tls_teardown(&r);
        return problems ? 78 : 0;
    }
    if (dump) {
        conf_dump(relay_opts, relay_nopts, &r.conf, stdout);
        conf_free(relay_opts, relay_nopts, &r.conf);
        relay_free_secrets(&r);
        return problems ? 78 : 0;
    }
    if (problems)
        fatalx("%d configuration problem(s); run with -n for the list",
               problems);
    log_setlevel(verbose >= 0 ? verbose : (int)r.conf.log_level);

    signal(SIGPIPE, SIG_IGN);
    /* Channel rings are big, short-lived blocks: with a fixed mmap threshold
     * glibc maps and unmaps each one, so a relay back to idle gives their
     * memory back instead of keeping its peak in the heap for good. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    nofile = raise_nofile((int)r.conf.max_connections + 64);
    log_info("open file limit=%d", nofile);
    r.setsize = nofile;
    if ((r.loop = loop_new(r.setsize)) == NULL ||
        (r.conns = calloc((size_t)r.setsize, sizeof(*r.conns))) == NULL)
        fatal("allocating the event loop for %d fds", r.setsize);
    r.channels = pair_table_new();
    r.per_ip = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (n = 0; r.conf.listen && r.conf.listen[n]; n++)
        ;
    for (t = 0; r.conf.tls_listen && r.conf.tls_listen[t]; t++)
        ;
    r.listen_fds = calloc(n + t + 1, sizeof(int));
    r.listen_tls = calloc(n + t + 1, sizeof(int));
    for (i = 0; i < n + t; i++) {
        const char *spec = i < n ? r.conf.listen[i] : r.conf.tls_listen[i - n];
        int fd = listen_on(i < n ? "relay.listen" : "relay.tls_listen", spec,
                           4096);
        if (fd < 0)
            fatalx("exiting: cannot listen on %s", spec);
        r.listen_tls[r.nlisten] = i >= n;
        r.listen_fds[r.nlisten++] = fd;
        loop_set(r.loop, fd, LOOP_READ, conn_accept, &r);
        log_info("listening on %s%s", spec, i >= n ? " (TLS)" : "");
    }
    if (r.conf.stats_listen && r.conf.stats_listen[0]) {
        if ((r.stats_fd = listen_on("relay.stats_listen", r.conf.stats_listen,
                                    64)) < 0)
            fatalx("exiting: cannot listen on %s", r.conf.stats_listen);
        r.stats_conns = calloc((size_t)r.conf.stats_max_connections,
                               sizeof(*r.stats_conns));
        if (r.stats_conns == NULL)
            fatal("allocating %lld metrics connections",
                  (long long)r.conf.stats_max_connections);
        loop_set(r.loop, r.stats_fd, LOOP_READ, stats_serve, &r);
        log_info("stats on %s", r.conf.stats_listen);
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    if ((r.sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        fatal("signalfd");
    loop_set(r.loop, r.sig_fd, LOOP_READ, on_signal, &r);
    if (drop_privileges(r.conf.user) < 0)
        fatalx("cannot drop privileges");

    loop_on_tick(r.loop, 100, on_tick, &r);
    loop_on_before_sleep(r.loop, before_sleep, &r);
    log_info("ready secrets=%zu buffer=%lld max_frame=%lld", r.nsecrets,
             (long long)r.conf.buffer_size, (long long)r.conf.max_frame);
    loop_run(r.loop);

    conn_reap(&r);
    log_info("exiting forwarded_bytes=%llu channels=%llu",
             (unsigned long long)r.st.bytes_forwarded,
             (unsigned long long)r.st.channels_paired);
    stats_free_all(&r);
    if (r.stats_fd >= 0)
        close(r.stats_fd);
    close(r.sig_fd);
    pair_free_all(&r);
    g_hash_table_destroy(r.per_ip);
    free(r.conns);
    free(r.listen_fds);
    free(r.listen_tls);
    tls_teardown(&r);
    loop_free(r.loop);
    relay_free_secrets(&r);
    conf_free(relay_opts, relay_nopts, &r.conf);
    return 0;
}
