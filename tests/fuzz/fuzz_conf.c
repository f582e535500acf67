/* Fuzz target: the configuration loader (common/conf.c) with the relay's
 * and the component's option tables (relay/config.c, component/config.c),
 * then the component's relay pool syntax (relays_parse in
 * component/alloc.c). The input is the file. What loads must dump and
 * free cleanly, every integer within its table's range. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "component.h"
#include "err.h"
#include "fuzz.h"
#include "log.h"
#include "relay.h"

static FILE *devnull;
static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz", LOG_LVL_WARN);
    devnull = fopen("/dev/null", "w");
    fd = memfd_create("ferry-fuzz-conf", MFD_CLOEXEC);
    FUZZ_ASSERT(devnull != NULL && fd >= 0);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return 0;
}

/* struct comp wants these from component/main.c and health.c */
void comp_send(struct comp *c, xmpp_stanza_t *s)
{
    (void)c;
    xmpp_stanza_release(s);
}

static void ints_in_range(const struct conf_opt *o, size_t n, const void *t)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (o[i].type == CONF_INT) {
            int64_t v;
            memcpy(&v, (const char *)t + o[i].offset, sizeof(v));
            FUZZ_ASSERT(v >= o[i].min && v <= o[i].max);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct relay_conf rc;
    struct comp c;
    size_t i;

    FUZZ_ASSERT(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0);
    FUZZ_ASSERT(size == 0 || write(fd, data, size) == (ssize_t)size);

    memset(&rc, 0, sizeof(rc));
    FUZZ_ASSERT(conf_defaults(relay_opts, relay_nopts, &rc) == FERRY_OK);
    (void)conf_load(relay_opts, relay_nopts, &rc, path, devnull);
    ints_in_range(relay_opts, relay_nopts, &rc);
    conf_dump(relay_opts, relay_nopts, &rc, devnull);
    conf_free(relay_opts, relay_nopts, &rc);

    memset(&c, 0, sizeof(c));
    FUZZ_ASSERT(conf_defaults(comp_opts, comp_nopts, &c.conf) == FERRY_OK);
    (void)conf_load(comp_opts, comp_nopts, &c.conf, path, devnull);
    ints_in_range(comp_opts, comp_nopts, &c.conf);
    conf_dump(comp_opts, comp_nopts, &c.conf, devnull);
    if (relays_parse(&c) == FERRY_OK) {
        FUZZ_ASSERT(c.nrelays > 0);
        for (i = 0; i < c.nrelays; i++) {
            FUZZ_ASSERT(c.relays[i].port > 0 && c.relays[i].weight > 0);
            FUZZ_ASSERT(memchr(c.relays[i].host, '\0',
                               sizeof(c.relays[i].host)) != NULL);
        }
    }
    free(c.relays);
    conf_free(comp_opts, comp_nopts, &c.conf);
    return 0;
}
