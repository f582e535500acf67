#include <string.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "err.h"
#include "relay.h"

int ring_init(struct ring *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    if ((r->r_buf = malloc(cap)) == NULL)
        return FERRY_ERR_NOMEM;
    r->r_cap = cap;
    return FERRY_OK;
}

void ring_free(struct ring *r)
{
    free(r->r_buf);
    memset(r, 0, sizeof(*r));
}

size_t ring_free_space(const struct ring *r)
{
    return r->r_cap - r->r_len;
}

int ring_free_iov(struct ring *r, struct iovec iov[2])
{
    size_t tail = (r->r_head + r->r_len) % r->r_cap;
    size_t space = r->r_cap - r->r_len;
    size_t first;

    if (space == 0)
        return 0;
    first = r->r_cap - tail < space ? r->r_cap - tail : space;
    iov[0].iov_base = r->r_buf + tail;
    iov[0].iov_len = first;
    if (first == space)
        return 1;
    iov[1].iov_base = r->r_buf;
    iov[1].iov_len = space - first;
    return 2;
}

int ring_ready_iov(struct ring *r, struct iovec iov[2])
{
    size_t first;

    if (r->r_ready == 0)
        return 0;
    first =
        r->r_cap - r->r_head < r->r_ready ? r->r_cap - r->r_head : r->r_ready;
    iov[0].iov_base = r->r_buf + r->r_head;
    iov[0].iov_len = first;
    if (first == r->r_ready)
        return 1;
    iov[1].iov_base = r->r_buf;
    iov[1].iov_len = r->r_ready - first;
    return 2;
}

void ring_consume(struct ring *r, size_t n)
{
    r->r_head = (r->r_head + n) % r->r_cap;
    r->r_len -= n;
    r->r_ready -= n;
    if (r->r_len == 0)
        r->r_head = 0; /* keep writes contiguous when idle */
}

int ring_commit(struct ring *r, size_t n, ring_check_fn *check,
                ring_done_fn *done, void *ud)
{
    size_t pos = r->r_len; /* offset of the first new byte from head */
    size_t end = r->r_len + n;
    size_t take;
    uint32_t len;
    int rc;

    r->r_len = end;
    while (pos < end) {
        if (r->r_in_body) {
            take = end - pos < r->r_body_left ? end - pos : r->r_body_left;
            r->r_body_left -= (uint32_t)take;
            pos += take;
        } else {
            r->r_hdr[r->r_hdr_have++] = r->r_buf[(r->r_head + pos) % r->r_cap];
            pos++;
            if (r->r_hdr_have < FERRY_FRAME_HDR)
                continue;
            r->r_hdr_have = 0;
            len = ((uint32_t)r->r_hdr[1] << 16) | ((uint32_t)r->r_hdr[2] << 8) |
                  r->r_hdr[3];
            if ((rc = check(r->r_hdr[0], len, ud)) != FERRY_OK) {
                r->r_len = pos;
                ring_drop_partial(r);
                return rc;
            }
            r->r_cur_type = r->r_hdr[0];
            r->r_body_left = len;
            r->r_in_body = 1;
        }
        if (r->r_in_body && r->r_body_left == 0) {
            r->r_in_body = 0;
            r->r_ready = pos;
            done(r->r_cur_type, ud);
        }
    }
    return FERRY_OK;
}

void ring_drop_partial(struct ring *r)
{
    r->r_len = r->r_ready;
    r->r_hdr_have = 0;
    r->r_in_body = 0;
    r->r_body_left = 0;
    if (r->r_len == 0)
        r->r_head = 0;
}

void ring_peek(const struct ring *r, size_t off, void *p, size_t n)
{
    size_t at = (r->r_head + off) % r->r_cap;
    size_t first = r->r_cap - at < n ? r->r_cap - at : n;

    memcpy(p, r->r_buf + at, first);
    if (first < n)
        memcpy((uint8_t *)p + first, r->r_buf, n - first);
}

void ring_append(struct ring *r, const void *p, size_t n)
{
    size_t tail = (r->r_head + r->r_len) % r->r_cap;
    size_t first = r->r_cap - tail < n ? r->r_cap - tail : n;

    memcpy(r->r_buf + tail, p, first);
    if (first < n)
        memcpy(r->r_buf, (const uint8_t *)p + first, n - first);
    r->r_len += n;
    r->r_ready += n;
}

void ring_copy(struct ring *dst, const struct ring *src, size_t n)
{
    size_t first = src->r_cap - src->r_head < n ? src->r_cap - src->r_head : n;

    ring_append(dst, src->r_buf + src->r_head, first);
    if (first < n)
        ring_append(dst, src->r_buf, n - first);
}
