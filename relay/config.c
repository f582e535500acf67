#include <stddef.h>

#include "conf.h"
#include "relay.h"

#define O(f) offsetof(struct relay_conf, f)

/* The one table of relay settings: the loader, -T, the sample config and
 * ferry-relay.conf(5) all follow it. */
const struct conf_opt relay_opts[] = {
    {"relay", "listen", CONF_STRLIST, "127.0.0.1:5290", 0, 0, O(listen),
     "addresses to listen on, host:port separated by ';' ([v6]:port)"},
    {"relay", "tls_listen", CONF_STRLIST, "", 0, 0, O(tls_listen),
     "addresses for TLS clients, like listen (empty: no TLS)"},
    {"relay", "tls_cert", CONF_STR, "", 0, 0, O(tls_cert),
     "PEM certificate chain for tls_listen"},
    {"relay", "tls_key", CONF_STR, "", 0, 0, O(tls_key),
     "PEM private key of tls_cert"},
    {"relay", "secret_files", CONF_STRLIST, NULL, 0, 0, O(secret_files),
     "files holding secrets shared with the component; all are accepted"},
    {"relay", "stats_listen", CONF_STR, "127.0.0.1:5291", 0, 0, O(stats_listen),
     "Prometheus metrics address (empty: off)"},
    {"relay", "user", CONF_STR, "", 0, 0, O(user),
     "user to switch to after binding (empty: stay)"},
    {"limits", "buffer_size", CONF_INT, "524288", 4096, 67108864,
     O(buffer_size), "bytes buffered per direction per channel"},
    {"limits", "max_frame", CONF_INT, "262168", 1048, FERRY_FRAME_MAX,
     O(max_frame), "largest frame body accepted"},
    {"limits", "max_connections", CONF_INT, "16384", 2, 1000000,
     O(max_connections), "simultaneous connections"},
    {"limits", "max_channels", CONF_INT, "8192", 1, 1000000, O(max_channels),
     "simultaneous channels"},
    {"limits", "max_per_ip", CONF_INT, "256", 0, 1000000, O(max_per_ip),
     "simultaneous connections from one address (0: no limit)"},
    {"limits", "handshake_timeout_ms", CONF_INT, "5000", 10, 600000,
     O(handshake_timeout_ms), "time allowed from accept to AUTH"},
    {"limits", "unpaired_timeout", CONF_INT, "60", 1, 86400,
     O(unpaired_timeout), "seconds an admitted end waits for its peer"},
    {"limits", "idle_timeout", CONF_INT, "120", 1, 86400, O(idle_timeout),
     "seconds without a byte either way before a paired end is closed"},
    {"limits", "drain_timeout", CONF_INT, "30", 0, 86400, O(drain_timeout),
     "seconds SIGTERM waits for active transfers"},
    {"limits", "accept_backoff_ms", CONF_INT, "100", 100, 60000,
     O(accept_backoff_ms),
     "pause of every listener after accept() runs out of fds or memory"},
    {"limits", "stats_max_connections", CONF_INT, "16", 1, 4096,
     O(stats_max_connections),
     "open metrics connections; a new one pushes out the oldest"},
    {"limits", "stats_timeout_ms", CONF_INT, "5000", 100, 600000,
     O(stats_timeout_ms),
     "time a metrics connection has from accept to its answer sent"},
    {"limits", "stats_max_request", CONF_INT, "8192", 256, 1048576,
     O(stats_max_request),
     "bytes of metrics request head (request line and headers) accepted"},
    {"limits", "fanout_lag_ms", CONF_INT, "5000", 0, 3600000, O(fanout_lag_ms),
     "ms a full fan-out leg may hold the sender back before it is dropped "
     "too-slow (0: never)"},
    {"log", "level", CONF_INT, "1", 0, 2, O(log_level),
     "0 warnings, 1 info (one line per connection), 2 debug"},
};
const size_t relay_nopts = sizeof(relay_opts) / sizeof(relay_opts[0]);
