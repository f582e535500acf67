#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "hexutil.h"

START_TEST(hkdf_rfc5869_case1)
{
    size_t il, sl, nl, ol;
    uint8_t *ikm = kat("hkdf1-ikm", &il), *salt = kat("hkdf1-salt", &sl);
    uint8_t *info = kat("hkdf1-info", &nl), *okm = kat("hkdf1-okm", &ol);
    uint8_t out[42];

    ck_assert_uint_eq(ol, 42);
    ck_assert_int_eq(
        ferry_hkdf_sha256(salt, sl, ikm, il, info, nl, out, sizeof(out)),
        FERRY_OK);
    ck_assert_int_eq(memcmp(out, okm, 42), 0);
    free(ikm);
    free(salt);
    free(info);
    free(okm);
}
END_TEST

START_TEST(hkdf_rfc5869_case3_empty_salt_and_info)
{
    size_t il, ol;
    uint8_t *ikm = kat("hkdf3-ikm", &il), *okm = kat("hkdf3-okm", &ol);
    uint8_t out[42];

    ck_assert_int_eq(ferry_hkdf_sha256(NULL, 0, ikm, il, (const uint8_t *)"", 0,
                                       out, sizeof(out)),
                     FERRY_OK);
    ck_assert_int_eq(memcmp(out, okm, 42), 0);
    free(ikm);
    free(okm);
}
END_TEST

START_TEST(x25519_rfc7748_both_sides)
{
    uint8_t *ap = kat("x25519-alice-priv", NULL);
    uint8_t *aP = kat("x25519-alice-pub", NULL);
    uint8_t *bp = kat("x25519-bob-priv", NULL);
    uint8_t *bP = kat("x25519-bob-pub", NULL);
    uint8_t *k = kat("x25519-shared", NULL);
    uint8_t s1[32], s2[32];

    ck_assert_int_eq(ferry_x25519(ap, bP, s1), FERRY_OK);
    ck_assert_int_eq(ferry_x25519(bp, aP, s2), FERRY_OK);
    ck_assert_int_eq(memcmp(s1, k, 32), 0);
    ck_assert_int_eq(memcmp(s2, k, 32), 0);
    free(ap);
    free(aP);
    free(bp);
    free(bP);
    free(k);
}
END_TEST

START_TEST(x25519_fresh_pairs_agree)
{
    uint8_t a[32], A[32], b[32], B[32], s1[32], s2[32];

    ck_assert_int_eq(ferry_x25519_keygen(a, A), FERRY_OK);
    ck_assert_int_eq(ferry_x25519_keygen(b, B), FERRY_OK);
    ck_assert_int_eq(ferry_x25519(a, B, s1), FERRY_OK);
    ck_assert_int_eq(ferry_x25519(b, A, s2), FERRY_OK);
    ck_assert_int_eq(memcmp(s1, s2, 32), 0);
}
END_TEST

START_TEST(x25519_low_order_peer_key_refused)
{
    uint8_t a[32], A[32], zero[32] = {0}, s[32];

    ferry_x25519_keygen(a, A);
    ck_assert_int_eq(ferry_x25519(a, zero, s), FERRY_ERR_BAD_VALUE);
}
END_TEST

static void gcm_case(const char *n)
{
    char name[32];
    size_t kl, il, pl, cl, tl;
    uint8_t *key, *iv, *pt, *ct, *tag, *out, *back;
    struct aead *a;

#define K(x) (snprintf(name, sizeof(name), "%s-%s", n, x), name)
    key = kat(K("key"), &kl);
    iv = kat(K("iv"), &il);
    pt = kat(K("pt"), &pl);
    ct = kat(K("ct"), &cl);
    tag = kat(K("tag"), &tl);
#undef K
    ck_assert_uint_eq(il, 12);
    out = malloc(pl + 16);
    back = malloc(pl);
    ck_assert_ptr_nonnull(a = aead_new(key));
    ck_assert_int_eq(aead_seal(a, iv, NULL, 0, pt, pl, out), FERRY_OK);
    ck_assert_int_eq(memcmp(out, ct, cl), 0);
    ck_assert_int_eq(memcmp(out + pl, tag, 16), 0);
    ck_assert_int_eq(aead_open(a, iv, NULL, 0, out, pl + 16, back), FERRY_OK);
    ck_assert_int_eq(memcmp(back, pt, pl), 0);
    aead_free(a);
    free(key);
    free(iv);
    free(pt);
    free(ct);
    free(tag);
    free(out);
    free(back);
}

START_TEST(aes256gcm_published_vectors)
{
    gcm_case("gcm14");
    gcm_case("gcm15");
}
END_TEST

START_TEST(every_bit_flip_of_sealed_chunk_fails_to_open)
{
    uint8_t key[32], nonce[12], ad[FERRY_AD_MAX], pt[64], ct[80], out[64];
    size_t adl, i;
    struct aead *a;

    memset(key, 0x42, 32);
    memset(pt, 0x17, sizeof(pt));
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, 5, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, 5, "sid-1", ad);
    a = aead_new(key);
    ck_assert_int_eq(aead_seal(a, nonce, ad, adl, pt, 64, ct), FERRY_OK);
    for (i = 0; i < sizeof(ct) * 8; i++) {
        ct[i / 8] ^= (uint8_t)(1 << (i % 8));
        ck_assert_int_eq(aead_open(a, nonce, ad, adl, ct, 80, out),
                         FERRY_ERR_INTEGRITY);
        ct[i / 8] ^= (uint8_t)(1 << (i % 8));
    }
    ck_assert_int_eq(aead_open(a, nonce, ad, adl, ct, 80, out), FERRY_OK);
    ck_assert_int_eq(memcmp(out, pt, 64), 0);
    aead_free(a);
}
END_TEST

START_TEST(chunk_opened_under_other_number_or_session_fails)
{
    uint8_t key[32] = {1}, nonce[12], n2[12], ad[FERRY_AD_MAX],
            ad2[FERRY_AD_MAX], pt[10] = "abcdefghi", ct[26], out[10];
    size_t adl, adl2;
    struct aead *a = aead_new(key);

    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, 1, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, 1, "s", ad);
    aead_seal(a, nonce, ad, adl, pt, 10, ct);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, 2, n2);
    adl2 = ferry_ad(FERRY_KIND_DATA, 2, "s", ad2);
    ck_assert_int_eq(aead_open(a, n2, ad2, adl2, ct, 26, out),
                     FERRY_ERR_INTEGRITY);
    adl2 = ferry_ad(FERRY_KIND_DATA, 1, "t", ad2);
    ck_assert_int_eq(aead_open(a, nonce, ad2, adl2, ct, 26, out),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(aead_open(a, nonce, ad, adl, ct, 25, out),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(aead_open(a, nonce, ad, adl, ct, 10, out),
                     FERRY_ERR_BAD_LENGTH);
    aead_free(a);
}
END_TEST

/* VERIFIED: the receiver's sealed confirmation of size and hash. */
static const char vsid[] = "sid-v";

static struct aead *verified_fixture(uint8_t hash[32],
                                     uint8_t sealed[FERRY_VERIFIED_SEALED_LEN])
{
    uint8_t key[32];
    struct aead *a;

    memset(key, 0x5c, sizeof(key));
    memset(hash, 0xa7, 32);
    ck_assert_ptr_nonnull(a = aead_new(key));
    ck_assert_int_eq(ferry_verified_seal(a, vsid, 9, 123456, hash, sealed),
                     FERRY_OK);
    return a;
}

START_TEST(verified_seal_open_round_trip)
{
    uint8_t hash[32], sealed[FERRY_VERIFIED_SEALED_LEN],
        again[FERRY_VERIFIED_SEALED_LEN];
    struct aead *a = verified_fixture(hash, sealed);

    ck_assert_int_eq(ferry_verified_open(a, vsid, 9, 123456, hash, sealed),
                     FERRY_OK);
    /* Deterministic: the same inputs seal to the same bytes. */
    ck_assert_int_eq(ferry_verified_seal(a, vsid, 9, 123456, hash, again),
                     FERRY_OK);
    ck_assert_int_eq(memcmp(sealed, again, sizeof(again)), 0);
    ck_assert_int_eq(ferry_verified_seal(a, "", 9, 123456, hash, again),
                     FERRY_ERR_BAD_VALUE);
    aead_free(a);
}
END_TEST

START_TEST(verified_every_bit_flip_fails)
{
    uint8_t hash[32], sealed[FERRY_VERIFIED_SEALED_LEN];
    struct aead *a = verified_fixture(hash, sealed);
    size_t i;

    for (i = 0; i < sizeof(sealed) * 8; i++) {
        sealed[i / 8] ^= (uint8_t)(1 << (i % 8));
        ck_assert_int_eq(ferry_verified_open(a, vsid, 9, 123456, hash, sealed),
                         FERRY_ERR_INTEGRITY);
        sealed[i / 8] ^= (uint8_t)(1 << (i % 8));
    }
    ck_assert_int_eq(ferry_verified_open(a, vsid, 9, 123456, hash, sealed),
                     FERRY_OK);
    aead_free(a);
}
END_TEST

START_TEST(verified_for_other_size_hash_count_or_sid_fails)
{
    uint8_t hash[32], other[32], sealed[FERRY_VERIFIED_SEALED_LEN];
    uint8_t key2[32];
    struct aead *a = verified_fixture(hash, sealed), *a2;

    memcpy(other, hash, 32);
    other[31] ^= 1;
    ck_assert_int_eq(ferry_verified_open(a, vsid, 9, 123455, hash, sealed),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(ferry_verified_open(a, vsid, 9, 0, hash, sealed),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(ferry_verified_open(a, vsid, 9, 123456, other, sealed),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(ferry_verified_open(a, vsid, 8, 123456, hash, sealed),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(ferry_verified_open(a, vsid, 10, 123456, hash, sealed),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(ferry_verified_open(a, "sid-w", 9, 123456, hash, sealed),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(ferry_verified_open(a, "", 9, 123456, hash, sealed),
                     FERRY_ERR_INTEGRITY);
    /* Another session's key (another channel or X25519 exchange). */
    memset(key2, 0x5d, sizeof(key2));
    a2 = aead_new(key2);
    ck_assert_int_eq(ferry_verified_open(a2, vsid, 9, 123456, hash, sealed),
                     FERRY_ERR_INTEGRITY);
    aead_free(a2);
    aead_free(a);
}
END_TEST

/* Direction and kind keep VERIFIED and END apart under the one key: END's
 * plaintext is the same 40 bytes, so only the nonce and AD differ. */
START_TEST(verified_and_end_are_not_interchangeable)
{
    uint8_t hash[32], sealed[FERRY_VERIFIED_SEALED_LEN], pt[40], out[40];
    uint8_t nonce[12], ad[FERRY_AD_MAX], end[FERRY_VERIFIED_SEALED_LEN];
    size_t adl;
    struct aead *a = verified_fixture(hash, sealed);

    /* A VERIFIED tag does not open as END for the same count. */
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, 9, nonce);
    adl = ferry_ad(FERRY_KIND_END, 9, vsid, ad);
    ck_assert_int_eq(aead_open(a, nonce, ad, adl, sealed, sizeof(sealed), out),
                     FERRY_ERR_INTEGRITY);
    /* Nor with END's AD under VERIFIED's nonce, or the reverse: both the
     * direction byte and the kind are bound. */
    ferry_nonce(FERRY_DIR_TO_SENDER, FERRY_KIND_VERIFIED, 9, nonce);
    ck_assert_int_eq(aead_open(a, nonce, ad, adl, sealed, sizeof(sealed), out),
                     FERRY_ERR_INTEGRITY);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_VERIFIED, 9, nonce);
    adl = ferry_ad(FERRY_KIND_VERIFIED, 9, vsid, ad);
    ck_assert_int_eq(aead_open(a, nonce, ad, adl, sealed, sizeof(sealed), out),
                     FERRY_ERR_INTEGRITY);
    /* An END sealed by the sender over the same size and hash is not
     * accepted as VERIFIED: a relay cannot reflect END back. */
    be64_put(pt, 123456);
    memcpy(pt + 8, hash, 32);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, 9, nonce);
    adl = ferry_ad(FERRY_KIND_END, 9, vsid, ad);
    ck_assert_int_eq(aead_seal(a, nonce, ad, adl, pt, 40, end), FERRY_OK);
    ck_assert_int_eq(ferry_verified_open(a, vsid, 9, 123456, hash, end),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(aead_open(a, nonce, ad, adl, end, sizeof(end), out),
                     FERRY_OK);
    ck_assert_int_ne(memcmp(end, sealed, sizeof(end)), 0);
    aead_free(a);
}
END_TEST

START_TEST(verified_nonce_and_ad_layout)
{
    uint8_t n[12], ad[FERRY_AD_MAX];
    size_t adl;

    ferry_nonce(FERRY_DIR_TO_SENDER, FERRY_KIND_VERIFIED, 1, n);
    assert_hex(n, 12, "020300000000000000000001");
    adl = ferry_ad(FERRY_KIND_VERIFIED, 1, "s", ad);
    assert_hex(ad, adl, "03000000000000000173");
}
END_TEST

START_TEST(nonce_layout)
{
    uint8_t n[12];

    ferry_nonce(1, 2, 0x0102030405060708ULL, n);
    assert_hex(n, 12, "010200000102030405060708");
}
END_TEST

START_TEST(content_key_depends_on_every_input)
{
    uint8_t sh[32] = {1}, ck[32] = {2}, k1[32], k2[32];

    ck_assert_int_eq(ferry_content_key(sh, ck, "a", k1), FERRY_OK);
    ck_assert_int_eq(ferry_content_key(sh, ck, "b", k2), FERRY_OK);
    ck_assert_int_ne(memcmp(k1, k2, 32), 0);
    ck[0] = 3;
    ck_assert_int_eq(ferry_content_key(sh, ck, "a", k2), FERRY_OK);
    ck_assert_int_ne(memcmp(k1, k2, 32), 0);
    ck_assert_int_eq(ferry_content_key(sh, ck, "", k2), FERRY_ERR_BAD_VALUE);
}
END_TEST

START_TEST(sha256_streaming_matches_one_shot)
{
    struct sha256 *s = sha256_new(), *d;
    uint8_t h[32];

    sha256_update(s, "a", 1);
    d = sha256_dup(s);
    sha256_update(s, "bc", 2);
    ck_assert_int_eq(sha256_final(s, h), FERRY_OK);
    assert_hex(
        h, 32,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_update(d, "bc", 2);
    sha256_final(d, h);
    assert_hex(
        h, 32,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_free(s);
    sha256_free(d);
    sha256_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, hkdf_rfc5869_case1);
    tcase_add_test(tc, hkdf_rfc5869_case3_empty_salt_and_info);
    tcase_add_test(tc, x25519_rfc7748_both_sides);
    tcase_add_test(tc, x25519_fresh_pairs_agree);
    tcase_add_test(tc, x25519_low_order_peer_key_refused);
    tcase_add_test(tc, aes256gcm_published_vectors);
    tcase_add_test(tc, every_bit_flip_of_sealed_chunk_fails_to_open);
    tcase_add_test(tc, chunk_opened_under_other_number_or_session_fails);
    tcase_add_test(tc, nonce_layout);
    tcase_add_test(tc, verified_seal_open_round_trip);
    tcase_add_test(tc, verified_every_bit_flip_fails);
    tcase_add_test(tc, verified_for_other_size_hash_count_or_sid_fails);
    tcase_add_test(tc, verified_and_end_are_not_interchangeable);
    tcase_add_test(tc, verified_nonce_and_ad_layout);
    tcase_add_test(tc, content_key_depends_on_every_input);
    tcase_add_test(tc, sha256_streaming_matches_one_shot);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
