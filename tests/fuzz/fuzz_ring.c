/* Fuzz target: the relay's ring and its frame scanner (relay/ring.c),
 * against a model. Input: [capacity][body limit] then steps of
 * [control][bytes...]: the low 6 bits of control + 1 bytes are appended
 * (as the relay's readv would), the top 2 bits say how much of what is
 * ready the writer takes (nothing, one byte, half, all). After every step
 * the ready bytes must be exactly the whole frames a plain scan of the
 * same stream finds, and a refused header must be refused at once. */
#include <string.h>
#include <sys/uio.h>

#include "err.h"
#include "fuzz.h"
#include "relay.h"

#define REFUSED_TYPE 0xff

static uint32_t body_limit;
static int nchecks, ndone;

static int check(uint8_t type, uint32_t len, void *ud)
{
    (void)ud;
    nchecks++;
    if (type == REFUSED_TYPE)
        return FERRY_ERR_UNKNOWN_TYPE;
    return len > body_limit ? FERRY_ERR_TOO_LARGE : FERRY_OK;
}

static void done(uint8_t type, void *ud)
{
    (void)type;
    (void)ud;
    ndone++;
}

/* The model: whole frames at the start of s[0..n), and whether a header
 * among them is refused. */
static size_t model_ready(const uint8_t *s, size_t n, int *refused,
                          size_t *frames)
{
    size_t pos = 0;
    uint32_t len;

    *refused = 0;
    *frames = 0;
    while (pos + FERRY_FRAME_HDR <= n) {
        len = (uint32_t)s[pos + 1] << 16 | (uint32_t)s[pos + 2] << 8 |
              s[pos + 3];
        if (s[pos] == REFUSED_TYPE || len > body_limit) {
            *refused = 1;
            break;
        }
        if (pos + FERRY_FRAME_HDR + len > n)
            break;
        pos += FERRY_FRAME_HDR + len;
        (*frames)++;
    }
    return pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ring r;
    struct iovec iov[2];
    uint8_t *flat;
    size_t flat_len = 0, consumed = 0, i = 2, k, want, room, frames, o;
    int cnt, rc, refused, j;

    if (size < 2)
        return 0;
    body_limit = data[1];
    /* Always room for the largest frame allowed, as the relay ensures. */
    if (ring_init(&r, FERRY_FRAME_HDR + body_limit + data[0]) != FERRY_OK)
        return 0;
    flat = malloc(size);
    nchecks = ndone = 0;
    while (i < size) {
        uint8_t ctl = data[i++];
        want = (size_t)(ctl & 0x3f) + 1;
        if (want > size - i)
            want = size - i;
        room = ring_free_space(&r);
        if (want > room)
            want = room;
        /* Append like readv: into the free iovecs, in order. */
        cnt = ring_free_iov(&r, iov);
        FUZZ_ASSERT(room == 0 ? cnt == 0 : cnt >= 1);
        for (j = 0, k = 0; j < cnt && k < want; j++) {
            size_t t = want - k < iov[j].iov_len ? want - k : iov[j].iov_len;
            memcpy(iov[j].iov_base, data + i + k, t);
            k += t;
        }
        FUZZ_ASSERT(k == want);
        memcpy(flat + flat_len, data + i, want);
        flat_len += want;
        i += want;
        rc = ring_commit(&r, want, check, done, NULL);
        size_t m = model_ready(flat, flat_len, &refused, &frames);
        FUZZ_ASSERT(consumed + r.r_ready == m);
        FUZZ_ASSERT((size_t)ndone == frames);
        FUZZ_ASSERT(r.r_ready <= r.r_len && r.r_len <= r.r_cap);
        FUZZ_ASSERT(r.r_head < r.r_cap);
        if (refused) {
            /* refused in this very commit, partial frame dropped */
            FUZZ_ASSERT(rc != FERRY_OK);
            FUZZ_ASSERT(r.r_len == r.r_ready);
            break;
        }
        FUZZ_ASSERT(rc == FERRY_OK);
        FUZZ_ASSERT(consumed + r.r_len == flat_len);
        /* The ring never fills with a partial frame alone. */
        FUZZ_ASSERT(ring_free_space(&r) > 0 || r.r_ready > 0);
        /* The ready bytes are the stream's bytes, in order. */
        cnt = ring_ready_iov(&r, iov);
        for (j = 0, o = 0; j < cnt; j++) {
            FUZZ_ASSERT(memcmp(iov[j].iov_base, flat + consumed + o,
                               iov[j].iov_len) == 0);
            o += iov[j].iov_len;
        }
        FUZZ_ASSERT(o == r.r_ready);
        switch (ctl >> 6) {
        case 1:
            k = r.r_ready > 0 ? 1 : 0;
            break;
        case 2:
            k = r.r_ready / 2;
            break;
        case 3:
            k = r.r_ready;
            break;
        default:
            k = 0;
        }
        ring_consume(&r, k);
        consumed += k;
    }
    free(flat);
    ring_free(&r);
    return 0;
}
