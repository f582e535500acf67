#include <stddef.h>

#include "component.h"

#define O(f) offsetof(struct comp_conf, f)

/* The one table of component settings. */
const struct conf_opt comp_opts[] = {
    {"component", "server", CONF_STR, "127.0.0.1", 0, 0, O(server),
     "XMPP server host for the XEP-0114 link (no TLS: keep it local)"},
    {"component", "port", CONF_INT, "5347", 1, 65535, O(port),
     "the server's component port"},
    {"component", "jid", CONF_STR, "ferry.localhost", 0, 0, O(jid),
     "the component's JID, as configured on the server"},
    {"component", "secret_file", CONF_STR, NULL, 0, 0, O(secret_file),
     "file holding the component password shared with the server"},
    {"component", "reconnect_max", CONF_INT, "30", 1, 3600, O(reconnect_max),
     "longest wait between reconnect attempts, seconds"},
    {"channels", "relay_secret_file", CONF_STR, NULL, 0, 0,
     O(relay_secret_file), "file holding the secret shared with the relays"},
    {"channels", "relays", CONF_STRLIST, "127.0.0.1:5290", 0, 0, O(relays),
     "relay pool: host:port[,tls][,weight=N][,stats=host:port] separated by ';'"},
    {"channels", "lifetime", CONF_INT, "300", 10, 86400, O(lifetime),
     "seconds a channel id stays valid"},
    {"channels", "chunk_size_max", CONF_INT, "262144", 1024, 1048576,
     O(chunk_size_max), "largest chunk the relays accept (announced)"},
    {"channels", "health_interval", CONF_INT, "10", 0, 3600,
     O(health_interval),
     "seconds between probes of each relay's stats= port (0: never)"},
    {"policy", "allowed_domains", CONF_STRLIST, "", 0, 0, O(allowed_domains),
     "domains whose users may request channels (empty: any)"},
    {"policy", "max_channels_per_jid", CONF_INT, "16", 0, 100000,
     O(max_channels_per_jid),
     "channels in use per bare JID: not yet released, not expired "
     "(0: no limit)"},
    {"policy", "requests_per_minute", CONF_INT, "120", 0, 100000,
     O(requests_per_minute),
     "channel requests per bare JID: a burst of this many, then this many "
     "per minute (0: no limit)"},
    {"policy", "max_file_size", CONF_INT, "0", 0, INT64_MAX, O(max_file_size),
     "largest file size accepted (0: no limit)"},
    {"log", "level", CONF_INT, "1", 0, 2, O(log_level),
     "0 warnings, 1 info, 2 debug"},
};
const size_t comp_nopts = sizeof(comp_opts) / sizeof(comp_opts[0]);
