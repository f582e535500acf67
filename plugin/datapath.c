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

#define ACK_EVERY (1024 * 1024) /* bytes written between ACKs */
#define CACHE_CHUNKS 64         /* reorder cache bound, in chunks */
#define SHUFFLE_WINDOW 8        /* test mode: chunks permuted per window */
#define PREHASH_SLICE (2u << 20) /* bytes hashed per turn */
#define READ_SLICE 65536
#define READ_ROUNDS 16

/* ---- events to the session half --------------------------------------- */

void dp_emit_event(ferry_transfer_t *t, const char *what)
{
    if (t->ctx->mode == FERRY_MODE_THREAD)
        worker_post(t, EV_EVENT, 0, what);
    else
        transfer_event(t, what);
}

void dp_emit_progress(ferry_transfer_t *t, uint64_t done)
{
    if (t->ctx->mode == FERRY_MODE_THREAD)
        worker_post(t, EV_PROGRESS, done, NULL);
    else
        transfer_progress(t, done);
}

void dp_emit_done(ferry_transfer_t *t, ferry_status_t st, const char *reason)
{
    if (t->done_emitted)
        return;
    t->done_emitted = 1;
    t->ds = D_DONE;
    /* The worker posts it itself once t is out of its hands. */
    t->done_st = st;
    t->done_reason = reason;
    if (t->ctx->mode != FERRY_MODE_THREAD || t->ctx->worker == NULL)
        transfer_finish(t, st, reason);
}

/* ---- the sink --------------------------------------------------------- */

static int sink_write(ferry_transfer_t *t, const uint8_t *p, size_t len)
{
    if (t->sink.file != NULL)
        return rfile_write(t->sink.file, p, len);
    return t->sink.user.write(t->sink.user.userdata, p, len) == 0
               ? FERRY_OK
               : FERRY_ERR_IO;
}

static void sink_end(ferry_transfer_t *t, int keep)
{
    if (t->sink.file != NULL)
        rfile_abort(t->sink.file, keep);
    else if (t->sink.user.finish != NULL)
        (void)t->sink.user.finish(t->sink.user.userdata, 0);
    t->sink.user.finish = NULL;
}

/* Closes the link, settles the sink, tells the session: the one way out. */
static void finish(ferry_transfer_t *t, ferry_status_t st, const char *reason)
{
    if (t->ds == D_DONE)
        return;
    conn_close(t);
    /* A receiver keeps .part and its state for a resume, except when it
     * never started. */
    if (!t->is_sender && st != FERRY_DONE_OK)
        sink_end(t, t->written > 0 || t->resume_from > 0);
    dp_emit_done(t, st, reason);
}

/* ---- setup ------------------------------------------------------------ */

static int setup(ferry_transfer_t *t)
{
    uint8_t shared[32], key[32];
    uint64_t i, j, k, tmp;
    int rc;

    if ((rc = ferry_x25519(t->my_priv, t->peer_pub, shared)) != FERRY_OK)
        return rc;
    rc = ferry_content_key(shared, t->ch.key, t->sid, key);
    ferry_wipe(shared, sizeof(shared));
    if (rc != FERRY_OK || (t->aead = aead_new(key)) == NULL) {
        ferry_wipe(key, sizeof(key));
        return FERRY_ERR_CRYPTO;
    }
    ferry_wipe(key, sizeof(key));
    t->in = buf_new(FERRY_FRAME_HDR + FERRY_FRAME_MAX + READ_SLICE);
    /* Room for a few frames keeps the socket busy while we seal the next. */
    t->out =
        buf_new(4 * (FERRY_FRAME_HDR + 8 + t->chunk + FERRY_TAG_LEN) + 256);
    t->hash = sha256_new();
    if (t->in == NULL || t->out == NULL || t->hash == NULL)
        return FERRY_ERR_NOMEM;
    t->next = t->resume_from;
    if (t->is_sender) {
        if (t->shuffle && t->nchunks > 0) {
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
        t->cache = reorder_new(CACHE_CHUNKS);
        t->scratch = malloc(t->chunk ? t->chunk : 1);
        if (t->cache == NULL || t->scratch == NULL)
            return FERRY_ERR_NOMEM;
        t->written = t->resume_from * t->chunk;
    }
    return FERRY_OK;
}

/* The hash covers the file in order from its first byte: a resumed or
 * shuffled transfer hashes what it will not stream in order first. */
static int needs_prehash(const ferry_transfer_t *t)
{
    return t->is_sender ? (t->order != NULL || t->resume_from > 0)
                        : t->resume_from > 0;
}

static uint64_t prehash_len(const ferry_transfer_t *t)
{
    if (t->is_sender)
        return t->size;
    return t->resume_from * t->chunk;
}

static void start_link(ferry_transfer_t *t, time_t now)
{
    t->dp_deadline = now + t->connect_s;
    if (conn_begin(t) != FERRY_OK)
        finish(t, FERRY_DONE_IO, "relay-unreachable");
}

/* Runs where the data half runs (the host's thread, or the worker). */
void dp_setup(ferry_transfer_t *t)
{
    time_t now = time(NULL);
    int rc;

    t->sock = -1;
    t->last_io = now;
    if ((rc = setup(t)) != FERRY_OK) {
        finish(t, rc == FERRY_ERR_NOMEM ? FERRY_DONE_IO : FERRY_DONE_REFUSED,
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
    finish(t, FERRY_DONE_CANCELLED, "cancelled");
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
    conn_close(t);
    aead_free(t->aead);
    sha256_free(t->hash);
    buf_free(t->in);
    buf_free(t->out);
    reorder_free(t->cache);
    free(t->scratch);
    g_free(t->order);
    SSL_CTX_free(t->tls);
    t->aead = NULL;
    t->hash = NULL;
    t->in = t->out = NULL;
    t->cache = NULL;
    t->scratch = NULL;
    t->order = NULL;
    t->tls = NULL;
}

/* ---- sender ----------------------------------------------------------- */

static int src_read(ferry_transfer_t *t, uint8_t *p, size_t len, uint64_t off)
{
    size_t got = 0;
    ssize_t n;

    while (got < len) {
        n = t->src.read(t->src.userdata, off + got, p + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FERRY_ERR_IO;
        got += (size_t)n;
    }
    return FERRY_OK;
}

/* Seals chunk `num` into the output buffer. */
static int put_chunk(ferry_transfer_t *t, uint64_t num)
{
    uint64_t off = num * t->chunk;
    size_t len = t->size - off < t->chunk ? (size_t)(t->size - off) : t->chunk;
    uint8_t *p, nonce[12], ad[FERRY_AD_MAX];
    uint32_t body = (uint32_t)(8 + len + FERRY_TAG_LEN);
    size_t adl;

    if (buf_reserve(t->out, FERRY_FRAME_HDR + body, &p) != FERRY_OK)
        return FERRY_ERR_NO_SPACE;
    p[0] = FRAME_DATA;
    p[1] = (uint8_t)(body >> 16);
    p[2] = (uint8_t)(body >> 8);
    p[3] = (uint8_t)body;
    be64_put(p + 4, num);
    if (src_read(t, p + 12, len, off) != FERRY_OK) {
        buf_unreserve(t->out, FERRY_FRAME_HDR + body);
        return FERRY_ERR_IO;
    }
    if (t->order == NULL && t->resume_from == 0)
        sha256_update(t->hash, p + 12, len);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, num, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, num, t->sid, ad);
    if (aead_seal(t->aead, nonce, ad, adl, p + 12, len, p + 12) != FERRY_OK)
        return FERRY_ERR_CRYPTO;
    if (t->corrupt_chunk == num + 1)
        p[12] ^= 0x01;
    return FERRY_OK;
}

static int put_end(ferry_transfer_t *t)
{
    uint8_t pt[40], sealed[FERRY_END_SEALED_LEN], nonce[12], ad[FERRY_AD_MAX];
    size_t adl;
    int rc;

    be64_put(pt, t->size);
    sha256_final(t->hash, t->end_hash);
    memcpy(pt + 8, t->end_hash, 32);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, t->nchunks, nonce);
    adl = ferry_ad(FERRY_KIND_END, t->nchunks, t->sid, ad);
    if ((rc = aead_seal(t->aead, nonce, ad, adl, pt, 40, sealed)) != FERRY_OK)
        return rc;
    return frame_put_end(t->out, t->nchunks, sealed);
}

/* Sender: fill the output buffer with sealed chunks while there is room. */
static void fill(ferry_transfer_t *t)
{
    size_t need = FERRY_FRAME_HDR + 8 + t->chunk + FERRY_TAG_LEN;
    int rc;

    while (t->ds == D_STREAMING && !t->paused && buf_avail(t->out) >= need) {
        if (t->next == t->nchunks) {
            if (put_end(t) != FERRY_OK) {
                finish(t, FERRY_DONE_IO, "internal");
                return;
            }
            t->ds = D_WAIT_VERIFIED;
            dp_emit_event(t, "sent");
            return;
        }
        rc = put_chunk(t, t->order ? t->order[t->next] : t->next);
        if (rc != FERRY_OK) {
            finish(t, FERRY_DONE_IO,
                   rc == FERRY_ERR_IO ? "source-read" : ferry_errname(rc));
            return;
        }
        t->next++;
    }
}

static void flush(ferry_transfer_t *t)
{
    ssize_t n;

    while (buf_len(t->out) > 0 && t->ds != D_DONE) {
        n = conn_send(t, buf_ptr(t->out), buf_len(t->out));
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                finish(t, FERRY_DONE_PEER_GONE, "relay-closed");
            return;
        }
        buf_consume(t->out, (size_t)n);
        t->last_io = time(NULL);
    }
}

/* ---- receiver --------------------------------------------------------- */

static void send_ack(ferry_transfer_t *t)
{
    frame_put_ack(t->out, t->next);
    if (t->sink.file != NULL)
        (void)rfile_save_state(t->sink.file, t->next);
}

static int append(ferry_transfer_t *t, const uint8_t *p, size_t len)
{
    if (sink_write(t, p, len) != FERRY_OK)
        return FERRY_ERR_IO;
    sha256_update(t->hash, p, len);
    t->written += len;
    return FERRY_OK;
}

static void fail_integrity(ferry_transfer_t *t, const char *why)
{
    frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_INTEGRITY);
    flush(t);
    finish(t, FERRY_DONE_INTEGRITY, why);
}

/* Receiver: one DATA frame. In order: append at once, then whatever the
 * cache holds next. Ahead: keep in the bounded cache (claims 10, 11, 15). */
static void on_data(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t nonce[12], ad[FERRY_AD_MAX];
    size_t adl, len = f->sealed_len - FERRY_TAG_LEN;
    uint64_t expect_len, before = t->written;
    uint8_t *plain, *held;
    size_t hl;
    int rc;

    if (f->number >= t->nchunks || f->number < t->next) {
        fail_integrity(t, "bad-chunk-number");
        return;
    }
    expect_len =
        f->number == t->nchunks - 1 ? t->size - f->number * t->chunk : t->chunk;
    if (len != expect_len) {
        fail_integrity(t, "bad-chunk-size");
        return;
    }
    if (f->number - t->next >= CACHE_CHUNKS) {
        frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_TOO_LARGE);
        flush(t);
        finish(t, FERRY_DONE_INTEGRITY, "reorder-window");
        return;
    }
    plain = f->number == t->next ? t->scratch : malloc(len ? len : 1);
    if (plain == NULL) {
        finish(t, FERRY_DONE_IO, "out-of-memory");
        return;
    }
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, f->number, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, f->number, t->sid, ad);
    if (aead_open(t->aead, nonce, ad, adl, f->sealed, f->sealed_len, plain) !=
        FERRY_OK) {
        if (plain != t->scratch)
            free(plain);
        fail_integrity(t, "chunk-auth");
        return;
    }
    if (!t->first_byte) {
        t->first_byte = 1;
        dp_emit_event(t, "first-byte");
    }
    if (f->number != t->next) {
        /* The window was checked above: this cannot be refused. */
        (void)reorder_put(t->cache, t->next, f->number, plain, len);
        return;
    }
    if (append(t, plain, len) != FERRY_OK) {
        finish(t, FERRY_DONE_IO, "write");
        return;
    }
    t->next++;
    while ((held = reorder_take(t->cache, t->next, &hl)) != NULL) {
        rc = append(t, held, hl);
        free(held);
        if (rc != FERRY_OK) {
            finish(t, FERRY_DONE_IO, "write");
            return;
        }
        t->next++;
    }
    if (t->written / ACK_EVERY != before / ACK_EVERY)
        send_ack(t);
    dp_emit_progress(t, t->written);
}

static void on_end(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t pt[40], hash[32], nonce[12], ad[FERRY_AD_MAX];
    uint8_t sealed[FERRY_VERIFIED_SEALED_LEN];
    size_t adl;
    int rc;

    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, f->number, nonce);
    adl = ferry_ad(FERRY_KIND_END, f->number, t->sid, ad);
    if (aead_open(t->aead, nonce, ad, adl, f->sealed, f->sealed_len, pt) !=
        FERRY_OK) {
        fail_integrity(t, "end-auth");
        return;
    }
    sha256_final(t->hash, hash);
    if (f->number != t->nchunks || t->next != t->nchunks ||
        be64_get(pt) != t->size || t->written != t->size ||
        memcmp(pt + 8, hash, 32) != 0) {
        fail_integrity(t, "hash-mismatch");
        return;
    }
    /* Durable first, then visible under its final name. */
    if (t->sink.file != NULL)
        rc = rfile_commit(t->sink.file);
    else
        rc = t->sink.user.finish == NULL ||
                     t->sink.user.finish(t->sink.user.userdata, 1) == 0
                 ? FERRY_OK
                 : FERRY_ERR_IO;
    t->sink.user.finish = NULL;
    if (rc != FERRY_OK) {
        frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_INTERNAL);
        flush(t);
        finish(t, FERRY_DONE_IO, "commit");
        return;
    }
    /* The sender counts the transfer delivered only on this sealed
     * confirmation, which no relay can forge. */
    frame_put_ack(t->out, t->next);
    if (ferry_verified_seal(t->aead, t->sid, t->nchunks, t->size, hash,
                            sealed) == FERRY_OK)
        frame_put_verified(t->out, sealed);
    flush(t);
    dp_emit_progress(t, t->written);
    finish(t, FERRY_DONE_OK, NULL);
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
        frame_put_auth(t->out, t->is_sender ? ROLE_SENDER : ROLE_RECEIVER,
                       t->ch.id, proof);
        break;
    case FRAME_ADMITTED:
        if (t->ds != D_HS)
            break;
        t->ds = D_WAIT_PEER;
        dp_emit_event(t, "admitted");
        break;
    case FRAME_PEER_JOINED:
        if (t->ds != D_WAIT_PEER)
            break;
        dp_emit_event(t, "peer-joined");
        t->ds = t->is_sender ? D_STREAMING : D_RECEIVING;
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
        if (!t->is_sender)
            break;
        t->acked = f->number;
        done = t->acked * t->chunk;
        dp_emit_progress(t, done > t->size ? t->size : done);
        break;
    case FRAME_VERIFIED:
        if (!t->is_sender || t->ds != D_WAIT_VERIFIED)
            break;
        if (f->sealed_len != FERRY_VERIFIED_SEALED_LEN ||
            ferry_verified_open(t->aead, t->sid, t->nchunks, t->size,
                                t->end_hash, f->sealed) != FERRY_OK) {
            fail_integrity(t, "bad-verified");
            break;
        }
        finish(t, FERRY_DONE_OK, NULL);
        break;
    case FRAME_DATA:
        if (!t->is_sender && t->ds == D_RECEIVING)
            on_data(t, f);
        break;
    case FRAME_END:
        if (!t->is_sender && t->ds == D_RECEIVING)
            on_end(t, f);
        break;
    case FRAME_CANCEL:
        finish(t,
               f->code == FERRY_ERR_INTEGRITY ? FERRY_DONE_INTEGRITY
                                              : FERRY_DONE_CANCELLED,
               ferry_errname(f->code));
        break;
    case FRAME_PEER_GONE:
        finish(t, FERRY_DONE_PEER_GONE, ferry_errname(f->code));
        break;
    case FRAME_ERROR:
        finish(t, FERRY_DONE_REFUSED, ferry_errname(f->code));
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
    int rc, rounds;

    /* Bounded rounds so one busy transfer cannot starve the loop. */
    for (rounds = 0; rounds < READ_ROUNDS && t->ds != D_DONE; rounds++) {
        if (buf_reserve(t->in, READ_SLICE, &p) != FERRY_OK)
            break;
        n = conn_recv(t, p, READ_SLICE);
        buf_unreserve(t->in, READ_SLICE - (n > 0 ? (size_t)n : 0));
        if (n == 0) {
            finish(t, FERRY_DONE_PEER_GONE, "relay-closed");
            return;
        }
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                finish(t, FERRY_DONE_PEER_GONE, "relay-closed");
            break;
        }
        t->last_io = time(NULL);
        while (t->ds != D_DONE) {
            rc = frame_decode(buf_ptr(t->in), buf_len(t->in), FERRY_FRAME_MAX,
                              &f, &used);
            if (rc == FERRY_ERR_NEED_MORE)
                break;
            if (rc != FERRY_OK) {
                finish(t, FERRY_DONE_INTEGRITY, ferry_errname(rc));
                return;
            }
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
        want = end - t->hashed < sizeof(b) ? (size_t)(end - t->hashed)
                                           : sizeof(b);
        if (t->is_sender)
            n = src_read(t, b, want, t->hashed) == FERRY_OK ? (ssize_t)want
                                                            : -1;
        else
            n = rfile_pread(t->sink.file, b, want, t->hashed);
        if (n <= 0) {
            finish(t, FERRY_DONE_IO, t->is_sender ? "source-read" : "read");
            return;
        }
        sha256_update(t->hash, b, (size_t)n);
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

    if (t->ds == D_DONE || t->ds == D_IDLE)
        return 0;
    if (t->ds == D_PREHASH || conn_pending(t) > 0) {
        *timeout_ms = 0;
        if (t->ds == D_PREHASH)
            return 0;
    }
    fd = conn_fd(t, &ev);
    if (t->ds > D_TLS && (buf_len(t->out) > 0 ||
                          (t->ds == D_STREAMING && !t->paused)))
        ev |= POLLOUT;
    limit = t->ds <= D_HS ? t->dp_deadline : t->last_io + t->idle_s;
    ms = limit > now ? (int)(limit - now) * 1000 : 0;
    if (*timeout_ms < 0 || ms < *timeout_ms)
        *timeout_ms = ms;
    if (fd < 0)
        return 0;
    p->fd = fd;
    p->events = ev;
    p->revents = 0;
    return 1;
}

void dp_run(ferry_transfer_t *t, short revents, time_t now)
{
    const char *why = "relay-unreachable";
    int rc;

    if (t->ds == D_DONE || t->ds == D_IDLE)
        return;
    if (t->ds == D_PREHASH) {
        prehash(t, now);
        return;
    }
    if (t->ds <= D_TLS) {
        if (now >= t->dp_deadline) {
            finish(t, FERRY_DONE_TIMEOUT, t->ds == D_TLS
                                              ? "relay-tls-timeout"
                                              : "relay-connect-timeout");
            return;
        }
        if (revents == 0 && t->ds != D_CONNECTING)
            return;
        rc = conn_step(t, &why);
        if (rc == FERRY_ERR_NEED_MORE)
            return;
        if (rc != FERRY_OK) {
            finish(t, FERRY_DONE_IO, why);
            return;
        }
        t->ds = D_HS;
        t->last_io = now;
        dp_emit_event(t, "connected");
        return;
    }
    if (t->ds == D_HS && now >= t->dp_deadline) {
        finish(t, FERRY_DONE_TIMEOUT, "relay-handshake-timeout");
        return;
    }
    if (t->ds > D_HS && now - t->last_io >= t->idle_s) {
        put_cancel(t, FERRY_ERR_IDLE_TIMEOUT);
        finish(t, FERRY_DONE_TIMEOUT, "relay-idle");
        return;
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR)) || conn_pending(t) > 0)
        read_frames(t);
    if (t->ds == D_DONE)
        return;
    fill(t);
    if (t->ds != D_DONE)
        flush(t);
}
