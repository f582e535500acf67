/* libferry internals (not installed). */
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
    T_OFFERED,       /* sender: offer sent, waiting for accept/reject */
    T_WAIT_USER,     /* receiver: offer shown to the application */
    T_WAIT_CHANNEL,  /* waiting for channel information from the peer */
    T_REQUESTING,    /* channel request sent to the component */
    T_RELAY_HS,      /* connected to the relay, handshake running */
    T_WAIT_PEER,     /* admitted, waiting for PEER_JOINED */
    T_STREAMING,     /* sender: sending chunks */
    T_WAIT_VERIFIED, /* sender: END sent */
    T_RECEIVING,     /* receiver: receiving chunks */
    T_FINISHED,
};

struct ferry_ctx {
    xmpp_ctx_t *x;
    xmpp_conn_t *conn;
    ferry_callbacks_t cb;
    void *ud;
    char *component;
    char *relay_ca;               /* extra CA file for relay TLS */
    struct ssl_ctx_st *tls_ctx;   /* made on the first TLS channel */
    int component_found; /* set by the application or found by disco */
    int disco_queries;   /* disco#info queries sent to server items */
    GList *transfers;
    int xmpp_fd;
};

struct ferry_transfer {
    ferry_ctx_t *ctx;
    int is_sender;
    enum tstate st;
    char sid[65];
    char *peer; /* full JID once known */
    char *path; /* sender: source; receiver: final name */
    char *part_path, *state_path;
    int fd;
    char name[FERRY_NAME_MAX * 4 + 1];
    char media[FERRY_MEDIA_MAX + 1];
    uint64_t size;
    uint32_t chunk;
    uint64_t nchunks;
    int requester; /* ROLE_* of who requests the channel */
    int deliver;
    uint8_t my_priv[32], my_pub[32], peer_pub[32];
    struct ferry_channel ch;
    struct aead *aead;
    int sock;
    struct ssl_st *ssl; /* TLS to the relay when the channel says so */
    struct buf *in, *out;
    uint64_t next;  /* sender: next chunk index to send (in order);
                       receiver: next chunk number expected */
    uint64_t acked; /* sender: receiver's next needed chunk */
    uint64_t resume_from;
    uint64_t written;
    struct sha256 *hash;
    int paused;
    int first_byte;
    struct reorder *cache; /* receiver: chunks ahead of `next` */
    uint8_t *scratch;      /* receiver: one chunk, opened in order */
    uint64_t *order; /* sender, shuffle mode: send order */
    int shuffle;
    uint64_t corrupt_chunk; /* 1-based; 0: off */
    time_t deadline;
    char *iq_id;
};

/* plugin/relay.c */
int relay_connect(ferry_transfer_t *t);
/* Relay socket I/O, through TLS when the channel uses it. */
ssize_t relay_send(ferry_transfer_t *t, const void *p, size_t n);
size_t relay_pending(const ferry_transfer_t *t);
void relay_close(ferry_transfer_t *t);
int relay_want_write(const ferry_transfer_t *t);
/* Reads what is there (if readable), then fills and flushes output. */
void relay_io(ferry_transfer_t *t, int readable);

/* plugin/ferry.c */
void transfer_finish(ferry_transfer_t *t, ferry_status_t st,
                     const char *reason);
void transfer_event(ferry_transfer_t *t, const char *what);
void transfer_progress(ferry_transfer_t *t, uint64_t done);
void transfer_state_save(ferry_transfer_t *t);

#endif
