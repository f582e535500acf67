/* libferry: the data half of a transfer. The sender chunks, seals and
 * streams its source; the receiver opens, orders (bounded cache), appends
 * to its sink, acknowledges, verifies END, commits, and confirms delivery
 * end to end with a sealed VERIFIED. Every call does a bounded slice of
 * work, so the loop that drives it (the host's, or the worker's) never
 * waits long on one transfer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "chan.h"
#include "err.h"
#include "files.h"
#include "frame.h"
#include "internal.h"
#include "reorder.h"

#define SHUFFLE_WINDOW 8         /* test mode: chunks permuted per window */
#define PREHASH_SLICE (2u << 20) /* bytes hashed per turn */
/* The receiver reads up to READ_SLICE bytes a call (several chunks, parsed
 * and opened in place), and at most READ_BUDGET bytes or READ_ROUNDS calls
 * a turn (TLS hands out one 16 KiB record a call). */
#define READ_SLICE (1024u * 1024)
#define READ_BUDGET (4u * READ_SLICE)
#define READ_ROUNDS 64

/* ---- events to the session half --------------------------------------- */

void dp_emit_event(ferry_transfer_t *t, const char *what)
{
    if (t->ctx->mode == FERRY_MODE_THREAD)
        worker_post(t, EV_EVENT, 0, what);
    else
        transfer_event(t, what);
}

/* Thread mode: each progress event wakes the host's thread, so they go at
 * most every PROGRESS_US; the last one held back goes before done. */
#define PROGRESS_US (20 * G_TIME_SPAN_MILLISECOND)

void dp_emit_progress(ferry_transfer_t *t, uint64_t done)
{
    gint64 now;

    if (t->ctx->mode != FERRY_MODE_THREAD) {
        transfer_progress(t, done);
        return;
    }
    now = g_get_monotonic_time();
    t->prog_held = done;
    if (t->prog_sent_us != 0 && now - t->prog_sent_us < PROGRESS_US) {
        t->prog_holding = 1;
        return;
    }
    t->prog_sent_us = now;
    t->prog_holding = 0;
    worker_post(t, EV_PROGRESS, done, NULL);
}

/* ms until a held progress event is due (-1: none held). */
static int progress_due_ms(const ferry_transfer_t *t)
{
    gint64 left;

    if (!t->prog_holding)
        return -1;
    left = t->prog_sent_us + PROGRESS_US - g_get_monotonic_time();
    return left > 0 ? (int)((left + 999) / 1000) : 0;
}

static void progress_flush(ferry_transfer_t *t)
{
    if (progress_due_ms(t) == 0)
        dp_emit_progress(t, t->prog_held);
}

void dp_emit_done(ferry_transfer_t *t, ferry_status_t st, const char *reason)
{
    if (t->done_emitted)
        return;
    t->done_emitted = 1;
    if (t->prog_holding && t->ctx->mode == FERRY_MODE_THREAD &&
        t->ctx->worker != NULL) {
        t->prog_holding = 0;
        worker_post(t, EV_PROGRESS, t->prog_held, NULL);
    }
    t->ds = D_DONE;
    /* The worker posts it itself once t is out of its hands. */
    t->done_st = st;
    t->done_reason = reason;
    if (t->ctx->mode != FERRY_MODE_THREAD || t->ctx->worker == NULL)
        transfer_finish(t, st, reason);
}

/* Closes the link, settles the sink, tells the session: the one way out. */
void dp_finish(ferry_transfer_t *t, ferry_status_t st, const char *reason)
{
    if (t->ds == D_DONE)
        return;
    conn_close(t);
    dp_stream_free(t); /* a stream's source is closed after its last read */
    /* A receiver keeps .part and its state for a resume, except when it
     * never started. A stream cannot be resumed: nothing is kept. */
    if (!t->is_sender && st != FERRY_DONE_OK) {
        /* Keep what a resume can use, with the state that says so. */
        if (t->sink.file != NULL && dp_resumable(t) > t->resume_from &&
            !stream_of(t))
            (void)rfile_save_state(t->sink.file, dp_resumable(t));
        dp_sink_end(t, !stream_of(t) && (t->written > 0 || t->resume_from > 0));
    }
    dp_emit_done(t, st, reason);
}

int dp_slice_over(const ferry_transfer_t *t, gint64 t0, uint64_t bytes)
{
    if (t->ctx->mode == FERRY_MODE_THREAD)
        return 0;
    return bytes >= DP_SLICE || g_get_monotonic_time() - t0 >= DP_SLICE_US;
}

/* ---- setup ------------------------------------------------------------ */

static int setup(ferry_transfer_t *t)
{
    uint8_t shared[32], key[32];
    uint64_t i, j, k, tmp;
    size_t legs = 0, nout;
    int rc;

    if (fan_sender(t)) {
        /* K for the chunks, a leg key per slot (fanout.c) */
        if ((rc = fan_setup(t)) != FERRY_OK)
            return rc;
        legs = t->group->nslots;
    } else if ((rc = ferry_x25519(t->my_priv, t->peer_pub, shared)) !=
               FERRY_OK)
        return rc;
    else
    {
        /* One-to-one, or a receiver on a fan-out slot (whose channel key
         * is its slot key): the content key, its leg key. */
        rc = ferry_content_key(shared, t->ch.key, t->sid, t->cipher, key);
        ferry_wipe(shared, sizeof(shared));
        if (rc != FERRY_OK || (t->aead = aead_new(t->cipher, key)) == NULL) {
            ferry_wipe(key, sizeof(key));
            return FERRY_ERR_CRYPTO;
        }
        /* A receiver on a slot opens chunks under K, which KEY brings. */
        if (!t->ch.has_slot)
            t->pool = cpool_new(t->ctx->threads, t->cipher, key);
        ferry_wipe(key, sizeof(key));
    }
    if (fan_sender(t))
        t->pool = cpool_new(t->ctx->threads, t->cipher, t->group->k);

    t->in = buf_new(FERRY_FRAME_HDR + FERRY_FRAME_MAX + READ_SLICE);
    /* Room for a few frames keeps the socket busy while we seal the next
     * (with a pool, a batch of them). */
    nout = 4 + (t->pool != NULL ? cpool_batch(t->pool, t->chunk) : 0);
    t->out =
        buf_new(nout * (FERRY_FRAME_HDR + 8 + t->chunk + FERRY_TAG_LEN) + 256 +
                (nout + 1) * legs * (FERRY_FRAME_HDR + FERRY_LEG_MAX));
    /* END's digest covers this session's chunks: from resume-from on; on
     * a fan-out, their whole sealed bodies (a fan-out sender keeps one
     * per leg). */
    t->hash = t->ch.has_slot ? ferry_sealed_new(t->resume_from)
                             : ferry_tags_new(t->resume_from);
    if (t->in == NULL || t->out == NULL || t->hash == NULL)
        return FERRY_ERR_NOMEM;
    if (t->check_sha256 && (t->plain_hash = sha256_new()) == NULL)
        return FERRY_ERR_NOMEM;
    t->next = t->chained = t->state_next = t->checked = t->resume_from;
    t->state_us = g_get_monotonic_time();
    if (t->is_sender) {
        /* A stream's chunks go in order as its data comes. */
        if (t->shuffle && t->nchunks > 0 && !stream_of(t)) {
            t->order = g_new(uint64_t, t->nchunks);
            for (i = 0; i < t->nchunks; i++)
                t->order[i] = i;
            for (i = t->resume_from; i < t->nchunks; i += SHUFFLE_WINDOW) {
                uint64_t w = t->nchunks - i < SHUFFLE_WINDOW ? t->nchunks - i
                                                             : SHUFFLE_WINDOW;
                for (j = w - 1; j > 0; j--) {
                    ferry_random(&k, sizeof(k));
                    k %= j + 1;
                    tmp = t->order[i + j];
                    t->order[i + j] = t->order[i + k];
                    t->order[i + k] = tmp;
                }
            }
        }
    } else {
        t->cache = reorder_new(REORDER_WINDOW);
        if (t->cache == NULL)
            return FERRY_ERR_NOMEM;
        t->written = MIN(t->resume_from * t->chunk, t->size);
    }
    return FERRY_OK;
}

/* Only a receiver that checks the file's SHA-256 reads anything twice:
 * on a resume, the part it already holds, before the rest arrives. */
static int needs_prehash(const ferry_transfer_t *t)
{
    return !t->is_sender && t->plain_hash != NULL && t->resume_from > 0;
}

static uint64_t prehash_len(const ferry_transfer_t *t)
{
    return MIN(t->resume_from * t->chunk, t->size);
}

static void start_link(ferry_transfer_t *t, time_t now)
{
    t->dp_deadline = now + t->connect_s;
    if (conn_begin(t) != FERRY_OK)
        dp_finish(t, FERRY_DONE_IO, "relay-unreachable");
}

/* Runs where the data half runs (the host's thread, or the worker). */
void dp_setup(ferry_transfer_t *t)
{
    time_t now = ferry_now();
    int rc;

    t->sock = -1;
    t->last_io = now;
    if ((rc = setup(t)) != FERRY_OK) {
        dp_finish(t, rc == FERRY_ERR_NOMEM ? FERRY_DONE_IO : FERRY_DONE_REFUSED,
                  rc == FERRY_ERR_NOMEM ? "out-of-memory" : "bad-peer-key");
        return;
    }
    if (needs_prehash(t))
        t->ds = D_PREHASH;
    else
        start_link(t, now);
}

void dp_start(ferry_transfer_t *t)
{
    if (t->ctx->mode == FERRY_MODE_THREAD)
        worker_add(t->ctx, t);
    else
        dp_setup(t);
}

static void put_cancel(ferry_transfer_t *t, int code)
{
    ssize_t n;

    if (t->ds < D_HS || t->ds == D_DONE || t->out == NULL)
        return;
    /* Best effort, after what is queued (a frame may be half sent): the
     * relay tells the peer anyway when the link closes. */
    if (frame_put_code(t->out, FRAME_CANCEL, (uint16_t)code) != FERRY_OK)
        return;
    while (buf_len(t->out) > 0 &&
           (n = conn_send(t, buf_ptr(t->out), buf_len(t->out))) > 0)
        buf_consume(t->out, (size_t)n);
}

void dp_cancel_now(ferry_transfer_t *t, int code)
{
    if (t->ds == D_DONE)
        return;
    put_cancel(t, code);
    /* The peer's reason, when it gave one (no-relay, quota-exceeded...). */
    dp_finish(t, FERRY_DONE_CANCELLED,
              code == FERRY_ERR_CANCELLED ? "cancelled" : ferry_errname(code));
}

void dp_cancel(ferry_transfer_t *t, int code)
{
    if (t->ctx->mode == FERRY_MODE_THREAD && t->ctx->worker != NULL)
        worker_cancel(t->ctx, t, code);
    else
        dp_cancel_now(t, code);
}

void dp_free(ferry_transfer_t *t)
{
    dp_stream_free(t);
    conn_close(t);
    fan_free(t);
    cpool_free(t->pool);
    t->pool = NULL;
    g_free(t->ahead);
    t->ahead = NULL;
    aead_free(t->aead);
    aead_free(t->k_aead);
    t->k_aead = NULL;
    sha256_free(t->hash);
    sha256_free(t->plain_hash);
    g_free(t->tag_ring);
    buf_free(t->in);
    buf_free(t->out);
    reorder_free(t->cache);
    g_free(t->order);
    SSL_CTX_free(t->tls);
    tls_cache_unref(t->tls_cache);
    t->tls_cache = NULL;
    t->aead = NULL;
    t->hash = t->plain_hash = NULL;
    t->tag_ring = NULL;
    t->in = t->out = NULL;
    t->cache = NULL;
    t->order = NULL;
    t->tls = NULL;
}

void dp_flush(ferry_transfer_t *t)
{
    ssize_t n;

    while (buf_len(t->out) > 0 && t->ds != D_DONE) {
        n = conn_send(t, buf_ptr(t->out), buf_len(t->out));
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                dp_finish(t, FERRY_DONE_PEER_GONE, "relay-closed");
            return;
        }
        buf_consume(t->out, (size_t)n);
        t->last_io = ferry_now();
    }
}

void dp_fail_integrity(ferry_transfer_t *t, const char *why)
{
    frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_INTEGRITY);
    dp_flush(t);
    dp_finish(t, FERRY_DONE_INTEGRITY, why);
}

/* ---- frames ------------------------------------------------------------ */

static void on_frame(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t proof[32];
    uint64_t done;

    switch (f->type) {
    case FRAME_HELLO:
        if (t->ds != D_HS)
            break;
        chan_proof(t->ch.key, f->challenge,
                   t->is_sender ? ROLE_SENDER : ROLE_RECEIVER, t->ch.id, proof);
        /* A receiver on a fan-out channel proves its slot's key. */
        if (t->ch.has_slot)
            frame_put_auth_slot(t->out, ROLE_RECEIVER, t->ch.id, proof,
                                (uint8_t)t->ch.slot);
        else
            frame_put_auth(t->out, t->is_sender ? ROLE_SENDER : ROLE_RECEIVER,
                           t->ch.id, proof);
        break;
    case FRAME_ADMITTED:
        if (t->ds != D_HS)
            break;
        t->ds = D_WAIT_PEER;
        if (fan_sender(t))
            t->group->join_deadline = ferry_now() + FAN_JOIN_S;
        dp_emit_event(t, "admitted");
        break;
    case FRAME_LEG:
        if (fan_sender(t))
            fan_on_leg(t, f);
        break;
    case FRAME_CHECK:
        if (!t->is_sender && t->ds == D_RECEIVING && t->ch.has_slot)
            dp_on_check(t, f);
        break;
    case FRAME_KEY:
        /* K, once, before any chunk, to a receiver on a slot. */
        if (!t->is_sender && t->ds == D_RECEIVING && t->ch.has_slot) {
            uint8_t k[32];
            if (t->k_aead != NULL || t->first_byte ||
                ferry_key_unwrap(t->aead, t->sid, f->sealed, k) != FERRY_OK ||
                (t->k_aead = aead_new(t->cipher, k)) == NULL) {
                ferry_wipe(k, sizeof(k));
                dp_fail_integrity(t, "bad-key");
                break;
            }
            t->pool = cpool_new(t->ctx->threads, t->cipher, k);
            ferry_wipe(k, sizeof(k));
        }
        break;
    case FRAME_PEER_JOINED:
        /* A fan-out's sender hears of each leg in a LEG. */
        if (t->ds != D_WAIT_PEER || fan_sender(t))
            break;
        t->ds = t->is_sender ? D_STREAMING : D_RECEIVING;
        t->last_ack_us = g_get_monotonic_time();
        dp_emit_event(t, "peer-joined"); /* may end it (a cancel) */
        /* A stream's source is read from now on, on its own thread. */
        if (t->ds == D_STREAMING && stream_of(t) &&
            dp_stream_start(t) != FERRY_OK)
            dp_finish(t, FERRY_DONE_IO, "source-thread");
        break;
    case FRAME_SLOW_DOWN:
        t->paused = 1;
        dp_emit_event(t, "slow-down");
        break;
    case FRAME_RESUME:
        t->paused = 0;
        dp_emit_event(t, "resume");
        break;
    case FRAME_ACK:
        if (!t->is_sender || fan_sender(t))
            break;
        t->acked = f->number;
        if (stream_of(t))
            done = dp_stream_acked(t, t->acked);
        else
            done = MIN(t->acked * t->chunk, t->size);
        dp_emit_progress(t, done);
        break;
    case FRAME_VERIFIED:
        if (!t->is_sender || t->ds != D_WAIT_VERIFIED || fan_sender(t))
            break;
        if (f->sealed_len != FERRY_VERIFIED_SEALED_LEN ||
            ferry_verified_open(t->aead, t->sid, t->end_count, t->end_size,
                                t->end_hash, f->sealed) != FERRY_OK) {
            dp_fail_integrity(t, "bad-verified");
            break;
        }
        dp_finish(t, FERRY_DONE_OK, NULL);
        break;
    case FRAME_DATA:
        if (!t->is_sender && t->ds == D_RECEIVING)
            dp_on_data(t, f);
        break;
    case FRAME_END:
        if (!t->is_sender && t->ds == D_RECEIVING)
            dp_on_end(t, f);
        break;
    case FRAME_CANCEL:
        dp_finish(t,
                  f->code == FERRY_ERR_INTEGRITY ? FERRY_DONE_INTEGRITY
                                                 : FERRY_DONE_CANCELLED,
                  ferry_errname(f->code));
        break;
    case FRAME_PEER_GONE:
        dp_finish(t, FERRY_DONE_PEER_GONE, ferry_errname(f->code));
        break;
    case FRAME_ERROR:
        dp_finish(t, FERRY_DONE_REFUSED, ferry_errname(f->code));
        break;
    default:
        break;
    }
}

static void read_frames(ferry_transfer_t *t)
{
    struct frame f;
    size_t used;
    uint8_t *p;
    ssize_t n;
    gint64 t0 = g_get_monotonic_time();
    uint64_t got = 0;
    int rc, rounds;

    /* Bounded so one busy transfer cannot starve the loop: a slice on the
     * host's thread, a few MiB on the worker. */
    for (rounds = 0; rounds < READ_ROUNDS && got < READ_BUDGET &&
                     t->ds != D_DONE && !dp_slice_over(t, t0, got);
         rounds++) {
        if (buf_reserve(t->in, READ_SLICE, &p) != FERRY_OK)
            break;
        n = conn_recv(t, p, READ_SLICE);
        buf_unreserve(t->in, READ_SLICE - (n > 0 ? (size_t)n : 0));
        if (n == 0) {
            dp_finish(t, FERRY_DONE_PEER_GONE, "relay-closed");
            return;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                dp_finish(t, FERRY_DONE_PEER_GONE, "relay-closed");
            break;
        }
        t->last_io = ferry_now();
        got += (uint64_t)n;
        while (t->ds != D_DONE) {
            rc = frame_decode(buf_ptr(t->in), buf_len(t->in), FERRY_FRAME_MAX,
                              &f, &used);
            if (rc == FERRY_ERR_NEED_MORE)
                break;
            if (rc != FERRY_OK) {
                dp_finish(t, FERRY_DONE_INTEGRITY, ferry_errname(rc));
                return;
            }
            if (f.type == FRAME_DATA && t->pool != NULL)
                dp_open_ahead(t, &f);
            on_frame(t, &f);
            if (t->ds != D_DONE)
                buf_consume(t->in, used);
        }
        /* TLS hands out one record (16 KiB) a call: go on until the
         * socket is empty, within the rounds. */
        if (n < READ_SLICE && t->ssl == NULL)
            break;
    }
}

static void prehash(ferry_transfer_t *t, time_t now)
{
    uint8_t b[65536];
    uint64_t end = prehash_len(t), stop = t->hashed + PREHASH_SLICE;
    size_t want;
    ssize_t n;

    while (t->hashed < end && t->hashed < stop) {
        want =
            end - t->hashed < sizeof(b) ? (size_t)(end - t->hashed) : sizeof(b);
        n = rfile_pread(t->sink.file, b, want, t->hashed);
        if (n <= 0) {
            dp_finish(t, FERRY_DONE_IO, "read");
            return;
        }
        sha256_update(t->plain_hash, b, (size_t)n);
        t->hashed += (uint64_t)n;
    }
    if (t->hashed >= end)
        start_link(t, now);
}

int dp_want(ferry_transfer_t *t, struct pollfd *p, int *timeout_ms, time_t now)
{
    time_t limit;
    short ev = 0;
    int fd, ms;

    if (t->ds == D_IDLE) /* not started yet (channel_ready) */
        *timeout_ms = 0;
    if (t->ds == D_DONE || t->ds == D_IDLE)
        return 0;
    if (t->ds == D_PREHASH || conn_pending(t) > 0) {
        *timeout_ms = 0;
        if (t->ds == D_PREHASH)
            return 0;
    }
    fd = conn_fd(t, &ev);
    /* A stream's sender writes when its source has data, not at will. */
    if (t->ds > D_TLS &&
        (buf_len(t->out) > 0 ||
         (t->ds == D_STREAMING && !t->paused && t->pump == NULL)))
        ev |= POLLOUT;
    limit = t->ds <= D_HS ? t->dp_deadline : t->last_io + t->idle_s;
    if (fan_sender(t) && t->ds == D_WAIT_PEER && t->group->join_deadline &&
        t->group->join_deadline < limit)
        limit = t->group->join_deadline;
    if (fan_sender(t) && t->ds == D_WAIT_VERIFIED &&
        t->group->verified_deadline && t->group->verified_deadline < limit)
        limit = t->group->verified_deadline;
    ms = limit > now ? (int)MIN(limit - now, 86400) * 1000 : 0;
    if (*timeout_ms < 0 || ms < *timeout_ms)
        *timeout_ms = ms;
    ms = dp_keepalive_ms(t);
    if (ms >= 0 && (*timeout_ms < 0 || ms < *timeout_ms))
        *timeout_ms = ms;
    ms = progress_due_ms(t);
    if (ms >= 0 && (*timeout_ms < 0 || ms < *timeout_ms))
        *timeout_ms = ms;
    if (fd < 0)
        return 0;
    if (t->pump != NULL) {
        dp_stream_want(t, p, ev, timeout_ms);
        return 1;
    }
    p->fd = fd;
    p->events = ev;
    p->revents = 0;
    return 1;
}

void dp_run(ferry_transfer_t *t, short revents, time_t now)
{
    const char *why = "relay-unreachable";
    int rc;

    if (t->ds == D_IDLE) {
        dp_setup(t);
        return;
    }
    if (t->ds == D_DONE)
        return;
    progress_flush(t);
    if (t->ds == D_PREHASH) {
        prehash(t, now);
        return;
    }
    if (t->ds <= D_TLS) {
        if (now >= t->dp_deadline) {
            dp_finish(t, FERRY_DONE_TIMEOUT,
                      t->ds == D_TLS ? "relay-tls-timeout"
                                     : "relay-connect-timeout");
            return;
        }
        if (revents == 0 && t->ds != D_CONNECTING)
            return;
        rc = conn_step(t, &why);
        if (rc == FERRY_ERR_NEED_MORE)
            return;
        if (rc != FERRY_OK) {
            dp_finish(t, FERRY_DONE_IO, why);
            return;
        }
        t->ds = D_HS;
        t->linked = 1;
        t->last_io = now;
        dp_emit_event(t, "connected");
        return;
    }
    if (t->ds == D_HS && now >= t->dp_deadline) {
        dp_finish(t, FERRY_DONE_TIMEOUT, "relay-handshake-timeout");
        return;
    }
    if (t->ds > D_HS && now - t->last_io >= t->idle_s) {
        put_cancel(t, FERRY_ERR_IDLE_TIMEOUT);
        dp_finish(t, FERRY_DONE_TIMEOUT, "relay-idle");
        return;
    }
    if (fan_sender(t)) {
        fan_timers(t, now);
        if (t->ds == D_DONE)
            return;
    }
    /* A stream's sender polls an epoll fd: learn what the socket has. */
    if (t->pump != NULL)
        revents = dp_stream_revents(t);
    if ((revents & (POLLIN | POLLHUP | POLLERR)) || conn_pending(t) > 0)
        read_frames(t);
    if (t->ds == D_DONE)
        return;
    dp_keepalive(t);
    if (t->ds == D_DONE)
        return;
    dp_fill(t);
    if (t->ds != D_DONE)
        dp_flush(t);
}
