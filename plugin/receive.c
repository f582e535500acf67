/* libferry: the receiver's part of the data path. Each chunk is opened,
 * ordered through the bounded reorder cache (claims 10, 11, 15), appended
 * to the sink and acknowledged; END is checked against what arrived, the
 * sink commits, and a sealed VERIFIED confirms delivery to the sender. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "files.h"
#include "frame.h"
#include "internal.h"
#include "reorder.h"

#define ACK_EVERY (1024 * 1024) /* bytes written between ACKs */

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

/* Receiver: one DATA frame. In order: append at once, then whatever the
 * cache holds next. Ahead: keep in the bounded cache (claims 10, 11, 15). */
void dp_on_data(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t nonce[12], ad[FERRY_AD_MAX];
    size_t adl, len = f->sealed_len - FERRY_TAG_LEN;
    uint64_t expect_len, before = t->written;
    uint8_t *plain, *held;
    size_t hl;
    int rc;

    if (f->number >= t->nchunks || f->number < t->next) {
        dp_fail_integrity(t, "bad-chunk-number");
        return;
    }
    expect_len =
        f->number == t->nchunks - 1 ? t->size - f->number * t->chunk : t->chunk;
    if (len != expect_len) {
        dp_fail_integrity(t, "bad-chunk-size");
        return;
    }
    if (f->number - t->next >= REORDER_WINDOW) {
        frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_TOO_LARGE);
        dp_flush(t);
        dp_finish(t, FERRY_DONE_INTEGRITY, "reorder-window");
        return;
    }
    plain = f->number == t->next ? t->scratch : malloc(len ? len : 1);
    if (plain == NULL) {
        dp_finish(t, FERRY_DONE_IO, "out-of-memory");
        return;
    }
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, f->number, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, f->number, t->sid, ad);
    if (aead_open(t->aead, nonce, ad, adl, f->sealed, f->sealed_len, plain) !=
        FERRY_OK) {
        if (plain != t->scratch)
            free(plain);
        dp_fail_integrity(t, "chunk-auth");
        return;
    }
    if (!t->first_byte) {
        t->first_byte = 1;
        dp_emit_event(t, "first-byte");
        if (t->ds == D_DONE) { /* the application cancelled */
            if (plain != t->scratch)
                free(plain);
            return;
        }
    }
    if (f->number != t->next) {
        /* The window was checked above: this cannot be refused. */
        (void)reorder_put(t->cache, t->next, f->number, plain, len);
        return;
    }
    if (append(t, plain, len) != FERRY_OK) {
        dp_finish(t, FERRY_DONE_IO, "write");
        return;
    }
    t->next++;
    while ((held = reorder_take(t->cache, t->next, &hl)) != NULL) {
        rc = append(t, held, hl);
        free(held);
        if (rc != FERRY_OK) {
            dp_finish(t, FERRY_DONE_IO, "write");
            return;
        }
        t->next++;
    }
    if (t->written / ACK_EVERY != before / ACK_EVERY)
        send_ack(t);
    dp_emit_progress(t, t->written);
}

void dp_on_end(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t pt[40], hash[32], nonce[12], ad[FERRY_AD_MAX];
    uint8_t sealed[FERRY_VERIFIED_SEALED_LEN];
    size_t adl;
    int rc;

    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, f->number, nonce);
    adl = ferry_ad(FERRY_KIND_END, f->number, t->sid, ad);
    if (aead_open(t->aead, nonce, ad, adl, f->sealed, f->sealed_len, pt) !=
        FERRY_OK) {
        dp_fail_integrity(t, "end-auth");
        return;
    }
    sha256_final(t->hash, hash);
    if (f->number != t->nchunks || t->next != t->nchunks ||
        be64_get(pt) != t->size || t->written != t->size ||
        memcmp(pt + 8, hash, 32) != 0) {
        dp_fail_integrity(t, "hash-mismatch");
        return;
    }
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
    if (ferry_verified_seal(t->aead, t->sid, t->nchunks, t->size, hash,
                            sealed) == FERRY_OK)
        frame_put_verified(t->out, sealed);
    dp_flush(t);
    dp_finish(t, FERRY_DONE_OK, NULL);
}
