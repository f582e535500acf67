#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "chan.h"
#include "crypto.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "relay.h"

void handshake_start(struct relay *r, struct conn *c)
{
    uint8_t tmp[FERRY_FRAME_HDR + 33];
    struct buf *b = buf_new(sizeof(tmp));

    c->c_state = CONN_HANDSHAKE;
    if (b == NULL ||
        ferry_random(c->c_challenge, sizeof(c->c_challenge)) != FERRY_OK ||
        frame_put_hello(b, c->c_challenge) != FERRY_OK) {
        buf_free(b);
        conn_close(r, c, "internal", 0);
        return;
    }
    conn_notice(r, c, buf_ptr(b), buf_len(b));
    buf_free(b);
}

/* A receiver of a fan-out channel proves slot key(slot), derived from the
 * channel key under each secret in turn. */
static int verify_slot(struct relay *r, struct conn *c, const struct frame *f)
{
    uint8_t key[32], skey[32], want[32];
    size_t i;
    int rc = FERRY_ERR_BAD_PROOF;

    for (i = 0; i < r->nsecrets; i++) {
        if (chan_key(r->secrets[i], r->secret_lens[i], f->chan_id, key) !=
                FERRY_OK ||
            chan_slot_key(key, f->slot, skey) != FERRY_OK ||
            chan_proof(skey, c->c_challenge, f->role, f->chan_id, want) !=
                FERRY_OK) {
            rc = FERRY_ERR_CRYPTO;
            break;
        }
        if (CRYPTO_memcmp(want, f->proof, 32) == 0) {
            rc = FERRY_OK;
            break;
        }
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(skey, sizeof(skey));
    OPENSSL_cleanse(want, sizeof(want));
    return rc;
}

static void admit(struct relay *r, struct conn *c, const struct frame *f)
{
    uint64_t now = (uint64_t)time(NULL);
    unsigned slots;
    int rc;

    if ((rc = chan_id_check(f->chan_id, now)) != FERRY_OK) {
        conn_fail(r, c, rc, NULL);
        return;
    }
    /* A receiver of a fan-out channel names its slot (67 bytes); nobody
     * else does. */
    slots = chan_id_slots(f->chan_id);
    if (f->has_slot != (slots > 0 && f->role == ROLE_RECEIVER) ||
        (f->has_slot && f->slot >= slots)) {
        conn_fail(r, c, FERRY_ERR_BAD_VALUE,
                  f->has_slot ? "slot not valid on this channel"
                              : "a fan-out receiver names its slot");
        return;
    }
    if (f->has_slot)
        rc = verify_slot(r, c, f);
    else
        rc = chan_verify((const uint8_t *const *)r->secrets, r->secret_lens,
                         r->nsecrets, f->chan_id, c->c_challenge, f->role,
                         f->proof, now);
    if (rc != FERRY_OK) {
        conn_fail(r, c, rc == FERRY_ERR_CRYPTO ? FERRY_ERR_INTERNAL : rc, NULL);
        return;
    }
    c->c_role = f->role;
    c->c_slot = f->slot;
    rc = pair_admit(r, c, f->chan_id, chan_id_expiry(f->chan_id));
    if (rc != FERRY_OK)
        conn_fail(r, c, rc, NULL);
}

/* Before admission a peer may send exactly one AUTH frame of exactly its
 * size. Read only that many bytes, so nothing after it is consumed. */
void handshake_read(struct relay *r, struct conn *c)
{
    struct frame f;
    size_t used, want = FERRY_FRAME_HDR;
    ssize_t n;
    int rc;

    /* The header first, then exactly the body it announced (66 or 67
     * bytes: a longer one was refused when the header arrived). */
    if (c->c_hs_len >= FERRY_FRAME_HDR) {
        want = FERRY_FRAME_HDR + (((size_t)c->c_hs[1] << 16) |
                                  ((size_t)c->c_hs[2] << 8) | c->c_hs[3]);
        if (want > HS_AUTH_LEN)
            want = HS_AUTH_LEN;
    }
    n = io_read(c, c->c_hs + c->c_hs_len, want - c->c_hs_len);
    if (n == 0) {
        conn_close(r, c, "closed-in-handshake", 0);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close(r, c, "read-error", 0);
        return;
    }
    c->c_hs_len += (size_t)n;
    c->c_bytes_in += (uint64_t)n;
    c->c_last_io = loop_now_ms();
    if (c->c_hs[0] != FRAME_AUTH)
        rc = frame_info(c->c_hs[0]) ? FERRY_ERR_UNEXPECTED
                                    : FERRY_ERR_UNKNOWN_TYPE;
    else
        rc = frame_decode(c->c_hs, c->c_hs_len, (uint32_t)r->conf.max_frame, &f,
                          &used);
    if (rc == FERRY_ERR_NEED_MORE) {
        /* TLS may hold the rest decrypted, where epoll cannot see it. */
        if (io_pending(c) > 0)
            handshake_read(r, c);
        return;
    }
    if (rc == FERRY_OK && f.type != FRAME_AUTH)
        rc = FERRY_ERR_UNEXPECTED;
    if (rc != FERRY_OK) {
        char sample[64];
        log_escape(sample, sizeof(sample), c->c_hs,
                   c->c_hs_len < 12 ? c->c_hs_len : 12);
        log_debug("conn=%llu bad handshake bytes=\"%s\"",
                  (unsigned long long)c->c_id, sample);
        conn_fail(r, c, rc, NULL);
        return;
    }
    admit(r, c, &f);
}
