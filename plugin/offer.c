/* libferry: the sender's side of the session (XEP draft, "Offer"):
 * offering a file or a source, and the receiver's acceptance of it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "err.h"
#include "frame.h"
#include "internal.h"

static ssize_t file_read(void *ud, uint64_t off, void *buf, size_t len)
{
    return pread(GPOINTER_TO_INT(ud) - 1, buf, len, (off_t)off);
}

static void file_close(void *ud)
{
    close(GPOINTER_TO_INT(ud) - 1);
}

/* 96 bits as a session id: base64url, 16 characters. */
static void sid_from(const uint8_t bits[12], char sid[65])
{
    b64_encode(bits, 12, sid);
    for (char *p = sid; *p; p++)
        if (*p == '+' || *p == '/')
            *p = *p == '+' ? '-' : '_';
}

static void make_sid(char sid[65])
{
    uint8_t rnd[12];

    ferry_random(rnd, sizeof(rnd));
    sid_from(rnd, sid);
}

/* A group (group.c) unless the one peer is a full JID, or the caller
 * asked the receiver to request the channel (one receiver, the first
 * that accepts, as before fan-out). */
static int wants_group(const char *const *peers, size_t n,
                       const ferry_send_opts_t *opts)
{
    if (n > 1)
        return 1;
    return !ferry_jid_is_full(peers[0]) &&
           opts->requester != FERRY_REQUESTER_RECEIVER;
}

int ferry_send_group(ferry_ctx_t *ctx, const char *const *peers, size_t npeers,
                     const ferry_source_t *src, const ferry_send_opts_t *opts,
                     ferry_transfer_t **out)
{
    ferry_send_opts_t def;
    ferry_transfer_t *t;
    const char *peer;
    uint32_t max;
    size_t i;

    if (opts == NULL) {
        memset(&def, 0, sizeof(def));
        opts = &def;
    }
    if (out != NULL)
        *out = NULL;
    if (ctx->jid == NULL || ctx->component == NULL || ctx->closing) {
        ctx_error(ctx, ctx->closing ? "the context is being freed"
                                    : "not logged in: call ferry_set_jid() "
                                      "first");
        return FERRY_RC_STATE;
    }
    if (peers == NULL || npeers == 0 || npeers > FERRY_FANOUT_MAX) {
        ctx_error(ctx, "1 to %d peers", FERRY_FANOUT_MAX);
        return FERRY_RC_INVALID;
    }
    for (i = 0; i < npeers; i++)
        if (peers[i] == NULL || !ferry_valid_jid(peers[i])) {
            ctx_error(ctx, "invalid peer JID");
            return FERRY_RC_INVALID;
        }
    peer = peers[0];
    if (npeers > 1 && opts->requester == FERRY_REQUESTER_RECEIVER) {
        ctx_error(ctx, "a send to several peers needs the sender to request "
                       "the channel");
        return FERRY_RC_INVALID;
    }
    if (src == NULL || src->read == NULL || src->size > FERRY_SIZE_MAX) {
        ctx_error(ctx, "invalid source (a read callback and a size)");
        return FERRY_RC_INVALID;
    }
    if (opts->sid != NULL && !ferry_valid_sid(opts->sid)) {
        ctx_error(ctx, "invalid session id");
        return FERRY_RC_INVALID;
    }
    if ((opts->name != NULL && !ferry_valid_name(opts->name)) ||
        (opts->media_type != NULL && !ferry_valid_media(opts->media_type))) {
        ctx_error(ctx, "invalid %s",
                  opts->name != NULL && !ferry_valid_name(opts->name)
                      ? "file name"
                      : "media type");
        return FERRY_RC_INVALID;
    }
    if (opts->chunk_size != 0 && (opts->chunk_size < FERRY_CHUNK_MIN ||
                                  opts->chunk_size > FERRY_CHUNK_MAX)) {
        ctx_error(ctx, "chunk size outside %u..%u", FERRY_CHUNK_MIN,
                  FERRY_CHUNK_MAX);
        return FERRY_RC_INVALID;
    }
    if ((t = transfer_new(ctx, 1)) == NULL) {
        ctx_error(ctx, "out of memory");
        return FERRY_RC_NOMEM;
    }
    t->src = *src;
    t->peer = g_strdup(peer);
    t->size = src->size;
    /* The channel's relay takes frames up to the component's announced
     * chunk-size-max; 262144 is what every deployment accepts. */
    max = ctx->chunk_max ? ctx->chunk_max : FERRY_CHUNK_DEFAULT;
    /* When the receiver requests, its own component picks the relay, and
     * its limit is unknown here: stay within what every relay takes (XEP
     * "Chunk size"). */
    if (opts->requester != FERRY_REQUESTER_SENDER && max > FERRY_CHUNK_DEFAULT)
        max = FERRY_CHUNK_DEFAULT;
    t->chunk = opts->chunk_size ? opts->chunk_size : FERRY_CHUNK_DEFAULT;
    if (t->chunk > max)
        t->chunk = max;
    t->nchunks = (t->size + t->chunk - 1) / t->chunk;
    /* A group's one channel is requested by the sender (XEP "Fan-out");
     * otherwise the default is the receiver (claims 2-3). */
    t->requester = opts->requester == FERRY_REQUESTER_SENDER ||
                           (opts->requester == 0 &&
                            wants_group(peers, npeers, opts))
                       ? ROLE_SENDER
                       : ROLE_RECEIVER;
    t->deliver = opts->deliver;
    t->shuffle = opts->shuffle;
    t->corrupt_chunk = opts->corrupt_chunk;
    if (opts->sid)
        g_strlcpy(t->sid, opts->sid, sizeof(t->sid));
    else
        make_sid(t->sid);
    g_strlcpy(t->name, opts->name && opts->name[0] ? opts->name : "file",
              sizeof(t->name));
    g_strlcpy(t->media,
              opts->media_type ? opts->media_type : "application/octet-stream",
              sizeof(t->media));
    ferry_x25519_keygen(t->my_priv, t->my_pub);
    memcpy(t->ciphers, ctx->ciphers, sizeof(t->ciphers));
    t->nciphers = ctx->nciphers;
    t->wait_s = opts->wait_s;
    /* The offer itself waits for a Ferry resource of the peer (locate.c,
     * group.c). */
    if (wants_group(peers, npeers, opts))
        group_new(t, peers, npeers);
    else
        locate_start(t, opts->wait_s);
    if (out != NULL)
        *out = t;
    return FERRY_RC_OK;
}

int ferry_send(ferry_ctx_t *ctx, const char *peer, const ferry_source_t *src,
               const ferry_send_opts_t *opts, ferry_transfer_t **out)
{
    return ferry_send_group(ctx, &peer, 1, src, opts, out);
}

xmpp_stanza_t *offer_el(ferry_transfer_t *t)
{
    struct ferry_offer o;

    memset(&o, 0, sizeof(o));
    strcpy(o.sid, t->sid);
    strcpy(o.name, t->name);
    o.size = t->size;
    strcpy(o.media_type, t->media);
    o.chunk_size = t->chunk;
    memcpy(o.key, t->my_pub, 32);
    o.requester = t->requester;
    o.fan_out = t->group != NULL;
    memcpy(o.ciphers, t->ciphers, sizeof(o.ciphers));
    o.nciphers = t->nciphers;
    return ferry_offer_build(t->ctx->x, &o);
}

void offer_send(ferry_transfer_t *t)
{
    g_free(t->msg_id);
    t->msg_id = send_message_id(t->ctx, t->peer, offer_el(t));
    t->st = T_OFFERED;
    t->deadline = ferry_now() + t->ctx->stage_s;
    transfer_event(t, "offered");
}

/* A session id from the file's identity: who sends to whom, which file,
 * which version of it. Rerunning the same send after a drop offers the
 * same id, and the receiver resumes into the .part it kept (its state file
 * names the id and the sender). A changed file gets a new id. */
static void identity_sid(const ferry_ctx_t *ctx, const char *peer,
                         const char *path, const struct stat *sb,
                         char sid[65])
{
    GChecksum *c = g_checksum_new(G_CHECKSUM_SHA256);
    char *abs = realpath(path, NULL), *me, *them, buf[96];
    uint8_t d[32];
    gsize dl = sizeof(d);

    me = g_ascii_strdown(ctx->jid, (gssize)strcspn(ctx->jid, "/"));
    them = g_ascii_strdown(peer, (gssize)strcspn(peer, "/"));
    snprintf(buf, sizeof(buf), "%llu %lld.%09ld %llu %llu",
             (unsigned long long)sb->st_size, (long long)sb->st_mtim.tv_sec,
             sb->st_mtim.tv_nsec, (unsigned long long)sb->st_dev,
             (unsigned long long)sb->st_ino);
    g_checksum_update(c, (const guchar *)"ferry-sid\n", -1);
    g_checksum_update(c, (const guchar *)me, (gssize)strlen(me) + 1);
    g_checksum_update(c, (const guchar *)them, (gssize)strlen(them) + 1);
    g_checksum_update(c, (const guchar *)(abs ? abs : path), -1);
    g_checksum_update(c, (const guchar *)"\n", 1);
    g_checksum_update(c, (const guchar *)buf, -1);
    g_checksum_get_digest(c, d, &dl);
    g_checksum_free(c);
    sid_from(d, sid);
    free(abs);
    g_free(me);
    g_free(them);
}

int ferry_send_file(ferry_ctx_t *ctx, const char *peer, const char *path,
                    const ferry_send_opts_t *opts, ferry_transfer_t **out)
{
    return ferry_send_file_group(ctx, &peer, 1, path, opts, out);
}

int ferry_send_file_group(ferry_ctx_t *ctx, const char *const *peers,
                          size_t npeers, const char *path,
                          const ferry_send_opts_t *opts,
                          ferry_transfer_t **out)
{
    const char *peer = npeers == 1 && peers != NULL ? peers[0] : NULL;
    ferry_send_opts_t o;
    ferry_source_t src;
    ferry_transfer_t *t = NULL;
    struct stat sb;
    const char *base;
    char idsid[65];
    int fd, rc;

    if (out != NULL)
        *out = NULL;
    if (path == NULL) {
        ctx_error(ctx, "no file");
        return FERRY_RC_INVALID;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0 ||
        !S_ISREG(sb.st_mode)) {
        ctx_error(ctx, "%s: %s", path,
                  fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return FERRY_RC_IO;
    }
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof(o));
    base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    if (o.name == NULL)
        o.name = base;
    /* The same file to the same peer again: the same session id, so that
     * an interrupted transfer resumes by itself; not while that session is
     * still running here. (Several peers: a random one.) */
    if (o.sid == NULL && ctx->jid != NULL && peer != NULL &&
        ferry_valid_jid(peer)) {
        identity_sid(ctx, peer, path, &sb, idsid);
        if (transfer_find(ctx, idsid, 1) == NULL)
            o.sid = idsid;
    }
    memset(&src, 0, sizeof(src));
    src.read = file_read;
    src.close = file_close;
    src.size = (uint64_t)sb.st_size;
    src.userdata = GINT_TO_POINTER(fd + 1);
    if ((rc = ferry_send_group(ctx, peers, npeers, &src, &o, &t)) !=
        FERRY_RC_OK) {
        close(fd);
        return rc;
    }
    t->src_is_file = 1;
    if (out != NULL)
        *out = t;
    return rc;
}

void offer_on_accept(ferry_ctx_t *ctx, xmpp_stanza_t *m, xmpp_stanza_t *el)
{
    const char *from = xmpp_stanza_get_from(m), *bad;
    struct ferry_accept a;
    ferry_transfer_t *t;

    if (ferry_accept_parse(el, &a, &bad) != FERRY_OK) {
        reply_bad(ctx, m, bad ? bad : "sid");
        return;
    }
    t = transfer_find(ctx, a.sid, 1);
    if (t == NULL || from == NULL || !ferry_jid_is_full(from))
        return;
    if (t->group != NULL && (t->st == T_LOCATING || t->group->fan)) {
        (void)group_on_accept(t, m, &a);
        return;
    }
    if (!ferry_jid_same_bare(t->peer, from))
        return;
    /* Only the first acceptance of an offer counts (XEP draft, "Offer"):
     * another resource that accepts too is told at once, so it does not
     * wait at the relay for nobody. */
    if (t->st != T_OFFERED || !transfer_from_peer(t, from)) {
        if (strcmp(t->peer, from) != 0)
            send_cancel(t, from, "cancelled");
        return;
    }
    g_free(t->peer);
    t->peer = g_strdup(from);
    if (!peer_key_ok(a.key)) {
        reply_bad(ctx, m, "key");
        snprintf(t->detail, sizeof(t->detail),
                 "%s answered with an unusable key", from);
        transfer_fail(t, FERRY_DONE_INTEGRITY, "bad-peer-key", "bad-value");
        return;
    }
    /* Only a cipher we offered (XEP "Ciphers"): an answer naming another
     * is a broken or tampered-with peer. */
    if (!cipher_in(a.cipher, t->ciphers, t->nciphers)) {
        snprintf(t->detail, sizeof(t->detail),
                 "%s chose a cipher that was not offered", from);
        transfer_fail(t, FERRY_DONE_INTEGRITY, "bad-cipher", "bad-value");
        return;
    }
    t->cipher = a.cipher;
    memcpy(t->peer_pub, a.key, 32);
    if (a.has_resume) {
        if (a.resume_from > t->nchunks ||
            (a.resume_from > 0 && !t->src_is_file)) {
            transfer_fail(t, FERRY_DONE_INTEGRITY, "bad-resume", "bad-value");
            return;
        }
        t->resume_from = a.resume_from;
    }
    transfer_event(t, "accepted");
    if (t->st == T_OFFERED && t->resume_from > 0)
        transfer_event(t, "resuming");
    if (t->st != T_OFFERED)
        return; /* cancelled from the callback */
    if (t->requester == ROLE_SENDER)
        channel_request(t);
    else {
        t->st = T_WAIT_CHANNEL;
        t->deadline = ferry_now() + ctx->stage_s;
    }
}
