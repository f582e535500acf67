/* Test helper: hex string to bytes, asserting well-formed input. */
#ifndef FERRY_TEST_HEXUTIL_H
#define FERRY_TEST_HEXUTIL_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"

/* Returns a malloc'd buffer of strlen(hex)/2 bytes (at least 1). */
static inline uint8_t *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    uint8_t *p = malloc(n ? n : 1);

    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(hex_decode(hex, p, n), FERRY_OK);
    if (len)
        *len = n;
    return p;
}

static inline void assert_hex(const uint8_t *p, size_t len, const char *hex)
{
    char *s = malloc(2 * len + 1);

    ck_assert_ptr_nonnull(s);
    hex_encode(p, len, s);
    ck_assert_str_eq(s, hex);
    free(s);
}

#include <stdio.h>

/* Value of `name` in tests/data/<file> ("name hex" lines, '#' comments)
 * as bytes (malloc'd). */
static inline uint8_t *kat_in(const char *file, const char *name, size_t *len)
{
    char path[4096], line[1024], key[128], val[800];
    const char *top = getenv("top_srcdir");
    FILE *f;
    uint8_t *r = NULL;

    snprintf(path, sizeof(path), "%s/tests/data/%s", top ? top : ".", file);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] == '#' || sscanf(line, "%127s %799s", key, val) != 2)
            continue;
        if (strcmp(key, name) == 0) {
            r = unhex(val, len);
            break;
        }
    }
    fclose(f);
    ck_assert_msg(r != NULL, "no vector %s in %s", name, file);
    return r;
}

/* Value of `name` in tests/data/kat.txt as bytes (malloc'd). */
static inline uint8_t *kat(const char *name, size_t *len)
{
    return kat_in("kat.txt", name, len);
}

/* Value of `name` in tests/data/fanout-kat.txt (the XEP's fan-out
 * vectors) as bytes (malloc'd). */
static inline uint8_t *fkat(const char *name, size_t *len)
{
    return kat_in("fanout-kat.txt", name, len);
}

#endif
