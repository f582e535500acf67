#include <stdlib.h>

#include "chan.h"
#include "conf.h"
#include "err.h"
#include "log.h"
#include "relay.h"

void relay_free_secrets(struct relay *r)
{
    size_t i;

    for (i = 0; i < r->nsecrets; i++)
        conf_secret_free(r->secrets[i], r->secret_lens[i]);
    free(r->secrets);
    free(r->secret_lens);
    r->secrets = NULL;
    r->secret_lens = NULL;
    r->nsecrets = 0;
}

/* Loads every secret file; on any failure keeps the secrets it had. */
int relay_load_secrets(struct relay *r)
{
    size_t n = 0, i;
    uint8_t **s;
    size_t *l;
    int rc;

    while (r->conf.secret_files && r->conf.secret_files[n])
        n++;
    if (n == 0) {
        log_warnx("no secret_files configured");
        return FERRY_ERR_CONFIG;
    }
    s = calloc(n, sizeof(*s));
    l = calloc(n, sizeof(*l));
    if (s == NULL || l == NULL) {
        free(s);
        free(l);
        return FERRY_ERR_NOMEM;
    }
    for (i = 0; i < n; i++) {
        rc = conf_read_secret(r->conf.secret_files[i], &s[i], &l[i]);
        if (rc != FERRY_OK) {
            log_warnx("secret file %s: %s", r->conf.secret_files[i],
                      conf_secret_why(rc));
            while (i-- > 0)
                conf_secret_free(s[i], l[i]);
            free(s);
            free(l);
            return rc;
        }
    }
    relay_free_secrets(r);
    r->secrets = s;
    r->secret_lens = l;
    r->nsecrets = n;
    return FERRY_OK;
}
