#include <string.h>

#include "err.h"
#include "frame.h"

_Static_assert(FERRY_VERIFIED_SEALED_LEN ==
                   8 + FERRY_SHA256_LEN + FERRY_TAG_LEN,
               "VERIFIED seals size u64 | SHA-256");

static const struct frame_info table[] = {
#define X(n, code, mn, mx, who) {#n, code, mn, mx, who},
    FRAME_TABLE(X)
#undef X
};

const struct frame_info *frame_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}

const struct frame_info *frame_info(uint8_t type)
{
    size_t i;

    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].type == type)
            return &table[i];
    return NULL;
}

const char *frame_name(uint8_t type)
{
    const struct frame_info *fi = frame_info(type);
    return fi ? fi->name : "UNKNOWN";
}

int frame_check_header(uint8_t type, uint32_t body_len, uint32_t max_body)
{
    const struct frame_info *fi = frame_info(type);

    if (fi == NULL)
        return FERRY_ERR_UNKNOWN_TYPE;
    if (body_len > fi->max_body && fi->min_body != fi->max_body)
        return FERRY_ERR_TOO_LARGE;
    if (body_len < fi->min_body || body_len > fi->max_body)
        return FERRY_ERR_BAD_LENGTH;
    if (body_len > max_body)
        return FERRY_ERR_TOO_LARGE;
    return FERRY_OK;
}

/* A LEG's inner frame: one whole frame of exactly len bytes, not a LEG. A
 * truncated or padded inner frame is malformed; an inner frame that is whole
 * but wrong gets its own code. */
static int check_inner(const uint8_t *p, size_t len)
{
    struct frame in;
    size_t used = 0;
    int r;

    if (len < FERRY_FRAME_HDR || p[0] == FRAME_LEG)
        return FERRY_ERR_MALFORMED;
    r = frame_decode(p, len, FERRY_FRAME_MAX, &in, &used);
    if (r == FERRY_ERR_NEED_MORE || (r == FERRY_OK && used != len))
        return FERRY_ERR_MALFORMED;
    return r;
}

static int parse_body(struct frame *f)
{
    const uint8_t *b = f->body;
    size_t i;

    switch (f->type) {
    case FRAME_HELLO:
        f->version = b[0];
        f->challenge = b + 1;
        if (f->version != FERRY_PROTO_VERSION)
            return FERRY_ERR_BAD_VERSION;
        break;
    case FRAME_AUTH:
        f->version = b[0];
        f->role = b[1];
        f->chan_id = b + 2;
        f->proof = b + 2 + FERRY_CHAN_ID_LEN;
        if (f->body_len == FERRY_AUTH_SLOT_LEN) {
            f->has_slot = 1;
            f->slot = b[FERRY_AUTH_LEN];
        }
        if (f->version != FERRY_PROTO_VERSION)
            return FERRY_ERR_BAD_VERSION;
        if (f->role != ROLE_SENDER && f->role != ROLE_RECEIVER)
            return FERRY_ERR_BAD_VALUE;
        break;
    case FRAME_ADMITTED:
        f->flag = b[0];
        if (f->flag > 1)
            return FERRY_ERR_BAD_VALUE;
        break;
    case FRAME_DATA:
    case FRAME_END:
    case FRAME_CHECK:
        f->number = be64_get(b);
        f->sealed = b + 8;
        f->sealed_len = f->body_len - 8;
        break;
    case FRAME_VERIFIED:
    case FRAME_KEY:
        f->sealed = b;
        f->sealed_len = f->body_len;
        break;
    case FRAME_ACK:
        f->number = be64_get(b);
        break;
    case FRAME_CANCEL:
    case FRAME_PEER_GONE:
        f->code = be16_get(b);
        if (!ferry_err_is_wire(f->code))
            return FERRY_ERR_BAD_VALUE;
        break;
    case FRAME_SLOW_DOWN:
        f->queued = be32_get(b);
        break;
    case FRAME_ERROR:
        f->code = be16_get(b);
        f->text = (const char *)b + 2;
        f->text_len = f->body_len - 2;
        if (!ferry_err_is_wire(f->code))
            return FERRY_ERR_BAD_VALUE;
        /* Text is for humans: printable ASCII only, so logs stay safe. */
        for (i = 0; i < f->text_len; i++)
            if (f->text[i] < 0x20 || f->text[i] > 0x7e)
                return FERRY_ERR_BAD_VALUE;
        break;
    case FRAME_LEG:
        f->slot = b[0];
        f->inner = b + 1;
        f->inner_len = f->body_len - 1;
        return check_inner(f->inner, f->inner_len);
    default:
        break;
    }
    return FERRY_OK;
}

int frame_decode(const uint8_t *p, size_t len, uint32_t max_body,
                 struct frame *f, size_t *used)
{
    uint32_t body_len;
    int r;

    memset(f, 0, sizeof(*f));
    if (len < 1)
        return FERRY_ERR_NEED_MORE;
    /* An unknown type is refused from its first byte. */
    if (frame_info(p[0]) == NULL)
        return FERRY_ERR_UNKNOWN_TYPE;
    if (len < FERRY_FRAME_HDR)
        return FERRY_ERR_NEED_MORE;
    body_len = ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    if ((r = frame_check_header(p[0], body_len, max_body)) != FERRY_OK)
        return r;
    if (len - FERRY_FRAME_HDR < body_len)
        return FERRY_ERR_NEED_MORE;
    f->type = p[0];
    f->body_len = body_len;
    f->body = p + FERRY_FRAME_HDR;
    if ((r = parse_body(f)) != FERRY_OK)
        return r;
    *used = FERRY_FRAME_HDR + (size_t)body_len;
    return FERRY_OK;
}

int frame_put_header(struct buf *b, uint8_t type, uint32_t body_len)
{
    uint8_t h[FERRY_FRAME_HDR];

    if (body_len > 0xffffff)
        return FERRY_ERR_BAD_VALUE;
    h[0] = type;
    h[1] = (uint8_t)(body_len >> 16);
    h[2] = (uint8_t)(body_len >> 8);
    h[3] = (uint8_t)body_len;
    return buf_put_bytes(b, h, sizeof(h));
}

/* Puts header and body in one reservation so a frame is never half
 * written when the buffer is full. */
static int put_frame(struct buf *b, uint8_t type, const void *p1, size_t l1,
                     const void *p2, size_t l2)
{
    uint8_t *p;
    size_t body = l1 + l2;
    int r;

    if (body > 0xffffff)
        return FERRY_ERR_BAD_VALUE;
    if ((r = buf_reserve(b, FERRY_FRAME_HDR + body, &p)) != FERRY_OK)
        return r;
    p[0] = type;
    p[1] = (uint8_t)(body >> 16);
    p[2] = (uint8_t)(body >> 8);
    p[3] = (uint8_t)body;
    if (l1 > 0)
        memcpy(p + FERRY_FRAME_HDR, p1, l1);
    if (l2 > 0)
        memcpy(p + FERRY_FRAME_HDR + l1, p2, l2);
    return FERRY_OK;
}

int frame_put_hello(struct buf *b, const uint8_t challenge[32])
{
    uint8_t v = FERRY_PROTO_VERSION;
    return put_frame(b, FRAME_HELLO, &v, 1, challenge, FERRY_CHALLENGE_LEN);
}

int frame_put_auth(struct buf *b, uint8_t role, const uint8_t chan_id[32],
                   const uint8_t proof[32])
{
    uint8_t body[FERRY_AUTH_LEN];

    body[0] = FERRY_PROTO_VERSION;
    body[1] = role;
    memcpy(body + 2, chan_id, FERRY_CHAN_ID_LEN);
    memcpy(body + 2 + FERRY_CHAN_ID_LEN, proof, FERRY_PROOF_LEN);
    return put_frame(b, FRAME_AUTH, body, sizeof(body), NULL, 0);
}

int frame_put_auth_slot(struct buf *b, uint8_t role, const uint8_t id[32],
                        const uint8_t proof[32], uint8_t slot)
{
    uint8_t body[FERRY_AUTH_SLOT_LEN];

    body[0] = FERRY_PROTO_VERSION;
    body[1] = role;
    memcpy(body + 2, id, FERRY_CHAN_ID_LEN);
    memcpy(body + 2 + FERRY_CHAN_ID_LEN, proof, FERRY_PROOF_LEN);
    body[FERRY_AUTH_LEN] = slot;
    return put_frame(b, FRAME_AUTH, body, sizeof(body), NULL, 0);
}

int frame_put_admitted(struct buf *b, uint8_t peer_present)
{
    return put_frame(b, FRAME_ADMITTED, &peer_present, 1, NULL, 0);
}

int frame_put_data(struct buf *b, uint64_t number, const uint8_t *sealed,
                   size_t sealed_len)
{
    uint8_t n[8];

    if (sealed_len < FERRY_TAG_LEN + 1 ||
        sealed_len > FERRY_CHUNK_MAX + FERRY_TAG_LEN)
        return FERRY_ERR_BAD_VALUE;
    be64_put(n, number);
    return put_frame(b, FRAME_DATA, n, 8, sealed, sealed_len);
}

int frame_put_end(struct buf *b, uint64_t count,
                  const uint8_t sealed[FERRY_END_SEALED_LEN])
{
    uint8_t n[8];

    be64_put(n, count);
    return put_frame(b, FRAME_END, n, 8, sealed, FERRY_END_SEALED_LEN);
}

int frame_put_ack(struct buf *b, uint64_t next)
{
    uint8_t n[8];

    be64_put(n, next);
    return put_frame(b, FRAME_ACK, n, 8, NULL, 0);
}

int frame_put_verified(struct buf *b,
                       const uint8_t sealed[FERRY_VERIFIED_SEALED_LEN])
{
    return put_frame(b, FRAME_VERIFIED, sealed, FERRY_VERIFIED_SEALED_LEN, NULL,
                     0);
}

int frame_put_key(struct buf *b, const uint8_t sealed[FERRY_KEY_SEALED_LEN])
{
    return put_frame(b, FRAME_KEY, sealed, FERRY_KEY_SEALED_LEN, NULL, 0);
}

int frame_put_check(struct buf *b, uint64_t number,
                    const uint8_t sealed[FERRY_CHECK_SEALED_LEN])
{
    uint8_t n[8];

    be64_put(n, number);
    return put_frame(b, FRAME_CHECK, n, 8, sealed, FERRY_CHECK_SEALED_LEN);
}

int frame_put_leg(struct buf *b, uint8_t slot, const uint8_t *inner,
                  size_t inner_len)
{
    if (inner_len > FERRY_LEG_MAX - 1 ||
        check_inner(inner, inner_len) != FERRY_OK)
        return FERRY_ERR_BAD_VALUE;
    return put_frame(b, FRAME_LEG, &slot, 1, inner, inner_len);
}

int frame_put_code(struct buf *b, uint8_t type, uint16_t code)
{
    uint8_t c[2];

    if ((type != FRAME_CANCEL && type != FRAME_PEER_GONE) ||
        !ferry_err_is_wire(code))
        return FERRY_ERR_BAD_VALUE;
    be16_put(c, code);
    return put_frame(b, type, c, 2, NULL, 0);
}

int frame_put_empty(struct buf *b, uint8_t type)
{
    const struct frame_info *fi = frame_info(type);

    if (fi == NULL || fi->max_body != 0)
        return FERRY_ERR_BAD_VALUE;
    return put_frame(b, type, NULL, 0, NULL, 0);
}

int frame_put_slow_down(struct buf *b, uint32_t queued)
{
    uint8_t q[4];

    be32_put(q, queued);
    return put_frame(b, FRAME_SLOW_DOWN, q, 4, NULL, 0);
}

int frame_put_error(struct buf *b, uint16_t code, const char *text)
{
    uint8_t c[2];
    size_t tl = text ? strlen(text) : 0, i;

    if (!ferry_err_is_wire(code))
        return FERRY_ERR_BAD_VALUE;
    if (tl > FERRY_ERROR_TEXT_MAX)
        tl = FERRY_ERROR_TEXT_MAX;
    for (i = 0; i < tl; i++)
        if (text[i] < 0x20 || text[i] > 0x7e)
            return FERRY_ERR_BAD_VALUE;
    be16_put(c, code);
    return put_frame(b, FRAME_ERROR, c, 2, text, tl);
}
