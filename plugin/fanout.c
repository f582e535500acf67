/* libferry: the sender's data half on a fan-out channel (XEP "Fan-out").
 *
 * Each chunk is sealed once, under a transfer key K, and the relay copies
 * it to every leg. Each leg gets K sealed under its own leg key (KEY, when
 * it joins), its own END (its digest of the sealed chunks from its first,
 * sealed under its leg key, which the other receivers lack), and answers
 * with its own VERIFIED; the relay brings its frames wrapped in LEG with
 * its slot. Data starts once every leg joined, or at the join deadline
 * with those present; a leg that ends, for whatever reason, ends alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "err.h"
#include "frame.h"
#include "internal.h"

_Static_assert(FERRY_KEY_WRAP_LEN == FERRY_KEY_SEALED_LEN,
               "KEY's body is K wrapped");


int fan_setup(ferry_transfer_t *t)
{
    struct group *g = t->group;
    uint8_t shared[32], sk[32], lk[32];
    unsigned i;
    int rc = FERRY_OK;

    if (ferry_random(g->k, sizeof(g->k)) != FERRY_OK ||
        (t->aead = aead_new(t->cipher, g->k)) == NULL)
        return FERRY_ERR_CRYPTO;
    for (i = 0; i < g->nslots && rc == FERRY_OK; i++) {
        struct leg *l = g->slot[i];
        if ((rc = ferry_x25519(t->my_priv, l->pub, shared)) != FERRY_OK ||
            (rc = chan_slot_key(t->ch.key, i, sk)) != FERRY_OK ||
            (rc = ferry_content_key(shared, sk, t->sid, t->cipher, lk)) !=
                FERRY_OK)
            break;
        l->aead = aead_new(t->cipher, lk);
        l->chain = ferry_sealed_new(l->first);
        if (l->aead == NULL || l->chain == NULL)
            rc = FERRY_ERR_NOMEM;
    }
    ferry_wipe(shared, sizeof(shared));
    ferry_wipe(sk, sizeof(sk));
    ferry_wipe(lk, sizeof(lk));
    g->live = g->nslots;
    return rc;
}

void fan_free(ferry_transfer_t *t)
{
    struct group *g = t->group;
    unsigned i;

    if (g == NULL || !g->fan)
        return;
    for (i = 0; i < g->nslots; i++) {
        aead_free(g->slot[i]->aead);
        sha256_free(g->slot[i]->chain);
        g->slot[i]->aead = NULL;
        g->slot[i]->chain = NULL;
    }
    ferry_wipe(g->k, sizeof(g->k));
}

/* Receivers still served. */
static int live(const struct leg *l)
{
    return l->st == LEG_DATA;
}

uint64_t fan_acked(const ferry_transfer_t *t)
{
    const struct group *g = t->group;
    uint64_t min = UINT64_MAX;
    unsigned i;

    for (i = 0; i < g->nslots; i++)
        if (live(g->slot[i]) && g->slot[i]->acked < min)
            min = g->slot[i]->acked;
    return min == UINT64_MAX ? t->acked : min;
}

static void put_leg(ferry_transfer_t *t, unsigned slot, struct buf *inner)
{
    if (frame_put_leg(t->out, (uint8_t)slot, buf_ptr(inner),
                      buf_len(inner)) != FERRY_OK)
        dp_finish(t, FERRY_DONE_IO, "internal");
}

/* The outcome: verified by every leg, or the first other outcome (in
 * slot order); the receipts tell each. */
static void fan_done(ferry_transfer_t *t)
{
    struct group *g = t->group;
    const struct leg *bad = NULL;
    unsigned i, ok = 0;

    for (i = 0; i < g->nslots; i++) {
        if (g->slot[i]->status == FERRY_DONE_OK)
            ok++;
        else if (bad == NULL)
            bad = g->slot[i];
    }
    snprintf(t->detail, sizeof(t->detail), "%u of %u receivers verified", ok,
             g->nslots);
    if (bad == NULL)
        dp_finish(t, FERRY_DONE_OK, NULL);
    else
        dp_finish(t, bad->status, bad->reason);
}

static void start(ferry_transfer_t *t)
{
    t->ds = D_STREAMING;
    t->group->started = 1;
    dp_emit_event(t, "peer-joined"); /* may end it (a cancel) */
    if (t->ds == D_STREAMING && stream_of(t) && dp_stream_start(t) != FERRY_OK)
        dp_finish(t, FERRY_DONE_IO, "source-thread");
}

/* Before the data: start once every leg still served has joined. */
static void maybe_start(ferry_transfer_t *t)
{
    struct group *g = t->group;
    unsigned i, joined = 0;

    if (t->ds != D_WAIT_PEER)
        return;
    for (i = 0; i < g->nslots; i++) {
        if (!live(g->slot[i]))
            continue;
        if (!g->slot[i]->joined)
            return;
        joined++;
    }
    if (joined > 0)
        start(t);
}

static void leg_end(ferry_transfer_t *t, struct leg *l, ferry_status_t st,
                    const char *reason)
{
    struct group *g = t->group;

    if (!live(l))
        return;
    leg_final(l, st, reason);
    g->live--;
    if (g->live == 0)
        fan_done(t);
    else
        maybe_start(t);
}

void fan_timers(ferry_transfer_t *t, time_t now)
{
    struct group *g = t->group;
    unsigned i;

    if (t->ds == D_WAIT_VERIFIED && g->verified_deadline != 0 &&
        now >= g->verified_deadline) {
        g->verified_deadline = 0;
        for (i = 0; i < g->nslots && t->ds != D_DONE; i++)
            leg_end(t, g->slot[i], FERRY_DONE_TIMEOUT, "no-verified");
        return;
    }
    if (t->ds != D_WAIT_PEER || g->join_deadline == 0 ||
        now < g->join_deadline)
        return;
    g->join_deadline = 0;
    for (i = 0; i < g->nslots && t->ds != D_DONE; i++)
        if (live(g->slot[i]) && !g->slot[i]->joined)
            leg_end(t, g->slot[i], FERRY_DONE_PEER_GONE, "not-joined");
}

static void on_joined(ferry_transfer_t *t, struct leg *l)
{
    uint8_t wrapped[FERRY_KEY_WRAP_LEN];
    struct buf *b;

    if (l->joined)
        return;
    l->joined = 1;
    l->t0_us = g_get_monotonic_time();
    b = buf_new(FERRY_FRAME_HDR + FERRY_KEY_SEALED_LEN);
    if (b == NULL ||
        ferry_key_wrap(l->aead, t->sid, t->group->k, wrapped) != FERRY_OK ||
        frame_put_key(b, wrapped) != FERRY_OK) {
        buf_free(b);
        dp_finish(t, FERRY_DONE_IO, "internal");
        return;
    }
    put_leg(t, l->slot, b);
    buf_free(b);
    if (t->ds != D_DONE)
        maybe_start(t);
}

static void on_verified(ferry_transfer_t *t, struct leg *l,
                        const struct frame *in)
{
    if (!l->ended)
        return; /* it cannot confirm what it was not sent */
    if (ferry_verified_open(l->aead, t->sid, t->end_count, t->end_size,
                            l->end_hash, in->sealed) != FERRY_OK) {
        leg_end(t, l, FERRY_DONE_INTEGRITY, "bad-verified");
        return;
    }
    l->acked = t->end_count;
    leg_end(t, l, FERRY_DONE_OK, NULL);
}

void fan_on_leg(ferry_transfer_t *t, const struct frame *f)
{
    struct group *g = t->group;
    struct frame in;
    struct leg *l;
    size_t used;
    int code;

    /* The relay names a slot of this channel, and wraps one whole frame
     * (frame_decode checked); anything else is the relay's fault. */
    if (g == NULL || !g->fan || f->slot >= g->nslots ||
        frame_decode(f->inner, f->inner_len, FERRY_FRAME_MAX, &in, &used) !=
            FERRY_OK ||
        used != f->inner_len) {
        dp_finish(t, FERRY_DONE_INTEGRITY, "bad-leg");
        return;
    }
    l = g->slot[f->slot];
    if (!live(l))
        return; /* it ended: what the relay still had of it is moot */
    switch (in.type) {
    case FRAME_PEER_JOINED:
        on_joined(t, l);
        break;
    case FRAME_ACK:
        /* (a file's count bounds it: receipts multiply it by the chunk) */
        if (in.number > l->acked &&
            (stream_of(t) || in.number <= t->nchunks))
            l->acked = in.number;
        dp_emit_progress(t, stream_of(t)
                                ? dp_stream_acked(t, fan_acked(t))
                                : MIN(fan_acked(t) * t->chunk, t->size));
        break;
    case FRAME_VERIFIED:
        on_verified(t, l, &in);
        break;
    case FRAME_CANCEL:
    case FRAME_PEER_GONE:
        code = in.code;
        leg_end(t, l,
                code == FERRY_ERR_INTEGRITY ? FERRY_DONE_INTEGRITY
                : in.type == FRAME_CANCEL   ? FERRY_DONE_CANCELLED
                                            : FERRY_DONE_PEER_GONE,
                ferry_errname(code));
        break;
    default:
        break; /* nothing else is a leg's to say */
    }
}

/* CHECK(next) to leg l: its digest of the chunks first..next-1, sealed
 * under its leg key; after the DATA before it, in the same output. */
static int put_check(ferry_transfer_t *t, struct leg *l, uint64_t next)
{
    uint8_t d[32], sealed[FERRY_CHECK_SEALED_LEN], nonce[12], ad[FERRY_AD_MAX];
    struct sha256 *s = sha256_dup(l->chain);
    struct buf *b = buf_new(FERRY_FRAME_HDR + 8 + FERRY_CHECK_SEALED_LEN);
    size_t adl;
    int rc = FERRY_ERR_CRYPTO;

    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_CHECK, next, nonce);
    adl = ferry_ad(FERRY_KIND_CHECK, next, t->sid, ad);
    if (s != NULL && b != NULL && sha256_final(s, d) == FERRY_OK &&
        aead_seal(l->aead, nonce, ad, adl, d, 32, sealed) == FERRY_OK &&
        frame_put_check(b, next, sealed) == FERRY_OK &&
        frame_put_leg(t->out, (uint8_t)l->slot, buf_ptr(b), buf_len(b)) ==
            FERRY_OK)
        rc = FERRY_OK;
    sha256_free(s);
    buf_free(b);
    return rc;
}

/* Every FAN_CHECK_EVERY bytes of the file (not after the last chunk). */
int fan_checks_after(const ferry_transfer_t *t, uint64_t num)
{
    uint64_t next = num + 1;

    return fan_sender(t) && next < t->nchunks &&
           next * t->chunk / FAN_CHECK_EVERY != num * t->chunk / FAN_CHECK_EVERY;
}

int fan_chain(ferry_transfer_t *t, uint64_t num, const uint8_t *sealed,
              size_t len)
{
    struct group *g = t->group;
    uint64_t next = num + 1;
    uint8_t e[32];
    unsigned i;
    int check;

    if (ferry_sealed_element(sealed, len, e) != FERRY_OK)
        return FERRY_ERR_CRYPTO;
    check = fan_checks_after(t, num);
    for (i = 0; i < g->nslots; i++) {
        struct leg *l = g->slot[i];
        if (!live(l) || num < l->first)
            continue;
        if (sha256_update(l->chain, e, sizeof(e)) != FERRY_OK ||
            (check && put_check(t, l, next) != FERRY_OK))
            return FERRY_ERR_CRYPTO;
    }
    return FERRY_OK;
}

void fan_put_end(ferry_transfer_t *t, uint64_t count, uint64_t size)
{
    struct group *g = t->group;
    uint8_t pt[40], sealed[FERRY_END_SEALED_LEN], nonce[12], ad[FERRY_AD_MAX];
    struct buf *b = buf_new(FERRY_FRAME_HDR + 8 + FERRY_END_SEALED_LEN);
    size_t adl;
    unsigned i;

    t->end_count = count;
    t->end_size = size;
    be64_put(pt, size);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, count, nonce);
    adl = ferry_ad(FERRY_KIND_END, count, t->sid, ad);
    for (i = 0; b != NULL && i < g->nslots && t->ds != D_DONE; i++) {
        struct leg *l = g->slot[i];
        if (!live(l))
            continue;
        buf_reset(b);
        if (sha256_final(l->chain, l->end_hash) != FERRY_OK)
            break;
        memcpy(pt + 8, l->end_hash, 32);
        if (aead_seal(l->aead, nonce, ad, adl, pt, 40, sealed) != FERRY_OK ||
            frame_put_end(b, count, sealed) != FERRY_OK)
            break;
        put_leg(t, i, b);
        l->ended = 1;
    }
    if (b == NULL || i < g->nslots) {
        buf_free(b);
        dp_finish(t, FERRY_DONE_IO, "internal");
        return;
    }
    buf_free(b);
    if (t->ds == D_DONE)
        return;
    t->ds = D_WAIT_VERIFIED;
    /* A leg that keeps its link alive but never confirms must not hold
     * the transfer (and the others' outcome) for ever. */
    g->verified_deadline = ferry_now() + t->idle_s;
    dp_emit_event(t, "sent");
}
