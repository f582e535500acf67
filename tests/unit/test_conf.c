#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "err.h"

struct cfg {
    int64_t port;
    int tls;
    char *name;
    char **list;
};

static const struct conf_opt opts[] = {
    {"main", "port", CONF_INT, "5290", 1, 65535, offsetof(struct cfg, port),
     "port"},
    {"main", "tls", CONF_BOOL, "false", 0, 1, offsetof(struct cfg, tls), "tls"},
    {"main", "name", CONF_STR, "ferry", 0, 0, offsetof(struct cfg, name),
     "name"},
    {"other", "list", CONF_STRLIST, "a;b", 0, 0, offsetof(struct cfg, list),
     "list"},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static char *write_tmp(const char *text)
{
    static char path[64];
    int fd;

    strcpy(path, "/tmp/ferry-conf-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(defaults_apply_and_dump)
{
    struct cfg c = {0};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    ck_assert_int_eq(conf_defaults(opts, NOPTS, &c), FERRY_OK);
    ck_assert(c.port == 5290);
    ck_assert_str_eq(c.name, "ferry");
    ck_assert_str_eq(c.list[1], "b");
    conf_dump(opts, NOPTS, &c, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, "main.port = 5290\n"));
    ck_assert_ptr_nonnull(strstr(out, "other.list = a;b\n"));
    free(out);
    conf_free(opts, NOPTS, &c);
}
END_TEST

START_TEST(file_values_override_defaults)
{
    struct cfg c = {0};
    char *p = write_tmp("[main]\nport = 7000\ntls=true\n[other]\n"
                        "list = x; y ;\n");

    conf_defaults(opts, NOPTS, &c);
    ck_assert_int_eq(conf_load(opts, NOPTS, &c, p, stderr), 0);
    ck_assert(c.port == 7000);
    ck_assert_int_eq(c.tls, 1);
    ck_assert_str_eq(c.list[0], "x");
    ck_assert_str_eq(c.list[1], "y");
    ck_assert_ptr_null(c.list[2]);
    unlink(p);
    conf_free(opts, NOPTS, &c);
}
END_TEST

START_TEST(every_error_reported_with_its_line)
{
    struct cfg c = {0};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    char *p = write_tmp("[main]\nport = 70000\n\ntls = maybe\nbogus = 1\n"
                        "[nosuch]\nk = v\n");

    conf_defaults(opts, NOPTS, &c);
    ck_assert_int_eq(conf_load(opts, NOPTS, &c, p, f), 4);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(out, ":2: main.port: 70000 out of range"));
    ck_assert_ptr_nonnull(strstr(out, ":4: main.tls: not true or false"));
    ck_assert_ptr_nonnull(strstr(out, ":5: unknown key main.bogus"));
    ck_assert_ptr_nonnull(strstr(out, ":6: unknown section [nosuch]"));
    ck_assert(c.port == 5290); /* a bad value leaves the default */
    free(out);
    unlink(p);
    conf_free(opts, NOPTS, &c);
}
END_TEST

START_TEST(missing_file_and_syntax_error_reported)
{
    struct cfg c = {0};
    FILE *null = fopen("/dev/null", "w");
    char *p;

    conf_defaults(opts, NOPTS, &c);
    ck_assert_int_eq(conf_load(opts, NOPTS, &c, "/nonexistent/x", null), 1);
    p = write_tmp("this is not a key file\n");
    ck_assert_int_eq(conf_load(opts, NOPTS, &c, p, null), 1);
    unlink(p);
    fclose(null);
    conf_free(opts, NOPTS, &c);
}
END_TEST

START_TEST(secret_file_length_bounds)
{
    uint8_t *s;
    size_t l;
    char *p = write_tmp("short\n");

    ck_assert_int_eq(conf_read_secret(p, &s, &l), FERRY_ERR_CONFIG);
    unlink(p);
    p = write_tmp("0123456789abcdef0123\n");
    ck_assert_int_eq(conf_read_secret(p, &s, &l), FERRY_OK);
    ck_assert_uint_eq(l, 20);
    conf_secret_free(s, l);
    unlink(p);
    ck_assert_int_eq(conf_read_secret("/nonexistent", &s, &l), FERRY_ERR_IO);
    ck_assert_str_eq(conf_secret_why(FERRY_ERR_IO),
                     "No such file or directory");
    {
        char big[400];
        memset(big, 'k', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        p = write_tmp(big);
        ck_assert_int_eq(conf_read_secret(p, &s, &l), FERRY_ERR_CONFIG);
        ck_assert_str_eq(conf_secret_why(FERRY_ERR_CONFIG),
                         "a secret must be 16 to 256 bytes");
        unlink(p);
        big[256] = '\0'; /* exactly 256 bytes, then CR LF */
        memcpy(big + 256, "\r\n", 3);
        p = write_tmp(big);
        ck_assert_int_eq(conf_read_secret(p, &s, &l), FERRY_OK);
        ck_assert_uint_eq(l, 256);
        conf_secret_free(s, l);
        unlink(p);
    }
}
END_TEST

/* -o section.key=value, as a systemd unit passes a credential's path. */
START_TEST(command_line_assignment_overrides)
{
    struct cfg c = {0};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    conf_defaults(opts, NOPTS, &c);
    ck_assert_int_eq(conf_set(opts, NOPTS, &c, "main.name=/run/x/secret", f),
                     0);
    ck_assert_str_eq(c.name, "/run/x/secret");
    ck_assert_int_eq(conf_set(opts, NOPTS, &c, "other.list = p;q", f), 0);
    ck_assert_str_eq(c.list[1], "q");
    /* Each malformed one is reported and changes nothing. */
    ck_assert_int_eq(conf_set(opts, NOPTS, &c, "main.port=99999", f), 1);
    ck_assert_int_eq(conf_set(opts, NOPTS, &c, "main.nope=1", f), 1);
    ck_assert_int_eq(conf_set(opts, NOPTS, &c, "port=1", f), 1);
    ck_assert_int_eq(conf_set(opts, NOPTS, &c, "main.port", f), 1);
    ck_assert_int_eq(conf_set(opts, NOPTS, &c, ".port=1", f), 1);
    fclose(f);
    ck_assert(c.port == 5290);
    ck_assert_str_eq(c.name, "/run/x/secret");
    ck_assert_ptr_nonnull(strstr(out, "-o main.port=99999: main.port: 99999 "
                                      "out of range"));
    ck_assert_ptr_nonnull(strstr(out, "unknown key main.nope"));
    free(out);
    conf_free(opts, NOPTS, &c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, defaults_apply_and_dump);
    tcase_add_test(tc, file_values_override_defaults);
    tcase_add_test(tc, every_error_reported_with_its_line);
    tcase_add_test(tc, missing_file_and_syntax_error_reported);
    tcase_add_test(tc, secret_file_length_bounds);
    tcase_add_test(tc, command_line_assignment_overrides);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
