/* Ferry's end-to-end crypto on OpenSSL 3 EVP (XEP draft, "Key
 * Derivation"):
 *
 *   shared      = X25519(own private, peer public)
 *   content key = HKDF-SHA256(salt = channel key, ikm = shared,
 *                             info = label(cipher) | sid), 32 bytes
 *   label       = "ferry content v0" (aes-256-gcm),
 *                 "ferry content chacha20-poly1305 v0" (chacha20-poly1305)
 *   nonce (12)  = direction u8 | kind u8 | 0x0000 | number u64
 *   AD          = kind u8 | number u64 | sid
 *
 * The sender seals DATA and END toward the receiver (direction 1); the
 * receiver seals its VERIFIED confirmation toward the sender (direction 2),
 * so no nonce repeats under the one content key. END and VERIFIED carry
 * size u64 | digest, the digest being the tag chain below.
 *
 * Every function returns FERRY_OK or a FERRY_ERR_* code. */
#ifndef FERRY_CRYPTO_H
#define FERRY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_X25519_LEN 32
#define FERRY_KEY_LEN 32
#define FERRY_NONCE_LEN 12
#define FERRY_SID_MAX 64
#define FERRY_AD_MAX (1 + 8 + FERRY_SID_MAX)

enum { FERRY_DIR_TO_RECEIVER = 1, FERRY_DIR_TO_SENDER = 2 };
enum {
    FERRY_KIND_DATA = 1,
    FERRY_KIND_END = 2,
    FERRY_KIND_VERIFIED = 3,
    FERRY_KIND_KEY = 4,  /* fan-out: the transfer key, to one receiver */
    FERRY_KIND_CHECK = 5 /* fan-out: a leg's digest so far */
};
/* size u64 | digest (END's), sealed: the body of VERIFIED. */
#define FERRY_VERIFIED_SEALED_LEN (8 + 32 + 16)

/* The AEAD of a session (XEP "Ciphers"): both take a 32-byte key, a
 * 12-byte nonce and give a 16-byte tag, so frames are the same. */
enum ferry_cipher {
    FERRY_CIPHER_AES256GCM = 0, /* mandatory to implement */
    FERRY_CIPHER_CHACHA20POLY1305 = 1,
};
#define FERRY_CIPHERS 2 /* how many there are */
/* "aes-256-gcm", "chacha20-poly1305"; NULL for anything else. */
const char *ferry_cipher_name(int cipher);
/* The cipher named by the len bytes at s, or -1. */
int ferry_cipher_from_name(const char *s, size_t len);
/* A space-separated list of names in order of preference: the ciphers
 * named, each once, into out (at most FERRY_CIPHERS); unknown names are
 * skipped. Returns how many; 0 for NULL or a list of unknown names. */
size_t ferry_cipher_list(const char *list, int out[FERRY_CIPHERS]);
/* 1 when this CPU has AES and carry-less multiply instructions (AES-NI
 * and PCLMULQDQ on x86, the ARMv8 AES and PMULL extensions): AES-256-GCM
 * is then the faster; else ChaCha20-Poly1305 is. */
int ferry_cpu_has_aes(void);

int ferry_x25519_keygen(uint8_t priv[32], uint8_t pub[32]);
/* Refuses a peer key that gives the all-zero secret
 * (FERRY_ERR_BAD_VALUE). */
int ferry_x25519(const uint8_t priv[32], const uint8_t peer_pub[32],
                 uint8_t shared[32]);

int ferry_hkdf_sha256(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
                      size_t ikm_len, const uint8_t *info, size_t info_len,
                      uint8_t *out, size_t out_len);

/* sid: 1..FERRY_SID_MAX bytes. The label, hence the key, depends on the
 * cipher: peers that disagree on it fail integrity. */
int ferry_content_key(const uint8_t shared[32], const uint8_t chan_key[32],
                      const char *sid, int cipher, uint8_t key[32]);

void ferry_nonce(uint8_t dir, uint8_t kind, uint64_t number, uint8_t nonce[12]);
/* Writes the AD into ad (FERRY_AD_MAX bytes); returns its length. */
size_t ferry_ad(uint8_t kind, uint64_t number, const char *sid, uint8_t *ad);

/* One key of a cipher (enum ferry_cipher), reusable across chunks. */
struct aead;
struct aead *aead_new(int cipher, const uint8_t key[32]); /* NULL on
                                                             failure */
void aead_free(struct aead *a);               /* accepts NULL */
/* out receives len bytes of ciphertext then the 16-byte tag; out may equal
 * in. */
int aead_seal(struct aead *a, const uint8_t nonce[12], const uint8_t *ad,
              size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);
/* in holds ciphertext then tag (len >= 16); out gets len-16 bytes.
 * FERRY_ERR_INTEGRITY when the tag does not verify (out is then wiped). */
int aead_open(struct aead *a, const uint8_t nonce[12], const uint8_t *ad,
              size_t ad_len, const uint8_t *in, size_t len, uint8_t *out);

/* The receiver's end-to-end confirmation (XEP "Completion"): seals
 * size u64 | digest (what END carried: the tag chain) under nonce(2, 3, count) and
 * AD(3, count, sid), count being END's chunk count. */
int ferry_verified_seal(struct aead *a, const char *sid, uint64_t count,
                        uint64_t size, const uint8_t sha256[32],
                        uint8_t out[FERRY_VERIFIED_SEALED_LEN]);
/* FERRY_OK when `in` opens and names exactly this size and hash, else
 * FERRY_ERR_INTEGRITY. */
int ferry_verified_open(struct aead *a, const char *sid, uint64_t count,
                        uint64_t size, const uint8_t sha256[32],
                        const uint8_t in[FERRY_VERIFIED_SEALED_LEN]);

/* END's digest (XEP "Data Transfer"): a running SHA-256 over the AEAD tags
 * of the session's chunks, in chunk-number order from the session's first
 * chunk (0, or resume-from):
 *   SHA-256("ferry tags v0" | first u64 | tag[first] | tag[first+1] | ...)
 * ferry_tags_new() starts it (NULL on failure); add each tag with
 * ferry_tags_add(), end with sha256_final(). */
#define FERRY_TAGS_LABEL "ferry tags v0"
struct sha256;
struct sha256 *ferry_tags_new(uint64_t first);
int ferry_tags_add(struct sha256 *s, const uint8_t tag[16]);

/* Fan-out (XEP "Fan-out"). Every receiver knows the transfer key K the
 * chunks are sealed under, and with a GCM key known tags are not collision
 * resistant; so a fan-out END's digest chains a SHA-256 of each whole
 * sealed chunk (ciphertext and tag) instead of its tag:
 *   element(n) = SHA-256(sealed body of DATA n)
 *   digest     = SHA-256("ferry sealed v0" | first u64 | element(first) |
 *                        element(first+1) | ...)
 * and END goes to each receiver sealed under its own leg key, which the
 * other receivers lack. */
#define FERRY_SEALED_LABEL "ferry sealed v0"
struct sha256 *ferry_sealed_new(uint64_t first);
int ferry_sealed_element(const uint8_t *sealed, size_t len, uint8_t out[32]);
/* K sealed for one receiver under its leg key: nonce(1, 4, 0),
 * AD(4, 0, sid); 48 bytes, the body of a KEY frame. */
#define FERRY_KEY_WRAP_LEN (32 + 16)
int ferry_key_wrap(struct aead *leg, const char *sid, const uint8_t k[32],
                   uint8_t out[FERRY_KEY_WRAP_LEN]);
/* FERRY_OK with k filled, or FERRY_ERR_INTEGRITY. */
int ferry_key_unwrap(struct aead *leg, const char *sid,
                     const uint8_t in[FERRY_KEY_WRAP_LEN], uint8_t k[32]);

/* Streaming SHA-256. */
struct sha256;
struct sha256 *sha256_new(void);
void sha256_free(struct sha256 *s);
int sha256_update(struct sha256 *s, const void *p, size_t len);
int sha256_final(struct sha256 *s, uint8_t out[32]);
/* A copy of the running state, for checkpoints. NULL on failure. */
struct sha256 *sha256_dup(const struct sha256 *s);

int ferry_random(void *p, size_t len);
void ferry_wipe(void *p, size_t len);

/* Uses X25519, HKDF and the AEAD once and throws the results away: the
 * first use of each costs milliseconds of OpenSSL set-up, which a program
 * can pay early, off its critical path (libferry does it on a thread when
 * a context is made). */
void ferry_crypto_warm(void);

#endif
