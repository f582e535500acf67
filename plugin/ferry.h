/* libferry: Ferry file transfer for libstrophe clients (XEP draft
 * urn:xmpp:ferry:0). It attaches to the application's xmpp_conn_t,
 * registers its stanza handlers, and never takes over the application's
 * loop: call ferry_run_once() from it (it runs xmpp_run_once() too).
 *
 * Create the ferry_ctx_t before connecting the xmpp_conn_t: libferry
 * learns the XMPP socket through the socket-option callback, so it can
 * wait on it together with the relay sockets. */
#ifndef FERRY_H
#define FERRY_H

#include <stdint.h>

#include <strophe.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ferry_ctx ferry_ctx_t;
typedef struct ferry_transfer ferry_transfer_t;

/** Who asks the component for the channel (patent claims 2-5). */
typedef enum {
    FERRY_REQUESTER_RECEIVER = 2,
    FERRY_REQUESTER_SENDER = 1,
} ferry_requester_t;

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

typedef struct {
    const char *sid;
    const char *from; /**< the sender's full JID */
    const char *name; /**< offered name, already checked */
    uint64_t size;
    const char *media_type;
    uint32_t chunk_size;
} ferry_offer_info_t;

typedef struct {
    /** An offer arrived: call ferry_accept() or ferry_reject(), now or
     *  later. */
    void (*offer)(ferry_transfer_t *t, const ferry_offer_info_t *o,
                  void *userdata);
    /** Bytes confirmed by the receiver's acknowledgements (sender) or
     *  written (receiver). */
    void (*progress)(ferry_transfer_t *t, uint64_t done, uint64_t total,
                     void *userdata);
    /** Something happened worth a log line: "admitted", "peer-joined",
     *  "slow-down", "resume", "channel", "first-byte". */
    void (*event)(ferry_transfer_t *t, const char *what, void *userdata);
    /** The transfer ended; reason is a Ferry error name or NULL. The
     *  transfer is freed after this returns. */
    void (*done)(ferry_transfer_t *t, ferry_status_t status, const char *reason,
                 void *userdata);
} ferry_callbacks_t;

typedef struct {
    ferry_requester_t requester; /**< default: receiver */
    uint32_t chunk_size;         /**< default 262144 */
    int deliver;                 /**< ask the component to deliver */
    const char *sid;             /**< reuse a session id (resume) */
    const char *media_type;      /**< default application/octet-stream */
    int shuffle;                 /**< test: send chunks out of order */
    uint64_t corrupt_chunk;      /**< test: if N > 0, flip one bit of chunk
                                      N-1 after sealing it */
} ferry_send_opts_t;

/** Attaches to conn. NULL on allocation failure. */
ferry_ctx_t *ferry_ctx_new(xmpp_ctx_t *xctx, xmpp_conn_t *conn,
                           const ferry_callbacks_t *cb, void *userdata);
/** Cancels transfers still running and frees everything. Accepts NULL. */
void ferry_ctx_free(ferry_ctx_t *ctx);
/** The component's JID. Without it, libferry asks the user's server
 * (XEP-0030 disco#items, then disco#info of each item) for a service with
 * the urn:xmpp:ferry:0 feature, and uses "ferry." + the user's domain
 * until one answers (or when none does). */
void ferry_set_component(ferry_ctx_t *ctx, const char *jid);
/** A PEM file of CA certificates trusted for relays that use TLS, besides
 * the system's (tests, private deployments). */
void ferry_set_relay_ca(ferry_ctx_t *ctx, const char *pem_file);
/** The component in use (NULL before login). */
const char *ferry_component(const ferry_ctx_t *ctx);

/** Offers a file. NULL when the file cannot be opened. */
ferry_transfer_t *ferry_send_file(ferry_ctx_t *ctx, const char *peer,
                                  const char *path,
                                  const ferry_send_opts_t *opts);
/** Accepts an offer, writing to dest_path (via dest_path.part). 0 or -1. */
int ferry_accept(ferry_transfer_t *t, const char *dest_path);
/** Rejects an offer with a reason: declined, busy, too-large,
 *  not-acceptable. */
int ferry_reject(ferry_transfer_t *t, const char *reason, const char *text);
/** Cancels at any stage; the peer is told. */
int ferry_cancel(ferry_transfer_t *t);

const char *ferry_transfer_sid(const ferry_transfer_t *t);
const char *ferry_transfer_peer(const ferry_transfer_t *t);
uint64_t ferry_transfer_size(const ferry_transfer_t *t);
/** Number of transfers in progress. */
int ferry_active(const ferry_ctx_t *ctx);

/** Runs XMPP and relay I/O for at most timeout_ms. */
void ferry_run_once(ferry_ctx_t *ctx, int timeout_ms);

const char *ferry_status_name(ferry_status_t s);

#ifdef __cplusplus
}
#endif
#endif
