/* relay/ring.c: the relay's per-direction ring and its frame scanner
 * (ring_commit), which decides which bytes the writer may forward. */
#include <check.h>
#include <string.h>
#include <sys/uio.h>

#include "err.h"
#include "relay.h"

#define BAD_TYPE 0xee

/* What the scanner reported, in order. */
static struct seen {
    int nchecks, ndone;
    uint8_t check_type[64];
    uint32_t check_len[64];
    uint8_t done_type[64];
    size_t done_ready[64]; /* r_ready when done() ran */
} seen;
static struct ring *cur;

static int check_cb(uint8_t type, uint32_t len, void *ud)
{
    (void)ud;
    if (seen.nchecks < 64) {
        seen.check_type[seen.nchecks] = type;
        seen.check_len[seen.nchecks] = len;
    }
    seen.nchecks++;
    if (type == BAD_TYPE)
        return FERRY_ERR_UNKNOWN_TYPE;
    return len > 1000 ? FERRY_ERR_TOO_LARGE : FERRY_OK;
}

static void done_cb(uint8_t type, void *ud)
{
    (void)ud;
    if (seen.ndone < 64) {
        seen.done_type[seen.ndone] = type;
        seen.done_ready[seen.ndone] = cur->r_ready;
    }
    seen.ndone++;
}

/* Copies n bytes into the ring's free space (as readv would) and commits
 * them. */
static int feed(struct ring *r, const uint8_t *p, size_t n)
{
    struct iovec iov[2];
    int cnt = ring_free_iov(r, iov), i;
    size_t left = n, k;

    ck_assert_uint_ge(ring_free_space(r), n);
    for (i = 0; i < cnt && left > 0; i++) {
        k = left < iov[i].iov_len ? left : iov[i].iov_len;
        memcpy(iov[i].iov_base, p + (n - left), k);
        left -= k;
    }
    ck_assert_uint_eq(left, 0);
    cur = r;
    return ring_commit(r, n, check_cb, done_cb, NULL);
}

/* Frame of type t with a body of len bytes (each byte = fill). */
static size_t frame(uint8_t *out, uint8_t t, uint32_t len, uint8_t fill)
{
    out[0] = t;
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    memset(out + 4, fill, len);
    return 4 + len;
}

/* The ready bytes, copied out in order. */
static size_t ready_bytes(struct ring *r, uint8_t *out)
{
    struct iovec iov[2];
    int cnt = ring_ready_iov(r, iov), i;
    size_t o = 0;

    for (i = 0; i < cnt; i++) {
        memcpy(out + o, iov[i].iov_base, iov[i].iov_len);
        o += iov[i].iov_len;
    }
    ck_assert_uint_eq(o, r->r_ready);
    return o;
}

static void setup(void)
{
    memset(&seen, 0, sizeof(seen));
}

START_TEST(commit_whole_frame_makes_it_ready)
{
    struct ring r;
    uint8_t f[64], out[64];
    size_t n = frame(f, 0x10, 20, 0xab);

    ck_assert_int_eq(ring_init(&r, 64), FERRY_OK);
    ck_assert_int_eq(feed(&r, f, n), FERRY_OK);
    ck_assert_int_eq(seen.nchecks, 1);
    ck_assert_uint_eq(seen.check_type[0], 0x10);
    ck_assert_uint_eq(seen.check_len[0], 20);
    ck_assert_int_eq(seen.ndone, 1);
    ck_assert_uint_eq(seen.done_type[0], 0x10);
    ck_assert_uint_eq(seen.done_ready[0], n);
    ck_assert_uint_eq(r.r_ready, n);
    ck_assert_uint_eq(r.r_len, n);
    ck_assert_uint_eq(ready_bytes(&r, out), n);
    ck_assert_int_eq(memcmp(out, f, n), 0);
    ring_free(&r);
}
END_TEST

START_TEST(commit_byte_by_byte_ready_only_at_last_byte)
{
    struct ring r;
    uint8_t f[64];
    size_t n = frame(f, 0x10, 9, 1), i;

    ck_assert_int_eq(ring_init(&r, 64), FERRY_OK);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(feed(&r, f + i, 1), FERRY_OK);
        /* the header is checked once, when its fourth byte arrives */
        ck_assert_int_eq(seen.nchecks, i >= 3 ? 1 : 0);
        ck_assert_uint_eq(r.r_ready, i == n - 1 ? n : 0);
        ck_assert_uint_eq(r.r_len, i + 1);
    }
    ck_assert_int_eq(seen.ndone, 1);
    ring_free(&r);
}
END_TEST

START_TEST(commit_several_frames_at_once_reports_each)
{
    struct ring r;
    uint8_t buf[128];
    size_t n = 0, a, b;

    n += a = frame(buf, 0x10, 10, 1);
    n += b = frame(buf + n, 0x12, 8, 2);
    n += frame(buf + n, 0x22, 0, 0); /* empty body: done at its header */
    n += frame(buf + n, 0x10, 5, 3) - 2; /* the last one cut short */
    ck_assert_int_eq(ring_init(&r, 128), FERRY_OK);
    ck_assert_int_eq(feed(&r, buf, n), FERRY_OK);
    ck_assert_int_eq(seen.nchecks, 4);
    ck_assert_int_eq(seen.ndone, 3);
    ck_assert_uint_eq(seen.done_type[0], 0x10);
    ck_assert_uint_eq(seen.done_ready[0], a);
    ck_assert_uint_eq(seen.done_type[1], 0x12);
    ck_assert_uint_eq(seen.done_ready[1], a + b);
    ck_assert_uint_eq(seen.done_type[2], 0x22);
    ck_assert_uint_eq(seen.done_ready[2], a + b + 4);
    ck_assert_uint_eq(r.r_ready, a + b + 4);
    ck_assert_uint_eq(r.r_len, n);
    /* the rest of the last frame completes it */
    ck_assert_int_eq(feed(&r, buf + n - 1, 2), FERRY_OK);
    ck_assert_int_eq(seen.ndone, 4);
    ck_assert_uint_eq(r.r_ready, n + 2);
    ring_free(&r);
}
END_TEST

START_TEST(commit_header_split_across_commits)
{
    struct ring r;
    uint8_t f[32];
    size_t n = frame(f, 0x12, 8, 7);

    ck_assert_int_eq(ring_init(&r, 32), FERRY_OK);
    ck_assert_int_eq(feed(&r, f, 2), FERRY_OK);
    ck_assert_int_eq(seen.nchecks, 0);
    ck_assert_int_eq(feed(&r, f + 2, 3), FERRY_OK);
    ck_assert_int_eq(seen.nchecks, 1);
    ck_assert_uint_eq(seen.check_len[0], 8);
    ck_assert_int_eq(feed(&r, f + 5, n - 5), FERRY_OK);
    ck_assert_int_eq(seen.ndone, 1);
    ck_assert_uint_eq(r.r_ready, n);
    ring_free(&r);
}
END_TEST

START_TEST(commit_across_the_wrap_keeps_bytes_and_order)
{
    struct ring r;
    uint8_t a[32], b[32], out[32];
    size_t na = frame(a, 0x10, 26, 0x11), nb = frame(b, 0x12, 20, 0x22), i;

    ck_assert_int_eq(ring_init(&r, 32), FERRY_OK);
    /* A (30 bytes) and the first 2 bytes of B's header fill the ring;
     * once A is written out, B's header straddles the end of the buffer. */
    ck_assert_int_eq(feed(&r, a, na), FERRY_OK);
    ck_assert_int_eq(feed(&r, b, 2), FERRY_OK);
    ck_assert_uint_eq(ring_free_space(&r), 0);
    ring_consume(&r, na);
    ck_assert_uint_eq(r.r_head, 30);
    ck_assert_uint_eq(r.r_ready, 0);
    ck_assert_uint_eq(r.r_len, 2);
    ck_assert_int_eq(feed(&r, b + 2, nb - 2), FERRY_OK);
    ck_assert_int_eq(seen.nchecks, 2);
    ck_assert_uint_eq(seen.check_type[1], 0x12);
    ck_assert_uint_eq(seen.check_len[1], 20);
    ck_assert_int_eq(seen.ndone, 2);
    ck_assert_uint_eq(r.r_ready, nb);
    ck_assert_uint_eq(ready_bytes(&r, out), nb);
    for (i = 0; i < nb; i++)
        ck_assert_uint_eq(out[i], b[i]);
    ring_free(&r);
}
END_TEST

START_TEST(commit_refused_header_drops_partial_keeps_ready)
{
    struct ring r;
    uint8_t buf[64];
    size_t n = 0, a;
    int rc;

    n += a = frame(buf, 0x10, 6, 1);
    n += frame(buf + n, BAD_TYPE, 3, 2);
    ck_assert_int_eq(ring_init(&r, 64), FERRY_OK);
    rc = feed(&r, buf, n);
    ck_assert_int_eq(rc, FERRY_ERR_UNKNOWN_TYPE);
    ck_assert_int_eq(seen.ndone, 1);
    /* The good frame stays for the writer; the bad one is gone. */
    ck_assert_uint_eq(r.r_ready, a);
    ck_assert_uint_eq(r.r_len, a);
    ck_assert_uint_eq(r.r_hdr_have, 0);
    ck_assert_int_eq(r.r_in_body, 0);
    ring_free(&r);
}
END_TEST

START_TEST(commit_refused_length_stops_scan_at_header)
{
    struct ring r;
    uint8_t buf[16] = {0x10, 0x00, 0x10, 0x00, 9, 9, 9, 9};
    int rc;

    ck_assert_int_eq(ring_init(&r, 16), FERRY_OK);
    rc = feed(&r, buf, 8); /* 4096-byte body announced: too large */
    ck_assert_int_eq(rc, FERRY_ERR_TOO_LARGE);
    ck_assert_int_eq(seen.nchecks, 1);
    ck_assert_int_eq(seen.ndone, 0);
    ck_assert_uint_eq(r.r_len, 0);
    ck_assert_uint_eq(r.r_ready, 0);
    ck_assert_uint_eq(r.r_head, 0);
    ring_free(&r);
}
END_TEST

START_TEST(drop_partial_forgets_half_frame)
{
    struct ring r;
    uint8_t buf[64];
    size_t n = 0, a;

    n += a = frame(buf, 0x10, 4, 1);
    n += frame(buf + n, 0x10, 10, 2);
    ck_assert_int_eq(ring_init(&r, 64), FERRY_OK);
    ck_assert_int_eq(feed(&r, buf, a + 6), FERRY_OK); /* header + 2 */
    ck_assert_int_eq(r.r_in_body, 1);
    ring_drop_partial(&r);
    ck_assert_uint_eq(r.r_len, a);
    ck_assert_uint_eq(r.r_ready, a);
    ck_assert_int_eq(r.r_in_body, 0);
    /* A fresh frame after the drop is scanned from its header. */
    ck_assert_int_eq(feed(&r, buf, a), FERRY_OK);
    ck_assert_uint_eq(r.r_ready, 2 * a);
    ck_assert_int_eq(seen.ndone, 2);
    ring_free(&r);
}
END_TEST

START_TEST(full_ring_has_no_free_iov)
{
    struct ring r;
    uint8_t buf[16];
    struct iovec iov[2];

    frame(buf, 0x10, 12, 5);
    ck_assert_int_eq(ring_init(&r, 16), FERRY_OK);
    ck_assert_int_eq(feed(&r, buf, 16), FERRY_OK);
    ck_assert_uint_eq(ring_free_space(&r), 0);
    ck_assert_int_eq(ring_free_iov(&r, iov), 0);
    ck_assert_uint_eq(r.r_ready, 16);
    ring_consume(&r, 16);
    ck_assert_uint_eq(r.r_len, 0);
    ck_assert_uint_eq(r.r_head, 0);
    ck_assert_int_eq(ring_free_iov(&r, iov), 1);
    ck_assert_uint_eq(iov[0].iov_len, 16);
    ring_free(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("ring");
    TCase *t = tcase_create("commit");

    tcase_add_checked_fixture(t, setup, NULL);
    tcase_add_test(t, commit_whole_frame_makes_it_ready);
    tcase_add_test(t, commit_byte_by_byte_ready_only_at_last_byte);
    tcase_add_test(t, commit_several_frames_at_once_reports_each);
    tcase_add_test(t, commit_header_split_across_commits);
    tcase_add_test(t, commit_across_the_wrap_keeps_bytes_and_order);
    tcase_add_test(t, commit_refused_header_drops_partial_keeps_ready);
    tcase_add_test(t, commit_refused_length_stops_scan_at_header);
    tcase_add_test(t, drop_partial_forgets_half_frame);
    tcase_add_test(t, full_ring_has_no_free_iov);
    suite_add_tcase(s, t);
    return s;
}

#include "runner.h"
