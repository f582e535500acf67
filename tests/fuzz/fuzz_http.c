/* Fuzz target: the metrics listener's request check (relay/http.c).
 * Input: [limit][step] then the request bytes. The verdict on the bytes
 * received so far must not depend on how they were split: the check run
 * step by step (carrying its scan offset) must agree at every step with a
 * fresh check of the same prefix, and a whole GET/HEAD must hold a blank
 * line within the limit. */
#include <string.h>

#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *req = (const char *)data + 2;
    size_t max, step, len = 0, n, scan = 0, fresh_scan;
    enum http_verdict v = HTTP_NEED_MORE, w;

    if (size < 2)
        return 0;
    max = 16 + (size_t)data[0] * 4;
    step = (size_t)data[1] % 17 + 1;
    n = size - 2;
    while (len < n && v == HTTP_NEED_MORE) {
        len = len + step < n ? len + step : n;
        if (len > max)
            len = max; /* the listener never reads past max */
        v = http_request_check(req, len, max, &scan);
        fresh_scan = 0;
        w = http_request_check(req, len, max, &fresh_scan);
        FUZZ_ASSERT(v == w);
        FUZZ_ASSERT(scan <= len);
        FUZZ_ASSERT(strlen(http_status(v)) > 4);
        if (v == HTTP_TOO_LARGE)
            FUZZ_ASSERT(len >= max);
        if (v == HTTP_GET || v == HTTP_HEAD) {
            const char *e1 = memmem(req, len, "\n\n", 2);
            const char *e2 = memmem(req, len, "\n\r\n", 3);
            FUZZ_ASSERT(e1 != NULL || e2 != NULL);
            FUZZ_ASSERT(memcmp(req, v == HTTP_GET ? "GET " : "HEAD ",
                               v == HTTP_GET ? 4 : 5) == 0);
        }
        if (len == max)
            break;
    }
    return 0;
}
