/* Fuzz target: libferry's stanza handling (plugin/: offers, accepts,
 * channels, cancels, rejects, disco answers; common/stanza.c) through its
 * public entry, ferry_handle_xml(), as a receiver whose JID and component
 * are set. Input: a flags byte, then stanzas separated by NUL bytes, all
 * handed to one fresh context. Flag bit 0: decline each offer as it
 * arrives (else it waits for the user until the context is freed); bit 1:
 * no component set (libferry discovers one). No offer is ever accepted, so
 * no relay connection is made. Everything libferry sends must serialize
 * and parse again. */
#include <string.h>

#include <glib.h>

#include <strophe.h>

#include "ferry.h"
#include "fuzz.h"

static xmpp_ctx_t *xctx;
static int flags, offers, dones;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    xmpp_initialize();
    xctx = xmpp_ctx_new(NULL, NULL);
    return 0;
}

static void send_stanza(xmpp_stanza_t *s, void *ud)
{
    char *text = NULL;
    size_t len;
    xmpp_stanza_t *back;

    (void)ud;
    FUZZ_ASSERT(xmpp_stanza_to_text(s, &text, &len) == XMPP_EOK);
    back = xmpp_stanza_new_from_string(xctx, text);
    FUZZ_ASSERT(back != NULL);
    xmpp_stanza_release(back);
    xmpp_free(xctx, text);
}

static void on_offer(ferry_transfer_t *t, const ferry_offer_info_t *o,
                     void *ud)
{
    (void)ud;
    offers++;
    FUZZ_ASSERT(o->sid != NULL && o->from != NULL && o->name != NULL);
    /* A name may be a relative path (XEP 0.3), but never one that leaves
     * the receiver's folder. */
    FUZZ_ASSERT(o->name[0] != '\0' && o->name[0] != '/' &&
                strstr(o->name, "//") == NULL &&
                strcmp(o->name, "..") != 0 && strncmp(o->name, "../", 3) != 0 &&
                strstr(o->name, "/../") == NULL &&
                !g_str_has_suffix(o->name, "/.."));
    FUZZ_ASSERT(!ferry_transfer_is_sender(t));
    if (flags & 1)
        (void)ferry_reject(t, "declined", "fuzz");
}

static void on_done(ferry_transfer_t *t, ferry_status_t st, const char *reason,
                    void *ud)
{
    (void)t;
    (void)st;
    (void)reason;
    (void)ud;
    dones++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_callbacks_t cb = {0};
    ferry_ctx_t *ctx;
    char *buf, *p, *end;

    if (size < 1)
        return 0;
    flags = data[0];
    offers = dones = 0;
    cb.send_stanza = send_stanza;
    cb.offer = on_offer;
    cb.done = on_done;
    ctx = ferry_ctx_new(xctx, &cb, NULL);
    FUZZ_ASSERT(ctx != NULL);
    if (!(flags & 2))
        FUZZ_ASSERT(ferry_set_component(ctx, "ferry.localhost") == 0);
    FUZZ_ASSERT(ferry_set_jid(ctx, "bob@localhost/cli") == 0);
    buf = malloc(size);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    for (p = buf, end = buf + size - 1; p <= end; p += strlen(p) + 1)
        if (*p)
            (void)ferry_handle_xml(ctx, p);
    (void)ferry_process(ctx, NULL, 0);
    ferry_ctx_free(ctx);
    /* every transfer ends exactly once */
    FUZZ_ASSERT(dones == offers);
    if (getenv("FUZZ_DEBUG") != NULL)
        fprintf(stderr, "offers=%d done=%d\n", offers, dones);
    free(buf);
    return 0;
}
