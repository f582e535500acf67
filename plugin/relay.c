/* libferry: the relay connection of one transfer. The sender chunks,
 * seals and streams the file; the receiver opens, orders (bounded cache),
 * appends, acknowledges, verifies the END frame, fsyncs and renames. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "chan.h"
#include "err.h"
#include "frame.h"
#include "internal.h"
#include "reorder.h"
#include "tls.h"

#define ACK_EVERY (1024 * 1024) /* bytes written between ACKs */
#define CACHE_CHUNKS 64         /* reorder cache bound, in chunks */
#define SHUFFLE_WINDOW 8        /* test mode: chunks permuted per window */

static int connect_timeout(const char *host, uint16_t port, int ms)
{
    struct addrinfo hints, *res = NULL, *ai;
    char ps[8];
    int fd = -1, one = 1, err;
    socklen_t el = sizeof(err);
    struct pollfd p;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ps, sizeof(ps), "%u", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0)
        return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            p.fd = fd;
            p.events = POLLOUT;
            if (poll(&p, 1, ms) == 1 &&
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
                err == 0)
                break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* ---- TLS to the relay --------------------------------------------------- */
/* The relay's certificate must verify against the system's CAs (plus the
 * application's relay CA file) for the host named in the channel info. */
static SSL_CTX *tls_ctx_of(ferry_ctx_t *ctx)
{
    SSL_CTX *c;

    if (ctx->tls_ctx != NULL)
        return ctx->tls_ctx;
    if ((c = SSL_CTX_new(TLS_client_method())) == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_set_default_verify_paths(c) != 1 ||
        (ctx->relay_ca != NULL &&
         SSL_CTX_load_verify_locations(c, ctx->relay_ca, NULL) != 1)) {
        SSL_CTX_free(c);
        return NULL;
    }
    return ctx->tls_ctx = c;
}

/* TLS handshake on the fresh non-blocking socket, waiting at most ms. */
static int tls_begin(ferry_transfer_t *t, int ms)
{
    SSL_CTX *c = tls_ctx_of(t->ctx);
    struct pollfd p = {t->sock, 0, 0};
    int rc, e;

    if (c == NULL || (t->ssl = SSL_new(c)) == NULL ||
        SSL_set_fd(t->ssl, t->sock) != 1 ||
        SSL_set_tlsext_host_name(t->ssl, t->ch.host) != 1 ||
        SSL_set1_host(t->ssl, t->ch.host) != 1)
        return FERRY_ERR_CRYPTO;
    while ((rc = SSL_connect(t->ssl)) != 1) {
        e = SSL_get_error(t->ssl, rc);
        if (e == SSL_ERROR_WANT_READ)
            p.events = POLLIN;
        else if (e == SSL_ERROR_WANT_WRITE)
            p.events = POLLOUT;
        else
            return FERRY_ERR_CRYPTO;
        if (poll(&p, 1, ms) != 1)
            return FERRY_ERR_CRYPTO;
    }
    return FERRY_OK;
}

static ssize_t relay_recv(ferry_transfer_t *t, void *p, size_t n)
{
    int rc;

    if (t->ssl == NULL)
        return read(t->sock, p, n);
    rc = SSL_read(t->ssl, p, (int)n);
    return rc > 0 ? rc : tls_io_result(t->ssl, rc, NULL);
}

ssize_t relay_send(ferry_transfer_t *t, const void *p, size_t n)
{
    int rc;

    if (t->sock < 0)
        return -1;
    if (t->ssl == NULL)
        return write(t->sock, p, n);
    rc = SSL_write(t->ssl, p, (int)n);
    return rc > 0 ? rc : tls_io_result(t->ssl, rc, NULL);
}

size_t relay_pending(const ferry_transfer_t *t)
{
    return t->ssl != NULL ? (size_t)SSL_pending(t->ssl) : 0;
}

void relay_close(ferry_transfer_t *t)
{
    if (t->ssl != NULL) {
        (void)SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
        t->ssl = NULL;
    }
    if (t->sock >= 0)
        close(t->sock);
    t->sock = -1;
}

int relay_connect(ferry_transfer_t *t)
{
    uint8_t shared[32], key[32];
    uint64_t i, j, k, tmp;
    int rc;

    if ((rc = ferry_x25519(t->my_priv, t->peer_pub, shared)) != FERRY_OK)
        return rc;
    rc = ferry_content_key(shared, t->ch.key, t->sid, key);
    ferry_wipe(shared, sizeof(shared));
    if (rc != FERRY_OK || (t->aead = aead_new(key)) == NULL) {
        ferry_wipe(key, sizeof(key));
        return FERRY_ERR_CRYPTO;
    }
    ferry_wipe(key, sizeof(key));
    t->in = buf_new(FERRY_FRAME_HDR + FERRY_FRAME_MAX + 65536);
    /* Room for a few frames keeps the socket busy while we seal the next. */
    t->out =
        buf_new(4 * (FERRY_FRAME_HDR + 8 + t->chunk + FERRY_TAG_LEN) + 256);
    if (t->is_sender) {
        t->hash = sha256_new();
        t->next = t->resume_from;
        /* Out of order or resumed: the hash must cover the file in order,
         * so take it before streaming. */
        if (t->shuffle || t->resume_from > 0) {
            uint8_t b[65536];
            ssize_t n;
            off_t off = 0;
            while ((n = pread(t->fd, b, sizeof(b), off)) > 0) {
                sha256_update(t->hash, b, (size_t)n);
                off += n;
            }
        }
        if (t->shuffle && t->nchunks > 0) {
            t->order = g_new(uint64_t, t->nchunks);
            for (i = 0; i < t->nchunks; i++)
                t->order[i] = i;
            for (i = t->resume_from; i < t->nchunks; i += SHUFFLE_WINDOW) {
                uint64_t w = t->nchunks - i < SHUFFLE_WINDOW ? t->nchunks - i
                                                             : SHUFFLE_WINDOW;
                for (j = w - 1; j > 0; j--) {
                    ferry_random(&k, sizeof(k));
                    k %= j + 1;
                    tmp = t->order[i + j];
                    t->order[i + j] = t->order[i + k];
                    t->order[i + k] = tmp;
                }
            }
        }
    } else {
        t->cache = reorder_new(CACHE_CHUNKS);
        t->scratch = malloc(t->chunk ? t->chunk : 1);
        if (t->cache == NULL || t->scratch == NULL)
            return FERRY_ERR_NOMEM;
    }
    if (t->in == NULL || t->out == NULL || t->hash == NULL)
        return FERRY_ERR_NOMEM;
    t->sock = connect_timeout(t->ch.host, t->ch.port, 5000);
    if (t->sock < 0)
        return FERRY_ERR_IO;
    if (t->ch.tls && (rc = tls_begin(t, 5000)) != FERRY_OK)
        return rc;
    t->st = T_RELAY_HS;
    return FERRY_OK;
}

int relay_want_write(const ferry_transfer_t *t)
{
    return buf_len(t->out) > 0 ||
           (t->st == T_STREAMING && !t->paused && t->next < t->nchunks + 1);
}

/* Seals chunk `num` into the output buffer. */
static int put_chunk(ferry_transfer_t *t, uint64_t num)
{
    uint64_t off = num * t->chunk;
    size_t len = t->size - off < t->chunk ? (size_t)(t->size - off) : t->chunk;
    uint8_t *p, nonce[12], ad[FERRY_AD_MAX];
    uint32_t body = (uint32_t)(8 + len + FERRY_TAG_LEN);
    size_t adl, got = 0;
    ssize_t n;

    if (buf_reserve(t->out, FERRY_FRAME_HDR + body, &p) != FERRY_OK)
        return FERRY_ERR_NO_SPACE;
    p[0] = FRAME_DATA;
    p[1] = (uint8_t)(body >> 16);
    p[2] = (uint8_t)(body >> 8);
    p[3] = (uint8_t)body;
    be64_put(p + 4, num);
    while (got < len) {
        n = pread(t->fd, p + 12 + got, len - got, (off_t)(off + got));
        if (n <= 0)
            return FERRY_ERR_IO;
        got += (size_t)n;
    }
    if (t->order == NULL && t->resume_from == 0)
        sha256_update(t->hash, p + 12, len);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, num, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, num, t->sid, ad);
    if (aead_seal(t->aead, nonce, ad, adl, p + 12, len, p + 12) != FERRY_OK)
        return FERRY_ERR_CRYPTO;
    if (t->corrupt_chunk == num + 1)
        p[12] ^= 0x01;
    return FERRY_OK;
}

static int put_end(ferry_transfer_t *t)
{
    uint8_t pt[40], sealed[FERRY_END_SEALED_LEN], nonce[12], ad[FERRY_AD_MAX];
    size_t adl;
    int rc;

    be64_put(pt, t->size);
    sha256_final(t->hash, pt + 8);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, t->nchunks, nonce);
    adl = ferry_ad(FERRY_KIND_END, t->nchunks, t->sid, ad);
    if ((rc = aead_seal(t->aead, nonce, ad, adl, pt, 40, sealed)) != FERRY_OK)
        return rc;
    return frame_put_end(t->out, t->nchunks, sealed);
}

/* Sender: fill the output buffer with sealed chunks while there is room. */
static void fill(ferry_transfer_t *t)
{
    size_t need = FERRY_FRAME_HDR + 8 + t->chunk + FERRY_TAG_LEN;
    int rc;

    while (t->st == T_STREAMING && !t->paused && buf_avail(t->out) >= need) {
        if (t->next == t->nchunks) {
            if (put_end(t) != FERRY_OK) {
                transfer_finish(t, FERRY_DONE_IO, "internal");
                return;
            }
            t->st = T_WAIT_VERIFIED;
            transfer_event(t, "sent");
            return;
        }
        rc = put_chunk(t, t->order ? t->order[t->next] : t->next);
        if (rc != FERRY_OK) {
            transfer_finish(t, FERRY_DONE_IO, ferry_errname(rc));
            return;
        }
        t->next++;
    }
}

static void flush(ferry_transfer_t *t)
{
    ssize_t n;

    while (buf_len(t->out) > 0) {
        n = relay_send(t, buf_ptr(t->out), buf_len(t->out));
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                transfer_finish(t, FERRY_DONE_PEER_GONE, "relay-closed");
            return;
        }
        buf_consume(t->out, (size_t)n);
    }
}

static void send_ack(ferry_transfer_t *t)
{
    frame_put_ack(t->out, t->next);
    transfer_state_save(t);
}

static int append(ferry_transfer_t *t, const uint8_t *p, size_t len)
{
    size_t done = 0;
    ssize_t n;

    while (done < len) {
        n = write(t->fd, p + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return FERRY_ERR_IO;
        }
        done += (size_t)n;
    }
    sha256_update(t->hash, p, len);
    t->written += len;
    return FERRY_OK;
}

static void fail_integrity(ferry_transfer_t *t, const char *why)
{
    frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_INTEGRITY);
    flush(t);
    transfer_finish(t, FERRY_DONE_INTEGRITY, why);
}

/* Receiver: one DATA frame. In order: append at once, then whatever the
 * cache holds next. Ahead: keep in the bounded cache (claims 10, 11, 15). */
static void on_data(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t nonce[12], ad[FERRY_AD_MAX];
    size_t adl, len = f->sealed_len - FERRY_TAG_LEN;
    uint64_t expect_len, before = t->written;
    uint8_t *plain, *held;
    size_t hl;
    int rc;

    if (f->number >= t->nchunks || f->number < t->next) {
        fail_integrity(t, "bad-chunk-number");
        return;
    }
    expect_len =
        f->number == t->nchunks - 1 ? t->size - f->number * t->chunk : t->chunk;
    if (len != expect_len) {
        fail_integrity(t, "bad-chunk-size");
        return;
    }
    if (f->number - t->next >= CACHE_CHUNKS) {
        frame_put_code(t->out, FRAME_CANCEL, FERRY_ERR_TOO_LARGE);
        flush(t);
        transfer_finish(t, FERRY_DONE_INTEGRITY, "reorder-window");
        return;
    }
    /* In order: open into the scratch chunk and append. Ahead: open into
     * a block of its own that waits in the cache. */
    plain = f->number == t->next ? t->scratch : malloc(len ? len : 1);
    if (plain == NULL) {
        transfer_finish(t, FERRY_DONE_IO, "out-of-memory");
        return;
    }
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, f->number, nonce);
    adl = ferry_ad(FERRY_KIND_DATA, f->number, t->sid, ad);
    if (aead_open(t->aead, nonce, ad, adl, f->sealed, f->sealed_len, plain) !=
        FERRY_OK) {
        if (plain != t->scratch)
            free(plain);
        fail_integrity(t, "chunk-auth");
        return;
    }
    if (!t->first_byte) {
        t->first_byte = 1;
        transfer_event(t, "first-byte");
    }
    if (f->number != t->next) {
        /* The window was checked above: this cannot be refused. */
        (void)reorder_put(t->cache, t->next, f->number, plain, len);
        return;
    }
    if (append(t, plain, len) != FERRY_OK) {
        transfer_finish(t, FERRY_DONE_IO, "write");
        return;
    }
    t->next++;
    while ((held = reorder_take(t->cache, t->next, &hl)) != NULL) {
        rc = append(t, held, hl);
        free(held);
        if (rc != FERRY_OK) {
            transfer_finish(t, FERRY_DONE_IO, "write");
            return;
        }
        t->next++;
    }
    if (t->written / ACK_EVERY != before / ACK_EVERY)
        send_ack(t);
    transfer_progress(t, t->written);
}

static void on_end(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t pt[40], hash[32], nonce[12], ad[FERRY_AD_MAX];
    size_t adl;

    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, f->number, nonce);
    adl = ferry_ad(FERRY_KIND_END, f->number, t->sid, ad);
    if (aead_open(t->aead, nonce, ad, adl, f->sealed, f->sealed_len, pt) !=
        FERRY_OK) {
        fail_integrity(t, "end-auth");
        return;
    }
    sha256_final(t->hash, hash);
    if (f->number != t->nchunks || t->next != t->nchunks ||
        be64_get(pt) != t->size || t->written != t->size ||
        memcmp(pt + 8, hash, 32) != 0) {
        fail_integrity(t, "hash-mismatch");
        return;
    }
    /* Durable first, then visible under its final name. */
    if (fsync(t->fd) < 0 || rename(t->part_path, t->path) < 0) {
        transfer_finish(t, FERRY_DONE_IO, "rename");
        return;
    }
    unlink(t->state_path);
    frame_put_ack(t->out, t->next);
    frame_put_empty(t->out, FRAME_VERIFIED);
    flush(t);
    transfer_progress(t, t->written);
    transfer_finish(t, FERRY_DONE_OK, NULL);
}

static void on_frame(ferry_transfer_t *t, const struct frame *f)
{
    uint8_t proof[32];
    uint64_t done;

    switch (f->type) {
    case FRAME_HELLO:
        if (t->st != T_RELAY_HS)
            break;
        chan_proof(t->ch.key, f->challenge,
                   t->is_sender ? ROLE_SENDER : ROLE_RECEIVER, t->ch.id, proof);
        frame_put_auth(t->out, t->is_sender ? ROLE_SENDER : ROLE_RECEIVER,
                       t->ch.id, proof);
        break;
    case FRAME_ADMITTED:
        t->st = T_WAIT_PEER;
        transfer_event(t, "admitted");
        break;
    case FRAME_PEER_JOINED:
        transfer_event(t, "peer-joined");
        t->st = t->is_sender ? T_STREAMING : T_RECEIVING;
        break;
    case FRAME_SLOW_DOWN:
        t->paused = 1;
        transfer_event(t, "slow-down");
        break;
    case FRAME_RESUME:
        t->paused = 0;
        transfer_event(t, "resume");
        break;
    case FRAME_ACK:
        if (!t->is_sender)
            break;
        t->acked = f->number;
        done = t->acked * t->chunk;
        transfer_progress(t, done > t->size ? t->size : done);
        break;
    case FRAME_VERIFIED:
        if (t->is_sender && t->st == T_WAIT_VERIFIED)
            transfer_finish(t, FERRY_DONE_OK, NULL);
        break;
    case FRAME_DATA:
        if (!t->is_sender && t->st == T_RECEIVING)
            on_data(t, f);
        break;
    case FRAME_END:
        if (!t->is_sender && t->st == T_RECEIVING)
            on_end(t, f);
        break;
    case FRAME_CANCEL:
        transfer_finish(t,
                        f->code == FERRY_ERR_INTEGRITY ? FERRY_DONE_INTEGRITY
                                                       : FERRY_DONE_CANCELLED,
                        ferry_errname(f->code));
        break;
    case FRAME_PEER_GONE:
        transfer_finish(t, FERRY_DONE_PEER_GONE, ferry_errname(f->code));
        break;
    case FRAME_ERROR:
        transfer_finish(t, FERRY_DONE_REFUSED, ferry_errname(f->code));
        break;
    default:
        break;
    }
}

void relay_io(ferry_transfer_t *t, int readable)
{
    struct frame f;
    size_t used;
    uint8_t *p;
    ssize_t n;
    int rc, rounds;

    if (readable) {
        /* Bounded rounds so one busy transfer cannot starve the loop. */
        for (rounds = 0; rounds < 16 && t->st != T_FINISHED; rounds++) {
            if (buf_reserve(t->in, 65536, &p) != FERRY_OK)
                break;
            n = relay_recv(t, p, 65536);
            buf_unreserve(t->in, 65536 - (n > 0 ? (size_t)n : 0));
            if (n == 0) {
                transfer_finish(t, FERRY_DONE_PEER_GONE, "relay-closed");
                return;
            }
            if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                    transfer_finish(t, FERRY_DONE_PEER_GONE, "relay-closed");
                break;
            }
            while (t->st != T_FINISHED) {
                rc = frame_decode(buf_ptr(t->in), buf_len(t->in),
                                  FERRY_FRAME_MAX, &f, &used);
                if (rc == FERRY_ERR_NEED_MORE)
                    break;
                if (rc != FERRY_OK) {
                    transfer_finish(t, FERRY_DONE_INTEGRITY, ferry_errname(rc));
                    return;
                }
                on_frame(t, &f);
                if (t->st != T_FINISHED)
                    buf_consume(t->in, used);
            }
            /* TLS hands out one record (16 KiB) a call: go on until
             * the socket is empty, within the rounds. */
            if (n < 65536 && t->ssl == NULL)
                break;
        }
    }
    if (t->st == T_FINISHED)
        return;
    fill(t);
    if (t->st != T_FINISHED)
        flush(t);
}
