#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chan.h"
#include "crypto.h"
#include "err.h"
#include "frame.h"
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
    ck_assert_ptr_nonnull(a = aead_new(FERRY_CIPHER_AES256GCM, key));
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
    a = aead_new(FERRY_CIPHER_AES256GCM, key);
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
    struct aead *a = aead_new(FERRY_CIPHER_AES256GCM, key);

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
    ck_assert_ptr_nonnull(a = aead_new(FERRY_CIPHER_AES256GCM, key));
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
    a2 = aead_new(FERRY_CIPHER_AES256GCM, key2);
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

    ck_assert_int_eq(ferry_content_key(sh, ck, "a", FERRY_CIPHER_AES256GCM, k1),
                     FERRY_OK);
    ck_assert_int_eq(ferry_content_key(sh, ck, "b", FERRY_CIPHER_AES256GCM, k2),
                     FERRY_OK);
    ck_assert_int_ne(memcmp(k1, k2, 32), 0);
    ck[0] = 3;
    ck_assert_int_eq(ferry_content_key(sh, ck, "a", FERRY_CIPHER_AES256GCM, k2),
                     FERRY_OK);
    ck_assert_int_ne(memcmp(k1, k2, 32), 0);
    ck_assert_int_eq(ferry_content_key(sh, ck, "", FERRY_CIPHER_AES256GCM, k2),
                     FERRY_ERR_BAD_VALUE);
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

/* ---- fan-out: tests/data/fanout-kat.txt (the XEP's fan-out vectors,
 * computed independently by tests/xep/fanout-vectors.py) ---- */

static char *fkat_str(const char *name)
{
    size_t n;
    uint8_t *p = fkat(name, &n);
    char *s = malloc(n + 1);

    ck_assert_ptr_nonnull(s);
    memcpy(s, p, n);
    s[n] = '\0';
    free(p);
    return s;
}

/* Asserts that p[0..len) equals the vector `name` from byte `skip` on
 * (skip: a frame header and the fields before its sealed part). */
static void assert_fkat(const uint8_t *p, size_t len, const char *name,
                        size_t skip)
{
    size_t n;
    uint8_t *want = fkat(name, &n);

    ck_assert_uint_eq(len, n - skip);
    ck_assert_msg(memcmp(p, want + skip, len) == 0, "%s differs", name);
    free(want);
}

static void assert_buf_fkat(struct buf *b, const char *name)
{
    assert_fkat(buf_ptr(b), buf_len(b), name, 0);
}

/* The channel key, slot keys and leg keys L(0), L(1), both ends' way. */
static void fanout_keys(uint8_t ck[32], uint8_t sk[3][32], uint8_t leg[2][32])
{
    uint8_t *secret, *id, *apriv, *apub, *pub, *priv, shared[32], other[32];
    size_t sl;
    unsigned i;

    secret = fkat("fanout-shared-secret", &sl);
    id = fkat("fanout-channel-id", NULL);
    apriv = fkat("sender-x25519-private", NULL);
    apub = kat("x25519-alice-pub", NULL);
    ck_assert_int_eq(chan_key(secret, sl, id, ck), FERRY_OK);
    assert_fkat(ck, 32, "fanout-channel-key", 0);
    for (i = 0; i < 3; i++) {
        char name[32];
        ck_assert_int_eq(chan_slot_key(ck, i, sk[i]), FERRY_OK);
        snprintf(name, sizeof(name), "fanout-slot-key-%u", i);
        assert_fkat(sk[i], 32, name, 0);
    }
    for (i = 0; i < 2; i++) {
        char name[48];
        char *sid = fkat_str("fanout-sid");
        snprintf(name, sizeof(name), "receiver-%u-x25519-public", i);
        pub = fkat(name, NULL);
        snprintf(name, sizeof(name), "receiver-%u-x25519-private", i);
        priv = fkat(name, NULL);
        ck_assert_int_eq(ferry_x25519(apriv, pub, shared), FERRY_OK);
        ck_assert_int_eq(ferry_x25519(priv, apub, other), FERRY_OK);
        ck_assert_mem_eq(shared, other, 32);
        snprintf(name, sizeof(name), "receiver-%u-x25519-shared", i);
        assert_fkat(shared, 32, name, 0);
        /* The leg key: the content key with the slot key as salt. */
        ck_assert_int_eq(ferry_content_key(shared, sk[i], sid,
                                           FERRY_CIPHER_AES256GCM, leg[i]),
                         FERRY_OK);
        snprintf(name, sizeof(name), "fanout-leg-key-%u", i);
        assert_fkat(leg[i], 32, name, 0);
        free(pub);
        free(priv);
        free(sid);
    }
    free(secret);
    free(id);
    free(apriv);
    free(apub);
}

START_TEST(fanout_slot_and_leg_keys_match_xep)
{
    uint8_t ck[32], sk[3][32], leg[2][32], proof[32], out[32];
    uint8_t *id = fkat("fanout-channel-id", NULL);
    uint8_t *ch = fkat("fanout-challenge", NULL);
    uint8_t *input = fkat("fanout-slot-key-input-0", NULL);

    fanout_keys(ck, sk, leg);
    /* slot key(0) is the HMAC of its stated input */
    ck_assert_int_eq(chan_slot_key(ck, FERRY_SLOTS_MAX, out),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(input[13], 0);
    ck_assert_int_eq(memcmp(input, "ferry slot v0", 13), 0);
    /* Receiver of slot 2 proves its slot key. */
    ck_assert_int_eq(chan_proof(sk[2], ch, ROLE_RECEIVER, id, proof), FERRY_OK);
    assert_fkat(proof, 32, "fanout-proof-receiver-slot-2", 0);
    free(id);
    free(ch);
    free(input);
}
END_TEST

START_TEST(fanout_key_wrap_matches_xep)
{
    uint8_t ck[32], sk[3][32], leg[2][32], wrapped[FERRY_KEY_WRAP_LEN], k[32];
    uint8_t nonce[12], ad[FERRY_AD_MAX];
    uint8_t *tk = fkat("fanout-transfer-key", NULL);
    char *sid = fkat_str("fanout-sid");
    struct aead *a0, *a1;
    struct buf *b = buf_new(256), *l = buf_new(256);
    size_t adl;

    fanout_keys(ck, sk, leg);
    a0 = aead_new(FERRY_CIPHER_AES256GCM, leg[0]);
    a1 = aead_new(FERRY_CIPHER_AES256GCM, leg[1]);
    ck_assert_ptr_nonnull(a0);
    ck_assert_ptr_nonnull(a1);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_KEY, 0, nonce);
    assert_fkat(nonce, 12, "fanout-key-nonce", 0);
    adl = ferry_ad(FERRY_KIND_KEY, 0, sid, ad);
    assert_fkat(ad, adl, "fanout-key-ad", 0);

    ck_assert_int_eq(ferry_key_wrap(a0, sid, tk, wrapped), FERRY_OK);
    ck_assert_int_eq(frame_put_key(b, wrapped), FERRY_OK);
    assert_buf_fkat(b, "fanout-key-frame-0");
    ck_assert_int_eq(frame_put_leg(l, 0, buf_ptr(b), buf_len(b)), FERRY_OK);
    assert_buf_fkat(l, "fanout-leg-frame-key-0");
    /* Leg 0 unwraps K; leg 1's key does not open leg 0's KEY. */
    ck_assert_int_eq(ferry_key_unwrap(a0, sid, wrapped, k), FERRY_OK);
    ck_assert_mem_eq(k, tk, 32);
    ck_assert_int_eq(ferry_key_unwrap(a1, sid, wrapped, k),
                     FERRY_ERR_INTEGRITY);
    ck_assert_int_eq(ferry_key_wrap(a1, sid, tk, wrapped), FERRY_OK);
    assert_fkat(wrapped, sizeof(wrapped), "fanout-key-frame-1", 4);
    ck_assert_int_eq(ferry_key_unwrap(a1, sid, wrapped, k), FERRY_OK);
    ck_assert_mem_eq(k, tk, 32);
    wrapped[0] ^= 1;
    ck_assert_int_eq(ferry_key_unwrap(a1, sid, wrapped, k),
                     FERRY_ERR_INTEGRITY);
    aead_free(a0);
    aead_free(a1);
    buf_free(b);
    buf_free(l);
    free(tk);
    free(sid);
}
END_TEST

/* DATA under K, the element chain, CHECK(1) and END under each leg key,
 * and leg 0's VERIFIED. */
START_TEST(fanout_session_matches_xep)
{
    uint8_t ck[32], sk[3][32], leg[2][32], nonce[12], ad[FERRY_AD_MAX];
    uint8_t sealed[2][64], e[32], d[32], pt[40];
    uint8_t csealed[FERRY_CHECK_SEALED_LEN], esealed[FERRY_END_SEALED_LEN];
    uint8_t vsealed[FERRY_VERIFIED_SEALED_LEN];
    uint8_t *tk = fkat("fanout-transfer-key", NULL);
    char *sid = fkat_str("fanout-sid");
    struct aead *k, *a[2];
    struct sha256 *chain = ferry_sealed_new(0), *so_far;
    struct buf *b = buf_new(256), *l = buf_new(256);
    size_t adl, len[2], size = 0;
    unsigned n, i;

    fanout_keys(ck, sk, leg);
    k = aead_new(FERRY_CIPHER_AES256GCM, tk);
    a[0] = aead_new(FERRY_CIPHER_AES256GCM, leg[0]);
    a[1] = aead_new(FERRY_CIPHER_AES256GCM, leg[1]);
    ck_assert_ptr_nonnull(k);
    ck_assert_ptr_nonnull(a[0]);
    ck_assert_ptr_nonnull(a[1]);
    ck_assert_ptr_nonnull(chain);
    for (n = 0; n < 2; n++) {
        char name[48];
        uint8_t *plain, back[64];
        snprintf(name, sizeof(name), "fanout-chunk-%u-plaintext", n);
        plain = fkat(name, &len[n]);
        size += len[n];
        ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, n, nonce);
        adl = ferry_ad(FERRY_KIND_DATA, n, sid, ad);
        ck_assert_int_eq(aead_seal(k, nonce, ad, adl, plain, len[n], sealed[n]),
                         FERRY_OK);
        snprintf(name, sizeof(name), "fanout-data-frame-%u", n);
        assert_fkat(sealed[n], len[n] + 16, name, 12);
        ck_assert_int_eq(
            aead_open(k, nonce, ad, adl, sealed[n], len[n] + 16, back),
            FERRY_OK);
        ck_assert_mem_eq(back, plain, len[n]);
        /* element(n): SHA-256 of the whole sealed body */
        ck_assert_int_eq(ferry_sealed_element(sealed[n], len[n] + 16, e),
                         FERRY_OK);
        snprintf(name, sizeof(name), "fanout-element-%u", n);
        assert_fkat(e, 32, name, 0);
        ck_assert_int_eq(sha256_update(chain, e, 32), FERRY_OK);
        if (n == 0) {
            /* CHECK(1): the digest so far, after chunk 0, to leg 0 */
            so_far = sha256_dup(chain);
            ck_assert_ptr_nonnull(so_far);
            ck_assert_int_eq(sha256_final(so_far, d), FERRY_OK);
            sha256_free(so_far);
            assert_fkat(d, 32, "fanout-check-digest-1", 0);
            ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_CHECK, 1, nonce);
            assert_fkat(nonce, 12, "fanout-check-nonce-1", 0);
            adl = ferry_ad(FERRY_KIND_CHECK, 1, sid, ad);
            assert_fkat(ad, adl, "fanout-check-ad-1", 0);
            ck_assert_int_eq(aead_seal(a[0], nonce, ad, adl, d, 32, csealed),
                             FERRY_OK);
            ck_assert_int_eq(frame_put_check(b, 1, csealed), FERRY_OK);
            assert_buf_fkat(b, "fanout-check-frame-1");
            ck_assert_int_eq(frame_put_leg(l, 0, buf_ptr(b), buf_len(b)),
                             FERRY_OK);
            assert_buf_fkat(l, "fanout-leg-frame-check-1");
            buf_reset(b);
            buf_reset(l);
        }
        free(plain);
    }
    ck_assert_int_eq(sha256_final(chain, d), FERRY_OK);
    assert_fkat(d, 32, "fanout-digest", 0);

    /* END: size | digest, sealed under each leg key, inside LEG(i). */
    be64_put(pt, size);
    memcpy(pt + 8, d, 32);
    assert_fkat(pt, 40, "fanout-end-plaintext", 0);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, 2, nonce);
    assert_fkat(nonce, 12, "fanout-end-nonce", 0);
    adl = ferry_ad(FERRY_KIND_END, 2, sid, ad);
    assert_fkat(ad, adl, "fanout-end-ad", 0);
    for (i = 0; i < 2; i++) {
        char name[48];
        ck_assert_int_eq(aead_seal(a[i], nonce, ad, adl, pt, 40, esealed),
                         FERRY_OK);
        ck_assert_int_eq(frame_put_end(b, 2, esealed), FERRY_OK);
        snprintf(name, sizeof(name), "fanout-end-frame-%u", i);
        assert_buf_fkat(b, name);
        ck_assert_int_eq(frame_put_leg(l, (uint8_t)i, buf_ptr(b), buf_len(b)),
                         FERRY_OK);
        snprintf(name, sizeof(name), "fanout-leg-frame-end-%u", i);
        assert_buf_fkat(l, name);
        buf_reset(b);
        buf_reset(l);
    }
    /* Leg 0's VERIFIED under L(0). */
    ck_assert_int_eq(ferry_verified_seal(a[0], sid, 2, size, d, vsealed),
                     FERRY_OK);
    assert_fkat(vsealed, sizeof(vsealed), "fanout-verified-frame-0", 4);
    ck_assert_int_eq(ferry_verified_open(a[0], sid, 2, size, d, vsealed),
                     FERRY_OK);
    ck_assert_int_eq(ferry_verified_open(a[1], sid, 2, size, d, vsealed),
                     FERRY_ERR_INTEGRITY);
    aead_free(k);
    aead_free(a[0]);
    aead_free(a[1]);
    sha256_free(chain);
    buf_free(b);
    buf_free(l);
    free(tk);
    free(sid);
}
END_TEST

/* ---- ChaCha20-Poly1305 (XEP "Ciphers") ---- */

START_TEST(chacha20poly1305_rfc8439_aead)
{
    size_t pl, al, cl, tl, i;
    uint8_t *key = kat("chacha20poly1305-rfc8439-key", NULL);
    uint8_t *nonce = kat("chacha20poly1305-rfc8439-nonce", NULL);
    uint8_t *aad = kat("chacha20poly1305-rfc8439-aad", &al);
    uint8_t *pt = kat("chacha20poly1305-rfc8439-plaintext", &pl);
    uint8_t *ct = kat("chacha20poly1305-rfc8439-ciphertext", &cl);
    uint8_t *tag = kat("chacha20poly1305-rfc8439-tag", &tl);
    uint8_t out[256], back[256];
    struct aead *a;

    ck_assert_uint_eq(cl, pl);
    ck_assert_uint_eq(tl, 16);
    ck_assert_ptr_nonnull(a = aead_new(FERRY_CIPHER_CHACHA20POLY1305, key));
    ck_assert_int_eq(aead_seal(a, nonce, aad, al, pt, pl, out), FERRY_OK);
    ck_assert_int_eq(memcmp(out, ct, cl), 0);
    ck_assert_int_eq(memcmp(out + cl, tag, 16), 0);
    /* The context is reused, as for every chunk. */
    ck_assert_int_eq(aead_open(a, nonce, aad, al, out, pl + 16, back),
                     FERRY_OK);
    ck_assert_int_eq(memcmp(back, pt, pl), 0);
    ck_assert_int_eq(aead_seal(a, nonce, aad, al, pt, pl, out), FERRY_OK);
    ck_assert_int_eq(memcmp(out + cl, tag, 16), 0);
    for (i = 0; i < (pl + 16) * 8; i += 7) {
        out[i / 8] ^= (uint8_t)(1u << (i % 8));
        ck_assert_int_eq(aead_open(a, nonce, aad, al, out, pl + 16, back),
                         FERRY_ERR_INTEGRITY);
        out[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    aad[0] ^= 1;
    ck_assert_int_eq(aead_open(a, nonce, aad, al, out, pl + 16, back),
                     FERRY_ERR_INTEGRITY);
    aead_free(a);
    ck_assert_ptr_null(aead_new(2, key));
    ck_assert_ptr_null(aead_new(-1, key));
    free(key);
    free(nonce);
    free(aad);
    free(pt);
    free(ct);
    free(tag);
}
END_TEST

static uint8_t *ckat(const char *name, size_t *len)
{
    return kat_in("chacha-kat.txt", name, len);
}

static char *ckat_str(const char *name)
{
    size_t n;
    uint8_t *p = ckat(name, &n);
    char *s = malloc(n + 1);

    ck_assert_ptr_nonnull(s);
    memcpy(s, p, n);
    s[n] = '\0';
    free(p);
    return s;
}

static void assert_ckat(const uint8_t *p, size_t len, const char *name,
                        size_t skip)
{
    size_t n;
    uint8_t *want = ckat(name, &n);

    ck_assert_uint_eq(len, n - skip);
    ck_assert_msg(memcmp(p, want + skip, len) == 0, "%s differs", name);
    free(want);
}

/* tests/data/chacha-kat.txt: the XEP's ChaCha20-Poly1305 vectors, computed
 * independently by tests/xep/chacha-vectors.py. */
START_TEST(chacha_session_matches_xep)
{
    uint8_t *chk = ckat("chacha-in-channel-key", NULL);
    uint8_t *sh = ckat("chacha-in-x25519-shared", NULL);
    uint8_t *sk0 = ckat("chacha-in-fanout-slot-key-0", NULL);
    uint8_t *tk = ckat("chacha-in-fanout-transfer-key", NULL);
    char *sid = ckat_str("chacha-in-sid");
    char *fsid = ckat_str("chacha-in-fanout-sid");
    char *msg = ckat_str("chacha-in-plaintext");
    char *c0 = ckat_str("chacha-in-fanout-chunk-0");
    uint8_t ck[32], aes_ck[32], leg[32], nonce[12], ad[FERRY_AD_MAX];
    uint8_t sealed[64], endpt[40], wrapped[FERRY_KEY_WRAP_LEN], k[32];
    uint8_t vs[FERRY_VERIFIED_SEALED_LEN], d[32];
    struct aead *a, *l, *kk;
    struct sha256 *tags;
    size_t adl, ml = strlen(msg);

    ck_assert_int_eq(
        ferry_content_key(sh, chk, sid, FERRY_CIPHER_CHACHA20POLY1305, ck),
        FERRY_OK);
    assert_ckat(ck, 32, "chacha-content-key", 0);
    ck_assert_int_eq(
        ferry_content_key(sh, chk, sid, FERRY_CIPHER_AES256GCM, aes_ck),
        FERRY_OK);
    ck_assert_int_ne(memcmp(ck, aes_ck, 32), 0);
    ck_assert_ptr_nonnull(a = aead_new(FERRY_CIPHER_CHACHA20POLY1305, ck));
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, 0, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, 0, sid, ad);
    ck_assert_int_eq(
        aead_seal(a, nonce, ad, adl, (const uint8_t *)msg, ml, sealed),
        FERRY_OK);
    assert_ckat(sealed, ml + 16, "chacha-chunk-0-sealed", 0);
    assert_ckat(sealed, ml + 16, "chacha-data-frame", 4 + 8);
    ck_assert_ptr_nonnull(tags = ferry_tags_new(0));
    ck_assert_int_eq(ferry_tags_add(tags, sealed + ml), FERRY_OK);
    ck_assert_int_eq(sha256_final(tags, d), FERRY_OK);
    sha256_free(tags);
    assert_ckat(d, 32, "chacha-end-digest", 0);
    be64_put(endpt, ml);
    memcpy(endpt + 8, d, 32);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, 1, nonce);
    adl = ferry_ad(FERRY_KIND_END, 1, sid, ad);
    ck_assert_int_eq(aead_seal(a, nonce, ad, adl, endpt, 40, sealed), FERRY_OK);
    assert_ckat(sealed, 56, "chacha-end-frame", 4 + 8);
    ck_assert_int_eq(ferry_verified_seal(a, sid, 1, ml, d, vs), FERRY_OK);
    assert_ckat(vs, sizeof(vs), "chacha-verified-frame", 4);
    aead_free(a);
    /* Fan-out leg 0: its leg key under the chacha label, KEY, DATA 0. */
    ck_assert_int_eq(
        ferry_content_key(sh, sk0, fsid, FERRY_CIPHER_CHACHA20POLY1305, leg),
        FERRY_OK);
    assert_ckat(leg, 32, "chacha-fanout-leg-key-0", 0);
    ck_assert_ptr_nonnull(l = aead_new(FERRY_CIPHER_CHACHA20POLY1305, leg));
    ck_assert_int_eq(ferry_key_wrap(l, fsid, tk, wrapped), FERRY_OK);
    assert_ckat(wrapped, sizeof(wrapped), "chacha-fanout-key-frame-0", 4);
    ck_assert_int_eq(ferry_key_unwrap(l, fsid, wrapped, k), FERRY_OK);
    ck_assert_int_eq(memcmp(k, tk, 32), 0);
    ck_assert_ptr_nonnull(kk = aead_new(FERRY_CIPHER_CHACHA20POLY1305, tk));
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, 0, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, 0, fsid, ad);
    ck_assert_int_eq(
        aead_seal(kk, nonce, ad, adl, (const uint8_t *)c0, strlen(c0), sealed),
        FERRY_OK);
    assert_ckat(sealed, strlen(c0) + 16, "chacha-fanout-data-frame-0", 4 + 8);
    aead_free(l);
    aead_free(kk);
    free(chk);
    free(sh);
    free(sk0);
    free(tk);
    free(sid);
    free(fsid);
    free(msg);
    free(c0);
}
END_TEST

/* Peers told different ciphers derive different keys: whichever AEAD the
 * receiver then runs, the chunk fails integrity, never misreads. */
START_TEST(wrong_cipher_fails_integrity)
{
    uint8_t sh[32], chk[32], kc[32], ka[32], nonce[12], ad[FERRY_AD_MAX];
    uint8_t pt[100], sealed[116], out[100];
    struct aead *seal_c, *open_a, *open_c_under_a;
    size_t adl;

    memset(sh, 7, sizeof(sh));
    memset(chk, 9, sizeof(chk));
    memset(pt, 'x', sizeof(pt));
    ck_assert_int_eq(
        ferry_content_key(sh, chk, "s", FERRY_CIPHER_CHACHA20POLY1305, kc),
        FERRY_OK);
    ck_assert_int_eq(
        ferry_content_key(sh, chk, "s", FERRY_CIPHER_AES256GCM, ka), FERRY_OK);
    ck_assert_int_ne(memcmp(kc, ka, 32), 0);
    ck_assert_int_eq(ferry_content_key(sh, chk, "s", 2, ka),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(ferry_content_key(sh, chk, "s", -1, ka),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(
        ferry_content_key(sh, chk, "s", FERRY_CIPHER_AES256GCM, ka), FERRY_OK);
    seal_c = aead_new(FERRY_CIPHER_CHACHA20POLY1305, kc);
    open_a = aead_new(FERRY_CIPHER_AES256GCM, ka);
    open_c_under_a = aead_new(FERRY_CIPHER_AES256GCM, kc);
    ck_assert_ptr_nonnull(seal_c);
    ck_assert_ptr_nonnull(open_a);
    ck_assert_ptr_nonnull(open_c_under_a);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, 3, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, 3, "s", ad);
    ck_assert_int_eq(aead_seal(seal_c, nonce, ad, adl, pt, 100, sealed),
                     FERRY_OK);
    ck_assert_int_eq(aead_open(open_a, nonce, ad, adl, sealed, 116, out),
                     FERRY_ERR_INTEGRITY);
    /* Even the right key under the other AEAD. */
    ck_assert_int_eq(
        aead_open(open_c_under_a, nonce, ad, adl, sealed, 116, out),
        FERRY_ERR_INTEGRITY);
    aead_free(seal_c);
    aead_free(open_a);
    aead_free(open_c_under_a);
}
END_TEST

START_TEST(cipher_names_and_lists)
{
    int c[FERRY_CIPHERS];

    ck_assert_str_eq(ferry_cipher_name(FERRY_CIPHER_AES256GCM), "aes-256-gcm");
    ck_assert_str_eq(ferry_cipher_name(FERRY_CIPHER_CHACHA20POLY1305),
                     "chacha20-poly1305");
    ck_assert_ptr_null(ferry_cipher_name(2));
    ck_assert_ptr_null(ferry_cipher_name(-1));
    ck_assert_int_eq(ferry_cipher_from_name("aes-256-gcm", 11),
                     FERRY_CIPHER_AES256GCM);
    ck_assert_int_eq(ferry_cipher_from_name("chacha20-poly1305", 17),
                     FERRY_CIPHER_CHACHA20POLY1305);
    ck_assert_int_eq(ferry_cipher_from_name("aes-256-gcmx", 12), -1);
    ck_assert_int_eq(ferry_cipher_from_name("aes-256-gc", 10), -1);
    ck_assert_int_eq(ferry_cipher_from_name("AES-256-GCM", 11), -1);
    ck_assert_int_eq(ferry_cipher_from_name(NULL, 0), -1);
    /* In order; unknown names skipped; each once. */
    ck_assert_uint_eq(ferry_cipher_list("chacha20-poly1305 aes-256-gcm", c), 2);
    ck_assert_int_eq(c[0], FERRY_CIPHER_CHACHA20POLY1305);
    ck_assert_int_eq(c[1], FERRY_CIPHER_AES256GCM);
    ck_assert_uint_eq(ferry_cipher_list("  foo aes-256-gcm  aes-256-gcm "
                                        "aegis-256 chacha20-poly1305",
                                        c),
                      2);
    ck_assert_int_eq(c[0], FERRY_CIPHER_AES256GCM);
    ck_assert_int_eq(c[1], FERRY_CIPHER_CHACHA20POLY1305);
    ck_assert_uint_eq(ferry_cipher_list("aegis-256 foo", c), 0);
    ck_assert_uint_eq(ferry_cipher_list("", c), 0);
    ck_assert_uint_eq(ferry_cipher_list("   ", c), 0);
    ck_assert_uint_eq(ferry_cipher_list(NULL, c), 0);
    ck_assert_uint_eq(ferry_cipher_list("chacha20-poly1305", c), 1);
    ck_assert_int_eq(c[0], FERRY_CIPHER_CHACHA20POLY1305);
    /* Whatever this CPU has, the answer is a boolean. */
    ck_assert_int_eq(ferry_cpu_has_aes() & ~1, 0);
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
    tcase_add_test(tc, fanout_slot_and_leg_keys_match_xep);
    tcase_add_test(tc, fanout_key_wrap_matches_xep);
    tcase_add_test(tc, fanout_session_matches_xep);
    tcase_add_test(tc, chacha20poly1305_rfc8439_aead);
    tcase_add_test(tc, chacha_session_matches_xep);
    tcase_add_test(tc, wrong_cipher_fails_integrity);
    tcase_add_test(tc, cipher_names_and_lists);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
