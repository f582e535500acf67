/* Mutation in make check (STYLE.md #35): every valid frame, every 1-bit
 * flip, byte substitution and truncation of it goes through the decoder,
 * copied into an exact-size heap block so ASan/valgrind catch any read past
 * the end. The decoder must return a defined code every time. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "frame.h"

static struct buf *seeds(void)
{
    struct buf *b = buf_new(1 << 16);
    uint8_t x[64], sealed[FERRY_END_SEALED_LEN],
        vsealed[FERRY_VERIFIED_SEALED_LEN];

    memset(x, 0x33, sizeof(x));
    memset(sealed, 0x44, sizeof(sealed));
    memset(vsealed, 0x55, sizeof(vsealed));
    frame_put_hello(b, x);
    frame_put_auth(b, ROLE_SENDER, x, x);
    frame_put_admitted(b, 0);
    frame_put_data(b, 3, x, 40);
    frame_put_end(b, 4, sealed);
    frame_put_ack(b, 4);
    frame_put_code(b, FRAME_CANCEL, FERRY_ERR_CANCELLED);
    frame_put_verified(b, vsealed);
    frame_put_empty(b, FRAME_PEER_JOINED);
    frame_put_code(b, FRAME_PEER_GONE, FERRY_ERR_PEER_CLOSED);
    frame_put_slow_down(b, 1000);
    frame_put_empty(b, FRAME_RESUME);
    frame_put_error(b, FERRY_ERR_LIMIT, "too many");
    return b;
}

static int defined_code(int r)
{
    return r == FERRY_OK || r == FERRY_ERR_NEED_MORE ||
           (r >= FERRY_ERR_MALFORMED && r <= FERRY_ERR_BAD_VERSION);
}

static unsigned long decode_copy(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len ? len : 1);
    struct frame f;
    size_t used = 0;
    int r;

    memcpy(c, p, len);
    r = frame_decode(c, len, FERRY_FRAME_MAX, &f, &used);
    ck_assert_msg(defined_code(r), "undefined code %d", r);
    if (r == FERRY_OK)
        ck_assert_uint_le(used, len);
    free(c);
    return 1;
}

/* Walks the seed stream frame by frame and calls fn on each. */
static unsigned long for_each_seed(unsigned long (*fn)(const uint8_t *, size_t))
{
    struct buf *b = seeds();
    const uint8_t *p = buf_ptr(b);
    size_t left = buf_len(b), used;
    struct frame f;
    unsigned long n = 0;

    while (left > 0) {
        ck_assert_int_eq(frame_decode(p, left, FERRY_FRAME_MAX, &f, &used),
                         FERRY_OK);
        n += fn(p, used);
        p += used;
        left -= used;
    }
    buf_free(b);
    return n;
}

static unsigned long bit_flips(const uint8_t *p, size_t len)
{
    uint8_t *m = malloc(len);
    size_t i;

    for (i = 0; i < len * 8; i++) {
        memcpy(m, p, len);
        m[i / 8] ^= (uint8_t)(1 << (i % 8));
        decode_copy(m, len);
    }
    free(m);
    return len * 8;
}

static unsigned long byte_subs(const uint8_t *p, size_t len)
{
    static const uint8_t vals[] = {0x00, 0xff, 0x7f, 0x80, 0x01};
    uint8_t *m = malloc(len);
    size_t i, v;

    for (i = 0; i < len; i++)
        for (v = 0; v < sizeof(vals); v++) {
            memcpy(m, p, len);
            m[i] = vals[v];
            decode_copy(m, len);
        }
    free(m);
    return len * sizeof(vals);
}

static unsigned long truncations(const uint8_t *p, size_t len)
{
    struct frame f;
    size_t n, used;
    uint8_t *c;

    for (n = 0; n < len; n++) {
        c = malloc(n ? n : 1);
        memcpy(c, p, n);
        ck_assert_int_eq(frame_decode(c, n, FERRY_FRAME_MAX, &f, &used),
                         FERRY_ERR_NEED_MORE);
        free(c);
    }
    return len;
}

/* A real VERIFIED frame: every bit flip is refused by the decoder, turns
 * it into another frame type, or no longer opens with
 * ferry_verified_open; every truncation needs more. So no single-bit
 * error (or a relay's edit) yields a VERIFIED the sender accepts. */
START_TEST(every_mutation_of_a_sealed_verified_frame_is_refused)
{
    uint8_t key[32], hash[32], vs[FERRY_VERIFIED_SEALED_LEN], *c;
    struct buf *b = buf_new(256);
    struct aead *a;
    struct frame f;
    size_t len, used, i;
    unsigned long opened_wrong = 0;
    int r;

    memset(key, 0x21, sizeof(key));
    memset(hash, 0x9e, sizeof(hash));
    ck_assert_ptr_nonnull(a = aead_new(FERRY_CIPHER_AES256GCM, key));
    ck_assert_int_eq(ferry_verified_seal(a, "sid-m", 7, 7000, hash, vs),
                     FERRY_OK);
    ck_assert_int_eq(frame_put_verified(b, vs), FERRY_OK);
    len = buf_len(b);
    ck_assert_uint_eq(len, FERRY_FRAME_HDR + FERRY_VERIFIED_SEALED_LEN);
    c = malloc(len);
    memcpy(c, buf_ptr(b), len);
    ck_assert_int_eq(frame_decode(c, len, FERRY_FRAME_MAX, &f, &used),
                     FERRY_OK);
    ck_assert_int_eq(ferry_verified_open(a, "sid-m", 7, 7000, hash, f.sealed),
                     FERRY_OK);
    for (i = 0; i < len * 8; i++) {
        memcpy(c, buf_ptr(b), len);
        c[i / 8] ^= (uint8_t)(1 << (i % 8));
        r = frame_decode(c, len, FERRY_FRAME_MAX, &f, &used);
        ck_assert_msg(defined_code(r), "undefined code %d", r);
        if (r != FERRY_OK || f.type != FRAME_VERIFIED)
            continue;
        ck_assert_int_eq(
            ferry_verified_open(a, "sid-m", 7, 7000, hash, f.sealed),
            FERRY_ERR_INTEGRITY);
        opened_wrong++;
    }
    /* Every flip of the 56 body bytes reaches the open and fails there. */
    ck_assert_uint_eq(opened_wrong, FERRY_VERIFIED_SEALED_LEN * 8);
    free(c);
    ck_assert_uint_eq(truncations(buf_ptr(b), len), len);
    aead_free(a);
    buf_free(b);
}
END_TEST

START_TEST(every_bit_flip_of_every_frame_gives_a_code)
{
    ck_assert_uint_gt(for_each_seed(bit_flips), 1000);
}
END_TEST

START_TEST(every_byte_substitution_gives_a_code)
{
    ck_assert_uint_gt(for_each_seed(byte_subs), 500);
}
END_TEST

START_TEST(every_truncation_of_every_frame_needs_more)
{
    ck_assert_uint_gt(for_each_seed(truncations), 100);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("mutation");
    TCase *tc = tcase_create("frames");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_bit_flip_of_every_frame_gives_a_code);
    tcase_add_test(tc, every_byte_substitution_gives_a_code);
    tcase_add_test(tc, every_truncation_of_every_frame_needs_more);
    tcase_add_test(tc, every_mutation_of_a_sealed_verified_frame_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
