#include <check.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "chan.h"
#include "err.h"
#include "frame.h"
#include "hexutil.h"

#define NOW 1700000000ULL

static const uint8_t secret[] = "0123456789abcdef0123456789abcdef";
#define SECRET_LEN 32

START_TEST(channel_key_matches_independent_hmac)
{
    size_t sl, il, kl;
    uint8_t *s = kat("chankey-secret", &sl), *id = kat("chankey-id", &il);
    uint8_t *want = kat("chankey-key", &kl), key[32];

    ck_assert_uint_eq(il, 32);
    ck_assert_int_eq(chan_key(s, sl, id, key), FERRY_OK);
    ck_assert_int_eq(memcmp(key, want, 32), 0);
    free(s);
    free(id);
    free(want);
}
END_TEST

START_TEST(new_id_has_version_expiry_and_randomness)
{
    uint8_t a[32], b[32];

    ck_assert_int_eq(chan_id_new(NOW + 60, a), FERRY_OK);
    ck_assert_int_eq(chan_id_new(NOW + 60, b), FERRY_OK);
    ck_assert_uint_eq(a[0], FERRY_CHAN_ID_VERSION);
    ck_assert(chan_id_expiry(a) == NOW + 60);
    ck_assert_int_ne(memcmp(a, b, 32), 0);
    ck_assert_int_eq(chan_id_check(a, NOW), FERRY_OK);
}
END_TEST

START_TEST(slots_byte_round_trips_and_is_checked)
{
    uint8_t id[32];
    unsigned n;

    for (n = 0; n <= FERRY_SLOTS_MAX; n++) {
        ck_assert_int_eq(chan_id_new_slots(NOW + 60, n, id), FERRY_OK);
        ck_assert_uint_eq(id[1], n);
        ck_assert_uint_eq(chan_id_slots(id), n);
        ck_assert_uint_eq(id[2] | id[3], 0);
        ck_assert(chan_id_expiry(id) == NOW + 60);
        ck_assert_int_eq(chan_id_check(id, NOW), FERRY_OK);
    }
    memset(id, 0xee, 32);
    ck_assert_int_eq(chan_id_new_slots(NOW + 60, 65, id), FERRY_ERR_BAD_VALUE);
    ck_assert_uint_eq(id[0], 0xee); /* untouched */
    chan_id_new(NOW + 60, id);
    ck_assert_uint_eq(chan_id_slots(id), 0);
    id[1] = 65;
    ck_assert_int_eq(chan_id_check(id, NOW), FERRY_ERR_BAD_VALUE);
    id[1] = 0xff;
    ck_assert_int_eq(chan_id_check(id, NOW), FERRY_ERR_BAD_VALUE);
    id[1] = 64;
    id[3] = 1;
    ck_assert_int_eq(chan_id_check(id, NOW), FERRY_ERR_BAD_VALUE);
}
END_TEST

START_TEST(slot_key_matches_independent_hmac)
{
    uint8_t key[32], got[32], want[32], msg[14];
    unsigned int len = 32;
    unsigned i;

    memset(key, 0x42, 32);
    memcpy(msg, "ferry slot v0", 13);
    for (i = 0; i < FERRY_SLOTS_MAX; i++) {
        msg[13] = (uint8_t)i;
        HMAC(EVP_sha256(), key, 32, msg, 14, want, &len);
        ck_assert_int_eq(chan_slot_key(key, i, got), FERRY_OK);
        ck_assert_int_eq(memcmp(got, want, 32), 0);
    }
    ck_assert_int_eq(chan_slot_key(key, FERRY_SLOTS_MAX, got),
                     FERRY_ERR_BAD_VALUE);
}
END_TEST

START_TEST(slot_keys_differ_by_slot_and_channel_key)
{
    uint8_t k1[32], k2[32], a[32], b[32];

    memset(k1, 1, 32);
    memset(k2, 2, 32);
    chan_slot_key(k1, 0, a);
    chan_slot_key(k1, 1, b);
    ck_assert_int_ne(memcmp(a, b, 32), 0);
    chan_slot_key(k2, 0, b);
    ck_assert_int_ne(memcmp(a, b, 32), 0);
    /* a slot key is not the channel key it came from */
    ck_assert_int_ne(memcmp(a, k1, 32), 0);
}
END_TEST

static void make_proof(const uint8_t *sec, size_t sl, const uint8_t id[32],
                       const uint8_t ch[32], uint8_t role, uint8_t proof[32])
{
    uint8_t key[32];

    ck_assert_int_eq(chan_key(sec, sl, id, key), FERRY_OK);
    ck_assert_int_eq(chan_proof(key, ch, role, id, proof), FERRY_OK);
}

START_TEST(valid_proof_verifies)
{
    const uint8_t *secs[1] = {secret};
    size_t lens[1] = {SECRET_LEN};
    uint8_t id[32], ch[32], proof[32];

    chan_id_new(NOW + 60, id);
    memset(ch, 7, 32);
    make_proof(secret, SECRET_LEN, id, ch, ROLE_SENDER, proof);
    ck_assert_int_eq(
        chan_verify(secs, lens, 1, id, ch, ROLE_SENDER, proof, NOW), FERRY_OK);
}
END_TEST

START_TEST(expired_channel_refused_even_with_right_proof)
{
    const uint8_t *secs[1] = {secret};
    size_t lens[1] = {SECRET_LEN};
    uint8_t id[32], ch[32] = {0}, proof[32];

    chan_id_new(NOW - 1, id);
    make_proof(secret, SECRET_LEN, id, ch, ROLE_SENDER, proof);
    ck_assert_int_eq(
        chan_verify(secs, lens, 1, id, ch, ROLE_SENDER, proof, NOW),
        FERRY_ERR_EXPIRED);
}
END_TEST

START_TEST(wrong_secret_refused)
{
    static const uint8_t other[] = "ffffffffffffffffffffffffffffffff";
    const uint8_t *secs[1] = {secret};
    size_t lens[1] = {SECRET_LEN};
    uint8_t id[32], ch[32] = {0}, proof[32];

    chan_id_new(NOW + 60, id);
    make_proof(other, 32, id, ch, ROLE_SENDER, proof);
    ck_assert_int_eq(
        chan_verify(secs, lens, 1, id, ch, ROLE_SENDER, proof, NOW),
        FERRY_ERR_BAD_PROOF);
}
END_TEST

START_TEST(proof_bound_to_role_challenge_and_id)
{
    const uint8_t *secs[1] = {secret};
    size_t lens[1] = {SECRET_LEN};
    uint8_t id[32], id2[32], ch[32] = {0}, ch2[32], proof[32];

    chan_id_new(NOW + 60, id);
    chan_id_new(NOW + 60, id2);
    memset(ch2, 1, 32);
    make_proof(secret, SECRET_LEN, id, ch, ROLE_SENDER, proof);
    ck_assert_int_eq(
        chan_verify(secs, lens, 1, id, ch, ROLE_RECEIVER, proof, NOW),
        FERRY_ERR_BAD_PROOF);
    /* a replayed answer to another challenge */
    ck_assert_int_eq(
        chan_verify(secs, lens, 1, id, ch2, ROLE_SENDER, proof, NOW),
        FERRY_ERR_BAD_PROOF);
    ck_assert_int_eq(
        chan_verify(secs, lens, 1, id2, ch, ROLE_SENDER, proof, NOW),
        FERRY_ERR_BAD_PROOF);
}
END_TEST

START_TEST(rotated_secrets_all_accepted)
{
    static const uint8_t old[] = "old-secret-old-secret-old-secret";
    const uint8_t *secs[2] = {secret, old};
    size_t lens[2] = {SECRET_LEN, 32};
    uint8_t id[32], ch[32] = {0}, proof[32];

    chan_id_new(NOW + 60, id);
    make_proof(old, 32, id, ch, ROLE_RECEIVER, proof);
    ck_assert_int_eq(
        chan_verify(secs, lens, 2, id, ch, ROLE_RECEIVER, proof, NOW),
        FERRY_OK);
    ck_assert_int_eq(
        chan_verify(secs, lens, 1, id, ch, ROLE_RECEIVER, proof, NOW),
        FERRY_ERR_BAD_PROOF);
}
END_TEST

START_TEST(bad_id_version_and_reserved_bits_refused)
{
    uint8_t id[32];

    chan_id_new(NOW + 60, id);
    id[0] = 1;
    ck_assert_int_eq(chan_id_check(id, NOW), FERRY_ERR_BAD_VERSION);
    id[0] = 0;
    id[2] = 0x80;
    ck_assert_int_eq(chan_id_check(id, NOW), FERRY_ERR_BAD_VALUE);
}
END_TEST

START_TEST(every_bit_flip_of_proof_refused)
{
    const uint8_t *secs[1] = {secret};
    size_t lens[1] = {SECRET_LEN};
    uint8_t id[32], ch[32] = {0}, proof[32];
    int i;

    chan_id_new(NOW + 60, id);
    make_proof(secret, SECRET_LEN, id, ch, ROLE_SENDER, proof);
    for (i = 0; i < 256; i++) {
        proof[i / 8] ^= (uint8_t)(1 << (i % 8));
        ck_assert_int_eq(
            chan_verify(secs, lens, 1, id, ch, ROLE_SENDER, proof, NOW),
            FERRY_ERR_BAD_PROOF);
        proof[i / 8] ^= (uint8_t)(1 << (i % 8));
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("chan");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, channel_key_matches_independent_hmac);
    tcase_add_test(tc, new_id_has_version_expiry_and_randomness);
    tcase_add_test(tc, slots_byte_round_trips_and_is_checked);
    tcase_add_test(tc, slot_key_matches_independent_hmac);
    tcase_add_test(tc, slot_keys_differ_by_slot_and_channel_key);
    tcase_add_test(tc, valid_proof_verifies);
    tcase_add_test(tc, expired_channel_refused_even_with_right_proof);
    tcase_add_test(tc, wrong_secret_refused);
    tcase_add_test(tc, proof_bound_to_role_challenge_and_id);
    tcase_add_test(tc, rotated_secrets_all_accepted);
    tcase_add_test(tc, bad_id_version_and_reserved_bits_refused);
    tcase_add_test(tc, every_bit_flip_of_proof_refused);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
