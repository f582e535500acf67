#include <stddef.h>
#include <string.h>

#include "err.h"

struct err_entry {
    int code;
    const char *name;
    const char *text;
    const char *condition;
    const char *type;
};

/* The one table: names, texts and stanza conditions live only here. */
static const struct err_entry errs[] = {
    {FERRY_OK, "ok", "success", "undefined-condition", "cancel"},
    {FERRY_ERR_MALFORMED, "malformed", "malformed frame", "bad-request",
     "modify"},
    {FERRY_ERR_UNKNOWN_TYPE, "unknown-type", "unknown frame type",
     "bad-request", "modify"},
    {FERRY_ERR_BAD_LENGTH, "bad-length", "bad frame length", "bad-request",
     "modify"},
    {FERRY_ERR_TOO_LARGE, "too-large", "frame or value too large",
     "not-acceptable", "modify"},
    {FERRY_ERR_BAD_VALUE, "bad-value", "field value out of range",
     "bad-request", "modify"},
    {FERRY_ERR_BAD_VERSION, "bad-version", "unsupported version",
     "feature-not-implemented", "cancel"},
    {FERRY_ERR_BAD_PROOF, "bad-proof", "channel key proof does not verify",
     "not-authorized", "auth"},
    {FERRY_ERR_EXPIRED, "expired", "channel expired", "gone", "cancel"},
    {FERRY_ERR_ROLE_TAKEN, "role-taken", "channel role already taken",
     "conflict", "cancel"},
    {FERRY_ERR_HANDSHAKE_TIMEOUT, "handshake-timeout", "handshake timed out",
     "remote-server-timeout", "wait"},
    {FERRY_ERR_UNPAIRED_TIMEOUT, "unpaired-timeout",
     "peer did not join in time", "recipient-unavailable", "wait"},
    {FERRY_ERR_IDLE_TIMEOUT, "idle-timeout", "connection idle too long",
     "remote-server-timeout", "wait"},
    {FERRY_ERR_LIMIT, "limit", "relay limit reached", "resource-constraint",
     "wait"},
    {FERRY_ERR_SHUTDOWN, "shutdown", "relay shutting down",
     "service-unavailable", "wait"},
    {FERRY_ERR_PEER_CLOSED, "peer-closed", "peer closed its connection",
     "recipient-unavailable", "cancel"},
    {FERRY_ERR_CANCELLED, "cancelled", "transfer cancelled", "not-acceptable",
     "cancel"},
    {FERRY_ERR_INTEGRITY, "integrity", "integrity check failed",
     "not-acceptable", "cancel"},
    {FERRY_ERR_UNEXPECTED, "unexpected", "frame not expected now",
     "unexpected-request", "cancel"},
    {FERRY_ERR_PEER_ERROR, "peer-error", "peer was closed for an error",
     "recipient-unavailable", "cancel"},
    {FERRY_ERR_INTERNAL, "internal", "internal error", "internal-server-error",
     "cancel"},
    {FERRY_ERR_QUOTA_EXCEEDED, "quota-exceeded", "too many channels in use",
     "resource-constraint", "wait"},
    {FERRY_ERR_RATE_LIMITED, "rate-limited", "too many channel requests",
     "resource-constraint", "wait"},
    {FERRY_ERR_NO_RELAY, "no-relay", "no relay available",
     "resource-constraint", "wait"},
    {FERRY_ERR_REFUSED, "refused", "channel request refused", "not-allowed",
     "cancel"},
    {FERRY_ERR_TOO_SLOW, "too-slow",
     "fan-out leg fell behind the lag limit and was dropped",
     "resource-constraint", "cancel"},
    {FERRY_ERR_TOO_LATE, "too-late", "fan-out transfer already began",
     "not-allowed", "cancel"},
    {FERRY_ERR_NEED_MORE, "need-more", "input incomplete",
     "undefined-condition", "cancel"},
    {FERRY_ERR_NOMEM, "nomem", "out of memory", "resource-constraint", "wait"},
    {FERRY_ERR_IO, "io", "input/output error", "internal-server-error",
     "cancel"},
    {FERRY_ERR_CRYPTO, "crypto", "cryptographic library failure",
     "internal-server-error", "cancel"},
    {FERRY_ERR_NO_SPACE, "no-space", "buffer full", "resource-constraint",
     "wait"},
    {FERRY_ERR_NOT_AUTHORIZED, "not-authorized", "requester not authorized",
     "not-authorized", "auth"},
    {FERRY_ERR_POLICY, "policy", "refused by policy", "policy-violation",
     "cancel"},
    {FERRY_ERR_QUOTA, "quota", "quota exceeded", "resource-constraint", "wait"},
    {FERRY_ERR_REJECTED, "rejected", "offer rejected", "not-acceptable",
     "cancel"},
    {FERRY_ERR_BAD_REQUEST, "bad-request", "bad request", "bad-request",
     "modify"},
    {FERRY_ERR_TIMEOUT, "timeout", "timed out", "remote-server-timeout",
     "wait"},
    {FERRY_ERR_CONFIG, "config", "configuration error", "internal-server-error",
     "cancel"},
    {FERRY_ERR_XMPP, "xmpp", "XMPP connection failure",
     "remote-server-not-found", "cancel"},
    {FERRY_ERR_UNKNOWN_CHANNEL, "unknown-channel", "no such channel in use",
     "item-not-found", "cancel"},
};

static const struct err_entry *lookup(int code)
{
    size_t i;

    for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
        if (errs[i].code == code)
            return &errs[i];
    return NULL;
}

const char *ferry_strerror(int code)
{
    const struct err_entry *e = lookup(code);
    return e ? e->text : "unknown error";
}

const char *ferry_errname(int code)
{
    const struct err_entry *e = lookup(code);
    return e ? e->name : "unknown";
}

int ferry_errcode(const char *name)
{
    size_t i;

    if (name == NULL)
        return -1;
    for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
        if (strcmp(errs[i].name, name) == 0)
            return errs[i].code;
    return -1;
}

const char *ferry_err_condition(int code)
{
    const struct err_entry *e = lookup(code);
    return e ? e->condition : "undefined-condition";
}

const char *ferry_err_type(int code)
{
    const struct err_entry *e = lookup(code);
    return e ? e->type : "cancel";
}

int ferry_err_is_wire(int code)
{
    return code > 0 && code <= FERRY_ERR_WIRE_MAX && lookup(code) != NULL;
}
