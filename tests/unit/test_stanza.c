#include <check.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "frame.h"
#include "stanza.h"

static xmpp_ctx_t *ctx;

static void setup(void)
{
    ctx = xmpp_ctx_new(NULL, NULL);
}

static void teardown(void)
{
    xmpp_ctx_free(ctx);
}

#define KEY "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="
#define OFFER                                                                  \
    "<offer xmlns='urn:xmpp:ferry:0' sid='Zx3v9QkTn2WbL7aP' name='a.jpg' "     \
    "size='2359296' media-type='image/jpeg' chunk-size='65536' key='" KEY      \
    "' requester='receiver'/>"

/* Parses OFFER with attribute `attr` replaced by `value` (NULL: removed). */
static int offer_with(const char *attr, const char *value, const char **bad)
{
    char xml[1024], *p, *q;
    struct ferry_offer o;
    xmpp_stanza_t *s;
    int r;

    snprintf(xml, sizeof(xml), "%s", OFFER);
    if (attr != NULL) {
        char pat[64];
        snprintf(pat, sizeof(pat), " %s='", attr);
        p = strstr(xml, pat);
        ck_assert_ptr_nonnull(p);
        q = strchr(p + strlen(pat), '\'') + 1;
        if (value != NULL) {
            char rest[1024];
            snprintf(rest, sizeof(rest), "%s", q);
            snprintf(p, sizeof(xml) - (size_t)(p - xml), " %s='%s'%s", attr,
                     value, rest);
        } else
            memmove(p, q, strlen(q) + 1);
    }
    s = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_ptr_nonnull(s);
    *bad = NULL;
    r = ferry_offer_parse(s, &o, bad);
    xmpp_stanza_release(s);
    return r;
}

START_TEST(valid_offer_parses_every_field)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, OFFER);
    struct ferry_offer o;
    const char *bad = NULL;

    ck_assert_int_eq(ferry_offer_parse(s, &o, &bad), FERRY_OK);
    ck_assert_str_eq(o.sid, "Zx3v9QkTn2WbL7aP");
    ck_assert_str_eq(o.name, "a.jpg");
    ck_assert(o.size == 2359296);
    ck_assert_uint_eq(o.chunk_size, 65536);
    ck_assert_int_eq(o.requester, ROLE_RECEIVER);
    ck_assert_uint_eq(o.key[0], 0x85);
    ck_assert_int_eq(o.has_sha256, 0);
    xmpp_stanza_release(s);
}
END_TEST

START_TEST(offer_round_trips_through_builder)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, OFFER), *b;
    struct ferry_offer o, o2;
    const char *bad;

    ferry_offer_parse(s, &o, &bad);
    b = ferry_offer_build(ctx, &o);
    ck_assert_int_eq(ferry_offer_parse(b, &o2, &bad), FERRY_OK);
    ck_assert_int_eq(memcmp(&o, &o2, sizeof(o)), 0);
    xmpp_stanza_release(s);
    xmpp_stanza_release(b);
}
END_TEST

START_TEST(every_bad_offer_attribute_is_named)
{
    static const char *cases[][2] = {
        {"sid", "bad sid"},
        {"sid", ""},
        {"name", "../etc/passwd"},
        {"name", ".."},
        {"name", "a\\b"},
        {"name", ""},
        {"name", "invoice\xe2\x80\xaegpj.exe"}, /* U+202E override */
        {"name", "a\xe2\x81\xa6"
                 "b"}, /* U+2066 isolate */
        {"name", "a\xc2\x9b"
                 "2J"}, /* U+009B, a CSI */
        {"size", "-1"},
        {"size", "9223372036854775808"},
        {"size", "9223372036854775807"}, /* a stream's mark, not a size */
        {"size", "01"},
        {"media-type", "image"},
        {"media-type", "a/b/c"},
        {"chunk-size", "1023"},
        {"chunk-size", "1048577"},
        {"key", "AAAA"},
        {"key", "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm=="},
        {"requester", "boss"},
    };
    const char *bad;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(offer_with(cases[i][0], cases[i][1], &bad) ==
                          FERRY_ERR_BAD_REQUEST,
                      "%s='%s' accepted", cases[i][0], cases[i][1]);
        ck_assert_str_eq(bad, cases[i][0]);
    }
}
END_TEST

START_TEST(missing_offer_attributes_are_named)
{
    static const char *attrs[] = {"sid",        "name", "media-type",
                                  "chunk-size", "key",  "requester"};
    const char *bad;
    size_t i;

    for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
        ck_assert_int_eq(offer_with(attrs[i], NULL, &bad),
                         FERRY_ERR_BAD_REQUEST);
        ck_assert_str_eq(bad, attrs[i]);
    }
}
END_TEST

/* An offer without size is a stream: it parses with FERRY_SIZE_STREAM,
 * builds back without size, and may not name a digest. */
START_TEST(offer_without_size_is_a_stream)
{
    char xml[1024];
    struct ferry_offer o, o2;
    xmpp_stanza_t *s, *b;
    const char *bad;

    ck_assert_int_eq(offer_with("size", NULL, &bad), FERRY_OK);
    snprintf(xml, sizeof(xml),
             "<offer xmlns='urn:xmpp:ferry:0' sid='live-1' name='cam.webm' "
             "media-type='video/webm' chunk-size='16384' key='" KEY
             "' requester='receiver'/>");
    s = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_int_eq(ferry_offer_parse(s, &o, &bad), FERRY_OK);
    ck_assert(o.size == FERRY_SIZE_STREAM);
    b = ferry_offer_build(ctx, &o);
    ck_assert_ptr_null(xmpp_stanza_get_attribute(b, "size"));
    ck_assert_int_eq(ferry_offer_parse(b, &o2, &bad), FERRY_OK);
    ck_assert_int_eq(memcmp(&o, &o2, sizeof(o)), 0);
    xmpp_stanza_set_attribute(
        s, "sha256",
        "0000000000000000000000000000000000000000000000000000000000000000");
    ck_assert_int_eq(ferry_offer_parse(s, &o, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "sha256");
    xmpp_stanza_release(s);
    xmpp_stanza_release(b);
}
END_TEST

START_TEST(channel_expiry_must_match_the_id)
{
    struct ferry_channel c, c2;
    xmpp_stanza_t *b;
    const char *bad;

    memset(&c, 0, sizeof(c));
    strcpy(c.sid, "s1");
    c.id[4 + 7] = 100; /* expiry 100 */
    strcpy(c.host, "relay.example");
    c.port = 5290;
    c.expires = 100;
    b = ferry_channel_build(ctx, &c);
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_OK);
    ck_assert_int_eq(memcmp(&c, &c2, sizeof(c)), 0);
    xmpp_stanza_set_attribute(b, "expires", "1970-01-01T00:02:00Z");
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "expires");
    xmpp_stanza_set_attribute(b, "expires", "1970-01-01T00:01:40Z");
    xmpp_stanza_set_attribute(b, "port", "0");
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "port");
    xmpp_stanza_set_attribute(b, "port", "5290");
    xmpp_stanza_set_attribute(b, "id", "ABCD");
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "id");
    xmpp_stanza_release(b);
}
END_TEST

/* XEP "Ciphers": the offer's list, the accept's and the channel's choice;
 * absent means aes-256-gcm (0.5 peers), unknown names are skipped. */
START_TEST(ciphers_in_offer_accept_and_channel)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(ctx, OFFER), *b;
    struct ferry_offer o;
    struct ferry_accept a, a2;
    struct ferry_channel c, c2;
    const char *bad;

    ck_assert_int_eq(ferry_offer_parse(s, &o, &bad), FERRY_OK);
    ck_assert_uint_eq(o.nciphers, 1);
    ck_assert_int_eq(o.ciphers[0], FERRY_CIPHER_AES256GCM);
    xmpp_stanza_set_attribute(s, "ciphers",
                              "aegis-256 chacha20-poly1305 aes-256-gcm");
    ck_assert_int_eq(ferry_offer_parse(s, &o, &bad), FERRY_OK);
    ck_assert_uint_eq(o.nciphers, 2);
    ck_assert_int_eq(o.ciphers[0], FERRY_CIPHER_CHACHA20POLY1305);
    ck_assert_int_eq(o.ciphers[1], FERRY_CIPHER_AES256GCM);
    b = ferry_offer_build(ctx, &o);
    ck_assert_str_eq(xmpp_stanza_get_attribute(b, "ciphers"),
                     "chacha20-poly1305 aes-256-gcm");
    xmpp_stanza_release(b);
    /* None known here: parses, for the receiver to decline. */
    xmpp_stanza_set_attribute(s, "ciphers", "aegis-256");
    ck_assert_int_eq(ferry_offer_parse(s, &o, &bad), FERRY_OK);
    ck_assert_uint_eq(o.nciphers, 0);
    xmpp_stanza_set_attribute(s, "ciphers", "");
    ck_assert_int_eq(ferry_offer_parse(s, &o, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "ciphers");
    xmpp_stanza_set_attribute(s, "ciphers", "aes-256-gcm\x01");
    ck_assert_int_eq(ferry_offer_parse(s, &o, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "ciphers");
    xmpp_stanza_release(s);

    memset(&a, 0, sizeof(a));
    strcpy(a.sid, "s1");
    a.key[0] = 9;
    a.cipher = FERRY_CIPHER_CHACHA20POLY1305;
    b = ferry_accept_build(ctx, &a);
    ck_assert_str_eq(xmpp_stanza_get_attribute(b, "cipher"),
                     "chacha20-poly1305");
    ck_assert_int_eq(ferry_accept_parse(b, &a2, &bad), FERRY_OK);
    ck_assert_int_eq(memcmp(&a, &a2, sizeof(a)), 0);
    xmpp_stanza_set_attribute(b, "cipher", "aegis-256");
    ck_assert_int_eq(ferry_accept_parse(b, &a2, &bad), FERRY_OK);
    ck_assert_int_eq(a2.cipher, -1);
    xmpp_stanza_set_attribute(b, "cipher", "aes-256-gcm chacha20-poly1305");
    ck_assert_int_eq(ferry_accept_parse(b, &a2, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "cipher");
    xmpp_stanza_del_attribute(b, "cipher");
    ck_assert_int_eq(ferry_accept_parse(b, &a2, &bad), FERRY_OK);
    ck_assert_int_eq(a2.cipher, FERRY_CIPHER_AES256GCM);
    xmpp_stanza_release(b);

    memset(&c, 0, sizeof(c));
    strcpy(c.sid, "s1");
    c.id[1] = 2; /* two slots */
    c.id[4 + 7] = 100;
    strcpy(c.host, "relay.example");
    c.port = 5290;
    c.expires = 100;
    c.slots = 2;
    c.has_slot = 1;
    c.slot = 1;
    b = ferry_channel_build(ctx, &c);
    ck_assert_ptr_null(xmpp_stanza_get_attribute(b, "cipher"));
    xmpp_stanza_release(b);
    c.cipher = FERRY_CIPHER_CHACHA20POLY1305;
    b = ferry_channel_build(ctx, &c);
    ck_assert_str_eq(xmpp_stanza_get_attribute(b, "cipher"),
                     "chacha20-poly1305");
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_OK);
    ck_assert_int_eq(memcmp(&c, &c2, sizeof(c)), 0);
    xmpp_stanza_set_attribute(b, "cipher", "rot13");
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_OK);
    ck_assert_int_eq(c2.cipher, -1);
    xmpp_stanza_release(b);
}
END_TEST

START_TEST(request_validation)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(
        ctx, "<request xmlns='urn:xmpp:ferry:0' sid='a' peer='b@c/d' "
             "role='sender' size='1' deliver='true'/>");
    struct ferry_request r;
    xmpp_stanza_t *b;
    const char *bad;

    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_OK);
    ck_assert_int_eq(r.deliver, 1);
    ck_assert_int_eq(r.role, ROLE_SENDER);
    ck_assert(r.size == 1);
    /* A stream's request has no size; the builder leaves it out. */
    xmpp_stanza_del_attribute(s, "size");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_OK);
    ck_assert(r.size == FERRY_SIZE_STREAM);
    b = ferry_request_build(ctx, &r);
    ck_assert_ptr_null(xmpp_stanza_get_attribute(b, "size"));
    xmpp_stanza_release(b);
    xmpp_stanza_set_attribute(s, "size", "9223372036854775807");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "size");
    xmpp_stanza_set_attribute(s, "size", "1");
    xmpp_stanza_set_attribute(s, "peer", "b@c d");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "peer");
    /* No peer: refused, unless a fan-out request (slots) names legs. */
    xmpp_stanza_del_attribute(s, "peer");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "peer");
    xmpp_stanza_release(s);
    s = xmpp_stanza_new_from_string(
        ctx, "<request xmlns='urn:xmpp:ferry:0' sid='a' role='sender' "
             "slots='2'><leg jid='b@c/d'/><leg jid='e@f/g'/></request>");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_OK);
    ck_assert_str_eq(r.peer, "");
    /* With slots a bad peer is still a bad peer. */
    xmpp_stanza_set_attribute(s, "peer", "b@c d");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "peer");
    xmpp_stanza_release(s);
}
END_TEST

/* Fan-out (XEP "Fan-out"): a request names its slots and one <leg/> per
 * slot, the peer among them; channel information carries slots equal to
 * the id's slots byte, and a slot below it. */
START_TEST(fan_out_request_and_channel)
{
    xmpp_stanza_t *s = xmpp_stanza_new_from_string(
        ctx, "<request xmlns='urn:xmpp:ferry:0' sid='a' peer='b@c/d' "
             "role='sender' size='1' slots='2'><leg jid='b@c/d'/>"
             "<leg jid='e@f/g'/></request>");
    struct ferry_request r, r2;
    struct ferry_channel c, c2;
    xmpp_stanza_t *b, *leg;
    const char *bad;

    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_OK);
    ck_assert_uint_eq(r.slots, 2);
    ck_assert_str_eq(r.legs[1], "e@f/g");
    b = ferry_request_build(ctx, &r);
    ck_assert_int_eq(ferry_request_parse(b, &r2, &bad), FERRY_OK);
    ck_assert_uint_eq(r2.slots, 2);
    ck_assert_str_eq(r2.legs[0], "b@c/d");
    xmpp_stanza_release(b);
    /* more legs than slots, a bare leg, the peer not a leg, deliver */
    xmpp_stanza_set_attribute(s, "slots", "1");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "slots");
    xmpp_stanza_set_attribute(s, "slots", "3");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "slots");
    xmpp_stanza_set_attribute(s, "slots", "65");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "slots");
    xmpp_stanza_set_attribute(s, "slots", "2");
    leg = xmpp_stanza_get_children(s);
    xmpp_stanza_set_attribute(leg, "jid", "b@c");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "jid");
    xmpp_stanza_set_attribute(leg, "jid", "e@f/g"); /* twice */
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "jid");
    xmpp_stanza_set_attribute(leg, "jid", "x@c/d");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "peer");
    xmpp_stanza_set_attribute(leg, "jid", "b@c/d");
    xmpp_stanza_set_attribute(s, "deliver", "true");
    ck_assert_int_eq(ferry_request_parse(s, &r, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "deliver");
    xmpp_stanza_release(s);

    memset(&c, 0, sizeof(c));
    strcpy(c.sid, "s1");
    c.id[1] = 3;
    c.id[4 + 7] = 100;
    strcpy(c.host, "relay.example");
    c.port = 5290;
    c.expires = 100;
    c.slots = 3;
    c.has_slot = 1;
    c.slot = 2;
    b = ferry_channel_build(ctx, &c);
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_OK);
    ck_assert_int_eq(memcmp(&c, &c2, sizeof(c)), 0);
    xmpp_stanza_set_attribute(b, "slot", "3");
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "slot");
    xmpp_stanza_set_attribute(b, "slot", "0");
    xmpp_stanza_set_attribute(b, "slots", "2"); /* not the id's */
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "slots");
    xmpp_stanza_del_attribute(b, "slots");
    ck_assert_int_eq(ferry_channel_parse(b, &c2, &bad), FERRY_ERR_BAD_REQUEST);
    ck_assert_str_eq(bad, "slots");
    xmpp_stanza_release(b);
}
END_TEST

/* <release channel='...'/>: exactly 64 lower-case hex digits. */
static int release_of(const char *attrs, uint8_t id[32], const char **bad)
{
    char xml[512];
    xmpp_stanza_t *s;
    int r;

    snprintf(xml, sizeof(xml), "<release xmlns='urn:xmpp:ferry:0' %s/>",
             attrs);
    s = xmpp_stanza_new_from_string(ctx, xml);
    ck_assert_ptr_nonnull(s);
    *bad = NULL;
    r = ferry_release_parse(s, id, bad);
    xmpp_stanza_release(s);
    return r;
}

START_TEST(release_round_trips_and_rejects_garbage)
{
    static const char *garbage[] = {
        "",
        "channel=''",
        "channel='00'",
        "channel='00000000000000006955B9000102030405060708090A0B0C0D0E0F1011121314'",
        "channel='00000000000000006955b9000102030405060708090a0b0c0d0e0f101112131'",
        "channel='00000000000000006955b9000102030405060708090a0b0c0d0e0f10111213145'",
        "channel='00000000000000006955b9000102030405060708090a0b0c0d0e0f101112131g'",
        "channel=' 0000000000000006955b9000102030405060708090a0b0c0d0e0f1011121314'",
        "id='00000000000000006955b9000102030405060708090a0b0c0d0e0f1011121314'",
    };
    uint8_t id[32], back[32];
    const char *bad;
    xmpp_stanza_t *el;
    char *text;
    size_t len, i;

    for (i = 0; i < 32; i++)
        id[i] = (uint8_t)(i * 37 + 1);
    el = ferry_release_build(ctx, id);
    ck_assert_str_eq(xmpp_stanza_get_name(el), "release");
    ck_assert_str_eq(xmpp_stanza_get_ns(el), FERRY_NS);
    ck_assert_int_eq(ferry_release_parse(el, back, &bad), FERRY_OK);
    ck_assert_mem_eq(id, back, 32);
    ck_assert_int_eq(xmpp_stanza_to_text(el, &text, &len), XMPP_EOK);
    ck_assert_ptr_nonnull(strstr(text, "channel=\"0126"));
    xmpp_free(ctx, text);
    xmpp_stanza_release(el);
    for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        memset(back, 0x55, sizeof(back));
        ck_assert_int_eq(release_of(garbage[i], back, &bad),
                         FERRY_ERR_BAD_REQUEST);
        ck_assert_str_eq(bad, "channel");
    }
}
END_TEST

START_TEST(jid_and_time_helpers)
{
    uint64_t t;
    char out[21];

    ck_assert(ferry_valid_jid("a@b/c"));
    ck_assert(ferry_valid_jid("b"));
    ck_assert(!ferry_valid_jid("@b"));
    ck_assert(!ferry_valid_jid("a@/c"));
    ck_assert(!ferry_valid_jid("a@b/"));
    ck_assert(!ferry_valid_jid(""));
    ck_assert(ferry_jid_is_full("a@b/c"));
    ck_assert(!ferry_jid_is_full("a@b"));
    ck_assert_int_eq(ferry_time_parse("2026-01-01T00:00:00Z", &t), FERRY_OK);
    ck_assert(t == 1767225600ULL);
    ferry_time_format(t, out);
    ck_assert_str_eq(out, "2026-01-01T00:00:00Z");
    ck_assert_int_eq(ferry_time_parse("2026-13-01T00:00:00Z", &t),
                     FERRY_ERR_BAD_VALUE);
    ck_assert_int_eq(ferry_time_parse("2026-01-01 00:00:00", &t),
                     FERRY_ERR_BAD_VALUE);
    /* Only the canonical form: no rolled-over dates, no second 60, no
     * sign or space where a digit belongs. */
    {
        static const char *bad[] = {
            "2026-02-31T00:00:00Z", "2026-01-01T00:00:60Z",
            "2026-01-01T+1:00:00Z", "2026-01-01T 1:00:00Z",
            "2026-1-01T00:00:00ZZ"};
        size_t i;
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            ck_assert_msg(ferry_time_parse(bad[i], &t) == FERRY_ERR_BAD_VALUE,
                          "%s accepted", bad[i]);
    }
}
END_TEST

START_TEST(error_reply_carries_conditions_and_from)
{
    xmpp_stanza_t *req = xmpp_stanza_new_from_string(
        ctx, "<iq type='set' id='x1' from='a@b/c' to='ferry.b'/>");
    xmpp_stanza_t *e = ferry_error_reply(ctx, req, FERRY_ERR_QUOTA,
                                         "quota-exceeded", NULL, "limit 8");
    xmpp_stanza_t *err = xmpp_stanza_get_child_by_name(e, "error");

    ck_assert_str_eq(xmpp_stanza_get_from(e), "ferry.b");
    ck_assert_str_eq(xmpp_stanza_get_to(e), "a@b/c");
    ck_assert_str_eq(xmpp_stanza_get_id(e), "x1");
    ck_assert_str_eq(xmpp_stanza_get_type(err), "wait");
    ck_assert_ptr_nonnull(xmpp_stanza_get_child_by_name_and_ns(
        err, "resource-constraint", FERRY_NS_STANZAS));
    ck_assert_ptr_nonnull(
        xmpp_stanza_get_child_by_name_and_ns(err, "quota-exceeded", FERRY_NS));
    xmpp_stanza_release(req);
    xmpp_stanza_release(e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("stanza");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, valid_offer_parses_every_field);
    tcase_add_test(tc, offer_round_trips_through_builder);
    tcase_add_test(tc, every_bad_offer_attribute_is_named);
    tcase_add_test(tc, missing_offer_attributes_are_named);
    tcase_add_test(tc, channel_expiry_must_match_the_id);
    tcase_add_test(tc, ciphers_in_offer_accept_and_channel);
    tcase_add_test(tc, request_validation);
    tcase_add_test(tc, offer_without_size_is_a_stream);
    tcase_add_test(tc, jid_and_time_helpers);
    tcase_add_test(tc, release_round_trips_and_rejects_garbage);
    tcase_add_test(tc, fan_out_request_and_channel);
    tcase_add_test(tc, error_reply_carries_conditions_and_from);
    suite_add_tcase(s, tc);
    return s;
}

#include "runner.h"
