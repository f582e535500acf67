#include <stdio.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "codec.h"
#include "err.h"
#include "frame.h"
#include "stanza.h"

int ferry_valid_sid(const char *s)
{
    size_t i, n;

    if (s == NULL || (n = strlen(s)) == 0 || n > 64)
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

int ferry_valid_jid(const char *s)
{
    const char *at, *slash, *dom;
    size_t i, n;

    if (s == NULL || (n = strlen(s)) == 0 || n > FERRY_JID_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return 0;
    slash = strchr(s, '/');
    at = strchr(s, '@');
    if (at != NULL && slash != NULL && at > slash)
        at = NULL; /* an '@' in the resource */
    dom = at ? at + 1 : s;
    if (at == s)
        return 0; /* empty local part */
    if (dom == (slash ? slash : s + n))
        return 0; /* empty domain */
    if (slash != NULL && slash[1] == '\0')
        return 0; /* empty resource */
    return 1;
}

int ferry_jid_same_bare(const char *a, const char *b)
{
    size_t la = strcspn(a, "/"), lb = strcspn(b, "/");

    return la == lb && g_ascii_strncasecmp(a, b, la) == 0;
}

int ferry_jid_is_full(const char *s)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    return slash != NULL && slash[1] != '\0';
}

void ferry_time_format(uint64_t t, char out[21])
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int ferry_time_parse(const char *s, uint64_t *t)
{
    struct tm tm;
    int n = 0;
    time_t v;

    memset(&tm, 0, sizeof(tm));
    if (s == NULL || strlen(s) != 20 ||
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 20)
        return FERRY_ERR_BAD_VALUE;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 ||
        tm.tm_year < 1970)
        return FERRY_ERR_BAD_VALUE;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    if ((v = timegm(&tm)) < 0)
        return FERRY_ERR_BAD_VALUE;
    /* Only the canonical form: sscanf also takes "T 1:" or "T+1:", and
     * timegm() rolls "02-31" or second 60 over. */
    {
        char back[21];
        ferry_time_format((uint64_t)v, back);
        if (strcmp(back, s) != 0)
            return FERRY_ERR_BAD_VALUE;
    }
    *t = (uint64_t)v;
    return FERRY_OK;
}

static int get_key(xmpp_stanza_t *el, const char *attr, uint8_t out[32])
{
    size_t n;
    const char *v = xmpp_stanza_get_attribute(el, attr);

    if (v == NULL || strlen(v) != 44 ||
        b64_decode(v, out, 32, &n) != FERRY_OK || n != 32)
        return FERRY_ERR_BAD_VALUE;
    return FERRY_OK;
}

static void set_key(xmpp_stanza_t *el, const char *attr, const uint8_t k[32])
{
    char b[45];

    b64_encode(k, 32, b);
    xmpp_stanza_set_attribute(el, attr, b);
}

static void set_u64(xmpp_stanza_t *el, const char *attr, uint64_t v)
{
    char b[24];

    snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
    xmpp_stanza_set_attribute(el, attr, b);
}

/* An offer's or request's size: decimal, or absent for a stream. */
static int get_size(xmpp_stanza_t *el, uint64_t *out)
{
    const char *v = xmpp_stanza_get_attribute(el, "size");

    if (v == NULL) {
        *out = FERRY_SIZE_STREAM;
        return FERRY_OK;
    }
    return parse_u64(v, FERRY_SIZE_STREAM - 1, out);
}

static int get_role(const char *v)
{
    if (v && strcmp(v, "sender") == 0)
        return ROLE_SENDER;
    if (v && strcmp(v, "receiver") == 0)
        return ROLE_RECEIVER;
    return 0;
}

static const char *role_str(int r)
{
    return r == ROLE_SENDER ? "sender" : "receiver";
}

/* "true" or "false" only, as the XEP's schema says (not xs:boolean's
 * "1" and "0": two implementations must read the same bytes alike). */
static int get_bool(const char *v, int def, int *out)
{
    if (v == NULL)
        *out = def;
    else if (strcmp(v, "true") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0)
        *out = 0;
    else
        return FERRY_ERR_BAD_VALUE;
    return FERRY_OK;
}

#define BAD(a)                                                                 \
    do {                                                                       \
        *bad = (a);                                                            \
        return FERRY_ERR_BAD_REQUEST;                                          \
    } while (0)

static xmpp_stanza_t *new_el(xmpp_ctx_t *ctx, const char *name)
{
    xmpp_stanza_t *el = xmpp_stanza_new(ctx);

    xmpp_stanza_set_name(el, name);
    xmpp_stanza_set_ns(el, FERRY_NS);
    return el;
}

/* A list of cipher names (ciphers) or one name (cipher): 1..CIPHERS_MAX
 * bytes of printable ASCII. */
#define CIPHERS_MAX 255
static int cipher_text_ok(const char *v)
{
    size_t i, n = v != NULL ? strlen(v) : 0;

    if (n == 0 || n > CIPHERS_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
            return 0;
    return 1;
}

/* cipher='name': FERRY_OK with the cipher (-1 unknown here; absent
 * FERRY_CIPHER_AES256GCM), or FERRY_ERR_BAD_REQUEST. */
static int get_cipher(xmpp_stanza_t *el, int *cipher)
{
    const char *v = xmpp_stanza_get_attribute(el, "cipher");

    *cipher = FERRY_CIPHER_AES256GCM;
    if (v == NULL)
        return FERRY_OK;
    if (!cipher_text_ok(v) || strchr(v, ' ') != NULL)
        return FERRY_ERR_BAD_REQUEST;
    *cipher = ferry_cipher_from_name(v, strlen(v));
    return FERRY_OK;
}

int ferry_channel_parse(xmpp_stanza_t *el, struct ferry_channel *c,
                        const char **bad)
{
    const char *v;
    uint64_t u;

    memset(c, 0, sizeof(*c));
    v = xmpp_stanza_get_attribute(el, "sid");
    if (!ferry_valid_sid(v))
        BAD("sid");
    strcpy(c->sid, v);
    if (hex_decode(xmpp_stanza_get_attribute(el, "id"), c->id, 32) != FERRY_OK)
        BAD("id");
    v = xmpp_stanza_get_attribute(el, "host");
    if (v == NULL || strlen(v) == 0 || strlen(v) > FERRY_HOST_MAX ||
        strpbrk(v, " \t\r\n/") != NULL)
        BAD("host");
    strcpy(c->host, v);
    if (parse_u64(xmpp_stanza_get_attribute(el, "port"), 65535, &u) !=
            FERRY_OK ||
        u == 0)
        BAD("port");
    c->port = (uint16_t)u;
    if (get_bool(xmpp_stanza_get_attribute(el, "tls"), -1, &c->tls) !=
            FERRY_OK ||
        c->tls < 0)
        BAD("tls");
    if (get_key(el, "key", c->key) != FERRY_OK)
        BAD("key");
    if (ferry_time_parse(xmpp_stanza_get_attribute(el, "expires"),
                         &c->expires) != FERRY_OK ||
        c->expires != be64_get(c->id + 4))
        BAD("expires");
    if ((v = xmpp_stanza_get_attribute(el, "requester")) != NULL) {
        if (!ferry_valid_jid(v) || !ferry_jid_is_full(v))
            BAD("requester");
        strcpy(c->requester, v);
    }
    if ((v = xmpp_stanza_get_attribute(el, "slots")) != NULL) {
        if (parse_u64(v, FERRY_FANOUT_MAX, &u) != FERRY_OK || u == 0 ||
            u != c->id[1])
            BAD("slots");
        c->slots = (unsigned)u;
    } else if (c->id[1] != 0)
        BAD("slots");
    if ((v = xmpp_stanza_get_attribute(el, "slot")) != NULL) {
        if (parse_u64(v, FERRY_FANOUT_MAX - 1, &u) != FERRY_OK ||
            u >= c->slots)
            BAD("slot");
        c->has_slot = 1;
        c->slot = (unsigned)u;
    }
    if (get_cipher(el, &c->cipher) != FERRY_OK)
        BAD("cipher");
    return FERRY_OK;
}

xmpp_stanza_t *ferry_channel_build(xmpp_ctx_t *ctx,
                                   const struct ferry_channel *c)
{
    xmpp_stanza_t *el = new_el(ctx, "channel");
    char hx[65], t[21];

    xmpp_stanza_set_attribute(el, "sid", c->sid);
    hex_encode(c->id, 32, hx);
    xmpp_stanza_set_attribute(el, "id", hx);
    xmpp_stanza_set_attribute(el, "host", c->host);
    set_u64(el, "port", c->port);
    xmpp_stanza_set_attribute(el, "tls", c->tls ? "true" : "false");
    set_key(el, "key", c->key);
    ferry_time_format(c->expires, t);
    xmpp_stanza_set_attribute(el, "expires", t);
    if (c->requester[0])
        xmpp_stanza_set_attribute(el, "requester", c->requester);
    if (c->slots > 0)
        set_u64(el, "slots", c->slots);
    if (c->has_slot)
        set_u64(el, "slot", c->slot);
    if (c->cipher != FERRY_CIPHER_AES256GCM && ferry_cipher_name(c->cipher))
        xmpp_stanza_set_attribute(el, "cipher", ferry_cipher_name(c->cipher));
    return el;
}

int ferry_request_parse(xmpp_stanza_t *el, struct ferry_request *r,
                        const char **bad)
{
    const char *v;
    xmpp_stanza_t *c;
    unsigned n = 0;
    int peer_listed = 0;
    uint64_t u;

    memset(r, 0, sizeof(*r));
    v = xmpp_stanza_get_attribute(el, "sid");
    if (!ferry_valid_sid(v))
        BAD("sid");
    strcpy(r->sid, v);
    v = xmpp_stanza_get_attribute(el, "peer");
    /* A fan-out request (slots='N') names its receivers in <leg/>: peer
     * may be left out (then r->peer is empty). */
    if (v == NULL && xmpp_stanza_get_attribute(el, "slots") != NULL)
        v = "";
    else if (!ferry_valid_jid(v))
        BAD("peer");
    strcpy(r->peer, v);
    if ((r->role = get_role(xmpp_stanza_get_attribute(el, "role"))) == 0)
        BAD("role");
    if (get_size(el, &r->size) != FERRY_OK)
        BAD("size");
    if (get_bool(xmpp_stanza_get_attribute(el, "deliver"), 0, &r->deliver) !=
        FERRY_OK)
        BAD("deliver");
    /* A fan-out (XEP "Fan-out"): slots='N' (1..64) and N <leg jid=''/>,
     * full JIDs, each once; only a sender asks, never with deliver, and
     * peer, when present, is one of the legs. */
    v = xmpp_stanza_get_attribute(el, "slots");
    for (c = xmpp_stanza_get_children(el); c; c = xmpp_stanza_get_next(c)) {
        const char *ns = xmpp_stanza_get_ns(c), *jid;
        unsigned j;
        if (!xmpp_stanza_is_tag(c) ||
            strcmp(xmpp_stanza_get_name(c), "leg") != 0 ||
            (ns != NULL && strcmp(ns, FERRY_NS) != 0))
            continue;
        if (v == NULL || n == FERRY_FANOUT_MAX)
            BAD("slots");
        jid = xmpp_stanza_get_attribute(c, "jid");
        if (!ferry_valid_jid(jid) || !ferry_jid_is_full(jid))
            BAD("jid");
        for (j = 0; j < n; j++)
            if (strcmp(r->legs[j], jid) == 0)
                BAD("jid");
        if (strcmp(jid, r->peer) == 0)
            peer_listed = 1;
        r->legs[n++] = jid;
    }
    if (v == NULL)
        return FERRY_OK;
    if (v[0] < '1' || v[0] > '9' || parse_u64(v, FERRY_FANOUT_MAX, &u) !=
                                        FERRY_OK ||
        u != n)
        BAD("slots");
    r->slots = (unsigned)u;
    if (r->role != ROLE_SENDER)
        BAD("role");
    if (r->deliver)
        BAD("deliver");
    if (r->peer[0] != '\0' && !peer_listed)
        BAD("peer");
    return FERRY_OK;
}

xmpp_stanza_t *ferry_request_build(xmpp_ctx_t *ctx,
                                   const struct ferry_request *r)
{
    xmpp_stanza_t *el = new_el(ctx, "request");

    xmpp_stanza_set_attribute(el, "sid", r->sid);
    if (r->peer[0] != '\0') /* a fan-out may leave it out */
        xmpp_stanza_set_attribute(el, "peer", r->peer);
    xmpp_stanza_set_attribute(el, "role", role_str(r->role));
    if (r->size != FERRY_SIZE_STREAM)
        set_u64(el, "size", r->size);
    if (r->deliver)
        xmpp_stanza_set_attribute(el, "deliver", "true");
    if (r->slots > 0) {
        unsigned i;
        set_u64(el, "slots", r->slots);
        for (i = 0; i < r->slots; i++) {
            xmpp_stanza_t *leg = xmpp_stanza_new(ctx);
            xmpp_stanza_set_name(leg, "leg");
            xmpp_stanza_set_attribute(leg, "jid", r->legs[i]);
            xmpp_stanza_add_child_ex(el, leg, 0);
        }
    }
    return el;
}

int ferry_release_parse(xmpp_stanza_t *el, uint8_t id[32], const char **bad)
{
    const char *v = xmpp_stanza_get_attribute(el, "channel");
    size_t i;

    memset(id, 0, 32);
    /* hex_decode() takes upper case too; the id is written in lower case
     * only (XEP draft, "channelId"), so one channel has one spelling. */
    if (v == NULL || strlen(v) != 64)
        BAD("channel");
    for (i = 0; i < 64; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
            BAD("channel");
    if (hex_decode(v, id, 32) != FERRY_OK)
        BAD("channel");
    return FERRY_OK;
}

xmpp_stanza_t *ferry_release_build(xmpp_ctx_t *ctx, const uint8_t id[32])
{
    xmpp_stanza_t *el = new_el(ctx, "release");
    char hx[65];

    hex_encode(id, 32, hx);
    xmpp_stanza_set_attribute(el, "channel", hx);
    return el;
}

int ferry_valid_name(const char *v)
{
    size_t i, n, chars = 0;
    const char *p;

    if (v == NULL || (n = strlen(v)) == 0 || n > FERRY_NAME_MAX * 4)
        return 0;
    if (!g_utf8_validate(v, (gssize)n, NULL))
        return 0;
    /* A relative path of components joined by '/': none empty, "." or
     * "..", so nothing leaves the receiver's directory. */
    for (p = v; p != NULL; p = strchr(p, '/') ? strchr(p, '/') + 1 : NULL) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.') ||
            (len == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            return 0;
        if ((c & 0xc0) != 0x80)
            chars++;
    }
    /* C1 controls (a terminal reads U+009B as CSI) and the bidi marks,
     * embeddings, overrides and isolates that make "exe.jpg" read as
     * "gpj.exe" are refused too. */
    for (p = v; *p; p = g_utf8_next_char(p)) {
        gunichar u = g_utf8_get_char(p);
        if ((u >= 0x80 && u <= 0x9f) || u == 0x200e || u == 0x200f ||
            (u >= 0x202a && u <= 0x202e) || (u >= 0x2066 && u <= 0x2069))
            return 0;
    }
    return chars <= FERRY_NAME_MAX;
}

int ferry_valid_media(const char *v)
{
    const char *slash;
    size_t i, n;

    if (v == NULL || (n = strlen(v)) < 3 || n > FERRY_MEDIA_MAX)
        return 0;
    if ((slash = strchr(v, '/')) == NULL || slash == v || slash[1] == '\0' ||
        strchr(slash + 1, '/') != NULL)
        return 0;
    for (i = 0; i < n; i++)
        if (v[i] != '/' && !strchr("!#$&-^_.+", v[i]) &&
            !((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
              (v[i] >= '0' && v[i] <= '9')))
            return 0;
    return 1;
}

int ferry_offer_parse(xmpp_stanza_t *el, struct ferry_offer *o,
                      const char **bad)
{
    const char *v;
    uint64_t u;

    memset(o, 0, sizeof(*o));
    v = xmpp_stanza_get_attribute(el, "sid");
    if (!ferry_valid_sid(v))
        BAD("sid");
    strcpy(o->sid, v);
    v = xmpp_stanza_get_attribute(el, "name");
    if (!ferry_valid_name(v))
        BAD("name");
    strcpy(o->name, v);
    if (get_size(el, &o->size) != FERRY_OK)
        BAD("size");
    v = xmpp_stanza_get_attribute(el, "media-type");
    if (!ferry_valid_media(v))
        BAD("media-type");
    strcpy(o->media_type, v);
    if (parse_u64(xmpp_stanza_get_attribute(el, "chunk-size"), FERRY_CHUNK_MAX,
                  &u) != FERRY_OK ||
        u < FERRY_CHUNK_MIN)
        BAD("chunk-size");
    o->chunk_size = (uint32_t)u;
    if (get_key(el, "key", o->key) != FERRY_OK)
        BAD("key");
    if ((o->requester = get_role(xmpp_stanza_get_attribute(el, "requester"))) ==
        0)
        BAD("requester");
    if ((v = xmpp_stanza_get_attribute(el, "sha256")) != NULL) {
        /* No digest can be known in advance for a stream. */
        if (o->size == FERRY_SIZE_STREAM ||
            hex_decode(v, o->sha256, 32) != FERRY_OK)
            BAD("sha256");
        o->has_sha256 = 1;
    }
    /* A fan-out's channel has one requester for all receivers: the
     * sender. */
    if (get_bool(xmpp_stanza_get_attribute(el, "fan-out"), 0, &o->fan_out) !=
            FERRY_OK ||
        (o->fan_out && o->requester != ROLE_SENDER))
        BAD("fan-out");
    /* Names unknown here are skipped (a later cipher); a list of them
     * only is for the receiver to decline, not a malformed offer. */
    if ((v = xmpp_stanza_get_attribute(el, "ciphers")) != NULL) {
        if (!cipher_text_ok(v))
            BAD("ciphers");
        o->nciphers = ferry_cipher_list(v, o->ciphers);
    } else {
        o->ciphers[0] = FERRY_CIPHER_AES256GCM;
        o->nciphers = 1;
    }
    return FERRY_OK;
}

xmpp_stanza_t *ferry_offer_build(xmpp_ctx_t *ctx, const struct ferry_offer *o)
{
    xmpp_stanza_t *el = new_el(ctx, "offer");
    char hx[65];

    xmpp_stanza_set_attribute(el, "sid", o->sid);
    xmpp_stanza_set_attribute(el, "name", o->name);
    if (o->size != FERRY_SIZE_STREAM)
        set_u64(el, "size", o->size);
    xmpp_stanza_set_attribute(el, "media-type", o->media_type);
    set_u64(el, "chunk-size", o->chunk_size);
    set_key(el, "key", o->key);
    xmpp_stanza_set_attribute(el, "requester", role_str(o->requester));
    if (o->has_sha256) {
        hex_encode(o->sha256, 32, hx);
        xmpp_stanza_set_attribute(el, "sha256", hx);
    }
    if (o->fan_out)
        xmpp_stanza_set_attribute(el, "fan-out", "true");
    if (o->nciphers > 0) {
        char list[64] = "";
        size_t i;
        for (i = 0; i < o->nciphers && i < FERRY_CIPHERS; i++)
            if (ferry_cipher_name(o->ciphers[i]) != NULL) {
                if (list[0])
                    g_strlcat(list, " ", sizeof(list));
                g_strlcat(list, ferry_cipher_name(o->ciphers[i]), sizeof(list));
            }
        xmpp_stanza_set_attribute(el, "ciphers", list);
    }
    return el;
}

int ferry_accept_parse(xmpp_stanza_t *el, struct ferry_accept *a,
                       const char **bad)
{
    const char *v;

    memset(a, 0, sizeof(*a));
    v = xmpp_stanza_get_attribute(el, "sid");
    if (!ferry_valid_sid(v))
        BAD("sid");
    strcpy(a->sid, v);
    if (get_key(el, "key", a->key) != FERRY_OK)
        BAD("key");
    if ((v = xmpp_stanza_get_attribute(el, "resume-from")) != NULL) {
        if (parse_u64(v, UINT64_MAX / 2, &a->resume_from) != FERRY_OK)
            BAD("resume-from");
        a->has_resume = 1;
    }
    if (get_cipher(el, &a->cipher) != FERRY_OK)
        BAD("cipher");
    return FERRY_OK;
}

xmpp_stanza_t *ferry_accept_build(xmpp_ctx_t *ctx, const struct ferry_accept *a)
{
    xmpp_stanza_t *el = new_el(ctx, "accept");

    xmpp_stanza_set_attribute(el, "sid", a->sid);
    set_key(el, "key", a->key);
    if (a->has_resume)
        set_u64(el, "resume-from", a->resume_from);
    if (ferry_cipher_name(a->cipher) != NULL)
        xmpp_stanza_set_attribute(el, "cipher", ferry_cipher_name(a->cipher));
    return el;
}

xmpp_stanza_t *ferry_reason_build(xmpp_ctx_t *ctx, const char *name,
                                  const char *sid, const char *reason,
                                  const char *text)
{
    xmpp_stanza_t *el = new_el(ctx, name), *t;

    xmpp_stanza_set_attribute(el, "sid", sid);
    xmpp_stanza_set_attribute(el, "reason", reason);
    if (text != NULL && text[0]) {
        t = xmpp_stanza_new(ctx);
        xmpp_stanza_set_text(t, text);
        xmpp_stanza_add_child_ex(el, t, 0);
    }
    return el;
}

xmpp_stanza_t *ferry_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *req,
                           const char *type)
{
    xmpp_stanza_t *s = xmpp_stanza_new(ctx);
    const char *v;

    xmpp_stanza_set_name(s, xmpp_stanza_get_name(req));
    if (type != NULL)
        xmpp_stanza_set_type(s, type);
    if ((v = xmpp_stanza_get_id(req)) != NULL)
        xmpp_stanza_set_id(s, v);
    if ((v = xmpp_stanza_get_from(req)) != NULL)
        xmpp_stanza_set_to(s, v);
    if ((v = xmpp_stanza_get_to(req)) != NULL)
        xmpp_stanza_set_from(s, v);
    return s;
}

xmpp_stanza_t *ferry_error_reply(xmpp_ctx_t *ctx, xmpp_stanza_t *req, int code,
                                 const char *ferry_cond, const char *attr,
                                 const char *text)
{
    xmpp_stanza_t *s = ferry_reply(ctx, req, "error");
    xmpp_stanza_t *err = xmpp_stanza_new(ctx), *c, *t, *tx;

    xmpp_stanza_set_name(err, "error");
    xmpp_stanza_set_type(err, ferry_err_type(code));
    c = xmpp_stanza_new(ctx);
    xmpp_stanza_set_name(c, ferry_err_condition(code));
    xmpp_stanza_set_ns(c, FERRY_NS_STANZAS);
    xmpp_stanza_add_child_ex(err, c, 0);
    if (text != NULL) {
        t = xmpp_stanza_new(ctx);
        xmpp_stanza_set_name(t, "text");
        xmpp_stanza_set_ns(t, FERRY_NS_STANZAS);
        tx = xmpp_stanza_new(ctx);
        xmpp_stanza_set_text(tx, text);
        xmpp_stanza_add_child_ex(t, tx, 0);
        xmpp_stanza_add_child_ex(err, t, 0);
    }
    if (ferry_cond != NULL) {
        c = new_el(ctx, ferry_cond);
        if (attr != NULL)
            xmpp_stanza_set_attribute(c, "name", attr);
        xmpp_stanza_add_child_ex(err, c, 0);
    }
    xmpp_stanza_add_child_ex(s, err, 0);
    return s;
}
