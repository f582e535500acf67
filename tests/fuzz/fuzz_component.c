/* Fuzz target: ferry-component's stanza handling (component/alloc.c,
 * disco.c, policy.c; the parsers in common/stanza.c) on any stanza, the
 * way main.c's handlers dispatch it: iqs to the channel request or disco
 * (XEP-0030, ping, version), the rest refused. Every reply must serialize
 * to XML that parses again. The policy starts afresh for every input. */
#include <string.h>

#include <strophe.h>

#include "component.h"
#include "err.h"
#include "fuzz.h"
#include "log.h"
#include "stanza.h"

static xmpp_ctx_t *ctx;
static struct comp comp;
static uint8_t relay_secret[32] = "fuzz relay secret, 32 bytes long";
static char *domains[] = {"localhost", "example.org", NULL};
static int replies;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_init("fuzz", LOG_LVL_WARN);
    xmpp_initialize();
    ctx = xmpp_ctx_new(NULL, NULL);
    FUZZ_ASSERT(conf_defaults(comp_opts, comp_nopts, &comp.conf) == FERRY_OK);
    comp.ctx = ctx;
    comp.relay_secret = relay_secret;
    comp.relay_secret_len = sizeof(relay_secret);
    g_strfreev(comp.conf.allowed_domains);
    comp.conf.allowed_domains = domains;
    comp.conf.max_file_size = (int64_t)1 << 40;
    FUZZ_ASSERT(relays_parse(&comp) == FERRY_OK);
    return 0;
}

/* main.c's comp_send, without a connection: the reply is serialized and
 * parsed back instead of sent. */
void comp_send(struct comp *c, xmpp_stanza_t *s)
{
    char *text = NULL;
    size_t len;
    xmpp_stanza_t *back;

    (void)c;
    FUZZ_ASSERT(s != NULL);
    FUZZ_ASSERT(xmpp_stanza_to_text(s, &text, &len) == XMPP_EOK);
    back = xmpp_stanza_new_from_string(ctx, text);
    FUZZ_ASSERT(back != NULL);
    xmpp_stanza_release(back);
    xmpp_free(ctx, text);
    xmpp_stanza_release(s);
    replies++;
}

static xmpp_stanza_t *first_element(xmpp_stanza_t *s)
{
    xmpp_stanza_t *ch;

    for (ch = xmpp_stanza_get_children(s); ch; ch = xmpp_stanza_get_next(ch))
        if (xmpp_stanza_is_tag(ch))
            return ch;
    return NULL;
}

/* main.c's on_iq (static there): the same dispatch. */
static void on_iq(struct comp *c, xmpp_stanza_t *iq)
{
    const char *type = xmpp_stanza_get_type(iq), *ns, *name;
    xmpp_stanza_t *el, *err;

    if (type == NULL || strcmp(type, "result") == 0 ||
        strcmp(type, "error") == 0)
        return;
    if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0) {
        comp_send(c, ferry_error_reply(c->ctx, iq, FERRY_ERR_BAD_REQUEST, NULL,
                                       NULL, "unknown iq type"));
        return;
    }
    if ((el = first_element(iq)) == NULL) {
        comp_send(c, ferry_error_reply(c->ctx, iq, FERRY_ERR_BAD_REQUEST, NULL,
                                       NULL, "iq without payload"));
        return;
    }
    ns = xmpp_stanza_get_ns(el);
    name = xmpp_stanza_get_name(el);
    if (ns != NULL && strcmp(ns, FERRY_NS) == 0 && strcmp(type, "set") == 0 &&
        name != NULL && strcmp(name, "request") == 0) {
        alloc_handle(c, iq, el);
        return;
    }
    if (ns != NULL && strcmp(type, "get") == 0 && disco_handle(c, iq, ns))
        return;
    err = xmpp_stanza_reply_error(iq, "cancel", "service-unavailable", NULL);
    if (err != NULL) {
        xmpp_stanza_del_attribute(err, "lang");
        xmpp_stanza_set_from(err, c->conf.jid);
        comp_send(c, err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = malloc(size + 1);
    xmpp_stanza_t *s;
    const char *name;

    memcpy(xml, data, size);
    xml[size] = '\0';
    s = xmpp_stanza_new_from_string(ctx, xml);
    free(xml);
    if (s == NULL)
        return 0;
    comp.policy = policy_new(&comp.conf);
    name = xmpp_stanza_get_name(s);
    if (name != NULL && strcmp(name, "iq") == 0) {
        /* twice: the second request meets the policy the first left */
        on_iq(&comp, s);
        on_iq(&comp, s);
    }
    (void)policy_prune(comp.policy, 0);
    (void)policy_prune(comp.policy, UINT64_MAX / 2);
    policy_free(comp.policy);
    comp.policy = NULL;
    xmpp_stanza_release(s);
    return 0;
}
