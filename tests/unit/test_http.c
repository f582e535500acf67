/* relay/http.c: the metrics listener's look at a request head. */
#include <check.h>
#include <string.h>

#include "http.h"

static enum http_verdict check_all(const char *s, size_t max)
{
    size_t scan = 0;

    return http_request_check(s, strlen(s), max, &scan);
}

START_TEST(get_and_head_whole)
{
    ck_assert_int_eq(check_all("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                               8192),
                     HTTP_GET);
    ck_assert_int_eq(check_all("GET / HTTP/1.0\r\n\r\n", 8192), HTTP_GET);
    ck_assert_int_eq(check_all("GET / HTTP/1.0\n\n", 8192), HTTP_GET);
    ck_assert_int_eq(check_all("HEAD /x HTTP/1.1\r\n\r\n", 8192), HTTP_HEAD);
}
END_TEST

START_TEST(incomplete_head_needs_more)
{
    ck_assert_int_eq(check_all("", 8192), HTTP_NEED_MORE);
    ck_assert_int_eq(check_all("GE", 8192), HTTP_NEED_MORE);
    ck_assert_int_eq(check_all("GET / HTTP/1.1\r\n", 8192), HTTP_NEED_MORE);
    ck_assert_int_eq(check_all("GET / HTTP/1.1\r\nHost: x\r\n", 8192),
                     HTTP_NEED_MORE);
    ck_assert_int_eq(check_all("GET / HTTP/1.1\r\n\r", 8192),
                     HTTP_NEED_MORE);
}
END_TEST

START_TEST(byte_by_byte_same_answer_only_at_the_end)
{
    const char *req = "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n";
    size_t n = strlen(req), i, scan = 0;

    for (i = 1; i < n; i++)
        ck_assert_int_eq(http_request_check(req, i, 8192, &scan),
                         HTTP_NEED_MORE);
    ck_assert_int_eq(http_request_check(req, n, 8192, &scan), HTTP_GET);
}
END_TEST

START_TEST(bad_request_line_refused_once_complete)
{
    ck_assert_int_eq(check_all("GET /\r\n", 8192), HTTP_BAD);
    ck_assert_int_eq(check_all("GET / HTTP/2.0\r\n", 8192), HTTP_BAD);
    ck_assert_int_eq(check_all("GET  / HTTP/1.1\r\n", 8192), HTTP_BAD);
    ck_assert_int_eq(check_all("GET / HTTP/1.1 \r\n", 8192), HTTP_BAD);
    ck_assert_int_eq(check_all(" GET / HTTP/1.1\r\n", 8192), HTTP_BAD);
    ck_assert_int_eq(check_all("\r\n\r\n", 8192), HTTP_BAD);
    ck_assert_int_eq(check_all("G(T / HTTP/1.1\r\n\r\n", 8192), HTTP_BAD);
}
END_TEST

START_TEST(control_bytes_refused_at_once)
{
    const char nul[] = "GET \0/ HTTP/1.1\r\n\r\n";
    size_t scan = 0;

    ck_assert_int_eq(http_request_check(nul, sizeof(nul) - 1, 8192, &scan),
                     HTTP_BAD);
    ck_assert_int_eq(check_all("\x02\x00", 8192), HTTP_BAD);
    ck_assert_int_eq(check_all("\x16\x03\x01", 8192), HTTP_BAD); /* TLS */
    ck_assert_int_eq(check_all("GET / HTTP/1.1\r\nX: \x7f\r\n\r\n", 8192),
                     HTTP_BAD);
}
END_TEST

START_TEST(other_methods_get_405)
{
    ck_assert_int_eq(check_all("POST / HTTP/1.1\r\n\r\n", 8192),
                     HTTP_BAD_METHOD);
    ck_assert_int_eq(check_all("get / HTTP/1.1\r\n\r\n", 8192),
                     HTTP_BAD_METHOD);
}
END_TEST

START_TEST(size_limit_is_inclusive)
{
    const char *req = "GET / HTTP/1.1\r\nX: 12345\r\n\r\n";
    size_t n = strlen(req), scan = 0;

    ck_assert_int_eq(http_request_check(req, n, n, &scan), HTTP_GET);
    scan = 0;
    ck_assert_int_eq(http_request_check(req, n, n - 1, &scan),
                     HTTP_TOO_LARGE);
    /* max bytes and no blank line yet: too large, not "need more" */
    scan = 0;
    ck_assert_int_eq(http_request_check(req, 20, 20, &scan), HTTP_TOO_LARGE);
}
END_TEST

START_TEST(bytes_after_the_head_are_not_parsed)
{
    ck_assert_int_eq(check_all("GET / HTTP/1.1\r\n\r\n\x01\x02garbage", 8192),
                     HTTP_GET);
}
END_TEST

START_TEST(status_lines)
{
    ck_assert_str_eq(http_status(HTTP_GET), "200 OK");
    ck_assert_str_eq(http_status(HTTP_TOO_LARGE),
                     "431 Request Header Fields Too Large");
    ck_assert_str_eq(http_status(HTTP_BAD), "400 Bad Request");
    ck_assert_str_eq(http_status(HTTP_BAD_METHOD), "405 Method Not Allowed");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http");
    TCase *t = tcase_create("request");

    tcase_add_test(t, get_and_head_whole);
    tcase_add_test(t, incomplete_head_needs_more);
    tcase_add_test(t, byte_by_byte_same_answer_only_at_the_end);
    tcase_add_test(t, bad_request_line_refused_once_complete);
    tcase_add_test(t, control_bytes_refused_at_once);
    tcase_add_test(t, other_methods_get_405);
    tcase_add_test(t, size_limit_is_inclusive);
    tcase_add_test(t, bytes_after_the_head_are_not_parsed);
    tcase_add_test(t, status_lines);
    suite_add_tcase(s, t);
    return s;
}

#include "runner.h"
