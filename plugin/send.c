/* libferry: the sender's part of the data path. Chunks are read from the
 * source, sealed in place in the output buffer and framed; END commits to
 * the size and the SHA-256 of the whole in order (XEP "Data Transfer"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "files.h"
#include "frame.h"
#include "internal.h"
#include "reorder.h"

/* ---- sender ----------------------------------------------------------- */

int dp_src_read(ferry_transfer_t *t, uint8_t *p, size_t len, uint64_t off)
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
    if (dp_src_read(t, p + 12, len, off) != FERRY_OK) {
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
void dp_fill(ferry_transfer_t *t)
{
    size_t need = FERRY_FRAME_HDR + 8 + t->chunk + FERRY_TAG_LEN;
    gint64 t0 = g_get_monotonic_time();
    uint64_t sealed = 0;
    int rc;

    while (t->ds == D_STREAMING && !t->paused && buf_avail(t->out) >= need &&
           !dp_slice_over(t, t0, sealed)) {
        if (t->next == t->nchunks) {
            if (put_end(t) != FERRY_OK) {
                dp_finish(t, FERRY_DONE_IO, "internal");
                return;
            }
            t->ds = D_WAIT_VERIFIED;
            dp_emit_event(t, "sent");
            return;
        }
        rc = put_chunk(t, t->order ? t->order[t->next] : t->next);
        if (rc != FERRY_OK) {
            dp_finish(t, FERRY_DONE_IO,
                      rc == FERRY_ERR_IO ? "source-read" : ferry_errname(rc));
            return;
        }
        t->next++;
        sealed += t->chunk;
    }
}
