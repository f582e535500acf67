/* libferry: the receiver's part of the data path. Each chunk is opened in
 * place in the input buffer, ordered through the bounded reorder cache
 * (claims 10, 11, 15), appended to the sink straight from there and
 * acknowledged; its tag joins END's digest. END is checked against what
 * arrived, the sink commits, and a sealed VERIFIED confirms delivery to
 * the sender.
 * A stream's chunks may be short, its size is bounded only by the
 * application's ceiling, and END alone says how much was sent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "err.h"
#include "files.h"
#include "frame.h"
#include "internal.h"
#include "reorder.h"

#define ACK_EVERY (1024 * 1024) /* bytes written between ACKs */
/* The resume state is rewritten at an ACK once this many bytes or this
 * long have passed since the last: a crash costs a resume at most that
 * much again, and the state file no longer costs syscalls per MiB. */
#define STATE_EVERY (64u * 1024 * 1024)
#define STATE_US G_TIME_SPAN_SECOND
/* A stream's receiver also acknowledges what it wrote at least this often,
 * so a slow live stream's sender sees progress ... */
#define STREAM_ACK_US (250 * G_TIME_SPAN_MILLISECOND)
/* ... and, when nothing came, repeats its ACK (a keep-alive) this often,
 * or a third of the idle limit if that is shorter: a quiet stream is not
 * ended by the relay's or either end's idle timeout. */
#define STREAM_KEEPALIVE_US (10 * G_TIME_SPAN_SECOND)

/**
 * Sets a ceiling on the bytes a receiver takes: past it the transfer ends
 * (FERRY_DONE_CANCELLED, reason "too-large") and the sender is told with
 * CANCEL too-large. Call before ferry_accept_file() or ferry_accept_sink().
 * @param t an offer waiting for an answer
 * @param max bytes; 0 (the default) for no ceiling
 * @return FERRY_RC_OK, or FERRY_RC_STATE when t is not such an offer
 */
int ferry_transfer_set_max_size(ferry_transfer_t *t, uint64_t max)
{
    if (t->is_sender || t->st != T_WAIT_USER) {
        ctx_error(t->ctx, "not an offer waiting for an answer");
        return FERRY_RC_STATE;
    }
    t->max_size = max;
    return FERRY_RC_OK;
}

/**
 * Asks the receiver to check the SHA-256 of the whole file against sha256
 * (e.g. the offer's XEP-0300 hash, or one learnt out of band) before it
 * commits: a mismatch fails the transfer (FERRY_DONE_INTEGRITY, reason
 * "sha256-mismatch"; the sender is told with CANCEL integrity) and no file
 * appears under the final name. Costs a pass of SHA-256 over the data (and,
 * on a resume, a read of the part already held). Without it, END's
 * authenticated chain of chunk tags is the integrity check. Call before
 * ferry_accept_file() or ferry_accept_sink().
 * @param t an offer waiting for an answer
 * @param sha256 32 bytes
 * @return FERRY_RC_OK, or FERRY_RC_STATE when t is not such an offer
 */
int ferry_transfer_check_sha256(ferry_transfer_t *t, const uint8_t sha256[32])
{
    if (t->is_sender || t->st != T_WAIT_USER || sha256 == NULL) {
        ctx_error(t->ctx, "not an offer waiting for an answer");
        return FERRY_RC_STATE;
    }
    memcpy(t->want_sha256, sha256, 32);
    t->check_sha256 = 1;
    return FERRY_RC_OK;
}

/* ---- the sink --------------------------------------------------------- */

static int sink_write(ferry_transfer_t *t, const uint8_t *p, size_t len)
{
    if (t->sink.file != NULL)
        return rfile_write(t->sink.file, p, len);
    return t->sink.user.write(t->sink.user.userdata, p, len) >= 0
               ? FERRY_OK
               : FERRY_ERR_IO;
}

void dp_sink_end(ferry_transfer_t *t, int keep)
{
    if (t->sink.file != NULL)
        rfile_abort(t->sink.file, keep);
    else if (t->sink.user.finish != NULL)
        (void)t->sink.user.finish(t->sink.user.userdata, 0);
    t->sink.user.finish = NULL;
}

/* ---- receiver --------------------------------------------------------- */

uint64_t dp_resumable(const ferry_transfer_t *t)
{
    return t->ch.has_slot ? t->checked : t->next;
}

static void save_state(ferry_transfer_t *t, gint64 now)
{
    uint64_t n = dp_resumable(t);

    /* A stream is never resumed: no state to keep. */
    if (t->sink.file != NULL && !stream_of(t) && n > t->state_next &&
        rfile_save_state(t->sink.file, n) == FERRY_OK) {
        t->state_next = n;
        t->state_us = now;
    }
}

static void send_ack(ferry_transfer_t *t)
{
    gint64 now = g_get_monotonic_time();

    frame_put_ack(t->out, t->next);
    t->last_ack_us = now;
    if ((t->next - t->state_next) * t->chunk >= STATE_EVERY ||
        now - t->state_us >= STATE_US)
        save_state(t, now);
}

/* A fan-out leg's CHECK(n): what it wrote below n is what its sender
 * sealed (the digest so far, under its own leg key, which the other
 * receivers lack). It comes right after DATA n-1, in order. */
void dp_on_check(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t d[32], got[32], nonce[12], ad[FERRY_AD_MAX];
    struct sha256 *s;
    size_t adl;
    int ok;

    if (f->number != t->next || reorder_count(t->cache) != 0 ||
        f->number <= t->checked) {
        dp_fail_integrity(t, "bad-check");
        return;
    }
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_CHECK, f->number, nonce);
    adl = ferry_ad(FERRY_KIND_CHECK, f->number, t->sid, ad);
    s = sha256_dup(t->hash);
    ok = s != NULL && sha256_final(s, d) == FERRY_OK &&
         aead_open(t->aead, nonce, ad, adl, f->sealed, f->sealed_len, got) ==
             FERRY_OK &&
         CRYPTO_memcmp(d, got, 32) == 0;
    sha256_free(s);
    if (!ok) {
        dp_fail_integrity(t, "check-mismatch");
        return;
    }
    t->checked = f->number;
    save_state(t, g_get_monotonic_time());
}

static gint64 keepalive_us(const ferry_transfer_t *t)
{
    return MIN(STREAM_KEEPALIVE_US, (gint64)t->idle_s * G_TIME_SPAN_SECOND / 3);
}

int dp_keepalive_ms(const ferry_transfer_t *t)
{
    gint64 left;

    if (!stream_of(t) || t->is_sender || t->ds != D_RECEIVING)
        return -1;
    left = t->last_ack_us + keepalive_us(t) - g_get_monotonic_time();
    return left > 0 ? (int)((left + 999) / 1000) : 0;
}

void dp_keepalive(ferry_transfer_t *t)
{
    if (dp_keepalive_ms(t) == 0) {
        send_ack(t);
        dp_flush(t);
    }
}

/* What a chunk adds to END's digest: its tag; on a fan-out slot, the
 * SHA-256 of its whole sealed body (XEP "Fan-out"). */
static size_t elem_len(const ferry_transfer_t *t)
{
    return t->ch.has_slot ? 32 : FERRY_TAG_LEN;
}

/* The application's ceiling, then the sink; the chunk's digest element
 * joins END's digest, in number order. */
static int append(ferry_transfer_t *t, const uint8_t *p, size_t len,
                  const uint8_t *elem)
{
    if (t->max_size > 0 && len > t->max_size - MIN(t->written, t->max_size))
        return FERRY_ERR_TOO_LARGE;
    if (sink_write(t, p, len) != FERRY_OK)
        return FERRY_ERR_IO;
    if (sha256_update(t->hash, elem, elem_len(t)) != FERRY_OK ||
        (t->plain_hash != NULL &&
         sha256_update(t->plain_hash, p, len) != FERRY_OK))
        return FERRY_ERR_IO;
    t->written += len;
    return FERRY_OK;
}

/* Past the ceiling: the sender is told; otherwise a local write error. */
static void append_failed(ferry_transfer_t *t, int rc)
{
    if (rc == FERRY_ERR_TOO_LARGE) {
        frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_TOO_LARGE);
        dp_flush(t);
        dp_finish(t, FERRY_DONE_CANCELLED, "too-large");
    } else
        dp_finish(t, FERRY_DONE_IO, "write");
}

/* A chunk's number and length: a file's are fixed by the offer; a
 * stream's chunks are 1 to chunk-size bytes, numbered without end. */
static int chunk_ok(ferry_transfer_t *t, const struct frame *f, size_t len)
{
    if (f->number < t->next || (!stream_of(t) && f->number >= t->nchunks)) {
        dp_fail_integrity(t, "bad-chunk-number");
        return 0;
    }
    if (stream_of(t) ? len > t->chunk
                     : len != (f->number == t->nchunks - 1
                                   ? t->size - f->number * t->chunk
                                   : t->chunk)) {
        dp_fail_integrity(t, "bad-chunk-size");
        return 0;
    }
    return 1;
}

/* ---- opening ahead, with a pool ---------------------------------------- */

/* The in-order chunks of one read opened together: chunk first + i was
 * the frame whose body is at p[i], rc[i] how its opening went, elem[i]
 * its digest element (taken before it was opened). */
struct ahead {
    uint64_t first;
    size_t n;
    const uint8_t *p[CPOOL_BATCH_MAX];
    int rc[CPOOL_BATCH_MAX];
    uint8_t elem[CPOOL_BATCH_MAX][32];
};

/* What chunk_ok() checks, without its failure: a chunk in order that
 * passes it. */
static int chunk_fits(const ferry_transfer_t *t, const struct frame *f,
                      uint64_t num)
{
    size_t len;

    if (f->type != FRAME_DATA || f->number != num ||
        f->sealed_len < FERRY_TAG_LEN)
        return 0;
    len = f->sealed_len - FERRY_TAG_LEN;
    if (stream_of(t))
        return len <= t->chunk;
    return num < t->nchunks &&
           len == (num == t->nchunks - 1 ? t->size - num * t->chunk : t->chunk);
}

void dp_open_ahead(ferry_transfer_t *t, const struct frame *f)
{
    struct cjob jobs[CPOOL_BATCH_MAX];
    struct aead *key = t->ch.has_slot ? t->k_aead : t->aead;
    const uint8_t *p = buf_ptr(t->in);
    size_t left = buf_len(t->in), used, n = 0, i;
    struct ahead *a = t->ahead;
    struct frame g;

    if (t->is_sender || t->ds != D_RECEIVING || key == NULL ||
        f->number != t->next || f->number < t->resume_from)
        return;
    if (a != NULL && a->n > 0 && f->number >= a->first &&
        f->number < a->first + a->n)
        return; /* opened already */
    /* f is the frame at the head of t->in: it and the DATA frames right
     * after it, as long as they are the next chunks in order. */
    while (n < CPOOL_BATCH_MAX && left > 0 &&
           frame_decode(p, left, FERRY_FRAME_MAX, &g, &used) == FERRY_OK &&
           chunk_fits(t, &g, t->next + n)) {
        jobs[n].num = t->next + n;
        jobs[n].p = (uint8_t *)g.sealed; /* t->in is ours: opened in place */
        jobs[n].len = g.sealed_len;
        n++;
        p += used;
        left -= used;
    }
    if (n < 2 || jobs[0].p != f->sealed)
        return; /* one chunk: opened as it is handled */
    if (a == NULL)
        a = t->ahead = g_new0(struct ahead, 1);
    for (i = 0; i < n; i++) {
        jobs[i].elem = t->ch.has_slot ? a->elem[i] : NULL;
        if (!t->ch.has_slot) /* the tag stays where it is */
            memcpy(a->elem[i], jobs[i].p + jobs[i].len - FERRY_TAG_LEN,
                   FERRY_TAG_LEN);
    }
    cpool_run(t->pool, key, t->sid, 1, jobs, n);
    a->first = t->next;
    a->n = n;
    for (i = 0; i < n; i++) {
        a->p[i] = jobs[i].p;
        a->rc[i] = jobs[i].rc;
    }
}

/* 1 when f was opened ahead: its element and how the opening went. */
static int ahead_take(ferry_transfer_t *t, const struct frame *f,
                      uint8_t elem[32], int *rc)
{
    struct ahead *a = t->ahead;
    size_t i;

    if (a == NULL || a->n == 0 || f->number < a->first ||
        f->number - a->first >= a->n ||
        a->p[i = (size_t)(f->number - a->first)] != f->sealed)
        return 0;
    memcpy(elem, a->elem[i], 32);
    *rc = a->rc[i];
    if (i == a->n - 1)
        a->n = 0;
    return 1;
}

/* Receiver: one DATA frame. In order: open it where it lies in the input
 * buffer and append it from there, then whatever the cache holds next.
 * Ahead: open it into a block of its own (plaintext, then its tag) kept
 * in the bounded cache (claims 10, 11, 15). */
void dp_on_data(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t nonce[12], ad[FERRY_AD_MAX], elem[32];
    size_t adl, len = f->sealed_len - FERRY_TAG_LEN;
    uint64_t before = t->written;
    /* f points into t->in, which is ours: the chunk is opened in place. */
    uint8_t *in_place = (uint8_t *)f->sealed, *plain, *held;
    struct aead *key = t->aead;
    size_t hl;
    /* ahead: opened already, with the chunks after it (dp_open_ahead);
     * opened: how that went */
    int rc, ahead = 0, opened = FERRY_OK;

    if (t->ch.has_slot) {
        /* A fan-out starts at the smallest resume-from of its legs: the
         * chunks this one holds already are not its. */
        if (f->number < t->resume_from)
            return;
        if ((key = t->k_aead) == NULL) {
            dp_fail_integrity(t, "no-key");
            return;
        }
    }
    if (!chunk_ok(t, f, len))
        return;
    if (t->pool != NULL && ahead_take(t, f, elem, &opened))
        ahead = 1;
    else if (t->ch.has_slot) {
        if (ferry_sealed_element(f->sealed, f->sealed_len, elem) != FERRY_OK) {
            dp_finish(t, FERRY_DONE_IO, "internal");
            return;
        }
    } else
        memcpy(elem, f->sealed + len, FERRY_TAG_LEN);
    if (f->number - t->next >= REORDER_WINDOW) {
        frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_TOO_LARGE);
        dp_flush(t);
        dp_finish(t, FERRY_DONE_INTEGRITY, "reorder-window");
        return;
    }
    plain = f->number == t->next ? in_place : malloc(len + sizeof(elem));
    if (plain == NULL) {
        dp_finish(t, FERRY_DONE_IO, "out-of-memory");
        return;
    }
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, f->number, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, f->number, t->sid, ad);
    if ((ahead ? opened
               : aead_open(key, nonce, ad, adl, f->sealed, f->sealed_len,
                           plain)) != FERRY_OK) {
        if (plain != in_place)
            free(plain);
        dp_fail_integrity(t, "chunk-auth");
        return;
    }
    /* A chunk held for later keeps its element after its plaintext. */
    if (plain != in_place)
        memcpy(plain + len, elem, elem_len(t));
    if (!t->first_byte) {
        t->first_byte = 1;
        dp_emit_event(t, "first-byte");
        if (t->ds == D_DONE) { /* the application cancelled */
            if (plain != in_place)
                free(plain);
            return;
        }
    }
    if (f->number != t->next) {
        /* The window was checked above: this cannot be refused. */
        (void)reorder_put(t->cache, t->next, f->number, plain, len);
        return;
    }
    if ((rc = append(t, plain, len, elem)) != FERRY_OK) {
        append_failed(t, rc);
        return;
    }
    t->next++;
    while ((held = reorder_take(t->cache, t->next, &hl)) != NULL) {
        rc = append(t, held, hl, held + hl);
        free(held);
        if (rc != FERRY_OK) {
            append_failed(t, rc);
            return;
        }
        t->next++;
    }
    if (t->written / ACK_EVERY != before / ACK_EVERY ||
        (stream_of(t) &&
         g_get_monotonic_time() - t->last_ack_us >= STREAM_ACK_US))
        send_ack(t);
    dp_emit_progress(t, t->written);
}

void dp_on_end(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t pt[40], hash[32], whole[32], nonce[12], ad[FERRY_AD_MAX];
    uint8_t sealed[FERRY_VERIFIED_SEALED_LEN];
    uint64_t size;
    size_t adl;
    int rc, ok;

    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, f->number, nonce);
    adl = ferry_ad(FERRY_KIND_END, f->number, t->sid, ad);
    if (aead_open(t->aead, nonce, ad, adl, f->sealed, f->sealed_len, pt) !=
        FERRY_OK) {
        dp_fail_integrity(t, "end-auth");
        return;
    }
    sha256_final(t->hash, hash);
    size = be64_get(pt);
    /* A file's END must match the offer; a stream's fixes the count and
     * size, which must equal all that arrived, with no chunk beyond. */
    if (stream_of(t))
        ok = f->number == t->next && reorder_count(t->cache) == 0 &&
             size == t->written;
    else
        ok = f->number == t->nchunks && t->next == t->nchunks &&
             size == t->size && t->written == t->size;
    if (!ok || memcmp(pt + 8, hash, 32) != 0) {
        dp_fail_integrity(t, "hash-mismatch");
        return;
    }
    /* Asked for: the whole file's SHA-256 (XEP "Data Transfer"). */
    if (t->plain_hash != NULL &&
        (sha256_final(t->plain_hash, whole) != FERRY_OK ||
         CRYPTO_memcmp(whole, t->want_sha256, 32) != 0)) {
        dp_fail_integrity(t, "sha256-mismatch");
        return;
    }
    t->end_count = f->number;
    t->end_size = size;
    dp_emit_progress(t, t->written);
    if (t->ds == D_DONE)
        return; /* the application cancelled: nothing is committed */
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
        dp_flush(t);
        dp_finish(t, FERRY_DONE_IO, "commit");
        return;
    }
    /* The sender counts the transfer delivered only on this sealed
     * confirmation, which no relay can forge. */
    frame_put_ack(t->out, t->next);
    if (ferry_verified_seal(t->aead, t->sid, t->end_count, t->end_size, hash,
                            sealed) == FERRY_OK)
        frame_put_verified(t->out, sealed);
    dp_flush(t);
    dp_finish(t, FERRY_DONE_OK, NULL);
}
