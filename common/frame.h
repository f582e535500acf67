/* Relay wire frames (XEP draft, section "Relay Wire Protocol").
 *
 *   0       1       2       3       4 ...
 *   +-------+-------+-------+-------+---------------------+
 *   | type  |   body length (u24)   | body (length bytes) |
 *   +-------+-------+-------+-------+---------------------+
 *
 * FRAME_TABLE is the single source of the type codes and body sizes: the
 * decoder, the relay and the XEP consistency test all read it. */
#ifndef FERRY_FRAME_H
#define FERRY_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
/* For FERRY_VERIFIED_SEALED_LEN. crypto.h includes no Ferry header, so
 * this makes no include cycle. */
#include "crypto.h"

#define FERRY_PROTO_VERSION 0
#define FERRY_FRAME_HDR 4
#define FERRY_CHALLENGE_LEN 32
#define FERRY_CHAN_ID_LEN 32
#define FERRY_PROOF_LEN 32
#define FERRY_TAG_LEN 16
#define FERRY_SHA256_LEN 32
#define FERRY_ERROR_TEXT_MAX 128
#define FERRY_CHUNK_MIN 1024u
#define FERRY_CHUNK_MAX (1024u * 1024u)
#define FERRY_CHUNK_DEFAULT (256u * 1024u)
/* Largest body of any frame: a DATA frame with a full chunk. */
#define FERRY_FRAME_MAX (8u + FERRY_CHUNK_MAX + FERRY_TAG_LEN)
#define FERRY_END_SEALED_LEN (8 + FERRY_SHA256_LEN + FERRY_TAG_LEN)
/* KEY: the fan-out transfer key K sealed under a leg key (32 + tag). */
#define FERRY_KEY_SEALED_LEN (32 + FERRY_TAG_LEN)
/* CHECK: a fan-out leg's digest so far, sealed under its leg key. */
#define FERRY_CHECK_SEALED_LEN (FERRY_SHA256_LEN + FERRY_TAG_LEN)
/* AUTH body: 66 bytes, or 67 with a receiver's slot on a fan-out channel. */
#define FERRY_AUTH_LEN 66
#define FERRY_AUTH_SLOT_LEN 67
/* LEG body: slot u8 | one whole inner frame. The largest inner frame is
 * END (8 + FERRY_END_SEALED_LEN = 64 bytes of body). */
#define FERRY_LEG_MIN (1 + FERRY_FRAME_HDR)
#define FERRY_LEG_MAX (1 + FERRY_FRAME_HDR + 8 + FERRY_END_SEALED_LEN)

enum frame_type {
    FRAME_HELLO = 0x01,
    FRAME_AUTH = 0x02,
    FRAME_ADMITTED = 0x03,
    FRAME_DATA = 0x10,
    FRAME_END = 0x11,
    FRAME_ACK = 0x12,
    FRAME_CANCEL = 0x13,
    FRAME_VERIFIED = 0x14,
    FRAME_KEY = 0x15,
    FRAME_CHECK = 0x16,
    FRAME_PEER_JOINED = 0x20,
    FRAME_PEER_GONE = 0x21,
    FRAME_SLOW_DOWN = 0x22,
    FRAME_RESUME = 0x23,
    FRAME_LEG = 0x24,
    FRAME_ERROR = 0x7f,
};

enum ferry_role { ROLE_SENDER = 1, ROLE_RECEIVER = 2 };

/* Who may send a frame type. */
#define FRAME_FROM_RELAY 0x1
#define FRAME_FROM_SENDER 0x2
#define FRAME_FROM_RECEIVER 0x4

/* X(name, code, min body, max body, senders) */
#define FRAME_TABLE(X)                                                         \
    X(HELLO, 0x01, 33, 33, FRAME_FROM_RELAY)                                   \
    X(AUTH, 0x02, FERRY_AUTH_LEN, FERRY_AUTH_SLOT_LEN,                         \
      FRAME_FROM_SENDER | FRAME_FROM_RECEIVER)                                 \
    X(ADMITTED, 0x03, 1, 1, FRAME_FROM_RELAY)                                  \
    X(DATA, 0x10, 8 + FERRY_TAG_LEN + 1, FERRY_FRAME_MAX, FRAME_FROM_SENDER)   \
    X(END, 0x11, 8 + FERRY_END_SEALED_LEN, 8 + FERRY_END_SEALED_LEN,           \
      FRAME_FROM_SENDER)                                                       \
    X(ACK, 0x12, 8, 8, FRAME_FROM_RECEIVER)                                    \
    X(CANCEL, 0x13, 2, 2, FRAME_FROM_SENDER | FRAME_FROM_RECEIVER)             \
    X(VERIFIED, 0x14, FERRY_VERIFIED_SEALED_LEN, FERRY_VERIFIED_SEALED_LEN,    \
      FRAME_FROM_RECEIVER)                                                     \
    X(KEY, 0x15, FERRY_KEY_SEALED_LEN, FERRY_KEY_SEALED_LEN,                   \
      FRAME_FROM_SENDER)                                                       \
    X(CHECK, 0x16, 8 + FERRY_CHECK_SEALED_LEN, 8 + FERRY_CHECK_SEALED_LEN,     \
      FRAME_FROM_SENDER)                                                       \
    X(PEER_JOINED, 0x20, 0, 0, FRAME_FROM_RELAY)                               \
    X(PEER_GONE, 0x21, 2, 2, FRAME_FROM_RELAY)                                 \
    X(SLOW_DOWN, 0x22, 4, 4, FRAME_FROM_RELAY)                                 \
    X(RESUME, 0x23, 0, 0, FRAME_FROM_RELAY)                                    \
    X(LEG, 0x24, FERRY_LEG_MIN, FERRY_LEG_MAX,                                 \
      FRAME_FROM_RELAY | FRAME_FROM_SENDER)                                    \
    X(ERROR, 0x7f, 2, 2 + FERRY_ERROR_TEXT_MAX, FRAME_FROM_RELAY)

struct frame_info {
    const char *name;
    uint8_t type;
    uint32_t min_body;
    uint32_t max_body;
    unsigned senders;
};

/* Table entry for a type, or NULL for an unknown type. */
const struct frame_info *frame_info(uint8_t type);
/* All entries, for tests and docs; *n receives the count. */
const struct frame_info *frame_table(size_t *n);

/* A decoded frame. Pointers point into the input and are valid as long as
 * it is. */
struct frame {
    uint8_t type;
    uint32_t body_len;
    const uint8_t *body;
    /* parsed fields, by type */
    uint8_t version;          /* HELLO, AUTH */
    uint8_t role;             /* AUTH */
    uint8_t slot;             /* AUTH (when has_slot), LEG */
    int has_slot;             /* AUTH: the 67-byte form */
    uint8_t flag;             /* ADMITTED: peer already present */
    const uint8_t *challenge; /* HELLO */
    const uint8_t *chan_id;   /* AUTH */
    const uint8_t *proof;     /* AUTH */
    uint64_t number;          /* DATA, END (chunk count), ACK */
    const uint8_t *sealed;    /* DATA, END, VERIFIED, KEY */
    size_t sealed_len;
    uint16_t code;    /* CANCEL, PEER_GONE, ERROR */
    uint32_t queued;  /* SLOW_DOWN */
    const char *text; /* ERROR (not NUL-terminated) */
    size_t text_len;
    /* LEG: the inner frame, header included; decode it again with
     * frame_decode(). It is a whole frame of exactly inner_len bytes and
     * never itself a LEG. */
    const uint8_t *inner;
    size_t inner_len;
};

/* Checks a header alone: known type, body length within the type's range
 * and within max_body. Lets a reader refuse a frame before waiting for (or
 * allocating) its body. Returns FERRY_OK or a FERRY_ERR_* wire code. */
int frame_check_header(uint8_t type, uint32_t body_len, uint32_t max_body);

/* Decodes one frame from the front of p[0..len). On FERRY_OK, *used is the
 * frame's total size and f is filled. FERRY_ERR_NEED_MORE: p holds a valid
 * prefix. Any other code: the input is malformed; the connection should get
 * an ERROR frame with that code. Never reads outside p[0..len). */
int frame_decode(const uint8_t *p, size_t len, uint32_t max_body,
                 struct frame *f, size_t *used);

/* Encoders append a whole frame to b (FERRY_OK, FERRY_ERR_NO_SPACE,
 * FERRY_ERR_NOMEM or FERRY_ERR_BAD_VALUE). */
int frame_put_header(struct buf *b, uint8_t type, uint32_t body_len);
int frame_put_hello(struct buf *b, const uint8_t challenge[32]);
int frame_put_auth(struct buf *b, uint8_t role, const uint8_t chan_id[32],
                   const uint8_t proof[32]);
/* The 67-byte AUTH of a receiver on a fan-out channel. */
int frame_put_auth_slot(struct buf *b, uint8_t role, const uint8_t id[32],
                        const uint8_t proof[32], uint8_t slot);
int frame_put_admitted(struct buf *b, uint8_t peer_present);
int frame_put_data(struct buf *b, uint64_t number, const uint8_t *sealed,
                   size_t sealed_len);
int frame_put_end(struct buf *b, uint64_t count,
                  const uint8_t sealed[FERRY_END_SEALED_LEN]);
int frame_put_ack(struct buf *b, uint64_t next);
/* sealed: from ferry_verified_seal(). */
int frame_put_verified(struct buf *b,
                       const uint8_t sealed[FERRY_VERIFIED_SEALED_LEN]);
int frame_put_key(struct buf *b, const uint8_t sealed[FERRY_KEY_SEALED_LEN]);
/* CHECK(number): the digest of a fan-out leg's chunks below number. */
int frame_put_check(struct buf *b, uint64_t number,
                    const uint8_t sealed[FERRY_CHECK_SEALED_LEN]);
/* inner: one whole frame (header included) that is not a LEG and fits a
 * LEG body; else FERRY_ERR_BAD_VALUE. */
int frame_put_leg(struct buf *b, uint8_t slot, const uint8_t *inner,
                  size_t inner_len);
int frame_put_code(struct buf *b, uint8_t type, uint16_t code);
/* PEER_JOINED, RESUME: the types whose body is always empty. */
int frame_put_empty(struct buf *b, uint8_t type);
int frame_put_slow_down(struct buf *b, uint32_t queued);
int frame_put_error(struct buf *b, uint16_t code, const char *text);

/* Name of a type for logs ("DATA"), or "UNKNOWN". */
const char *frame_name(uint8_t type);

#endif
