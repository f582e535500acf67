#include <check.h>
#include <string.h>

#include "codec.h"
#include "err.h"

START_TEST(hex_round_trip)
{
    const uint8_t in[] = {0x00, 0x7f, 0x80, 0xff};
    char s[9];
    uint8_t out[4];

    hex_encode(in, 4, s);
    ck_assert_str_eq(s, "007f80ff");
    ck_assert_int_eq(hex_decode(s, out, 4), FERRY_OK);
    ck_assert_int_eq(memcmp(in, out, 4), 0);
}
END_TEST

START_TEST(hex_refuses_upper_case_odd_length_and_junk)
{
    uint8_t out[2];

    ck_assert_int_eq(hex_decode("ABCD", out, 2), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(hex_decode("abc", out, 2), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(hex_decode("abcdef", out, 2), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(hex_decode("zz00", out, 2), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(hex_decode(NULL, out, 2), FERRY_ERR_BAD_VALUE);
}
END_TEST

START_TEST(b64_rfc4648_vectors)
{
    static const char *v[][2] = {{"", ""},
                                 {"f", "Zg=="},
                                 {"fo", "Zm8="},
                                 {"foo", "Zm9v"},
                                 {"foob", "Zm9vYg=="},
                                 {"fooba", "Zm9vYmE="},
                                 {"foobar", "Zm9vYmFy"}};
    char enc[16];
    uint8_t dec[16];
    size_t i, n;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        b64_encode((const uint8_t *)v[i][0], strlen(v[i][0]), enc);
        ck_assert_str_eq(enc, v[i][1]);
        ck_assert_int_eq(b64_decode(v[i][1], dec, sizeof(dec), &n), FERRY_OK);
        ck_assert_uint_eq(n, strlen(v[i][0]));
        ck_assert_int_eq(memcmp(dec, v[i][0], n), 0);
    }
}
END_TEST

START_TEST(b64_refuses_bad_input)
{
    uint8_t dec[16];
    size_t n;

    ck_assert_int_eq(b64_decode("Zg=", dec, 16, &n), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(b64_decode("Z===", dec, 16, &n), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(b64_decode("Zg==Zg==", dec, 16, &n), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(b64_decode("Zm9 v", dec, 16, &n), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(b64_decode("Zm9*", dec, 16, &n), FERRY_ERR_BAD_VALUE);
    /* non-canonical: bits under the padding set */
    ck_assert_int_eq(b64_decode("Zh==", dec, 16, &n), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(b64_decode(NULL, dec, 16, &n), FERRY_ERR_BAD_VALUE);
}
END_TEST

START_TEST(b64_refuses_output_over_max)
{
    uint8_t dec[2];
    size_t n = 99;

    ck_assert_int_eq(b64_decode("Zm9v", dec, 2, &n), FERRY_ERR_TOO_LARGE);
    ck_assert_uint_eq(n, 99);
}
END_TEST

START_TEST(parse_u64_accepts_canonical_decimal_only)
{
    uint64_t v;

    ck_assert_int_eq(parse_u64("0", 10, &v), FERRY_OK);
    ck_assert(v == 0);
    ck_assert_int_eq(parse_u64("18446744073709551615", UINT64_MAX, &v),
                     FERRY_OK);
    ck_assert(v == UINT64_MAX);
    ck_assert_int_eq(parse_u64("18446744073709551616", UINT64_MAX, &v),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(parse_u64("-1", UINT64_MAX, &v), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(parse_u64("01", UINT64_MAX, &v), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(parse_u64(" 1", UINT64_MAX, &v), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(parse_u64("", UINT64_MAX, &v), FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(parse_u64("11", 10, &v), FERRY_ERR_BAD_VALUE);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, hex_round_trip);
    tcase_add_test(tc, hex_refuses_upper_case_odd_length_and_junk);
    tcase_add_test(tc, b64_rfc4648_vectors);
    tcase_add_test(tc, b64_refuses_bad_input);
    tcase_add_test(tc, b64_refuses_output_over_max);
    tcase_add_test(tc, parse_u64_accepts_canonical_decimal_only);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
