/* Ferry's stanzas (XEP draft, "Use Cases"): builders and strict parsers
 * shared by ferry-component and libferry. Parsers validate every
 * attribute (length, charset, decoded size, range); on failure they return
 * FERRY_ERR_BAD_REQUEST and name the offending attribute in *bad. */
#ifndef FERRY_STANZA_H
#define FERRY_STANZA_H

#include <stddef.h>
#include <stdint.h>

#include <strophe.h>

#include "chan.h"
#include "crypto.h"

#define FERRY_NS "urn:xmpp:ferry:0"
#define FERRY_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
#define FERRY_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define FERRY_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define FERRY_NS_PING "urn:xmpp:ping"
#define FERRY_NS_VERSION "jabber:iq:version"
#define FERRY_NS_DATA "jabber:x:data"

#define FERRY_JID_MAX 3071
#define FERRY_NAME_MAX 255
#define FERRY_MEDIA_MAX 127
#define FERRY_HOST_MAX 253
#define FERRY_SIZE_MAX 9223372036854775807ULL
/* A stream: an offer or request without size (XEP "Offering a file").
 * Real sizes are 0 to FERRY_SIZE_STREAM - 1. libferry's FERRY_SIZE_UNKNOWN
 * has this value. */
#define FERRY_SIZE_STREAM FERRY_SIZE_MAX

/* Most receivers one fan-out channel has (the slots byte of its id). */
#define FERRY_FANOUT_MAX FERRY_SLOTS_MAX

struct ferry_channel {
    char sid[65];
    uint8_t id[32];
    char host[FERRY_HOST_MAX + 1];
    uint16_t port;
    int tls;
    uint8_t key[32];
    uint64_t expires;                  /* Unix seconds */
    char requester[FERRY_JID_MAX + 1]; /* empty unless delivered */
    /* fan-out (XEP "Fan-out"): slots 0 = one-to-one. In the component's
     * answer slots = N; in the information a sender gives receiver i,
     * slots = N and slot = i, and key is that slot's key. */
    unsigned slots;
    int has_slot;
    unsigned slot;
    /* fan-out: the cipher of every leg (XEP "Ciphers"), attribute cipher;
     * absent: FERRY_CIPHER_AES256GCM; a name unknown here: -1. */
    int cipher;
};

struct ferry_request {
    char sid[65];
    char peer[FERRY_JID_MAX + 1]; /* empty: a fan-out request without peer */
    int role; /* ROLE_SENDER or ROLE_RECEIVER */
    uint64_t size;
    int deliver;
    /* fan-out: slots 1..FERRY_FANOUT_MAX receivers, each a <leg jid=''/>
     * (pointers into the parsed element, or the caller's strings for the
     * builder); slots 0: one-to-one, no legs. */
    unsigned slots;
    const char *legs[FERRY_FANOUT_MAX];
};

struct ferry_offer {
    char sid[65];
    char name[FERRY_NAME_MAX * 4 + 1]; /* UTF-8 */
    uint64_t size;
    char media_type[FERRY_MEDIA_MAX + 1];
    uint32_t chunk_size;
    uint8_t key[32];
    int requester; /* ROLE_SENDER or ROLE_RECEIVER */
    int has_sha256;
    uint8_t sha256[32];
    int fan_out; /* offered to several receivers: never resume-from */
    /* attribute ciphers (XEP "Ciphers"): the sender's, in its order of
     * preference, names unknown here left out; absent: aes-256-gcm alone.
     * nciphers 0: none known here. */
    int ciphers[FERRY_CIPHERS];
    size_t nciphers;
};

struct ferry_accept {
    char sid[65];
    uint8_t key[32];
    int has_resume;
    uint64_t resume_from;
    /* attribute cipher: the receiver's choice; absent:
     * FERRY_CIPHER_AES256GCM; a name unknown here: -1. */
    int cipher;
};

int ferry_valid_sid(const char *s);
/* A plausible JID: 1..3071 bytes, no whitespace or control characters,
 * a non-empty domain part. */
int ferry_valid_jid(const char *s);
/* An offered file name: 1..255 characters of valid UTF-8, no control
 * characters (C0 or C1), no bidi controls, no '\\'; a relative path of
 * '/'-separated components, none of them empty, "." or "..". */
int ferry_valid_name(const char *s);
/* A media type: type/subtype of token characters. */
int ferry_valid_media(const char *s);
/* 1 when a and b have the same bare JID (case-insensitive). */
int ferry_jid_same_bare(const char *a, const char *b);
/* 1 when s is a full JID (has a resource). */
int ferry_jid_is_full(const char *s);

int ferry_channel_parse(xmpp_stanza_t *el, struct ferry_channel *out,
                        const char **bad);
xmpp_stanza_t *ferry_channel_build(xmpp_ctx_t *ctx,
                                   const struct ferry_channel *c);
int ferry_request_parse(xmpp_stanza_t *el, struct ferry_request *out,
                        const char **bad);
xmpp_stanza_t *ferry_request_build(xmpp_ctx_t *ctx,
                                   const struct ferry_request *r);
int ferry_offer_parse(xmpp_stanza_t *el, struct ferry_offer *out,
                      const char **bad);
xmpp_stanza_t *ferry_offer_build(xmpp_ctx_t *ctx, const struct ferry_offer *o);
int ferry_accept_parse(xmpp_stanza_t *el, struct ferry_accept *out,
                       const char **bad);
xmpp_stanza_t *ferry_accept_build(xmpp_ctx_t *ctx,
                                  const struct ferry_accept *a);
/* <release channel='64 hex digits'/>: the requester tells the component
 * that the transfer on a channel it obtained has ended (XEP draft,
 * "Releasing a channel"). The parser takes exactly 64 lower-case hex
 * digits; anything else is bad-attribute "channel". */
int ferry_release_parse(xmpp_stanza_t *el, uint8_t id[32], const char **bad);
xmpp_stanza_t *ferry_release_build(xmpp_ctx_t *ctx, const uint8_t id[32]);
/* <reject/> and <cancel/>: reason token (and optional text for reject). */
xmpp_stanza_t *ferry_reason_build(xmpp_ctx_t *ctx, const char *name,
                                  const char *sid, const char *reason,
                                  const char *text);

/* An error reply to `req` (iq or message): to/from swapped, `from` always
 * set (ejabberd requires it), the RFC 6120 condition and type for `code`,
 * text, and a Ferry condition element (with name= when attr is set). */
xmpp_stanza_t *ferry_error_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *req, int code,
                                 const char *ferry_cond, const char *attr,
                                 const char *text);
/* A new stanza of `name` addressed back to req's sender, from req's
 * recipient, with req's id (iq result). */
xmpp_stanza_t *ferry_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *req,
                           const char *type);

/* Unix seconds <-> "YYYY-MM-DDThh:mm:ssZ". */
void ferry_time_format(uint64_t t, char out[21]);
int ferry_time_parse(const char *s, uint64_t *t);

#endif
