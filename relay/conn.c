#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "relay.h"

static void conn_io(struct loop *l, int fd, void *ud, int mask);

static const char *role_name(uint8_t role)
{
    return role == ROLE_SENDER     ? "sender"
           : role == ROLE_RECEIVER ? "receiver"
                                   : "-";
}

static void peer_name(const struct sockaddr_storage *ss, char *ip, size_t iplen,
                      char *out, size_t outlen)
{
    uint16_t port = 0;

    ip[0] = '\0';
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, ip, (socklen_t)iplen);
        port = ntohs(s4->sin_port);
        snprintf(out, outlen, "%s:%u", ip, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const void *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)iplen);
        port = ntohs(s6->sin6_port);
        snprintf(out, outlen, "[%s]:%u", ip, port);
    } else {
        snprintf(ip, iplen, "unix");
        snprintf(out, outlen, "unix");
    }
}

static int per_ip_add(struct relay *r, const char *ip, int delta)
{
    gpointer v = g_hash_table_lookup(r->per_ip, ip);
    long n = GPOINTER_TO_INT(v) + delta;

    if (n <= 0)
        g_hash_table_remove(r->per_ip, ip);
    else
        g_hash_table_insert(r->per_ip, g_strdup(ip), GINT_TO_POINTER(n));
    return (int)n;
}

/* Refuses a connection we will not serve: one ERROR frame, best effort,
 * then close. Never blocks. */
static void refuse(struct relay *r, int fd, const char *peer, int code,
                   const char *why)
{
    uint8_t tmp[64];
    struct buf *b = buf_new(sizeof(tmp));

    if (b != NULL && frame_put_error(b, (uint16_t)code, why) == FERRY_OK)
        (void)!write(fd, buf_ptr(b), buf_len(b));
    buf_free(b);
    close(fd);
    r->st.conns_refused++;
    r->st.errors[code]++;
    log_info("conn refused peer=%s reason=%s", peer, ferry_errname(code));
}

static int listener_is_tls(const struct relay *r, int lfd)
{
    size_t i;

    for (i = 0; i < r->nlisten; i++)
        if (r->listen_fds[i] == lfd)
            return r->listen_tls[i];
    return 0;
}

void accept_backoff(struct relay *r, const char *what)
{
    long long now = loop_now_ms();
    int e = errno;
    size_t i;

    r->st.accept_backoffs++;
    /* One line when it starts, then one every 10 s while it lasts. */
    if (r->accept_backoff_logged == 0 ||
        now - r->accept_backoff_logged >= 10000) {
        log_warnx("%s: %s; accepts paused for %lld ms (%llu more since the "
                  "last report)",
                  what, strerror(e), (long long)r->conf.accept_backoff_ms,
                  (unsigned long long)r->accept_backoff_quiet);
        r->accept_backoff_logged = now;
        r->accept_backoff_quiet = 0;
    } else
        r->accept_backoff_quiet++;
    r->accept_paused_until = now + r->conf.accept_backoff_ms;
    for (i = 0; i < r->nlisten; i++)
        loop_mask(r->loop, r->listen_fds[i], 0, LOOP_READ);
    if (r->stats_fd >= 0)
        loop_mask(r->loop, r->stats_fd, 0, LOOP_READ);
}

void accept_resume(struct relay *r, long long now)
{
    size_t i;

    if (r->accept_paused_until == 0 || now < r->accept_paused_until)
        return;
    r->accept_paused_until = 0;
    for (i = 0; i < r->nlisten; i++)
        loop_mask(r->loop, r->listen_fds[i], LOOP_READ, 0);
    if (r->stats_fd >= 0)
        loop_mask(r->loop, r->stats_fd, LOOP_READ, 0);
}

void conn_accept(struct loop *l, int lfd, void *ud, int mask)
{
    struct relay *r = ud;
    struct sockaddr_storage ss;
    socklen_t sl;
    struct conn *c;
    char ip[48], peer[64];
    int fd, one = 1, burst;

    (void)mask;
    if (r->draining)
        return;
    for (burst = 0; burst < 64; burst++) {
        sl = sizeof(ss);
        fd = accept4(lfd, (struct sockaddr *)&ss, &sl,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM)
                accept_backoff(r, "accept");
            else if (errno != EAGAIN && errno != EINTR &&
                       errno != ECONNABORTED)
                log_warn("accept");
            return;
        }
        peer_name(&ss, ip, sizeof(ip), peer, sizeof(peer));
        if (fd >= r->setsize || (int64_t)r->nconns >= r->conf.max_connections) {
            refuse(r, fd, peer, FERRY_ERR_LIMIT, "too many connections");
            continue;
        }
        if (r->conf.max_per_ip > 0 &&
            GPOINTER_TO_INT(g_hash_table_lookup(r->per_ip, ip)) >=
                r->conf.max_per_ip) {
            refuse(r, fd, peer, FERRY_ERR_LIMIT,
                   "too many connections from this address");
            continue;
        }
        if ((c = calloc(1, sizeof(*c))) == NULL) {
            refuse(r, fd, peer, FERRY_ERR_INTERNAL, "out of memory");
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->c_fd = fd;
        if (listener_is_tls(r, lfd) && io_tls_begin(r, c) != 0) {
            io_free(c);
            free(c);
            refuse(r, fd, peer, FERRY_ERR_INTERNAL, "TLS setup failed");
            continue;
        }
        c->c_id = ++r->next_conn_id;
        c->c_since = c->c_last_io = loop_now_ms();
        snprintf(c->c_peer, sizeof(c->c_peer), "%s", peer);
        snprintf(c->c_ip, sizeof(c->c_ip), "%s", ip);
        per_ip_add(r, ip, 1);
        r->conns[fd] = c;
        r->nconns++;
        r->st.conns_accepted++;
        if (loop_set(l, fd, LOOP_READ, conn_io, r) < 0) {
            log_warn("epoll add");
            conn_close(r, c, "internal", FERRY_ERR_INTERNAL);
            continue;
        }
        log_debug("conn=%llu accepted peer=%s tls=%d",
                  (unsigned long long)c->c_id, peer, c->c_ssl != NULL);
        /* TLS first; HELLO once it is up (conn_io). */
        if (c->c_ssl == NULL)
            handshake_start(r, c);
        else
            c->c_state = CONN_HANDSHAKE;
    }
}

/* Queues a relay-made frame for c. The writer sends it once every whole
 * frame forwarded to c is out, so it never lands inside another frame. */
void conn_count_in(struct relay *r, struct conn *c, size_t n)
{
    c->c_bytes_in += n;
    if (c->c_role == ROLE_SENDER)
        r->st.bytes_from_senders += n;
    c->c_last_io = loop_now_ms();
}

void conn_flow_notice(struct relay *r, struct conn *c, int type,
                      uint32_t queued)
{
    uint8_t tmp[FERRY_FRAME_HDR + 4];
    struct buf *b = buf_new(sizeof(tmp));

    if (b == NULL)
        return;
    if (type == FRAME_SLOW_DOWN)
        frame_put_slow_down(b, queued);
    else
        frame_put_empty(b, (uint8_t)type);
    conn_notice(r, c, buf_ptr(b), buf_len(b));
    buf_free(b);
}

int conn_notice(struct relay *r, struct conn *c, const uint8_t *p, size_t len)
{
    if (c->c_state == CONN_DEAD)
        return FERRY_ERR_IO;
    if (NOTICE_MAX - c->c_notice_len < len)
        return FERRY_ERR_NO_SPACE;
    memcpy(c->c_notice + c->c_notice_len, p, len);
    c->c_notice_len += len;
    conn_want_write(r, c);
    return FERRY_OK;
}

void conn_want_write(struct relay *r, struct conn *c)
{
    if (c->c_state != CONN_DEAD)
        loop_mask(r->loop, c->c_fd, LOOP_WRITE, 0);
}

static void notice_peer_gone(struct relay *r, struct conn *c, int code)
{
    uint8_t tmp[16];
    struct buf *b = buf_new(sizeof(tmp));

    if (b != NULL &&
        frame_put_code(b, FRAME_PEER_GONE, (uint16_t)code) == FERRY_OK)
        conn_notice(r, c, buf_ptr(b), buf_len(b));
    buf_free(b);
}

/* Ends c. peer_code: what the peer is told in PEER_GONE (0: nothing, e.g.
 * after a completed transfer). The peer is flushed and closed too. */
void conn_close(struct relay *r, struct conn *c, const char *reason,
                int peer_code)
{
    struct channel *ch = c->c_chan;
    struct conn *peer = NULL;

    if (c->c_state == CONN_DEAD)
        return;
    if (ch != NULL && ch->ch_slots == 0) {
        peer = c->c_role == ROLE_SENDER ? ch->ch_receiver : ch->ch_sender;
        if (ch->ch_complete)
            peer_code = 0;
    }
    log_info("conn=%llu closed role=%s peer=%s state=%d reason=%s "
             "bytes_in=%llu bytes_out=%llu ms=%lld",
             (unsigned long long)c->c_id, role_name(c->c_role), c->c_peer,
             (int)c->c_state, reason, (unsigned long long)c->c_bytes_in,
             (unsigned long long)c->c_bytes_out, loop_now_ms() - c->c_since);
    c->c_reason = reason;
    c->c_state = CONN_DEAD;
    loop_del(r->loop, c->c_fd);
    io_free(c);
    close(c->c_fd);
    r->conns[c->c_fd] = NULL;
    r->nconns--;
    per_ip_add(r, c->c_ip, -1);
    if (ch != NULL && ch->ch_slots > 0) {
        fan_gone(r, c, peer_code);
        ch = NULL;
    }
    ring_free(&c->c_lout);
    ring_free(&c->c_lin);
    /* A partial frame from c can never complete: drop it so the peer
     * gets only whole frames, then the notice. */
    if (ch != NULL && ch->ch_paired)
        ring_drop_partial(c->c_role == ROLE_SENDER ? &ch->ch_to_receiver
                                                   : &ch->ch_to_sender);
    if (ch != NULL)
        pair_detach(r, c);
    if (peer != NULL && peer->c_state != CONN_DEAD &&
        peer->c_state != CONN_CLOSING) {
        if (peer_code != 0) {
            notice_peer_gone(r, peer, peer_code);
            r->st.peer_gone[peer_code]++;
        }
        peer->c_state = CONN_CLOSING;
        peer->c_close_at = loop_now_ms() + 2000;
        peer->c_reason = peer_code ? "peer-gone" : "done";
        loop_mask(r->loop, peer->c_fd, LOOP_WRITE, LOOP_READ);
    }
    c->c_next_dead = r->dead;
    r->dead = c;
}

/* Protocol failure of c: ERROR to c (flushed, then closed), PEER_GONE
 * (peer-error) to its peer. */
void conn_fail(struct relay *r, struct conn *c, int code, const char *text)
{
    struct buf *b = buf_new(FERRY_FRAME_HDR + 2 + FERRY_ERROR_TEXT_MAX);
    struct channel *ch = c->c_chan;
    struct conn *peer = NULL;

    if (c->c_state == CONN_DEAD || c->c_state == CONN_CLOSING)
        return;
    if (c->c_tls_hs) {
        /* No TLS yet, so no frame can reach it: just close. */
        log_info("conn=%llu error=%s peer=%s in TLS handshake",
                 (unsigned long long)c->c_id, ferry_errname(code), c->c_peer);
        conn_close(r, c, "tls-handshake", 0);
        return;
    }
    r->st.errors[code]++;
    log_info("conn=%llu error=%s peer=%s role=%s: %s",
             (unsigned long long)c->c_id, ferry_errname(code), c->c_peer,
             role_name(c->c_role), text ? text : ferry_strerror(code));
    /* The offender's frame goes out ahead of anything still queued. */
    c->c_notice_len = 0;
    if (b != NULL &&
        frame_put_error(b, (uint16_t)code,
                        text ? text : ferry_strerror(code)) == FERRY_OK)
        conn_notice(r, c, buf_ptr(b), buf_len(b));
    buf_free(b);
    if (ch != NULL && ch->ch_slots > 0) {
        /* Timeouts, shutdown and a dropped leg are not the others'
         * fault: say which; anything else is a protocol error. */
        int pc =
            (code == FERRY_ERR_IDLE_TIMEOUT || code == FERRY_ERR_SHUTDOWN ||
             (code == FERRY_ERR_TOO_SLOW && c->c_role != ROLE_SENDER))
                ? code
                : FERRY_ERR_PEER_ERROR;
        if (c->c_role == ROLE_SENDER) {
            struct ring *out = &ch->ch_to_sender;
            if (ch->ch_paired)
                out->r_head = out->r_len = out->r_ready = 0;
        } else {
            /* The ERROR goes at once: only the rest of the frame the
             * leg is in stays ahead of it. */
            c->c_lout.r_len = c->c_lout.r_ready = c->c_part;
            if (c->c_part == 0)
                c->c_lout.r_head = 0;
            c->c_lin.r_head = c->c_lin.r_len = c->c_lin.r_ready = 0;
        }
        fan_gone(r, c, pc);
        ch = NULL;
    }
    if (ch != NULL) {
        peer = c->c_role == ROLE_SENDER ? ch->ch_receiver : ch->ch_sender;
        if (ch->ch_paired) {
            /* Nothing more is forwarded to the offender. */
            struct ring *out = forward_out_ring(c);
            out->r_head = out->r_len = out->r_ready = 0;
            ring_drop_partial(c->c_role == ROLE_SENDER ? &ch->ch_to_receiver
                                                       : &ch->ch_to_sender);
        }
        pair_detach(r, c);
        if (peer != NULL && peer->c_state != CONN_CLOSING) {
            if (!ch->ch_complete) {
                /* Timeouts and shutdown are not the peer's fault: say
                 * which; anything else is a protocol error. */
                int pc = (code == FERRY_ERR_IDLE_TIMEOUT ||
                          code == FERRY_ERR_SHUTDOWN)
                             ? code
                             : FERRY_ERR_PEER_ERROR;
                notice_peer_gone(r, peer, pc);
                r->st.peer_gone[pc]++;
            }
            peer->c_state = CONN_CLOSING;
            peer->c_close_at = loop_now_ms() + 2000;
            peer->c_reason = "peer-gone";
            loop_mask(r->loop, peer->c_fd, LOOP_WRITE, LOOP_READ);
        }
    }
    c->c_state = CONN_CLOSING;
    c->c_reason = ferry_errname(code);
    c->c_close_at = loop_now_ms() + 1000;
    loop_mask(r->loop, c->c_fd, LOOP_WRITE, LOOP_READ);
}

/* Writes c's pending bytes: forwarded frames first, then relay notices.
 * Returns 0, or -1 when c was closed. */
static int conn_flush(struct relay *r, struct conn *c)
{
    ssize_t n;

    if (fan_is_leg(c)) {
        /* A fan-out leg owns its ring, even after it left the channel. */
        if (fan_write(r, c) < 0)
            return -1;
        if (c->c_lout.r_ready > 0)
            return 0;
    } else if (c->c_chan != NULL && c->c_chan->ch_paired) {
        if (forward_write(r, c) < 0)
            return -1;
        if (forward_out_ring(c)->r_ready > 0)
            return 0; /* socket full; notices wait for a frame boundary */
    }
    while (c->c_notice_len > 0) {
        n = io_write(c, c->c_notice, c->c_notice_len);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return 0;
            conn_close(r, c, "write-error", FERRY_ERR_PEER_CLOSED);
            return -1;
        }
        memmove(c->c_notice, c->c_notice + n, c->c_notice_len - (size_t)n);
        c->c_notice_len -= (size_t)n;
        c->c_bytes_out += (uint64_t)n;
        c->c_last_io = loop_now_ms();
    }
    return 0;
}

static int conn_pending(struct conn *c)
{
    if (c->c_notice_len > 0)
        return 1;
    if (fan_is_leg(c))
        return c->c_lout.r_ready > 0;
    if (c->c_chan != NULL && c->c_chan->ch_paired &&
        forward_out_ring(c)->r_ready > 0)
        return 1;
    return 0;
}

static void conn_io(struct loop *l, int fd, void *ud, int mask)
{
    struct relay *r = ud;
    struct conn *c = r->conns[fd];

    (void)l;
    if (c == NULL || c->c_state == CONN_DEAD)
        return;
    if (c->c_tls_hs) {
        int rc = io_tls_handshake(c);
        if (rc < 0) {
            log_info("conn=%llu peer=%s tls handshake failed",
                     (unsigned long long)c->c_id, c->c_peer);
            conn_close(r, c, "tls-handshake-failed", 0);
        } else if (rc == 0) {
            loop_mask(r->loop, fd, c->c_tls_want_write ? LOOP_WRITE : 0,
                      c->c_tls_want_write ? 0 : LOOP_WRITE);
        } else {
            log_debug("conn=%llu tls ready resumed=%d",
                      (unsigned long long)c->c_id,
                      SSL_session_reused(c->c_ssl));
            loop_mask(r->loop, fd, 0, LOOP_WRITE);
            handshake_start(r, c);
        }
        return;
    }
    if (mask & LOOP_READ) {
        switch (c->c_state) {
        case CONN_HANDSHAKE:
            handshake_read(r, c);
            break;
        case CONN_WAITING: {
            /* Nothing may come before PEER_JOINED; a close is a close. */
            int n = io_peek(c);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                conn_close(r, c, "peer-closed", FERRY_ERR_PEER_CLOSED);
            else if (n > 0)
                conn_fail(r, c, FERRY_ERR_UNEXPECTED,
                          "frame before PEER_JOINED");
            break;
        }
        case CONN_PAIRED:
            forward_read(r, c);
            break;
        case CONN_CLOSING: {
            char junk[16384];
            ssize_t n = io_read(c, junk, sizeof(junk));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                conn_close(r, c, c->c_reason ? c->c_reason : "closed", 0);
            break;
        }
        default:
            break;
        }
        return;
    }
    if (mask & LOOP_WRITE) {
        if (conn_flush(r, c) < 0)
            return;
        if (!conn_pending(c)) {
            loop_mask(r->loop, fd, 0, LOOP_WRITE);
            if (c->c_state == CONN_CLOSING && !c->c_eof) {
                /* Half-close and drain what the peer still sends until it
                 * closes (or the deadline): closing with unread input
                 * would reset the connection and could destroy the
                 * notice just written before the peer reads it. */
                c->c_eof = 1;
                io_shutdown_write(c);
                loop_mask(r->loop, fd, LOOP_READ, 0);
            }
        }
    }
}

void conn_reap(struct relay *r)
{
    struct conn *c;

    while ((c = r->dead) != NULL) {
        r->dead = c->c_next_dead;
        ring_free(&c->c_lout);
        ring_free(&c->c_lin);
        free(c);
    }
}

/* One pass over all connections for the timeouts (no timer per
 * connection). */
void conn_sweep(struct relay *r, long long now)
{
    int fd;
    struct conn *c;

    for (fd = 0; fd < r->setsize; fd++) {
        if ((c = r->conns[fd]) == NULL)
            continue;
        switch (c->c_state) {
        case CONN_HANDSHAKE:
            if (now - c->c_since > r->conf.handshake_timeout_ms)
                conn_fail(r, c, FERRY_ERR_HANDSHAKE_TIMEOUT,
                          "no valid AUTH in time");
            break;
        case CONN_WAITING:
            if (now - c->c_since > r->conf.unpaired_timeout * 1000)
                conn_fail(r, c, FERRY_ERR_UNPAIRED_TIMEOUT,
                          "peer did not join in time");
            break;
        case CONN_PAIRED:
            if (c->c_chan->ch_slots > 0) {
                fan_sweep(r, c, now);
                break;
            }
            if (now - c->c_last_io > r->conf.idle_timeout * 1000) {
                struct channel *ch = c->c_chan;
                struct conn *peer =
                    c->c_role == ROLE_SENDER ? ch->ch_receiver : ch->ch_sender;
                if (peer &&
                    now - peer->c_last_io <= r->conf.idle_timeout * 1000)
                    break; /* the other direction is alive */
                /* Both idle past the limit: the one idle longer timed out
                 * first and gets ERROR, its peer PEER_GONE (XEP "Relay
                 * limits"), whichever the sweep meets first. */
                if (peer && peer->c_last_io < c->c_last_io)
                    c = peer;
                conn_fail(r, c, FERRY_ERR_IDLE_TIMEOUT, "idle too long");
            }
            break;
        case CONN_CLOSING:
            if (now > c->c_close_at)
                conn_close(r, c, c->c_reason ? c->c_reason : "closing", 0);
            break;
        default:
            break;
        }
    }
}
