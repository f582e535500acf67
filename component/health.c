/* Relay health checks. A relay listed with "stats=HOST:PORT" is asked for
 * GET /metrics on that port every health_interval seconds; an answer that
 * starts "HTTP/1.x 200" within the timeout keeps it in the pool, anything
 * else (refused, silent, wrong status) takes it out until a later probe
 * passes. The probes are non-blocking and advanced once per turn of the
 * component's loop, so a dead relay never stalls XMPP. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "component.h"
#include "log.h"

#define PROBE_TIMEOUT 2 /* seconds */

static void verdict(struct relay_addr *r, int up, const char *why,
                    time_t now, int64_t interval)
{
    if (r->probe_fd >= 0)
        close(r->probe_fd);
    r->probe_fd = -1;
    r->next_probe = now + (time_t)interval;
    if (up != r->up)
        log_info("relay %s %s:%u stats=%s:%u reason=%s", up ? "up" : "down",
                 r->host, r->port, r->stats_host, r->stats_port, why);
    r->up = up;
}

static void probe_start(struct relay_addr *r, time_t now, int64_t interval)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV},
                    *ai;
    char port[8];
    int fd;

    snprintf(port, sizeof(port), "%u", r->stats_port);
    if (getaddrinfo(r->stats_host, port, &hints, &ai) != 0) {
        verdict(r, 0, "resolve", now, interval);
        return;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
                   errno != EINPROGRESS)) {
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        verdict(r, 0, "connect", now, interval);
        return;
    }
    freeaddrinfo(ai);
    r->probe_fd = fd;
    r->probe_sent = 0;
    r->reply_len = 0;
    r->probe_deadline = now + PROBE_TIMEOUT;
}

static void probe_step(struct relay_addr *r, short revents, time_t now,
                       int64_t interval)
{
    static const char req[] = "GET /metrics HTTP/1.0\r\n\r\n";
    int err = 0;
    socklen_t el = sizeof(err);
    ssize_t n;

    if (!r->probe_sent) {
        if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
            return;
        if (getsockopt(r->probe_fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
            err != 0 ||
            write(r->probe_fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
            verdict(r, 0, "connect", now, interval);
            return;
        }
        r->probe_sent = 1;
        return;
    }
    if (!(revents & (POLLIN | POLLERR | POLLHUP)))
        return;
    n = read(r->probe_fd, r->reply + r->reply_len,
             sizeof(r->reply) - 1 - r->reply_len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        verdict(r, 0, "no-answer", now, interval);
        return;
    }
    r->reply_len += (size_t)n;
    r->reply[r->reply_len] = '\0';
    if (r->reply_len < 12)
        return;
    if (strncmp(r->reply, "HTTP/1.", 7) == 0 &&
        strncmp(r->reply + 8, " 200", 4) == 0)
        verdict(r, 1, "ok", now, interval);
    else
        verdict(r, 0, "bad-status", now, interval);
}

void health_tick(struct comp *c, time_t now)
{
    struct pollfd pfd[64];
    struct relay_addr *owner[64];
    nfds_t n = 0, i;
    size_t k;

    if (c->conf.health_interval <= 0)
        return;
    for (k = 0; k < c->nrelays; k++) {
        struct relay_addr *r = &c->relays[k];
        if (r->stats_port == 0)
            continue;
        if (r->probe_fd < 0 && now >= r->next_probe)
            probe_start(r, now, c->conf.health_interval);
        if (r->probe_fd < 0)
            continue;
        if (now >= r->probe_deadline) {
            verdict(r, 0, "timeout", now, c->conf.health_interval);
            continue;
        }
        if (n < 64) {
            pfd[n].fd = r->probe_fd;
            pfd[n].events = r->probe_sent ? POLLIN : POLLOUT;
            owner[n++] = r;
        }
    }
    if (n == 0 || poll(pfd, n, 0) <= 0)
        return;
    for (i = 0; i < n; i++)
        if (pfd[i].revents)
            probe_step(owner[i], pfd[i].revents, now,
                       c->conf.health_interval);
}

void health_stop(struct comp *c)
{
    size_t k;

    for (k = 0; k < c->nrelays; k++)
        if (c->relays[k].probe_fd >= 0) {
            close(c->relays[k].probe_fd);
            c->relays[k].probe_fd = -1;
        }
}
