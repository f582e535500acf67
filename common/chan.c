#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "buf.h"
#include "chan.h"
#include "err.h"

#define PROOF_LABEL "ferry proof v0"
#define SLOT_LABEL "ferry slot v0"

int chan_id_new_slots(uint64_t expiry, unsigned slots, uint8_t id[32])
{
    if (slots > FERRY_SLOTS_MAX)
        return FERRY_ERR_BAD_VALUE;
    memset(id, 0, 4);
    id[0] = FERRY_CHAN_ID_VERSION;
    id[1] = (uint8_t)slots;
    be64_put(id + 4, expiry);
    if (RAND_bytes(id + 12, 20) != 1)
        return FERRY_ERR_CRYPTO;
    return FERRY_OK;
}

int chan_id_new(uint64_t expiry, uint8_t id[32])
{
    return chan_id_new_slots(expiry, 0, id);
}

unsigned chan_id_slots(const uint8_t id[32])
{
    return id[1];
}

uint64_t chan_id_expiry(const uint8_t id[32])
{
    return be64_get(id + 4);
}

int chan_id_check(const uint8_t id[32], uint64_t now)
{
    if (id[0] != FERRY_CHAN_ID_VERSION)
        return FERRY_ERR_BAD_VERSION;
    if (id[1] > FERRY_SLOTS_MAX || id[2] != 0 || id[3] != 0)
        return FERRY_ERR_BAD_VALUE;
    if (chan_id_expiry(id) < now)
        return FERRY_ERR_EXPIRED;
    return FERRY_OK;
}

int chan_key(const uint8_t *secret, size_t secret_len, const uint8_t id[32],
             uint8_t key[32])
{
    unsigned int len = 32;

    if (HMAC(EVP_sha256(), secret, (int)secret_len, id, 32, key, &len) ==
            NULL ||
        len != 32)
        return FERRY_ERR_CRYPTO;
    return FERRY_OK;
}

int chan_slot_key(const uint8_t chan_key[32], unsigned slot, uint8_t out[32])
{
    uint8_t msg[sizeof(SLOT_LABEL) - 1 + 1];
    unsigned int len = 32;

    if (slot >= FERRY_SLOTS_MAX)
        return FERRY_ERR_BAD_VALUE;
    memcpy(msg, SLOT_LABEL, sizeof(SLOT_LABEL) - 1);
    msg[sizeof(SLOT_LABEL) - 1] = (uint8_t)slot;
    if (HMAC(EVP_sha256(), chan_key, 32, msg, sizeof(msg), out, &len) == NULL ||
        len != 32)
        return FERRY_ERR_CRYPTO;
    return FERRY_OK;
}

int chan_proof(const uint8_t key[32], const uint8_t challenge[32], uint8_t role,
               const uint8_t id[32], uint8_t proof[32])
{
    uint8_t msg[sizeof(PROOF_LABEL) - 1 + 32 + 1 + 32];
    unsigned int len = 32;
    size_t o = sizeof(PROOF_LABEL) - 1;
    int r = FERRY_OK;

    memcpy(msg, PROOF_LABEL, o);
    memcpy(msg + o, challenge, 32);
    msg[o + 32] = role;
    memcpy(msg + o + 33, id, 32);
    if (HMAC(EVP_sha256(), key, 32, msg, sizeof(msg), proof, &len) == NULL ||
        len != 32)
        r = FERRY_ERR_CRYPTO;
    OPENSSL_cleanse(msg, sizeof(msg));
    return r;
}

int chan_verify(const uint8_t *const *secrets, const size_t *secret_lens,
                size_t n, const uint8_t id[32], const uint8_t challenge[32],
                uint8_t role, const uint8_t proof[32], uint64_t now)
{
    uint8_t key[32], want[32];
    size_t i;
    int r;

    if ((r = chan_id_check(id, now)) != FERRY_OK)
        return r;
    r = FERRY_ERR_BAD_PROOF;
    for (i = 0; i < n; i++) {
        if (chan_key(secrets[i], secret_lens[i], id, key) != FERRY_OK ||
            chan_proof(key, challenge, role, id, want) != FERRY_OK) {
            r = FERRY_ERR_CRYPTO;
            break;
        }
        if (CRYPTO_memcmp(want, proof, 32) == 0) {
            r = FERRY_OK;
            break;
        }
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(want, sizeof(want));
    return r;
}
