/* Prints the XEP appendix test vectors, computed by common/ from fixed
 * inputs. tests/xep/check-xep.sh compares this output with the appendix,
 * so the draft cannot state a vector the code does not produce. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "chan.h"
#include "codec.h"
#include "crypto.h"
#include "err.h"
#include "frame.h"

static void show(const char *name, const uint8_t *p, size_t len)
{
    char hex[2 * 2048 + 1];

    hex_encode(p, len, hex);
    printf("%s: %s\n", name, hex);
}

/* END's digest of tags[0..n) of a session that starts at chunk `first`,
 * and, as name-input, the bytes it hashes. */
static int tags_digest(const char *name, uint64_t first, uint8_t tags[][16],
                       size_t n, uint8_t out[32])
{
    uint8_t in[sizeof(FERRY_TAGS_LABEL) - 1 + 8 + 4 * 16];
    size_t ll = sizeof(FERRY_TAGS_LABEL) - 1, i;
    struct sha256 *h = ferry_tags_new(first);
    char label[48];
    int bad = h == NULL;

    memcpy(in, FERRY_TAGS_LABEL, ll);
    be64_put(in + ll, first);
    for (i = 0; i < n && !bad; i++) {
        bad |= ferry_tags_add(h, tags[i]);
        memcpy(in + ll + 8 + 16 * i, tags[i], 16);
    }
    bad |= h == NULL || sha256_final(h, out);
    snprintf(label, sizeof(label), "%s-input", name);
    show(label, in, ll + 8 + 16 * n);
    show(name, out, 32);
    sha256_free(h);
    return bad;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
    return hex_decode(s, out, n) == FERRY_OK ? 0 : 1;
}

/* A stream (an offer without size) under its own session id, so its own
 * content key: two short chunks as the data came, then END, which alone
 * fixes the count (2) and the size (13). */
static int stream_vectors(const uint8_t shared[32], const uint8_t key[32],
                          struct buf *b)
{
    static const char sid[] = "f3rry-stream-1";
    static const char *chunks[] = {"Hello,", "stream!"};
    uint8_t ck[32], nonce[12], ad[FERRY_AD_MAX], sealed[64], endpt[40],
        endsealed[56], tags[2][16];
    char name[32];
    struct aead *a;
    uint64_t size = 0, n;
    size_t adl, len;
    int bad = 0;

    bad |= ferry_content_key(shared, key, sid, FERRY_CIPHER_AES256GCM, ck);
    printf("stream-sid: %s\n", sid);
    show("stream-content-key", ck, 32);
    a = aead_new(FERRY_CIPHER_AES256GCM, ck);
    for (n = 0; n < 2; n++) {
        len = strlen(chunks[n]);
        ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, n, nonce);
        adl = ferry_ad(FERRY_KIND_DATA, n, sid, ad);
        bad |= aead_seal(a, nonce, ad, adl, (const uint8_t *)chunks[n], len,
                         sealed);
        bad |= frame_put_data(b, n, sealed, len + 16);
        printf("stream-chunk-%d-plaintext: %s\n", (int)n, chunks[n]);
        snprintf(name, sizeof(name), "stream-data-frame-%d", (int)n);
        show(name, buf_ptr(b), buf_len(b));
        buf_reset(b);
        memcpy(tags[n], sealed + len, 16);
        size += len;
    }
    be64_put(endpt, size);
    bad |= tags_digest("stream-end-digest", 0, tags, 2, endpt + 8);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, 2, nonce);
    adl = ferry_ad(FERRY_KIND_END, 2, sid, ad);
    bad |= aead_seal(a, nonce, ad, adl, endpt, 40, endsealed);
    show("stream-end-plaintext", endpt, 40);
    show("stream-end-nonce", nonce, 12);
    show("stream-end-ad", ad, adl);
    bad |= frame_put_end(b, 2, endsealed);
    show("stream-end-frame", buf_ptr(b), buf_len(b));
    buf_reset(b);
    aead_free(a);
    return bad;
}

/* A resumed session: a file of 1037 bytes in chunks of 1024 (1024 bytes
 * 'a', then "Hello, Ferry!"); the receiver holds chunk 0 from an earlier
 * session and accepts with resume-from 1. This session sends chunk 1 and
 * END: count 2 and size 1037 are the whole file's, the digest chains the
 * tags of this session's chunks only, from chunk 1. (A real resume has a
 * fresh content key; the vector reuses the fixed keys under its own sid.) */
static int resume_vectors(const uint8_t shared[32], const uint8_t key[32],
                          struct buf *b)
{
    static const char sid[] = "f3rry-resume-1", msg[] = "Hello, Ferry!";
    uint8_t ck[32], nonce[12], ad[FERRY_AD_MAX], sealed[64], endpt[40],
        endsealed[56], tags[1][16];
    size_t adl, len = strlen(msg);
    struct aead *a;
    int bad = 0;

    bad |= ferry_content_key(shared, key, sid, FERRY_CIPHER_AES256GCM, ck);
    printf("resume-sid: %s\n", sid);
    show("resume-content-key", ck, 32);
    a = aead_new(FERRY_CIPHER_AES256GCM, ck);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, 1, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, 1, sid, ad);
    bad |= aead_seal(a, nonce, ad, adl, (const uint8_t *)msg, len, sealed);
    bad |= frame_put_data(b, 1, sealed, len + 16);
    printf("resume-chunk-1-plaintext: %s\n", msg);
    show("resume-data-frame-1", buf_ptr(b), buf_len(b));
    buf_reset(b);
    memcpy(tags[0], sealed + len, 16);
    be64_put(endpt, 1024 + len);
    bad |= tags_digest("resume-end-digest", 1, tags, 1, endpt + 8);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, 2, nonce);
    adl = ferry_ad(FERRY_KIND_END, 2, sid, ad);
    bad |= aead_seal(a, nonce, ad, adl, endpt, 40, endsealed);
    show("resume-end-plaintext", endpt, 40);
    bad |= frame_put_end(b, 2, endsealed);
    show("resume-end-frame", buf_ptr(b), buf_len(b));
    buf_reset(b);
    aead_free(a);
    return bad;
}

int main(void)
{
    static const char secret[] = "ferry test secret, 32 bytes long";
    static const char sid[] = "f3rry-test-1";
    static const char msg[] = "Hello, Ferry!";
    uint8_t id[32], key[32], ch[32], proof[32], a_priv[32], a_pub[32],
        b_priv[32], b_pub[32], shared[32], ck[32], nonce[12], ad[FERRY_AD_MAX],
        sealed[64], endpt[40], endsealed[56],
        vsealed[FERRY_VERIFIED_SEALED_LEN];
    size_t adl, i;
    struct aead *a;
    uint8_t tags[1][16];
    struct buf *b = buf_new(4096);
    int bad = 0;

    memset(id, 0, 4);
    be64_put(id + 4, 1767225600ULL); /* 2026-01-01T00:00:00Z */
    for (i = 0; i < 20; i++)
        id[12 + i] = (uint8_t)(i + 1);
    for (i = 0; i < 32; i++)
        ch[i] = (uint8_t)(0xa0 + i);
    bad |= unhex(
        "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        a_priv, 32);
    bad |= unhex(
        "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
        b_priv, 32);
    bad |= unhex(
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
        a_pub, 32);
    bad |= unhex(
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
        b_pub, 32);
    bad |= chan_key((const uint8_t *)secret, 32, id, key);
    bad |= chan_proof(key, ch, ROLE_SENDER, id, proof);
    bad |= ferry_x25519(a_priv, b_pub, shared);
    bad |= ferry_content_key(shared, key, sid, FERRY_CIPHER_AES256GCM, ck);
    show("shared-secret", (const uint8_t *)secret, 32);
    show("channel-id", id, 32);
    show("channel-key", key, 32);
    show("challenge", ch, 32);
    show("proof-sender", proof, 32);
    bad |= chan_proof(key, ch, ROLE_RECEIVER, id, proof);
    show("proof-receiver", proof, 32);
    show("sender-x25519-public", a_pub, 32);
    show("receiver-x25519-public", b_pub, 32);
    show("x25519-shared", shared, 32);
    printf("sid: %s\n", sid);
    show("content-key", ck, 32);

    a = aead_new(FERRY_CIPHER_AES256GCM, ck);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, 0, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, 0, sid, ad);
    bad |=
        aead_seal(a, nonce, ad, adl, (const uint8_t *)msg, strlen(msg), sealed);
    printf("chunk-0-plaintext: %s\n", msg);
    show("chunk-0-nonce", nonce, 12);
    show("chunk-0-ad", ad, adl);
    show("chunk-0-sealed", sealed, strlen(msg) + 16);
    bad |= frame_put_data(b, 0, sealed, strlen(msg) + 16);
    show("data-frame", buf_ptr(b), buf_len(b));
    buf_reset(b);

    memcpy(tags[0], sealed + strlen(msg), 16);
    be64_put(endpt, strlen(msg));
    bad |= tags_digest("end-digest", 0, tags, 1, endpt + 8);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, 1, nonce);
    adl = ferry_ad(FERRY_KIND_END, 1, sid, ad);
    bad |= aead_seal(a, nonce, ad, adl, endpt, 40, endsealed);
    show("end-plaintext", endpt, 40);
    show("end-nonce", nonce, 12);
    bad |= frame_put_end(b, 1, endsealed);
    show("end-frame", buf_ptr(b), buf_len(b));
    buf_reset(b);

    /* The receiver's confirmation: END's plaintext, sealed toward the
     * sender under END's chunk count. */
    bad |= ferry_verified_seal(a, sid, 1, strlen(msg), endpt + 8, vsealed);
    bad |= ferry_verified_open(a, sid, 1, strlen(msg), endpt + 8, vsealed);
    ferry_nonce(FERRY_DIR_TO_SENDER, FERRY_KIND_VERIFIED, 1, nonce);
    adl = ferry_ad(FERRY_KIND_VERIFIED, 1, sid, ad);
    show("verified-plaintext", endpt, 40);
    show("verified-nonce", nonce, 12);
    show("verified-ad", ad, adl);
    bad |= frame_put_verified(b, vsealed);
    show("verified-frame", buf_ptr(b), buf_len(b));
    buf_reset(b);
    bad |= chan_proof(key, ch, ROLE_SENDER, id, proof);
    bad |= frame_put_auth(b, ROLE_SENDER, id, proof);
    show("auth-frame-sender", buf_ptr(b), buf_len(b));
    buf_reset(b);
    aead_free(a);

    bad |= stream_vectors(shared, key, b);
    bad |= resume_vectors(shared, key, b);
    buf_free(b);
    if (bad)
        fprintf(stderr, "vectors: a computation failed\n");
    return bad ? 1 : 0;
}
