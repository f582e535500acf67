#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "relay.h"

/* Prometheus text format on a separate loopback listener. Once the
 * request has arrived (it is not parsed: every path gets the metrics) the
 * answer is written in one go and the connection closed. */
static void stats_answer(struct loop *l, int fd, void *ud, int mask)
{
    struct relay *r = ud;
    char body[8192], resp[8448];
    size_t o = 0;
    int len, c;
    char junk[4096];
    ssize_t n;

    (void)mask;
    n = read(fd, junk, sizeof(junk));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    loop_del(l, fd);
    if (n <= 0) {
        close(fd);
        return;
    }
#define P(...)                                                                 \
    do {                                                                       \
        int w_ = snprintf(body + o, sizeof(body) - o, __VA_ARGS__);            \
        if (w_ > 0 && (size_t)w_ < sizeof(body) - o)                           \
            o += (size_t)w_;                                                   \
    } while (0)
    P("# TYPE ferry_relay_connections gauge\n");
    P("ferry_relay_connections %zu\n", r->nconns);
    P("# TYPE ferry_relay_channels gauge\n");
    P("ferry_relay_channels %zu\n", r->nchannels_live);
    P("# TYPE ferry_relay_connections_accepted_total counter\n");
    P("ferry_relay_connections_accepted_total %llu\n",
      (unsigned long long)r->st.conns_accepted);
    P("ferry_relay_connections_refused_total %llu\n",
      (unsigned long long)r->st.conns_refused);
    P("ferry_relay_channels_paired_total %llu\n",
      (unsigned long long)r->st.channels_paired);
    P("ferry_relay_channels_completed_total %llu\n",
      (unsigned long long)r->st.channels_completed);
    P("ferry_relay_bytes_forwarded_total %llu\n",
      (unsigned long long)r->st.bytes_forwarded);
    P("ferry_relay_frames_forwarded_total %llu\n",
      (unsigned long long)r->st.frames_forwarded);
    P("ferry_relay_slow_downs_total %llu\n",
      (unsigned long long)r->st.slow_downs);
    P("ferry_relay_resumes_total %llu\n", (unsigned long long)r->st.resumes);
    P("# TYPE ferry_relay_errors_total counter\n");
    for (c = 1; c <= FERRY_ERR_WIRE_MAX; c++)
        if (r->st.errors[c])
            P("ferry_relay_errors_total{code=\"%s\"} %llu\n", ferry_errname(c),
              (unsigned long long)r->st.errors[c]);
    P("# TYPE ferry_relay_peer_gone_total counter\n");
    for (c = 1; c <= FERRY_ERR_WIRE_MAX; c++)
        if (r->st.peer_gone[c])
            P("ferry_relay_peer_gone_total{reason=\"%s\"} %llu\n",
              ferry_errname(c), (unsigned long long)r->st.peer_gone[c]);
#undef P
    len = snprintf(resp, sizeof(resp),
                   "HTTP/1.0 200 OK\r\nContent-Type: text/plain; "
                   "version=0.0.4\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%.*s",
                   o, (int)o, body);
    if (len > 0)
        (void)!write(fd, resp, (size_t)len);
    shutdown(fd, SHUT_WR);
    close(fd);
}

void stats_serve(struct loop *l, int lfd, void *ud, int mask)
{
    struct relay *r = ud;
    int fd;

    (void)mask;
    fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    if (fd >= r->setsize || loop_set(l, fd, LOOP_READ, stats_answer, r) < 0)
        close(fd);
}
