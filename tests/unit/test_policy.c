/* component/policy.c: allow-list, per-bare-JID channels in use (released
 * or expired) and request bucket, and the sweep that keeps the table to
 * active requesters. */
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
    cond = NULL;
    why[0] = '\0';
}

static void teardown(void)
{
    policy_free(p);
}

/* A channel id: n in its first bytes is enough to tell them apart. */
static const uint8_t *cid(unsigned n)
{
    static uint8_t id[32];

    memset(id, 0, sizeof(id));
    memcpy(id + 12, &n, sizeof(n));
    return id;
}

static int check(const char *from, uint64_t now, unsigned n, uint64_t expiry)
{
    return policy_check(p, from, now, cid(n), expiry, &cond, why,
                        sizeof(why));
}

static int release(const char *from, uint64_t now, unsigned n)
{
    size_t left;
    return policy_release(p, from, cid(n), now, &left);
}

START_TEST(quota_counts_channels_in_use)
{
    ck_assert_int_eq(check("a@x/1", 1000, 1, 1300), FERRY_OK);
    ck_assert_int_eq(check("a@x/2", 1000, 2, 1300), FERRY_OK);
    ck_assert_int_eq(check("a@x/1", 1001, 3, 1301), FERRY_ERR_QUOTA_EXCEEDED);
    ck_assert_str_eq(cond, "quota-exceeded");
    /* Which limit, and when it frees. */
    ck_assert_str_eq(why, "2 channels in use; the oldest expires in 300 s");
    /* Another bare JID has its own quota. */
    ck_assert_int_eq(check("b@x/1", 1001, 4, 1301), FERRY_OK);
    /* A release by any resource of the bare JID frees one at once. */
    ck_assert_int_eq(release("a@x/other", 1002, 1), FERRY_OK);
    ck_assert_uint_eq(policy_in_use(p, "a@x/1", 1002), 1);
    ck_assert_int_eq(check("a@x/1", 1002, 5, 1302), FERRY_OK);
    ck_assert_int_eq(check("a@x/1", 1002, 6, 1302), FERRY_ERR_QUOTA_EXCEEDED);
}
END_TEST

START_TEST(unreleased_channels_stop_counting_at_expiry)
{
    ck_assert_int_eq(check("a@x/1", 1000, 1, 1300), FERRY_OK);
    ck_assert_int_eq(check("a@x/1", 1000, 2, 1310), FERRY_OK);
    ck_assert_int_eq(check("a@x/1", 1300, 3, 1600), FERRY_ERR_QUOTA_EXCEEDED);
    ck_assert_str_eq(why, "2 channels in use; the oldest expires in 1 s");
    ck_assert_int_eq(check("a@x/1", 1301, 4, 1601), FERRY_OK);
    /* An expired channel cannot be released any more. */
    ck_assert_int_eq(release("a@x/1", 1301, 1), FERRY_ERR_UNKNOWN_CHANNEL);
}
END_TEST

START_TEST(release_only_by_the_bare_jid_that_got_it)
{
    ck_assert_int_eq(check("a@x/1", 1000, 1, 1300), FERRY_OK);
    ck_assert_int_eq(check("a@x/1", 1000, 2, 1300), FERRY_OK);
    /* Someone else's channel, an unknown one, one twice: refused, and
     * the owner's count is untouched. */
    ck_assert_int_eq(release("m@x/1", 1001, 1), FERRY_ERR_UNKNOWN_CHANNEL);
    ck_assert_int_eq(release("a@y/1", 1001, 1), FERRY_ERR_UNKNOWN_CHANNEL);
    ck_assert_int_eq(release("a@x/1", 1001, 99), FERRY_ERR_UNKNOWN_CHANNEL);
    ck_assert_uint_eq(policy_in_use(p, "a@x/1", 1001), 2);
    ck_assert_int_eq(check("a@x/1", 1001, 3, 1301), FERRY_ERR_QUOTA_EXCEEDED);
    ck_assert_int_eq(release("A@X/2", 1001, 2), FERRY_OK); /* case folds */
    ck_assert_int_eq(release("a@x/1", 1001, 2), FERRY_ERR_UNKNOWN_CHANNEL);
    ck_assert_uint_eq(policy_in_use(p, "a@x/1", 1001), 1);
}
END_TEST

/* Releases from strangers, of garbage, in bulk: nothing is recorded. */
START_TEST(releases_create_no_state)
{
    char jid[64];
    unsigned i;

    for (i = 0; i < 10000; i++) {
        snprintf(jid, sizeof(jid), "flood%u@x/r", i % 1000);
        ck_assert_int_eq(release(jid, 1000, i), FERRY_ERR_UNKNOWN_CHANNEL);
    }
    ck_assert_uint_eq(policy_prune(p, 1000), 0);
    ck_assert_int_eq(check("a@x/1", 1000, 1, 1300), FERRY_OK);
    for (i = 2; i < 10000; i++)
        ck_assert_int_eq(release("a@x/1", 1000, i), FERRY_ERR_UNKNOWN_CHANNEL);
    ck_assert_uint_eq(policy_in_use(p, "a@x/1", 1000), 1);
    ck_assert_uint_eq(policy_prune(p, 1000), 1);
}
END_TEST

START_TEST(rate_limit_is_a_bucket)
{
    int i;

    conf.max_channels_per_jid = 0;
    for (i = 0; i < 5; i++)
        ck_assert_int_eq(check("r@x/1", 2000, (unsigned)i, 2300), FERRY_OK);
    ck_assert_int_eq(check("r@x/1", 2000, 9, 2300), FERRY_ERR_RATE_LIMITED);
    ck_assert_str_eq(cond, "rate-limited");
    /* 5 a minute: one more every 12 s. */
    ck_assert_str_eq(why, "rate limit 5/min; retry in 12 s");
    ck_assert_int_eq(check("r@x/1", 2011, 10, 2300), FERRY_ERR_RATE_LIMITED);
    ck_assert_str_eq(why, "rate limit 5/min; retry in 1 s");
    ck_assert_int_eq(check("r@x/1", 2012, 11, 2300), FERRY_OK);
    ck_assert_int_eq(check("r@x/1", 2012, 12, 2300), FERRY_ERR_RATE_LIMITED);
    /* A quiet minute fills it again, and no more than that. */
    for (i = 0; i < 5; i++)
        ck_assert_int_eq(check("r@x/1", 3000, (unsigned)(20 + i), 3300),
                         FERRY_OK);
    ck_assert_int_eq(check("r@x/1", 3000, 30, 3300), FERRY_ERR_RATE_LIMITED);
}
END_TEST

/* The defaults (16 in use, 120 requests a minute): a 100-photo album sent
 * back to back, each channel released when its transfer ends, is never
 * refused; without the releases the 17th would be. */
START_TEST(defaults_carry_a_100_photo_album)
{
    unsigned i;

    conf.max_channels_per_jid = 16;
    conf.requests_per_minute = 120;
    for (i = 0; i < 100; i++) {
        ck_assert_int_eq(check("album@x/phone", 5000, i, 5300), FERRY_OK);
        ck_assert_int_eq(release("album@x/phone", 5000, i), FERRY_OK);
    }
    for (i = 0; i < 16; i++)
        ck_assert_int_eq(check("lazy@x/1", 5000, 1000 + i, 5300), FERRY_OK);
    ck_assert_int_eq(check("lazy@x/1", 5000, 2000, 5300),
                     FERRY_ERR_QUOTA_EXCEEDED);
    ck_assert_str_eq(why, "16 channels in use; the oldest expires in 301 s");
}
END_TEST

START_TEST(allow_list)
{
    char *allowed[] = {"example.org", NULL};

    conf.allowed_domains = allowed;
    ck_assert_int_eq(check("a@EXAMPLE.org/1", 1, 1, 300), FERRY_OK);
    ck_assert_int_eq(check("a@evil.example/1", 1, 2, 300), FERRY_ERR_POLICY);
    ck_assert_str_eq(cond, "domain-not-allowed");
    conf.allowed_domains = NULL;
}
END_TEST

START_TEST(prune_keeps_only_active_requesters)
{
    char jid[64];
    unsigned i;

    conf.max_channels_per_jid = 0;
    conf.requests_per_minute = 0;
    for (i = 0; i < 1000; i++) {
        snprintf(jid, sizeof(jid), "u%u@x/r", i);
        ck_assert_int_eq(check(jid, 5000, i, 5300), FERRY_OK);
    }
    ck_assert_int_eq(check("late@x/r", 5250, 5000, 5600), FERRY_OK);
    /* Channels in use: every JID stays. */
    ck_assert_uint_eq(policy_prune(p, 5200), 1001);
    /* Released or expired: gone. */
    ck_assert_int_eq(release("late@x/r", 5250, 5000), FERRY_OK);
    ck_assert_uint_eq(policy_prune(p, 5250), 1000);
    ck_assert_uint_eq(policy_prune(p, 5301), 0);
    /* A pruned JID starts afresh. */
    ck_assert_int_eq(check("u1@x/r", 5700, 1, 6000), FERRY_OK);
    ck_assert_uint_eq(policy_prune(p, 5700), 1);
}
END_TEST

/* A requester with a rate limit but a record otherwise idle is kept until
 * its bucket is full again, so pruning cannot reset the limit early. */
START_TEST(prune_keeps_a_partly_used_bucket)
{
    int i;

    conf.max_channels_per_jid = 0;
    for (i = 0; i < 5; i++)
        ck_assert_int_eq(check("r@x/1", 100, (unsigned)i, 101), FERRY_OK);
    ck_assert_uint_eq(policy_prune(p, 130), 1);
    ck_assert_int_eq(check("r@x/1", 130, 9, 200), FERRY_OK); /* 2.5 back */
    ck_assert_uint_eq(policy_prune(p, 400), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, quota_counts_channels_in_use);
    tcase_add_test(tc, unreleased_channels_stop_counting_at_expiry);
    tcase_add_test(tc, release_only_by_the_bare_jid_that_got_it);
    tcase_add_test(tc, releases_create_no_state);
    tcase_add_test(tc, rate_limit_is_a_bucket);
    tcase_add_test(tc, defaults_carry_a_100_photo_album);
    tcase_add_test(tc, allow_list);
    tcase_add_test(tc, prune_keeps_only_active_requesters);
    tcase_add_test(tc, prune_keeps_a_partly_used_bucket);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
