#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"

#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

static const char *const cipher_names[FERRY_CIPHERS] = {"aes-256-gcm",
                                                        "chacha20-poly1305"};
/* The content key's label per cipher (XEP "Key Derivation"): AES-256-GCM
 * keeps the label of 0.5 and older; any other cipher has its own, so a
 * key is never shared between two ciphers. */
static const char *const content_labels[FERRY_CIPHERS] = {
    "ferry content v0", "ferry content chacha20-poly1305 v0"};

const char *ferry_cipher_name(int cipher)
{
    return cipher >= 0 && cipher < FERRY_CIPHERS ? cipher_names[cipher] : NULL;
}

int ferry_cipher_from_name(const char *s, size_t len)
{
    int i;

    for (i = 0; s != NULL && i < FERRY_CIPHERS; i++)
        if (strlen(cipher_names[i]) == len &&
            memcmp(s, cipher_names[i], len) == 0)
            return i;
    return -1;
}

size_t ferry_cipher_list(const char *list, int out[FERRY_CIPHERS])
{
    const char *p = list;
    size_t n = 0, i, len;
    int c;

    while (p != NULL && *p != '\0') {
        p += strspn(p, " \t\r\n");
        len = strcspn(p, " \t\r\n");
        if (len == 0)
            break;
        if ((c = ferry_cipher_from_name(p, len)) >= 0) {
            for (i = 0; i < n && out[i] != c; i++)
                ;
            if (i == n && n < FERRY_CIPHERS)
                out[n++] = c;
        }
        p += len;
    }
    return n;
}

int ferry_cpu_has_aes(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__) && defined(HWCAP_AES) && defined(HWCAP_PMULL)
    unsigned long hw = getauxval(AT_HWCAP);
    return (hw & HWCAP_AES) != 0 && (hw & HWCAP_PMULL) != 0;
#else
    return 0;
#endif
}

int ferry_random(void *p, size_t len)
{
    return RAND_bytes(p, (int)len) == 1 ? FERRY_OK : FERRY_ERR_CRYPTO;
}

void ferry_wipe(void *p, size_t len)
{
    OPENSSL_cleanse(p, len);
}

int ferry_x25519_keygen(uint8_t priv[32], uint8_t pub[32])
{
    EVP_PKEY *pk = NULL;
    size_t l1 = 32, l2 = 32;
    int r = FERRY_ERR_CRYPTO;

    if ((pk = EVP_PKEY_Q_keygen(NULL, NULL, "X25519")) == NULL)
        goto out;
    if (EVP_PKEY_get_raw_private_key(pk, priv, &l1) != 1 || l1 != 32 ||
        EVP_PKEY_get_raw_public_key(pk, pub, &l2) != 1 || l2 != 32)
        goto out;
    r = FERRY_OK;
out:
    EVP_PKEY_free(pk);
    return r;
}

int ferry_x25519(const uint8_t priv[32], const uint8_t peer_pub[32],
                 uint8_t shared[32])
{
    EVP_PKEY *me = NULL, *peer = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    size_t len = 32;
    uint8_t acc = 0;
    int r = FERRY_ERR_CRYPTO, i;

    me = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
    peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub, 32);
    if (me == NULL || peer == NULL)
        goto out;
    if ((ctx = EVP_PKEY_CTX_new(me, NULL)) == NULL ||
        EVP_PKEY_derive_init(ctx) != 1 ||
        EVP_PKEY_derive_set_peer(ctx, peer) != 1) {
        /* OpenSSL refuses some low-order points here already. */
        r = FERRY_ERR_BAD_VALUE;
        goto out;
    }
    if (EVP_PKEY_derive(ctx, shared, &len) != 1 || len != 32) {
        r = FERRY_ERR_BAD_VALUE;
        goto out;
    }
    for (i = 0; i < 32; i++)
        acc |= shared[i];
    if (acc == 0) {
        r = FERRY_ERR_BAD_VALUE;
        goto out;
    }
    r = FERRY_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(me);
    EVP_PKEY_free(peer);
    return r;
}

int ferry_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                      size_t ikm_len, const uint8_t *info, size_t info_len,
                      uint8_t *out, size_t out_len)
{
    EVP_KDF *kdf = NULL;
    EVP_KDF_CTX *ctx = NULL;
    OSSL_PARAM params[5], *p = params;
    int r = FERRY_ERR_CRYPTO;

    if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL ||
        (ctx = EVP_KDF_CTX_new(kdf)) == NULL)
        goto out;
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                            (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm,
                                             ikm_len);
    if (salt_len > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                 (void *)salt, salt_len);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info,
                                             info_len);
    *p = OSSL_PARAM_construct_end();
    if (EVP_KDF_derive(ctx, out, out_len, params) != 1)
        goto out;
    r = FERRY_OK;
out:
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return r;
}

int ferry_content_key(const uint8_t shared[32], const uint8_t chan_key[32],
                      const char *sid, int cipher, uint8_t key[32])
{
    uint8_t info[64 + FERRY_SID_MAX];
    size_t sl = sid ? strlen(sid) : 0, ll;

    if (sl == 0 || sl > FERRY_SID_MAX || ferry_cipher_name(cipher) == NULL)
        return FERRY_ERR_BAD_VALUE;
    ll = strlen(content_labels[cipher]);
    memcpy(info, content_labels[cipher], ll);
    memcpy(info + ll, sid, sl);
    return ferry_hkdf_sha256(chan_key, 32, shared, 32, info, ll + sl, key, 32);
}

void ferry_nonce(uint8_t dir, uint8_t kind, uint64_t number, uint8_t nonce[12])
{
    nonce[0] = dir;
    nonce[1] = kind;
    nonce[2] = 0;
    nonce[3] = 0;
    be64_put(nonce + 4, number);
}

size_t ferry_ad(uint8_t kind, uint64_t number, const char *sid, uint8_t *ad)
{
    size_t sl = strlen(sid);

    if (sl > FERRY_SID_MAX)
        sl = FERRY_SID_MAX;
    ad[0] = kind;
    be64_put(ad + 1, number);
    memcpy(ad + 9, sid, sl);
    return 9 + sl;
}

struct aead {
    EVP_CIPHER_CTX *enc;
    EVP_CIPHER_CTX *dec;
};

struct aead *aead_new(int cipher, const uint8_t key[32])
{
    const EVP_CIPHER *ev;
    struct aead *a;

    /* Both take a 12-byte nonce (ChaCha20-Poly1305's default IV length,
     * GCM's) and give a 16-byte tag; the GCM ctrls set and get either. */
    if (cipher == FERRY_CIPHER_AES256GCM)
        ev = EVP_aes_256_gcm();
    else if (cipher == FERRY_CIPHER_CHACHA20POLY1305)
        ev = EVP_chacha20_poly1305();
    else
        return NULL;
    if ((a = calloc(1, sizeof(*a))) == NULL)
        return NULL;
    a->enc = EVP_CIPHER_CTX_new();
    a->dec = EVP_CIPHER_CTX_new();
    if (a->enc == NULL || a->dec == NULL ||
        EVP_EncryptInit_ex(a->enc, ev, NULL, key, NULL) != 1 ||
        EVP_DecryptInit_ex(a->dec, ev, NULL, key, NULL) != 1) {
        aead_free(a);
        return NULL;
    }
    return a;
}

void aead_free(struct aead *a)
{
    if (a == NULL)
        return;
    EVP_CIPHER_CTX_free(a->enc); /* cleanses the key schedule */
    EVP_CIPHER_CTX_free(a->dec);
    free(a);
}

int aead_seal(struct aead *a, const uint8_t nonce[12], const uint8_t *ad,
              size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    int n;

    if (len > INT32_MAX)
        return FERRY_ERR_BAD_VALUE;
    if (EVP_EncryptInit_ex(a->enc, NULL, NULL, NULL, nonce) != 1 ||
        EVP_EncryptUpdate(a->enc, NULL, &n, ad, (int)ad_len) != 1 ||
        EVP_EncryptUpdate(a->enc, out, &n, in, (int)len) != 1 ||
        EVP_EncryptFinal_ex(a->enc, out + n, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->enc, EVP_CTRL_AEAD_GET_TAG, 16, out + len) != 1)
        return FERRY_ERR_CRYPTO;
    return FERRY_OK;
}

int aead_open(struct aead *a, const uint8_t nonce[12], const uint8_t *ad,
              size_t ad_len, const uint8_t *in, size_t len, uint8_t *out)
{
    size_t clen;
    int n;

    if (len < 16 || len - 16 > INT32_MAX)
        return FERRY_ERR_BAD_LENGTH;
    clen = len - 16;
    if (EVP_DecryptInit_ex(a->dec, NULL, NULL, NULL, nonce) != 1 ||
        EVP_DecryptUpdate(a->dec, NULL, &n, ad, (int)ad_len) != 1 ||
        EVP_DecryptUpdate(a->dec, out, &n, in, (int)clen) != 1 ||
        EVP_CIPHER_CTX_ctrl(a->dec, EVP_CTRL_AEAD_SET_TAG, 16,
                            (void *)(in + clen)) != 1)
        return FERRY_ERR_CRYPTO;
    if (EVP_DecryptFinal_ex(a->dec, out + n, &n) != 1) {
        OPENSSL_cleanse(out, clen);
        return FERRY_ERR_INTEGRITY;
    }
    return FERRY_OK;
}

/* size u64 | digest: the plaintext END carried, which VERIFIED echoes. */
static int verified_prep(const char *sid, uint64_t count, uint64_t size,
                         const uint8_t sha256[32], uint8_t pt[40],
                         uint8_t nonce[12], uint8_t ad[FERRY_AD_MAX],
                         size_t *adl)
{
    size_t sl = sid ? strlen(sid) : 0;

    if (sl == 0 || sl > FERRY_SID_MAX)
        return FERRY_ERR_BAD_VALUE;
    be64_put(pt, size);
    memcpy(pt + 8, sha256, 32);
    ferry_nonce(FERRY_DIR_TO_SENDER, FERRY_KIND_VERIFIED, count, nonce);
    *adl = ferry_ad(FERRY_KIND_VERIFIED, count, sid, ad);
    return FERRY_OK;
}

int ferry_verified_seal(struct aead *a, const char *sid, uint64_t count,
                        uint64_t size, const uint8_t sha256[32],
                        uint8_t out[FERRY_VERIFIED_SEALED_LEN])
{
    uint8_t pt[40], nonce[12], ad[FERRY_AD_MAX];
    size_t adl;
    int r;

    if ((r = verified_prep(sid, count, size, sha256, pt, nonce, ad, &adl)) ==
        FERRY_OK)
        r = aead_seal(a, nonce, ad, adl, pt, sizeof(pt), out);
    OPENSSL_cleanse(pt, sizeof(pt));
    return r;
}

int ferry_verified_open(struct aead *a, const char *sid, uint64_t count,
                        uint64_t size, const uint8_t sha256[32],
                        const uint8_t in[FERRY_VERIFIED_SEALED_LEN])
{
    uint8_t want[40], got[40], nonce[12], ad[FERRY_AD_MAX];
    size_t adl;
    int r = FERRY_ERR_INTEGRITY;

    if (verified_prep(sid, count, size, sha256, want, nonce, ad, &adl) !=
        FERRY_OK)
        goto out;
    if (aead_open(a, nonce, ad, adl, in, FERRY_VERIFIED_SEALED_LEN, got) !=
        FERRY_OK)
        goto out;
    if (CRYPTO_memcmp(got, want, sizeof(want)) != 0)
        goto out;
    r = FERRY_OK;
out:
    OPENSSL_cleanse(want, sizeof(want));
    OPENSSL_cleanse(got, sizeof(got));
    return r;
}

struct sha256 {
    EVP_MD_CTX *md;
};

struct sha256 *sha256_new(void)
{
    struct sha256 *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    if ((s->md = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
        sha256_free(s);
        return NULL;
    }
    return s;
}

struct sha256 *sha256_dup(const struct sha256 *s)
{
    struct sha256 *d = calloc(1, sizeof(*d));

    if (d == NULL)
        return NULL;
    if ((d->md = EVP_MD_CTX_new()) == NULL ||
        EVP_MD_CTX_copy_ex(d->md, s->md) != 1) {
        sha256_free(d);
        return NULL;
    }
    return d;
}

void sha256_free(struct sha256 *s)
{
    if (s == NULL)
        return;
    EVP_MD_CTX_free(s->md);
    free(s);
}

int sha256_update(struct sha256 *s, const void *p, size_t len)
{
    return EVP_DigestUpdate(s->md, p, len) == 1 ? FERRY_OK : FERRY_ERR_CRYPTO;
}

int sha256_final(struct sha256 *s, uint8_t out[32])
{
    unsigned int len = 32;
    return EVP_DigestFinal_ex(s->md, out, &len) == 1 ? FERRY_OK
                                                     : FERRY_ERR_CRYPTO;
}

static struct sha256 *chain_new(const char *label, uint64_t first)
{
    struct sha256 *s = sha256_new();
    uint8_t f[8];

    be64_put(f, first);
    if (s != NULL &&
        (sha256_update(s, label, strlen(label)) != FERRY_OK ||
         sha256_update(s, f, sizeof(f)) != FERRY_OK)) {
        sha256_free(s);
        s = NULL;
    }
    return s;
}

struct sha256 *ferry_tags_new(uint64_t first)
{
    return chain_new(FERRY_TAGS_LABEL, first);
}

int ferry_tags_add(struct sha256 *s, const uint8_t tag[16])
{
    return sha256_update(s, tag, 16);
}

struct sha256 *ferry_sealed_new(uint64_t first)
{
    return chain_new(FERRY_SEALED_LABEL, first);
}

int ferry_sealed_element(const uint8_t *sealed, size_t len, uint8_t out[32])
{
    return EVP_Digest(sealed, len, out, NULL, EVP_sha256(), NULL) == 1
               ? FERRY_OK
               : FERRY_ERR_CRYPTO;
}

int ferry_key_wrap(struct aead *leg, const char *sid, const uint8_t k[32],
                   uint8_t out[FERRY_KEY_WRAP_LEN])
{
    uint8_t nonce[12], ad[FERRY_AD_MAX];
    size_t adl;

    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_KEY, 0, nonce);
    adl = ferry_ad(FERRY_KIND_KEY, 0, sid, ad);
    return aead_seal(leg, nonce, ad, adl, k, 32, out);
}

int ferry_key_unwrap(struct aead *leg, const char *sid,
                     const uint8_t in[FERRY_KEY_WRAP_LEN], uint8_t k[32])
{
    uint8_t nonce[12], ad[FERRY_AD_MAX];
    size_t adl;

    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_KEY, 0, nonce);
    adl = ferry_ad(FERRY_KIND_KEY, 0, sid, ad);
    return aead_open(leg, nonce, ad, adl, in, FERRY_KEY_WRAP_LEN, k) ==
                   FERRY_OK
               ? FERRY_OK
               : FERRY_ERR_INTEGRITY;
}

void ferry_crypto_warm(void)
{
    static const uint8_t zero[32];
    uint8_t a[32], pa[32], b[32], pb[32], shared[32], key[32], blk[16 + 16];
    uint8_t nonce[12];
    struct aead *x;
    int c;

    /* Each primitive once: OpenSSL builds its algorithm tables on first
     * use (about 3 ms for X25519 here), the rest is cheap. Results are
     * thrown away. */
    if (ferry_x25519_keygen(a, pa) == FERRY_OK &&
        ferry_x25519_keygen(b, pb) == FERRY_OK &&
        ferry_x25519(a, pb, shared) == FERRY_OK)
        for (c = 0; c < FERRY_CIPHERS; c++) {
            if (ferry_content_key(shared, zero, "warm", c, key) != FERRY_OK ||
                (x = aead_new(c, key)) == NULL)
                continue;
            memset(blk, 0, sizeof(blk));
            ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, 0, nonce);
            (void)aead_seal(x, nonce, NULL, 0, blk, 16, blk);
            aead_free(x);
        }
    ferry_wipe(a, sizeof(a));
    ferry_wipe(b, sizeof(b));
    ferry_wipe(shared, sizeof(shared));
    ferry_wipe(key, sizeof(key));
}
