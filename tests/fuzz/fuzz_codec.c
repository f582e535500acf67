/* Fuzz target: the strict text codecs (common/codec.c). Each decoder gets
 * the input as a string; whatever one accepts must encode back to the very
 * same text (one value, one spelling), and nothing is written past the
 * output size given. */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *enc;
    uint8_t *out;
    size_t n, outlen, outmax;
    uint64_t v, max;
    char num[24];

    memcpy(s, data, size);
    s[size] = '\0';
    n = strlen(s);

    /* hex: exactly n/2 bytes */
    out = malloc(n / 2 + 1);
    if (hex_decode(s, out, n / 2) == FERRY_OK) {
        enc = malloc(n + 1);
        hex_encode(out, n / 2, enc);
        FUZZ_ASSERT(strcmp(enc, s) == 0);
        free(enc);
    }
    free(out);

    /* base64 into a buffer of the size the first byte picks: exactly that
     * many bytes are allocated, so ASan catches any overflow */
    outmax = size > 0 ? data[0] % 64 : 0;
    out = malloc(outmax + 1);
    if (b64_decode(s, out, outmax, &outlen) == FERRY_OK) {
        FUZZ_ASSERT(outlen <= outmax);
        enc = malloc(b64_len(outlen) + 1);
        b64_encode(out, outlen, enc);
        FUZZ_ASSERT(strcmp(enc, s) == 0);
        free(enc);
    }
    free(out);

    /* decimal with the largest value from the last 8 bytes */
    max = UINT64_MAX;
    if (size >= 8)
        memcpy(&max, data + size - 8, 8);
    if (parse_u64(s, max, &v) == FERRY_OK) {
        FUZZ_ASSERT(v <= max);
        snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
        FUZZ_ASSERT(strcmp(num, s) == 0);
    }
    free(s);
    return 0;
}
