/* libferry's state machine, tested without any XMPP server: two contexts
 * in one process exchange stanzas through the harness's router, the
 * component is a stand-in, the relay is the real ferry-relay (or a fake
 * one for the failure paths). Every case runs in both modes
 * (FERRY_MODE_POLLED, FERRY_MODE_THREAD: the loop index) and checks that
 * each transfer ends exactly once, with the status and reason expected. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chan.h"
#include "codec.h"
#include "err.h"
#include "frame.h"
#include "harness.h"
#include "stanza.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define WAIT_MS 20000
/* Files that must still be moving when a test acts: a receiver stopped
 * at 1 MiB lets up to ~7 MiB pile up in the relay and the loopback
 * socket buffers (measured), so well beyond that. */
#define MID_STREAM_SIZE (32 * MiB)

static struct hx *h;
static struct hx_peer *alice, *bob;
static char *root;
/* ferry_set_threads() of every peer start() and bob_at() make (0: left
 * at libferry's default). */
static int threads;

static void set_threads(struct hx_peer *p)
{
    if (threads > 0)
        ck_assert_int_eq(ferry_set_threads(p->ctx, threads), FERRY_RC_OK);
}

/* Each test case's temp dir lives under one root per TCase, made and
 * removed in the runner's process: a failing test exits from its forked
 * child without any teardown, and its files still go (unless HX_KEEP). */
static void root_setup(void)
{
    const char *parent = getenv("FERRY_TMP");

    root = g_strdup_printf("%s/ferry-engine-XXXXXX", parent ? parent : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(root));
    setenv("FERRY_TMP", root, 1);
}

static void root_teardown(void)
{
    char *parent = g_path_get_dirname(root);

    if (getenv("HX_KEEP") == NULL)
        hx_rmtree(root);
    setenv("FERRY_TMP", parent, 1);
    g_free(parent);
    g_free(root);
    root = NULL;
}

#define WAIT_FOR(cond)                                                         \
    do {                                                                       \
        int64_t end_ = hx_now_ms() + WAIT_MS;                                  \
        while (!(cond) && hx_now_ms() < end_)                                  \
            hx_tick(h, 10);                                                    \
        ck_assert_msg((cond), "timed out waiting for %s", #cond);              \
    } while (0)

/* A harness in mode m, alice speaking stanzas, bob XML text, both logged
 * in and told the component (whose disco#info they have had). */
static void start(int m, int relay)
{
    h = hx_new();
    ck_assert_ptr_nonnull(h);
    if (relay)
        ck_assert_msg(hx_relay_start(h, NULL) == 0, "%s", hx_error(h));
    alice = hx_peer_new(h, HX_ALICE, m, 0);
    ck_assert_msg(alice != NULL, "%s", hx_error(h));
    bob = hx_peer_new(h, HX_BOB, m, 1);
    ck_assert_msg(bob != NULL, "%s", hx_error(h));
    set_threads(alice);
    set_threads(bob);
    hx_tick(h, 0);
}

static int all_done(void)
{
    struct hx_peer *ps[] = {alice, bob};
    struct hx_xfer *x;
    guint i, k;

    for (k = 0; k < 2; k++) {
        if (ps[k]->ctx != NULL && ferry_active(ps[k]->ctx) != 0)
            return 0;
        for (i = 0; i < ps[k]->xfers->len; i++) {
            x = g_ptr_array_index(ps[k]->xfers, i);
            if (x->ndone == 0)
                return 0;
        }
    }
    return 1;
}

/* A little more loop, so a second done would show. */
static void settle(int ms)
{
    int64_t end = hx_now_ms() + ms;

    while (hx_now_ms() < end)
        hx_tick(h, 10);
}

static void check_done(const struct hx_xfer *x, ferry_status_t st,
                       const char *reason)
{
    ck_assert_ptr_nonnull(x);
    ck_assert_msg(x->ndone == 1, "%s %s: %d done calls",
                  x->is_sender ? "sender" : "receiver", x->sid, x->ndone);
    ck_assert_msg(x->status == st, "%s: status %s (%s), expected %s (%s)",
                  x->is_sender ? "sender" : "receiver",
                  ferry_status_name(x->status), x->reason,
                  ferry_status_name(st), reason);
    ck_assert_msg(strcmp(x->reason, reason) == 0,
                  "%s: reason \"%s\", expected \"%s\"",
                  x->is_sender ? "sender" : "receiver", x->reason, reason);
    /* Inside done the transfer still exists, and is over. */
    ck_assert_int_eq(x->cancel_rc_in_done, FERRY_RC_STATE);
    ck_assert_int_eq(x->answer_rc_in_done, FERRY_RC_STATE);
}

/* Every transfer either side ever had ended exactly once. */
static void stop(void)
{
    struct hx_peer *ps[] = {alice, bob};
    guint i, k;

    settle(50);
    for (k = 0; k < 2; k++)
        for (i = 0; i < ps[k]->xfers->len; i++) {
            struct hx_xfer *x = g_ptr_array_index(ps[k]->xfers, i);
            ck_assert_msg(x->ndone == 1, "%s transfer %s: %d done calls",
                          ps[k]->jid, x->sid, x->ndone);
        }
    hx_free(h);
    h = NULL;
}

static char *path_in(const char *dir, const char *name)
{
    return g_build_filename(dir, name, NULL);
}

static char *make_file(const char *name, uint64_t size, uint32_t seed)
{
    char *p = path_in(hx_dir(h), name);

    ck_assert_int_eq(hx_write_file(p, size, seed), 0);
    return p;
}

static int exists(const char *dir, const char *name)
{
    char *p = path_in(dir, name);
    struct stat sb;
    int r = lstat(p, &sb) == 0;

    g_free(p);
    return r;
}

static int has_event(const struct hx_xfer *x, const char *what)
{
    char *needle = g_strdup_printf(",%s,", what);
    char *hay = g_strdup_printf("%s,", x->events->str);
    int r = strstr(hay, needle) != NULL;

    g_free(needle);
    g_free(hay);
    return r;
}

/* Stanzas routed from `from` to `to` whose text contains `what`. */
static int logged(const char *from, const char *to, const char *what)
{
    const GPtrArray *log = hx_log(h);
    int n = 0;
    guint i;

    for (i = 0; i < log->len; i++) {
        const struct hx_logged *l = g_ptr_array_index(log, i);
        if ((from == NULL || strcmp(l->from, from) == 0) &&
            (to == NULL || strcmp(l->to, to) == 0) && strstr(l->xml, what))
            n++;
    }
    return n;
}

/* The delivery result of the last stanza from `from` to `to` whose text
 * starts with `start`; -3 if there is none. */
static int routed_rc(const char *from, const char *to, const char *start)
{
    const GPtrArray *log = hx_log(h);
    guint i;

    for (i = log->len; i-- > 0;) {
        const struct hx_logged *l = g_ptr_array_index(log, i);
        if (strcmp(l->from, from) == 0 && strcmp(l->to, to) == 0 &&
            g_str_has_prefix(l->xml, start))
            return l->rc;
    }
    return -3;
}

static ferry_send_opts_t opts_chunk(uint32_t chunk)
{
    ferry_send_opts_t o;

    memset(&o, 0, sizeof(o));
    o.chunk_size = chunk;
    return o;
}

/* ---- offer, accept, a byte-identical file -------------------------------- */

static void file_round_trip(int m, ferry_requester_t req, int deliver)
{
    ferry_send_opts_t o = opts_chunk(0);
    const char *requester = req == FERRY_REQUESTER_SENDER ? HX_ALICE : HX_BOB;
    const char *waiter = req == FERRY_REQUESTER_SENDER ? HX_BOB : HX_ALICE;
    uint64_t size = 3 * MiB + 123;
    struct hx_xfer *a, *b;
    char *src;

    start(m, 1);
    src = make_file("photo.jpg", size, 1);
    o.requester = req;
    o.deliver = deliver;
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert_int_eq(b->accept_rc, FERRY_RC_OK);
    ck_assert_str_eq(b->offered_name, "photo.jpg");
    ck_assert_uint_eq(b->offered_size, size);
    ck_assert_uint_eq(b->offered_chunk, FERRY_CHUNK_DEFAULT);
    ck_assert_ptr_nonnull(b->path);
    ck_assert_msg(g_str_has_suffix(b->path, "/photo.jpg"), "%s", b->path);
    ck_assert(hx_same_file(src, b->path));
    ck_assert(!exists(bob->dir, "photo.jpg.part"));
    ck_assert(!exists(bob->dir, "photo.jpg.ferry"));
    ck_assert_uint_eq(a->progress, size);
    ck_assert_uint_eq(b->progress, size);
    ck_assert(has_event(a, "accepted"));
    ck_assert(has_event(a, "sent"));
    ck_assert(!has_event(b, "resuming"));
    ck_assert(has_event(a, "channel") && has_event(b, "channel"));
    ck_assert(has_event(a, "admitted") && has_event(b, "admitted"));
    ck_assert(has_event(a, "peer-joined") && has_event(b, "peer-joined"));
    ck_assert(has_event(b, "first-byte"));
    /* One channel, asked for by the requester alone, and released by it
     * when the transfer ended. */
    ck_assert_int_eq(hx_component_served(h), 1);
    ck_assert_ptr_nonnull(hx_find_iq(h, requester, HX_COMPONENT, FERRY_NS));
    ck_assert_ptr_null(hx_find_iq(h, waiter, HX_COMPONENT, FERRY_NS));
    {
        const char *from = NULL;
        WAIT_FOR(hx_component_released(h) == 1);
        ck_assert_str_eq(hx_component_last_release(h, &from),
                         hx_component_last_channel(h));
        ck_assert_str_eq(from, requester);
    }
    /* With delivery, the component tells the waiter; without, the
     * requester does. Never both. */
    ck_assert_int_eq(logged(HX_COMPONENT, waiter, "<channel"), deliver);
    ck_assert_int_eq(logged(requester, waiter, "<channel"), !deliver);
    g_free(src);
    stop();
}

START_TEST(offer_accept_receiver_requests)
{
    file_round_trip(_i, FERRY_REQUESTER_RECEIVER, 0);
}
END_TEST

START_TEST(offer_accept_sender_requests)
{
    file_round_trip(_i, FERRY_REQUESTER_SENDER, 0);
}
END_TEST

/* Only the sender's options say "deliver": a receiver that requests
 * always sends the channel itself. */
START_TEST(offer_accept_sender_requests_delivered)
{
    file_round_trip(_i, FERRY_REQUESTER_SENDER, 1);
}
END_TEST

START_TEST(memory_source_to_memory_sink)
{
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    size_t size = MiB + 7, got;
    uint8_t *data = malloc(size);
    const uint8_t *out;
    struct hx_xfer *a, *b;
    int verified = -1;

    start(_i, 1);
    hx_fill(data, size, 7);
    bob->offer_mode = HX_OFFER_SINK;
    o.name = "notes.txt";
    o.media_type = "text/plain";
    ck_assert_int_eq(hx_send_source(alice, HX_BOB, data, NULL, size, 0, &o, &a),
                     FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert_str_eq(b->offered_name, "notes.txt");
    ck_assert_ptr_null(b->path); /* not a file sink */
    out = hx_sink_data(b->sink, &got);
    ck_assert_uint_eq(got, size);
    ck_assert(memcmp(out, data, size) == 0);
    ck_assert_int_eq(hx_sink_finishes(b->sink, &verified), 1);
    ck_assert_int_eq(verified, 1);
    settle(20); /* the source is closed when the transfer is reaped */
    ck_assert_int_eq(hx_source_closes(a->src), 1);
    free(data);
    stop();
}
END_TEST

START_TEST(empty_source_arrives_empty)
{
    uint8_t one = 0;
    ferry_send_opts_t o = opts_chunk(0);
    struct hx_xfer *a, *b;
    int verified = -1;
    size_t got;

    start(_i, 1);
    bob->offer_mode = HX_OFFER_SINK;
    o.name = "empty";
    ck_assert_int_eq(hx_send_source(alice, HX_BOB, &one, NULL, 0, 0, &o, &a),
                     FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    hx_sink_data(b->sink, &got);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(hx_sink_finishes(b->sink, &verified), 1);
    ck_assert_int_eq(verified, 1);
    stop();
}
END_TEST

START_TEST(shuffled_chunks_reassemble)
{
    ferry_send_opts_t o = opts_chunk(16 * KiB);
    struct hx_xfer *a, *b;
    char *src;

    start(_i, 1);
    src = make_file("shuffled.bin", 2 * MiB + 5, 11);
    o.shuffle = 1;
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert(hx_same_file(src, b->path));
    g_free(src);
    stop();
}
END_TEST

START_TEST(same_name_lands_as_name_1)
{
    struct hx_xfer *a1, *a2, *b1, *b2;
    char *one, *two;

    start(_i, 1);
    one = g_build_filename(hx_dir(h), "one", NULL);
    two = g_build_filename(hx_dir(h), "two", NULL);
    ck_assert(mkdir(one, 0700) == 0 && mkdir(two, 0700) == 0);
    g_free(one);
    g_free(two);
    one = g_build_filename(hx_dir(h), "one", "report.txt", NULL);
    two = g_build_filename(hx_dir(h), "two", "report.txt", NULL);
    ck_assert_int_eq(hx_write_file(one, 100 * KiB, 21), 0);
    ck_assert_int_eq(hx_write_file(two, 70 * KiB, 22), 0);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, one, NULL, &a1), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b1 = bob->last_offer;
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, two, NULL, &a2), FERRY_RC_OK);
    WAIT_FOR(all_done() && bob->last_offer != b1);
    b2 = bob->last_offer;
    check_done(a1, FERRY_DONE_OK, "");
    check_done(b1, FERRY_DONE_OK, "");
    check_done(a2, FERRY_DONE_OK, "");
    check_done(b2, FERRY_DONE_OK, "");
    ck_assert_msg(g_str_has_suffix(b1->path, "/report.txt"), "%s", b1->path);
    ck_assert_msg(g_str_has_suffix(b2->path, "/report (1).txt"), "%s",
                  b2->path);
    ck_assert(hx_same_file(one, b1->path));
    ck_assert(hx_same_file(two, b2->path));
    g_free(one);
    g_free(two);
    stop();
}
END_TEST

/* ---- reject and cancel --------------------------------------------------- */

START_TEST(reject_ends_both_sides)
{
    struct hx_xfer *a, *b;
    char *src;

    start(_i, 1);
    src = make_file("big.iso", 10 * KiB, 3);
    bob->offer_mode = HX_OFFER_REJECT;
    bob->reject_reason = "too-large";
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    ck_assert_int_eq(b->accept_rc, FERRY_RC_OK);
    check_done(b, FERRY_DONE_REJECTED, "too-large");
    check_done(a, FERRY_DONE_REJECTED, "too-large");
    ck_assert_int_eq(hx_component_served(h), 0);
    ck_assert(!exists(bob->dir, "big.iso"));
    ck_assert(!exists(bob->dir, "big.iso.part"));
    g_free(src);
    stop();
}
END_TEST

START_TEST(sender_cancels_while_offered)
{
    struct hx_xfer *a, *b;
    char *src;

    start(_i, 1);
    src = make_file("a.bin", 10 * KiB, 4);
    bob->offer_mode = HX_OFFER_DEFER;
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(bob->last_offer != NULL);
    b = bob->last_offer;
    ck_assert_int_eq(ferry_cancel(a->t), FERRY_RC_OK);
    check_done(a, FERRY_DONE_CANCELLED, "cancelled"); /* at once */
    WAIT_FOR(all_done());
    check_done(b, FERRY_DONE_CANCELLED, "cancelled");
    ck_assert_int_eq(hx_component_served(h), 0);
    g_free(src);
    stop();
}
END_TEST

START_TEST(receiver_cancels_while_deciding)
{
    struct hx_xfer *a, *b;
    char *src;

    start(_i, 1);
    src = make_file("a.bin", 10 * KiB, 5);
    bob->offer_mode = HX_OFFER_DEFER;
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(bob->last_offer != NULL);
    b = bob->last_offer;
    ck_assert_int_eq(ferry_cancel(b->t), FERRY_RC_OK);
    check_done(b, FERRY_DONE_CANCELLED, "cancelled");
    WAIT_FOR(all_done());
    check_done(a, FERRY_DONE_CANCELLED, "cancelled");
    ck_assert_int_eq(hx_component_served(h), 0);
    ck_assert_int_eq(ferry_active(alice->ctx), 0);
    g_free(src);
    stop();
}
END_TEST

/* Loop index: bit 0 mode, bit 1 the requester (else the waiter) cancels,
 * index >> 2 the flow: the receiver requests, the sender requests, the
 * sender requests with delivery. The component holds the request and
 * answers only after the cancel: its channel (result and delivered
 * message) must find nothing, not a freed transfer. */
START_TEST(cancel_while_waiting_for_channel)
{
    int flow = _i >> 2, by_sender = flow >= 1,
        requester_cancels = (_i >> 1) & 1;
    ferry_send_opts_t o = opts_chunk(0);
    struct hx_xfer *a, *b, *req, *wait, *who, *other;
    char *src;

    start(_i & 1, 1);
    src = make_file("w.bin", 300 * KiB, 6);
    o.requester = by_sender ? FERRY_REQUESTER_SENDER : FERRY_REQUESTER_RECEIVER;
    o.deliver = flow == 2;
    hx_component_mode(h, HX_COMP_HOLD);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(hx_component_held(h) == 1);
    b = bob->last_offer;
    ck_assert_ptr_nonnull(b);
    req = by_sender ? a : b;
    wait = by_sender ? b : a;
    who = requester_cancels ? req : wait;
    other = requester_cancels ? wait : req;
    ck_assert_ptr_nonnull(who->t);
    ck_assert_int_eq(ferry_cancel(who->t), FERRY_RC_OK);
    check_done(who, FERRY_DONE_CANCELLED, "cancelled");
    WAIT_FOR(all_done());
    check_done(other, FERRY_DONE_CANCELLED, "cancelled");
    settle(30); /* both reaped */
    hx_component_release(h);
    settle(100);
    ck_assert_int_eq(hx_component_served(h), 1);
    /* The late result reached the requester, which gave the channel back
     * at once (it would count against its quota until it expired); a
     * delivered channel reached the waiter, which took it as Ferry's and
     * dropped it. */
    ck_assert_int_eq(routed_rc(HX_COMPONENT, req->peer->jid, "<iq"), 1);
    {
        const char *from = NULL;
        ck_assert_int_eq(hx_component_released(h), 1);
        ck_assert_str_eq(hx_component_last_release(h, &from),
                         hx_component_last_channel(h));
        ck_assert_str_eq(from, req->peer->jid);
    }
    if (o.deliver)
        ck_assert_int_eq(routed_rc(HX_COMPONENT, wait->peer->jid, "<message"),
                         1);
    ck_assert(!has_event(a, "channel") && !has_event(b, "channel"));
    ck_assert(!exists(bob->dir, "w.bin") && !exists(bob->dir, "w.bin.part"));
    g_free(src);
    stop();
}
END_TEST

/* Bit 0 mode, bit 1: the receiver cancels (else the sender). The gate
 * stops the transfer mid-stream in either mode. */
START_TEST(cancel_while_streaming)
{
    int receiver = (_i >> 1) & 1;
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    uint64_t size = MID_STREAM_SIZE;
    struct hx_xfer *a, *b, *who;
    int verified = -1;
    size_t got;
    char *src;

    start(_i & 1, 1);
    src = make_file("s.bin", size, 8);
    bob->offer_mode = HX_OFFER_SINK;
    o.name = "s.bin";
    if (receiver) {
        bob->sink_stall = MiB;
        ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    } else
        ck_assert_int_eq(
            hx_send_source(alice, HX_BOB, NULL, src, size, MiB, &o, &a),
            FERRY_RC_OK);
    WAIT_FOR(hx_gate_hit(h) && bob->last_offer != NULL &&
             has_event(receiver ? bob->last_offer : a, "peer-joined"));
    b = bob->last_offer;
    who = receiver ? b : a;
    ck_assert_ptr_nonnull(who->t);
    ck_assert_int_eq(ferry_cancel(who->t), FERRY_RC_OK);
    /* Told once: a second cancel is refused (in thread mode the transfer
     * is still there until the data thread lets it go). */
    if (who->t != NULL)
        ck_assert_int_eq(ferry_cancel(who->t), FERRY_RC_STATE);
    hx_gate_open(h);
    WAIT_FOR(all_done());
    check_done(a, FERRY_DONE_CANCELLED, "cancelled");
    check_done(b, FERRY_DONE_CANCELLED, "cancelled");
    hx_sink_data(b->sink, &got);
    ck_assert_uint_lt(got, size);
    ck_assert_int_eq(hx_sink_finishes(b->sink, &verified), 1);
    ck_assert_int_eq(verified, 0);
    g_free(src);
    stop();
}
END_TEST

START_TEST(cancel_after_done_returns_state)
{
    struct hx_xfer *a, *b;
    char *src;

    start(_i, 1);
    src = make_file("d.bin", 50 * KiB, 9);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    settle(100);
    /* check_done: ferry_cancel() and ferry_reject() from inside done said
     * FERRY_RC_STATE, and no second done followed. */
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert_ptr_null(a->t);
    ck_assert_ptr_null(b->t);
    g_free(src);
    stop();
}
END_TEST

/* ---- the other end goes away --------------------------------------------- */

/* In mode m, alice streams a file to bob's memory sink, which stops taking
 * data after 1 MiB: returns the source's path once the transfer is
 * mid-stream. */
static char *stream_until_gate(int m, const char *name, uint32_t seed,
                               struct hx_xfer **a, struct hx_xfer **b)
{
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    char *src;

    start(m, 1);
    src = make_file(name, MID_STREAM_SIZE, seed);
    bob->offer_mode = HX_OFFER_SINK;
    bob->sink_stall = MiB;
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, a), FERRY_RC_OK);
    WAIT_FOR(hx_gate_hit(h));
    *b = bob->last_offer;
    return src;
}

START_TEST(peer_ctx_freed_mid_stream)
{
    struct hx_xfer *a, *b;
    char *src = stream_until_gate(_i, "g.bin", 12, &a, &b);

    hx_peer_free(alice);
    /* ferry_ctx_free() ended alice's transfer itself, once. */
    check_done(a, FERRY_DONE_CANCELLED, "cancelled");
    hx_gate_open(h);
    WAIT_FOR(b->ndone == 1 && ferry_active(bob->ctx) == 0);
    check_done(b, FERRY_DONE_CANCELLED, "cancelled");
    ck_assert_int_eq(hx_sink_finishes(b->sink, NULL), 1);
    g_free(src);
    stop();
}
END_TEST

START_TEST(relay_killed_mid_stream)
{
    struct hx_xfer *a, *b;
    char *src = stream_until_gate(_i, "k.bin", 13, &a, &b);

    hx_relay_kill(h);
    hx_gate_open(h);
    WAIT_FOR(all_done());
    check_done(a, FERRY_DONE_PEER_GONE, "relay-closed");
    check_done(b, FERRY_DONE_PEER_GONE, "relay-closed");
    ck_assert_int_eq(hx_sink_finishes(b->sink, NULL), 1);
    g_free(src);
    stop();
}
END_TEST

/* ---- integrity and resume ------------------------------------------------ */

/* Bit 0 mode; bit 1: two threads seal and open (the damaged chunk is
 * opened with those around it, and still fails where it is). */
START_TEST(corrupt_chunk_fails_integrity)
{
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    struct hx_xfer *a, *b;
    char *src;

    threads = _i & 2 ? 2 : 0;
    start(_i & 1, 1);
    src = make_file("c.bin", MiB, 14);
    o.corrupt_chunk = 3;
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(b, FERRY_DONE_INTEGRITY, "chunk-auth");
    check_done(a, FERRY_DONE_INTEGRITY, "integrity");
    ck_assert(!exists(bob->dir, "c.bin"));
    /* What came before the damaged chunk was written, nothing after. */
    ck_assert_uint_le(b->progress, 2 * 64 * KiB);
    g_free(src);
    threads = 0;
    stop();
}
END_TEST

/* 40 MiB with two threads sealing and opening on each side arrive
 * byte-identical (bit 0 mode; bit 1: shuffled 64 KiB chunks, which the
 * receiver partly caches out of order). */
START_TEST(threads_seal_and_open_in_order)
{
    ferry_send_opts_t o = opts_chunk(_i & 2 ? 64 * KiB : 0);
    uint64_t size = 40 * MiB + 4321;
    struct hx_xfer *a, *b;
    char *src;

    threads = 2;
    start(_i & 1, 1);
    src = make_file("forty.bin", size, 41);
    o.shuffle = (_i & 2) != 0;
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert(hx_same_file(src, b->path));
    ck_assert_uint_eq(a->progress, size);
    ck_assert_uint_eq(b->progress, size);
    /* Only before a transfer exists: now none does. */
    ck_assert_int_eq(ferry_set_threads(alice->ctx, 65), FERRY_RC_INVALID);
    ck_assert_int_eq(ferry_set_threads(alice->ctx, -1), FERRY_RC_INVALID);
    ck_assert_int_eq(ferry_set_threads(alice->ctx, 0), FERRY_RC_OK);
    g_free(src);
    threads = 0;
    stop();
}
END_TEST

START_TEST(interrupted_transfer_resumes)
{
    static const char sid[] = "Rz3v9QkTn2WbL7aP-resume";
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    uint64_t size = 4 * MiB + 1000, from = 0;
    struct hx_xfer *a1, *b1, *a2, *b2;
    const GPtrArray *log;
    char *src;
    guint i;

    start(_i, 1);
    src = make_file("big.bin", size, 15);
    o.sid = sid;
    o.name = "big.bin";
    /* First attempt: the source stops after 2.5 MiB, bob has written and
     * acknowledged 2 MiB, alice gives up. */
    ck_assert_int_eq(
        hx_send_source(alice, HX_BOB, NULL, src, size, 5 * MiB / 2, &o, &a1),
        FERRY_RC_OK);
    WAIT_FOR(hx_gate_hit(h) && bob->last_offer != NULL &&
             bob->last_offer->progress >= 2 * MiB);
    b1 = bob->last_offer;
    ck_assert_int_eq(ferry_cancel(a1->t), FERRY_RC_OK);
    hx_gate_open(h);
    WAIT_FOR(all_done());
    check_done(a1, FERRY_DONE_CANCELLED, "cancelled");
    check_done(b1, FERRY_DONE_CANCELLED, "cancelled");
    ck_assert(!exists(bob->dir, "big.bin"));
    ck_assert(exists(bob->dir, "big.bin.part"));
    ck_assert(exists(bob->dir, "big.bin.ferry"));
    /* Second offer, same session id, same name, same directory. */
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a2), FERRY_RC_OK);
    WAIT_FOR(all_done() && bob->last_offer != b1);
    b2 = bob->last_offer;
    check_done(a2, FERRY_DONE_OK, "");
    check_done(b2, FERRY_DONE_OK, "");
    ck_assert(has_event(b2, "resuming"));
    ck_assert_msg(g_str_has_suffix(b2->path, "/big.bin"), "%s", b2->path);
    ck_assert(hx_same_file(src, b2->path));
    ck_assert(!exists(bob->dir, "big.bin.part"));
    ck_assert(!exists(bob->dir, "big.bin.ferry"));
    /* The accept said where to resume: past chunk 0, at most what was
     * acknowledged (2 MiB and more, in 64 KiB chunks). */
    log = hx_log(h);
    for (i = 0; i < log->len; i++) {
        const struct hx_logged *l = g_ptr_array_index(log, i);
        xmpp_stanza_t *el =
            xmpp_stanza_get_child_by_name_and_ns(l->s, "accept", FERRY_NS);
        const char *v =
            el ? xmpp_stanza_get_attribute(el, "resume-from") : NULL;
        if (v != NULL && strcmp(l->from, HX_BOB) == 0)
            from = strtoull(v, NULL, 10);
    }
    ck_assert_uint_ge(from, MiB / (64 * KiB));
    ck_assert_uint_lt(from, size / (64 * KiB));
    g_free(src);
    stop();
}
END_TEST

/* The SHA-256 of a file, for ferry_transfer_check_sha256(). */
static void file_sha256(const char *path, uint8_t out[32])
{
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    gsize n = 32;
    gchar *d;
    gsize len;

    ck_assert(g_file_get_contents(path, &d, &len, NULL));
    g_checksum_update(c, (const guchar *)d, (gssize)len);
    g_checksum_get_digest(c, out, &n);
    g_checksum_free(c);
    g_free(d);
}

/* Asked for, the receiver checks the whole file's SHA-256: on a resume too
 * (it hashes the part it holds first), and a wrong one is an integrity
 * failure with no file under the final name (_i: mode; bit 1 wrong hash). */
START_TEST(receiver_checks_sha256_when_asked)
{
    static const char sid[] = "Rz3v9QkTn2WbL7aP-sha256";
    int wrong = (_i >> 1) & 1;
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    uint64_t size = 3 * MiB + 77;
    struct hx_xfer *a1, *b1, *a2, *b2;
    uint8_t want[32];
    char *src;

    start(_i & 1, 1);
    src = make_file("h.bin", size, 21);
    file_sha256(src, want);
    want[5] ^= wrong;
    bob->check_sha256 = want;
    o.sid = sid;
    o.name = "h.bin";
    /* First attempt breaks after 1.5 MiB: the second resumes. */
    ck_assert_int_eq(
        hx_send_source(alice, HX_BOB, NULL, src, size, 3 * MiB / 2, &o, &a1),
        FERRY_RC_OK);
    WAIT_FOR(hx_gate_hit(h) && bob->last_offer != NULL &&
             bob->last_offer->progress >= MiB);
    b1 = bob->last_offer;
    ck_assert_int_eq(ferry_cancel(a1->t), FERRY_RC_OK);
    hx_gate_open(h);
    WAIT_FOR(all_done());
    ck_assert(exists(bob->dir, "h.bin.part"));
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a2), FERRY_RC_OK);
    WAIT_FOR(all_done() && bob->last_offer != b1);
    b2 = bob->last_offer;
    ck_assert(has_event(b2, "resuming"));
    if (wrong) {
        check_done(b2, FERRY_DONE_INTEGRITY, "sha256-mismatch");
        check_done(a2, FERRY_DONE_INTEGRITY, "integrity");
        ck_assert(!exists(bob->dir, "h.bin"));
    } else {
        check_done(a2, FERRY_DONE_OK, "");
        check_done(b2, FERRY_DONE_OK, "");
        ck_assert(hx_same_file(src, b2->path));
    }
    g_free(src);
    stop();
}
END_TEST

/* ---- the component ------------------------------------------------------- */

/* Bit 0 mode, bit 1 the sender requests. */
START_TEST(component_refuses)
{
    int by_sender = (_i >> 1) & 1;
    ferry_send_opts_t o = opts_chunk(0);
    struct hx_xfer *a, *b;
    char *src;

    start(_i & 1, 1);
    src = make_file("r.bin", 10 * KiB, 16);
    o.requester = by_sender ? FERRY_REQUESTER_SENDER : FERRY_REQUESTER_RECEIVER;
    hx_component_mode(h, HX_COMP_REFUSE);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    /* The requester has the component's condition and its words; the
     * other end is told by a cancel with the same reason. No channel, so
     * nothing to release. */
    check_done(by_sender ? a : b, FERRY_DONE_REFUSED, "quota-exceeded");
    ck_assert_str_eq((by_sender ? a : b)->detail, HX_REFUSAL);
    check_done(by_sender ? b : a, FERRY_DONE_CANCELLED, "quota-exceeded");
    ck_assert_str_eq((by_sender ? b : a)->detail, "");
    ck_assert_int_eq(hx_component_released(h), 0);
    ck_assert(!exists(bob->dir, "r.bin") && !exists(bob->dir, "r.bin.part"));
    g_free(src);
    stop();
}
END_TEST

/* The component's words reach the application, but never as terminal
 * controls: C1 controls (U+009B is CSI), bidi overrides and newlines are
 * blanked, and a long text is cut at a character boundary. */
START_TEST(refusal_detail_is_sanitised)
{
    ferry_send_opts_t o = opts_chunk(0);
    struct hx_xfer *a, *b;
    GString *xml = g_string_new(NULL);
    const char *id;
    char *src;
    int i;

    start(_i, 1);
    src = make_file("d.bin", 10 * KiB, 18);
    hx_component_mode(h, HX_COMP_HOLD);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(hx_component_held(h) == 1);
    b = bob->last_offer;
    id = hx_find_iq(h, HX_BOB, HX_COMPONENT, FERRY_NS);
    ck_assert_ptr_nonnull(id);
    g_string_printf(xml,
                    "<iq type='error' id='%s' to='%s'><error type='wait'>"
                    "<resource-constraint xmlns='%s'/><text xmlns='%s'>"
                    "A&#x9b;31mB&#x202e;C\nD",
                    id, HX_BOB, FERRY_NS_STANZAS, FERRY_NS_STANZAS);
    for (i = 0; i < 300; i++)
        g_string_append(xml, "\xc3\xa9"); /* U+00E9, two bytes */
    g_string_append_printf(xml, "</text><rate-limited xmlns='%s'/></error>"
                                "</iq>",
                           FERRY_NS);
    ck_assert_int_eq(hx_inject(h, HX_COMPONENT, xml->str), 1);
    WAIT_FOR(all_done());
    check_done(b, FERRY_DONE_REFUSED, "rate-limited");
    check_done(a, FERRY_DONE_CANCELLED, "rate-limited");
    ck_assert_msg(g_str_has_prefix(b->detail, "A 31mB C D\xc3\xa9"), "%s",
                  b->detail);
    ck_assert(g_utf8_validate(b->detail, -1, NULL));
    ck_assert_uint_le(strlen(b->detail), 199);
    ck_assert_uint_ge(strlen(b->detail), 198);
    ck_assert_ptr_null(strstr(b->detail, "\xc2\x9b"));
    ck_assert_ptr_null(strstr(b->detail, "\xe2\x80\xae"));
    ck_assert_ptr_null(strchr(b->detail, '\n'));
    hx_component_release(h); /* the real answer now finds nothing */
    settle(50);
    ck_assert_int_eq(hx_component_released(h), 0);
    g_string_free(xml, TRUE);
    g_free(src);
    stop();
}
END_TEST

/* No contact may stand in for the server or the component: answers to
 * the discovery queries and to the channel request count only from where
 * they were sent. */
START_TEST(discovery_and_channel_hijack_ignored)
{
    ferry_send_opts_t o = opts_chunk(FERRY_CHUNK_MAX);
    const char *id;
    struct hx_xfer *a, *b;
    char *xml, *ch, *src;
    int m = _i;

    h = hx_new();
    ck_assert_ptr_nonnull(h);
    ck_assert_msg(hx_relay_start(h, NULL) == 0, "%s", hx_error(h));
    hx_preset_component(h, 0);
    hx_server_answers(h, 0);
    hx_component_mode(h, HX_COMP_HOLD);
    hx_component_chunk_max(h, 64 * KiB);
    alice = hx_peer_new(h, HX_ALICE, m, 0);
    ck_assert_ptr_nonnull(alice);
    hx_tick(h, 0);
    ck_assert_str_eq(ferry_component(alice->ctx), HX_COMPONENT); /* a guess */

    /* disco#items of the server, answered by a stranger. */
    id = hx_find_iq(h, HX_ALICE, HX_DOMAIN, FERRY_NS_DISCO_ITEMS);
    ck_assert_ptr_nonnull(id);
    xml = g_strdup_printf("<iq type='result' id='%s' to='%s'><query xmlns='%s'>"
                          "<item jid='evil.example.org'/></query></iq>",
                          id, HX_ALICE, FERRY_NS_DISCO_ITEMS);
    ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 0);
    g_free(xml);
    hx_tick(h, 0);
    ck_assert_int_eq(hx_count_to(h, HX_ALICE, "evil.example.org"), 0);
    /* The server's own answer counts. */
    xml = g_strdup_printf("<iq type='result' id='%s' to='%s'><query xmlns='%s'>"
                          "<item jid='%s'/><item jid='conference.%s'/>"
                          "</query></iq>",
                          id, HX_ALICE, FERRY_NS_DISCO_ITEMS, HX_COMPONENT,
                          HX_DOMAIN);
    ck_assert_int_eq(hx_inject(h, HX_DOMAIN, xml), 1);
    g_free(xml);
    hx_tick(h, 0);
    ck_assert_ptr_nonnull(
        hx_find_iq(h, HX_ALICE, HX_COMPONENT, FERRY_NS_DISCO_INFO));
    id = hx_find_iq(h, HX_ALICE, "conference." HX_DOMAIN, FERRY_NS_DISCO_INFO);
    ck_assert_ptr_nonnull(id);
    /* A stranger claims conference.example.org is a Ferry component with
     * tiny chunks: ignored. */
    xml = g_strdup_printf(
        "<iq type='result' id='%s' to='%s'><query xmlns='%s'>"
        "<feature var='%s'/><x xmlns='%s' type='result'>"
        "<field var='chunk-size-max'><value>1024</value></field></x>"
        "</query></iq>",
        id, HX_ALICE, FERRY_NS_DISCO_INFO, FERRY_NS, FERRY_NS_DATA);
    ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 0);
    ck_assert_str_eq(ferry_component(alice->ctx), HX_COMPONENT);
    /* ... and so does ferry.example.org's query id, from the stranger. */
    id = hx_find_iq(h, HX_ALICE, HX_COMPONENT, FERRY_NS_DISCO_INFO);
    g_free(xml);
    xml = g_strdup_printf(
        "<iq type='result' id='%s' to='%s'><query xmlns='%s'>"
        "<feature var='%s'/><x xmlns='%s' type='result'>"
        "<field var='chunk-size-max'><value>1024</value></field></x>"
        "</query></iq>",
        id, HX_ALICE, FERRY_NS_DISCO_INFO, FERRY_NS, FERRY_NS_DATA);
    ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 0);
    g_free(xml);
    /* The real component answers (64 KiB chunks). */
    hx_component_release(h);
    hx_tick(h, 0);
    ck_assert_str_eq(ferry_component(alice->ctx), HX_COMPONENT);

    /* Now a transfer; alice asks for the channel, the component holds the
     * request while strangers answer it. */
    hx_server_answers(h, 1);
    bob = hx_peer_new(h, HX_BOB, m, 1);
    ck_assert_ptr_nonnull(bob);
    WAIT_FOR(hx_find_iq(h, HX_BOB, HX_COMPONENT, FERRY_NS_DISCO_INFO) != NULL);
    settle(20);
    src = make_file("h.bin", 200 * KiB, 17);
    o.requester = FERRY_REQUESTER_SENDER;
    hx_component_mode(h, HX_COMP_HOLD);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(hx_component_held(h) == 1);
    b = bob->last_offer;
    /* The real component's limit was learnt, not the stranger's. */
    ck_assert_uint_eq(b->offered_chunk, 64 * KiB);
    id = hx_find_iq(h, HX_ALICE, HX_COMPONENT, FERRY_NS);
    ck_assert_ptr_nonnull(id);
    ch = hx_channel_xml(h, a->sid, "127.0.0.1", 9, NULL);
    xml = g_strdup_printf("<iq type='result' id='%s' to='%s'>%s</iq>", id,
                          HX_ALICE, ch);
    ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 0);
    ck_assert_int_eq(hx_inject(h, HX_BOB, xml), 0); /* the peer neither */
    g_free(xml);
    /* A channel for bob, "delivered on alice's behalf" by a stranger, or
     * sent as if the stranger were the partner: Ferry's, and ignored. */
    g_free(ch);
    ch = hx_channel_xml(h, a->sid, "127.0.0.1", 9, HX_ALICE);
    xml = g_strdup_printf("<message to='%s'>%s</message>", HX_BOB, ch);
    ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 1);
    g_free(xml);
    g_free(ch);
    ch = hx_channel_xml(h, a->sid, "127.0.0.1", 9, NULL);
    xml = g_strdup_printf("<message to='%s'>%s</message>", HX_BOB, ch);
    ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 1);
    g_free(xml);
    g_free(ch);
    settle(50);
    ck_assert(!has_event(a, "channel") && !has_event(b, "channel"));
    ck_assert_int_eq(a->ndone + b->ndone, 0);
    /* The component answers: the transfer goes through. */
    hx_component_release(h);
    WAIT_FOR(all_done());
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert(hx_same_file(src, b->path));
    g_free(src);
    stop();
}
END_TEST

/* Channel information delivered on the requester's behalf is taken from
 * a service of the requester's own domain (its component, when the two
 * users are on different domains), never from a service of another
 * domain or from a user. */
START_TEST(delivered_channel_trusts_the_requesters_domain)
{
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    const char *evil[] = {"ferry.evil.net", "example.org.evil.net",
                          "mallory@example.org", "xexample.org"};
    struct hx_xfer *a, *b;
    char *src, *ch, *xml;
    size_t i;

    start(_i, 1);
    src = make_file("d.bin", 100 * KiB, 5);
    o.requester = FERRY_REQUESTER_SENDER;
    hx_component_mode(h, HX_COMP_HOLD);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(hx_component_held(h) == 1);
    b = bob->last_offer;
    ck_assert_ptr_nonnull(b);
    ch = hx_channel_xml(h, a->sid, "127.0.0.1", 9, HX_ALICE);
    for (i = 0; i < G_N_ELEMENTS(evil); i++) {
        xml = g_strdup_printf("<message to='%s'>%s</message>", HX_BOB, ch);
        ck_assert_int_eq(hx_inject(h, evil[i], xml), 1);
        g_free(xml);
    }
    settle(50);
    ck_assert(!has_event(b, "channel"));
    xml = g_strdup_printf("<message to='%s'>%s</message>", HX_BOB, ch);
    ck_assert_int_eq(hx_inject(h, "files.example.org", xml), 1);
    g_free(xml);
    WAIT_FOR(has_event(b, "channel"));
    ck_assert(has_event(b, "channel"));
    g_free(ch);
    g_free(src);
    hx_component_release(h);
    stop();
}
END_TEST

/* A flood of probes from a stranger: answered at most 20 times a second,
 * and a probe to a context that takes no offers is never answered. */
START_TEST(probe_floods_are_answered_sparingly)
{
    char *xml;
    int i, before, got;

    start(_i, 1);
    before = hx_count_to(h, HX_BOB, HX_STRANGER);
    for (i = 0; i < 200; i++) {
        xml = g_strdup_printf("<message to='%s' type='headline'><probe "
                              "xmlns='%s' sid='flood-%d'/></message>",
                              HX_BOB, FERRY_NS, i);
        ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 1);
        g_free(xml);
    }
    hx_tick(h, 0);
    got = hx_count_to(h, HX_BOB, HX_STRANGER) - before;
    ck_assert_msg(got >= 1 && got <= 40, "%d answers to 200 probes", got);
    /* Bad probes: no sid, a bad sid, from a bare JID: nothing. */
    before = hx_count_to(h, HX_BOB, "mallory@example.org");
    xml = g_strdup_printf("<message to='%s'><probe xmlns='%s'/></message>",
                          HX_BOB, FERRY_NS);
    ck_assert_int_eq(hx_inject(h, "mallory@example.org", xml), 1);
    g_free(xml);
    hx_tick(h, 0);
    ck_assert_int_eq(hx_count_to(h, HX_BOB, "mallory@example.org"), before);
    stop();
}
END_TEST

/* ---- hostile and dead relays --------------------------------------------- */

/* Bit 0 mode, bit 1: the forged VERIFIED body is all zeros (else random).
 * A relay cannot make the sender believe in a delivery. */
START_TEST(forged_verified_is_integrity)
{
    struct hx_fake *f = hx_fake_start((_i >> 1) & 1 ? HX_FAKE_VERIFIED_ZEROS
                                                    : HX_FAKE_VERIFIED_GARBAGE);
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    size_t size = 300 * KiB;
    uint8_t *data = malloc(size);
    struct hx_xfer *a, *b;
    int verified = 0;

    ck_assert_ptr_nonnull(f);
    start(_i & 1, 0);
    hx_component_relay(h, "127.0.0.1", hx_fake_port(f), 0);
    hx_fill(data, size, 18);
    bob->offer_mode = HX_OFFER_SINK;
    o.name = "v.bin";
    ck_assert_int_eq(hx_send_source(alice, HX_BOB, data, NULL, size, 0, &o, &a),
                     FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    ck_assert(has_event(a, "sent"));
    check_done(a, FERRY_DONE_INTEGRITY, "bad-verified");
    check_done(b, FERRY_DONE_PEER_GONE, "relay-closed");
    ck_assert_int_gt(hx_fake_frames(f, &verified), 0);
    ck_assert_int_eq(verified, 1);
    ck_assert_int_eq(hx_sink_finishes(b->sink, NULL), 1);
    stop();
    hx_fake_stop(f);
    free(data);
}
END_TEST

START_TEST(silent_relay_times_out)
{
    struct hx_fake *f = hx_fake_start(HX_FAKE_SILENT);
    struct hx_xfer *a, *b;
    int64_t t0;
    char *src;

    ck_assert_ptr_nonnull(f);
    start(_i, 0);
    hx_component_relay(h, "127.0.0.1", hx_fake_port(f), 0);
    ck_assert_int_eq(ferry_set_timeouts(alice->ctx, 1, 1, 0), FERRY_RC_OK);
    ck_assert_int_eq(ferry_set_timeouts(bob->ctx, 1, 1, 0), FERRY_RC_OK);
    src = make_file("t.bin", 10 * KiB, 19);
    t0 = hx_now_ms();
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    ck_assert_int_lt(hx_now_ms() - t0, 4000);
    b = bob->last_offer;
    ck_assert(has_event(a, "connected"));
    check_done(a, FERRY_DONE_TIMEOUT, "relay-handshake-timeout");
    check_done(b, FERRY_DONE_TIMEOUT, "relay-handshake-timeout");
    ck_assert(!exists(bob->dir, "t.bin") && !exists(bob->dir, "t.bin.part"));
    g_free(src);
    stop();
    hx_fake_stop(f);
}
END_TEST

/* An offer that arrives before the host told libferry its JID (stanzas
 * read in the same turn as the bind) is declined, never accepted into a
 * channel request with no component (that crashed). */
static int early_offers;
static GString *early_out;

static void early_send_xml(const char *xml, void *ud)
{
    (void)ud;
    g_string_append(early_out, xml);
}

static void early_offer(ferry_transfer_t *t, const ferry_offer_info_t *o,
                        void *ud)
{
    (void)o;
    (void)ud;
    early_offers++;
    ferry_reject(t, "declined", NULL);
}

START_TEST(offer_before_login_is_declined)
{
    ferry_callbacks_t cb = {NULL, early_send_xml, early_offer,
                            NULL, NULL,           NULL};
    ferry_ctx_t *c = ferry_ctx_new(NULL, &cb, NULL);

    early_out = g_string_new(NULL);
    early_offers = 0;
    ck_assert_int_eq(
        ferry_handle_xml(
            c, "<message from='alice@example.org/a' to='bob@example.org/b'>"
               "<offer xmlns='urn:xmpp:ferry:0' sid='early-1' name='x.bin' "
               "size='10' media-type='application/octet-stream' "
               "chunk-size='1024' requester='receiver' "
               "key='AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE='/>"
               "</message>"),
        1);
    ck_assert_int_eq(early_offers, 0);
    ck_assert_int_eq(ferry_active(c), 0);
    ck_assert_ptr_nonnull(strstr(early_out->str, "reason=\"busy\""));
    ferry_ctx_free(c);
    g_string_free(early_out, TRUE);
}
END_TEST

/* One sender cannot keep more than 8 offers waiting for the user: the rest
 * are declined "busy" before the application sees them. */
START_TEST(offers_beyond_the_cap_are_declined_busy)
{
    struct hx_xfer *a[12];
    char *src;
    int i, busy, pending;

    start(_i, 1);
    src = make_file("f.bin", 1 * KiB, 9);
    bob->offer_mode = HX_OFFER_DEFER;
    for (i = 0; i < 12; i++)
        ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a[i]),
                         FERRY_RC_OK);
    for (busy = 0; busy < 4;) {
        hx_tick(h, 10);
        for (i = 0, busy = 0; i < 12; i++)
            busy += a[i]->ndone == 1 && a[i]->status == FERRY_DONE_REJECTED &&
                    strcmp(a[i]->reason, "busy") == 0;
        ck_assert_int_le(bob->xfers->len, 8);
    }
    settle(100);
    ck_assert_int_eq(bob->xfers->len, 8);
    for (i = 0, pending = 0; i < 12; i++)
        if (a[i]->ndone == 0) {
            pending++;
            ck_assert_int_eq(ferry_cancel(a[i]->t), FERRY_RC_OK);
        }
    ck_assert_int_eq(pending, 8);
    WAIT_FOR(all_done());
    g_free(src);
    stop();
}
END_TEST

/* A receiver that cancels from its "first-byte" event gets nothing written
 * after that, and no progress, in polled mode, where the callback runs in
 * the data path's own turn. */
static void cancel_on_first_byte(struct hx_xfer *x, const char *what, void *arg)
{
    (void)arg;
    if (strcmp(what, "first-byte") == 0 && x->t != NULL)
        ck_assert_int_eq(ferry_cancel(x->t), FERRY_RC_OK);
}

/* A low-order X25519 key (all zeros) would make a content key anyone can
 * compute: an offer with one is refused as bad-request (bad-attribute
 * key) before the application sees it; an accept with one ends the
 * sender's transfer and tells the peer bad-value. */
START_TEST(an_all_zero_key_is_refused_and_named)
{
    static const char zero[] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    struct hx_xfer *a;
    char *xml, *src;
    int before;

    start(_i, 1);
    before = hx_count_to(h, HX_BOB, HX_STRANGER);
    xml = g_strdup_printf(
        "<message to='%s'><offer xmlns='%s' sid='zerokey-offer-1' name='z' "
        "size='10' media-type='a/b' chunk-size='1024' key='%s' "
        "requester='receiver'/></message>",
        HX_BOB, FERRY_NS, zero);
    ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 1);
    g_free(xml);
    hx_tick(h, 0);
    ck_assert_ptr_null(bob->last_offer);
    ck_assert_int_eq(hx_count_to(h, HX_BOB, HX_STRANGER), before + 1);

    bob->offer_mode = HX_OFFER_DEFER;
    src = make_file("z.bin", 10 * KiB, 3);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(bob->last_offer != NULL);
    ck_assert_ptr_nonnull(bob->last_offer);
    before = hx_count_to(h, HX_ALICE, HX_BOB);
    xml = g_strdup_printf("<message to='%s'><accept xmlns='%s' sid='%s' "
                          "key='%s'/></message>",
                          HX_ALICE, FERRY_NS, a->sid, zero);
    ck_assert_int_eq(hx_inject(h, HX_BOB, xml), 1);
    g_free(xml);
    WAIT_FOR(a->ndone == 1);
    check_done(a, FERRY_DONE_INTEGRITY, "bad-peer-key");
    /* bob hears why: the error to the accept, and a cancel bad-value. */
    WAIT_FOR(bob->last_offer->ndone == 1);
    check_done(bob->last_offer, FERRY_DONE_CANCELLED, "bad-value");
    ck_assert_int_ge(hx_count_to(h, HX_ALICE, HX_BOB), before + 2);
    g_free(src);
    stop();
}
END_TEST

START_TEST(cancel_in_an_event_stops_the_data)
{
    struct hx_xfer *a, *b;
    char *src;
    size_t len = 1;

    start(_i, 1);
    src = make_file("g.bin", 4 * MiB, 10);
    bob->offer_mode = HX_OFFER_SINK;
    bob->event_hook = cancel_on_first_byte;
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(b, FERRY_DONE_CANCELLED, "cancelled");
    if (_i == 0) {
        (void)hx_sink_data(b->sink, &len);
        ck_assert_uint_eq(len, 0);
        ck_assert_int_eq(b->nprogress, 0);
    }
    g_free(src);
    stop();
}
END_TEST

/* ---- streams of unknown length ------------------------------------------ */

/* A producer on a thread of its own: writes len bytes into a stream's
 * pipe in pieces of 1 byte to 32 KiB with 1 to 3 ms pauses (a live
 * source), then ends the stream (with an error when fail is set). A
 * write that fails (the reader gone) ends it early. */
struct feeder {
    struct hx_stream *st;
    const uint8_t *data;
    size_t len;
    int fail;
    size_t written;
    int done; /* atomic */
    GThread *th;
};

static gpointer feed_main(gpointer p)
{
    struct feeder *f = p;
    uint32_t r = 12345;
    size_t off = 0, piece;
    ssize_t n;

    while (off < f->len) {
        r = r * 1103515245u + 12345u;
        piece = MIN(1 + (r >> 8) % (32 * KiB), f->len - off);
        n = write(hx_stream_fd(f->st), f->data + off, piece);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break; /* EPIPE: libferry closed the source */
        off += (size_t)n;
        g_usleep(1000 * (1 + (r >> 4) % 3));
    }
    f->written = off;
    hx_stream_end(f->st, f->fail);
    g_atomic_int_set(&f->done, 1);
    return NULL;
}

static void feed_start(struct feeder *f, struct hx_stream *st,
                       const uint8_t *data, size_t len, int fail)
{
    memset(f, 0, sizeof(*f));
    f->st = st;
    f->data = data;
    f->len = len;
    f->fail = fail;
    f->th = g_thread_new("feeder", feed_main, f);
}

/* Alice streams to bob through a pipe; returns the stream, *a and *b set
 * once bob has the offer. idle_s: both ends' idle limit (0: default). */
static struct hx_stream *stream_start_idle(int m, uint32_t chunk,
                                           enum hx_offer_mode mode, int idle_s,
                                           struct hx_xfer **a,
                                           struct hx_xfer **b)
{
    ferry_send_opts_t o = opts_chunk(chunk);
    struct hx_stream *st;

    start(m, 1);
    ck_assert_int_eq(ferry_set_timeouts(alice->ctx, 0, idle_s, 0), FERRY_RC_OK);
    ck_assert_int_eq(ferry_set_timeouts(bob->ctx, 0, idle_s, 0), FERRY_RC_OK);
    bob->offer_mode = mode;
    o.name = "live.bin";
    o.media_type = "video/webm";
    ck_assert_int_eq(hx_send_stream(alice, HX_BOB, &o, &st, a), FERRY_RC_OK);
    WAIT_FOR(bob->last_offer != NULL);
    *b = bob->last_offer;
    ck_assert_uint_eq((*b)->offered_size, FERRY_SIZE_UNKNOWN);
    ck_assert_uint_eq(ferry_transfer_size((*a)->t), FERRY_SIZE_UNKNOWN);
    return st;
}

static struct hx_stream *stream_start(int m, uint32_t chunk,
                                      enum hx_offer_mode mode,
                                      struct hx_xfer **a, struct hx_xfer **b)
{
    return stream_start_idle(m, chunk, mode, 0, a, b);
}

/* The source is closed once, from libferry's reader thread, after its
 * last read(): wait for it before the harness goes. */
static void stream_stop(struct hx_stream *st)
{
    WAIT_FOR(hx_stream_closed(st));
    stop();
}

/* 5 MiB from a live producer arrive byte-identical, the sink writing from
 * the first chunks on, while the producer is still at work. */
START_TEST(stream_from_a_slow_pipe_arrives_whole)
{
    size_t size = 5 * MiB, got;
    uint8_t *data = malloc(size);
    struct hx_xfer *a, *b;
    struct hx_stream *st;
    struct feeder f;
    int verified = -1, early = 0;
    int64_t end;

    threads = _i & 2 ? 2 : 0; /* bit 1: two threads seal and open */
    hx_fill(data, size, 31);
    st = stream_start(_i & 1, 64 * KiB, HX_OFFER_SINK, &a, &b);
    feed_start(&f, st, data, size, 0);
    end = hx_now_ms() + 3 * WAIT_MS;
    while (!all_done() && hx_now_ms() < end) {
        hx_tick(h, 10);
        if (!g_atomic_int_get(&f.done) && b->sink != NULL &&
            hx_sink_bytes(b->sink, NULL) > 0)
            early = 1;
    }
    ck_assert_msg(all_done(), "the stream did not end");
    g_thread_join(f.th);
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert_uint_eq(f.written, size);
    ck_assert_msg(early, "nothing reached the sink before the stream ended");
    hx_sink_data(b->sink, &got);
    ck_assert_uint_eq(got, size);
    ck_assert(memcmp(hx_sink_data(b->sink, &got), data, size) == 0);
    ck_assert_int_eq(hx_sink_finishes(b->sink, &verified), 1);
    ck_assert_int_eq(verified, 1);
    /* Progress: the whole at the end, against an unknown total. */
    ck_assert_uint_eq(a->progress, size);
    ck_assert_uint_eq(b->progress, size);
    ck_assert_uint_eq(a->total, FERRY_SIZE_UNKNOWN);
    ck_assert_uint_eq(b->total, FERRY_SIZE_UNKNOWN);
    ck_assert(has_event(a, "sent") && has_event(b, "first-byte"));
    /* Nothing said a size: not the offer, not the channel request. */
    ck_assert_int_eq(logged(HX_ALICE, HX_BOB, " size="), 0);
    ck_assert_int_eq(logged(HX_BOB, HX_COMPONENT, " size="), 0);
    free(data);
    threads = 0;
    stream_stop(st);
}
END_TEST

/* Into a file: an empty file under the offered name, nothing else. */
START_TEST(empty_stream_arrives_empty)
{
    struct hx_xfer *a, *b;
    struct hx_stream *st;

    st = stream_start(_i, 0, HX_OFFER_FILE, &a, &b);
    hx_stream_end(st, 0);
    WAIT_FOR(all_done());
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert_ptr_nonnull(b->path);
    ck_assert_msg(g_str_has_suffix(b->path, "/live.bin"), "%s", b->path);
    ck_assert(exists(bob->dir, "live.bin") &&
              !exists(bob->dir, "live.bin.part"));
    ck_assert(!exists(bob->dir, "live.bin.ferry"));
    stream_stop(st);
}
END_TEST

/* The same into a memory sink: 0 bytes, verified. */
START_TEST(empty_stream_into_a_sink)
{
    struct hx_xfer *a, *b;
    struct hx_stream *st;
    int verified = -1;
    size_t got;

    st = stream_start(_i, 0, HX_OFFER_SINK, &a, &b);
    hx_stream_end(st, 0);
    WAIT_FOR(all_done());
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    hx_sink_data(b->sink, &got);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(hx_sink_finishes(b->sink, &verified), 1);
    ck_assert_int_eq(verified, 1);
    stream_stop(st);
}
END_TEST

/* The source fails mid-stream: the receiver hears it at once (CANCEL
 * internal) and leaves no file, under the final name or as a .part. */
START_TEST(stream_source_error_fails_cleanly)
{
    static uint8_t piece[32 * 1024];
    struct hx_xfer *a, *b;
    struct hx_stream *st;

    hx_fill(piece, sizeof(piece), 32);
    st = stream_start(_i, 16 * KiB, HX_OFFER_FILE, &a, &b);
    ck_assert_int_eq(write(hx_stream_fd(st), piece, sizeof(piece)),
                     (ssize_t)sizeof(piece));
    WAIT_FOR(has_event(b, "first-byte"));
    hx_stream_end(st, 1);
    WAIT_FOR(all_done());
    check_done(a, FERRY_DONE_IO, "source-read");
    check_done(b, FERRY_DONE_CANCELLED, "internal");
    ck_assert(!exists(bob->dir, "live.bin"));
    ck_assert(!exists(bob->dir, "live.bin.part"));
    ck_assert(!exists(bob->dir, "live.bin.ferry"));
    stream_stop(st);
}
END_TEST

/* Bob takes at most 1 MiB of a 3 MiB stream: both ends end "too-large",
 * the sink never got more than the ceiling and was told to discard. */
START_TEST(stream_over_the_ceiling_is_refused)
{
    size_t size = 3 * MiB, got;
    uint8_t *data = malloc(size);
    struct hx_xfer *a, *b;
    struct hx_stream *st;
    struct feeder f;
    int verified = -1;

    hx_fill(data, size, 33);
    st = stream_start(_i, 64 * KiB, HX_OFFER_DEFER, &a, &b);
    ck_assert_int_eq(ferry_transfer_set_max_size(b->t, MiB), FERRY_RC_OK);
    ck_assert_int_eq(ferry_transfer_set_max_size(a->t, MiB), FERRY_RC_STATE);
    ck_assert_int_eq(hx_accept_sink(b), FERRY_RC_OK);
    ck_assert_int_eq(ferry_transfer_set_max_size(b->t, MiB), FERRY_RC_STATE);
    feed_start(&f, st, data, size, 0);
    WAIT_FOR(all_done());
    g_thread_join(f.th);
    check_done(b, FERRY_DONE_CANCELLED, "too-large");
    check_done(a, FERRY_DONE_CANCELLED, "too-large");
    hx_sink_data(b->sink, &got);
    ck_assert_uint_le(got, MiB);
    ck_assert_int_eq(hx_sink_finishes(b->sink, &verified), 1);
    ck_assert_int_eq(verified, 0);
    ck_assert_uint_lt(f.written, size); /* the producer saw the end */
    free(data);
    stream_stop(st);
}
END_TEST

static double cpu_ms(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* A live stream that says nothing for three times the idle limit (2 s)
 * lives on (the receiver's keep-alive ACKs), costs no CPU meanwhile (no
 * busy loop in the host's turns, the data thread or the source's reader),
 * and then carries data to a verified end. */
START_TEST(quiet_stream_lives_and_idles)
{
    static uint8_t piece[1000];
    struct hx_xfer *a, *b;
    struct hx_stream *st;
    struct pollfd fds[8];
    double cpu;
    int to = 0;
    size_t got;

    hx_fill(piece, sizeof(piece), 35);
    st = stream_start_idle(_i, 16 * KiB, HX_OFFER_SINK, 2, &a, &b);
    WAIT_FOR(has_event(a, "peer-joined") && has_event(b, "peer-joined"));
    ck_assert_int_eq(write(hx_stream_fd(st), piece, 10), 10);
    WAIT_FOR(hx_sink_bytes(b->sink, NULL) == 10);
    settle(50);
    /* Polled mode: nothing to do until a timer far off. */
    if (_i == 0) {
        ferry_fds(alice->ctx, fds, 8, &to);
        ck_assert_msg(to >= 1000, "the sender wants a turn in %d ms", to);
    }
    cpu = cpu_ms();
    settle(6000);
    cpu = cpu_ms() - cpu;
    printf("quiet stream, %s mode: %.1f ms CPU in 6 s of silence\n",
           _i ? "thread" : "polled", cpu);
    fflush(stdout);
    ck_assert_msg(cpu < 300, "%.1f ms of CPU while the stream was quiet", cpu);
    ck_assert_int_eq(a->ndone + b->ndone, 0);
    ck_assert_int_eq(write(hx_stream_fd(st), piece, sizeof(piece)),
                     (ssize_t)sizeof(piece));
    hx_stream_end(st, 0);
    WAIT_FOR(all_done());
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    hx_sink_data(b->sink, &got);
    ck_assert_uint_eq(got, 10 + sizeof(piece));
    stream_stop(st);
}
END_TEST

static int cmp_i64(const void *x, const void *y)
{
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Time from the producer writing a small piece to the sink receiving it:
 * the harness's loop, the pump, the 2 ms flush, the relay, the receiver.
 * Milliseconds, not seconds. */
START_TEST(stream_latency_is_milliseconds)
{
    enum { N = 60, PIECE = 200 };
    static const char *mode[] = {"polled", "thread"};
    uint8_t piece[PIECE];
    int64_t lat[N], t0, last, end;
    struct hx_xfer *a, *b;
    struct hx_stream *st;
    int i;

    hx_fill(piece, sizeof(piece), 34);
    st = stream_start(_i, 16 * KiB, HX_OFFER_SINK, &a, &b);
    WAIT_FOR(has_event(a, "peer-joined") && has_event(b, "peer-joined"));
    settle(20);
    for (i = 0; i < N; i++) {
        t0 = hx_now_us();
        ck_assert_int_eq(write(hx_stream_fd(st), piece, PIECE), PIECE);
        end = hx_now_ms() + WAIT_MS;
        while (hx_sink_bytes(b->sink, &last) < (uint64_t)(i + 1) * PIECE &&
               hx_now_ms() < end)
            hx_tick(h, 10);
        ck_assert_uint_eq(hx_sink_bytes(b->sink, &last),
                          (uint64_t)(i + 1) * PIECE);
        lat[i] = last - t0;
        settle(5);
    }
    hx_stream_end(st, 0);
    WAIT_FOR(all_done());
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    qsort(lat, N, sizeof(lat[0]), cmp_i64);
    printf("stream latency, %s mode, %d pieces of %d bytes: median %.2f ms, "
           "p90 %.2f ms, max %.2f ms\n",
           mode[_i], N, PIECE, lat[N / 2] / 1e3, lat[N * 9 / 10] / 1e3,
           lat[N - 1] / 1e3);
    fflush(stdout);
    ck_assert_msg(lat[N / 2] < 50000, "median latency %.1f ms",
                  lat[N / 2] / 1e3);
    stream_stop(st);
}
END_TEST

/* ---- fan-out (XEP "Fan-out") ---------------------------------------- */

/* More resources of bob, each with a directory of its own. */
static struct hx_peer *bob_at(const char *res, int m, int xml)
{
    char jid[64];
    struct hx_peer *p;

    snprintf(jid, sizeof(jid), "bob@example.org/%s", res);
    p = hx_peer_new(h, jid, m, xml);
    ck_assert_msg(p != NULL, "%s", hx_error(h));
    set_threads(p);
    snprintf(p->dir, sizeof(p->dir), "%s/in-bob-%s", hx_dir(h), res);
    mkdir(p->dir, 0700);
    return p;
}

static int peers_done(struct hx_peer *const *ps, size_t n)
{
    size_t k;
    guint i;

    for (k = 0; k < n; k++) {
        if (ps[k]->ctx != NULL && ferry_active(ps[k]->ctx) != 0)
            return 0;
        for (i = 0; i < ps[k]->xfers->len; i++)
            if (((struct hx_xfer *)g_ptr_array_index(ps[k]->xfers, i))
                    ->ndone == 0)
                return 0;
    }
    return 1;
}

/* A send to bob's bare JID reaches each of his three Ferry clients, one
 * upload on one channel of three slots; one declining leaves the others
 * whole (loop 1, 3: bob/desk declines). */
START_TEST(fan_out_to_every_resource)
{
    int m = _i & 1, decline = (_i >> 1) & 1;
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    uint64_t size = 5 * MiB + 321;
    struct hx_peer *desk, *phone, *ps[4];
    struct hx_xfer *a;
    char *src;
    size_t k;

    threads = _i & 4 ? 2 : 0; /* bit 2: two threads seal and open */
    start(m, 1);
    desk = bob_at("desk", m, 0);
    phone = bob_at("phone", m, 1);
    ps[0] = alice, ps[1] = bob, ps[2] = desk, ps[3] = phone;
    if (decline)
        desk->offer_mode = HX_OFFER_REJECT;
    src = make_file("album.zip", size, 9);
    ck_assert_int_eq(hx_send_file(alice, "bob@example.org", src, &o, &a),
                     FERRY_RC_OK);
    WAIT_FOR(peers_done(ps, 4));
    check_done(a, FERRY_DONE_OK, "");
    ck_assert_int_eq(a->nreceipts, 3);
    for (k = 1; k < 4; k++) {
        struct hx_xfer *b = ps[k]->last_offer;
        if (decline && ps[k] == desk) {
            check_done(b, FERRY_DONE_REJECTED, "declined");
            continue;
        }
        check_done(b, FERRY_DONE_OK, "");
        ck_assert(hx_same_file(src, b->path));
        ck_assert(has_event(b, "first-byte"));
    }
    ck_assert_msg(strstr(a->receipts->str, "bob@example.org/desk=") != NULL,
                  "%s", a->receipts->str);
    ck_assert_msg(strstr(a->receipts->str,
                         decline ? "/desk=declined" : "/desk=verified"),
                  "%s", a->receipts->str);
    /* One channel: three slots, or two when desk said no. */
    ck_assert_int_eq(hx_component_served(h), 1);
    ck_assert_int_eq(logged(HX_ALICE, HX_COMPONENT,
                            decline ? "slots=\"2\"" : "slots=\"3\""),
                     1);
    ck_assert_int_eq(logged(HX_ALICE, "bob@example.org/phone", "slot=") +
                         logged(HX_ALICE, "bob@example.org/phone", "<offer"),
                     2);
    g_free(src);
    threads = 0;
    stop();
}
END_TEST

/* Past FAN_CHECK_EVERY (64 MiB) with two threads sealing: each leg's
 * CHECK still comes right after the DATA it follows, which both receivers
 * verify (a misplaced one fails them "bad-check"). */
START_TEST(fan_out_checks_with_threads)
{
    ferry_send_opts_t o = opts_chunk(0);
    uint64_t size = 66 * MiB + 99;
    struct hx_peer *desk, *ps[3];
    struct hx_xfer *a;
    char *src;
    size_t k;

    threads = 2;
    start(_i, 1);
    desk = bob_at("desk", _i, 0);
    ps[0] = alice, ps[1] = bob, ps[2] = desk;
    src = make_file("big.bin", size, 12);
    ck_assert_int_eq(hx_send_file(alice, "bob@example.org", src, &o, &a),
                     FERRY_RC_OK);
    WAIT_FOR(peers_done(ps, 3));
    check_done(a, FERRY_DONE_OK, "");
    for (k = 1; k < 3; k++) {
        check_done(ps[k]->last_offer, FERRY_DONE_OK, "");
        ck_assert(hx_same_file(src, ps[k]->last_offer->path));
    }
    ck_assert_int_eq(logged(HX_ALICE, HX_COMPONENT, "slots=\"2\""), 1);
    g_free(src);
    threads = 0;
    stop();
}
END_TEST

/* ---- ciphers (XEP "Ciphers") --------------------------------------------- */

#define AES "aes-256-gcm"
#define CHACHA "chacha20-poly1305"

/* At "admitted" the session's cipher is settled: each end's, counted. */
static int admitted_as_expected, admitted_other;

static void expect_cipher(struct hx_xfer *x, const char *what, void *arg)
{
    if (strcmp(what, "admitted") != 0)
        return;
    if (strcmp(ferry_transfer_cipher(x->t), (const char *)arg) == 0)
        admitted_as_expected++;
    else
        admitted_other++;
}

static void ciphers(struct hx_peer *p, const char *list, const char *expect)
{
    ck_assert_int_eq(ferry_set_ciphers(p->ctx, list), FERRY_RC_OK);
    p->event_hook = expect_cipher;
    p->hook_arg = (void *)expect;
}

/* One cipher for every leg: ChaCha20-Poly1305 when all chose it (loop
 * bit 1 clear), else AES-256-GCM, when bob/desk allows only that; the
 * legs hear it in their channel information, and all complete. */
START_TEST(fan_out_cipher_is_everyones)
{
    int m = _i & 1, desk_aes = _i >> 1;
    const char *want = desk_aes ? AES : CHACHA;
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    uint64_t size = MiB + 5;
    struct hx_peer *desk, *phone, *ps[4];
    struct hx_xfer *a;
    char *src;
    size_t k;

    start(m, 1);
    admitted_as_expected = admitted_other = 0;
    desk = bob_at("desk", m, 0);
    phone = bob_at("phone", m, 1);
    ps[0] = alice, ps[1] = bob, ps[2] = desk, ps[3] = phone;
    ciphers(alice, AES " " CHACHA, want);
    ciphers(bob, CHACHA " " AES, want);
    ciphers(desk, desk_aes ? AES : CHACHA, want);
    ciphers(phone, desk_aes ? CHACHA " " AES : CHACHA, want);
    src = make_file("fan.bin", size, 25);
    ck_assert_int_eq(hx_send_file(alice, "bob@example.org", src, &o, &a),
                     FERRY_RC_OK);
    WAIT_FOR(peers_done(ps, 4));
    check_done(a, FERRY_DONE_OK, "");
    for (k = 1; k < 4; k++) {
        check_done(ps[k]->last_offer, FERRY_DONE_OK, "");
        ck_assert(hx_same_file(src, ps[k]->last_offer->path));
    }
    ck_assert_int_eq(logged(HX_ALICE, HX_COMPONENT, "slots=\"3\""), 1);
    ck_assert_int_eq(
        logged(HX_ALICE, "bob@example.org/desk", "cipher=\"" CHACHA "\""),
        !desk_aes);
    ck_assert_int_eq(admitted_as_expected, 4);
    ck_assert_int_eq(admitted_other, 0);
    g_free(src);
    stop();
}
END_TEST

/* A leg that allows only ChaCha20-Poly1305 in a fan-out that runs
 * AES-256-GCM (another leg chose it) refuses its slot; the other goes on.
 * The sender leaves it out at the join deadline (FAN_JOIN_S): its
 * outcome, first of the bad ones, is the transfer's. */
START_TEST(fan_out_leg_refuses_a_cipher_it_does_not_allow)
{
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    struct hx_peer *desk, *ps[3];
    struct hx_xfer *a;
    char *src;

    start(_i, 1);
    desk = bob_at("desk", _i, 0);
    ps[0] = alice, ps[1] = bob, ps[2] = desk;
    ck_assert_int_eq(ferry_set_ciphers(alice->ctx, AES " " CHACHA),
                     FERRY_RC_OK);
    ck_assert_int_eq(ferry_set_ciphers(bob->ctx, AES), FERRY_RC_OK);
    ck_assert_int_eq(ferry_set_ciphers(desk->ctx, CHACHA), FERRY_RC_OK);
    src = make_file("mix.bin", 200 * KiB, 26);
    ck_assert_int_eq(hx_send_file(alice, "bob@example.org", src, &o, &a),
                     FERRY_RC_OK);
    WAIT_FOR(peers_done(ps, 3));
    check_done(a, FERRY_DONE_PEER_GONE, "not-joined");
    check_done(bob->last_offer, FERRY_DONE_OK, "");
    ck_assert(hx_same_file(src, bob->last_offer->path));
    check_done(desk->last_offer, FERRY_DONE_REFUSED, "cipher");
    ck_assert_msg(strstr(a->receipts->str, "/engine=verified") != NULL &&
                      strstr(a->receipts->str, "/desk=not-joined") != NULL,
                  "%s", a->receipts->str);
    g_free(src);
    stop();
}
END_TEST

/* One accepted resource of two: an ordinary one-to-one session. */
START_TEST(fan_out_of_one_is_one_to_one)
{
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    struct hx_peer *desk, *ps[3];
    struct hx_xfer *a;
    char *src;

    start(_i, 1);
    desk = bob_at("desk", _i, 0);
    desk->offer_mode = HX_OFFER_REJECT;
    ps[0] = alice, ps[1] = bob, ps[2] = desk;
    src = make_file("one.bin", MiB, 3);
    ck_assert_int_eq(hx_send_file(alice, "bob@example.org", src, &o, &a),
                     FERRY_RC_OK);
    WAIT_FOR(peers_done(ps, 3));
    check_done(a, FERRY_DONE_OK, "");
    check_done(bob->last_offer, FERRY_DONE_OK, "");
    ck_assert(hx_same_file(src, bob->last_offer->path));
    ck_assert_int_eq(logged(HX_ALICE, HX_COMPONENT, "slots="), 0);
    ck_assert_int_eq(a->nreceipts, 2);
    g_free(src);
    stop();
}
END_TEST

/* A receiver on a fan-out slot whose relay sends DATA before KEY, or a
 * KEY its sender never sealed: an integrity failure, nothing written. The
 * offer and the channel come from "alice" (injected); the relay is fake. */
START_TEST(fan_out_leg_without_its_key_fails)
{
    struct hx_fake *f =
        hx_fake_start(_i >> 1 ? HX_FAKE_LEG_BAD_KEY : HX_FAKE_LEG_NO_KEY);
    uint8_t priv[32], pub[32], id[32], key[32];
    char k64[64], hx[65], xml[1024], t[24];
    uint64_t exp = (uint64_t)time(NULL) + 300;
    struct hx_xfer *b;

    ck_assert_ptr_nonnull(f);
    start(_i & 1, 0);
    bob->offer_mode = HX_OFFER_SINK;
    ferry_x25519_keygen(priv, pub);
    b64_encode(pub, 32, k64);
    snprintf(xml, sizeof(xml),
             "<message to='%s' type='headline'><offer xmlns='urn:xmpp:ferry:0' "
             "sid='fanleg1' name='x.bin' size='48' media-type='a/b' "
             "chunk-size='1024' key='%s' requester='sender' fan-out='true'/>"
             "</message>",
             HX_BOB, k64);
    ck_assert_int_eq(hx_inject(h, HX_ALICE, xml), 1); /* taken */
    hx_tick(h, 10);
    ck_assert_int_eq(chan_id_new_slots(exp, 2, id), FERRY_OK);
    ferry_random(key, sizeof(key));
    hex_encode(id, 32, hx);
    b64_encode(key, 32, k64);
    ferry_time_format(exp, t);
    snprintf(xml, sizeof(xml),
             "<message to='%s' type='headline'><channel "
             "xmlns='urn:xmpp:ferry:0' sid='fanleg1' id='%s' host='127.0.0.1' "
             "port='%u' tls='false' key='%s' expires='%s' slots='2' slot='1'/>"
             "</message>",
             HX_BOB, hx, hx_fake_port(f), k64, t);
    ck_assert_int_eq(hx_inject(h, HX_ALICE, xml), 1); /* taken */
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(b, FERRY_DONE_INTEGRITY, _i >> 1 ? "bad-key" : "no-key");
    ck_assert(!has_event(b, "first-byte"));
    ck_assert_int_gt(hx_fake_frames(f, NULL), 0); /* it authenticated */
    stop();
    hx_fake_stop(f);
}
END_TEST

/* A stranger who offers first under a sid he learnt (a co-receiver of an
 * earlier session, say) does not shadow the real sender's offer. */
START_TEST(a_stranger_cannot_squat_a_sid)
{
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    uint8_t priv[32], pub[32];
    char k64[64], xml[768];
    struct hx_xfer *a;
    char *src;

    start(_i, 1);
    bob->offer_mode = HX_OFFER_DEFER;
    ferry_x25519_keygen(priv, pub);
    b64_encode(pub, 32, k64);
    snprintf(xml, sizeof(xml),
             "<message to='%s' type='headline'><offer xmlns='urn:xmpp:ferry:0' "
             "sid='squat1' name='big.bin' size='4096' media-type='a/b' "
             "chunk-size='1024' key='%s' requester='sender'/></message>",
             HX_BOB, k64);
    ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 1);
    hx_tick(h, 10);
    ck_assert_uint_eq(bob->xfers->len, 1);
    bob->offer_mode = HX_OFFER_FILE;
    src = make_file("big.bin", 300 * KiB, 5);
    o.sid = "squat1";
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(a->ndone == 1 && bob->last_offer->ndone == 1);
    check_done(a, FERRY_DONE_OK, "");
    ck_assert_uint_eq(bob->xfers->len, 2);
    ck_assert_msg(bob->last_offer->path != NULL &&
                      hx_same_file(src, bob->last_offer->path),
                  "%s", bob->last_offer->path ? bob->last_offer->path : "-");
    /* the stranger's offer still waits: declined now */
    ck_assert_int_eq(ferry_reject(((struct hx_xfer *)g_ptr_array_index(
                                       bob->xfers, 0))
                                      ->t,
                                  "declined", NULL),
                     FERRY_RC_OK);
    g_free(src);
    stop();
}
END_TEST

/* A sender that prefers AES-256-GCM and a receiver without AES
 * instructions (ChaCha20-Poly1305 first): ChaCha20-Poly1305, which both
 * ends seal and open with (loop bit 1: who requests; bit 2: threads). */
START_TEST(chacha_one_to_one)
{
    int m = _i & 1;
    ferry_send_opts_t o = opts_chunk(64 * KiB);
    uint64_t size = 2 * MiB + 77;
    struct hx_xfer *a, *b;
    char *src;

    threads = _i & 4 ? 2 : 0;
    start(m, 1);
    admitted_as_expected = admitted_other = 0;
    ciphers(alice, AES " " CHACHA, CHACHA);
    ciphers(bob, CHACHA " " AES, CHACHA);
    o.requester = _i & 2 ? FERRY_REQUESTER_SENDER : FERRY_REQUESTER_RECEIVER;
    src = make_file("c.bin", size, 21);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, &o, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert(hx_same_file(src, b->path));
    ck_assert_int_eq(admitted_as_expected, 2);
    ck_assert_int_eq(admitted_other, 0);
    ck_assert_int_eq(logged(HX_ALICE, HX_BOB, "ciphers=\"" AES " " CHACHA "\""),
                     1);
    ck_assert_int_eq(logged(HX_BOB, HX_ALICE, "cipher=\"" CHACHA "\""), 1);
    g_free(src);
    threads = 0;
    stop();
}
END_TEST

/* Both with AES instructions: the sender's first choice, AES-256-GCM. */
START_TEST(aes_when_both_prefer_it)
{
    struct hx_xfer *a, *b;
    char *src;

    start(_i, 1);
    admitted_as_expected = admitted_other = 0;
    ciphers(alice, AES " " CHACHA, AES);
    ciphers(bob, AES " " CHACHA, AES);
    src = make_file("a.bin", 300 * KiB, 22);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(all_done());
    b = bob->last_offer;
    check_done(a, FERRY_DONE_OK, "");
    check_done(b, FERRY_DONE_OK, "");
    ck_assert(hx_same_file(src, b->path));
    ck_assert_int_eq(admitted_as_expected, 2);
    ck_assert_int_eq(logged(HX_BOB, HX_ALICE, "cipher=\"" AES "\""), 1);
    g_free(src);
    stop();
}
END_TEST

/* A sender offering only AES-256-GCM to a receiver that allows only
 * ChaCha20-Poly1305: declined, not-acceptable, before its user is asked. */
START_TEST(no_common_cipher_is_declined)
{
    struct hx_xfer *a;
    char *src;

    start(_i, 1);
    ck_assert_int_eq(ferry_set_ciphers(alice->ctx, AES), FERRY_RC_OK);
    ck_assert_int_eq(ferry_set_ciphers(bob->ctx, CHACHA), FERRY_RC_OK);
    src = make_file("n.bin", 10 * KiB, 23);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(a->ndone == 1);
    check_done(a, FERRY_DONE_REJECTED, "not-acceptable");
    ck_assert_ptr_null(bob->last_offer);
    ck_assert_int_eq(hx_component_served(h), 0);
    g_free(src);
    stop();
}
END_TEST

/* An accept naming a cipher the sender did not offer (or none it knows):
 * the sender cancels (bad-value) and ends with an integrity failure. */
START_TEST(accept_of_an_unoffered_cipher_is_cancelled)
{
    uint8_t priv[32], pub[32];
    struct hx_xfer *a;
    char k64[64], *xml, *src;

    start(_i & 1, 1);
    ck_assert_int_eq(ferry_set_ciphers(alice->ctx, AES), FERRY_RC_OK);
    bob->offer_mode = HX_OFFER_DEFER;
    src = make_file("u.bin", 10 * KiB, 24);
    ck_assert_int_eq(hx_send_file(alice, HX_BOB, src, NULL, &a), FERRY_RC_OK);
    WAIT_FOR(bob->last_offer != NULL);
    ck_assert_int_eq(logged(HX_ALICE, HX_BOB, "ciphers=\"" AES "\""), 1);
    ck_assert_int_eq(ferry_x25519_keygen(priv, pub), FERRY_OK);
    b64_encode(pub, 32, k64);
    xml = g_strdup_printf("<message to='%s'><accept xmlns='%s' sid='%s' "
                          "key='%s' cipher='%s'/></message>",
                          HX_ALICE, FERRY_NS, a->sid, k64,
                          _i & 2 ? "rot13-poly1305" : CHACHA);
    ck_assert_int_eq(hx_inject(h, HX_BOB, xml), 1);
    g_free(xml);
    WAIT_FOR(a->ndone == 1);
    check_done(a, FERRY_DONE_INTEGRITY, "bad-cipher");
    WAIT_FOR(bob->last_offer->ndone == 1);
    check_done(bob->last_offer, FERRY_DONE_CANCELLED, "bad-value");
    ck_assert_int_eq(hx_component_served(h), 0);
    g_free(src);
    stop();
}
END_TEST

/* An offer of draft 0.5 (no ciphers): AES-256-GCM, even for a receiver
 * that prefers ChaCha20-Poly1305; one that allows only ChaCha20-Poly1305
 * declines it (loop bit 1). */
START_TEST(offer_without_ciphers_means_aes)
{
    uint8_t priv[32], pub[32];
    char k64[64], *xml;
    int chacha_only = _i >> 1;

    start(_i & 1, 1);
    ck_assert_int_eq(
        ferry_set_ciphers(bob->ctx, chacha_only ? CHACHA : CHACHA " " AES),
        FERRY_RC_OK);
    bob->offer_mode = HX_OFFER_DEFER;
    ck_assert_int_eq(ferry_x25519_keygen(priv, pub), FERRY_OK);
    b64_encode(pub, 32, k64);
    xml = g_strdup_printf(
        "<message to='%s'><offer xmlns='%s' sid='old-offer-1' name='o' "
        "size='10' media-type='a/b' chunk-size='1024' key='%s' "
        "requester='sender'/></message>",
        HX_BOB, FERRY_NS, k64);
    ck_assert_int_eq(hx_inject(h, HX_STRANGER, xml), 1);
    g_free(xml);
    hx_tick(h, 0);
    if (chacha_only) {
        ck_assert_ptr_null(bob->last_offer);
        ck_assert_int_eq(
            logged(HX_BOB, HX_STRANGER, "reason=\"not-acceptable\""), 1);
        stop();
        return;
    }
    ck_assert_ptr_nonnull(bob->last_offer);
    ck_assert_int_eq(hx_accept_sink(bob->last_offer), FERRY_RC_OK);
    hx_tick(h, 0);
    ck_assert_int_eq(logged(HX_BOB, HX_STRANGER, "cipher=\"" AES "\""), 1);
    ck_assert_str_eq(ferry_transfer_cipher(bob->last_offer->t), AES);
    ck_assert_int_eq(ferry_cancel(bob->last_offer->t), FERRY_RC_OK);
    WAIT_FOR(bob->last_offer->ndone == 1);
    check_done(bob->last_offer, FERRY_DONE_CANCELLED, "cancelled");
    stop();
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine");
    TCase *flow = tcase_create("flow"), *end = tcase_create("cancel");
    TCase *gone = tcase_create("gone"), *safety = tcase_create("safety");
    TCase *stream = tcase_create("stream"), *fan = tcase_create("fanout");
    TCase *all[] = {flow, end, gone, safety, stream, fan};
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(all); i++) {
        tcase_set_timeout(all[i], 60);
        tcase_add_unchecked_fixture(all[i], root_setup, root_teardown);
    }
    /* Loop index 0: FERRY_MODE_POLLED, 1: FERRY_MODE_THREAD. */
    tcase_add_loop_test(flow, offer_accept_receiver_requests, 0, 2);
    tcase_add_loop_test(flow, offer_accept_sender_requests, 0, 2);
    tcase_add_loop_test(flow, offer_accept_sender_requests_delivered, 0, 2);
    tcase_add_loop_test(flow, memory_source_to_memory_sink, 0, 2);
    tcase_add_loop_test(flow, empty_source_arrives_empty, 0, 2);
    tcase_add_loop_test(flow, shuffled_chunks_reassemble, 0, 2);
    tcase_add_loop_test(flow, threads_seal_and_open_in_order, 0, 4);
    tcase_add_loop_test(flow, same_name_lands_as_name_1, 0, 2);
    tcase_add_loop_test(flow, interrupted_transfer_resumes, 0, 2);
    tcase_add_loop_test(flow, receiver_checks_sha256_when_asked, 0, 4);
    tcase_add_loop_test(end, reject_ends_both_sides, 0, 2);
    tcase_add_loop_test(end, sender_cancels_while_offered, 0, 2);
    tcase_add_loop_test(end, receiver_cancels_while_deciding, 0, 2);
    tcase_add_loop_test(end, cancel_while_waiting_for_channel, 0, 12);
    tcase_add_loop_test(end, cancel_while_streaming, 0, 4);
    tcase_add_loop_test(end, cancel_after_done_returns_state, 0, 2);
    tcase_add_loop_test(gone, peer_ctx_freed_mid_stream, 0, 2);
    tcase_add_loop_test(gone, relay_killed_mid_stream, 0, 2);
    tcase_add_loop_test(gone, silent_relay_times_out, 0, 2);
    tcase_add_loop_test(safety, corrupt_chunk_fails_integrity, 0, 4);
    tcase_add_loop_test(safety, component_refuses, 0, 4);
    tcase_add_loop_test(safety, refusal_detail_is_sanitised, 0, 2);
    tcase_add_loop_test(safety, discovery_and_channel_hijack_ignored, 0, 2);
    tcase_add_loop_test(safety, forged_verified_is_integrity, 0, 4);
    tcase_add_test(safety, offer_before_login_is_declined);
    tcase_add_loop_test(safety, offers_beyond_the_cap_are_declined_busy, 0, 2);
    tcase_add_loop_test(safety, a_stranger_cannot_squat_a_sid, 0, 2);
    tcase_add_loop_test(end, cancel_in_an_event_stops_the_data, 0, 2);
    tcase_add_loop_test(end, an_all_zero_key_is_refused_and_named, 0, 2);
    tcase_add_loop_test(end, probe_floods_are_answered_sparingly, 0, 2);
    tcase_add_loop_test(end, delivered_channel_trusts_the_requesters_domain, 0,
                        2);
    tcase_add_loop_test(stream, stream_from_a_slow_pipe_arrives_whole, 0, 4);
    tcase_add_loop_test(stream, empty_stream_arrives_empty, 0, 2);
    tcase_add_loop_test(stream, empty_stream_into_a_sink, 0, 2);
    tcase_add_loop_test(stream, stream_source_error_fails_cleanly, 0, 2);
    tcase_add_loop_test(stream, stream_over_the_ceiling_is_refused, 0, 2);
    tcase_add_loop_test(stream, stream_latency_is_milliseconds, 0, 2);
    tcase_add_loop_test(stream, quiet_stream_lives_and_idles, 0, 2);
    tcase_add_loop_test(fan, fan_out_to_every_resource, 0, 8);
    tcase_add_loop_test(fan, fan_out_of_one_is_one_to_one, 0, 2);
    tcase_add_loop_test(fan, fan_out_leg_without_its_key_fails, 0, 4);
    tcase_add_loop_test(fan, fan_out_checks_with_threads, 0, 2);
    tcase_add_loop_test(fan, fan_out_cipher_is_everyones, 0, 4);
    tcase_add_loop_test(fan, fan_out_leg_refuses_a_cipher_it_does_not_allow, 0,
                        2);
    tcase_add_loop_test(flow, chacha_one_to_one, 0, 8);
    tcase_add_loop_test(flow, aes_when_both_prefer_it, 0, 2);
    tcase_add_loop_test(safety, no_common_cipher_is_declined, 0, 2);
    tcase_add_loop_test(safety, accept_of_an_unoffered_cipher_is_cancelled, 0,
                        4);
    tcase_add_loop_test(safety, offer_without_ciphers_means_aes, 0, 4);
    for (i = 0; i < G_N_ELEMENTS(all); i++)
        suite_add_tcase(s, all[i]);
    return s;
}

#include "../unit/runner.h"
