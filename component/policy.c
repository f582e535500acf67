#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "component.h"
#include "err.h"

/* Per bare JID: a one-minute request window and the expiries of the
 * channels handed out (a channel counts as open until its id expires:
 * the component keeps no other record of it). */
struct jid_use {
    uint64_t win_start;
    int64_t win_count;
    GArray *expiries; /* uint64_t */
};

struct policy {
    const struct comp_conf *conf;
    GHashTable *users;
};

static void use_free(gpointer p)
{
    struct jid_use *u = p;
    g_array_free(u->expiries, TRUE);
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

int policy_check(struct policy *p, const char *from, uint64_t now,
                 uint64_t expiry, const char **cond, char *why, size_t whylen)
{
    char *bare = g_strdup(from), *slash = strchr(bare, '/'), *at;
    const char *domain;
    struct jid_use *u;
    guint i;

    if (slash)
        *slash = '\0';
    at = strchr(bare, '@');
    domain = at ? at + 1 : bare;
    if (!domain_allowed(p->conf, domain)) {
        *cond = "domain-not-allowed";
        snprintf(why, whylen, "domain %s may not use this service", domain);
        g_free(bare);
        return FERRY_ERR_POLICY;
    }
    if ((u = g_hash_table_lookup(p->users, bare)) == NULL) {
        u = calloc(1, sizeof(*u));
        u->expiries = g_array_new(FALSE, FALSE, sizeof(uint64_t));
        g_hash_table_insert(p->users, g_strdup(bare), u);
    }
    g_free(bare);
    if (now - u->win_start >= 60) {
        u->win_start = now;
        u->win_count = 0;
    }
    for (i = 0; i < u->expiries->len;)
        if (g_array_index(u->expiries, uint64_t, i) < now)
            g_array_remove_index_fast(u->expiries, i);
        else
            i++;
    if (p->conf->requests_per_minute > 0 &&
        u->win_count >= p->conf->requests_per_minute) {
        *cond = "rate-limited";
        snprintf(why, whylen, "%lld requests this minute; limit is %lld",
                 (long long)u->win_count,
                 (long long)p->conf->requests_per_minute);
        return FERRY_ERR_QUOTA;
    }
    u->win_count++;
    if (p->conf->max_channels_per_jid > 0 &&
        (int64_t)u->expiries->len >= p->conf->max_channels_per_jid) {
        *cond = "quota-exceeded";
        snprintf(why, whylen, "%u channels open; limit is %lld",
                 u->expiries->len, (long long)p->conf->max_channels_per_jid);
        return FERRY_ERR_QUOTA;
    }
    g_array_append_val(u->expiries, expiry);
    return FERRY_OK;
}

size_t policy_prune(struct policy *p, uint64_t now)
{
    GHashTableIter it;
    gpointer key, val;

    g_hash_table_iter_init(&it, p->users);
    while (g_hash_table_iter_next(&it, &key, &val)) {
        struct jid_use *u = val;
        guint i, live = 0;

        for (i = 0; i < u->expiries->len; i++)
            if (g_array_index(u->expiries, uint64_t, i) >= now)
                live++;
        if (live == 0 && now - u->win_start >= 60)
            g_hash_table_iter_remove(&it);
    }
    return g_hash_table_size(p->users);
}
