/* libferry: a sender's fan-out session (XEP "Fan-out").
 *
 * A send to a bare JID, or to several JIDs, locates every Ferry resource
 * of its targets and offers the file to each one that answers; each such
 * resource is a leg and decides for itself. The channel is requested when
 * every leg has answered (or GATHER_S after the first acceptance): one
 * acceptance runs an ordinary one-to-one session with that leg, two or
 * more share one fan-out channel, one slot each (fanout.c moves the data).
 * Whatever happens to one leg is that leg's outcome, never the others'. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "err.h"
#include "frame.h"
#include "internal.h"


static struct leg *leg_add(struct group *g, const char *jid)
{
    struct leg *l = g_new0(struct leg, 1);

    l->jid = g_strdup(jid);
    g_ptr_array_add(g->legs, l);
    return l;
}

static void leg_free(gpointer p)
{
    struct leg *l = p;

    aead_free(l->aead);
    sha256_free(l->chain);
    g_free(l->jid);
    g_free(l->msg_id);
    g_free(l);
}

static void target_free(gpointer p)
{
    struct target *x = p;

    g_free(x->jid);
    g_free(x->probe_id);
    g_free(x);
}

void leg_final(struct leg *l, ferry_status_t st, const char *reason)
{
    if (l->st == LEG_FINAL)
        return;
    /* The outcome before the state: whoever sees FINAL sees it. */
    l->status = st;
    l->reason = st == FERRY_DONE_OK ? NULL : reason;
    if (l->t1_us == 0)
        l->t1_us = g_get_monotonic_time();
    l->st = LEG_FINAL;
}

static void probe(ferry_transfer_t *t, struct target *x, const char *to)
{
    probe_send(t, to, &x->probe_id, &x->next_probe);
}

int group_new(ferry_transfer_t *t, const char *const *peers, size_t n)
{
    struct group *g = g_new0(struct group, 1);
    size_t i;

    g->targets = g_ptr_array_new_with_free_func(target_free);
    g->legs = g_ptr_array_new_with_free_func(leg_free);
    t->group = g;
    t->st = T_LOCATING;
    t->located_since = ferry_now();
    g->locate_deadline =
        t->located_since + (t->wait_s > 0 ? t->wait_s : FERRY_WAIT_S);
    t->deadline = g->locate_deadline;
    for (i = 0; i < n; i++) {
        struct target *x = g_new0(struct target, 1);
        x->jid = g_strdup(peers[i]);
        x->bare = !ferry_jid_is_full(peers[i]);
        g_ptr_array_add(g->targets, x);
    }
    for (i = 0; i < n; i++) {
        struct target *x = g_ptr_array_index(g->targets, i);
        probe(t, x, x->jid);
    }
    return FERRY_RC_OK;
}

void group_free(ferry_transfer_t *t)
{
    struct group *g = t->group;

    if (g == NULL)
        return;
    g_ptr_array_free(g->targets, TRUE);
    g_ptr_array_free(g->legs, TRUE);
    g_free(g->slot);
    ferry_wipe(g->k, sizeof(g->k));
    g_free(g);
    t->group = NULL;
}

static struct leg *leg_of(const struct group *g, const char *jid)
{
    guint i;

    for (i = 0; jid != NULL && i < g->legs->len; i++) {
        struct leg *l = g_ptr_array_index(g->legs, i);
        if (strcmp(l->jid, jid) == 0)
            return l;
    }
    return NULL;
}

static int target_matches(const struct target *x, const char *from)
{
    return x->bare ? ferry_jid_same_bare(x->jid, from)
                   : strcmp(x->jid, from) == 0;
}

/* The event callbacks name ferry_transfer_peer(): the leg concerned. */
static void leg_event(ferry_transfer_t *t, const struct leg *l,
                      const char *what)
{
    g_free(t->peer);
    t->peer = g_strdup(l->jid);
    transfer_event(t, what);
}

static void group_check(ferry_transfer_t *t);

void group_on_here(ferry_transfer_t *t, const char *from)
{
    struct group *g = t->group;
    struct target *x = NULL;
    struct leg *l;
    guint i;

    if (t->st != T_LOCATING || from == NULL || !ferry_jid_is_full(from) ||
        leg_of(g, from) != NULL ||
        (t->ctx->jid != NULL && strcmp(from, t->ctx->jid) == 0))
        return;
    for (i = 0; i < g->targets->len && x == NULL; i++) {
        struct target *y = g_ptr_array_index(g->targets, i);
        if (!y->done && target_matches(y, from))
            x = y;
    }
    /* 64 legs in all, and no target takes the others' share: one whose
     * resources answer first cannot crowd them out. */
    if (x == NULL || g->legs->len >= FERRY_FANOUT_MAX ||
        (unsigned)x->legs >= MAX(1u, FERRY_FANOUT_MAX / g->targets->len))
        return;
    if (x->legs++ == 0)
        x->here_us = g_get_monotonic_time();
    if (!x->bare)
        x->done = 1;
    l = leg_add(g, from);
    l->st = LEG_OFFERED;
    l->msg_id = send_message_id(t->ctx, from, offer_el(t));
    t->deadline = ferry_now() + t->ctx->stage_s;
    leg_event(t, l, "offered");
}

int group_on_accept(ferry_transfer_t *t, xmpp_stanza_t *m,
                    const struct ferry_accept *a)
{
    struct group *g = t->group;
    const char *from = xmpp_stanza_get_from(m);
    struct leg *l;

    /* Once the data half has the legs, their state is its own. */
    if (g == NULL)
        return 0;
    if (t->st != T_LOCATING)
        return 1;
    l = leg_of(g, from);
    if (l == NULL || l->st != LEG_OFFERED)
        return 1;
    if (!peer_key_ok(a->key)) {
        reply_bad(t->ctx, m, "key");
        send_cancel(t, l->jid, "bad-value");
        leg_final(l, FERRY_DONE_INTEGRITY, "bad-peer-key");
        group_check(t);
        return 1;
    }
    if (!cipher_in(a->cipher, t->ciphers, t->nciphers)) {
        send_cancel(t, l->jid, "bad-value");
        leg_final(l, FERRY_DONE_INTEGRITY, "bad-cipher");
        group_check(t);
        return 1;
    }
    if (a->has_resume && (a->resume_from > t->nchunks ||
                          (a->resume_from > 0 && !t->src_is_file))) {
        send_cancel(t, l->jid, "bad-value");
        leg_final(l, FERRY_DONE_INTEGRITY, "bad-resume");
        group_check(t);
        return 1;
    }
    memcpy(l->pub, a->key, 32);
    l->cipher = a->cipher;
    l->first = a->has_resume ? a->resume_from : 0;
    l->st = LEG_ACCEPTED;
    if (g->first_accept_us == 0)
        g->first_accept_us = g_get_monotonic_time();
    leg_event(t, l, "accepted");
    if (t->st == T_LOCATING)
        group_check(t);
    return 1;
}

int group_on_end_msg(ferry_transfer_t *t, const char *from, int is_reject,
                     const char *reason)
{
    struct group *g = t->group;
    struct leg *l;

    if (g == NULL)
        return 0;
    /* A one-to-one session with the one leg that accepted runs as any
     * other: its messages take the usual way. */
    if (t->st != T_LOCATING && !g->fan)
        return 0;
    /* On a fan-out channel the relay brings a leg's end (CANCEL,
     * PEER_GONE) to the data half, which alone settles it (and owns the
     * legs' state: not read here). */
    if (t->st != T_LOCATING)
        return 1;
    l = leg_of(g, from);
    if (l == NULL || l->st == LEG_FINAL)
        return 1;
    if (is_reject && l->st != LEG_OFFERED)
        return 1;
    leg_final(l, is_reject ? FERRY_DONE_REJECTED : FERRY_DONE_CANCELLED,
              reason);
    group_check(t);
    return 1;
}

int group_error(ferry_ctx_t *ctx, ferry_transfer_t *t, const char *id,
                const char *from, const char *cond, const char *reason)
{
    struct group *g = t->group;
    guint i;

    (void)ctx;
    if (t->st != T_LOCATING)
        return 0;
    for (i = 0; i < g->targets->len; i++) {
        struct target *x = g_ptr_array_index(g->targets, i);
        if (x->done || x->probe_id == NULL || strcmp(x->probe_id, id) != 0 ||
            !ferry_jid_same_bare(x->jid, from))
            continue;
        /* The probe bounced: the target's server says why. */
        x->done = 1;
        if (x->legs == 0)
            leg_final(leg_add(g, x->jid), FERRY_DONE_PEER_GONE, reason);
        snprintf(t->detail, sizeof(t->detail), "%s: %s", x->jid, cond);
        group_check(t);
        return 1;
    }
    for (i = 0; i < g->legs->len; i++) {
        struct leg *l = g_ptr_array_index(g->legs, i);
        if (l->st != LEG_OFFERED || l->msg_id == NULL ||
            strcmp(l->msg_id, id) != 0 || !ferry_jid_same_bare(l->jid, from))
            continue;
        leg_final(l, FERRY_DONE_PEER_GONE, reason);
        snprintf(t->detail, sizeof(t->detail), "%s: %s", l->jid, cond);
        group_check(t);
        return 1;
    }
    return 0;
}

void group_presence(ferry_transfer_t *t, const char *from, int gone)
{
    struct group *g = t->group;
    struct leg *l;
    guint i;

    if (t->st != T_LOCATING)
        return;
    if (!gone) {
        for (i = 0; i < g->targets->len; i++) {
            struct target *x = g_ptr_array_index(g->targets, i);
            if (!x->done && target_matches(x, from) && leg_of(g, from) == NULL)
                probe(t, x, from); /* it just came online: ask it now */
        }
        return;
    }
    if ((l = leg_of(g, from)) != NULL &&
        (l->st == LEG_OFFERED || l->st == LEG_ACCEPTED)) {
        snprintf(t->detail, sizeof(t->detail), "%s went offline", l->jid);
        leg_final(l, FERRY_DONE_PEER_GONE, "offline");
        group_check(t);
    }
}

/* ---- the gathering's end ---------------------------------------------- */

static int by_first(gconstpointer a, gconstpointer b)
{
    const struct leg *x = *(struct leg *const *)a, *y = *(struct leg *const *)b;

    return x->first < y->first ? -1 : x->first > y->first;
}

/* Every answer is in, or the others ran out of time: the channel. */
static void go(ferry_transfer_t *t)
{
    struct group *g = t->group;
    GPtrArray *acc = g_ptr_array_new();
    guint i;

    for (i = 0; i < g->targets->len; i++) {
        struct target *x = g_ptr_array_index(g->targets, i);
        if (!x->done && x->legs == 0)
            leg_final(leg_add(g, x->jid), FERRY_DONE_PEER_GONE, "offline");
        x->done = 1;
    }
    for (i = 0; i < g->legs->len; i++) {
        struct leg *l = g_ptr_array_index(g->legs, i);
        if (l->st == LEG_OFFERED) {
            send_cancel(t, l->jid, "too-late");
            leg_final(l, FERRY_DONE_CANCELLED, "too-late");
        } else if (l->st == LEG_ACCEPTED)
            g_ptr_array_add(acc, l);
    }
    for (i = 0; i < acc->len; i++) {
        struct leg *l = g_ptr_array_index(acc, i);
        l->st = LEG_DATA;
        l->acked = l->first;
        l->t0_us = g_get_monotonic_time();
    }
    if (acc->len == 1) {
        struct leg *l = g_ptr_array_index(acc, 0);
        /* One receiver: an ordinary one-to-one session with it. */
        g_free(t->peer);
        t->peer = g_strdup(l->jid);
        memcpy(t->peer_pub, l->pub, 32);
        t->resume_from = l->first;
        t->cipher = l->cipher;
    } else {
        /* Slots in order of resume-from: the session starts at the
         * smallest, and each leg takes its chunks from its own. */
        g_ptr_array_sort(acc, by_first);
        g->fan = 1;
        g->nslots = acc->len;
        g->slot = g_new0(struct leg *, acc->len);
        /* One cipher seals the chunks for all (XEP "Ciphers in a
         * fan-out"): ChaCha20-Poly1305 only if every leg chose it, else
         * AES-256-GCM, which every receiver implements. */
        t->cipher = FERRY_CIPHER_CHACHA20POLY1305;
        for (i = 0; i < acc->len; i++) {
            g->slot[i] = g_ptr_array_index(acc, i);
            g->slot[i]->slot = i;
            if (g->slot[i]->cipher != FERRY_CIPHER_CHACHA20POLY1305)
                t->cipher = FERRY_CIPHER_AES256GCM;
        }
        t->resume_from = g->slot[0]->first;
        t->shuffle = 0; /* every leg's chain takes chunks in order */
        g_free(t->peer);
        t->peer = g_strdup(g->slot[0]->jid);
    }
    g_ptr_array_free(acc, TRUE);
    if (t->resume_from > 0)
        transfer_event(t, "resuming");
    if (t->st == T_LOCATING)
        channel_request(t);
}

/* Nobody accepted: the transfer ends with what its legs say. One leg (or
 * one target) speaks for itself; several: rejected if anyone said no,
 * else the first leg's reason. */
static void none(ferry_transfer_t *t)
{
    struct group *g = t->group;
    struct leg *pick = NULL;
    guint i;

    for (i = 0; i < g->legs->len; i++) {
        struct leg *l = g_ptr_array_index(g->legs, i);
        if (pick == NULL ||
            (l->status == FERRY_DONE_REJECTED &&
             pick->status != FERRY_DONE_REJECTED))
            pick = l;
    }
    t->cancel_sent = 1; /* every leg was answered or told */
    if (pick == NULL) {
        transfer_finish(t, FERRY_DONE_PEER_GONE, "offline");
        return;
    }
    g_free(t->peer);
    t->peer = g_strdup(pick->jid);
    transfer_finish(t, pick->status, pick->reason);
}

static void group_check(ferry_transfer_t *t)
{
    struct group *g = t->group;
    gint64 now = g_get_monotonic_time();
    int pending = 0, accepted = 0;
    guint i;

    if (t->st != T_LOCATING)
        return;
    for (i = 0; i < g->targets->len; i++) {
        struct target *x = g_ptr_array_index(g->targets, i);
        /* A bare JID's other resources answer within moments of the
         * first. */
        if (!x->done && x->legs > 0 && now - x->here_us >= GRACE_US)
            x->done = 1;
        pending += !x->done;
    }
    for (i = 0; i < g->legs->len; i++) {
        struct leg *l = g_ptr_array_index(g->legs, i);
        pending += l->st == LEG_OFFERED;
        accepted += l->st == LEG_ACCEPTED;
    }
    if (accepted > 0 &&
        (pending == 0 ||
         now - g->first_accept_us >= GATHER_S * G_TIME_SPAN_SECOND))
        go(t);
    else if (accepted == 0 && pending == 0)
        none(t);
}

void group_timers(ferry_transfer_t *t, time_t now)
{
    struct group *g = t->group;
    int located = 0;
    guint i;

    if (t->st != T_LOCATING)
        return;
    for (i = 0; i < g->targets->len; i++) {
        struct target *x = g_ptr_array_index(g->targets, i);
        located += x->legs > 0;
        if (x->done || x->legs > 0)
            continue;
        if (now >= g->locate_deadline) {
            x->done = 1;
            leg_final(leg_add(g, x->jid), FERRY_DONE_PEER_GONE, "offline");
            snprintf(t->detail, sizeof(t->detail),
                     "no Ferry client of %s came online in %lld s", x->jid,
                     (long long)(now - t->located_since));
        } else if (now >= x->next_probe)
            probe(t, x, x->jid);
    }
    if (!t->waiting_told && located == 0 && now >= t->located_since + 1) {
        t->waiting_told = 1;
        transfer_event(t, "waiting");
        if (t->st != T_LOCATING)
            return;
    }
    /* Offers nobody answers end at the stage limit. */
    if (now >= t->deadline)
        for (i = 0; i < g->legs->len; i++) {
            struct leg *l = g_ptr_array_index(g->legs, i);
            if (l->st == LEG_OFFERED) {
                send_cancel(t, l->jid, "timeout");
                leg_final(l, FERRY_DONE_TIMEOUT, "timeout");
            }
        }
    group_check(t);
}

int group_timeout_ms(const ferry_transfer_t *t)
{
    const struct group *g = t->group;
    gint64 now = g_get_monotonic_time(), due = -1;
    guint i;

    if (g == NULL || t->st != T_LOCATING)
        return -1;
    for (i = 0; i < g->targets->len; i++) {
        const struct target *x = g_ptr_array_index(g->targets, i);
        if (!x->done && x->legs > 0 &&
            (due < 0 || x->here_us + GRACE_US < due))
            due = x->here_us + GRACE_US;
    }
    if (g->first_accept_us > 0 &&
        (due < 0 || g->first_accept_us + GATHER_S * G_TIME_SPAN_SECOND < due))
        due = g->first_accept_us + GATHER_S * G_TIME_SPAN_SECOND;
    if (due < 0)
        return -1;
    return due <= now ? 0 : (int)((due - now + 999) / 1000);
}

/* ---- the channel -------------------------------------------------------- */

void group_request(const ferry_transfer_t *t, struct ferry_request *rq)
{
    const struct group *g = t->group;
    unsigned i;

    if (g == NULL || !g->fan)
        return;
    rq->slots = g->nslots;
    for (i = 0; i < g->nslots; i++)
        rq->legs[i] = g->slot[i]->jid;
    rq->deliver = 0; /* each leg gets its own slot key, from us */
}

void group_send_channels(ferry_transfer_t *t)
{
    struct group *g = t->group;
    struct ferry_channel c;
    unsigned i;

    for (i = 0; i < g->nslots; i++) {
        c = t->ch;
        c.slots = g->nslots;
        c.has_slot = 1;
        c.slot = i;
        c.cipher = t->cipher;
        c.requester[0] = '\0';
        if (chan_slot_key(t->ch.key, i, c.key) != FERRY_OK)
            continue; /* that leg never joins: the join deadline ends it */
        send_message(t->ctx, g->slot[i]->jid,
                     ferry_channel_build(t->ctx->x, &c));
        ferry_wipe(c.key, sizeof(c.key));
    }
}

void group_settle(ferry_transfer_t *t, ferry_status_t st, const char *reason)
{
    struct group *g = t->group;
    guint i;

    if (g == NULL)
        return;
    for (i = 0; i < g->legs->len; i++) {
        struct leg *l = g_ptr_array_index(g->legs, i);
        if (l->st == LEG_FINAL)
            continue;
        /* One-to-one with the one leg: what the receiver acknowledged. */
        if (!g->fan && l->st == LEG_DATA && t->chunk > 0)
            l->acked = t->acked;
        leg_final(l, st, reason);
    }
}

/* ---- receipts ------------------------------------------------------------ */

size_t ferry_transfer_receipts(const ferry_transfer_t *t, ferry_receipt_t *out,
                               size_t max)
{
    const struct group *g = t->group;
    size_t i, n;

    if (!t->is_sender)
        return 0;
    if (g == NULL) {
        if (max > 0 && out != NULL) {
            out[0].jid = t->peer;
            out[0].status = t->fin_st;
            out[0].reason = t->fin_st == FERRY_DONE_OK ? NULL : t->fin_reason;
            out[0].bytes = t->fin_bytes;
            out[0].seconds = t->fin_seconds;
        }
        return 1;
    }
    n = g->legs->len;
    for (i = 0; out != NULL && i < n && i < max; i++) {
        const struct leg *l = g_ptr_array_index(g->legs, i);
        int ok = l->st == LEG_FINAL && l->status == FERRY_DONE_OK;
        out[i].jid = l->jid;
        out[i].status = l->st == LEG_FINAL ? l->status : FERRY_DONE_TIMEOUT;
        out[i].reason = l->st == LEG_FINAL ? l->reason : "pending";
        /* acked: the next chunk it needs (a stream's count only at the
         * end) */
        out[i].bytes = ok ? ferry_transfer_size(t)
                       : stream_of(t) ? 0
                                      : MIN(l->acked * t->chunk, t->size);
        out[i].seconds = l->t0_us > 0 && l->t1_us > l->t0_us
                             ? (double)(l->t1_us - l->t0_us) / 1e6
                             : 0;
    }
    return n;
}
