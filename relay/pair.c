#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chan.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "relay.h"

/* The channel table. A channel lives from its first admitted end until its
 * id expires: after both ends are gone it stays as a small tombstone, so a
 * role is admitted once per channel id, never twice. */

static guint id_hash(gconstpointer k)
{
    const uint8_t *p = k;
    guint h;

    /* bytes 12..31 of an id are random: any four make a fine hash */
    memcpy(&h, p + 12, sizeof(h));
    return h;
}

static gboolean id_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, FERRY_CHAN_ID_LEN) == 0;
}

static void channel_free(gpointer p)
{
    struct channel *ch = p;

    ring_free(&ch->ch_to_receiver);
    ring_free(&ch->ch_to_sender);
    free(ch->ch_legs);
    free(ch);
}

GHashTable *pair_table_new(void);
GHashTable *pair_table_new(void)
{
    return g_hash_table_new_full(id_hash, id_equal, NULL, channel_free);
}

struct channel *pair_lookup(struct relay *r, const uint8_t id[32])
{
    return g_hash_table_lookup(r->channels, id);
}

static int pair_join(struct relay *r, struct channel *ch)
{
    size_t cap = (size_t)r->conf.buffer_size;
    uint8_t joined[FERRY_FRAME_HDR];
    struct buf *b;

    /* A whole frame must fit in the ring, or it could never be
     * forwarded. */
    if (cap < FERRY_FRAME_HDR + (size_t)r->conf.max_frame)
        cap = FERRY_FRAME_HDR + (size_t)r->conf.max_frame;
    if (ring_init(&ch->ch_to_receiver, cap) != FERRY_OK ||
        ring_init(&ch->ch_to_sender, 4096) != FERRY_OK)
        return FERRY_ERR_NOMEM;
    ch->ch_paired = 1;
    ch->ch_sender->c_state = CONN_PAIRED;
    ch->ch_receiver->c_state = CONN_PAIRED;
    ch->ch_sender->c_last_io = ch->ch_receiver->c_last_io = loop_now_ms();
    r->st.channels_paired++;
    b = buf_new(sizeof(joined));
    frame_put_empty(b, FRAME_PEER_JOINED);
    conn_notice(r, ch->ch_receiver, buf_ptr(b), buf_len(b));
    conn_notice(r, ch->ch_sender, buf_ptr(b), buf_len(b));
    buf_free(b);
    log_info("channel paired sender=conn=%llu receiver=conn=%llu",
             (unsigned long long)ch->ch_sender->c_id,
             (unsigned long long)ch->ch_receiver->c_id);
    return FERRY_OK;
}

int pair_admit(struct relay *r, struct conn *c, const uint8_t id[32],
               uint64_t expiry)
{
    struct channel *ch = pair_lookup(r, id);
    struct conn *peer;
    uint8_t tmp[FERRY_FRAME_HDR + 1];
    struct buf *b;
    int *used;

    if (ch == NULL) {
        if ((int64_t)r->nchannels_live >= r->conf.max_channels)
            return FERRY_ERR_LIMIT;
        if ((ch = calloc(1, sizeof(*ch))) == NULL)
            return FERRY_ERR_NOMEM;
        memcpy(ch->ch_id, id, FERRY_CHAN_ID_LEN);
        ch->ch_slots = chan_id_slots(id);
        if (ch->ch_slots > 0 &&
            (ch->ch_legs = calloc(ch->ch_slots, sizeof(*ch->ch_legs))) ==
                NULL) {
            free(ch);
            return FERRY_ERR_NOMEM;
        }
        ch->ch_expiry = expiry;
        ch->ch_created = loop_now_ms();
        g_hash_table_insert(r->channels, ch->ch_id, ch);
        r->nchannels_live++;
    } else if (ch->ch_sender == NULL && ch->ch_receiver == NULL &&
               ch->ch_nlegs == 0 &&
               (ch->ch_slots == 0 || ch->ch_used_sender)) {
        /* A tombstone: the channel is spent. (A fan-out whose sender has
         * not come yet is not: a leg that came and went early does not
         * end it for the others.) */
        return FERRY_ERR_ROLE_TAKEN;
    }
    if (ch->ch_slots > 0)
        return fan_admit(r, c, ch);
    used =
        c->c_role == ROLE_SENDER ? &ch->ch_used_sender : &ch->ch_used_receiver;
    if (*used)
        return FERRY_ERR_ROLE_TAKEN;
    *used = 1;
    if (c->c_role == ROLE_SENDER) {
        ch->ch_sender = c;
        peer = ch->ch_receiver;
    } else {
        ch->ch_receiver = c;
        peer = ch->ch_sender;
    }
    c->c_chan = ch;
    c->c_state = CONN_WAITING;
    c->c_since = loop_now_ms(); /* the unpaired timer starts now */
    b = buf_new(sizeof(tmp));
    frame_put_admitted(b, peer != NULL);
    conn_notice(r, c, buf_ptr(b), buf_len(b));
    buf_free(b);
    log_info("conn=%llu admitted role=%s peer=%s", (unsigned long long)c->c_id,
             c->c_role == ROLE_SENDER ? "sender" : "receiver", c->c_peer);
    if (peer != NULL)
        return pair_join(r, ch);
    return FERRY_OK;
}

void pair_detach(struct relay *r, struct conn *c)
{
    struct channel *ch = c->c_chan;

    if (ch == NULL)
        return;
    if (ch->ch_sender == c)
        ch->ch_sender = NULL;
    if (ch->ch_receiver == c)
        ch->ch_receiver = NULL;
    if (ch->ch_slots > 0 && c->c_role == ROLE_RECEIVER &&
        c->c_slot < ch->ch_slots && ch->ch_legs[c->c_slot] == c) {
        ch->ch_legs[c->c_slot] = NULL;
        ch->ch_nlegs--;
    }
    c->c_chan = NULL;
    if (ch->ch_sender == NULL && ch->ch_receiver == NULL && ch->ch_nlegs == 0) {
        /* Keep the tombstone; free the buffers now. */
        ring_free(&ch->ch_to_receiver);
        ring_free(&ch->ch_to_sender);
        if (ch->ch_complete)
            r->st.channels_completed++;
        ch->ch_paired = 0;
        r->nchannels_live--;
    }
}

static gboolean expired(gpointer k, gpointer v, gpointer ud)
{
    struct channel *ch = v;
    uint64_t now = *(uint64_t *)ud;

    (void)k;
    /* (a fan-out's legs point to it too: not while one is attached) */
    return ch->ch_sender == NULL && ch->ch_receiver == NULL &&
           ch->ch_nlegs == 0 && ch->ch_expiry < now;
}

void pair_sweep(struct relay *r, uint64_t now_s)
{
    g_hash_table_foreach_remove(r->channels, expired, &now_s);
}

void pair_free_all(struct relay *r)
{
    g_hash_table_destroy(r->channels);
    r->channels = NULL;
}
