/* libferry's reorder cache (patent claims 10, 11, 15): chunks that arrive
 * ahead of the next one expected wait here, at most `window` of them, until
 * the gap before them is filled. Internal to libferry. */
#ifndef FERRY_REORDER_H
#define FERRY_REORDER_H

#include <stddef.h>
#include <stdint.h>

struct reorder;

struct reorder *reorder_new(unsigned window);
void reorder_free(struct reorder *r);
/* Keeps chunk `number` (taking ownership of data, a malloc'd block) while
 * `next` is the first chunk not yet written. FERRY_ERR_BAD_VALUE when
 * number < next, FERRY_ERR_TOO_LARGE when it is `window` or more ahead
 * (data is then not taken). A second copy of a held chunk replaces it. */
int reorder_put(struct reorder *r, uint64_t next, uint64_t number,
                uint8_t *data, size_t len);
/* Chunk `number` if held (the caller owns it then), else NULL. */
uint8_t *reorder_take(struct reorder *r, uint64_t number, size_t *len);
size_t reorder_count(const struct reorder *r);
size_t reorder_bytes(const struct reorder *r);

#endif
