#include <check.h>
#include <string.h>

#include "err.h"

START_TEST(every_wire_code_has_name_text_and_round_trips)
{
    int c;

    for (c = 1; c <= FERRY_ERR_TOO_LATE; c++) {
        ck_assert(ferry_err_is_wire(c));
        ck_assert_str_ne(ferry_errname(c), "unknown");
        ck_assert_str_ne(ferry_strerror(c), "unknown error");
        ck_assert_int_eq(ferry_errcode(ferry_errname(c)), c);
    }
}
END_TEST

START_TEST(local_codes_never_go_on_the_wire)
{
    ck_assert(!ferry_err_is_wire(FERRY_OK));
    ck_assert(!ferry_err_is_wire(FERRY_ERR_NEED_MORE));
    ck_assert(!ferry_err_is_wire(FERRY_ERR_NOMEM));
    ck_assert(!ferry_err_is_wire(50));
    ck_assert(!ferry_err_is_wire(-1));
}
END_TEST

START_TEST(unknown_codes_get_safe_strings)
{
    ck_assert_str_eq(ferry_strerror(12345), "unknown error");
    ck_assert_str_eq(ferry_errname(-7), "unknown");
    ck_assert_int_eq(ferry_errcode("no-such-thing"), -1);
    ck_assert_int_eq(ferry_errcode(NULL), -1);
}
END_TEST

START_TEST(codes_map_to_rfc6120_conditions)
{
    ck_assert_str_eq(ferry_err_condition(FERRY_ERR_NOT_AUTHORIZED),
                     "not-authorized");
    ck_assert_str_eq(ferry_err_type(FERRY_ERR_NOT_AUTHORIZED), "auth");
    ck_assert_str_eq(ferry_err_condition(FERRY_ERR_POLICY), "policy-violation");
    ck_assert_str_eq(ferry_err_condition(FERRY_ERR_QUOTA),
                     "resource-constraint");
    ck_assert_str_eq(ferry_err_type(FERRY_ERR_QUOTA), "wait");
    ck_assert_str_eq(ferry_err_condition(FERRY_ERR_BAD_REQUEST), "bad-request");
    ck_assert_str_eq(ferry_err_type(FERRY_ERR_BAD_REQUEST), "modify");
}
END_TEST

/* The component's refusal conditions travel to the peer as cancel
 * reasons, so each is a wire error name of its own. */
START_TEST(component_refusals_are_cancel_reasons)
{
    ck_assert_int_eq(ferry_errcode("quota-exceeded"), FERRY_ERR_QUOTA_EXCEEDED);
    ck_assert_int_eq(ferry_errcode("rate-limited"), FERRY_ERR_RATE_LIMITED);
    ck_assert_int_eq(ferry_errcode("no-relay"), FERRY_ERR_NO_RELAY);
    ck_assert_int_eq(ferry_errcode("refused"), FERRY_ERR_REFUSED);
    ck_assert(ferry_err_is_wire(FERRY_ERR_QUOTA_EXCEEDED));
    ck_assert(ferry_err_is_wire(FERRY_ERR_NO_RELAY));
    ck_assert_str_eq(ferry_err_condition(FERRY_ERR_QUOTA_EXCEEDED),
                     "resource-constraint");
    ck_assert_str_eq(ferry_err_type(FERRY_ERR_RATE_LIMITED), "wait");
    ck_assert(!ferry_err_is_wire(FERRY_ERR_UNKNOWN_CHANNEL));
    ck_assert_str_eq(ferry_err_condition(FERRY_ERR_UNKNOWN_CHANNEL),
                     "item-not-found");
}
END_TEST

START_TEST(fan_out_codes_are_wire_codes)
{
    ck_assert_int_eq(FERRY_ERR_TOO_SLOW, 25);
    ck_assert_int_eq(FERRY_ERR_TOO_LATE, 26);
    ck_assert_int_eq(ferry_errcode("too-slow"), FERRY_ERR_TOO_SLOW);
    ck_assert_int_eq(ferry_errcode("too-late"), FERRY_ERR_TOO_LATE);
    ck_assert(ferry_err_is_wire(FERRY_ERR_TOO_SLOW));
    ck_assert(ferry_err_is_wire(FERRY_ERR_TOO_LATE));
    ck_assert(!ferry_err_is_wire(27));
    ck_assert_str_ne(ferry_err_condition(FERRY_ERR_TOO_SLOW),
                     "undefined-condition");
    ck_assert_str_ne(ferry_err_condition(FERRY_ERR_TOO_LATE),
                     "undefined-condition");
    ck_assert_str_eq(ferry_strerror(FERRY_ERR_TOO_LATE),
                     "fan-out transfer already began");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("err");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, every_wire_code_has_name_text_and_round_trips);
    tcase_add_test(tc, local_codes_never_go_on_the_wire);
    tcase_add_test(tc, unknown_codes_get_safe_strings);
    tcase_add_test(tc, codes_map_to_rfc6120_conditions);
    tcase_add_test(tc, component_refusals_are_cancel_reasons);
    tcase_add_test(tc, fan_out_codes_are_wire_codes);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
