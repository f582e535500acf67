/* ferry-relay internals shared by the files of relay/ (not installed). */
#ifndef FERRY_RELAY_H
#define FERRY_RELAY_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <glib.h>

#include "conf.h"
#include "err.h"
#include "frame.h"
#include "loop.h"

/* --- configuration (relay/config.c) ---------------------------------- */
struct relay_conf {
    char **listen;
    char **tls_listen;
    char *tls_cert;
    char *tls_key;
    char **secret_files;
    char *stats_listen;
    char *user;
    int64_t buffer_size;
    int64_t max_frame;
    int64_t max_connections;
    int64_t max_channels;
    int64_t max_per_ip;
    int64_t handshake_timeout_ms;
    int64_t unpaired_timeout;
    int64_t idle_timeout;
    int64_t drain_timeout;
    int64_t accept_backoff_ms;
    int64_t stats_max_connections;
    int64_t stats_timeout_ms;
    int64_t stats_max_request;
    int64_t fanout_lag_ms;
    int64_t log_level;
};

extern const struct conf_opt relay_opts[];
extern const size_t relay_nopts;

/* --- ring buffer (relay/ring.c) --------------------------------------- */
/* Bytes flowing one way through a channel. [head, head+ready) are whole
 * frames that may be written out; [ready, scanned) are parts of the frame
 * being received, not yet visible to the writer. */
struct ring {
    uint8_t *r_buf;
    size_t r_cap;
    size_t r_head;
    size_t r_len;
    size_t r_ready;
    /* frame scanner state for the bytes after r_ready */
    uint8_t r_hdr[FERRY_FRAME_HDR];
    unsigned r_hdr_have;
    uint32_t r_body_left;
    int r_in_body;
    uint8_t r_cur_type;
};

int ring_init(struct ring *r, size_t cap);
void ring_free(struct ring *r);
size_t ring_free_space(const struct ring *r);
/* iovecs over free space / ready bytes; returns count (0..2). */
int ring_free_iov(struct ring *r, struct iovec iov[2]);
int ring_ready_iov(struct ring *r, struct iovec iov[2]);
void ring_consume(struct ring *r, size_t n);
/* For rings that hold whole frames only (fan-out): copies n bytes at
 * offset off from the head out; appends n bytes, ready at once; appends
 * the n bytes at the head of src. The caller checks the room. */
void ring_peek(const struct ring *r, size_t off, void *p, size_t n);
void ring_append(struct ring *r, const void *p, size_t n);
void ring_copy(struct ring *dst, const struct ring *src, size_t n);

/* Scans n newly appended bytes. For every frame header found, calls
 * check(type, len, ud); a non-zero return stops the scan and is returned
 * (the partial frame is then dropped). For every completed frame, calls
 * done(type, ud) after r_ready moved past it. */
typedef int ring_check_fn(uint8_t type, uint32_t len, void *ud);
typedef void ring_done_fn(uint8_t type, void *ud);
int ring_commit(struct ring *r, size_t n, ring_check_fn *check,
                ring_done_fn *done, void *ud);
/* Drops the bytes after r_ready (a partial frame from a dead sender). */
void ring_drop_partial(struct ring *r);

/* --- connections and channels ------------------------------------------ */
enum conn_state {
    CONN_HANDSHAKE, /* HELLO sent, waiting for AUTH */
    CONN_WAITING,   /* admitted, peer not yet there */
    CONN_PAIRED,    /* forwarding */
    CONN_CLOSING,   /* flushing its last frames, then closed */
    CONN_DEAD,      /* closed; reaped before the next wait */
};

#define NOTICE_MAX 512
#define HS_AUTH_LEN (FERRY_FRAME_HDR + FERRY_AUTH_SLOT_LEN)

struct channel;

struct conn {
    int c_fd;
    struct ssl_st *c_ssl; /* NULL: plain TCP */
    int c_tls_hs;         /* TLS handshake not finished: no frames yet */
    int c_tls_want_write; /* TLS must write before the last call can go on */
    uint64_t c_id;        /* for logs */
    enum conn_state c_state;
    uint8_t c_role;
    struct channel *c_chan;
    char c_peer[64]; /* "ip:port" */
    char c_ip[48];
    long long c_since;    /* ms: accept time */
    long long c_last_io;  /* ms: last byte in or out */
    long long c_close_at; /* ms: CLOSING deadline */
    uint64_t c_bytes_in;
    uint64_t c_bytes_out;
    int c_slowed; /* SLOW_DOWN sent, RESUME not yet */
    int c_eof;
    const char *c_reason; /* why it closed, for the close line */
    uint8_t c_challenge[FERRY_CHALLENGE_LEN];
    uint8_t c_hs[HS_AUTH_LEN];
    size_t c_hs_len;
    uint8_t c_notice[NOTICE_MAX];
    size_t c_notice_len;
    struct conn *c_next_dead;
    /* A leg of a fan-out channel (relay/fanout.c). c_lout is allocated
     * when it joins and lives as long as the connection, so a dropped
     * leg can still finish the frame it was in before its ERROR. */
    uint8_t c_slot;
    int c_joined;      /* PEER_JOINED sent */
    int c_complete;    /* VERIFIED forwarded, or CANCEL delivered to it */
    int c_cancelled;   /* its own CANCEL forwarded */
    int c_got_end;     /* fan-out leg: an END was forwarded to it */
    int c_wait_sender; /* not read: no room toward the sender */
    int c_leg_eof;     /* closed with frames still to forward */
    long long c_blocked_since; /* ms its ring has held the sender back */
    size_t c_part;             /* bytes left of the frame at c_lout's head */
    struct ring c_lout;        /* frames toward the leg */
    struct ring c_lin;         /* the leg's frames, until wrapped in LEG */
};

struct channel {
    uint8_t ch_id[FERRY_CHAN_ID_LEN];
    uint64_t ch_expiry;
    struct conn *ch_sender;
    struct conn *ch_receiver;
    int ch_used_sender; /* role admitted once: never again */
    int ch_used_receiver;
    int ch_complete; /* VERIFIED or CANCEL forwarded */
    int ch_paired;
    long long ch_created;
    struct ring ch_to_receiver; /* fan-out: the sender's frames, staged */
    struct ring ch_to_sender;
    /* fan-out (ch_slots > 0): legs by slot; see relay/fanout.c */
    unsigned ch_slots;
    struct conn **ch_legs;
    unsigned ch_nlegs;     /* legs present */
    uint64_t ch_legs_used; /* slots admitted once: never again */
    int ch_data_begun;     /* a DATA was forwarded: no new legs */
    int ch_held;           /* the sender is not read: a leg is full */
    int ch_busy;           /* fan_pump() is running */
    size_t ch_reserve;     /* room kept in ch_to_sender for LEG notices */
};

/* --- the daemon ---------------------------------------------------------- */
/* Why a metrics connection was closed without its answer (or with an
 * error answer). */
enum stats_drop {
    STATS_DROP_LIMIT,       /* pushed out by a newer one at the limit */
    STATS_DROP_TIMEOUT,     /* stats_timeout_ms ran out */
    STATS_DROP_BAD_REQUEST, /* 400 or 405 */
    STATS_DROP_TOO_LARGE,   /* 431 */
    STATS_DROP_MAX
};

struct relay_stats {
    uint64_t conns_accepted;
    uint64_t conns_refused;
    uint64_t channels_paired;
    uint64_t channels_completed;
    uint64_t bytes_forwarded;
    uint64_t bytes_from_senders; /* read from senders: a fan-out's upload */
    uint64_t frames_forwarded;
    uint64_t slow_downs;
    uint64_t resumes;
    uint64_t errors[FERRY_ERR_WIRE_MAX + 1];    /* ERROR frames sent */
    uint64_t peer_gone[FERRY_ERR_WIRE_MAX + 1]; /* PEER_GONE sent */
    uint64_t accept_backoffs; /* accept() out of fds or memory: paused */
    uint64_t stats_dropped[STATS_DROP_MAX];
    uint64_t fanout_legs;         /* fan-out legs joined */
    uint64_t fanout_dropped_slow; /* fan-out legs dropped too-slow */
};

struct stats_conn;

struct relay {
    struct relay_conf conf;
    const char *conf_path;
    struct loop *loop;
    int setsize;
    int *listen_fds;
    int *listen_tls; /* per listener: 1 if it speaks TLS */
    size_t nlisten;
    struct ssl_ctx_st *tls_ctx;
    int stats_fd;
    struct stats_conn **stats_conns; /* stats_max_connections slots */
    size_t nstats;
    int sig_fd;
    struct conn **conns; /* indexed by fd */
    size_t nconns;
    GHashTable *channels; /* id -> struct channel */
    size_t nchannels_live;
    GHashTable *per_ip; /* ip string -> count */
    uint8_t **secrets;
    size_t *secret_lens;
    size_t nsecrets;
    struct conn *dead;
    uint64_t next_conn_id;
    int draining;
    long long drain_deadline;
    long long accept_paused_until;
    long long accept_backoff_logged;
    uint64_t accept_backoff_quiet; /* backoffs since the last log line */
    struct relay_stats st;
};

/* relay/conn.c */
void conn_accept(struct loop *l, int fd, void *ud, int mask);
/* accept() failed for want of fds or memory: every listener (relay and
 * stats) stops for accept_backoff_ms, so a listener that stays readable
 * is not polled in a loop; the tick turns them back on. */
void accept_backoff(struct relay *r, const char *what);
void accept_resume(struct relay *r, long long now);
void conn_close(struct relay *r, struct conn *c, const char *reason,
                int peer_code);
void conn_fail(struct relay *r, struct conn *c, int code, const char *text);
int conn_notice(struct relay *r, struct conn *c, const uint8_t *p, size_t len);
/* n bytes read from a paired connection: its counters and idle clock. */
void conn_count_in(struct relay *r, struct conn *c, size_t n);
/* SLOW_DOWN (queued bytes) or RESUME to a sender, as a notice. */
void conn_flow_notice(struct relay *r, struct conn *c, int type,
                      uint32_t queued);
void conn_want_write(struct relay *r, struct conn *c);
void conn_reap(struct relay *r);
void conn_sweep(struct relay *r, long long now);

/* relay/handshake.c */
void handshake_start(struct relay *r, struct conn *c);
void handshake_read(struct relay *r, struct conn *c);

/* relay/pair.c */
struct channel *pair_lookup(struct relay *r, const uint8_t id[32]);
int pair_admit(struct relay *r, struct conn *c, const uint8_t id[32],
               uint64_t expiry);
void pair_detach(struct relay *r, struct conn *c);
void pair_sweep(struct relay *r, uint64_t now_s);
void pair_free_all(struct relay *r);

/* relay/fanout.c: channels with one sender and up to ch_slots legs */
int fan_admit(struct relay *r, struct conn *c, struct channel *ch);
void fan_read(struct relay *r, struct conn *c);
int fan_write(struct relay *r, struct conn *c);
/* c (sender or leg) leaves its channel: detaches it and tells the others
 * (legs: PEER_GONE; the sender: LEG(slot, PEER_GONE)). code 0: nothing. */
void fan_gone(struct relay *r, struct conn *c, int code);
/* The timeouts of a paired fan-out end, and the lag limit of a leg. */
void fan_sweep(struct relay *r, struct conn *c, long long now);
int fan_is_leg(const struct conn *c);

/* relay/forward.c */
void forward_read(struct relay *r, struct conn *c);
int forward_write(struct relay *r, struct conn *c);
struct ring *forward_out_ring(struct conn *c);

/* relay/io.c: byte I/O over plain TCP or TLS, read(2)/write(2) results */
int tls_setup(struct relay *r);
void tls_teardown(struct relay *r);
int io_tls_begin(struct relay *r, struct conn *c);
int io_tls_handshake(struct conn *c); /* 1 done, 0 again later, -1 failed */
ssize_t io_read(struct conn *c, void *p, size_t n);
ssize_t io_write(struct conn *c, const void *p, size_t n);
ssize_t io_readv(struct conn *c, const struct iovec *iov, int cnt);
ssize_t io_writev(struct conn *c, const struct iovec *iov, int cnt);
int io_peek(struct conn *c);
size_t io_pending(const struct conn *c);
void io_shutdown_write(struct conn *c);
void io_free(struct conn *c);

/* relay/stats.c: the metrics listener and its connections */
void stats_serve(struct loop *l, int fd, void *ud, int mask);
void stats_sweep(struct relay *r, long long now);
void stats_free_all(struct relay *r);

/* relay/secrets.c */
int relay_load_secrets(struct relay *r);
void relay_free_secrets(struct relay *r);

#endif
