#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "relay.h"

/* Forwarding: bytes from one end go straight into the ring toward the other
 * (one copy, by the kernel), frame headers are checked as they pass, and
 * whole frames are written out at once. Backpressure lives here only: when
 * the ring toward the receiver is full the sender is no longer read and is
 * told SLOW_DOWN; when it drains below a quarter, RESUME. */

struct fwd_ctx {
    struct relay *r;
    struct conn *from;
    struct channel *ch;
};

struct ring *forward_out_ring(struct conn *c)
{
    if (c->c_chan->ch_slots > 0)
        return c->c_role == ROLE_SENDER ? &c->c_chan->ch_to_sender : &c->c_lout;
    return c->c_role == ROLE_SENDER ? &c->c_chan->ch_to_sender
                                    : &c->c_chan->ch_to_receiver;
}

static struct ring *in_ring(struct conn *c)
{
    return c->c_role == ROLE_SENDER ? &c->c_chan->ch_to_receiver
                                    : &c->c_chan->ch_to_sender;
}

static struct conn *peer_of(struct conn *c)
{
    return c->c_role == ROLE_SENDER ? c->c_chan->ch_receiver
                                    : c->c_chan->ch_sender;
}

static int check_header(uint8_t type, uint32_t len, void *ud)
{
    struct fwd_ctx *x = ud;
    const struct frame_info *fi = frame_info(type);
    unsigned need = x->from->c_role == ROLE_SENDER ? FRAME_FROM_SENDER
                                                   : FRAME_FROM_RECEIVER;
    int rc;

    if (fi == NULL)
        return FERRY_ERR_UNKNOWN_TYPE;
    if ((rc = frame_check_header(type, len, (uint32_t)x->r->conf.max_frame)) !=
        FERRY_OK)
        return rc;
    /* Frames that cross a CANCEL in flight are not the sender's fault:
     * they are forwarded like any other and the ends close. */
    if (!(fi->senders & need) || type == FRAME_AUTH)
        return FERRY_ERR_UNEXPECTED;
    /* KEY, CHECK and LEG belong to fan-out channels only
     * (relay/fanout.c). */
    if (type == FRAME_KEY || type == FRAME_CHECK || type == FRAME_LEG)
        return FERRY_ERR_UNEXPECTED;
    return FERRY_OK;
}

static void frame_done(uint8_t type, void *ud)
{
    struct fwd_ctx *x = ud;

    x->r->st.frames_forwarded++;
    /* Only the type matters here: VERIFIED's body is the receiver's sealed
     * confirmation, opened by the sender alone (XEP "Completion"). */
    if (type == FRAME_VERIFIED || type == FRAME_CANCEL)
        x->ch->ch_complete = 1;
}

/* Whole frames just became ready for peer: write them now when peer is
 * not already waiting for its socket (the usual case: its socket takes
 * them at once), else leave them to its write handler. This saves the
 * EPOLLOUT round trip (two epoll_ctl calls and a wake-up) per read.
 * forward_write() cannot come back into forward_read(c) here: it does so
 * only for a source that is not being read, and c is. -1: peer failed,
 * and c is closing with it. */
static int forward_through(struct relay *r, struct conn *c, struct conn *peer)
{
    if (peer->c_state != CONN_PAIRED || peer->c_notice_len > 0 ||
        (loop_getmask(r->loop, peer->c_fd) & LOOP_WRITE)) {
        conn_want_write(r, peer);
        return 0;
    }
    if (forward_write(r, peer) < 0 || c->c_state != CONN_PAIRED)
        return -1;
    if (forward_out_ring(peer)->r_ready > 0 || peer->c_tls_want_write)
        conn_want_write(r, peer);
    return 0;
}

void forward_read(struct relay *r, struct conn *c)
{
    struct ring *in;
    struct conn *peer;
    struct fwd_ctx x = {r, c, c->c_chan};
    struct iovec iov[2];
    ssize_t n;
    int cnt, rc;

    if (c->c_chan->ch_slots > 0) {
        fan_read(r, c);
        return;
    }
    in = in_ring(c);
    peer = peer_of(c);

    cnt = ring_free_iov(in, iov);
    if (cnt == 0) {
        loop_mask(r->loop, c->c_fd, 0, LOOP_READ);
        return;
    }
    n = io_readv(c, iov, cnt);
    if (n == 0) {
        conn_close(r, c, "peer-closed", FERRY_ERR_PEER_CLOSED);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close(r, c, "read-error", FERRY_ERR_PEER_CLOSED);
        return;
    }
    conn_count_in(r, c, (size_t)n);
    size_t before = in->r_ready;
    rc = ring_commit(in, (size_t)n, check_header, frame_done, &x);
    if (rc != FERRY_OK) {
        conn_fail(r, c, rc, NULL);
        return;
    }
    if (peer != NULL && in->r_ready > before && forward_through(r, c, peer) < 0)
        return; /* c is closing with its peer */
    if (c->c_tls_want_write)
        conn_want_write(r, c);
    /* A TLS record bigger than the room just filled stays decrypted in
     * OpenSSL's buffer, where epoll cannot see it: take it now. */
    if (c->c_state == CONN_PAIRED && io_pending(c) > 0 &&
        ring_free_space(in) > 0)
        forward_read(r, c);
    if (ring_free_space(in) == 0) {
        /* Full: stop reading this end until the other drains it. */
        loop_mask(r->loop, c->c_fd, 0, LOOP_READ);
        if (c->c_role == ROLE_SENDER && !c->c_slowed) {
            c->c_slowed = 1;
            r->st.slow_downs++;
            conn_flow_notice(r, c, FRAME_SLOW_DOWN, (uint32_t)in->r_len);
            log_debug("conn=%llu slow-down queued=%zu",
                      (unsigned long long)c->c_id, in->r_len);
        }
    }
}

int forward_write(struct relay *r, struct conn *c)
{
    struct ring *out;
    struct conn *src;
    struct iovec iov[2];
    ssize_t n;
    int cnt;

    if (c->c_chan->ch_slots > 0)
        return fan_write(r, c);
    out = forward_out_ring(c);
    src = peer_of(c);

    while ((cnt = ring_ready_iov(out, iov)) > 0) {
        n = io_writev(c, iov, cnt);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            /* c went away (a reset), perhaps right after saying why: a
             * CANCEL may wait unread in its socket, and a write through
             * (forward_through) can come before c's read handler. Take
             * it first, so its peer hears the CANCEL, not PEER_GONE. */
            if (c->c_state == CONN_PAIRED && src != NULL &&
                (loop_getmask(r->loop, c->c_fd) & LOOP_READ)) {
                forward_read(r, c);
                if (c->c_state != CONN_PAIRED)
                    return -1;
            }
            conn_close(r, c, "write-error", FERRY_ERR_PEER_CLOSED);
            return -1;
        }
        ring_consume(out, (size_t)n);
        c->c_bytes_out += (uint64_t)n;
        c->c_last_io = loop_now_ms();
        r->st.bytes_forwarded += (uint64_t)n;
    }
    /* Resume below the low mark, and also whenever no whole frame is left:
     * the rest is a partial frame that only more reading can complete. */
    if (src != NULL && src->c_state == CONN_PAIRED &&
        !(loop_getmask(r->loop, src->c_fd) & LOOP_READ) &&
        (out->r_len <= out->r_cap / 4 || out->r_ready == 0)) {
        loop_mask(r->loop, src->c_fd, LOOP_READ, 0);
        if (src->c_slowed) {
            src->c_slowed = 0;
            r->st.resumes++;
            conn_flow_notice(r, src, FRAME_RESUME, 0);
            log_debug("conn=%llu resume", (unsigned long long)src->c_id);
        }
        /* TLS may hold decrypted bytes the socket will never signal. */
        if (io_pending(src) > 0)
            forward_read(r, src);
    }
    return 0;
}
