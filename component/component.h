/* ferry-component internals (not installed). */
#ifndef FERRY_COMPONENT_H
#define FERRY_COMPONENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <glib.h>
#include <strophe.h>

#include "conf.h"

struct comp_conf {
    char *server;
    int64_t port;
    char *jid;
    char *secret_file;
    char *relay_secret_file;
    char **relays;
    int64_t lifetime;
    char **allowed_domains;
    int64_t max_channels_per_jid;
    int64_t requests_per_minute;
    int64_t max_file_size;
    int64_t chunk_size_max;
    int64_t reconnect_max;
    int64_t health_interval;
    int64_t log_level;
};

extern const struct conf_opt comp_opts[];
extern const size_t comp_nopts;

struct relay_addr {
    char host[254];
    uint16_t port;
    int tls;
    unsigned weight;
    /* health (component/health.c): probed on its stats port when set */
    char stats_host[254];
    uint16_t stats_port;
    int up;         /* pick_relay() skips a relay whose last probe failed */
    int probe_fd;   /* -1 between probes */
    int probe_sent; /* request written, waiting for the status line */
    time_t probe_deadline, next_probe;
    char reply[16];
    size_t reply_len;
};

struct comp {
    struct comp_conf conf;
    xmpp_ctx_t *ctx;
    xmpp_conn_t *conn;
    char *secret; /* component password */
    uint8_t *relay_secret;
    size_t relay_secret_len;
    struct relay_addr *relays;
    size_t nrelays;
    unsigned total_weight;
    struct policy *policy;
    int connected;
    uint64_t served;
    uint64_t refused;
    uint64_t released;
};

/* component/policy.c: allow-list and per-bare-JID limits (XEP draft,
 * "Quotas"): channels in use, and a token bucket of requests. */
struct policy;
struct policy *policy_new(const struct comp_conf *conf);
void policy_free(struct policy *p);
/* FERRY_OK, FERRY_ERR_POLICY (domain), FERRY_ERR_RATE_LIMITED or
 * FERRY_ERR_QUOTA_EXCEEDED, with the Ferry condition in *cond and the text
 * for the requester in why ("16 channels in use; the oldest expires in
 * 42 s"). On FERRY_OK channel `id`, expiring at `expiry`, is in use by
 * from's bare JID until policy_release() or its expiry. */
int policy_check(struct policy *p, const char *from, uint64_t now,
                 const uint8_t id[32], uint64_t expiry, const char **cond,
                 char *why, size_t whylen);
/* Ends the use of channel `id` by from's bare JID. FERRY_OK, or
 * FERRY_ERR_UNKNOWN_CHANNEL when that JID has no such channel in use
 * (never had it, another JID has it, released, expired). Allocates
 * nothing. *left: that JID's channels still in use. */
int policy_release(struct policy *p, const char *from, const uint8_t id[32],
                   uint64_t now, size_t *left);
/* Channels in use by from's bare JID. */
size_t policy_in_use(struct policy *p, const char *from, uint64_t now);

/* Drops the records of JIDs with no channel in use and a full request
 * bucket (a fresh record is the same); returns how many are left. */
size_t policy_prune(struct policy *p, uint64_t now);

/* component/health.c: non-blocking probes of the relays' stats ports,
 * driven from the main loop; health_stop() closes probes in flight. */
void health_tick(struct comp *c, time_t now);
void health_stop(struct comp *c);

/* component/alloc.c: <request/> and <release/> */
int alloc_handle(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *req);
int release_handle(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *el);
int relays_parse(struct comp *c);

/* component/disco.c */
int disco_handle(struct comp *c, xmpp_stanza_t *iq, const char *ns);

void comp_send(struct comp *c, xmpp_stanza_t *s); /* sends and releases */

#endif
