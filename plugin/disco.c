/* libferry: finding the component (XEP-0030). disco#items of the user's
 * server, then disco#info of each item: the first with the Ferry feature
 * becomes the component. Until then (and when none has it) "ferry." +
 * domain is used. A component set by the application is asked for its
 * disco#info too, for its chunk-size-max. Answers are matched by random
 * id and by sender in channel.c. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "frame.h"
#include "internal.h"

#define DISCO_MAX_ITEMS 32

static void query(ferry_ctx_t *ctx, const char *to, const char *ns,
                  enum iq_kind kind)
{
    xmpp_stanza_t *iq = xmpp_iq_new(ctx->x, "get", "x"), *q;

    q = xmpp_stanza_new(ctx->x);
    xmpp_stanza_set_name(q, "query");
    xmpp_stanza_set_ns(q, ns);
    xmpp_stanza_add_child_ex(iq, q, 0);
    iq_send(ctx, iq, to, kind, NULL);
}

void disco_start(ferry_ctx_t *ctx)
{
    if (ctx->component_set) {
        query(ctx, ctx->component, FERRY_NS_DISCO_INFO, IQ_COMPONENT_INFO);
        return;
    }
    g_free(ctx->component);
    ctx->component = g_strdup_printf("ferry.%s", ctx->domain);
    ctx->disco_queries = 0;
    query(ctx, ctx->domain, FERRY_NS_DISCO_ITEMS, IQ_DISCO_ITEMS);
}

/* chunk-size-max from the component's form (XEP-0128), if it has one. */
static void read_limits(ferry_ctx_t *ctx, xmpp_stanza_t *q)
{
    xmpp_stanza_t *x, *f, *v;
    uint64_t n;
    char *text;

    for (x = xmpp_stanza_get_children(q); x; x = xmpp_stanza_get_next(x)) {
        if (!xmpp_stanza_is_tag(x) || xmpp_stanza_get_ns(x) == NULL ||
            strcmp(xmpp_stanza_get_ns(x), FERRY_NS_DATA) != 0)
            continue;
        for (f = xmpp_stanza_get_children(x); f; f = xmpp_stanza_get_next(f)) {
            const char *var = xmpp_stanza_get_attribute(f, "var");
            if (var == NULL || strcmp(var, "chunk-size-max") != 0 ||
                (v = xmpp_stanza_get_child_by_name(f, "value")) == NULL)
                continue;
            text = xmpp_stanza_get_text(v);
            if (text != NULL &&
                parse_u64(text, FERRY_CHUNK_MAX, &n) == FERRY_OK &&
                n >= FERRY_CHUNK_MIN)
                ctx->chunk_max = (uint32_t)n;
            xmpp_free(ctx->x, text);
        }
    }
}

void disco_answer(ferry_ctx_t *ctx, enum iq_kind kind, xmpp_stanza_t *iq,
                  const char *from)
{
    const char *type = xmpp_stanza_get_type(iq);
    xmpp_stanza_t *q, *c;

    if (type == NULL || strcmp(type, "result") != 0)
        return;
    if (kind == IQ_DISCO_ITEMS) {
        if (ctx->component_set)
            return;
        q = xmpp_stanza_get_child_by_name_and_ns(iq, "query",
                                                 FERRY_NS_DISCO_ITEMS);
        for (c = q ? xmpp_stanza_get_children(q) : NULL; c;
             c = xmpp_stanza_get_next(c)) {
            const char *jid = xmpp_stanza_get_attribute(c, "jid");
            if (xmpp_stanza_get_name(c) == NULL ||
                strcmp(xmpp_stanza_get_name(c), "item") != 0 || jid == NULL ||
                !ferry_valid_jid(jid) || ctx->disco_queries >= DISCO_MAX_ITEMS)
                continue;
            ctx->disco_queries++;
            query(ctx, jid, FERRY_NS_DISCO_INFO, IQ_DISCO_INFO);
        }
        return;
    }
    q = xmpp_stanza_get_child_by_name_and_ns(iq, "query", FERRY_NS_DISCO_INFO);
    for (c = q ? xmpp_stanza_get_children(q) : NULL; c;
         c = xmpp_stanza_get_next(c)) {
        const char *var = xmpp_stanza_get_attribute(c, "var");
        if (var == NULL || strcmp(var, FERRY_NS) != 0)
            continue;
        if (kind == IQ_DISCO_INFO && !ctx->component_set) {
            g_free(ctx->component);
            ctx->component = g_strdup(from);
            ctx->component_set = 1;
        }
        if (g_ascii_strcasecmp(from, ctx->component) == 0)
            read_limits(ctx, q);
        break;
    }
}
