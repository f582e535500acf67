/* Ferry for Profanity: the plugin's list of transfers, its log file and
 * the UI hooks the list needs. Nothing here includes profapi.h (only
 * ferry.c does: the header defines its function pointers). */
#ifndef FERRY_PROF_XFER_H
#define FERRY_PROF_XFER_H

#include <stdint.h>

#include <glib.h>

#include "ferry.h"

enum xfer_state {
    X_OFFERED = 1, /* an offer to us, waiting for /ferry accept|reject */
    X_WAITING = 2, /* our offer, not yet accepted */
    X_ACTIVE = 4,  /* accepted: channel and data */
    X_DONE = 8,
};

struct xfer {
    int x_id;              /* the number the user types */
    ferry_transfer_t *x_t; /* NULL once done (libferry frees it) */
    char *x_peer;          /* bare JID */
    char *x_full;          /* the peer's JID as libferry knows it */
    char *x_name;
    char *x_path; /* sender: the source; receiver: where it lands */
    uint64_t x_size, x_done;
    int x_sender;
    enum xfer_state x_state;
    ferry_status_t x_status;
    char *x_reason;
    double x_t0;
    int x_quarter; /* progress already shown, in quarters */
    int x_slowed;  /* slow-down events seen */
};

/** A new entry for t (also t's userdata). Never NULL. */
struct xfer *xfer_new(ferry_transfer_t *t, const char *peer, const char *name,
                      uint64_t size, int sender);
/** The entry of t, or NULL. */
struct xfer *xfer_of(ferry_transfer_t *t);
/** The entry numbered id (any state), or NULL. */
struct xfer *xfer_get(int id);
/** The newest entry in one of the states of mask, or NULL; *count gets how
 *  many entries are in those states (count may be NULL). */
struct xfer *xfer_newest(int mask, int *count);
/** Every entry, oldest first. The list belongs to this module. */
GList *xfer_all(void);
/** Marks x done (x_t becomes NULL) and keeps the last few done entries. */
void xfer_finish(struct xfer *x, ferry_status_t st, const char *reason);
/** Frees every entry (the transfers themselves belong to libferry). */
void xfer_free_all(void);
/** One line for /ferry list; g_free() it. */
char *xfer_describe(const struct xfer *x);

/** What the user reads when x ends; g_free() it. */
char *xfer_result_text(const struct xfer *x, ferry_status_t st,
                       const char *reason, double seconds);

/** "1.5 MiB". */
void xfer_human(uint64_t n, char *out, size_t len);
/** The bare part of a JID; g_free() it. */
char *xfer_bare(const char *jid);
/** CLOCK_MONOTONIC seconds. */
double xfer_now(void);

/** Opens the plugin's log (NULL or "": no file). Appends. */
void plog_open(const char *path);
void plog_close(void);
/** One line with a wall-clock timestamp in ms since the epoch. */
void plog(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#endif
