#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char *log_name = "ferry";
static int log_level = LOG_LVL_WARN;

void log_init(const char *name, int level)
{
    if (name != NULL)
        log_name = name;
    log_level = level;
}

void log_setlevel(int level)
{
    log_level = level;
}

int log_getlevel(void)
{
    return log_level;
}

static void vlog(const char *lvl, const char *fmt, va_list ap, int with_errno)
    __attribute__((format(printf, 2, 0)));

static void vlog(const char *lvl, const char *fmt, va_list ap, int with_errno)
{
    char msg[1024];
    int saved = errno;
    struct timespec ts;
    struct tm tm;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (with_errno)
        fprintf(stderr, "%02d:%02d:%02d.%03ld %s: level=%s %s: %s\n",
                tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                log_name, lvl, msg, strerror(saved));
    else
        fprintf(stderr, "%02d:%02d:%02d.%03ld %s: level=%s %s\n", tm.tm_hour,
                tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_name, lvl, msg);
    fflush(stderr);
    errno = saved;
}

void log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("warn", fmt, ap, 1);
    va_end(ap);
}

void log_warnx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("warn", fmt, ap, 0);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    if (log_level < LOG_LVL_INFO)
        return;
    va_start(ap, fmt);
    vlog("info", fmt, ap, 0);
    va_end(ap);
}

void log_debug(const char *fmt, ...)
{
    va_list ap;
    if (log_level < LOG_LVL_DEBUG)
        return;
    va_start(ap, fmt);
    vlog("debug", fmt, ap, 0);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("fatal", fmt, ap, 1);
    va_end(ap);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog("fatal", fmt, ap, 0);
    va_end(ap);
    exit(1);
}

void log_escape(char *out, unsigned long outlen, const void *data,
                unsigned long len)
{
    const unsigned char *p = data;
    unsigned long i, o = 0;

    if (outlen == 0)
        return;
    for (i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\') {
            if (outlen - o < 2)
                break;
            out[o++] = (char)p[i];
        } else {
            if (outlen - o < 5)
                break;
            snprintf(out + o, 5, "\\x%02x", p[i]);
            o += 4;
        }
    }
    out[o] = '\0';
}
