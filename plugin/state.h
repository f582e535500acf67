/* libferry's resume state: a small text file beside the .part file,
 * "sid size chunk next peer\n", rewritten (atomically) at every ACK.
 * Internal to libferry. */
#ifndef FERRY_STATE_H
#define FERRY_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "stanza.h"

/* The longest well-formed line, newline included. */
#define STATE_LINE_MAX (64 + 3 * 21 + FERRY_JID_MAX + 8)

struct ferry_state {
    char sid[65];
    uint64_t size, chunk, next;
    char peer[FERRY_JID_MAX + 1];
};

/* FERRY_OK, or FERRY_ERR_IO. Written to path.tmp, then renamed. */
int state_save(const char *path, const struct ferry_state *s);
/* FERRY_OK, FERRY_ERR_IO (no such file) or FERRY_ERR_MALFORMED (anything
 * but one well-formed line: a damaged state file means no resume). */
int state_load(const char *path, struct ferry_state *s);
/* The same strict check on n bytes already read; read STATE_LINE_MAX + 1
 * so that a longer file shows as such. FERRY_OK or FERRY_ERR_MALFORMED. */
int state_parse(const char *buf, size_t n, struct ferry_state *s);

#endif
