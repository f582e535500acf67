/* libferry: the reader of a stream's source. A source of unknown length
 * (FERRY_SIZE_UNKNOWN) is read on a thread of its own, in both modes, so
 * its read() may block until a live producer writes, without stalling the
 * host's thread or the worker's other transfers. The thread fills a
 * bounded ring; the data half takes from it, woken by an eventfd that it
 * polls beside the relay socket. Internal to libferry. */
#ifndef FERRY_PUMP_H
#define FERRY_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "ferry.h"

struct pump;

enum pump_state {
    PUMP_OPEN,  /* more may come */
    PUMP_END,   /* read() returned 0: nothing after the bytes waiting */
    PUMP_ERROR, /* read() failed: the stream is broken */
};

/* Starts the thread on a copy of src, with a ring of cap bytes. NULL when
 * no thread or eventfd can be made (the source is then not closed). */
struct pump *pump_new(const ferry_source_t *src, size_t cap);
/* Readable when bytes arrived or the source ended since pump_drain(). */
int pump_fd(const struct pump *p);
void pump_drain(struct pump *p);
/* Bytes waiting; *state as above; *since: g_get_monotonic_time() when the
 * oldest byte waiting arrived (0 when none waits). */
size_t pump_avail(struct pump *p, enum pump_state *state, gint64 *since);
/* Moves len bytes (at most what pump_avail() said) into dst. */
void pump_take(struct pump *p, uint8_t *dst, size_t len);
/* The transfer is done with it: the thread stops after the read() in
 * progress, and whichever of the two lets go last calls the source's
 * close() and frees everything. Never waits. Accepts NULL. */
void pump_release(struct pump *p);

#endif
