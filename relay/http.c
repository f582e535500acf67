#include <string.h>

#include "http.h"

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* "METHOD SP target SP HTTP/1.d" (n bytes, line end stripped). */
static enum http_verdict request_line(const char *l, size_t n)
{
    size_t i = 0, m, t;

    while (i < n && is_tchar((unsigned char)l[i]))
        i++;
    m = i;
    if (m == 0 || i >= n || l[i] != ' ')
        return HTTP_BAD;
    t = ++i;
    while (i < n && (unsigned char)l[i] > ' ' && (unsigned char)l[i] != 0x7f)
        i++;
    if (i == t || i >= n || l[i] != ' ')
        return HTTP_BAD;
    i++;
    if (n - i != 8 || memcmp(l + i, "HTTP/1.", 7) != 0 || l[i + 7] < '0' ||
        l[i + 7] > '9')
        return HTTP_BAD;
    if (m == 3 && memcmp(l, "GET", 3) == 0)
        return HTTP_GET;
    if (m == 4 && memcmp(l, "HEAD", 4) == 0)
        return HTTP_HEAD;
    return HTTP_BAD_METHOD;
}

enum http_verdict http_request_check(const char *buf, size_t len, size_t max,
                                     size_t *scan)
{
    const char *nl;
    size_t i, line, end = 0;

    /* Header bytes: no NUL and no control characters but tab, CR, LF. */
    for (i = *scan; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if ((c < ' ' && c != '\t' && c != '\r' && c != '\n') || c == 0x7f)
            return HTTP_BAD;
        /* The head ends at an empty line: LF LF or LF CR LF. */
        if (c == '\n' && i > 0 &&
            (buf[i - 1] == '\n' ||
             (buf[i - 1] == '\r' && i > 1 && buf[i - 2] == '\n'))) {
            end = i + 1;
            break;
        }
    }
    if (end == 0)
        *scan = len;
    if (end > max || (end == 0 && len >= max))
        return HTTP_TOO_LARGE;
    /* The request line, as soon as it is there. */
    if ((nl = memchr(buf, '\n', end ? end : len)) != NULL) {
        line = (size_t)(nl - buf);
        if (line > 0 && buf[line - 1] == '\r')
            line--;
        enum http_verdict v = request_line(buf, line);
        if (v == HTTP_BAD || end == 0)
            return v == HTTP_BAD ? HTTP_BAD : HTTP_NEED_MORE;
        return v;
    }
    return HTTP_NEED_MORE;
}

const char *http_status(enum http_verdict v)
{
    switch (v) {
    case HTTP_GET:
    case HTTP_HEAD:
        return "200 OK";
    case HTTP_BAD_METHOD:
        return "405 Method Not Allowed";
    case HTTP_TOO_LARGE:
        return "431 Request Header Fields Too Large";
    case HTTP_BAD:
    case HTTP_NEED_MORE:
    default:
        return "400 Bad Request";
    }
}
