#include <string.h>

#include "codec.h"
#include "err.h"

static const char hexd[] = "0123456789abcdef";
static const char b64d[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void hex_encode(const uint8_t *in, size_t len, char *out)
{
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = hexd[in[i] >> 4];
        out[2 * i + 1] = hexd[in[i] & 0xf];
    }
    out[2 * len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int hex_decode(const char *in, uint8_t *out, size_t outlen)
{
    size_t i;
    int hi, lo;

    if (in == NULL || strlen(in) != 2 * outlen)
        return FERRY_ERR_BAD_VALUE;
    for (i = 0; i < outlen; i++) {
        hi = hexval(in[2 * i]);
        lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return FERRY_ERR_BAD_VALUE;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return FERRY_OK;
}

size_t b64_len(size_t len)
{
    return (len + 2) / 3 * 4;
}

void b64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t i, o = 0;
    uint32_t v;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64d[v >> 18];
        out[o++] = b64d[(v >> 12) & 63];
        out[o++] = b64d[(v >> 6) & 63];
        out[o++] = b64d[v & 63];
    }
    if (len - i == 1) {
        v = (uint32_t)in[i] << 16;
        out[o++] = b64d[v >> 18];
        out[o++] = b64d[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64d[v >> 18];
        out[o++] = b64d[(v >> 12) & 63];
        out[o++] = b64d[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

static int b64val(char c)
{
    const char *p;

    if (c == '\0')
        return -1;
    p = strchr(b64d, c);
    return p ? (int)(p - b64d) : -1;
}

int b64_decode(const char *in, uint8_t *out, size_t outmax, size_t *outlen)
{
    size_t n, i, o = 0, pad = 0;
    int v[4], k;

    if (in == NULL)
        return FERRY_ERR_BAD_VALUE;
    n = strlen(in);
    if (n % 4 != 0)
        return FERRY_ERR_BAD_VALUE;
    if (n > 0 && in[n - 1] == '=')
        pad++;
    if (n > 1 && in[n - 2] == '=')
        pad++;
    if (n / 4 * 3 - pad > outmax)
        return FERRY_ERR_TOO_LARGE;
    for (i = 0; i < n; i += 4) {
        for (k = 0; k < 4; k++) {
            /* '=' only as the last one or two chars of the input */
            if (in[i + k] == '=' && i + 4 == n && k >= 4 - (int)pad)
                v[k] = 0;
            else if ((v[k] = b64val(in[i + k])) < 0)
                return FERRY_ERR_BAD_VALUE;
        }
        out[o++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
        if (i + 4 < n || pad < 2)
            out[o++] = (uint8_t)((v[1] & 15) << 4 | v[2] >> 2);
        if (i + 4 < n || pad < 1)
            out[o++] = (uint8_t)((v[2] & 3) << 6 | v[3]);
    }
    /* Canonical form only: the bits under the padding must be zero. */
    if ((pad == 1 && (v[2] & 3) != 0) || (pad == 2 && (v[1] & 15) != 0))
        return FERRY_ERR_BAD_VALUE;
    *outlen = o;
    return FERRY_OK;
}

int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    size_t i, n;

    if (s == NULL || (n = strlen(s)) == 0 || n > 20)
        return FERRY_ERR_BAD_VALUE;
    if (s[0] == '0' && n > 1)
        return FERRY_ERR_BAD_VALUE;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return FERRY_ERR_BAD_VALUE;
        if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
            return FERRY_ERR_BAD_VALUE;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > max)
        return FERRY_ERR_BAD_VALUE;
    *out = v;
    return FERRY_OK;
}
