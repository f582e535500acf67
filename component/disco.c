#include <stdio.h>
#include <string.h>

#include "component.h"
#include "stanza.h"

static xmpp_stanza_t *child(xmpp_ctx_t *ctx, xmpp_stanza_t *parent,
                            const char *name)
{
    xmpp_stanza_t *s = xmpp_stanza_new(ctx);

    xmpp_stanza_set_name(s, name);
    xmpp_stanza_add_child_ex(parent, s, 0);
    return s;
}

static void text_child(xmpp_ctx_t *ctx, xmpp_stanza_t *parent, const char *name,
                       const char *text)
{
    xmpp_stanza_t *s = child(ctx, parent, name), *t = xmpp_stanza_new(ctx);

    xmpp_stanza_set_text(t, text);
    xmpp_stanza_add_child_ex(s, t, 0);
}

static void field(xmpp_ctx_t *ctx, xmpp_stanza_t *x, const char *var,
                  long long v)
{
    xmpp_stanza_t *f = child(ctx, x, "field");
    char b[24];

    xmpp_stanza_set_attribute(f, "var", var);
    snprintf(b, sizeof(b), "%lld", v);
    text_child(ctx, f, "value", b);
}

/* XEP-0030 info and items, XEP-0199 ping, XEP-0092 version. Returns 1
 * when it answered. */
int disco_handle(struct comp *c, xmpp_stanza_t *iq, const char *ns)
{
    static const char *features[] = {FERRY_NS_DISCO_INFO, FERRY_NS_DISCO_ITEMS,
                                     FERRY_NS_PING, FERRY_NS_VERSION, FERRY_NS};
    xmpp_stanza_t *res, *q, *s, *x, *f;
    size_t i;

    if (strcmp(ns, FERRY_NS_PING) == 0) {
        comp_send(c, ferry_reply(c->ctx, iq, "result"));
        return 1;
    }
    res = ferry_reply(c->ctx, iq, "result");
    q = child(c->ctx, res, "query");
    xmpp_stanza_set_ns(q, ns);
    if (strcmp(ns, FERRY_NS_DISCO_INFO) == 0) {
        s = child(c->ctx, q, "identity");
        xmpp_stanza_set_attribute(s, "category", "proxy");
        xmpp_stanza_set_attribute(s, "type", "ferry");
        xmpp_stanza_set_attribute(s, "name", "Ferry file relay");
        for (i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
            s = child(c->ctx, q, "feature");
            xmpp_stanza_set_attribute(s, "var", features[i]);
        }
        x = child(c->ctx, q, "x");
        xmpp_stanza_set_ns(x, FERRY_NS_DATA);
        xmpp_stanza_set_type(x, "result");
        f = child(c->ctx, x, "field");
        xmpp_stanza_set_attribute(f, "var", "FORM_TYPE");
        xmpp_stanza_set_type(f, "hidden");
        text_child(c->ctx, f, "value", FERRY_NS);
        field(c->ctx, x, "max-file-size", (long long)c->conf.max_file_size);
        field(c->ctx, x, "chunk-size-min", 1024);
        field(c->ctx, x, "chunk-size-max", (long long)c->conf.chunk_size_max);
        field(c->ctx, x, "channel-lifetime", (long long)c->conf.lifetime);
        field(c->ctx, x, "max-channels-per-jid",
              (long long)c->conf.max_channels_per_jid);
        field(c->ctx, x, "requests-per-minute",
              (long long)c->conf.requests_per_minute);
    } else if (strcmp(ns, FERRY_NS_VERSION) == 0) {
        text_child(c->ctx, q, "name", "ferry-component");
        text_child(c->ctx, q, "version", PACKAGE_VERSION);
    } else if (strcmp(ns, FERRY_NS_DISCO_ITEMS) != 0) {
        xmpp_stanza_release(res);
        return 0;
    }
    comp_send(c, res);
    return 1;
}
