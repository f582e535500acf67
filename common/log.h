/* A small log module after OpenBSD's log.c: stderr, one line per event,
 * quiet (warnings only) unless the verbosity is raised. Every function keeps
 * errno intact. Lines look like "ferry-relay: conn=3 closed reason=...". */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_WARN = 0, LOG_LVL_INFO = 1, LOG_LVL_DEBUG = 2 };

/* name: prefix of every line (kept by pointer, not copied). */
void log_init(const char *name, int level);
void log_setlevel(int level);
int log_getlevel(void);

/* log_warn appends ": strerror(errno)"; the x variants do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For broken invariants only, never for input: log and exit(1). */
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* Writes at most outlen-1 chars of a peer's bytes into out, non-printable
 * bytes as \xNN, for logging untrusted data (STYLE.md #21). */
void log_escape(char *out, unsigned long outlen, const void *data,
                unsigned long len);

#endif
