/* One slot per position of the window, indexed by chunk number modulo the
 * window: a chunk within the window has exactly one place, so put and take
 * are O(1) and memory is bounded by window x chunk size. */
#include <stdlib.h>

#include "err.h"
#include "reorder.h"

struct slot {
    uint64_t number;
    uint8_t *data; /* NULL: empty */
    size_t len;
};

struct reorder {
    unsigned window;
    size_t count, bytes;
    struct slot slots[];
};

struct reorder *reorder_new(unsigned window)
{
    struct reorder *r;

    if (window == 0)
        return NULL;
    r = calloc(1, sizeof(*r) + window * sizeof(struct slot));
    if (r != NULL)
        r->window = window;
    return r;
}

void reorder_free(struct reorder *r)
{
    unsigned i;

    if (r == NULL)
        return;
    for (i = 0; i < r->window; i++)
        free(r->slots[i].data);
    free(r);
}

int reorder_put(struct reorder *r, uint64_t next, uint64_t number,
                uint8_t *data, size_t len)
{
    struct slot *s;

    if (number < next)
        return FERRY_ERR_BAD_VALUE;
    if (number - next >= r->window)
        return FERRY_ERR_TOO_LARGE;
    s = &r->slots[number % r->window];
    if (s->data != NULL) {
        /* Within one window a slot can only hold this same number. */
        r->count--;
        r->bytes -= s->len;
        free(s->data);
    }
    s->number = number;
    s->data = data;
    s->len = len;
    r->count++;
    r->bytes += len;
    return FERRY_OK;
}

uint8_t *reorder_take(struct reorder *r, uint64_t number, size_t *len)
{
    struct slot *s = &r->slots[number % r->window];
    uint8_t *d;

    if (s->data == NULL || s->number != number)
        return NULL;
    d = s->data;
    *len = s->len;
    s->data = NULL;
    r->count--;
    r->bytes -= s->len;
    return d;
}

size_t reorder_count(const struct reorder *r)
{
    return r->count;
}

size_t reorder_bytes(const struct reorder *r)
{
    return r->bytes;
}
