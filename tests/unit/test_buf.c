#include <check.h>
#include <string.h>

#include "buf.h"
#include "err.h"

START_TEST(put_get_round_trip_all_widths)
{
    struct buf *b = buf_new(64);
    uint8_t u8;
    uint16_t u16;
    uint32_t u24, u32;
    uint64_t u64;

    ck_assert_int_eq(buf_put_u8(b, 0xab), FERRY_OK);
    ck_assert_int_eq(buf_put_u16(b, 0x1234), FERRY_OK);
    ck_assert_int_eq(buf_put_u24(b, 0xabcdef), FERRY_OK);
    ck_assert_int_eq(buf_put_u32(b, 0xdeadbeef), FERRY_OK);
    ck_assert_int_eq(buf_put_u64(b, 0x0102030405060708ULL), FERRY_OK);
    ck_assert_uint_eq(buf_len(b), 1 + 2 + 3 + 4 + 8);
    ck_assert_int_eq(buf_get_u8(b, &u8), FERRY_OK);
    ck_assert_int_eq(buf_get_u16(b, &u16), FERRY_OK);
    ck_assert_int_eq(buf_get_u24(b, &u24), FERRY_OK);
    ck_assert_int_eq(buf_get_u32(b, &u32), FERRY_OK);
    ck_assert_int_eq(buf_get_u64(b, &u64), FERRY_OK);
    ck_assert_uint_eq(u8, 0xab);
    ck_assert_uint_eq(u16, 0x1234);
    ck_assert_uint_eq(u24, 0xabcdef);
    ck_assert_uint_eq(u32, 0xdeadbeef);
    ck_assert(u64 == 0x0102030405060708ULL);
    ck_assert_uint_eq(buf_len(b), 0);
    buf_free(b);
}
END_TEST

START_TEST(numbers_are_big_endian)
{
    struct buf *b = buf_new(16);

    buf_put_u32(b, 0x01020304);
    ck_assert_int_eq(memcmp(buf_ptr(b), "\x01\x02\x03\x04", 4), 0);
    buf_free(b);
}
END_TEST

START_TEST(get_u32_truncated_consumes_nothing)
{
    struct buf *b = buf_new(16);
    uint32_t v = 7;

    buf_put_bytes(b, "\x01\x02\x03", 3);
    ck_assert_int_eq(buf_get_u32(b, &v), FERRY_ERR_NEED_MORE);
    ck_assert_uint_eq(v, 7);
    ck_assert_uint_eq(buf_len(b), 3);
    ck_assert_int_eq(memcmp(buf_ptr(b), "\x01\x02\x03", 3), 0);
    buf_free(b);
}
END_TEST

START_TEST(get_u64_truncated_consumes_nothing)
{
    struct buf *b = buf_new(16);
    uint64_t v = 9;

    buf_put_bytes(b, "\x01\x02\x03\x04\x05\x06\x07", 7);
    ck_assert_int_eq(buf_get_u64(b, &v), FERRY_ERR_NEED_MORE);
    ck_assert(v == 9);
    ck_assert_uint_eq(buf_len(b), 7);
    buf_free(b);
}
END_TEST

START_TEST(get_bytes_truncated_consumes_nothing)
{
    struct buf *b = buf_new(16);
    uint8_t out[8] = {0};

    buf_put_bytes(b, "abcd", 4);
    ck_assert_int_eq(buf_get_bytes(b, out, 5), FERRY_ERR_NEED_MORE);
    ck_assert_uint_eq(buf_len(b), 4);
    ck_assert_uint_eq(out[0], 0);
    ck_assert_int_eq(buf_get_bytes(b, out, 4), FERRY_OK);
    ck_assert_int_eq(memcmp(out, "abcd", 4), 0);
    buf_free(b);
}
END_TEST

START_TEST(put_over_max_fails_and_keeps_contents)
{
    struct buf *b = buf_new(8);

    ck_assert_int_eq(buf_put_bytes(b, "12345678", 8), FERRY_OK);
    ck_assert_int_eq(buf_put_u8(b, 1), FERRY_ERR_NO_SPACE);
    ck_assert_uint_eq(buf_len(b), 8);
    ck_assert_uint_eq(buf_avail(b), 0);
    ck_assert_int_eq(memcmp(buf_ptr(b), "12345678", 8), 0);
    buf_free(b);
}
END_TEST

START_TEST(consumed_space_is_reused_without_growing_past_max)
{
    struct buf *b = buf_new(8);
    uint8_t tmp[8];
    int i;

    for (i = 0; i < 100; i++) {
        ck_assert_int_eq(buf_put_bytes(b, "abcdef", 6), FERRY_OK);
        ck_assert_int_eq(buf_get_bytes(b, tmp, 4), FERRY_OK);
        ck_assert_int_eq(buf_get_bytes(b, tmp, 2), FERRY_OK);
    }
    ck_assert_int_eq(buf_put_bytes(b, "12", 2), FERRY_OK);
    ck_assert_int_eq(buf_get_bytes(b, tmp, 1), FERRY_OK);
    /* 1 byte left, 7 free: compaction must make room */
    ck_assert_int_eq(buf_put_bytes(b, "3456789", 7), FERRY_OK);
    ck_assert_int_eq(memcmp(buf_ptr(b), "23456789", 8), 0);
    buf_free(b);
}
END_TEST

START_TEST(peek_does_not_consume_and_checks_bounds)
{
    struct buf *b = buf_new(16);
    uint8_t v8;
    uint32_t v32;

    buf_put_bytes(b, "\x00\x00\x00\x2a\x07", 5);
    ck_assert_int_eq(buf_peek_u32(b, 0, &v32), FERRY_OK);
    ck_assert_uint_eq(v32, 42);
    ck_assert_int_eq(buf_peek_u8(b, 4, &v8), FERRY_OK);
    ck_assert_uint_eq(v8, 7);
    ck_assert_int_eq(buf_peek_u8(b, 5, &v8), FERRY_ERR_NEED_MORE);
    ck_assert_int_eq(buf_peek_u32(b, 2, &v32), FERRY_ERR_NEED_MORE);
    ck_assert_int_eq(buf_peek_u32(b, SIZE_MAX, &v32), FERRY_ERR_NEED_MORE);
    ck_assert_uint_eq(buf_len(b), 5);
    buf_free(b);
}
END_TEST

START_TEST(readonly_view_refuses_puts)
{
    const uint8_t data[] = {1, 2, 3};
    struct buf *b = buf_from(data, sizeof(data));
    uint8_t v;

    ck_assert_int_eq(buf_put_u8(b, 4), FERRY_ERR_NO_SPACE);
    ck_assert_int_eq(buf_get_u8(b, &v), FERRY_OK);
    ck_assert_uint_eq(v, 1);
    ck_assert_uint_eq(buf_len(b), 2);
    buf_free(b);
}
END_TEST

START_TEST(put_u24_refuses_values_over_24_bits)
{
    struct buf *b = buf_new(8);

    ck_assert_int_eq(buf_put_u24(b, 0x1000000), FERRY_ERR_BAD_VALUE);
    ck_assert_uint_eq(buf_len(b), 0);
    buf_free(b);
}
END_TEST

START_TEST(unreserve_gives_back_unfilled_tail)
{
    struct buf *b = buf_new(64);
    uint8_t *p;

    buf_put_bytes(b, "ab", 2);
    ck_assert_int_eq(buf_reserve(b, 10, &p), FERRY_OK);
    memcpy(p, "cd", 2);
    ck_assert_int_eq(buf_unreserve(b, 8), FERRY_OK);
    ck_assert_uint_eq(buf_len(b), 4);
    ck_assert_int_eq(memcmp(buf_ptr(b), "abcd", 4), 0);
    ck_assert_int_eq(buf_unreserve(b, 5), FERRY_ERR_BAD_VALUE);
    ck_assert_uint_eq(buf_len(b), 4);
    buf_free(b);
}
END_TEST

START_TEST(free_accepts_null)
{
    buf_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, put_get_round_trip_all_widths);
    tcase_add_test(tc, numbers_are_big_endian);
    tcase_add_test(tc, get_u32_truncated_consumes_nothing);
    tcase_add_test(tc, get_u64_truncated_consumes_nothing);
    tcase_add_test(tc, get_bytes_truncated_consumes_nothing);
    tcase_add_test(tc, put_over_max_fails_and_keeps_contents);
    tcase_add_test(tc, consumed_space_is_reused_without_growing_past_max);
    tcase_add_test(tc, peek_does_not_consume_and_checks_bounds);
    tcase_add_test(tc, readonly_view_refuses_puts);
    tcase_add_test(tc, put_u24_refuses_values_over_24_bits);
    tcase_add_test(tc, unreserve_gives_back_unfilled_tail);
    tcase_add_test(tc, free_accepts_null);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
