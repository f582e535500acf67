/* libferry internals (not installed).
 *
 * A transfer has two halves. The session half (session.c, channel.c,
 * disco.c) speaks XMPP and runs on the host's thread. The data half
 * (datapath.c, connect.c) speaks to the relay and moves the bytes; it runs
 * on the host's thread in polled mode and on the worker (worker.c) in
 * thread mode. Once dp_start() hands a transfer to the data half, the
 * session half only reads the fields set before it and talks to the data
 * half through dp_cancel(); the data half answers with dp_emit_*(), the
 * last of which is always dp_emit_done(). */
#ifndef FERRY_INTERNAL_H
#define FERRY_INTERNAL_H

#include <stdint.h>
#include <time.h>

#include <glib.h>

#include "buf.h"
#include "crypto.h"
#include "ferry.h"
#include "stanza.h"

enum tstate {
    T_LOCATING,     /* sender: probing for a Ferry resource of the peer */
    T_OFFERED,      /* sender: offer sent, waiting for accept/reject */
    T_WAIT_USER,    /* receiver: offer shown to the application */
    T_WAIT_CHANNEL, /* waiting for channel information from the peer */
    T_REQUESTING,   /* channel request sent to the component */
    T_DATA,         /* the data half owns the transfer */
    T_FINISHED,
};

enum dstate {
    D_IDLE,
    D_PREHASH,       /* receiver checking the file's SHA-256 on a resume:
                        hashing the part it already holds */
    D_RESOLVING,     /* relay host name being resolved (thread) */
    D_CONNECTING,    /* TCP connect in progress */
    D_TLS,           /* TLS handshake in progress */
    D_HS,            /* waiting for HELLO / ADMITTED */
    D_WAIT_PEER,     /* admitted, waiting for PEER_JOINED */
    D_STREAMING,     /* sender: sending chunks */
    D_WAIT_VERIFIED, /* sender: END sent */
    D_RECEIVING,     /* receiver: receiving chunks */
    D_DONE,
};

/* A tag's size, and the sender's ring of tags sealed out of order (a
 * shuffled test transfer permutes chunks within windows of 8). */
#define FERRY_TAG_RING_LEN 16
#define TAG_RING 64

/* ---- fan-out (group.c, fanout.c; XEP "Fan-out") ----
 * A sender's transfer to a bare JID (every Ferry resource of it) or to
 * several JIDs is a group: each resource that answers a probe gets the
 * offer and is a leg, deciding for itself. When the answers are in, one
 * accepted leg runs an ordinary one-to-one session; two or more share one
 * fan-out channel, each in its own slot. The session half owns a leg
 * until the data half starts; from then on the data half alone writes
 * its data fields and its outcome, which the session half reads after
 * done. */
enum leg_state { LEG_OFFERED, LEG_ACCEPTED, LEG_DATA, LEG_FINAL };

struct leg {
    char *jid; /* full JID; the target's JID for a target nobody answered */
    enum leg_state st;
    char *msg_id; /* its offer, to match a bounce */
    uint8_t pub[32];
    int cipher;     /* the one its accept chose */
    uint64_t first; /* its resume-from */
    unsigned slot;
    /* the data half's, on a fan-out channel */
    struct aead *aead;     /* its leg key L(slot) */
    struct sha256 *chain;  /* its END digest (sealed chunks from first) */
    uint8_t end_hash[32];
    int joined, ended;
    uint64_t acked;
    gint64 t0_us, t1_us; /* data start and end, for the receipt */
    /* the outcome */
    ferry_status_t status;
    const char *reason; /* static; NULL when verified */
};

struct target {
    char *jid;
    int bare;          /* every resource that answers is a leg */
    int legs;          /* legs made for it */
    int done;          /* no longer located (answered, bounced, timed out) */
    gint64 here_us;    /* its first <here/> */
    char *probe_id;    /* the last probe, to match a bounce */
    time_t next_probe;
};

struct group {
    GPtrArray *targets; /* struct target * */
    GPtrArray *legs;    /* struct leg * */
    gint64 first_accept_us;
    time_t locate_deadline;
    int fan; /* the data half runs a fan-out channel */
    unsigned nslots;
    struct leg **slot; /* slot -> leg, on a fan-out channel */
    uint8_t k[32];     /* the transfer key K */
    unsigned live;     /* legs the data half still serves */
    time_t join_deadline;
    time_t verified_deadline; /* END sent: the legs' confirmations by then */
    int started;
};

struct resolver;
struct tls_cache;
struct rfile;
struct worker;
struct cpool;
struct ahead;

struct ferry_ctx {
    xmpp_ctx_t *x;
    int own_x; /* x was made here */
    ferry_callbacks_t cb;
    void *ud;
    ferry_mode_t mode;
    char *jid;    /* own full JID */
    char *domain; /* its domain */
    char *component;
    int component_set;  /* by the application, or found by disco */
    int disco_queries;  /* disco#info queries sent to server items */
    uint32_t chunk_max; /* the component's chunk-size-max */
    char *relay_ca;
    struct tls_cache *tls; /* TLS client context for relays, made lazily */
    int connect_s, idle_s, stage_s;
    GHashTable *iqs;  /* id -> struct pending_iq: iqs awaiting an answer */
    GList *transfers; /* session view: every transfer not yet reaped */
    char err[160];
    struct worker *worker; /* thread mode */
    unsigned threads;      /* threads sealing or opening one transfer's
                              chunks (ferry_set_threads); 1: no pool */
    void *strophe;         /* the libstrophe adapter, if attached */
    int in_process;        /* reap only outside callbacks */
    int closing;           /* ferry_ctx_free() called: no new transfers */
    int free_pending;      /* free when the outermost call leaves */
    time_t answer_second;  /* <here/> replies in this second */
    int answers;
    /* ciphers offered or allowed, in order of preference
     * (ferry_set_ciphers; XEP "Ciphers") */
    int ciphers[FERRY_CIPHERS];
    size_t nciphers;
};

/* The receiver's sink, or the sender's source, as the data half sees it. */
struct sink {
    struct rfile *file; /* file sink (resume-capable) */
    ferry_sink_t user;  /* else the application's */
};

struct ferry_transfer {
    ferry_ctx_t *ctx;
    void *user;
    int is_sender;
    enum tstate st;
    char sid[65];
    char *peer; /* full JID once known */
    char name[FERRY_NAME_MAX * 4 + 1];
    char media[FERRY_MEDIA_MAX + 1];
    uint64_t size;
    uint32_t chunk;
    uint64_t nchunks;
    int requester; /* ROLE_* of who requests the channel */
    int deliver;
    uint8_t my_priv[32], my_pub[32], peer_pub[32];
    /* The offer's ciphers (the sender's: what it offers; the receiver's:
     * what it was offered, known here), and the session's cipher: the
     * sender's once accepted (on a fan-out, once gathered), the
     * receiver's once it accepts (on a fan-out slot, its channel's). */
    int ciphers[FERRY_CIPHERS];
    size_t nciphers;
    int cipher;
    struct ferry_channel ch;
    time_t deadline; /* session stage */
    char *iq_id;     /* channel request in flight */
    int cancel_sent; /* peer already told */
    char *msg_id;    /* sender: the last probe or offer, to match errors */
    time_t located_since, next_probe;
    int waiting_told;
    int wait_s;
    char detail[200]; /* why it ended, for people (ferry_transfer_detail) */
    int linked;      /* the data half reached the relay (set by it) */
    int ch_mine;     /* ch came from our own request: release it at the end */
    struct group *group; /* sender: a fan-out group (group.c) */
    /* how it ended, for ferry_transfer_receipts() of a one-to-one send */
    ferry_status_t fin_st;
    const char *fin_reason;
    uint64_t fin_bytes;
    double fin_seconds;
    gint64 data_us; /* when the data half started */
    struct aead *k_aead; /* receiver on a fan-out slot: K, from KEY */
    uint64_t checked;    /* ... and the chunks below this are proven its
                            sender's (CHECK): what a resume may keep */

    /* ---- set before dp_start(), read-only after ---- */
    ferry_source_t src;
    int src_is_file;
    struct sink sink;
    uint64_t resume_from;
    int shuffle;
    uint64_t corrupt_chunk;      /* 1-based; 0: off */
    uint64_t max_size;           /* receiver: bytes it takes at most; 0: any */
    struct tls_cache *tls_cache; /* a reference, when the channel uses TLS */
    struct ssl_ctx_st *tls;      /* its context, once made */
    int connect_s, idle_s;

    /* ---- the data half ---- */
    enum dstate ds;
    struct resolver *res;
    struct addrinfo *ai, *ai_next;
    int sock;
    struct ssl_st *ssl;
    struct buf *in, *out;
    struct aead *aead;
    /* seals or opens chunks on threads (cpool.c); NULL: on this thread
     * alone. Under the key of the chunks: aead, or on a fan-out, K */
    struct cpool *pool;
    /* receiver with a pool: the chunks opened ahead (receive.c) */
    struct ahead *ahead;
    struct sha256 *hash;          /* END's digest: the chain of this
                                     session's chunk tags (ferry_tags_new) */
    uint8_t end_hash[32];         /* sender: the digest END committed to */
    uint64_t end_count, end_size; /* ... and its chunk count and size */
    /* sender, shuffled (test): tags sealed ahead of the chain, by number
     * modulo TAG_RING; bit i of tag_have: slot i holds one */
    uint8_t (*tag_ring)[FERRY_TAG_RING_LEN];
    uint64_t tag_have, chained; /* chained: next chunk number to chain */
    /* receiver: the SHA-256 of the whole file, checked only when the
     * application asked (ferry_transfer_check_sha256) */
    int check_sha256;
    uint8_t want_sha256[32];
    struct sha256 *plain_hash;
    uint64_t state_next;  /* receiver: `next` of the last state saved */
    gint64 state_us;      /* ... and when */
    uint64_t next;                /* sender: next index to send; receiver: next
                                     chunk number expected */
    uint64_t acked;
    uint64_t written;
    uint64_t hashed; /* D_PREHASH progress (receiver checking sha256) */
    int paused;
    int first_byte;
    int first_out; /* sender: the session's first chunk has been written */
    struct reorder *cache;
    uint64_t *order;
    time_t dp_deadline; /* connect/handshake limit */
    time_t last_io;     /* idle limit */
    int dp_cancel_code; /* cancel asked by the session (thread mode) */
    /* a stream (size FERRY_SIZE_UNKNOWN; see stream_of()) */
    struct pump *pump;   /* sender: the source's reader, from PEER_JOINED */
    int ep;              /* sender, with pump: epoll of socket and pump */
    short ep_events;     /* the socket's events registered in ep */
    struct marks *marks; /* sender: chunk numbers to bytes, for progress */
    uint64_t sealed;     /* sender: bytes sealed so far */
    gint64 last_ack_us;  /* receiver: when it last sent ACK */
    /* thread mode: progress at most every PROGRESS_US (datapath.c), on
     * the data half's side */
    gint64 prog_sent_us;
    uint64_t prog_held;
    int prog_holding;
    /* thread mode: progress coalescing, under the worker's lock */
    int prog_pending;
    uint64_t prog_value;
    int done_emitted;
    char *final_path; /* host's copy of the file sink's path */
    ferry_status_t done_st;
    const char *done_reason; /* a static string */
};

/* A stream: a transfer whose size only END fixes (ferry.h's
 * FERRY_SIZE_UNKNOWN, an offer without size). */
_Static_assert(FERRY_SIZE_UNKNOWN == FERRY_SIZE_STREAM,
               "ferry.h and the stanza parsers agree on a stream's size");
static inline int stream_of(const ferry_transfer_t *t)
{
    return t->size == FERRY_SIZE_UNKNOWN;
}

/* ---- ctx.c ---- */
/* Seconds on the monotonic clock: deadlines do not move with the date. */
time_t ferry_now(void);
void ctx_error(ferry_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sends a stanza through the host and releases it. */
void ctx_send(ferry_ctx_t *ctx, xmpp_stanza_t *s);
/* Around calls that may run callbacks; ctx_leave() returns 1 when it freed
 * the context (ferry_ctx_free() was called inside): touch nothing then. */
void ctx_enter(ferry_ctx_t *ctx);
int ctx_leave(ferry_ctx_t *ctx);
/* strophe.c: the adapter's way out, when attached. */
void strophe_send(ferry_ctx_t *ctx, xmpp_stanza_t *s);

/* ---- session.c ---- */
ferry_transfer_t *transfer_new(ferry_ctx_t *ctx, int is_sender);
void transfer_free(ferry_transfer_t *t);
/* Ends a transfer once: tells the application; reaped later. */
void transfer_finish(ferry_transfer_t *t, ferry_status_t st,
                     const char *reason);
void transfer_event(ferry_transfer_t *t, const char *what);
/* Tells the peer (a cancel with wire_reason, unless it knows already),
 * then finishes. */
void transfer_fail(ferry_transfer_t *t, ferry_status_t st, const char *reason,
                   const char *wire_reason);
void transfer_progress(ferry_transfer_t *t, uint64_t done);
ferry_transfer_t *transfer_find(ferry_ctx_t *ctx, const char *sid, int sender);
/* A receiving transfer of sid whose sender is from. */
ferry_transfer_t *transfer_find_from(ferry_ctx_t *ctx, const char *sid,
                                     const char *from);
int transfer_from_peer(const ferry_transfer_t *t, const char *from);
void session_message(ferry_ctx_t *ctx, xmpp_stanza_t *m);
/* A bad-request error (Ferry condition bad-attribute) to the sender of m. */
void reply_bad(ferry_ctx_t *ctx, xmpp_stanza_t *m, const char *attr);
/* 0 for a peer key X25519 turns into all zeros (a low-order point). */
int peer_key_ok(const uint8_t pub[32]);
/* ctx.c: 1 when cipher is in list[0..n). */
int cipher_in(int cipher, const int *list, size_t n);
/* The receiver's choice among the offered ciphers (XEP "Ciphers"), or -1
 * when it allows none of them. */
int cipher_choose(const ferry_ctx_t *ctx, const int *offered, size_t n);
/* offer.c: the sender's side (ferry_send*, the peer's <accept/>). */
void offer_on_accept(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el);
void session_timers(ferry_ctx_t *ctx, time_t now);
/* A session message (a headline with no-store hints, no body) to `to`. */
void send_message(ferry_ctx_t *ctx, const char *to, xmpp_stanza_t *el);
/* The same; returns the message's id (g_free it). */
char *send_message_id(ferry_ctx_t *ctx, const char *to, xmpp_stanza_t *el);
/* A <cancel/> of t's session with reason to `to`. */
void send_cancel(ferry_transfer_t *t, const char *to, const char *reason);
/* offer.c: sends the offer to t->peer, now a full JID. */
void offer_send(ferry_transfer_t *t);
/* The <offer/> element of t (fan-out='true' for a group). */
xmpp_stanza_t *offer_el(ferry_transfer_t *t);

/* ---- locate.c: the peer's Ferry resource, before the offer ---- */
/* <name xmlns=ferry sid=sid/>, for probe and here. */
xmpp_stanza_t *sid_el(ferry_ctx_t *ctx, const char *name, const char *sid);
#define REPROBE_S 2 /* probe again this often while waiting */
/* A <probe/> of t's session to `to`: its message id in *id (the old one
 * freed), the next probe due in *next. */
void probe_send(ferry_transfer_t *t, const char *to, char **id, time_t *next);
#define FERRY_WAIT_S 30 /* default wait for the peer to come online */
void locate_start(ferry_transfer_t *t, int wait_s);
/* <probe/> or <here/>: 1 when it was one. */
int locate_message(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el);
/* A message error: 1 when it bounced a probe or an offer of ours. */
int locate_error(ferry_ctx_t *ctx, xmpp_stanza_t *m);
void locate_presence(ferry_ctx_t *ctx, xmpp_stanza_t *p);
void locate_timers(ferry_ctx_t *ctx, time_t now);

/* ---- group.c: a sender's fan-out session ---- */
#define GATHER_S 15 /* after the first acceptance, the others' time */
#define GRACE_US (100 * G_TIME_SPAN_MILLISECOND) /* other resources' <here/> */
int group_new(ferry_transfer_t *t, const char *const *peers, size_t n);
/* A leg's outcome, once (its end time too, unless set). */
void leg_final(struct leg *l, ferry_status_t st, const char *reason);
void group_free(ferry_transfer_t *t);
void group_on_here(ferry_transfer_t *t, const char *from);
/* Answers of a leg; 1 when t is a group and it was handled. */
int group_on_accept(ferry_transfer_t *t, xmpp_stanza_t *m,
                    const struct ferry_accept *a);
int group_on_end_msg(ferry_transfer_t *t, const char *from, int is_reject,
                     const char *reason);
int group_error(ferry_ctx_t *ctx, ferry_transfer_t *t, const char *id,
                const char *from, const char *cond, const char *reason);
void group_presence(ferry_transfer_t *t, const char *from, int gone);
void group_timers(ferry_transfer_t *t, time_t now);
int group_timeout_ms(const ferry_transfer_t *t);
/* channel.c: the channel came; on a fan-out, every leg's channel
 * information goes out, each with its slot and slot key. */
void group_send_channels(ferry_transfer_t *t);
/* The legs and slots for the request. */
void group_request(const ferry_transfer_t *t, struct ferry_request *rq);
/* The data half ended: legs it did not settle take its outcome. */
void group_settle(ferry_transfer_t *t, ferry_status_t st, const char *reason);

struct frame;
/* ---- fanout.c: the fan-out sender's data half ---- */
#define FAN_JOIN_S 10 /* legs not joined by then are left out */
/* A leg's digest so far goes to it this often (CHECK): a leg dropped from
 * a fan-out keeps, for a resume, only chunks up to its last CHECK. */
#define FAN_CHECK_EVERY (64u * 1024 * 1024)
/* Output room one chunk's frames may take: DATA and, on a fan-out, a CHECK
 * or END per leg. */
size_t dp_frame_room(const ferry_transfer_t *t);
/* Receiver on a slot: CHECK(n). */
void dp_on_check(ferry_transfer_t *t, const struct frame *f);
/* What a receiver's resume record may count: on a fan-out slot, only
 * what a CHECK proved. */
uint64_t dp_resumable(const ferry_transfer_t *t);
static inline int fan_sender(const ferry_transfer_t *t)
{
    return t->is_sender && t->group != NULL && t->group->fan;
}
int fan_setup(ferry_transfer_t *t);
void fan_free(ferry_transfer_t *t);
void fan_on_leg(ferry_transfer_t *t, const struct frame *f);
/* After a sealed chunk: its element into each leg's chain. */
int fan_chain(ferry_transfer_t *t, uint64_t num, const uint8_t *sealed,
              size_t len);
void fan_put_end(ferry_transfer_t *t, uint64_t count, uint64_t size);
/* D_WAIT_PEER: the join deadline passed: start with the legs present. */
void fan_timers(ferry_transfer_t *t, time_t now);
uint64_t fan_acked(const ferry_transfer_t *t);

/* ---- channel.c: iqs libferry sends, matched by random id and sender ---- */
enum iq_kind {
    IQ_CHANNEL,
    IQ_DISCO_ITEMS,
    IQ_DISCO_INFO,
    IQ_COMPONENT_INFO,
    IQ_RELEASE
};
/* Sends iq (type get/set, with its child) to `to`, remembers it. */
void iq_send(ferry_ctx_t *ctx, xmpp_stanza_t *iq, const char *to,
             enum iq_kind kind, ferry_transfer_t *t);
/* 1 when this result/error answered one of ours (and was handled). */
int iq_answer(ferry_ctx_t *ctx, xmpp_stanza_t *iq);
/* Forgets the iqs of a transfer that ends, and releases the channel it
 * obtained from the component (a channel request still unanswered is
 * released when its answer comes). */
void iq_forget(ferry_ctx_t *ctx, ferry_transfer_t *t);
void channel_request(ferry_transfer_t *t);
void channel_message(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el);
void channel_ready(ferry_transfer_t *t);

/* ---- disco.c ---- */
void disco_start(ferry_ctx_t *ctx);
void disco_answer(ferry_ctx_t *ctx, enum iq_kind kind, xmpp_stanza_t *iq,
                  const char *from);

/* ---- datapath.c: the data half ---- */
/* Takes the transfer over (channel known). */
void dp_start(ferry_transfer_t *t);
/* Where the data half runs: sets it up, or ends it now. */
void dp_setup(ferry_transfer_t *t);
void dp_cancel_now(ferry_transfer_t *t, int code);
/* Asks the data half to stop with a CANCEL frame (code) and end the
 * transfer with st/reason. */
void dp_cancel(ferry_transfer_t *t, int code);
/* Polled data half: fds and the timeout it needs, then its I/O. */
int dp_want(ferry_transfer_t *t, struct pollfd *p, int *timeout_ms, time_t now);
void dp_run(ferry_transfer_t *t, short revents, time_t now);
/* Frees what the data half holds (after it is done). */
void dp_free(ferry_transfer_t *t);
void dp_emit_event(ferry_transfer_t *t, const char *what);
/* Inside the data half: datapath.c drives, send.c and receive.c do the
 * two ends' work. dp_finish() is the one way out: it closes the link,
 * settles the sink and tells the session. */
#define REORDER_WINDOW 64 /* receiver's cache bound, in chunks */
/* A polled turn (on the host's thread) reads or seals at most DP_SLICE
 * bytes and stops after DP_SLICE_US; the fd's readiness brings the next
 * turn at once. Smaller slices cost the sender a fifth more CPU. */
#define DP_SLICE (1024u * 1024)
#define DP_SLICE_US 2000
/* 1 when a polled turn that started at t0 (g_get_monotonic_time()) and
 * moved `bytes` has had its share. */
int dp_slice_over(const ferry_transfer_t *t, gint64 t0, uint64_t bytes);
struct frame;
void dp_finish(ferry_transfer_t *t, ferry_status_t st, const char *reason);
void dp_flush(ferry_transfer_t *t);
void dp_fail_integrity(ferry_transfer_t *t, const char *why);
int dp_src_read(ferry_transfer_t *t, uint8_t *p, size_t len, uint64_t off);
void dp_fill(ferry_transfer_t *t);
void dp_sink_end(ferry_transfer_t *t, int keep);
void dp_on_data(ferry_transfer_t *t, const struct frame *f);
void dp_on_end(ferry_transfer_t *t, const struct frame *f);
void dp_emit_progress(ferry_transfer_t *t, uint64_t done);
void dp_emit_done(ferry_transfer_t *t, ferry_status_t st, const char *reason);
/* send.c, a stream's sender: the source's reader thread and an epoll fd
 * over it and the socket, made at PEER_JOINED (FERRY_OK or an error);
 * what to poll (the epoll fd) and when to seal a short chunk; the
 * socket's real events (drains the pump's wake-ups); the bytes the
 * receiver holds when it asks for chunk `next`. */
int dp_stream_start(ferry_transfer_t *t);
void dp_stream_free(ferry_transfer_t *t);
void dp_stream_want(ferry_transfer_t *t, struct pollfd *p, short sock_events,
                    int *timeout_ms);
short dp_stream_revents(ferry_transfer_t *t);
uint64_t dp_stream_acked(ferry_transfer_t *t, uint64_t next);
/* receive.c, a stream's receiver: ms until its keep-alive ACK is due (-1:
 * none), and sending it when due. */
int dp_keepalive_ms(const ferry_transfer_t *t);
void dp_keepalive(ferry_transfer_t *t);

/* ---- cpool.c: sealing and opening chunks on threads ----
 * One job: DATA chunk `num` of the transfer `sid`, in place at p, len
 * bytes: plaintext to seal (room for the tag after it), or ciphertext and
 * tag to open. elem, when opening and not NULL, receives the SHA-256 of
 * the sealed body first (a fan-out slot's digest element). rc: FERRY_OK
 * or aead_seal's / aead_open's error. */
struct cjob {
    uint64_t num;
    uint8_t *p;
    size_t len;
    uint8_t *elem;
    int rc;
};
/* Jobs in one batch at most. */
#define CPOOL_BATCH_MAX 32
struct cpool *cpool_new(unsigned n, int cipher, const uint8_t key[32]);
void cpool_free(struct cpool *cp); /* joins its threads; accepts NULL */
unsigned cpool_threads(const struct cpool *cp); /* 1 for NULL */
/* Seals (open 0) or opens every job, the calling thread with `mine` (an
 * AEAD of the same key) taking a share; returns when all are done. Jobs
 * must not overlap. */
void cpool_run(struct cpool *cp, struct aead *mine, const char *sid, int open,
               struct cjob *jobs, size_t njobs);
/* Chunks a sender seals in one batch with a pool: two a thread, and
 * about a slice's worth a thread (DP_SLICE), so a polled turn stays short
 * with big chunks. */
static inline size_t cpool_batch(const struct cpool *cp, uint32_t chunk)
{
    size_t n = cpool_threads(cp), by_bytes = n * DP_SLICE / chunk;

    return MAX(MIN(MIN(2 * n, CPOOL_BATCH_MAX), by_bytes), 1);
}
/* receive.c: before DATA f (in t->in, read_frames' current frame) is
 * handled: when it is chunk `next`, opens it and the in-order chunks
 * right after it in the buffer together on the pool. */
void dp_open_ahead(ferry_transfer_t *t, const struct frame *f);
/* fanout.c: 1 when sealing chunk num makes the sender append CHECK
 * frames (after its DATA). */
int fan_checks_after(const ferry_transfer_t *t, uint64_t num);

/* ---- connect.c: DNS on a thread, non-blocking TCP and TLS ---- */
int conn_begin(ferry_transfer_t *t); /* FERRY_OK or FERRY_ERR_* */
/* Advances resolve/connect/TLS; FERRY_OK when the link is up,
 * FERRY_ERR_NEED_MORE to wait for p, else an error (*why set). */
int conn_step(ferry_transfer_t *t, const char **why);
int conn_fd(const ferry_transfer_t *t, short *events);
void conn_close(ferry_transfer_t *t);
ssize_t conn_recv(ferry_transfer_t *t, void *p, size_t n);
ssize_t conn_send(ferry_transfer_t *t, const void *p, size_t n);
size_t conn_pending(const ferry_transfer_t *t);
struct tls_cache *tls_cache_new(const char *ca_file);
struct tls_cache *tls_cache_ref(struct tls_cache *tc);
void tls_cache_unref(struct tls_cache *tc); /* accepts NULL */

/* ---- worker.c: thread mode ---- */
int worker_start(ferry_ctx_t *ctx);
void worker_stop(ferry_ctx_t *ctx);
void worker_add(ferry_ctx_t *ctx, ferry_transfer_t *t);
void worker_cancel(ferry_ctx_t *ctx, ferry_transfer_t *t, int code);
/* Host side: the wake-up fd, and the events waiting (runs callbacks). */
int worker_event_fd(ferry_ctx_t *ctx);
void worker_deliver(ferry_ctx_t *ctx);
/* Worker side: queue an event for the host (EV_* of datapath.c). */
enum { EV_EVENT, EV_PROGRESS, EV_DONE };
void worker_post(ferry_transfer_t *t, int kind, uint64_t value,
                 const char *what);

#endif
