/* A whole Ferry deployment in one process, for libferry's engine tests and
 * benchmarks, with no XMPP server:
 *
 *  - peers: libferry contexts (alice, bob, ...) whose send callbacks hand
 *    stanzas to a router; one side may speak stanzas, the other XML text;
 *  - the router stamps `from` with the sender's full JID, as a server
 *    would, and delivers with ferry_handle_stanza() / ferry_handle_xml();
 *  - the server answers disco#items for its domain; the component stand-in
 *    answers disco#info and channel requests with channels minted by
 *    common/chan.c under the relay's secret (deliver and refusal too);
 *  - the relay is the real ferry-relay, spawned on a free loopback port
 *    with a generated config and secret, killed at hx_free();
 *  - fake relays (a listener that never speaks, a hostile relay that forges
 *    VERIFIED) for the failure paths.
 *
 * Everything runs on the caller's thread except the hostile relay and, in
 * FERRY_MODE_THREAD, libferry's data threads. Functions that can fail
 * return 0 or -1 (the reason in hx_error()). */
#ifndef FERRY_TEST_HARNESS_H
#define FERRY_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "ferry.h"

#define HX_DOMAIN "example.org"
#define HX_COMPONENT "ferry.example.org"
#define HX_ALICE "alice@example.org/engine"
#define HX_BOB "bob@example.org/engine"
#define HX_STRANGER "mallory@example.org/evil"

struct hx;
struct hx_peer;
struct hx_sink;
struct hx_source;
struct hx_stream;

/* What the component does with a channel request. */
enum hx_comp_mode {
    HX_COMP_ANSWER, /* a <channel/> result (and delivery when asked) */
    HX_COMP_HOLD,   /* keep every iq (disco too) until released */
    HX_COMP_REFUSE, /* resource-constraint + <quota-exceeded/> + HX_REFUSAL */
};

/* The text of HX_COMP_REFUSE, as the real component words it. */
#define HX_REFUSAL "16 channels in use; the oldest expires in 42 s"

/* What a peer does with an offer, inside the offer callback. */
enum hx_offer_mode {
    HX_OFFER_DEFER,  /* nothing: the test answers (hx_xfer.t) */
    HX_OFFER_FILE,   /* ferry_accept_file(peer's dir) */
    HX_OFFER_SINK,   /* ferry_accept_sink(a memory sink) */
    HX_OFFER_REJECT, /* ferry_reject(peer's reject_reason) */
};

/* One transfer as the test sees it: a record the harness keeps until
 * hx_free(), filled by the callbacks. */
struct hx_xfer {
    struct hx_peer *peer;
    ferry_transfer_t *t; /* NULL once done (libferry frees it) */
    char sid[65];
    int is_sender;
    int accept_rc; /* the offer mode's ferry_accept_* / ferry_reject */
    int ndone;     /* done callbacks seen: must end at 1 */
    ferry_status_t status;
    char reason[64];       /* "" for NULL */
    char detail[256];      /* ferry_transfer_detail() at done; "" for NULL */
    int cancel_rc_in_done; /* ferry_cancel() from inside done */
    int answer_rc_in_done; /* ferry_reject() from inside done */
    GString *events;       /* ",accepted,channel,..." */
    uint64_t progress;     /* last value reported */
    uint64_t total;        /* ... and the total it came with */
    int nprogress;
    uint64_t offered_size; /* receiver: what the offer said */
    uint32_t offered_chunk;
    char offered_name[256];
    char *path;            /* receiver: ferry_transfer_path() at done */
    struct hx_sink *sink;  /* receiver: memory sink, if any */
    struct hx_source *src; /* sender: harness source, if any */
    int nreceipts;         /* sender: ferry_transfer_receipts() at done */
    GString *receipts;     /* ... as "jid=verified;jid=declined;..." */
};

struct hx_peer {
    struct hx *h;
    char jid[128];
    ferry_ctx_t *ctx; /* NULL after hx_peer_free() */
    int mode;         /* FERRY_MODE_* */
    int xml;          /* speaks XML text (send_xml / ferry_handle_xml) */
    int held;         /* polled mode: a gate stopped this peer's turns */
    enum hx_offer_mode offer_mode;
    char dir[512];             /* HX_OFFER_FILE */
    const char *reject_reason; /* HX_OFFER_REJECT */
    uint64_t sink_stall;       /* HX_OFFER_SINK: gate after this many bytes */
    uint64_t max_size; /* accepting: ferry_transfer_set_max_size() first */
    const uint8_t *check_sha256; /* accepting: ferry_transfer_check_sha256()
                                    first, with these 32 bytes */
    GPtrArray *xfers;  /* struct hx_xfer *, in creation order */
    struct hx_xfer *last_offer;
    /* Optional: called after each event is recorded. */
    void (*event_hook)(struct hx_xfer *x, const char *what, void *arg);
    void *hook_arg;
    int nfd_off, nfd;      /* slice of the harness's pollfd array (hx_tick) */
    double process_ms_max; /* longest ferry_process() call, wall clock */
};

/* A stanza as the router saw it (after stamping from). */
struct hx_logged {
    char *from, *to, *xml;
    xmpp_stanza_t *s;
    int rc; /* the recipient's ferry_handle_* result; -2: no peer */
};

/* ---- the deployment ------------------------------------------------------ */

/* A harness with a temp dir (under $FERRY_TMP, else /tmp), a relay secret
 * and the component configured for the (not yet started) real relay. NULL
 * on failure (stderr says why). */
struct hx *hx_new(void);
/* Kills the relay, frees peers (ferry_ctx_free: their done callbacks
 * still count) and records, removes the temp dir (kept if HX_KEEP is
 * set). Fake relays are the caller's to stop. */
void hx_free(struct hx *h);
const char *hx_error(const struct hx *h);
/* The temp dir, which hx_free() removes. */
const char *hx_dir(const struct hx *h);
/* The router's own libstrophe context (for building stanzas). */
xmpp_ctx_t *hx_xmpp(struct hx *h);

/* Starts ferry-relay (FERRY_RELAY, else the build tree's) on a free port
 * and points the component at it. extra: more config lines, or NULL. */
int hx_relay_start(struct hx *h, const char *extra);
uint16_t hx_relay_port(const struct hx *h);
/* SIGKILL, reaped. */
void hx_relay_kill(struct hx *h);

/* Where the component's channels point (after hx_relay_start(), which
 * sets the real relay). */
void hx_component_relay(struct hx *h, const char *host, uint16_t port, int tls);
void hx_component_mode(struct hx *h, enum hx_comp_mode mode);
/* Answers the held iqs (then answers at once: HOLD becomes ANSWER). */
void hx_component_release(struct hx *h);
int hx_component_held(const struct hx *h);
/* chunk-size-max announced in the component's disco#info (0: none). */
void hx_component_chunk_max(struct hx *h, uint32_t max);
/* Channels minted so far. */
int hx_component_served(const struct hx *h);
/* <release/>s the component answered, from whom, the last one's id (hex). */
int hx_component_released(const struct hx *h);
const char *hx_component_last_release(const struct hx *h, const char **from);
/* The id (hex) of the last channel the component handed out. */
const char *hx_component_last_channel(const struct hx *h);
/* Whether new peers are told the component (default 1); with 0 they
 * discover it through disco#items of the domain. */
void hx_preset_component(struct hx *h, int yes);
/* Whether the server answers disco#items itself (default 1). */
void hx_server_answers(struct hx *h, int yes);

/* ---- peers --------------------------------------------------------------- */

/* A libferry context in mode for jid (full), logged in (ferry_set_jid).
 * xml: it speaks XML text, with a libstrophe context of libferry's own. */
struct hx_peer *hx_peer_new(struct hx *h, const char *jid, int mode, int xml);
/* ferry_ctx_free() now; the router drops what is still addressed to it. */
void hx_peer_free(struct hx_peer *p);
/* Offers the file at path to `to`; the record in *out. ferry_rc_t. */
int hx_send_file(struct hx_peer *p, const char *to, const char *path,
                 const ferry_send_opts_t *opts, struct hx_xfer **out);
/* Offers size bytes through a harness source: from data (copied) or,
 * when data is NULL, read from the file at path. stall: gate after this
 * many bytes were read (0: never). opts->name names it. */
int hx_send_source(struct hx_peer *p, const char *to, const void *data,
                   const char *path, uint64_t size, uint64_t stall,
                   const ferry_send_opts_t *opts, struct hx_xfer **out);

/* A stream (FERRY_SIZE_UNKNOWN) whose source reads the read end of a pipe
 * with plain blocking read(2), as a program reading its stdin would; the
 * test writes into hx_stream_fd() (from any thread). opts->name names it.
 * The harness owns *st until hx_free(). */
int hx_send_stream(struct hx_peer *p, const char *to,
                   const ferry_send_opts_t *opts, struct hx_stream **st,
                   struct hx_xfer **out);
/* Accepts a deferred offer into a memory sink (x->sink). ferry_rc_t. */
int hx_accept_sink(struct hx_xfer *x);
/* The pipe's write end (-1 after hx_stream_end()). */
int hx_stream_fd(const struct hx_stream *s);
/* Closes the write end: the source reads the end of the stream there, or,
 * with fail, fails there (-1, EIO). */
void hx_stream_end(struct hx_stream *s, int fail);
/* 1 once libferry closed the source (from its reader thread). */
int hx_stream_closed(const struct hx_stream *s);

/* ---- memory sinks and sources -------------------------------------------- */

const uint8_t *hx_sink_data(const struct hx_sink *s, size_t *len);
/* Bytes written so far and when the last write came (hx_now_us()); safe
 * while a data thread writes. */
uint64_t hx_sink_bytes(const struct hx_sink *s, int64_t *last_us);
/* finish() calls, and the verified flag of the last one. */
int hx_sink_finishes(const struct hx_sink *s, int *verified);
int hx_source_closes(const struct hx_source *s);
/* The furthest byte read (in thread mode, read it once the transfer is
 * done or its thread is at the gate). */
uint64_t hx_source_read_max(const struct hx_source *s);

/* The gate stops a transfer mid-stream, in either mode: a harness source
 * or sink past its stall point waits on it (thread mode: the data thread
 * blocks in the callback; polled mode: the harness stops giving that peer
 * turns). hx_gate_hit() tells that one got there; hx_gate_open() lets it
 * go on (for good). */
int hx_gate_hit(struct hx *h);
void hx_gate_open(struct hx *h);

/* ---- the loop ------------------------------------------------------------ */

/* One turn: routes queued stanzas, polls every peer's ferry_fds() together
 * for at most max_ms (less if libferry asks), ferry_process() each, routes
 * again. */
void hx_tick(struct hx *h, int max_ms);
/* Monotonic milliseconds, microseconds. */
int64_t hx_now_ms(void);
int64_t hx_now_us(void);

/* ---- the wire, for the tests --------------------------------------------- */

/* Every stanza routed so far. */
const GPtrArray *hx_log(const struct hx *h);
/* Id of the last iq routed from `from` to `to` whose child has namespace
 * ns (NULL: any). NULL if none. Valid until hx_free(). */
const char *hx_find_iq(const struct hx *h, const char *from, const char *to,
                       const char *ns);
/* Stanzas routed to `to` (NULL: any) from `from` (NULL: any). */
int hx_count_to(const struct hx *h, const char *from, const char *to);
/* Delivers xml at once as if `from` had sent it (from stamped; to must be
 * in the text): the recipient's ferry_handle_* result, or -2 when it goes
 * to no peer. */
int hx_inject(struct hx *h, const char *from, const char *xml);
/* A well-formed <channel/> element for sid (fresh id, random key) to an
 * arbitrary relay, as XML text to wrap for hx_inject() (g_free it).
 * requester may be NULL. */
char *hx_channel_xml(struct hx *h, const char *sid, const char *host,
                     uint16_t port, const char *requester);

/* ---- fake relays --------------------------------------------------------- */

enum hx_fake_mode {
    HX_FAKE_SILENT,           /* accepts TCP (in the kernel), never speaks */
    HX_FAKE_VERIFIED_GARBAGE, /* speaks the handshake, forges VERIFIED */
    HX_FAKE_VERIFIED_ZEROS,
    HX_FAKE_SYN_DROP, /* a full accept queue: SYNs are dropped */
    /* to a receiver on a fan-out slot, after PEER_JOINED: */
    HX_FAKE_LEG_NO_KEY,  /* DATA before any KEY */
    HX_FAKE_LEG_BAD_KEY, /* a KEY nobody sealed under its leg key */
};

struct hx_fake;
/* A fake relay on 127.0.0.1; NULL on failure. */
struct hx_fake *hx_fake_start(enum hx_fake_mode mode);
uint16_t hx_fake_port(const struct hx_fake *f);
/* Frames the hostile relay read (from either end), and the VERIFIED
 * frames it forged. */
int hx_fake_frames(const struct hx_fake *f, int *verified_sent);
void hx_fake_stop(struct hx_fake *f);

/* ---- files --------------------------------------------------------------- */

/* Writes size pseudo-random bytes (seeded) to path. 0 or -1. */
int hx_write_file(const char *path, uint64_t size, uint32_t seed);
/* 1 when both files exist and are byte-identical. */
int hx_same_file(const char *a, const char *b);
/* Pseudo-random bytes into p (seeded). */
void hx_fill(uint8_t *p, size_t len, uint32_t seed);
/* rm -rf dir (never follows symlinks). */
void hx_rmtree(const char *dir);

#endif
