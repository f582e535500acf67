/* Stateless channel credentials (XEP draft, "Channel Credentials").
 *
 * channel id (32 bytes): version u8 (0) | slots u8 | reserved u8[2] (0) |
 *                        expiry u64 (Unix seconds) | random u8[20]
 * slots: 0 for a one-to-one channel, 1..FERRY_SLOTS_MAX for a fan-out
 * channel with that many receiver slots.
 * channel key  = HMAC-SHA256(shared secret, channel id)
 * slot key(i)  = HMAC-SHA256(channel key, "ferry slot v0" | i u8)
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
#define FERRY_SLOTS_MAX 64

/* Fills id with a fresh random id expiring at `expiry`. FERRY_OK or
 * FERRY_ERR_CRYPTO. */
int chan_id_new(uint64_t expiry, uint8_t id[32]);
/* The same with `slots` receiver slots (0..FERRY_SLOTS_MAX). FERRY_OK,
 * FERRY_ERR_BAD_VALUE or FERRY_ERR_CRYPTO. */
int chan_id_new_slots(uint64_t expiry, unsigned slots, uint8_t id[32]);
uint64_t chan_id_expiry(const uint8_t id[32]);
/* Byte 1 as is: 0 one-to-one; check the id with chan_id_check first. */
unsigned chan_id_slots(const uint8_t id[32]);

/* Structure and expiry: FERRY_OK, FERRY_ERR_BAD_VERSION,
 * FERRY_ERR_BAD_VALUE (reserved bits, slots over FERRY_SLOTS_MAX) or
 * FERRY_ERR_EXPIRED. */
int chan_id_check(const uint8_t id[32], uint64_t now);

/* FERRY_OK or FERRY_ERR_CRYPTO. */
int chan_key(const uint8_t *secret, size_t secret_len, const uint8_t id[32],
             uint8_t key[32]);
/* Slot key(slot) of a fan-out channel. FERRY_OK, FERRY_ERR_BAD_VALUE (slot
 * >= FERRY_SLOTS_MAX) or FERRY_ERR_CRYPTO. */
int chan_slot_key(const uint8_t chan_key[32], unsigned slot, uint8_t out[32]);
int chan_proof(const uint8_t key[32], const uint8_t challenge[32], uint8_t role,
               const uint8_t id[32], uint8_t proof[32]);

/* Verifies a proof against each of n secrets (rotation), after
 * chan_id_check. FERRY_OK or the first failing check's code
 * (FERRY_ERR_BAD_PROOF when no secret matches). Constant-time compare. */
int chan_verify(const uint8_t *const *secrets, const size_t *secret_lens,
                size_t n, const uint8_t id[32], const uint8_t challenge[32],
                uint8_t role, const uint8_t proof[32], uint64_t now);

#endif
