/* The receiver's files against hostile offers: a name already there, a
 * .part, .ferry or .ferry.tmp that Ferry did not make, a symlink where the
 * .part would go. Ferry never overwrites, follows or deletes any of them,
 * and resumes only a transfer whose state file names the same session. */
#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "err.h"
#include "files.h"

#define SID "Zx3v9QkTn2WbL7aP"
#define PEER "alice@example.org/laptop"

static char top[] = "/tmp/ferry-files-XXXXXX";
static char dir[64];

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(top));
    snprintf(dir, sizeof(dir), "%s/in", top);
    ck_assert_int_eq(mkdir(dir, 0700), 0);
}

static int rm_one(const char *p, const struct stat *sb, int type,
                  struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    nftw(top, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    strcpy(top, "/tmp/ferry-files-XXXXXX");
}

/* A path under the transfer directory; valid until the 4th next call. */
static const char *in(const char *name)
{
    static char buf[4][1024];
    static int i;

    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
    return buf[i];
}

static void put(const char *path, const char *text)
{
    ck_assert(g_file_set_contents(path, text, -1, NULL));
}

/* The file's bytes, or "<none>"; a static copy. */
static const char *text(const char *path)
{
    static char buf[256];
    gchar *s = NULL;

    if (!g_file_get_contents(path, &s, NULL, NULL))
        return "<none>";
    g_strlcpy(buf, s, sizeof(buf));
    g_free(s);
    return buf;
}

static int there(const char *path)
{
    struct stat sb;

    return lstat(path, &sb) == 0;
}

static long long size_of(const char *path)
{
    struct stat sb;

    return lstat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static int entries(void)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    int n = 0;

    while (g_dir_read_name(d) != NULL)
        n++;
    g_dir_close(d);
    return n;
}

/* Opens `name` as a fresh transfer (no resume) and returns it. */
static struct rfile *fresh(const char *name, const char *sid)
{
    struct rfile *f = NULL;
    uint64_t from = 99;
    const char *why = NULL;

    ck_assert_int_eq(rfile_open(dir, name, sid, PEER, 20, 4, &f, &from, &why),
                     FERRY_OK);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(from, 0);
    return f;
}

/* Writes text, commits, frees; returns nothing, checks everything. */
static void deliver(const char *name, const char *sid, const char *data,
                    const char *want)
{
    struct rfile *f = fresh(name, sid);

    ck_assert_str_eq(rfile_name(f), want);
    ck_assert_int_eq(rfile_write(f, data, strlen(data)), FERRY_OK);
    ck_assert_int_eq(rfile_commit(f), FERRY_OK);
    ck_assert_str_eq(rfile_path(f), in(want));
    rfile_free(f);
}

START_TEST(second_offer_of_a_name_gets_a_number_and_the_first_is_untouched)
{
    deliver("photo.jpg", SID, "first", "photo.jpg");
    deliver("photo.jpg", "other-sid", "second", "photo (1).jpg");
    ck_assert_str_eq(text(in("photo.jpg")), "first");
    ck_assert_str_eq(text(in("photo (1).jpg")), "second");
    ck_assert_int_eq(entries(), 2); /* no .part or .ferry left behind */
}
END_TEST

/* A sender that delivers "X.part" and "X.ferry" first must not be able to
 * make a later offer of X "resume" into them. */
START_TEST(delivered_files_never_take_a_companion_name)
{
    static const char *names[] = {"X.ferry", "X.part", "X.ferry.tmp"};
    static const char *want[] = {"X.ferry_", "X.part_", "X.ferry.tmp_"};
    const char *data[3], *why;
    struct rfile *f;
    uint64_t next = 0;
    char part[2049];
    size_t i;

    memset(part, 'p', 2048);
    part[2048] = '\0';
    /* What a resume would accept, had these names been kept. */
    data[0] = SID " 4096 1024 2 alice@example.org/a\n";
    data[1] = part;
    data[2] = "tmp";
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(rfile_open(dir, names[i], "other-sid", PEER, 4096,
                                    1024, &f, &next, &why),
                         FERRY_OK);
        ck_assert_str_eq(rfile_name(f), want[i]);
        ck_assert_int_eq(rfile_write(f, data[i], strlen(data[i])), FERRY_OK);
        ck_assert_int_eq(rfile_commit(f), FERRY_OK);
        rfile_free(f);
    }
    ck_assert_int_eq(rfile_open(dir, "X", SID, "alice@example.org/a", 4096,
                                1024, &f, &next, &why),
                     FERRY_OK);
    ck_assert_uint_eq(next, 0);
    ck_assert_str_eq(rfile_name(f), "X");
    rfile_abort(f, 0);
    rfile_free(f);
}
END_TEST

START_TEST(hidden_or_option_like_names_get_a_leading_underscore)
{
    deliver(".profile", SID, "p", "_.profile");
    deliver("-rf", "other-sid", "r", "_-rf");
    ck_assert_int_eq(entries(), 2);
}
END_TEST

START_TEST(a_foreign_part_file_is_neither_overwritten_nor_deleted)
{
    struct rfile *f;

    put(in("X.part"), "not ours");
    f = fresh("X", SID);
    ck_assert_str_eq(rfile_name(f), "X (1)");
    ck_assert_int_eq(rfile_write(f, "data", 4), FERRY_OK);
    ck_assert_int_eq(rfile_save_state(f, 1), FERRY_OK);
    rfile_abort(f, 0);
    rfile_free(f);
    ck_assert_str_eq(text(in("X.part")), "not ours");
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(a_foreign_state_or_tmp_file_alone_moves_the_name_on)
{
    static const char *sfx[] = {".ferry", ".ferry.tmp"};
    struct rfile *f;
    char *name;
    size_t i;

    for (i = 0; i < 2; i++) {
        name = g_strdup_printf("a%zu.txt%s", i, sfx[i]);
        /* Even a well-formed line naming our own session. */
        put(in(name), SID " 20 4 2 " PEER "\n");
        f = fresh(i == 0 ? "a0.txt" : "a1.txt", SID);
        ck_assert_str_eq(rfile_name(f), i == 0 ? "a0 (1).txt" : "a1 (1).txt");
        ck_assert_int_eq(rfile_save_state(f, 0), FERRY_OK);
        rfile_abort(f, 0);
        rfile_free(f);
        ck_assert_str_eq(text(in(name)), SID " 20 4 2 " PEER "\n");
        g_free(name);
    }
    ck_assert_int_eq(entries(), 2);
}
END_TEST

START_TEST(a_symlinked_part_is_never_followed)
{
    char *outside = g_strdup_printf("%s/outside", top);
    char *nowhere = g_strdup_printf("%s/nowhere", top);
    struct rfile *f;
    uint64_t from = 99;
    const char *why;

    put(outside, "precious");
    ck_assert_int_eq(symlink("../outside", in("X.part")), 0);
    ck_assert_int_eq(symlink("../nowhere", in("Y.part")), 0); /* dangling */
    f = fresh("X", SID);
    ck_assert_str_eq(rfile_name(f), "X (1)");
    ck_assert_int_eq(rfile_write(f, "data", 4), FERRY_OK);
    ck_assert_int_eq(rfile_commit(f), FERRY_OK);
    rfile_free(f);
    f = fresh("Y", SID);
    ck_assert_str_eq(rfile_name(f), "Y (1)");
    ck_assert_int_eq(rfile_write(f, "data", 4), FERRY_OK);
    rfile_abort(f, 0);
    rfile_free(f);
    /* A state file naming our session does not make the symlink ours. */
    ck_assert_int_eq(symlink("../outside", in("Z.part")), 0);
    put(in("Z.ferry"), SID " 20 4 1 " PEER "\n");
    ck_assert_int_eq(rfile_open(dir, "Z", SID, PEER, 20, 4, &f, &from, &why),
                     FERRY_OK);
    ck_assert_uint_eq(from, 0);
    ck_assert_str_eq(rfile_name(f), "Z (1)");
    rfile_abort(f, 0);
    rfile_free(f);
    ck_assert_str_eq(text(outside), "precious");
    ck_assert(!there(nowhere));
    ck_assert_str_eq(text(in("Z.ferry")), SID " 20 4 1 " PEER "\n");
    ck_assert(there(in("X.part")) && there(in("Y.part")) &&
              there(in("Z.part")));
    g_free(outside);
    g_free(nowhere);
}
END_TEST

/* Three chunks of 4 and half a fourth, saved at 3, kept for a resume. */
static void interrupt(void)
{
    struct rfile *f = fresh("r.bin", SID);

    ck_assert_int_eq(rfile_write(f, "aaaabbbbccccdd", 14), FERRY_OK);
    ck_assert_int_eq(rfile_save_state(f, 3), FERRY_OK);
    rfile_abort(f, 1);
    ck_assert_int_eq(rfile_write(f, "x", 1), FERRY_ERR_IO);
    rfile_free(f);
    ck_assert_int_eq(size_of(in("r.bin.part")), 14);
    ck_assert_str_eq(text(in("r.bin.ferry")), SID " 20 4 3 " PEER "\n");
}

START_TEST(an_interrupted_transfer_resumes_for_its_session_and_bare_jid)
{
    struct rfile *f;
    uint64_t from = 0;
    const char *why;
    char back[12];

    interrupt();
    /* Another resource of the same bare JID. */
    ck_assert_int_eq(rfile_open(dir, "r.bin", SID, "Alice@example.org/phone",
                                20, 4, &f, &from, &why),
                     FERRY_OK);
    ck_assert_uint_eq(from, 3);
    ck_assert_str_eq(rfile_name(f), "r.bin");
    ck_assert_int_eq(size_of(in("r.bin.part")), 12);
    ck_assert_int_eq(rfile_pread(f, back, sizeof(back), 0), 12);
    ck_assert_int_eq(memcmp(back, "aaaabbbbcccc", 12), 0);
    ck_assert_int_eq(rfile_pread(f, back, sizeof(back), 8), 4);
    ck_assert_int_eq(rfile_write(f, "ddddeeee", 8), FERRY_OK);
    ck_assert_int_eq(rfile_commit(f), FERRY_OK);
    rfile_free(f);
    ck_assert_str_eq(text(in("r.bin")), "aaaabbbbccccddddeeee");
    ck_assert_int_eq(entries(), 1);
}
END_TEST

START_TEST(another_session_does_not_resume_and_leaves_the_old_files)
{
    static const struct {
        const char *sid, *peer;
        uint64_t size;
        uint32_t chunk;
    } other[] = {
        {"other-sid", PEER, 20, 4},
        {SID, "mallory@example.org/laptop", 20, 4},
        {SID, PEER, 24, 4},
        {SID, PEER, 20, 2},
    };
    struct rfile *f;
    uint64_t from;
    const char *why;
    size_t i;

    interrupt();
    for (i = 0; i < G_N_ELEMENTS(other); i++) {
        from = 99;
        ck_assert_int_eq(rfile_open(dir, "r.bin", other[i].sid, other[i].peer,
                                    other[i].size, other[i].chunk, &f, &from,
                                    &why),
                         FERRY_OK);
        ck_assert_uint_eq(from, 0);
        ck_assert_str_eq(rfile_name(f), "r (1).bin");
        ck_assert_int_eq(rfile_save_state(f, 0), FERRY_OK);
        rfile_abort(f, 0);
        rfile_free(f);
        ck_assert_int_eq(size_of(in("r.bin.part")), 14);
        ck_assert_str_eq(text(in("r.bin.ferry")), SID " 20 4 3 " PEER "\n");
        ck_assert_int_eq(entries(), 2);
    }
}
END_TEST

START_TEST(a_resume_needs_a_plain_part_holding_the_counted_chunks)
{
    struct rfile *f;
    uint64_t from = 99;
    const char *why;

    /* The state counts 3 chunks (12 bytes); the .part holds 10. */
    put(in("s.part"), "aaaabbbbcc");
    put(in("s.ferry"), SID " 20 4 3 " PEER "\n");
    ck_assert_int_eq(rfile_open(dir, "s", SID, PEER, 20, 4, &f, &from, &why),
                     FERRY_OK);
    ck_assert_uint_eq(from, 0);
    ck_assert_str_eq(rfile_name(f), "s (1)");
    rfile_free(f);
    /* A .part with a second link elsewhere. */
    put(in("h.part"), "aaaabbbbcccc");
    put(in("h.ferry"), SID " 20 4 3 " PEER "\n");
    ck_assert_int_eq(link(in("h.part"), in("elsewhere")), 0);
    ck_assert_int_eq(rfile_open(dir, "h", SID, PEER, 20, 4, &f, &from, &why),
                     FERRY_OK);
    ck_assert_uint_eq(from, 0);
    ck_assert_str_eq(rfile_name(f), "h (1)");
    rfile_free(f);
    ck_assert_str_eq(text(in("s.part")), "aaaabbbbcc");
    ck_assert_str_eq(text(in("elsewhere")), "aaaabbbbcccc");
}
END_TEST

START_TEST(commit_moves_on_when_the_final_name_appears_meanwhile)
{
    struct rfile *f = fresh("doc.txt", SID);

    ck_assert_int_eq(rfile_write(f, "ours", 4), FERRY_OK);
    ck_assert_int_eq(rfile_save_state(f, 1), FERRY_OK);
    put(in("doc.txt"), "theirs");
    put(in("doc (1).txt.part"), "in progress"); /* another transfer's */
    ck_assert_int_eq(rfile_commit(f), FERRY_OK);
    ck_assert_str_eq(rfile_name(f), "doc (2).txt");
    ck_assert_str_eq(rfile_path(f), in("doc (2).txt"));
    rfile_free(f);
    ck_assert_str_eq(text(in("doc.txt")), "theirs");
    ck_assert_str_eq(text(in("doc (1).txt.part")), "in progress");
    ck_assert_str_eq(text(in("doc (2).txt")), "ours");
    ck_assert(!there(in("doc.txt.part")) && !there(in("doc.txt.ferry")));
    ck_assert_int_eq(entries(), 3);
}
END_TEST

START_TEST(abort_without_keep_removes_only_our_files)
{
    struct rfile *f;

    put(in("k.dat (1).part"), "unrelated");
    put(in("notes"), "unrelated");
    f = fresh("k.dat", SID);
    ck_assert_int_eq(rfile_write(f, "abcd", 4), FERRY_OK);
    ck_assert_int_eq(rfile_save_state(f, 1), FERRY_OK);
    ck_assert(there(in("k.dat.part")) && there(in("k.dat.ferry")));
    rfile_abort(f, 0);
    rfile_abort(f, 0); /* a second abort does nothing */
    ck_assert_int_eq(rfile_commit(f), FERRY_ERR_IO);
    rfile_free(f);
    ck_assert_int_eq(entries(), 2);
    ck_assert_str_eq(text(in("notes")), "unrelated");
    /* A .part swapped in after open is not ours to remove. */
    f = fresh("k.dat", SID);
    ck_assert_int_eq(unlink(in("k.dat.part")), 0);
    put(in("k.dat.part"), "swapped in");
    rfile_abort(f, 0);
    rfile_free(f);
    ck_assert_str_eq(text(in("k.dat.part")), "swapped in");
}
END_TEST

/* Delivers a relative path; checks where it landed. */
static void deliver_path(const char *name, const char *sid, const char *want)
{
    struct rfile *f = fresh(name, sid);

    ck_assert_int_eq(rfile_write(f, "0123456789abcdefghij", 20), FERRY_OK);
    ck_assert_int_eq(rfile_commit(f), FERRY_OK);
    ck_assert_str_eq(rfile_path(f), in(want));
    ck_assert_str_eq(text(in(want)), "0123456789abcdefghij");
    rfile_free(f);
}

START_TEST(relative_paths_land_in_folders_below_dir)
{
    struct stat sb;

    deliver_path("trip/day 1/a.jpg", SID, "trip/day 1/a.jpg");
    /* A second file into the same folders. */
    deliver_path("trip/b.jpg", "sid-two", "trip/b.jpg");
    /* Hidden or option-like folders get the '_' as names do. */
    deliver_path(".ssh/-rf", "sid-three", "_.ssh/_-rf");
    ck_assert_int_ne(stat(in(".ssh"), &sb), 0);
    /* The same path again: a number, in the same folder. */
    deliver_path("trip/b.jpg", "sid-four", "trip/b (1).jpg");
}
END_TEST

START_TEST(a_symlinked_folder_is_never_followed)
{
    struct rfile *f = (struct rfile *)1;
    char *outside = g_build_filename(dir, "outside", NULL);
    uint64_t from;
    const char *why;

    ck_assert_int_eq(mkdir(outside, 0700), 0);
    ck_assert_int_eq(symlink(outside, in("link")), 0);
    ck_assert_int_eq(
        rfile_open(dir, "link/x.txt", SID, PEER, 20, 4, &f, &from, &why),
        FERRY_ERR_IO);
    ck_assert_ptr_null(f);
    ck_assert_str_eq(why, "subdir");
    ck_assert_int_ne(access(in("outside/x.txt.part"), F_OK), 0);
    g_free(outside);
}
END_TEST

START_TEST(bad_names_and_values_are_refused)
{
    static const char *bad[] = {"",       ".",    "..",    "a//b",
                                "/etc/passwd", "a/",  "../x",  "a/../b",
                                "a/./b",  "a\\b"};
    struct rfile *f = (struct rfile *)1;
    uint64_t from;
    const char *why;
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        ck_assert_int_eq(
            rfile_open(dir, bad[i], SID, PEER, 20, 4, &f, &from, &why),
            FERRY_ERR_BAD_VALUE);
        ck_assert_ptr_null(f);
        ck_assert_str_eq(why, "bad-name");
    }
    ck_assert_int_eq(rfile_open(dir, NULL, SID, PEER, 20, 4, &f, &from, &why),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(rfile_open(dir, "a", "s!d", PEER, 20, 4, &f, &from, &why),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_str_eq(why, "bad-value");
    ck_assert_int_eq(rfile_open(dir, "a", SID, "@@@", 20, 4, &f, &from, &why),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(rfile_open(dir, "a", SID, PEER, 20, 0, &f, &from, &why),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(
        rfile_open(in("missing"), "a", SID, PEER, 20, 4, &f, &from, &why),
        FERRY_ERR_IO);
    ck_assert_str_eq(why, "dir");
    ck_assert_int_eq(entries(), 0);
}
END_TEST

START_TEST(a_number_goes_before_the_last_extension)
{
    static const char *name[] = {"photo.jpg", "archive.tar.gz", ".profile",
                                 "README",    "a.b.",           "sp ace.x y"};
    static const char *want[] = {"photo (1).jpg", "archive.tar (1).gz",
                                 "_.profile",     "README (1)",
                                 "a.b (1).",      "sp ace (1).x y"};
    struct rfile *f;
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(name); i++) {
        put(in(name[i]), "taken");
        f = fresh(name[i], SID);
        ck_assert_str_eq(rfile_name(f), want[i]);
        rfile_abort(f, 0);
        rfile_free(f);
    }
}
END_TEST

START_TEST(names_run_out_after_999_numbers)
{
    struct rfile *f = (struct rfile *)1;
    uint64_t from;
    const char *why;
    char name[32];
    int i;

    put(in("n"), "taken");
    for (i = 1; i <= 999; i++) {
        snprintf(name, sizeof(name), "n (%d)", i);
        put(in(name), "taken");
    }
    ck_assert_int_eq(rfile_open(dir, "n", SID, PEER, 20, 4, &f, &from, &why),
                     FERRY_ERR_IO);
    ck_assert_ptr_null(f);
    ck_assert_str_eq(why, "name-taken");
    ck_assert_int_eq(entries(), 1000);
}
END_TEST

START_TEST(a_state_save_leaves_foreign_files_alone)
{
    struct rfile *f = fresh("s", SID);

    /* Planted after open: neither followed, overwritten nor removed. */
    put(in("s.ferry.tmp"), "foreign tmp");
    ck_assert_int_eq(rfile_save_state(f, 1), FERRY_ERR_IO);
    ck_assert_str_eq(text(in("s.ferry.tmp")), "foreign tmp");
    ck_assert_int_eq(unlink(in("s.ferry.tmp")), 0);
    put(in("s.ferry"), "foreign state");
    ck_assert_int_eq(rfile_save_state(f, 1), FERRY_ERR_IO);
    ck_assert_str_eq(text(in("s.ferry")), "foreign state");
    ck_assert(!there(in("s.ferry.tmp")));
    ck_assert_int_eq(unlink(in("s.ferry")), 0);
    /* Once our line is in place, later saves replace it. */
    ck_assert_int_eq(rfile_save_state(f, 1), FERRY_OK);
    ck_assert_int_eq(rfile_save_state(f, 2), FERRY_OK);
    ck_assert_str_eq(text(in("s.ferry")), SID " 20 4 2 " PEER "\n");
    ck_assert(!there(in("s.ferry.tmp")));
    rfile_abort(f, 0);
    rfile_free(f);
    ck_assert_int_eq(entries(), 0);
}
END_TEST

START_TEST(long_names_are_cut_to_fit_with_their_extension)
{
    GString *name = g_string_new(NULL);
    struct rfile *f;
    int i;

    for (i = 0; i < 250; i++)
        g_string_append(name, "\xc3\xa9"); /* é, two bytes */
    g_string_append(name, ".txt");
    f = fresh(name->str, SID);
    ck_assert(strlen(rfile_name(f)) <= 255 - 16);
    ck_assert(g_utf8_validate(rfile_name(f), -1, NULL));
    ck_assert(g_str_has_suffix(rfile_name(f), "\xc3\xa9.txt"));
    ck_assert_int_eq(rfile_write(f, "x", 1), FERRY_OK);
    ck_assert_int_eq(rfile_commit(f), FERRY_OK);
    rfile_free(f);
    /* The numbered form and its .ferry.tmp fit as well. */
    f = fresh(name->str, SID);
    ck_assert(g_str_has_suffix(rfile_name(f), "\xc3\xa9 (1).txt"));
    ck_assert_int_eq(rfile_save_state(f, 0), FERRY_OK);
    rfile_abort(f, 0);
    rfile_free(f);
    ck_assert_int_eq(entries(), 1);
    g_string_free(name, TRUE);
}
END_TEST

START_TEST(writes_past_the_offered_size_are_refused)
{
    struct rfile *f = fresh("w", SID); /* size 20 */

    ck_assert_int_eq(rfile_write(f, "0123456789abcdef", 16), FERRY_OK);
    ck_assert_int_eq(rfile_write(f, "01234", 5), FERRY_ERR_TOO_LARGE);
    ck_assert_int_eq(rfile_write(f, "0123", 4), FERRY_OK);
    ck_assert_int_eq(rfile_write(f, "0", 1), FERRY_ERR_TOO_LARGE);
    ck_assert_int_eq(size_of(in("w.part")), 20);
    rfile_abort(f, 0);
    rfile_free(f);
    rfile_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("files");
    TCase *tc = tcase_create("files");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(
        tc, second_offer_of_a_name_gets_a_number_and_the_first_is_untouched);
    tcase_add_test(tc, a_foreign_part_file_is_neither_overwritten_nor_deleted);
    tcase_add_test(tc, a_foreign_state_or_tmp_file_alone_moves_the_name_on);
    tcase_add_test(tc, a_symlinked_part_is_never_followed);
    tcase_add_test(
        tc, an_interrupted_transfer_resumes_for_its_session_and_bare_jid);
    tcase_add_test(tc,
                   another_session_does_not_resume_and_leaves_the_old_files);
    tcase_add_test(tc, a_resume_needs_a_plain_part_holding_the_counted_chunks);
    tcase_add_test(tc, commit_moves_on_when_the_final_name_appears_meanwhile);
    tcase_add_test(tc, abort_without_keep_removes_only_our_files);
    tcase_add_test(tc, bad_names_and_values_are_refused);
    tcase_add_test(tc, a_number_goes_before_the_last_extension);
    tcase_add_test(tc, names_run_out_after_999_numbers);
    tcase_add_test(tc, a_state_save_leaves_foreign_files_alone);
    tcase_add_test(tc, long_names_are_cut_to_fit_with_their_extension);
    tcase_add_test(tc, writes_past_the_offered_size_are_refused);
    tcase_add_test(tc, delivered_files_never_take_a_companion_name);
    tcase_add_test(tc, hidden_or_option_like_names_get_a_leading_underscore);
    tcase_add_test(tc, relative_paths_land_in_folders_below_dir);
    tcase_add_test(tc, a_symlinked_folder_is_never_followed);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
