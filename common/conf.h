/* Config files from one option table (STYLE.md #30): the loader reads the
 * table and nothing else; `-n` reports every error as file:line; `-T`
 * dumps the effective values. Files are GLib key files:
 *
 *   [relay]
 *   listen = 127.0.0.1:5290;[::1]:5290
 */
#ifndef FERRY_CONF_H
#define FERRY_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum conf_type {
    CONF_INT,     /* int64_t, bounded by min/max */
    CONF_BOOL,    /* int, 0 or 1 */
    CONF_STR,     /* char *, owned by the target */
    CONF_STRLIST, /* char ** (NULL-terminated), owned by the target */
};

struct conf_opt {
    const char *group;
    const char *key;
    enum conf_type type;
    const char *def; /* default in key-file syntax; NULL: unset */
    int64_t min, max;
    size_t offset; /* of the field in the target struct */
    const char *help;
};

/* Sets every option of target to its default. FERRY_OK or an error. */
int conf_defaults(const struct conf_opt *opts, size_t n, void *target);

/* Loads path over the defaults. Every problem (syntax, unknown group or key,
 * bad type, out of range) is written to errs as "path:line: message\n";
 * returns the number of problems (0 = OK). */
int conf_load(const struct conf_opt *opts, size_t n, void *target,
              const char *path, FILE *errs);

/* One "group.key=value" over what is loaded (a command line's -o, e.g.
 * a secret's path from a systemd unit). Problems are written to errs as
 * "-o ASSIGNMENT: message\n"; returns their number (0 = OK). */
int conf_set(const struct conf_opt *opts, size_t n, void *target,
             const char *assignment, FILE *errs);

/* Writes "group.key = value" for every option. */
void conf_dump(const struct conf_opt *opts, size_t n, const void *target,
               FILE *out);

/* Frees the strings the loader allocated in target. */
void conf_free(const struct conf_opt *opts, size_t n, void *target);

/* Reads a secret file (raw bytes, trailing newline removed) into a fresh
 * buffer. FERRY_OK, FERRY_ERR_IO (errno says why: ENOENT, EACCES, ...),
 * FERRY_ERR_CONFIG (not 16..256 bytes) or FERRY_ERR_NOMEM; *len receives
 * the size. Free with conf_secret_free(). conf_secret_why() words a
 * failure for a log line. */
int conf_read_secret(const char *path, uint8_t **out, size_t *len);
void conf_secret_free(uint8_t *p, size_t len);
/* Right after conf_read_secret() failed with rc: "Permission denied
 * (...)", "not 16 to 256 bytes", ... Static storage. */
const char *conf_secret_why(int rc);

#endif
