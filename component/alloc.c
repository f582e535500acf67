#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chan.h"
#include "codec.h"
#include "component.h"
#include "crypto.h"
#include "err.h"
#include "frame.h"
#include "log.h"
#include "stanza.h"

/* "host:port" (or "[v6]:port") into host and port; -1 if malformed. */
static int parse_hostport(const char *s, char *host, size_t hostlen,
                          uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long p;
    size_t hl;

    if (colon == NULL || colon == s || (size_t)(colon - s) >= hostlen)
        return -1;
    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535)
        return -1;
    hl = (size_t)(colon - s);
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        if (hl == 2) /* "[]:port": no host at all */
            return -1;
        memcpy(host, s + 1, hl - 2);
        host[hl - 2] = '\0';
    } else {
        memcpy(host, s, hl);
        host[hl] = '\0';
    }
    *port = (uint16_t)p;
    return 0;
}

/* "host:port[,tls][,weight=N][,stats=host:port]" entries into c->relays. */
int relays_parse(struct comp *c)
{
    size_t n = 0, i;
    char **list = c->conf.relays;

    while (list && list[n])
        n++;
    if (n == 0) {
        log_warnx("no relays configured");
        return FERRY_ERR_CONFIG;
    }
    free(c->relays);
    c->relays = calloc(n, sizeof(*c->relays));
    c->nrelays = n;
    c->total_weight = 0;
    for (i = 0; i < n; i++) {
        struct relay_addr *r = &c->relays[i];
        char **parts = g_strsplit(list[i], ",", -1);
        size_t k;

        r->weight = 1;
        r->up = 1;
        r->probe_fd = -1;
        if (parse_hostport(parts[0], r->host, sizeof(r->host), &r->port) !=
            0) {
            log_warnx("relay %s: expected host:port", list[i]);
            g_strfreev(parts);
            return FERRY_ERR_CONFIG;
        }
        for (k = 1; parts[k]; k++) {
            if (strcmp(parts[k], "tls") == 0)
                r->tls = 1;
            else if (strncmp(parts[k], "weight=", 7) == 0 &&
                     atoi(parts[k] + 7) > 0 && atoi(parts[k] + 7) <= 1000000)
                /* Bounded, so that the sum of every weight fits 32 bits:
                 * an overflow would read as "no relay" forever. */
                r->weight = (unsigned)atoi(parts[k] + 7);
            else if (strncmp(parts[k], "stats=", 6) == 0 &&
                     parse_hostport(parts[k] + 6, r->stats_host,
                                    sizeof(r->stats_host),
                                    &r->stats_port) == 0)
                ;
            else {
                log_warnx("relay %s: unknown option %s", list[i], parts[k]);
                g_strfreev(parts);
                return FERRY_ERR_CONFIG;
            }
        }
        c->total_weight += r->weight;
        g_strfreev(parts);
    }
    return FERRY_OK;
}

/* A relay by weight among those whose last health probe passed; NULL when
 * none is up. */
static const struct relay_addr *pick_relay(struct comp *c)
{
    uint32_t x, total = 0;
    size_t i;

    for (i = 0; i < c->nrelays; i++)
        if (c->relays[i].up)
            total += c->relays[i].weight;
    if (total == 0)
        return NULL;
    ferry_random(&x, sizeof(x));
    x %= total;
    for (i = 0; i < c->nrelays; i++) {
        if (!c->relays[i].up)
            continue;
        if (x < c->relays[i].weight)
            return &c->relays[i];
        x -= c->relays[i].weight;
    }
    return NULL;
}

static int refuse(struct comp *c, xmpp_stanza_t *iq, int code, const char *cond,
                  const char *attr, const char *text)
{
    log_info("refused from=%s id=%s condition=%s ferry=%s%s%s text=\"%s\"",
             xmpp_stanza_get_from(iq) ? xmpp_stanza_get_from(iq) : "-",
             xmpp_stanza_get_id(iq) ? xmpp_stanza_get_id(iq) : "-",
             ferry_err_condition(code), cond ? cond : "-", attr ? " attr=" : "",
             attr ? attr : "", text);
    c->refused++;
    comp_send(c, ferry_error_reply(c->ctx, iq, code, cond, attr, text));
    return 1;
}

/* A channel request (XEP draft, "Channel request"): authenticate, check
 * policy, mint a channel, answer (and deliver to the peer if asked). */
int alloc_handle(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *el)
{
    const char *from = xmpp_stanza_get_from(iq), *bad = NULL, *cond = NULL;
    struct ferry_request rq;
    struct ferry_channel ch;
    xmpp_stanza_t *cel;
    const struct relay_addr *ra;
    xmpp_stanza_t *res, *msg;
    uint64_t now = (uint64_t)time(NULL);
    char why[160], text[200], *id;
    int rc;

    if (from == NULL || !ferry_valid_jid(from) || !ferry_jid_is_full(from))
        return refuse(c, iq, FERRY_ERR_NOT_AUTHORIZED, "not-full-jid", NULL,
                      "requests must come from a full JID");
    /* (A fan-out's slots and legs are checked there too.) */
    if (ferry_request_parse(el, &rq, &bad) != FERRY_OK) {
        snprintf(text, sizeof(text), "attribute %s: missing or invalid", bad);
        return refuse(c, iq, FERRY_ERR_BAD_REQUEST, "bad-attribute", bad, text);
    }
    if (rq.deliver && !ferry_jid_is_full(rq.peer))
        return refuse(c, iq, FERRY_ERR_BAD_REQUEST, "bad-attribute", "peer",
                      "attribute peer: delivery needs a full JID");
    if (c->conf.max_file_size > 0 &&
        rq.size > (uint64_t)c->conf.max_file_size) {
        snprintf(text, sizeof(text), "size %llu over the limit of %lld",
                 (unsigned long long)rq.size, (long long)c->conf.max_file_size);
        return refuse(c, iq, FERRY_ERR_TOO_LARGE, "too-large", NULL, text);
    }
    /* Before the policy counts the request against the requester. */
    if ((ra = pick_relay(c)) == NULL)
        return refuse(c, iq, FERRY_ERR_NO_RELAY, "no-relay", NULL,
                      "no relay is available; try again later");
    memset(&ch, 0, sizeof(ch));
    ch.expires = now + (uint64_t)c->conf.lifetime;
    if (chan_id_new_slots(ch.expires, rq.slots, ch.id) != FERRY_OK)
        return refuse(c, iq, FERRY_ERR_INTERNAL, NULL, NULL,
                      "cannot mint a channel");
    rc = policy_check(c->policy, from, now, ch.id, ch.expires, &cond, why,
                      sizeof(why));
    if (rc != FERRY_OK)
        return refuse(c, iq, rc, cond, NULL, why);
    strcpy(ch.sid, rq.sid);
    snprintf(ch.host, sizeof(ch.host), "%s", ra->host);
    ch.port = ra->port;
    ch.tls = ra->tls;
    if (chan_key(c->relay_secret, c->relay_secret_len, ch.id, ch.key) !=
        FERRY_OK) {
        size_t left;
        (void)policy_release(c->policy, from, ch.id, now, &left);
        return refuse(c, iq, FERRY_ERR_INTERNAL, NULL, NULL,
                      "cannot mint a channel");
    }
    if (rq.deliver) {
        id = xmpp_uuid_gen(c->ctx);
        msg = xmpp_message_new(c->ctx, NULL, rq.peer, id);
        xmpp_free(c->ctx, id);
        xmpp_stanza_set_from(msg, c->conf.jid);
        snprintf(ch.requester, sizeof(ch.requester), "%s", from);
        xmpp_stanza_add_child_ex(msg, ferry_channel_build(c->ctx, &ch), 0);
        {
            xmpp_stanza_t *hint = xmpp_stanza_new(c->ctx);
            xmpp_stanza_set_name(hint, "no-store");
            xmpp_stanza_set_ns(hint, "urn:xmpp:hints");
            xmpp_stanza_add_child_ex(msg, hint, 0);
        }
        comp_send(c, msg);
        ch.requester[0] = '\0';
    }
    res = ferry_reply(c->ctx, iq, "result");
    cel = ferry_channel_build(c->ctx, &ch);
    if (rq.slots > 0) {
        char sl[12];
        snprintf(sl, sizeof(sl), "%u", rq.slots);
        xmpp_stanza_set_attribute(cel, "slots", sl);
    }
    xmpp_stanza_add_child_ex(res, cel, 0);
    comp_send(c, res);
    ferry_wipe(ch.key, sizeof(ch.key));
    c->served++;
    log_info("channel allocated from=%s peer=%s role=%s sid=%s relay=%s:%u "
             "deliver=%d slots=%u in_use=%zu",
             from, rq.peer[0] ? rq.peer : "-",
             rq.role == ROLE_SENDER ? "sender" : "receiver", rq.sid, ra->host,
             ra->port, rq.deliver, rq.slots,
             policy_in_use(c->policy, from, now));
    return 1;
}

/* A release (XEP draft, "Releasing a channel"): the channel stops counting
 * against the requester's quota. Only the bare JID that obtained it may
 * release it; any other release, of an unknown, expired or someone else's
 * channel alike, is item-not-found, and creates no state. */
int release_handle(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *el)
{
    const char *from = xmpp_stanza_get_from(iq), *bad = NULL;
    uint64_t now = (uint64_t)time(NULL);
    uint8_t id[32];
    char hx[65];
    size_t left;
    int rc;

    if (from == NULL || !ferry_valid_jid(from) || !ferry_jid_is_full(from))
        return refuse(c, iq, FERRY_ERR_NOT_AUTHORIZED, "not-full-jid", NULL,
                      "releases must come from a full JID");
    if (ferry_release_parse(el, id, &bad) != FERRY_OK)
        return refuse(c, iq, FERRY_ERR_BAD_REQUEST, "bad-attribute", bad,
                      "attribute channel: 64 lower-case hex digits expected");
    hex_encode(id, 8, hx);
    rc = policy_release(c->policy, from, id, now, &left);
    if (rc != FERRY_OK) {
        log_debug("release refused from=%s channel=%s... in_use=%zu", from, hx,
                  left);
        c->refused++;
        comp_send(c, ferry_error_reply(c->ctx, iq, rc, "unknown-channel", NULL,
                                       "no channel of yours with this id is "
                                       "in use"));
        return 1;
    }
    c->released++;
    log_info("channel released from=%s channel=%s... in_use=%zu", from, hx,
             left);
    comp_send(c, ferry_reply(c->ctx, iq, "result"));
    return 1;
}
