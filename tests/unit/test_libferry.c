/* libferry's internals that decide what lands on disk: the reorder cache
 * (claims 10, 11, 15) and the resume state file. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "reorder.h"
#include "state.h"

static uint8_t *chunk(uint8_t tag, size_t len)
{
    uint8_t *p = malloc(len);
    memset(p, tag, len);
    return p;
}

START_TEST(reorder_assembles_any_order_within_the_window)
{
    struct reorder *r = reorder_new(8);
    uint64_t next = 0, order[] = {3, 1, 2, 7, 5, 4, 6};
    size_t i, len;
    uint8_t *p;

    ck_assert_ptr_nonnull(r);
    /* Chunk 0 "arrives" last; everything else waits. */
    for (i = 0; i < 7; i++)
        ck_assert_int_eq(reorder_put(r, next, order[i],
                                     chunk((uint8_t)order[i], 100 + order[i]),
                                     100 + order[i]),
                         FERRY_OK);
    ck_assert_uint_eq(reorder_count(r), 7);
    ck_assert_uint_eq(reorder_bytes(r), 7 * 100 + 28);
    ck_assert_ptr_null(reorder_take(r, 0, &len));
    next = 1;
    while ((p = reorder_take(r, next, &len)) != NULL) {
        ck_assert_uint_eq(len, 100 + next);
        ck_assert_uint_eq(p[0], next);
        ck_assert_uint_eq(p[len - 1], next);
        free(p);
        next++;
    }
    ck_assert_uint_eq(next, 8);
    ck_assert_uint_eq(reorder_count(r), 0);
    ck_assert_uint_eq(reorder_bytes(r), 0);
    reorder_free(r);
}
END_TEST

START_TEST(reorder_refuses_outside_the_window)
{
    struct reorder *r = reorder_new(4);
    uint8_t *p = chunk(1, 10);

    ck_assert_int_eq(reorder_put(r, 10, 14, p, 10), FERRY_ERR_TOO_LARGE);
    ck_assert_int_eq(reorder_put(r, 10, 9, p, 10), FERRY_ERR_BAD_VALUE);
    ck_assert_uint_eq(reorder_count(r), 0); /* not taken: still ours */
    ck_assert_int_eq(reorder_put(r, 10, 13, p, 10), FERRY_OK);
    /* Slot 13 % 4 == 1 is chunk 13's, not 9's or 17's. */
    {
        size_t len;
        ck_assert_ptr_null(reorder_take(r, 9, &len));
        ck_assert_ptr_null(reorder_take(r, 17, &len));
    }
    reorder_free(r); /* frees what it holds */
}
END_TEST

START_TEST(reorder_duplicate_replaces_and_counts_once)
{
    struct reorder *r = reorder_new(4);
    size_t len;
    uint8_t *p;

    ck_assert_int_eq(reorder_put(r, 0, 2, chunk(1, 50), 50), FERRY_OK);
    ck_assert_int_eq(reorder_put(r, 0, 2, chunk(2, 60), 60), FERRY_OK);
    ck_assert_uint_eq(reorder_count(r), 1);
    ck_assert_uint_eq(reorder_bytes(r), 60);
    p = reorder_take(r, 2, &len);
    ck_assert_uint_eq(len, 60);
    ck_assert_uint_eq(p[0], 2);
    free(p);
    ck_assert_ptr_null(reorder_take(r, 2, &len));
    ck_assert_ptr_null(reorder_new(0));
    reorder_free(r);
}
END_TEST

static char dir[] = "/tmp/ferry-state-XXXXXX";
static char path[64];

static void state_setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f.ferry", dir);
}

static void state_teardown(void)
{
    unlink(path);
    rmdir(dir);
    strcpy(dir, "/tmp/ferry-state-XXXXXX");
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

START_TEST(state_round_trips)
{
    struct ferry_state a = {.size = 67108864, .chunk = 262144, .next = 77}, b;

    strcpy(a.sid, "Zx3v9QkTn2WbL7aP");
    strcpy(a.peer, "alice@example.org/laptop");
    ck_assert_int_eq(state_save(path, &a), FERRY_OK);
    ck_assert_int_eq(state_load(path, &b), FERRY_OK);
    ck_assert_str_eq(b.sid, a.sid);
    ck_assert_str_eq(b.peer, a.peer);
    ck_assert_uint_eq(b.size, a.size);
    ck_assert_uint_eq(b.chunk, a.chunk);
    ck_assert_uint_eq(b.next, a.next);
    /* The temporary file is gone: the save was a rename. */
    {
        char tmp[80];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        ck_assert_int_ne(access(tmp, F_OK), 0);
    }
}
END_TEST

START_TEST(state_refuses_damaged_files)
{
    static const char *bad[] = {
        "",                                              /* empty */
        "sid 10 1024 3 a@b/c",                           /* no newline */
        "sid 10 1024 3\n",                               /* field missing */
        "sid 10 1024 3 a@b/c extra\n",                   /* field too many */
        "sid -10 1024 3 a@b/c\n",                        /* sign */
        "sid 10 1024 0x3 a@b/c\n",                       /* not decimal */
        "sid 10 99999999999 3 a@b/c\n",                  /* chunk > u32 */
        "sid 10 1024 3 a@b/c\nsid 10 1024 4 a@b/c\n",    /* two lines */
        "s!d 10 1024 3 a@b/c\n",                         /* bad sid */
        "sid 10 1024 3 @@@\n",                           /* bad JID */
        "sid 10 1024 99999999999999999999 a@b/c\n",      /* overflow */
    };
    struct ferry_state s;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(bad[i]);
        ck_assert_msg(state_load(path, &s) == FERRY_ERR_MALFORMED,
                      "accepted: \"%s\"", bad[i]);
    }
    unlink(path);
    ck_assert_int_eq(state_load(path, &s), FERRY_ERR_IO);
    write_file("sid 10 1024 3 a@b/c\n");
    ck_assert_int_eq(state_load(path, &s), FERRY_OK);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("libferry");
    TCase *tc = tcase_create("reorder");
    TCase *ts = tcase_create("state");

    tcase_add_test(tc, reorder_assembles_any_order_within_the_window);
    tcase_add_test(tc, reorder_refuses_outside_the_window);
    tcase_add_test(tc, reorder_duplicate_replaces_and_counts_once);
    tcase_add_checked_fixture(ts, state_setup, state_teardown);
    tcase_add_test(ts, state_round_trips);
    tcase_add_test(ts, state_refuses_damaged_files);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, ts);
    return s;
}

#include "runner.h"
