/* libferry: Ferry file transfer (XEP draft urn:xmpp:ferry:0) for any
 * XMPP client. Read top to bottom:
 *
 *  1. The core does no XMPP I/O. Give it every stanza you receive
 *     (ferry_handle_stanza() or ferry_handle_xml()); it sends stanzas
 *     through your send_stanza or send_xml callback. It registers no
 *     handlers and answers no disco query: announce ferry_feature() in
 *     your own disco#info.
 *  2. The data path (relay sockets, DNS, connect, TLS, crypto, files)
 *     never blocks your thread. Pick one of two modes:
 *     - FERRY_MODE_POLLED: ferry_fds() lists fds and a timeout for your
 *       loop, ferry_process() runs whatever is ready, in bounded slices;
 *     - FERRY_MODE_THREAD: the data path runs on libferry's own thread;
 *       ferry_fds() then lists one wake-up fd, and ferry_process() (called
 *       when it is readable, or from a timer if you have no fds) delivers
 *       the events on your thread.
 *     The callbacks of ferry_callbacks_t run on the thread that calls
 *     ferry_process() or the ferry_* function that caused them; only that
 *     thread should call libferry (a context is not thread-safe). In
 *     thread mode a source's read() and a sink's write() and finish() run
 *     on libferry's thread.
 *  3. Transfers read from a source and write to a sink: files by default,
 *     your callbacks otherwise.
 *  4. ferry_strophe_attach() (at the end) wires all of this to a
 *     libstrophe connection for ordinary programs.
 *
 * Calls that can fail return FERRY_RC_OK (0) or a negative ferry_rc_t;
 * ferry_error(ctx) then gives the reason as text. */
#ifndef FERRY_H
#define FERRY_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

#include <strophe.h>

/* Marks the exported functions: libferry is built with -fvisibility=hidden
 * and exports these only. */
#ifndef FERRY_API
#if defined(__GNUC__) && __GNUC__ >= 4
#define FERRY_API __attribute__((visibility("default")))
#else
#define FERRY_API
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_ctx ferry_ctx_t;
typedef struct ferry_transfer ferry_transfer_t;

/* ---- results ------------------------------------------------------------ */

typedef enum {
    FERRY_RC_OK = 0,
    FERRY_RC_INVALID = -1, /**< an argument is invalid */
    FERRY_RC_STATE = -2,   /**< not possible in the current state */
    FERRY_RC_NOMEM = -3,
    FERRY_RC_IO = -4,      /**< a local file, socket or thread failed */
    FERRY_RC_EXISTS = -5,  /**< no free name for the file */
} ferry_rc_t;

/** Token for a result code ("invalid", "state", ...). Never NULL. */
FERRY_API const char *ferry_rc_name(int rc);

/** Final state of a transfer, as given to the done callback. */
typedef enum {
    FERRY_DONE_OK = 0,
    FERRY_DONE_REJECTED,  /**< the receiver declined */
    FERRY_DONE_CANCELLED, /**< either side cancelled */
    FERRY_DONE_PEER_GONE, /**< the relay reported the other end gone */
    FERRY_DONE_INTEGRITY, /**< a chunk, the size or the hash did not verify */
    FERRY_DONE_TIMEOUT,
    FERRY_DONE_REFUSED, /**< the component or relay refused */
    FERRY_DONE_IO,      /**< local file or network failure */
} ferry_status_t;

/** "ok", "rejected", ... Never NULL. */
FERRY_API const char *ferry_status_name(ferry_status_t s);

/* ---- the context --------------------------------------------------------- */

typedef enum {
    FERRY_MODE_POLLED = 0, /**< the host polls libferry's fds */
    FERRY_MODE_THREAD = 1, /**< the data path runs on a libferry thread */
} ferry_mode_t;

typedef struct {
    const char *sid;
    const char *from; /**< the sender's full JID */
    const char *name; /**< offered name, already checked */
    uint64_t size;    /**< FERRY_SIZE_UNKNOWN: a stream */
    const char *media_type;
    uint32_t chunk_size;
    /** The SHA-256 the sender announced (XEP-0300), or NULL; valid during
     *  the callback: pass it to ferry_transfer_check_sha256() there to have
     *  the received file checked against it. */
    const uint8_t *sha256;
} ferry_offer_info_t;

typedef struct {
    /** Send this stanza (e.g. xmpp_send()). It belongs to libferry and is
     *  released after the call. Set this or send_xml. */
    void (*send_stanza)(xmpp_stanza_t *stanza, void *userdata);
    /** Send this serialized stanza (for hosts that speak XML text). */
    void (*send_xml)(const char *xml, void *userdata);
    /** An offer arrived: call ferry_accept_*() or ferry_reject(), now or
     *  later. */
    void (*offer)(ferry_transfer_t *t, const ferry_offer_info_t *o,
                  void *userdata);
    /** Bytes confirmed by the receiver (sender) or written (receiver).
     *  total is FERRY_SIZE_UNKNOWN for a stream. */
    void (*progress)(ferry_transfer_t *t, uint64_t done, uint64_t total,
                     void *userdata);
    /** Something worth a log line: "accepted", "channel", "connected",
     *  "admitted", "peer-joined", "slow-down", "resume", "first-byte",
     *  "sent", "resuming", "waiting" (the peer is not online yet),
     *  "offered" (the offer went to ferry_transfer_peer()). */
    void (*event)(ferry_transfer_t *t, const char *what, void *userdata);
    /** The transfer ended; reason is a short token or NULL. The transfer
     *  is freed after this returns. Called exactly once per transfer. */
    void (*done)(ferry_transfer_t *t, ferry_status_t status,
                 const char *reason, void *userdata);
} ferry_callbacks_t;

/**
 * A new context. xctx builds the stanzas handed to send_stanza (NULL:
 * libferry uses a context of its own). userdata reaches every callback.
 * NULL only when memory runs out.
 */
FERRY_API ferry_ctx_t *ferry_ctx_new(xmpp_ctx_t *xctx,
                                     const ferry_callbacks_t *cb,
                                     void *userdata);
/** Cancels transfers still running (the peers are told), stops the
 *  thread, frees everything. Accepts NULL. */
FERRY_API void ferry_ctx_free(ferry_ctx_t *ctx);
/** FERRY_MODE_POLLED (default) or FERRY_MODE_THREAD, while no transfer
 *  exists (FERRY_RC_STATE otherwise; FERRY_RC_IO if no thread starts). */
FERRY_API int ferry_set_mode(ferry_ctx_t *ctx, ferry_mode_t mode);
/** Threads that seal (sender) or open (receiver) one transfer's chunks:
 *  1 (default) none beside the data's own; 0 the number of online cores;
 *  at most FERRY_THREADS_MAX. While no transfer exists (FERRY_RC_STATE
 *  otherwise). */
#define FERRY_THREADS_MAX 64
FERRY_API int ferry_set_threads(ferry_ctx_t *ctx, int n);
/** The ciphers a sender offers and a receiver allows, in order of
 *  preference: "aes-256-gcm", "chacha20-poly1305", space-separated. NULL
 *  or "auto" (the default): both, AES-256-GCM first when the CPU has AES
 *  instructions, else ChaCha20-Poly1305 first. FERRY_RC_INVALID for an
 *  unknown name or an empty list. */
FERRY_API int ferry_set_ciphers(ferry_ctx_t *ctx, const char *list);
/** Your own full JID, once bound: needed before offering (and it starts
 *  component discovery). */
FERRY_API int ferry_set_jid(ferry_ctx_t *ctx, const char *full_jid);
/** The component's JID. Without it, libferry asks your server (disco#items,
 *  then disco#info of each item) and uses "ferry." + your domain until one
 *  answers. */
FERRY_API int ferry_set_component(ferry_ctx_t *ctx, const char *jid);
/** The component in use (NULL until ferry_set_jid() or
 *  ferry_set_component()). */
FERRY_API const char *ferry_component(const ferry_ctx_t *ctx);
/** A PEM file of CA certificates trusted for TLS relays, besides the
 *  system's. */
FERRY_API int ferry_set_relay_ca(ferry_ctx_t *ctx, const char *pem_file);
/** Limits in seconds (0 keeps the current value): connect (DNS, TCP, TLS
 *  and the relay's handshake, default 10), idle (nothing from the relay, default 60),
 *  stage (each XMPP step: accept, channel, default 120). */
FERRY_API int ferry_set_timeouts(ferry_ctx_t *ctx, int connect_s, int idle_s,
                                 int stage_s);
/** The reason of the last failing call on this context. Never NULL. */
FERRY_API const char *ferry_error(const ferry_ctx_t *ctx);
/** The feature to announce in your disco#info ("urn:xmpp:ferry:0"). */
FERRY_API const char *ferry_feature(void);

/* ---- stanzas in --------------------------------------------------------- */

/** Hand every received <message/>, <iq/> and <presence/> in. 1 when it
 *  was Ferry's (the host should not process it further), 0 when not
 *  (always 0 for presence: libferry only looks at it, to hear at once that
 *  a peer came online or went away). */
FERRY_API int ferry_handle_stanza(ferry_ctx_t *ctx, xmpp_stanza_t *stanza);
/** The same for a serialized stanza. -1 when it does not parse. */
FERRY_API int ferry_handle_xml(ferry_ctx_t *ctx, const char *xml);

/* ---- the loop ------------------------------------------------------------ */

/**
 * Fills fds[0..max) with what libferry waits on and *timeout_ms with when
 * it next needs ferry_process() (-1: only when an fd is ready). Returns
 * how many fds it wants, which may be more than max: call again with room.
 */
FERRY_API int ferry_fds(ferry_ctx_t *ctx, struct pollfd *fds, int max,
                        int *timeout_ms);
/**
 * Runs the I/O that fds (as returned by poll(), revents set) made ready,
 * the timers that expired and, in thread mode, the events waiting. fds may
 * be NULL. Returns the number of transfers still running.
 */
FERRY_API int ferry_process(ferry_ctx_t *ctx, const struct pollfd *fds,
                            int nfds);
/** Number of transfers not yet done. */
FERRY_API int ferry_active(const ferry_ctx_t *ctx);

/* ---- sending -------------------------------------------------------------- */

typedef enum {
    FERRY_REQUESTER_SENDER = 1,   /**< patent claims 4-5 */
    FERRY_REQUESTER_RECEIVER = 2, /**< claims 2-3 (default) */
} ferry_requester_t;

typedef struct {
    ferry_requester_t requester; /**< 0: receiver */
    uint32_t chunk_size; /**< 0: 262144; clamped to what the component
                              allows (its chunk-size-max, else 262144) */
    int deliver;         /**< ask the component to deliver the channel */
    const char *sid;     /**< reuse a session id (resume) */
    const char *media_type; /**< default application/octet-stream */
    const char *name;       /**< offered name (default: the file's) */
    int shuffle;            /**< test: send chunks out of order */
    uint64_t corrupt_chunk; /**< test: if N > 0, damage chunk N-1 */
    int wait_s; /**< how long to wait for a Ferry client of the peer to
                     come online (0: 30 s); then done(PEER_GONE, "offline") */
} ferry_send_opts_t;

/** The size of a source whose length is not known in advance (a stream):
 *  its offer carries no size and END fixes it. ferry_offer_info_t.size,
 *  ferry_transfer_size() and progress's total say so for a stream. */
#define FERRY_SIZE_UNKNOWN 0x7fffffffffffffffULL

/** Reads the data of a transfer. read() fills buf with up to len bytes
 *  starting at offset and returns how many (0 only past the end), or -1.
 *  Offsets only grow, except in test shuffles (ferry_send_opts_t.shuffle),
 *  which read chunks a few out of order; a resume starts at its chunk.
 *  A stream (size FERRY_SIZE_UNKNOWN) is read on a thread of libferry's
 *  own, in both modes, so read() may block until data comes: it returns
 *  what it has (short counts are fine), 0 at the end of the stream, -1
 *  on error (the transfer fails; errno EAGAIN: nothing yet, asked again
 *  a few ms later). close() then comes from that thread once the transfer
 *  is over and no read() runs: keep userdata alive until it. Streams are
 *  never resumed. */
typedef struct {
    ssize_t (*read)(void *userdata, uint64_t offset, void *buf, size_t len);
    void (*close)(void *userdata); /**< optional: the transfer is over */
    uint64_t size;                 /**< the exact length */
    void *userdata;
} ferry_source_t;

/** Receives the data of a transfer, in order. write() takes all of len
 *  (any return >= 0) or returns -1. finish(verified=1) after the whole was
 *  verified (make it durable; -1 fails the transfer); finish(verified=0)
 *  when the transfer failed (discard what was written). finish may be
 *  NULL. */
typedef struct {
    int (*write)(void *userdata, const void *buf, size_t len);
    int (*finish)(void *userdata, int verified);
    void *userdata;
} ferry_sink_t;

/** Offers the file at path to peer. libferry first probes the peer (a
 *  bare JID: each of its online resources; a full JID: that one) so an
 *  offer never reaches a server's offline store, and offers to each
 *  resource that answers as a Ferry client; each decides for itself, and
 *  all that accept get the file from one upload (see
 *  ferry_send_file_group()). With opts->requester
 *  FERRY_REQUESTER_RECEIVER, only the first resource that answers gets
 *  the offer. It waits opts->wait_s for one (event "waiting" after a
 *  second; hand presence stanzas in to hear of a peer coming online at
 *  once). *out gets the transfer (out may be NULL; opts may be NULL for
 *  the defaults).
 *  FERRY_RC_INVALID (peer, options), FERRY_RC_IO (file), FERRY_RC_STATE
 *  (no ferry_set_jid yet). */
FERRY_API int ferry_send_file(ferry_ctx_t *ctx, const char *peer,
                              const char *path, const ferry_send_opts_t *opts,
                              ferry_transfer_t **out);
/** One transfer to several receivers (XEP "Fan-out"): each of peers[0..n)
 *  (1 to 64; bare JIDs stand for every online Ferry resource, full JIDs
 *  such as group chat occupants room@service/nick for themselves) is
 *  offered the file; when all have answered (or 15 s after the first
 *  acceptance) one relay channel carries each sealed chunk once, and the
 *  relay copies it to every receiver that accepted. A receiver that
 *  rejects, leaves, falls too far behind (reason "too-slow") or fails
 *  its check ends alone; ferry_transfer_receipts() tells each one's
 *  outcome. done() says FERRY_DONE_OK when every receiver that was
 *  offered the file verified it. The sender requests the channel
 *  (opts->requester FERRY_REQUESTER_RECEIVER is FERRY_RC_INVALID with
 *  several peers); opts->deliver and shuffle apply to one-to-one only. */
FERRY_API int ferry_send_file_group(ferry_ctx_t *ctx, const char *const *peers,
                                    size_t npeers, const char *path,
                                    const ferry_send_opts_t *opts,
                                    ferry_transfer_t **out);
FERRY_API int ferry_send_group(ferry_ctx_t *ctx, const char *const *peers,
                               size_t npeers, const ferry_source_t *src,
                               const ferry_send_opts_t *opts,
                               ferry_transfer_t **out);

/** A receiver's outcome, as the sender knows it. */
typedef struct {
    const char *jid;       /**< its full JID (a target's JID if nothing
                                of it answered) */
    ferry_status_t status; /**< FERRY_DONE_OK: it verified the file */
    const char *reason;    /**< NULL when verified; else e.g. "declined",
                                "too-slow", "too-late", "offline",
                                "peer-closed", "integrity" */
    uint64_t bytes;        /**< bytes it acknowledged */
    double seconds;        /**< from the channel to its end */
} ferry_receipt_t;

/** A sender's receipts, one per receiver offered (or target nobody of
 *  answered): fills out[0..max) and returns how many there are. Strings
 *  are valid until the transfer is freed (read them in done()). A
 *  one-to-one send has one. 0 for a receiver's transfer. */
FERRY_API size_t ferry_transfer_receipts(const ferry_transfer_t *t,
                                         ferry_receipt_t *out, size_t max);

/** Offers the bytes of a source (opts->name names them). The source is
 *  copied; its close() is called when the transfer ends. */
FERRY_API int ferry_send(ferry_ctx_t *ctx, const char *peer,
                         const ferry_source_t *src,
                         const ferry_send_opts_t *opts, ferry_transfer_t **out);

/* ---- receiving ------------------------------------------------------------ */

/** Accepts an offer into directory dir, under the offered name, or under
 *  "name (1).ext" ... when that is taken: libferry never overwrites or
 *  removes a file it did not create. An interrupted transfer of the same
 *  session resumes. ferry_transfer_path() tells the name chosen. */
FERRY_API int ferry_accept_file(ferry_transfer_t *t, const char *dir);
/** Accepts an offer into your sink (copied). */
FERRY_API int ferry_accept_sink(ferry_transfer_t *t, const ferry_sink_t *sink);
/** Declines with a reason: declined, busy, too-large, not-acceptable. */
FERRY_API int ferry_reject(ferry_transfer_t *t, const char *reason,
                           const char *text);
/** Cancels at any stage; the peer is told. The done callback follows (at
 *  once, or in thread mode from ferry_process()). */
FERRY_API int ferry_cancel(ferry_transfer_t *t);

/* ---- a transfer ----------------------------------------------------------- */

FERRY_API const char *ferry_transfer_sid(const ferry_transfer_t *t);
/** The peer's JID (full once it answered). */
FERRY_API const char *ferry_transfer_peer(const ferry_transfer_t *t);
FERRY_API uint64_t ferry_transfer_size(const ferry_transfer_t *t);
/** Receiver: the final path of a file sink; NULL otherwise. */
FERRY_API const char *ferry_transfer_path(const ferry_transfer_t *t);
FERRY_API int ferry_transfer_is_sender(const ferry_transfer_t *t);
/** Receiver, before accepting: fail the transfer (cancelled, reason
 *  "too-large", the sender told) once more than max bytes arrive; 0 (the
 *  default) is no limit. A stream's size is not known beforehand: set
 *  this to bound it. */
FERRY_API int ferry_transfer_set_max_size(ferry_transfer_t *t, uint64_t max);
/** Receiver, before accepting: also check the SHA-256 of the whole file
 *  (32 bytes: the offer's, or one known otherwise) before committing; a
 *  mismatch fails the transfer (FERRY_DONE_INTEGRITY, "sha256-mismatch").
 *  Off by default: every chunk is authenticated and END's digest of the
 *  chunk tags covers order and completeness, with no second pass. */
FERRY_API int ferry_transfer_check_sha256(ferry_transfer_t *t,
                                          const uint8_t sha256[32]);
FERRY_API void ferry_transfer_set_userdata(ferry_transfer_t *t, void *userdata);
FERRY_API void *ferry_transfer_userdata(const ferry_transfer_t *t);
/** Why the transfer ended, for people ("bob@example.org: no Ferry client
 *  came online in 30 s", the component's refusal text, ...), or "" when
 *  there is nothing to add to the status and reason. Never NULL. */
FERRY_API const char *ferry_transfer_detail(const ferry_transfer_t *t);
/** The session's cipher, "aes-256-gcm" or "chacha20-poly1305": settled
 *  once the sender has the acceptance (a fan-out: at "channel") and the
 *  receiver has accepted (a fan-out receiver: at "channel"). */
FERRY_API const char *ferry_transfer_cipher(const ferry_transfer_t *t);

/* ---- libstrophe adapter ---------------------------------------------------- */

/**
 * Wires ctx to a libstrophe connection: stanzas go out with xmpp_send(),
 * one stanza handler feeds ferry_handle_stanza(), disco#info queries that
 * are not libferry's are answered with ferry_feature(), and
 * ferry_strophe_run_once() calls ferry_set_jid() once the JID is bound (a
 * host with a loop of its own calls ferry_set_jid() itself). It takes the connection's socket-option callback (to learn the
 * XMPP socket; it keeps libstrophe's TCP keepalive and sets TCP_NODELAY).
 * Call before xmpp_connect_client(); the connection must outlive ctx or be
 * detached first.
 */
FERRY_API int ferry_strophe_attach(ferry_ctx_t *ctx, xmpp_conn_t *conn);
FERRY_API void ferry_strophe_detach(ferry_ctx_t *ctx);
/**
 * One turn of a loop for a program with nothing else to wait on: polls the
 * XMPP socket and libferry's fds together for at most timeout_ms, then runs
 * libstrophe and libferry.
 */
FERRY_API void ferry_strophe_run_once(ferry_ctx_t *ctx, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
