/* The little HTTP the relay's metrics listener speaks: a strict look at
 * the request received so far, with no I/O, so that it can be unit-tested
 * and fuzzed on its own (tests/fuzz/fuzz_http.c). */
#ifndef FERRY_RELAY_HTTP_H
#define FERRY_RELAY_HTTP_H

#include <stddef.h>

enum http_verdict {
    HTTP_NEED_MORE = 0, /* no blank line yet, and nothing wrong so far */
    HTTP_GET,           /* a whole GET request: answer with the metrics */
    HTTP_HEAD,          /* a whole HEAD request: the headers only */
    HTTP_BAD,           /* 400: not an HTTP/1.x request */
    HTTP_BAD_METHOD,    /* 405: a well-formed request for another method */
    HTTP_TOO_LARGE,     /* 431: max bytes and still no blank line */
};

/* Looks at the first len bytes of a request (its head: request line and
 * headers up to the first empty line; CRLF or bare LF line ends). max is
 * the largest head accepted, blank line included. *scan carries where the
 * search for the blank line goes on between calls with more bytes; start
 * it at 0. Bytes after the blank line (a body, a second request) are not
 * looked at. A bad request line is reported as soon as it is complete. */
enum http_verdict http_request_check(const char *buf, size_t len, size_t max,
                                     size_t *scan);

/* Status line text for a verdict ("200 OK", "400 Bad Request", ...). */
const char *http_status(enum http_verdict v);

#endif
