/* A bounds-checked byte buffer with a read cursor (after OpenSSH's sshbuf).
 * Data lives in [off, len) of a heap block; puts append, gets consume from
 * the front. A get either consumes exactly what it returns or fails and
 * consumes nothing. Every buffer has a maximum size it never grows past.
 * Numbers are big-endian (network order). */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* Returns NULL on allocation failure. max: hard cap on stored bytes. */
struct buf *buf_new(size_t max);
/* A read-only view of caller memory; it must outlive the view. */
struct buf *buf_from(const void *data, size_t len);
/* Accepts NULL. Wipes the contents before freeing. */
void buf_free(struct buf *b);

size_t buf_len(const struct buf *b); /* unread bytes */
size_t buf_max(const struct buf *b);
size_t buf_avail(const struct buf *b); /* bytes that may still be put */
/* Pointer to the unread bytes, valid until the next modifying call. */
const uint8_t *buf_ptr(const struct buf *b);
void buf_reset(struct buf *b);

/* Each returns FERRY_OK, FERRY_ERR_NEED_MORE (get/peek: too few bytes),
 * FERRY_ERR_NO_SPACE (put: over max) or FERRY_ERR_NOMEM. */
int buf_get_u8(struct buf *b, uint8_t *v);
int buf_get_u16(struct buf *b, uint16_t *v);
int buf_get_u24(struct buf *b, uint32_t *v);
int buf_get_u32(struct buf *b, uint32_t *v);
int buf_get_u64(struct buf *b, uint64_t *v);
/* Copies len bytes into out (may be NULL to skip them). */
int buf_get_bytes(struct buf *b, void *out, size_t len);
int buf_peek_u8(const struct buf *b, size_t at, uint8_t *v);
int buf_peek_u32(const struct buf *b, size_t at, uint32_t *v);
int buf_consume(struct buf *b, size_t len);

int buf_put_u8(struct buf *b, uint8_t v);
int buf_put_u16(struct buf *b, uint16_t v);
int buf_put_u24(struct buf *b, uint32_t v);
int buf_put_u32(struct buf *b, uint32_t v);
int buf_put_u64(struct buf *b, uint64_t v);
int buf_put_bytes(struct buf *b, const void *data, size_t len);
/* Reserves len writable bytes at the end and returns them in *p; the
 * caller fills them at once. */
int buf_reserve(struct buf *b, size_t len, uint8_t **p);
/* Gives back the last len bytes of a reservation that were not filled
 * (after a short read). FERRY_OK or FERRY_ERR_BAD_VALUE. */
int buf_unreserve(struct buf *b, size_t len);

/* Raw big-endian helpers for fixed layouts. */
static inline void be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void be64_put(uint8_t *p, uint64_t v)
{
    be32_put(p, (uint32_t)(v >> 32));
    be32_put(p + 4, (uint32_t)v);
}
static inline uint16_t be16_get(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64_get(const uint8_t *p)
{
    return ((uint64_t)be32_get(p) << 32) | be32_get(p + 4);
}

#endif
