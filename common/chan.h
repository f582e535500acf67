/* Stateless channel credentials (XEP draft, "Channel Credentials").
 *
 * channel id (32 bytes): version u8 (0) | reserved u8[3] (0) |
 *                        expiry u64 (Unix seconds) | random u8[20]
 * channel key  = HMAC-SHA256(shared secret, channel id)
 * proof        = HMAC-SHA256(channel key, "ferry proof v0" | challenge |
 *                            role u8 | channel id)
 *
 * The component mints ids; a relay re-derives the key from the id, so no
 * allocation state is shared. The key never crosses the relay link. */
#ifndef FERRY_CHAN_H
#define FERRY_CHAN_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_CHAN_KEY_LEN 32
#define FERRY_CHAN_ID_VERSION 0
#define FERRY_SECRET_MIN 16
#define FERRY_SECRET_MAX 256

/* Fills id with a fresh random id expiring at `expiry`. FERRY_OK or
 * FERRY_ERR_CRYPTO. */
int chan_id_new(uint64_t expiry, uint8_t id[32]);
uint64_t chan_id_expiry(const uint8_t id[32]);

/* Structure and expiry: FERRY_OK, FERRY_ERR_BAD_VERSION,
 * FERRY_ERR_BAD_VALUE (reserved bits) or FERRY_ERR_EXPIRED. */
int chan_id_check(const uint8_t id[32], uint64_t now);

/* FERRY_OK or FERRY_ERR_CRYPTO. */
int chan_key(const uint8_t *secret, size_t secret_len, const uint8_t id[32],
             uint8_t key[32]);
int chan_proof(const uint8_t key[32], const uint8_t challenge[32], uint8_t role,
               const uint8_t id[32], uint8_t proof[32]);

/* Verifies a proof against each of n secrets (rotation), after
 * chan_id_check. FERRY_OK or the first failing check's code
 * (FERRY_ERR_BAD_PROOF when no secret matches). Constant-time compare. */
int chan_verify(const uint8_t *const *secrets, const size_t *secret_lens,
                size_t n, const uint8_t id[32], const uint8_t challenge[32],
                uint8_t role, const uint8_t proof[32], uint64_t now);

#endif
