#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component.h"
#include "err.h"

/* Per bare JID (XEP draft, "Quotas"):
 *  - the channels in use: handed out, and neither released by that bare
 *    JID nor expired (relays are stateless: a release or the expiry is all
 *    the component can know of a transfer's end);
 *  - a token bucket for requests: requests_per_minute tokens at most,
 *    refilled at requests_per_minute per 60 s, one taken per request. A
 *    100-photo album fits in a full bucket at any speed, and a longer run
 *    goes on at the refill rate. Tokens are kept in 1/60ths so the refill
 *    is exact in whole seconds. */
struct chan_use {
    uint8_t id[32];
    uint64_t expiry;
};

struct jid_use {
    uint64_t refilled; /* when tokens60 was last brought up to date */
    int64_t tokens60;  /* tokens * 60 */
    GArray *in_use;    /* struct chan_use */
};

/* Records per JID, whatever the limit: with max_channels_per_jid = 0 the
 * table still serves releases, and stays bounded. */
#define POLICY_TRACK_MAX 4096

struct policy {
    const struct comp_conf *conf;
    GHashTable *users;
};

static void use_free(gpointer p)
{
    struct jid_use *u = p;
    g_array_free(u->in_use, TRUE);
    free(u);
}

struct policy *policy_new(const struct comp_conf *conf)
{
    struct policy *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->conf = conf;
    p->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, use_free);
    return p;
}

void policy_free(struct policy *p)
{
    if (p == NULL)
        return;
    g_hash_table_destroy(p->users);
    free(p);
}

static int domain_allowed(const struct comp_conf *conf, const char *domain)
{
    size_t i;

    if (conf->allowed_domains == NULL || conf->allowed_domains[0] == NULL)
        return 1;
    for (i = 0; conf->allowed_domains[i] != NULL; i++)
        if (g_ascii_strcasecmp(conf->allowed_domains[i], domain) == 0)
            return 1;
    return 0;
}

/* The table key: the bare JID in lower case (servers stamp a normalised
 * from; this also folds the case of the domain). Caller frees. */
static char *bare_key(const char *from)
{
    return g_ascii_strdown(from, (gssize)strcspn(from, "/"));
}

static void drop_expired(struct jid_use *u, uint64_t now)
{
    guint i;

    for (i = 0; i < u->in_use->len;)
        if (g_array_index(u->in_use, struct chan_use, i).expiry < now)
            g_array_remove_index_fast(u->in_use, i);
        else
            i++;
}

static void refill(const struct comp_conf *conf, struct jid_use *u,
                   uint64_t now)
{
    int64_t cap = conf->requests_per_minute * 60;

    if (now > u->refilled) {
        uint64_t dt = now - u->refilled;
        /* dt * rpm can only overflow after centuries; cap it anyway. */
        if (dt > 60 || u->tokens60 + (int64_t)dt * conf->requests_per_minute >
                           cap)
            u->tokens60 = cap;
        else
            u->tokens60 += (int64_t)dt * conf->requests_per_minute;
    }
    u->refilled = now;
}

static uint64_t oldest_expiry(const struct jid_use *u)
{
    uint64_t e = UINT64_MAX;
    guint i;

    for (i = 0; i < u->in_use->len; i++)
        if (g_array_index(u->in_use, struct chan_use, i).expiry < e)
            e = g_array_index(u->in_use, struct chan_use, i).expiry;
    return e;
}

int policy_check(struct policy *p, const char *from, uint64_t now,
                 const uint8_t id[32], uint64_t expiry, const char **cond,
                 char *why, size_t whylen)
{
    const struct comp_conf *conf = p->conf;
    char *key = bare_key(from);
    const char *at = strchr(key, '@'), *domain = at ? at + 1 : key;
    struct jid_use *u;
    struct chan_use cu;

    if (!domain_allowed(conf, domain)) {
        *cond = "domain-not-allowed";
        snprintf(why, whylen, "domain %s may not use this service", domain);
        g_free(key);
        return FERRY_ERR_POLICY;
    }
    if ((u = g_hash_table_lookup(p->users, key)) == NULL) {
        u = calloc(1, sizeof(*u));
        u->in_use = g_array_new(FALSE, FALSE, sizeof(struct chan_use));
        u->refilled = now;
        u->tokens60 = conf->requests_per_minute * 60;
        g_hash_table_insert(p->users, key, u);
    } else
        g_free(key);
    drop_expired(u, now);
    /* Every request past the allow-list takes a token, refused ones too,
     * so a client that retries at once on quota-exceeded is slowed. */
    if (conf->requests_per_minute > 0) {
        refill(conf, u, now);
        if (u->tokens60 < 60) {
            int64_t wait = (60 - u->tokens60 + conf->requests_per_minute - 1) /
                           conf->requests_per_minute;
            *cond = "rate-limited";
            snprintf(why, whylen, "rate limit %lld/min; retry in %lld s",
                     (long long)conf->requests_per_minute,
                     (long long)(wait > 0 ? wait : 1));
            return FERRY_ERR_RATE_LIMITED;
        }
        u->tokens60 -= 60;
    }
    if (conf->max_channels_per_jid > 0 &&
        (int64_t)u->in_use->len >= conf->max_channels_per_jid) {
        uint64_t e = oldest_expiry(u);
        *cond = "quota-exceeded";
        snprintf(why, whylen, "%u channels in use; the oldest expires in %llu s",
                 u->in_use->len,
                 (unsigned long long)(e > now ? e - now : 0) + 1);
        return FERRY_ERR_QUOTA_EXCEEDED;
    }
    if (u->in_use->len >= POLICY_TRACK_MAX) {
        guint i, k = 0;
        for (i = 1; i < u->in_use->len; i++)
            if (g_array_index(u->in_use, struct chan_use, i).expiry <
                g_array_index(u->in_use, struct chan_use, k).expiry)
                k = i;
        g_array_remove_index_fast(u->in_use, k);
    }
    memcpy(cu.id, id, 32);
    cu.expiry = expiry;
    g_array_append_val(u->in_use, cu);
    return FERRY_OK;
}

int policy_release(struct policy *p, const char *from, const uint8_t id[32],
                   uint64_t now, size_t *left)
{
    char *key = bare_key(from);
    struct jid_use *u = g_hash_table_lookup(p->users, key);
    guint i;

    g_free(key);
    *left = 0;
    if (u == NULL)
        return FERRY_ERR_UNKNOWN_CHANNEL; /* nothing is created here */
    drop_expired(u, now);
    for (i = 0; i < u->in_use->len; i++)
        if (memcmp(g_array_index(u->in_use, struct chan_use, i).id, id, 32) ==
            0) {
            g_array_remove_index_fast(u->in_use, i);
            *left = u->in_use->len;
            return FERRY_OK;
        }
    *left = u->in_use->len;
    return FERRY_ERR_UNKNOWN_CHANNEL;
}

size_t policy_in_use(struct policy *p, const char *from, uint64_t now)
{
    char *key = bare_key(from);
    struct jid_use *u = g_hash_table_lookup(p->users, key);

    g_free(key);
    if (u == NULL)
        return 0;
    drop_expired(u, now);
    return u->in_use->len;
}

size_t policy_prune(struct policy *p, uint64_t now)
{
    GHashTableIter it;
    gpointer key, val;

    g_hash_table_iter_init(&it, p->users);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        struct jid_use *u = val;

        drop_expired(u, now);
        refill(p->conf, u, now);
        /* Nothing in use and a full bucket: a fresh record is the same. */
        if (u->in_use->len == 0 &&
            u->tokens60 >= p->conf->requests_per_minute * 60)
            g_hash_table_iter_remove(&it);
    }
    return g_hash_table_size(p->users);
}
