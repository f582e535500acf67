/* component/policy.c: allow-list, per-JID channel quota and request rate,
 * and the sweep that keeps the table to active requesters. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "component.h"
#include "err.h"

static struct comp_conf conf;
static struct policy *p;
static const char *cond;
static char why[160];

static void setup(void)
{
    memset(&conf, 0, sizeof(conf));
    conf.max_channels_per_jid = 2;
    conf.requests_per_minute = 5;
    p = policy_new(&conf);
}

static void teardown(void)
{
    policy_free(p);
}

START_TEST(quota_counts_unexpired_channels)
{
    ck_assert_int_eq(policy_check(p, "a@x/1", 1000, 1300, &cond, why, 160),
                     FERRY_OK);
    ck_assert_int_eq(policy_check(p, "a@x/2", 1000, 1300, &cond, why, 160),
                     FERRY_OK);
    ck_assert_int_eq(policy_check(p, "a@x/1", 1001, 1300, &cond, why, 160),
                     FERRY_ERR_QUOTA);
    ck_assert_str_eq(cond, "quota-exceeded");
    /* Another bare JID has its own quota. */
    ck_assert_int_eq(policy_check(p, "b@x/1", 1001, 1300, &cond, why, 160),
                     FERRY_OK);
    /* Once the channels expire the quota is free again. */
    ck_assert_int_eq(policy_check(p, "a@x/1", 1301, 1600, &cond, why, 160),
                     FERRY_OK);
}
END_TEST

START_TEST(rate_limit_per_minute)
{
    int i;

    conf.max_channels_per_jid = 0;
    for (i = 0; i < 5; i++)
        ck_assert_int_eq(policy_check(p, "r@x/1", 2000, 2300, &cond, why, 160),
                         FERRY_OK);
    ck_assert_int_eq(policy_check(p, "r@x/1", 2010, 2300, &cond, why, 160),
                     FERRY_ERR_QUOTA);
    ck_assert_str_eq(cond, "rate-limited");
    ck_assert_int_eq(policy_check(p, "r@x/1", 2060, 2300, &cond, why, 160),
                     FERRY_OK);
}
END_TEST

START_TEST(allow_list)
{
    char *allowed[] = {"example.org", NULL};

    conf.allowed_domains = allowed;
    ck_assert_int_eq(policy_check(p, "a@EXAMPLE.org/1", 1, 300, &cond, why,
                                  160),
                     FERRY_OK);
    ck_assert_int_eq(policy_check(p, "a@evil.example/1", 1, 300, &cond, why,
                                  160),
                     FERRY_ERR_POLICY);
    ck_assert_str_eq(cond, "domain-not-allowed");
    conf.allowed_domains = NULL;
}
END_TEST

START_TEST(prune_keeps_only_active_requesters)
{
    char jid[64];
    int i;

    conf.max_channels_per_jid = 0;
    conf.requests_per_minute = 0;
    for (i = 0; i < 1000; i++) {
        snprintf(jid, sizeof(jid), "u%d@x/r", i);
        ck_assert_int_eq(policy_check(p, jid, 5000, 5300, &cond, why, 160),
                         FERRY_OK);
    }
    ck_assert_int_eq(policy_check(p, "late@x/r", 5250, 5600, &cond, why, 160),
                     FERRY_OK);
    /* Channels unexpired: every JID stays. */
    ck_assert_uint_eq(policy_prune(p, 5200), 1001);
    /* Past the first expiry and the minute: only the late one is left. */
    ck_assert_uint_eq(policy_prune(p, 5301), 1);
    ck_assert_uint_eq(policy_prune(p, 5601), 0);
    /* A pruned JID starts afresh. */
    ck_assert_int_eq(policy_check(p, "u1@x/r", 5700, 6000, &cond, why, 160),
                     FERRY_OK);
    ck_assert_uint_eq(policy_prune(p, 5700), 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, quota_counts_unexpired_channels);
    tcase_add_test(tc, rate_limit_per_minute);
    tcase_add_test(tc, allow_list);
    tcase_add_test(tc, prune_keeps_only_active_requesters);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
