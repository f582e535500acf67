/* One error space for all of Ferry: wire error codes, stanza conditions and
 * local failures share these numbers (STYLE.md #18). Codes 1..99 may appear
 * on the wire in ERROR, PEER_GONE and CANCEL frames; codes from 100 up are
 * local only and are never sent. */
#ifndef FERRY_ERR_H
#define FERRY_ERR_H

enum ferry_err {
    FERRY_OK = 0,
    /* wire codes: a peer may see these */
    FERRY_ERR_MALFORMED = 1,    /* frame does not parse */
    FERRY_ERR_UNKNOWN_TYPE = 2, /* frame type not defined */
    FERRY_ERR_BAD_LENGTH = 3,   /* length wrong for this frame type */
    FERRY_ERR_TOO_LARGE = 4,    /* length over the maximum */
    FERRY_ERR_BAD_VALUE = 5,    /* a field holds a value out of range */
    FERRY_ERR_BAD_VERSION = 6,  /* protocol or channel id version */
    FERRY_ERR_BAD_PROOF = 7,    /* channel key proof does not verify */
    FERRY_ERR_EXPIRED = 8,      /* channel id past its expiry */
    FERRY_ERR_ROLE_TAKEN = 9,   /* this role of the channel is held */
    FERRY_ERR_HANDSHAKE_TIMEOUT = 10,
    FERRY_ERR_UNPAIRED_TIMEOUT = 11, /* the peer never came */
    FERRY_ERR_IDLE_TIMEOUT = 12,
    FERRY_ERR_LIMIT = 13,       /* connection or channel limit reached */
    FERRY_ERR_SHUTDOWN = 14,    /* relay is going down */
    FERRY_ERR_PEER_CLOSED = 15, /* the other end closed its connection */
    FERRY_ERR_CANCELLED = 16,   /* the other end cancelled */
    FERRY_ERR_INTEGRITY = 17,   /* AEAD tag or file hash mismatch */
    FERRY_ERR_UNEXPECTED = 18,  /* valid frame, wrong moment */
    FERRY_ERR_PEER_ERROR = 19,  /* the other end was closed for an error */
    FERRY_ERR_INTERNAL = 20,
    /* the component refused the channel after the offer was accepted
     * (a cancel reason; XEP draft, "Refusals after acceptance") */
    FERRY_ERR_QUOTA_EXCEEDED = 21, /* too many channels in use */
    FERRY_ERR_RATE_LIMITED = 22,   /* too many channel requests */
    FERRY_ERR_NO_RELAY = 23,       /* no relay available */
    FERRY_ERR_REFUSED = 24,        /* any other refusal */
    /* fan-out channels */
    FERRY_ERR_TOO_SLOW = 25, /* a leg fell behind the lag limit, dropped */
    FERRY_ERR_TOO_LATE = 26, /* joined after data began, or answered late */
    FERRY_ERR_WIRE_MAX = 99,
    /* local only */
    FERRY_ERR_NEED_MORE = 100, /* decoder: input incomplete, not an error */
    FERRY_ERR_NOMEM = 101,
    FERRY_ERR_IO = 102,       /* see errno */
    FERRY_ERR_CRYPTO = 103,   /* OpenSSL failure */
    FERRY_ERR_NO_SPACE = 104, /* buffer at its maximum size */
    FERRY_ERR_NOT_AUTHORIZED = 105,
    FERRY_ERR_POLICY = 106,
    FERRY_ERR_QUOTA = 107,
    FERRY_ERR_REJECTED = 108,
    FERRY_ERR_BAD_REQUEST = 109,
    FERRY_ERR_TIMEOUT = 110,
    FERRY_ERR_CONFIG = 111,
    FERRY_ERR_XMPP = 112,
    FERRY_ERR_UNKNOWN_CHANNEL = 113, /* release: no such channel in use */
};

/* Text for a code; never NULL (unknown codes give "unknown error"). */
const char *ferry_strerror(int code);

/* Short token for logs and XML, e.g. "bad-proof"; never NULL. */
const char *ferry_errname(int code);

/* Code for a token from ferry_errname(), or -1. */
int ferry_errcode(const char *name);

/* RFC 6120 stanza error condition and type ("modify", "auth", "cancel",
 * "wait") that best carry this code. Never NULL. */
const char *ferry_err_condition(int code);
const char *ferry_err_type(int code);

/* 1 when the code may be sent in a frame. */
int ferry_err_is_wire(int code);

#endif
