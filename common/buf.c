#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "buf.h"
#include "err.h"

struct buf {
    uint8_t *d;
    size_t off;   /* read cursor */
    size_t len;   /* end of data */
    size_t alloc; /* size of d */
    size_t max;
    int readonly;
};

struct buf *buf_new(size_t max)
{
    struct buf *b = calloc(1, sizeof(*b));
    if (b != NULL)
        b->max = max;
    return b;
}

struct buf *buf_from(const void *data, size_t len)
{
    struct buf *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->d = (uint8_t *)(uintptr_t)data;
    b->len = b->alloc = b->max = len;
    b->readonly = 1;
    return b;
}

void buf_free(struct buf *b)
{
    if (b == NULL)
        return;
    if (!b->readonly && b->d != NULL) {
        OPENSSL_cleanse(b->d, b->alloc);
        free(b->d);
    }
    free(b);
}

size_t buf_len(const struct buf *b)
{
    return b->len - b->off;
}

size_t buf_max(const struct buf *b)
{
    return b->max;
}

size_t buf_avail(const struct buf *b)
{
    return b->readonly ? 0 : b->max - buf_len(b);
}

const uint8_t *buf_ptr(const struct buf *b)
{
    return b->d == NULL ? (const uint8_t *)"" : b->d + b->off;
}

void buf_reset(struct buf *b)
{
    if (b->readonly)
        return;
    b->off = b->len = 0;
}

int buf_consume(struct buf *b, size_t len)
{
    if (buf_len(b) < len)
        return FERRY_ERR_NEED_MORE;
    b->off += len;
    if (b->off == b->len && !b->readonly)
        b->off = b->len = 0;
    return FERRY_OK;
}

int buf_get_bytes(struct buf *b, void *out, size_t len)
{
    if (buf_len(b) < len)
        return FERRY_ERR_NEED_MORE;
    if (out != NULL && len > 0)
        memcpy(out, b->d + b->off, len);
    return buf_consume(b, len);
}

int buf_get_u8(struct buf *b, uint8_t *v)
{
    return buf_get_bytes(b, v, 1);
}

int buf_get_u16(struct buf *b, uint16_t *v)
{
    uint8_t p[2];
    int r = buf_get_bytes(b, p, sizeof(p));
    if (r == FERRY_OK && v != NULL)
        *v = be16_get(p);
    return r;
}

int buf_get_u24(struct buf *b, uint32_t *v)
{
    uint8_t p[3];
    int r = buf_get_bytes(b, p, sizeof(p));
    if (r == FERRY_OK && v != NULL)
        *v = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    return r;
}

int buf_get_u32(struct buf *b, uint32_t *v)
{
    uint8_t p[4];
    int r = buf_get_bytes(b, p, sizeof(p));
    if (r == FERRY_OK && v != NULL)
        *v = be32_get(p);
    return r;
}

int buf_get_u64(struct buf *b, uint64_t *v)
{
    uint8_t p[8];
    int r = buf_get_bytes(b, p, sizeof(p));
    if (r == FERRY_OK && v != NULL)
        *v = be64_get(p);
    return r;
}

int buf_peek_u8(const struct buf *b, size_t at, uint8_t *v)
{
    if (buf_len(b) < 1 || buf_len(b) - 1 < at)
        return FERRY_ERR_NEED_MORE;
    *v = b->d[b->off + at];
    return FERRY_OK;
}

int buf_peek_u32(const struct buf *b, size_t at, uint32_t *v)
{
    if (buf_len(b) < 4 || buf_len(b) - 4 < at)
        return FERRY_ERR_NEED_MORE;
    *v = be32_get(b->d + b->off + at);
    return FERRY_OK;
}

int buf_reserve(struct buf *b, size_t len, uint8_t **p)
{
    size_t need, nalloc;
    uint8_t *nd;

    if (b->readonly || buf_avail(b) < len)
        return FERRY_ERR_NO_SPACE;
    /* Compact before growing: the read cursor only moves forward. */
    if (b->off > 0 && b->alloc - b->len < len) {
        memmove(b->d, b->d + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->alloc - b->len < len) {
        need = b->len + len;
        nalloc = b->alloc < 256 ? 256 : b->alloc;
        while (nalloc < need)
            nalloc = nalloc > b->max / 2 ? b->max : nalloc * 2;
        if (nalloc > b->max)
            nalloc = b->max;
        nd = realloc(b->d, nalloc);
        if (nd == NULL)
            return FERRY_ERR_NOMEM;
        b->d = nd;
        b->alloc = nalloc;
    }
    *p = b->d + b->len;
    b->len += len;
    return FERRY_OK;
}

int buf_unreserve(struct buf *b, size_t len)
{
    if (b->readonly || buf_len(b) < len)
        return FERRY_ERR_BAD_VALUE;
    b->len -= len;
    if (b->off == b->len)
        b->off = b->len = 0;
    return FERRY_OK;
}

int buf_put_bytes(struct buf *b, const void *data, size_t len)
{
    uint8_t *p;
    int r = buf_reserve(b, len, &p);
    if (r == FERRY_OK && len > 0)
        memcpy(p, data, len);
    return r;
}

int buf_put_u8(struct buf *b, uint8_t v)
{
    return buf_put_bytes(b, &v, 1);
}

int buf_put_u16(struct buf *b, uint16_t v)
{
    uint8_t p[2];
    be16_put(p, v);
    return buf_put_bytes(b, p, sizeof(p));
}

int buf_put_u24(struct buf *b, uint32_t v)
{
    uint8_t p[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    if (v > 0xffffff)
        return FERRY_ERR_BAD_VALUE;
    return buf_put_bytes(b, p, sizeof(p));
}

int buf_put_u32(struct buf *b, uint32_t v)
{
    uint8_t p[4];
    be32_put(p, v);
    return buf_put_bytes(b, p, sizeof(p));
}

int buf_put_u64(struct buf *b, uint64_t v)
{
    uint8_t p[8];
    be64_put(p, v);
    return buf_put_bytes(b, p, sizeof(p));
}
