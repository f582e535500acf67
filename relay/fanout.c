#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "relay.h"

/* Fan-out channels: one sender, up to ch_slots receivers ("legs").
 *
 * The sender's bytes are read into a staging ring (ch_to_receiver) and
 * copied frame by frame into each leg's own ring (c_lout): DATA, END and
 * CANCEL to every joined leg, LEG(i, inner) unwrapped to leg i only. A
 * leg's frames are read into its c_lin and copied into the one ring toward
 * the sender (ch_to_sender) wrapped as LEG(i, frame); the relay's own
 * notices about a leg (PEER_JOINED, PEER_GONE) go the same way, from a
 * reserve kept for them, so they keep their order with the leg's frames.
 *
 * Flow control is driven by the fullest leg: the sender is not read
 * (ch_held, SLOW_DOWN) while a joined leg has no room for a whole max
 * frame, and is read again (RESUME) once every joined leg is back under a
 * quarter of its ring. A leg that keeps the sender held for longer than
 * fanout_lag_ms is dropped with ERROR too-slow; the others go on. */

/* Bytes a slot may need in ch_to_sender for relay notices: LEG(i,
 * PEER_JOINED) and LEG(i, PEER_GONE), each once. */
#define LEG_NOTE_RESERVE ((FERRY_FRAME_HDR + 1 + FERRY_FRAME_HDR) * 2 + 2)
#define TO_SENDER_RING 16384
#define LEG_IN_RING 4096

struct fan_ctx {
    struct relay *r;
    struct conn *from;
};

static void fan_pump(struct relay *r, struct channel *ch);

int fan_is_leg(const struct conn *c)
{
    return c->c_lout.r_buf != NULL;
}

static size_t frame_room(const struct relay *r)
{
    return FERRY_FRAME_HDR + (size_t)r->conf.max_frame;
}

static size_t leg_ring_cap(const struct relay *r)
{
    size_t cap = (size_t)r->conf.buffer_size;

    return cap < frame_room(r) ? frame_room(r) : cap;
}

/* The free room a leg's ring must have again before the sender is
 * resumed: a whole max frame, and at least three quarters of the ring. */
static size_t leg_resume_room(const struct relay *r, const struct ring *o)
{
    size_t q = o->r_cap - o->r_cap / 4;

    return q < frame_room(r) ? frame_room(r) : q;
}

static uint32_t hdr_len(const uint8_t h[FERRY_FRAME_HDR])
{
    return ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
}

/* Queues LEG(slot, inner) for the sender behind the frames already in its
 * ring, out of the notice reserve when the ring is tight. */
static void to_sender_note(struct relay *r, struct channel *ch, uint8_t slot,
                           const uint8_t *inner, size_t inner_len)
{
    struct conn *s = ch->ch_sender;
    uint8_t tmp[FERRY_FRAME_HDR + FERRY_LEG_MAX];
    struct buf *b;
    size_t n;

    if (s == NULL || s->c_state != CONN_PAIRED)
        return;
    if ((b = buf_new(sizeof(tmp))) == NULL)
        return;
    if (frame_put_leg(b, slot, inner, inner_len) == FERRY_OK) {
        n = buf_len(b);
        if (ring_free_space(&ch->ch_to_sender) >= n) {
            ring_append(&ch->ch_to_sender, buf_ptr(b), n);
            ch->ch_reserve = ch->ch_reserve > n ? ch->ch_reserve - n : 0;
            conn_want_write(r, s);
        } else {
            conn_notice(r, s, buf_ptr(b), n);
        }
    }
    buf_free(b);
}

/* Moves c's queued notices (its ADMITTED) into ring, ahead of the frames
 * that will follow, so nothing overtakes them. */
static void notices_into(struct conn *c, struct ring *ring)
{
    if (c->c_notice_len == 0)
        return;
    ring_append(ring, c->c_notice, c->c_notice_len);
    c->c_notice_len = 0;
}

/* Sender and leg both present: rings, PEER_JOINED to the leg,
 * LEG(slot, PEER_JOINED) to the sender. */
static int fan_join(struct relay *r, struct channel *ch, struct conn *leg)
{
    struct conn *s = ch->ch_sender;
    uint8_t joined[FERRY_FRAME_HDR] = {FRAME_PEER_JOINED, 0, 0, 0};

    if (!ch->ch_paired) {
        if (ring_init(&ch->ch_to_receiver, frame_room(r)) != FERRY_OK ||
            ring_init(&ch->ch_to_sender,
                      TO_SENDER_RING + ch->ch_slots * LEG_NOTE_RESERVE) !=
                FERRY_OK)
            return FERRY_ERR_NOMEM;
        ch->ch_reserve = ch->ch_slots * LEG_NOTE_RESERVE;
        ch->ch_paired = 1;
        notices_into(s, &ch->ch_to_sender);
        s->c_state = CONN_PAIRED;
        s->c_last_io = loop_now_ms();
        r->st.channels_paired++;
    }
    if (ring_init(&leg->c_lout, leg_ring_cap(r)) != FERRY_OK)
        return FERRY_ERR_NOMEM;
    if (ring_init(&leg->c_lin, LEG_IN_RING) != FERRY_OK)
        return FERRY_ERR_NOMEM;
    /* Bytes moved in from the notice queue count as one frame. */
    leg->c_part = leg->c_notice_len;
    notices_into(leg, &leg->c_lout);
    ring_append(&leg->c_lout, joined, sizeof(joined));
    leg->c_joined = 1;
    leg->c_state = CONN_PAIRED;
    leg->c_last_io = loop_now_ms();
    conn_want_write(r, leg);
    to_sender_note(r, ch, leg->c_slot, joined, sizeof(joined));
    r->st.fanout_legs++;
    log_info("channel leg joined slot=%u sender=conn=%llu receiver=conn=%llu",
             leg->c_slot, (unsigned long long)s->c_id,
             (unsigned long long)leg->c_id);
    return FERRY_OK;
}

int fan_admit(struct relay *r, struct conn *c, struct channel *ch)
{
    uint8_t tmp[FERRY_FRAME_HDR + 1];
    struct buf *b;
    uint64_t bit;
    unsigned i;
    int present, rc;

    if (c->c_role == ROLE_SENDER) {
        if (ch->ch_used_sender)
            return FERRY_ERR_ROLE_TAKEN;
        ch->ch_used_sender = 1;
        ch->ch_sender = c;
        present = ch->ch_nlegs > 0;
    } else {
        if (c->c_slot >= ch->ch_slots)
            return FERRY_ERR_BAD_VALUE;
        bit = (uint64_t)1 << c->c_slot;
        if (ch->ch_legs_used & bit)
            return FERRY_ERR_ROLE_TAKEN;
        if (ch->ch_data_begun)
            return FERRY_ERR_TOO_LATE;
        /* The sender came and went: the channel is spent. */
        if (ch->ch_used_sender && ch->ch_sender == NULL)
            return FERRY_ERR_ROLE_TAKEN;
        ch->ch_legs_used |= bit;
        ch->ch_legs[c->c_slot] = c;
        ch->ch_nlegs++;
        present = ch->ch_sender != NULL;
    }
    c->c_chan = ch;
    c->c_state = CONN_WAITING;
    c->c_since = loop_now_ms();
    b = buf_new(sizeof(tmp));
    frame_put_admitted(b, (uint8_t)present);
    conn_notice(r, c, buf_ptr(b), buf_len(b));
    buf_free(b);
    if (c->c_role == ROLE_SENDER)
        log_info("conn=%llu admitted role=sender slots=%u peer=%s",
                 (unsigned long long)c->c_id, ch->ch_slots, c->c_peer);
    else
        log_info("conn=%llu admitted role=receiver slot=%u peer=%s",
                 (unsigned long long)c->c_id, c->c_slot, c->c_peer);
    if (!present)
        return FERRY_OK;
    if (c->c_role != ROLE_SENDER)
        return fan_join(r, ch, c);
    for (i = 0; i < ch->ch_slots; i++)
        if (ch->ch_legs[i] != NULL && ch->ch_legs[i]->c_state == CONN_WAITING &&
            (rc = fan_join(r, ch, ch->ch_legs[i])) != FERRY_OK)
            return rc;
    return FERRY_OK;
}

static int check_header(uint8_t type, uint32_t len, void *ud)
{
    struct fan_ctx *x = ud;
    const struct frame_info *fi = frame_info(type);
    int sender = x->from->c_role == ROLE_SENDER;
    int rc;

    if (fi == NULL)
        return FERRY_ERR_UNKNOWN_TYPE;
    if ((rc = frame_check_header(type, len, (uint32_t)x->r->conf.max_frame)) !=
        FERRY_OK)
        return rc;
    /* From the sender: DATA, END and CANCEL for every leg, LEG for one;
     * a bare KEY has no leg. From a leg: ACK, VERIFIED, CANCEL. */
    if (sender)
        return type == FRAME_DATA || type == FRAME_END ||
                       type == FRAME_CANCEL || type == FRAME_LEG
                   ? FERRY_OK
                   : FERRY_ERR_UNEXPECTED;
    return type == FRAME_ACK || type == FRAME_VERIFIED || type == FRAME_CANCEL
               ? FERRY_OK
               : FERRY_ERR_UNEXPECTED;
}

static void no_done(uint8_t type, void *ud)
{
    (void)type;
    (void)ud;
}

static int leg_live(const struct conn *l)
{
    return l != NULL && l->c_state == CONN_PAIRED && l->c_joined;
}

/* One LEG frame from the sender at the staging ring's head (total bytes).
 * 1: done (forwarded or dropped), 0: leg i has no room yet, -1: the
 * sender failed. */
static int dispatch_leg(struct relay *r, struct channel *ch, size_t total,
                        uint64_t *touched)
{
    struct conn *s = ch->ch_sender, *leg;
    uint8_t tmp[FERRY_FRAME_HDR + FERRY_LEG_MAX];
    struct frame f;
    size_t used;
    uint8_t itype;
    int rc;

    if (total > sizeof(tmp)) {
        conn_fail(r, s, FERRY_ERR_TOO_LARGE, NULL);
        return -1;
    }
    ring_peek(&ch->ch_to_receiver, 0, tmp, total);
    rc = frame_decode(tmp, total, (uint32_t)r->conf.max_frame, &f, &used);
    if (rc != FERRY_OK) {
        conn_fail(r, s, rc, "bad LEG frame");
        return -1;
    }
    if (f.slot >= ch->ch_slots) {
        conn_fail(r, s, FERRY_ERR_BAD_VALUE, "LEG slot out of range");
        return -1;
    }
    itype = f.inner[0];
    if (itype != FRAME_KEY && itype != FRAME_CHECK && itype != FRAME_END &&
        itype != FRAME_CANCEL) {
        conn_fail(r, s, FERRY_ERR_UNEXPECTED,
                  "LEG from the sender carries KEY, CHECK, END or CANCEL");
        return -1;
    }
    leg = ch->ch_legs[f.slot];
    if (!leg_live(leg)) {
        /* A leg that is gone: frames that crossed its end are dropped. */
        if (ch->ch_legs_used & ((uint64_t)1 << f.slot))
            return 1;
        conn_fail(r, s, FERRY_ERR_UNEXPECTED, "LEG to a slot with no leg");
        return -1;
    }
    if (ring_free_space(&leg->c_lout) < f.inner_len)
        return 0;
    ring_append(&leg->c_lout, f.inner, f.inner_len);
    *touched |= (uint64_t)1 << f.slot;
    if (itype == FRAME_CANCEL)
        leg->c_complete = 1;
    else if (itype == FRAME_END)
        leg->c_got_end = 1;
    return 1;
}

/* Forwards the whole frames staged from the sender while every target has
 * room. 0, or -1 when the sender failed. */
static int dispatch(struct relay *r, struct channel *ch, uint64_t *touched)
{
    struct ring *st = &ch->ch_to_receiver;
    uint8_t h[FERRY_FRAME_HDR];
    size_t total;
    unsigned i;
    int rc;

    while (st->r_ready >= FERRY_FRAME_HDR) {
        ring_peek(st, 0, h, sizeof(h));
        total = FERRY_FRAME_HDR + hdr_len(h);
        if (h[0] == FRAME_LEG) {
            if ((rc = dispatch_leg(r, ch, total, touched)) <= 0)
                return rc;
        } else {
            for (i = 0; i < ch->ch_slots; i++)
                if (leg_live(ch->ch_legs[i]) &&
                    ring_free_space(&ch->ch_legs[i]->c_lout) < total)
                    return 0;
            for (i = 0; i < ch->ch_slots; i++) {
                struct conn *l = ch->ch_legs[i];
                if (!leg_live(l))
                    continue;
                ring_copy(&l->c_lout, st, total);
                *touched |= (uint64_t)1 << i;
                if (h[0] == FRAME_CANCEL)
                    l->c_complete = 1;
                else if (h[0] == FRAME_END)
                    l->c_got_end = 1;
            }
            if (h[0] == FRAME_DATA)
                ch->ch_data_begun = 1;
        }
        ring_consume(st, total);
        r->st.frames_forwarded++;
    }
    return 0;
}

/* Writes to a leg at once when it is not already waiting for its socket,
 * saving the EPOLLOUT round trip, as forward_through() does. */
static void push_legs(struct relay *r, struct channel *ch, uint64_t touched)
{
    unsigned i;

    for (i = 0; i < ch->ch_slots; i++) {
        struct conn *l = ch->ch_legs[i];
        if (!(touched & ((uint64_t)1 << i)) || !leg_live(l))
            continue;
        if (l->c_notice_len > 0 ||
            (loop_getmask(r->loop, l->c_fd) & LOOP_WRITE)) {
            conn_want_write(r, l);
            continue;
        }
        if (fan_write(r, l) < 0)
            continue;
        if (l->c_lout.r_ready > 0 || l->c_tls_want_write)
            conn_want_write(r, l);
    }
}

/* Holds or releases the sender by the fullest leg and keeps each leg's
 * blocked time. Returns 1 when it released the sender with whole frames
 * still staged. */
static int fan_flow(struct relay *r, struct channel *ch)
{
    struct conn *s = ch->ch_sender;
    long long now = loop_now_ms();
    size_t fullest = 0;
    unsigned i;
    int hold = 0, all_ok = 1;

    if (s == NULL || s->c_state != CONN_PAIRED)
        return 0;
    if (!ch->ch_held) {
        for (i = 0; i < ch->ch_slots; i++) {
            struct conn *l = ch->ch_legs[i];
            if (!leg_live(l))
                continue;
            if (ring_free_space(&l->c_lout) < frame_room(r))
                hold = 1;
            if (l->c_lout.r_len > fullest)
                fullest = l->c_lout.r_len;
        }
        if (!hold)
            return 0;
        ch->ch_held = 1;
        loop_mask(r->loop, s->c_fd, 0, LOOP_READ);
        if (!s->c_slowed) {
            s->c_slowed = 1;
            r->st.slow_downs++;
            conn_flow_notice(r, s, FRAME_SLOW_DOWN, (uint32_t)fullest);
            log_debug("conn=%llu slow-down queued=%zu",
                      (unsigned long long)s->c_id, fullest);
        }
    }
    for (i = 0; i < ch->ch_slots; i++) {
        struct conn *l = ch->ch_legs[i];
        if (!leg_live(l))
            continue;
        if (ring_free_space(&l->c_lout) >= leg_resume_room(r, &l->c_lout)) {
            l->c_blocked_since = 0;
        } else {
            all_ok = 0;
            if (l->c_blocked_since == 0)
                l->c_blocked_since = now ? now : 1;
        }
    }
    if (!all_ok)
        return 0;
    ch->ch_held = 0;
    if (ring_free_space(&ch->ch_to_receiver) > 0)
        loop_mask(r->loop, s->c_fd, LOOP_READ, 0);
    if (s->c_slowed) {
        s->c_slowed = 0;
        r->st.resumes++;
        conn_flow_notice(r, s, FRAME_RESUME, 0);
        log_debug("conn=%llu resume", (unsigned long long)s->c_id);
    }
    return ch->ch_to_receiver.r_ready > 0;
}

static void fan_pump(struct relay *r, struct channel *ch)
{
    struct conn *s;
    uint64_t touched;

    if (ch->ch_busy)
        return;
    ch->ch_busy = 1;
    for (;;) {
        s = ch->ch_sender;
        if (s == NULL || s->c_state != CONN_PAIRED)
            break;
        touched = 0;
        if (!ch->ch_held && dispatch(r, ch, &touched) < 0) {
            push_legs(r, ch, touched);
            break;
        }
        push_legs(r, ch, touched);
        if (s->c_state != CONN_PAIRED || s->c_chan != ch)
            break;
        if (!fan_flow(r, ch))
            break;
    }
    ch->ch_busy = 0;
    s = ch->ch_sender;
    if (s == NULL || s->c_state != CONN_PAIRED || ch->ch_held)
        return;
    /* Read the sender again once the staging ring has room. */
    if (ring_free_space(&ch->ch_to_receiver) == 0)
        return;
    loop_mask(r->loop, s->c_fd, LOOP_READ, 0);
    /* TLS may hold decrypted bytes the socket will never signal. */
    if (io_pending(s) > 0)
        fan_read(r, s);
}

/* Wraps the leg's whole frames in LEG toward the sender while there is
 * room; stops reading the leg when there is none. */
static void leg_drain(struct relay *r, struct conn *c)
{
    struct channel *ch = c->c_chan;
    struct conn *s = ch->ch_sender;
    struct ring *in = &c->c_lin, *out = &ch->ch_to_sender;
    uint8_t h[FERRY_FRAME_HDR], lh[FERRY_FRAME_HDR + 1];
    size_t total;
    int pushed = 0;

    if (s == NULL || s->c_state != CONN_PAIRED) {
        in->r_head = in->r_len = in->r_ready = 0;
        return;
    }
    while (in->r_ready >= FERRY_FRAME_HDR) {
        uint8_t whole[FERRY_LEG_MAX];
        struct frame f;
        size_t used;
        int rc;

        ring_peek(in, 0, h, sizeof(h));
        total = FERRY_FRAME_HDR + hdr_len(h);
        /* Whole and valid (a CANCEL's code, say), or the sender would
         * refuse the LEG that carries it and end every leg: a bad frame
         * is this leg's error alone. (check_header bounds total.) */
        if (total > sizeof(whole)) {
            conn_fail(r, c, FERRY_ERR_TOO_LARGE, NULL);
            return;
        }
        ring_peek(in, 0, whole, total);
        if ((rc = frame_decode(whole, total, FERRY_LEG_MAX, &f, &used)) !=
            FERRY_OK) {
            conn_fail(r, c, rc, NULL);
            return;
        }
        if (ring_free_space(out) < sizeof(lh) + total + ch->ch_reserve) {
            c->c_wait_sender = 1;
            loop_mask(r->loop, c->c_fd, 0, LOOP_READ);
            break;
        }
        lh[0] = FRAME_LEG;
        lh[1] = 0;
        lh[2] = 0;
        lh[3] = (uint8_t)(1 + total); /* at most 61: checked header */
        lh[4] = c->c_slot;
        ring_append(out, lh, sizeof(lh));
        ring_copy(out, in, total);
        ring_consume(in, total);
        r->st.frames_forwarded++;
        pushed = 1;
        /* Complete only once it confirmed an END it was sent (a VERIFIED
         * before END is the sender's to refuse, and the leg's PEER_GONE
         * still goes). */
        if (h[0] == FRAME_VERIFIED && c->c_got_end) {
            c->c_complete = 1;
            ch->ch_complete = 1;
        } else if (h[0] == FRAME_CANCEL) {
            c->c_cancelled = 1;
        }
    }
    if (in->r_ready < FERRY_FRAME_HDR && c->c_wait_sender) {
        c->c_wait_sender = 0;
        if (!c->c_leg_eof)
            loop_mask(r->loop, c->c_fd, LOOP_READ, 0);
    }
    if (pushed)
        conn_want_write(r, s);
    if (c->c_leg_eof && in->r_ready == 0)
        conn_close(r, c, "peer-closed", FERRY_ERR_PEER_CLOSED);
}

void fan_read(struct relay *r, struct conn *c)
{
    struct channel *ch = c->c_chan;
    int sender = c->c_role == ROLE_SENDER;
    struct ring *in = sender ? &ch->ch_to_receiver : &c->c_lin;
    struct fan_ctx x = {r, c};
    struct iovec iov[2];
    ssize_t n;
    int cnt, rc;

    cnt = ring_free_iov(in, iov);
    if (cnt == 0) {
        loop_mask(r->loop, c->c_fd, 0, LOOP_READ);
        return;
    }
    n = io_readv(c, iov, cnt);
    if (n == 0) {
        if (!sender && in->r_ready > 0) {
            /* Its last frames (a VERIFIED) go out before its end. */
            c->c_leg_eof = 1;
            loop_mask(r->loop, c->c_fd, 0, LOOP_READ);
            leg_drain(r, c);
            return;
        }
        conn_close(r, c, "peer-closed", FERRY_ERR_PEER_CLOSED);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close(r, c, "read-error", FERRY_ERR_PEER_CLOSED);
        return;
    }
    conn_count_in(r, c, (size_t)n);
    rc = ring_commit(in, (size_t)n, check_header, no_done, &x);
    if (rc != FERRY_OK) {
        conn_fail(r, c, rc, NULL);
        return;
    }
    if (sender)
        fan_pump(r, ch);
    else
        leg_drain(r, c);
    if (c->c_state != CONN_PAIRED)
        return;
    if (c->c_tls_want_write)
        conn_want_write(r, c);
    if (sender && !ch->ch_held && io_pending(c) > 0 && ring_free_space(in) > 0)
        fan_read(r, c);
    else if (!sender && !c->c_wait_sender && io_pending(c) > 0 &&
             ring_free_space(in) > 0)
        fan_read(r, c);
    if (c->c_state == CONN_PAIRED && ring_free_space(in) == 0)
        loop_mask(r->loop, c->c_fd, 0, LOOP_READ);
}

/* The bytes written to a leg, frame by frame, so c_part always says how
 * far the frame at the head is from its end. */
static void leg_consume(struct conn *c, size_t n)
{
    struct ring *o = &c->c_lout;
    uint8_t h[FERRY_FRAME_HDR];
    size_t take;

    while (n > 0) {
        if (c->c_part == 0) {
            ring_peek(o, 0, h, sizeof(h));
            c->c_part = FERRY_FRAME_HDR + hdr_len(h);
        }
        take = n < c->c_part ? n : c->c_part;
        ring_consume(o, take);
        c->c_part -= take;
        n -= take;
    }
}

int fan_write(struct relay *r, struct conn *c)
{
    struct channel *ch = c->c_chan;
    int leg = c->c_role != ROLE_SENDER;
    struct ring *out = leg ? &c->c_lout : &ch->ch_to_sender;
    struct iovec iov[2];
    ssize_t n;
    int cnt;
    unsigned i;

    while ((cnt = ring_ready_iov(out, iov)) > 0) {
        n = io_writev(c, iov, cnt);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            /* As in forward_write(): a CANCEL may wait unread. */
            if (c->c_state == CONN_PAIRED &&
                (loop_getmask(r->loop, c->c_fd) & LOOP_READ)) {
                fan_read(r, c);
                if (c->c_state != CONN_PAIRED)
                    return -1;
            }
            conn_close(r, c, "write-error", FERRY_ERR_PEER_CLOSED);
            return -1;
        }
        if (leg)
            leg_consume(c, (size_t)n);
        else
            ring_consume(out, (size_t)n);
        c->c_bytes_out += (uint64_t)n;
        c->c_last_io = loop_now_ms();
        r->st.bytes_forwarded += (uint64_t)n;
    }
    if (ch == NULL || c->c_state != CONN_PAIRED)
        return 0;
    if (leg) {
        if (ch->ch_held)
            fan_pump(r, ch);
        return 0;
    }
    /* Room toward the sender again: legs that waited go on. */
    for (i = 0; i < ch->ch_slots; i++) {
        struct conn *l = ch->ch_legs[i];
        if (l != NULL && l->c_state == CONN_PAIRED && l->c_wait_sender)
            leg_drain(r, l);
    }
    return 0;
}

void fan_gone(struct relay *r, struct conn *c, int code)
{
    struct channel *ch = c->c_chan;
    struct conn *s;
    unsigned i;
    int was_joined = c->c_joined, pc;

    if (c->c_role == ROLE_SENDER) {
        if (ch->ch_paired)
            ring_drop_partial(&ch->ch_to_receiver);
        pair_detach(r, c);
        for (i = 0; i < ch->ch_slots; i++) {
            struct conn *l = ch->ch_legs[i];
            if (l == NULL || l->c_state == CONN_DEAD ||
                l->c_state == CONN_CLOSING)
                continue;
            pc = l->c_complete ? 0 : code;
            if (pc != 0) {
                uint8_t g[FERRY_FRAME_HDR + 2] = {
                    FRAME_PEER_GONE, 0, 0, 2, (uint8_t)(pc >> 8), (uint8_t)pc};
                conn_notice(r, l, g, sizeof(g));
                r->st.peer_gone[pc]++;
            }
            l->c_state = CONN_CLOSING;
            l->c_close_at = loop_now_ms() + 2000;
            l->c_reason = pc ? "peer-gone" : "done";
            loop_mask(r->loop, l->c_fd, LOOP_WRITE, LOOP_READ);
        }
        return;
    }
    pair_detach(r, c);
    s = ch->ch_sender;
    if (!was_joined || s == NULL || s->c_state != CONN_PAIRED)
        return;
    pc = c->c_complete ? 0 : c->c_cancelled ? FERRY_ERR_CANCELLED : code;
    if (pc != 0) {
        uint8_t g[FERRY_FRAME_HDR + 2] = {FRAME_PEER_GONE,    0,          0, 2,
                                          (uint8_t)(pc >> 8), (uint8_t)pc};
        to_sender_note(r, ch, c->c_slot, g, sizeof(g));
        r->st.peer_gone[pc]++;
    }
    /* The leg no longer counts for flow control: the sender may go on. */
    if (ch->ch_held)
        fan_pump(r, ch);
}

void fan_sweep(struct relay *r, struct conn *c, long long now)
{
    struct channel *ch = c->c_chan;
    long long idle = r->conf.idle_timeout * 1000;
    unsigned i;

    if (c->c_role != ROLE_SENDER) {
        if (r->conf.fanout_lag_ms > 0 && ch->ch_held &&
            c->c_blocked_since != 0 &&
            now - c->c_blocked_since > r->conf.fanout_lag_ms) {
            r->st.fanout_dropped_slow++;
            log_info("conn=%llu slot=%u dropped: held the sender back %lld ms",
                     (unsigned long long)c->c_id, c->c_slot,
                     now - c->c_blocked_since);
            conn_fail(r, c, FERRY_ERR_TOO_SLOW, NULL);
            return;
        }
        if (now - c->c_last_io <= idle)
            return;
        if (ch->ch_sender != NULL && now - ch->ch_sender->c_last_io <= idle)
            return; /* the other direction is alive */
        conn_fail(r, c, FERRY_ERR_IDLE_TIMEOUT, "idle too long");
        return;
    }
    if (now - c->c_last_io <= idle)
        return;
    for (i = 0; i < ch->ch_slots; i++)
        if (ch->ch_legs[i] != NULL && now - ch->ch_legs[i]->c_last_io <= idle)
            return;
    conn_fail(r, c, FERRY_ERR_IDLE_TIMEOUT, "idle too long");
}
