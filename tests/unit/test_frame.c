#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "frame.h"

static struct buf *b;

static void setup(void)
{
    b = buf_new(FERRY_FRAME_HDR + FERRY_FRAME_MAX);
}

static void teardown(void)
{
    buf_free(b);
}

static void decode_whole(struct frame *f)
{
    size_t used = 0;

    ck_assert_int_eq(
        frame_decode(buf_ptr(b), buf_len(b), FERRY_FRAME_MAX, f, &used),
        FERRY_OK);
    ck_assert_uint_eq(used, buf_len(b));
}

START_TEST(hello_round_trip)
{
    uint8_t ch[32];
    struct frame f;

    memset(ch, 0x5a, sizeof(ch));
    ck_assert_int_eq(frame_put_hello(b, ch), FERRY_OK);
    decode_whole(&f);
    ck_assert_uint_eq(f.type, FRAME_HELLO);
    ck_assert_uint_eq(f.version, FERRY_PROTO_VERSION);
    ck_assert_int_eq(memcmp(f.challenge, ch, 32), 0);
}
END_TEST

START_TEST(auth_round_trip)
{
    uint8_t id[32], proof[32];
    struct frame f;

    memset(id, 1, 32);
    memset(proof, 2, 32);
    ck_assert_int_eq(frame_put_auth(b, ROLE_RECEIVER, id, proof), FERRY_OK);
    ck_assert_uint_eq(buf_len(b), FERRY_FRAME_HDR + 66);
    decode_whole(&f);
    ck_assert_uint_eq(f.type, FRAME_AUTH);
    ck_assert_uint_eq(f.role, ROLE_RECEIVER);
    ck_assert_int_eq(memcmp(f.chan_id, id, 32), 0);
    ck_assert_int_eq(memcmp(f.proof, proof, 32), 0);
}
END_TEST

START_TEST(auth_with_slot_round_trip)
{
    uint8_t id[32], proof[32];
    struct frame f;

    memset(id, 1, 32);
    memset(proof, 2, 32);
    ck_assert_int_eq(frame_put_auth_slot(b, ROLE_RECEIVER, id, proof, 63),
                     FERRY_OK);
    ck_assert_uint_eq(buf_len(b), FERRY_FRAME_HDR + 67);
    decode_whole(&f);
    ck_assert_uint_eq(f.type, FRAME_AUTH);
    ck_assert_uint_eq(f.role, ROLE_RECEIVER);
    ck_assert_int_eq(f.has_slot, 1);
    ck_assert_uint_eq(f.slot, 63);
    ck_assert_int_eq(memcmp(f.chan_id, id, 32), 0);
    ck_assert_int_eq(memcmp(f.proof, proof, 32), 0);
    buf_reset(b);
    ck_assert_int_eq(frame_put_auth(b, ROLE_SENDER, id, proof), FERRY_OK);
    decode_whole(&f);
    ck_assert_int_eq(f.has_slot, 0);
    ck_assert_uint_eq(f.slot, 0);
}
END_TEST

START_TEST(auth_of_65_or_68_bytes_refused)
{
    struct frame f;
    size_t used;

    ck_assert_int_eq(frame_decode((const uint8_t *)"\x02\x00\x00\x41", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_LENGTH);
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x02\x00\x00\x44", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_TOO_LARGE);
}
END_TEST

START_TEST(key_round_trip_and_only_48_bytes)
{
    uint8_t sealed[FERRY_KEY_SEALED_LEN];
    struct frame f;
    size_t used;

    ck_assert_uint_eq(FERRY_KEY_SEALED_LEN, 48);
    memset(sealed, 0x4b, sizeof(sealed));
    ck_assert_int_eq(frame_put_key(b, sealed), FERRY_OK);
    ck_assert_uint_eq(buf_len(b), FERRY_FRAME_HDR + 48);
    ck_assert_uint_eq(buf_ptr(b)[0], 0x15);
    decode_whole(&f);
    ck_assert_uint_eq(f.type, FRAME_KEY);
    ck_assert_uint_eq(f.sealed_len, 48);
    ck_assert_ptr_eq(f.sealed, buf_ptr(b) + FERRY_FRAME_HDR);
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x15\x00\x00\x2f", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_LENGTH);
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x15\x00\x00\x31", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_LENGTH);
    ck_assert_uint_eq(frame_info(FRAME_KEY)->senders, FRAME_FROM_SENDER);
}
END_TEST

START_TEST(check_round_trip_and_only_56_bytes)
{
    uint8_t sealed[FERRY_CHECK_SEALED_LEN];
    struct frame f;
    size_t used;

    memset(sealed, 0x43, sizeof(sealed));
    ck_assert_int_eq(frame_put_check(b, 256, sealed), FERRY_OK);
    ck_assert_uint_eq(buf_len(b), FERRY_FRAME_HDR + 56);
    ck_assert_uint_eq(buf_ptr(b)[0], 0x16);
    decode_whole(&f);
    ck_assert_uint_eq(f.type, FRAME_CHECK);
    ck_assert_uint_eq(f.number, 256);
    ck_assert_uint_eq(f.sealed_len, 48);
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x16\x00\x00\x37", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_LENGTH);
    ck_assert_uint_eq(frame_info(FRAME_CHECK)->senders, FRAME_FROM_SENDER);
}
END_TEST

/* Wraps the frame now in b into a LEG for slot, in b2. */
static void wrap(struct buf *b2, uint8_t slot)
{
    ck_assert_int_eq(frame_put_leg(b2, slot, buf_ptr(b), buf_len(b)), FERRY_OK);
}

START_TEST(leg_round_trip_every_inner_type)
{
    uint8_t sealed[FERRY_END_SEALED_LEN], key[FERRY_KEY_SEALED_LEN];
    struct buf *b2 = buf_new(256);
    struct frame f, in;
    size_t used, k;

    memset(sealed, 7, sizeof(sealed));
    memset(key, 8, sizeof(key));
    for (k = 0; k < 7; k++) {
        buf_reset(b);
        buf_reset(b2);
        switch (k) {
        case 0:
            frame_put_ack(b, 9);
            break;
        case 1:
            frame_put_verified(b, sealed);
            break;
        case 2:
            frame_put_code(b, FRAME_CANCEL, FERRY_ERR_CANCELLED);
            break;
        case 3:
            frame_put_empty(b, FRAME_PEER_JOINED);
            break;
        case 4:
            frame_put_code(b, FRAME_PEER_GONE, FERRY_ERR_TOO_SLOW);
            break;
        case 5:
            frame_put_key(b, key);
            break;
        default:
            frame_put_end(b, 3, sealed);
            break;
        }
        wrap(b2, (uint8_t)(k * 9));
        ck_assert_uint_eq(buf_len(b2), FERRY_FRAME_HDR + 1 + buf_len(b));
        ck_assert_int_eq(
            frame_decode(buf_ptr(b2), buf_len(b2), FERRY_FRAME_MAX, &f, &used),
            FERRY_OK);
        ck_assert_uint_eq(used, buf_len(b2));
        ck_assert_uint_eq(f.type, FRAME_LEG);
        ck_assert_uint_eq(f.slot, k * 9);
        ck_assert_uint_eq(f.inner_len, buf_len(b));
        ck_assert_int_eq(memcmp(f.inner, buf_ptr(b), buf_len(b)), 0);
        ck_assert_int_eq(
            frame_decode(f.inner, f.inner_len, FERRY_FRAME_MAX, &in, &used),
            FERRY_OK);
        ck_assert_uint_eq(used, f.inner_len);
        ck_assert_uint_eq(in.type, buf_ptr(b)[0]);
    }
    /* END is the largest inner frame: the LEG's maximum body. */
    ck_assert_uint_eq(buf_len(b2), FERRY_FRAME_HDR + 69);
    ck_assert_uint_eq(frame_info(FRAME_LEG)->max_body, 69);
    ck_assert_uint_eq(frame_info(FRAME_LEG)->min_body, 5);
    buf_free(b2);
}
END_TEST

START_TEST(leg_inside_leg_is_malformed)
{
    struct buf *b2 = buf_new(256);
    struct frame f;
    size_t used;
    /* LEG(0, LEG(1, PEER_JOINED)) built by hand: the encoder refuses it */
    static const uint8_t nested[] = {0x24, 0, 0, 10,   0, 0x24, 0,
                                     0,    5, 1, 0x20, 0, 0,    0};

    frame_put_empty(b, FRAME_PEER_JOINED);
    wrap(b2, 1);
    ck_assert_int_eq(frame_put_leg(b, 0, buf_ptr(b2), buf_len(b2)),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(
        frame_decode(nested, sizeof(nested), FERRY_FRAME_MAX, &f, &used),
        FERRY_ERR_MALFORMED);
    buf_free(b2);
}
END_TEST

START_TEST(leg_inner_must_be_exactly_one_whole_frame)
{
    struct frame f;
    size_t used;
    /* inner header says 8 bytes (ACK) but only 4 follow */
    static const uint8_t shortin[] = {0x24, 0, 0, 9, 2, 0x12, 0,
                                      0,    8, 0, 0, 0, 0};
    /* inner PEER_JOINED followed by a stray byte */
    static const uint8_t padded[] = {0x24, 0, 0, 6, 2, 0x20, 0, 0, 0, 0xaa};
    /* inner of unknown type, of bad length, with a bad code */
    static const uint8_t unknown[] = {0x24, 0, 0, 5, 2, 0x55, 0, 0, 0};
    static const uint8_t badlen[] = {0x24, 0, 0, 6, 2, 0x20, 0, 0, 1, 0};
    static const uint8_t badcode[] = {0x24, 0, 0, 7, 2, 0x21, 0, 0, 2, 0, 100};
    /* header alone shorter than an inner header */
    static const uint8_t tiny[] = {0x24, 0, 0, 4, 2, 0x20, 0, 0};

    ck_assert_int_eq(
        frame_decode(shortin, sizeof(shortin), FERRY_FRAME_MAX, &f, &used),
        FERRY_ERR_MALFORMED);
    ck_assert_int_eq(
        frame_decode(padded, sizeof(padded), FERRY_FRAME_MAX, &f, &used),
        FERRY_ERR_MALFORMED);
    ck_assert_int_eq(
        frame_decode(unknown, sizeof(unknown), FERRY_FRAME_MAX, &f, &used),
        FERRY_ERR_UNKNOWN_TYPE);
    ck_assert_int_eq(
        frame_decode(badlen, sizeof(badlen), FERRY_FRAME_MAX, &f, &used),
        FERRY_ERR_BAD_LENGTH);
    ck_assert_int_eq(
        frame_decode(badcode, sizeof(badcode), FERRY_FRAME_MAX, &f, &used),
        FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(
        frame_decode(tiny, sizeof(tiny), FERRY_FRAME_MAX, &f, &used),
        FERRY_ERR_BAD_LENGTH);
    /* the encoder refuses the same inner frames and writes nothing */
    ck_assert_int_eq(frame_put_leg(b, 0, shortin + 5, sizeof(shortin) - 5),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(frame_put_leg(b, 0, padded + 5, sizeof(padded) - 5),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(frame_put_leg(b, 0, NULL, 0), FERRY_ERR_BAD_VALUE);
    ck_assert_uint_eq(buf_len(b), 0);
}
END_TEST

START_TEST(leg_over_69_bytes_refused_from_header)
{
    struct frame f;
    size_t used;
    static uint8_t big[FERRY_FRAME_HDR + 30];

    ck_assert_int_eq(frame_decode((const uint8_t *)"\x24\x00\x00\x46", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_TOO_LARGE);
    /* a DATA frame cannot be wrapped past the maximum */
    big[0] = FRAME_DATA;
    big[3] = 30;
    ck_assert_int_eq(frame_put_leg(b, 0, big, sizeof(big)), FERRY_OK);
    buf_reset(b);
    {
        static uint8_t huge[FERRY_FRAME_HDR + 100];
        huge[0] = FRAME_DATA;
        huge[3] = 100;
        ck_assert_int_eq(frame_put_leg(b, 0, huge, sizeof(huge)),
                         FERRY_ERR_BAD_VALUE);
    }
    ck_assert_uint_eq(buf_len(b), 0);
}
END_TEST

START_TEST(every_truncation_of_a_leg_needs_more)
{
    uint8_t sealed[FERRY_END_SEALED_LEN];
    struct buf *b2 = buf_new(256);
    struct frame f;
    size_t used, n;

    memset(sealed, 1, sizeof(sealed));
    frame_put_end(b, 4, sealed);
    wrap(b2, 5);
    for (n = 0; n < buf_len(b2); n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, buf_ptr(b2), n);
        ck_assert_int_eq(frame_decode(cut, n, FERRY_FRAME_MAX, &f, &used),
                         FERRY_ERR_NEED_MORE);
        free(cut);
    }
    buf_free(b2);
}
END_TEST

/* Every bit flip of a LEG decodes to a code and never reads outside. */
START_TEST(every_bit_flip_of_a_leg_returns_a_code)
{
    struct buf *b2 = buf_new(256);
    struct frame f;
    size_t used, i, len;
    uint8_t *p;
    int rc;

    frame_put_code(b, FRAME_PEER_GONE, FERRY_ERR_PEER_CLOSED);
    wrap(b2, 3);
    len = buf_len(b2);
    p = malloc(len);
    for (i = 0; i < len * 8; i++) {
        memcpy(p, buf_ptr(b2), len);
        p[i / 8] ^= (uint8_t)(1u << (i % 8));
        rc = frame_decode(p, len, FERRY_FRAME_MAX, &f, &used);
        if (rc == FERRY_OK) {
            ck_assert_uint_le(used, len);
            if (f.type == FRAME_LEG)
                ck_assert_uint_eq(f.inner_len + 1, f.body_len);
        }
    }
    free(p);
    buf_free(b2);
}
END_TEST

START_TEST(admitted_round_trip)
{
    struct frame f;

    ck_assert_int_eq(frame_put_admitted(b, 1), FERRY_OK);
    decode_whole(&f);
    ck_assert_uint_eq(f.type, FRAME_ADMITTED);
    ck_assert_uint_eq(f.flag, 1);
}
END_TEST

START_TEST(data_round_trip)
{
    uint8_t sealed[100];
    struct frame f;

    memset(sealed, 0xee, sizeof(sealed));
    ck_assert_int_eq(frame_put_data(b, 0x1122334455667788ULL, sealed, 100),
                     FERRY_OK);
    decode_whole(&f);
    ck_assert_uint_eq(f.type, FRAME_DATA);
    ck_assert(f.number == 0x1122334455667788ULL);
    ck_assert_uint_eq(f.sealed_len, 100);
    ck_assert_int_eq(memcmp(f.sealed, sealed, 100), 0);
}
END_TEST

START_TEST(data_with_largest_chunk_round_trips)
{
    static uint8_t sealed[FERRY_CHUNK_MAX + FERRY_TAG_LEN];
    struct frame f;

    ck_assert_int_eq(frame_put_data(b, 1, sealed, sizeof(sealed)), FERRY_OK);
    decode_whole(&f);
    ck_assert_uint_eq(f.body_len, FERRY_FRAME_MAX);
}
END_TEST

START_TEST(end_ack_cancel_round_trip)
{
    uint8_t sealed[FERRY_END_SEALED_LEN];
    struct frame f;
    size_t used;
    const uint8_t *p;

    memset(sealed, 3, sizeof(sealed));
    ck_assert_int_eq(frame_put_end(b, 42, sealed), FERRY_OK);
    ck_assert_int_eq(frame_put_ack(b, 41), FERRY_OK);
    ck_assert_int_eq(frame_put_code(b, FRAME_CANCEL, FERRY_ERR_CANCELLED),
                     FERRY_OK);
    p = buf_ptr(b);
    ck_assert_int_eq(frame_decode(p, buf_len(b), FERRY_FRAME_MAX, &f, &used),
                     FERRY_OK);
    ck_assert_uint_eq(f.type, FRAME_END);
    ck_assert(f.number == 42);
    ck_assert_uint_eq(f.sealed_len, FERRY_END_SEALED_LEN);
    p += used;
    ck_assert_int_eq(frame_decode(p, 12, FERRY_FRAME_MAX, &f, &used), FERRY_OK);
    ck_assert_uint_eq(f.type, FRAME_ACK);
    ck_assert(f.number == 41);
    p += used;
    ck_assert_int_eq(frame_decode(p, 6, FERRY_FRAME_MAX, &f, &used), FERRY_OK);
    ck_assert_uint_eq(f.type, FRAME_CANCEL);
    ck_assert_uint_eq(f.code, FERRY_ERR_CANCELLED);
}
END_TEST

START_TEST(verified_round_trip)
{
    uint8_t sealed[FERRY_VERIFIED_SEALED_LEN];
    struct frame f;
    size_t i;

    for (i = 0; i < sizeof(sealed); i++)
        sealed[i] = (uint8_t)i;
    ck_assert_int_eq(frame_put_verified(b, sealed), FERRY_OK);
    ck_assert_uint_eq(buf_len(b), FERRY_FRAME_HDR + FERRY_VERIFIED_SEALED_LEN);
    ck_assert_uint_eq(buf_ptr(b)[0], FRAME_VERIFIED);
    decode_whole(&f);
    ck_assert_uint_eq(f.type, FRAME_VERIFIED);
    ck_assert_uint_eq(f.body_len, FERRY_VERIFIED_SEALED_LEN);
    ck_assert_uint_eq(f.sealed_len, FERRY_VERIFIED_SEALED_LEN);
    ck_assert_ptr_eq(f.sealed, buf_ptr(b) + FERRY_FRAME_HDR);
    ck_assert_int_eq(memcmp(f.sealed, sealed, sizeof(sealed)), 0);
}
END_TEST

/* The old empty VERIFIED, and any length but 56, is bad-length; VERIFIED
 * is no longer an empty frame for frame_put_empty. */
START_TEST(verified_of_wrong_length_is_bad_length)
{
    struct frame f;
    size_t used;

    ck_assert_int_eq(frame_decode((const uint8_t *)"\x14\x00\x00\x00", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_LENGTH);
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x14\x00\x00\x37", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_LENGTH);
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x14\x00\x00\x39", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_LENGTH);
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x14\x00\x00\x38", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_NEED_MORE);
    ck_assert_int_eq(frame_put_empty(b, FRAME_VERIFIED), FERRY_ERR_BAD_VALUE);
    ck_assert_uint_eq(buf_len(b), 0);
}
END_TEST

START_TEST(relay_notices_round_trip)
{
    uint8_t types[] = {FRAME_PEER_JOINED, FRAME_RESUME};
    struct frame f;
    size_t i;

    for (i = 0; i < sizeof(types); i++) {
        buf_reset(b);
        ck_assert_int_eq(frame_put_empty(b, types[i]), FERRY_OK);
        decode_whole(&f);
        ck_assert_uint_eq(f.type, types[i]);
        ck_assert_uint_eq(f.body_len, 0);
    }
    buf_reset(b);
    ck_assert_int_eq(frame_put_code(b, FRAME_PEER_GONE, FERRY_ERR_PEER_CLOSED),
                     FERRY_OK);
    decode_whole(&f);
    ck_assert_uint_eq(f.code, FERRY_ERR_PEER_CLOSED);
    buf_reset(b);
    ck_assert_int_eq(frame_put_slow_down(b, 123456), FERRY_OK);
    decode_whole(&f);
    ck_assert_uint_eq(f.queued, 123456);
}
END_TEST

START_TEST(error_round_trip_and_text_is_capped)
{
    char longtext[400];
    struct frame f;

    ck_assert_int_eq(frame_put_error(b, FERRY_ERR_BAD_PROOF, "bad proof"),
                     FERRY_OK);
    decode_whole(&f);
    ck_assert_uint_eq(f.code, FERRY_ERR_BAD_PROOF);
    ck_assert_uint_eq(f.text_len, 9);
    ck_assert_int_eq(memcmp(f.text, "bad proof", 9), 0);
    buf_reset(b);
    memset(longtext, 'x', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    ck_assert_int_eq(frame_put_error(b, FERRY_ERR_LIMIT, longtext), FERRY_OK);
    decode_whole(&f);
    ck_assert_uint_eq(f.text_len, FERRY_ERROR_TEXT_MAX);
}
END_TEST

START_TEST(encoders_refuse_bad_values)
{
    uint8_t sealed[16];

    ck_assert_int_eq(frame_put_error(b, FERRY_ERR_NEED_MORE, "x"),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(frame_put_error(b, FERRY_ERR_LIMIT, "bad\nline"),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(frame_put_code(b, FRAME_DATA, 1), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(frame_put_empty(b, FRAME_ACK), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(frame_put_data(b, 0, sealed, 16), FERRY_ERR_BAD_VALUE);
    ck_assert_uint_eq(buf_len(b), 0);
}
END_TEST

START_TEST(unknown_type_refused_from_first_byte)
{
    struct frame f;
    size_t used;

    ck_assert_int_eq(
        frame_decode((const uint8_t *)"\x55", 1, FERRY_FRAME_MAX, &f, &used),
        FERRY_ERR_UNKNOWN_TYPE);
    ck_assert_int_eq(frame_decode((const uint8_t *)"GET / HTTP/1.1", 14,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_UNKNOWN_TYPE);
}
END_TEST

START_TEST(fixed_size_frame_with_wrong_length_is_bad_length)
{
    struct frame f;
    size_t used;

    /* ACK with 7 body bytes */
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x12\x00\x00\x07", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_LENGTH);
    /* HELLO with 34 */
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x01\x00\x00\x22", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_LENGTH);
}
END_TEST

START_TEST(oversize_length_refused_before_body_arrives)
{
    struct frame f;
    size_t used;

    /* DATA of 16 MiB - 1: refused from the header alone */
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x10\xff\xff\xff", 4,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_TOO_LARGE);
    /* within the type's range but over the configured maximum */
    ck_assert_int_eq(
        frame_decode((const uint8_t *)"\x10\x00\x10\x00", 4, 1024, &f, &used),
        FERRY_ERR_TOO_LARGE);
}
END_TEST

START_TEST(bad_field_values_refused)
{
    uint8_t id[32] = {0}, proof[32] = {0};
    struct frame f;
    size_t used;
    uint8_t *p;

    frame_put_auth(b, ROLE_SENDER, id, proof);
    p = (uint8_t *)buf_ptr(b);
    p[5] = 3; /* role */
    ck_assert_int_eq(frame_decode(p, buf_len(b), FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_VALUE);
    p[5] = ROLE_SENDER;
    p[4] = 9; /* version */
    ck_assert_int_eq(frame_decode(p, buf_len(b), FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_VERSION);
    /* PEER_GONE with a local-only code */
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x21\x00\x00\x02\x00\x64",
                                  6, FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_VALUE);
    /* ADMITTED flag 2 */
    ck_assert_int_eq(frame_decode((const uint8_t *)"\x03\x00\x00\x01\x02", 5,
                                  FERRY_FRAME_MAX, &f, &used),
                     FERRY_ERR_BAD_VALUE);
}
END_TEST

START_TEST(every_truncation_needs_more)
{
    uint8_t sealed[40];
    struct frame f;
    size_t used, n, total;
    const uint8_t *p;

    memset(sealed, 9, sizeof(sealed));
    frame_put_data(b, 7, sealed, sizeof(sealed));
    p = buf_ptr(b);
    total = buf_len(b);
    for (n = 0; n < total; n++) {
        /* copy to an exact-size heap block so ASan sees overreads */
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, p, n);
        ck_assert_int_eq(frame_decode(cut, n, FERRY_FRAME_MAX, &f, &used),
                         FERRY_ERR_NEED_MORE);
        free(cut);
    }
}
END_TEST

START_TEST(table_has_unique_codes_and_sane_ranges)
{
    size_t n, i, j;
    const struct frame_info *t = frame_table(&n);

    ck_assert_uint_eq(n, 16);
    for (i = 0; i < n; i++) {
        ck_assert_uint_le(t[i].min_body, t[i].max_body);
        ck_assert_uint_le(t[i].max_body, FERRY_FRAME_MAX);
        ck_assert_ptr_eq(frame_info(t[i].type), &t[i]);
        for (j = i + 1; j < n; j++)
            ck_assert_uint_ne(t[i].type, t[j].type);
    }
    ck_assert_str_eq(frame_name(FRAME_DATA), "DATA");
    ck_assert_str_eq(frame_name(0x99), "UNKNOWN");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("frame");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hello_round_trip);
    tcase_add_test(tc, check_round_trip_and_only_56_bytes);
    tcase_add_test(tc, auth_round_trip);
    tcase_add_test(tc, auth_with_slot_round_trip);
    tcase_add_test(tc, auth_of_65_or_68_bytes_refused);
    tcase_add_test(tc, key_round_trip_and_only_48_bytes);
    tcase_add_test(tc, leg_round_trip_every_inner_type);
    tcase_add_test(tc, leg_inside_leg_is_malformed);
    tcase_add_test(tc, leg_inner_must_be_exactly_one_whole_frame);
    tcase_add_test(tc, leg_over_69_bytes_refused_from_header);
    tcase_add_test(tc, every_truncation_of_a_leg_needs_more);
    tcase_add_test(tc, every_bit_flip_of_a_leg_returns_a_code);
    tcase_add_test(tc, admitted_round_trip);
    tcase_add_test(tc, data_round_trip);
    tcase_add_test(tc, data_with_largest_chunk_round_trips);
    tcase_add_test(tc, end_ack_cancel_round_trip);
    tcase_add_test(tc, verified_round_trip);
    tcase_add_test(tc, verified_of_wrong_length_is_bad_length);
    tcase_add_test(tc, relay_notices_round_trip);
    tcase_add_test(tc, error_round_trip_and_text_is_capped);
    tcase_add_test(tc, encoders_refuse_bad_values);
    tcase_add_test(tc, unknown_type_refused_from_first_byte);
    tcase_add_test(tc, fixed_size_frame_with_wrong_length_is_bad_length);
    tcase_add_test(tc, oversize_length_refused_before_body_arrives);
    tcase_add_test(tc, bad_field_values_refused);
    tcase_add_test(tc, every_truncation_needs_more);
    tcase_add_test(tc, table_has_unique_codes_and_sane_ranges);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
