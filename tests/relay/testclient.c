/* ferry-testclient: speaks the relay wire protocol with common/, for the
 * relay's integration tests and benchmarks. Not installed.
 *
 *   mint  --secret-file F [--ttl S] [--slots N]  print a fresh channel id
 *                                              (N > 0: a fan-out channel)
 *   send  --port P --secret-file F --id HEX --file PATH [options]
 *   recv  --port P --secret-file F --id HEX --out PATH [options]
 *   raw   --port P --hex BYTES                 send bytes after HELLO
 *   replay --port P --secret-file F --id HEX   replay an AUTH elsewhere
 *   hold  --port P --count N --hold-ms MS      N idle connections, held
 *   http  --port P [--split N] [--delay-ms D] [--size N | --hex BYTES]
 *                                              one HTTP request, in pieces
 *
 * Options: --host H, --chunk N, --plain (no AEAD, no hash: relay
 * benchmarks),
 * --wrong-proof, --role sender|receiver (raw: authenticate first),
 * --read-delay-ms N (recv: a slow reader), --cancel-after N (recv: CANCEL
 * after N chunks), --direct-listen P (recv: no
 * relay, accept one sender), --direct (send: to such a receiver),
 * --tls [--tls-ca PEM] (TLS to the relay, verified against that CA),
 * --forge-verified random|size|end (recv: answer a good END with a VERIFIED
 * the sender must refuse: 56 random bytes, as anyone without the content
 * key could send; a sealed confirmation of another size; the sender's own
 * END reflected back).
 * hold: connects N times (nothing sent), holds them MS ms, then prints
 * "event=held opened=N closed-by-peer=K" (K: closed by the other end).
 * http: GET /metrics (padded with a header to --size bytes of head, or the
 * raw --hex bytes), written --split bytes at a time --delay-ms apart; the
 * answer is read to EOF: "event=http status=S length-ok=0|1 eof=1", or
 * "event=http-no-answer". Exits 0 on 200, 3 on any other status.
 * The sender exits 0 only on a VERIFIED that opens and names the size and
 * hash its END sealed (XEP "Completion").
 * Fan-out (a channel minted with --slots): "send --legs N [--join-ms MS]"
 * waits for LEG(i, PEER_JOINED) of N legs (or MS ms, default 10000), sends
 * each joined leg LEG(i, KEY) (a random transfer key K sealed under slot
 * key(i)), the DATA once (sealed under K), LEG(i, END) (sealed under slot
 * key(i)), then prints "event=leg slot=I outcome=verified|gone|integrity
 * code=NAME" per leg and exits 0 only if all N verified. "recv --slot I"
 * authenticates with the 67-byte AUTH and slot key(I) (--slot-key J proves
 * with slot key(J) instead, --auth66 sends the 66-byte AUTH), takes KEY,
 * then DATA and END as usual and seals VERIFIED under slot key(I). A
 * simplified key schedule: the relay never looks inside, and only these
 * two ends must agree.
 * Prints one "event=..." line per event; exit codes: 0 done, 2 usage,
 * 3 ERROR frame, 4 PEER_GONE, 5 integrity, 6 I/O. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "buf.h"
#include "chan.h"
#include "codec.h"
#include "conf.h"
#include "crypto.h"
#include "err.h"
#include "frame.h"

enum {
    EX_OK = 0,
    EX_USAGE = 2,
    EX_ERRFRAME = 3,
    EX_GONE = 4,
    EX_INTEGRITY = 5,
    EX_IO = 6
};

enum forge { FORGE_NONE, FORGE_RANDOM, FORGE_SIZE, FORGE_END };

static struct {
    const char *host, *secret_file, *id_hex, *file, *out, *hex, *tls_ca;
    int port, plain, wrong_proof, direct, direct_listen, read_delay_ms, tls;
    int count, hold_ms, split, delay_ms;
    int slots, legs, join_ms, slot, slot_key, auth66, cancel_after;
    size_t size;
    enum forge forge;
    long ttl;
    size_t chunk;
    uint8_t role;
} opt = {.host = "127.0.0.1",
         .ttl = 300,
         .chunk = 65536,
         .count = 1,
         .join_ms = 10000,
         .slot = -1,
         .slot_key = -1};

static uint8_t chan_id[32], chan_k[32];
static struct aead *aead;

/* Fan-out: a receiver's slot key; the kind of the sealed KEY frame. */
#define TC_KIND_KEY 4
static uint8_t slot_k[32];
static struct aead *aead_slot;

/* Sender: what its END committed to, for checking VERIFIED. */
static struct {
    int sent;
    uint64_t count;
    uint8_t pt[40]; /* size u64 | SHA-256 */
} end_sent;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --tls: the relay connection is wrapped in TLS (blocking); every read and
 * write of that connection goes through tc_read/tc_write. */
static SSL *tls;

static ssize_t tc_read(int fd, void *p, size_t n)
{
    int rc;

    if (tls == NULL)
        return read(fd, p, n);
    rc = SSL_read(tls, p, (int)n);
    return rc > 0 ? rc : (SSL_get_error(tls, rc) == SSL_ERROR_ZERO_RETURN ? 0 : -1);
}

static ssize_t tc_write(int fd, const void *p, size_t n)
{
    int rc;

    if (tls == NULL)
        return write(fd, p, n);
    rc = SSL_write(tls, p, (int)n);
    return rc > 0 ? rc : -1;
}

/* TLS over a connected socket; verifies the relay's certificate against
 * --tls-ca and the host name when a CA is given. */
static int tls_wrap(int fd)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        return -1;
    if (opt.tls_ca != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, opt.tls_ca, NULL) != 1) {
            SSL_CTX_free(ctx);
            return -1;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    tls = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL keeps its own reference */
    if (tls == NULL || SSL_set_fd(tls, fd) != 1 ||
        SSL_set_tlsext_host_name(tls, opt.host) != 1 ||
        (opt.tls_ca != NULL && SSL_set1_host(tls, opt.host) != 1))
        return -1;
    if (SSL_connect(tls) != 1) {
        printf("event=tls-failed verify=%s\n",
               X509_verify_cert_error_string(SSL_get_verify_result(tls)));
        return -1;
    }
    printf("event=tls version=%s\n", SSL_get_version(tls));
    return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
    const uint8_t *q = p;
    ssize_t w;

    while (n > 0) {
        w = tc_write(fd, q, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        q += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Buffers input until one whole frame is at the front of `in` and decodes
 * it into f (the caller consumes it). 0, or -1 on EOF or a bad frame. */
static int read_frame(int fd, struct buf *in, struct frame *f)
{
    size_t used;
    uint8_t *p;
    ssize_t n;
    int rc;

    for (;;) {
        rc = frame_decode(buf_ptr(in), buf_len(in), FERRY_FRAME_MAX, f, &used);
        if (rc == FERRY_OK)
            return 0;
        if (rc != FERRY_ERR_NEED_MORE) {
            printf("event=bad-frame code=%s\n", ferry_errname(rc));
            return -1;
        }
        if (buf_reserve(in, 65536, &p) != FERRY_OK)
            return -1;
        n = tc_read(fd, p, 65536);
        buf_unreserve(in, 65536 - (n > 0 ? (size_t)n : 0));
        if (n <= 0)
            return -1;
    }
}

static int connect_to(const char *host, int port)
{
    struct addrinfo hints, *res, *ai;
    char ps[16];
    int fd = -1, one = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &res) != 0)
        return -1;
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int report(const struct frame *f)
{
    switch (f->type) {
    case FRAME_ERROR:
        printf("event=error code=%s text=\"%.*s\"\n", ferry_errname(f->code),
               (int)f->text_len, f->text);
        return EX_ERRFRAME;
    case FRAME_PEER_GONE:
        printf("event=peer-gone reason=%s\n", ferry_errname(f->code));
        return EX_GONE;
    case FRAME_CANCEL:
        printf("event=cancel reason=%s\n", ferry_errname(f->code));
        return EX_GONE;
    default:
        printf("event=frame type=%s\n", frame_name(f->type));
        return -1;
    }
}

static int first_leg = -1; /* fan-out sender: the leg handshake() saw */

/* HELLO, AUTH, ADMITTED, then PEER_JOINED (a fan-out sender: the first
 * LEG(i, PEER_JOINED)). Returns the socket or -exit. */
static int handshake(struct buf *in, uint8_t role)
{
    struct frame f;
    uint8_t proof[32];
    struct buf *out = buf_new(256);
    int fd = connect_to(opt.host, opt.port), rc;

    if (fd < 0) {
        printf("event=connect-failed\n");
        return -EX_IO;
    }
    if (opt.tls && tls_wrap(fd) != 0)
        return -EX_IO;
    if (read_frame(fd, in, &f) < 0 || f.type != FRAME_HELLO) {
        printf("event=no-hello\n");
        return -EX_IO;
    }
    chan_proof(role == ROLE_RECEIVER && opt.slot >= 0 ? slot_k : chan_k,
               f.challenge, role, chan_id, proof);
    buf_consume(in, FERRY_FRAME_HDR + f.body_len);
    if (opt.wrong_proof)
        proof[0] ^= 1;
    if (role == ROLE_RECEIVER && opt.slot >= 0 && !opt.auth66)
        frame_put_auth_slot(out, role, chan_id, proof, (uint8_t)opt.slot);
    else
        frame_put_auth(out, role, chan_id, proof);
    write_all(fd, buf_ptr(out), buf_len(out));
    buf_free(out);
    for (;;) {
        if (read_frame(fd, in, &f) < 0) {
            printf("event=closed-in-handshake\n");
            return -EX_IO;
        }
        buf_consume(in, FERRY_FRAME_HDR + f.body_len);
        if (f.type == FRAME_ADMITTED) {
            printf("event=admitted peer-present=%u\n", f.flag);
            fflush(stdout);
            continue;
        }
        if (f.type == FRAME_PEER_JOINED) {
            printf("event=peer-joined\n");
            fflush(stdout);
            return fd;
        }
        /* A fan-out sender starts with its first leg. */
        if (f.type == FRAME_LEG && f.inner[0] == FRAME_PEER_JOINED) {
            printf("event=leg-joined slot=%u\n", f.slot);
            fflush(stdout);
            first_leg = f.slot;
            return fd;
        }
        rc = report(&f);
        close(fd);
        return -(rc < 0 ? EX_IO : rc);
    }
}

/* Sender: VERIFIED counts only if it opens under direction 2, kind 3 and
 * END's count, and names the size and hash END sealed; one before END went
 * out cannot be genuine. */
static int sender_verified(const struct frame *f)
{
    if (!end_sent.sent ||
        ferry_verified_open(aead, "test", end_sent.count, be64_get(end_sent.pt),
                            end_sent.pt + 8, f->sealed) != FERRY_OK) {
        printf("event=integrity verified\n");
        return EX_INTEGRITY;
    }
    printf("event=verified\n");
    return EX_OK;
}

/* Handles frames the relay sends a sender mid-transfer. Returns -1 to go
 * on, or an exit code. *paused follows SLOW_DOWN/RESUME. */
static int sender_events(int fd, struct buf *in, int block, int *paused,
                         uint64_t *acked)
{
    struct frame f;
    struct pollfd p = {fd, POLLIN, 0};
    size_t used;
    int rc;

    /* Frames already buffered come first: poll() only sees the socket. */
    while (frame_decode(buf_ptr(in), buf_len(in), FERRY_FRAME_MAX, &f, &used) ==
               FERRY_OK ||
           (tls != NULL && SSL_pending(tls) > 0) ||
           poll(&p, 1, block ? 10000 : 0) > 0) {
        if (read_frame(fd, in, &f) < 0)
            return EX_IO;
        if (f.type == FRAME_VERIFIED) /* f.sealed points into `in` */
            return sender_verified(&f);
        buf_consume(in, FERRY_FRAME_HDR + f.body_len);
        switch (f.type) {
        case FRAME_SLOW_DOWN:
            printf("event=slow-down queued=%u\n", f.queued);
            *paused = 1;
            break;
        case FRAME_RESUME:
            printf("event=resume\n");
            *paused = 0;
            break;
        case FRAME_ACK:
            *acked = f.number;
            break;
        default:
            rc = report(&f);
            return rc < 0 ? EX_IO : rc;
        }
        fflush(stdout);
        if (block && !*paused)
            return -1;
    }
    return -1;
}

static int do_send(void)
{
    struct buf *in = buf_new(FERRY_FRAME_HDR + FERRY_FRAME_MAX + 65536);
    uint8_t *chunk = malloc(opt.chunk), *frame_buf;
    uint8_t nonce[12], ad[FERRY_AD_MAX], endpt[40], endsealed[56];
    struct sha256 *h = sha256_new();
    uint64_t num = 0, total = 0, acked = 0;
    int fd, rc = -1, paused = 0;
    FILE *src = fopen(opt.file, "rb");
    size_t n, adl;
    double t0;

    frame_buf = malloc(FERRY_FRAME_HDR + 8 + opt.chunk + 16);
    if (src == NULL || chunk == NULL || frame_buf == NULL) {
        perror(opt.file);
        return EX_IO;
    }
    if (opt.direct) {
        if ((fd = connect_to(opt.host, opt.port)) < 0) {
            rc = EX_IO;
            goto out;
        }
    } else if ((fd = handshake(in, ROLE_SENDER)) < 0) {
        rc = -fd;
        goto out;
    }
    t0 = now_s();
    while ((n = fread(frame_buf + FERRY_FRAME_HDR + 8, 1, opt.chunk, src)) >
           0) {
        uint8_t *body = frame_buf + FERRY_FRAME_HDR;
        uint32_t blen = (uint32_t)(8 + n + 16);
        if (!opt.plain)
            sha256_update(h, body + 8, n);
        if (!opt.plain) {
            ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, num, nonce);
            adl = ferry_ad(FERRY_KIND_DATA, num, "test", ad);
            aead_seal(aead, nonce, ad, adl, body + 8, n, body + 8);
        } else
            memset(body + 8 + n, 0, 16);
        frame_buf[0] = FRAME_DATA;
        frame_buf[1] = (uint8_t)(blen >> 16);
        frame_buf[2] = (uint8_t)(blen >> 8);
        frame_buf[3] = (uint8_t)blen;
        be64_put(body, num);
        if ((rc = sender_events(fd, in, 0, &paused, &acked)) >= 0)
            goto out;
        while (paused)
            if ((rc = sender_events(fd, in, 1, &paused, &acked)) >= 0)
                goto out;
        if (write_all(fd, frame_buf, FERRY_FRAME_HDR + blen) < 0) {
            /* the relay may have told us why before closing */
            rc = sender_events(fd, in, 1, &paused, &acked);
            if (rc < 0)
                rc = EX_IO;
            goto out;
        }
        num++;
        total += n;
    }
    be64_put(endpt, total);
    sha256_final(h, endpt + 8);
    ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, num, nonce);
    adl = ferry_ad(FERRY_KIND_END, num, "test", ad);
    aead_seal(aead, nonce, ad, adl, endpt, 40, endsealed);
    memcpy(end_sent.pt, endpt, 40);
    end_sent.count = num;
    end_sent.sent = 1;
    {
        struct buf *e = buf_new(128);
        frame_put_end(e, num, endsealed);
        write_all(fd, buf_ptr(e), buf_len(e));
        buf_free(e);
    }
    printf("event=sent bytes=%llu chunks=%llu seconds=%.3f\n",
           (unsigned long long)total, (unsigned long long)num, now_s() - t0);
    fflush(stdout);
    do
        rc = sender_events(fd, in, 1, &paused, &acked);
    while (rc < 0);
out:
    if (fd >= 0)
        close(fd);
    fclose(src);
    free(chunk);
    free(frame_buf);
    sha256_free(h);
    buf_free(in);
    return rc;
}

/* --- fan-out sender ------------------------------------------------------ */
enum leg_state { LEG_NONE, LEG_JOINED, LEG_VERIFIED, LEG_GONE, LEG_BAD };

static struct {
    enum leg_state st;
    int code; /* LEG_GONE: why */
    struct aead *a;
    int end_sent;
} legs[FERRY_SLOTS_MAX];

static int legs_open(void)
{
    int i, n = 0;

    for (i = 0; i < FERRY_SLOTS_MAX; i++)
        n += legs[i].st == LEG_JOINED;
    return n;
}

static int legs_joined(void)
{
    int i, n = 0;

    for (i = 0; i < FERRY_SLOTS_MAX; i++)
        n += legs[i].st != LEG_NONE;
    return n;
}

static void leg_join(unsigned i)
{
    uint8_t k[32];

    if (i >= FERRY_SLOTS_MAX || legs[i].st != LEG_NONE)
        return;
    chan_slot_key(chan_k, i, k);
    legs[i].a = aead_new(FERRY_CIPHER_AES256GCM, k);
    legs[i].st = LEG_JOINED;
    OPENSSL_cleanse(k, sizeof(k));
}

/* One frame from the relay to a fan-out sender. -1 to go on, or an exit
 * code. f points into in; the caller consumes it afterwards. */
static int fan_event(const struct frame *f, int *paused)
{
    struct frame g;
    size_t used;
    unsigned i;

    switch (f->type) {
    case FRAME_SLOW_DOWN:
        *paused = 1;
        return -1;
    case FRAME_RESUME:
        *paused = 0;
        return -1;
    case FRAME_LEG:
        break;
    default: {
        int rc = report(f);
        return rc < 0 ? EX_IO : rc;
    }
    }
    if (frame_decode(f->inner, f->inner_len, FERRY_FRAME_MAX, &g, &used) !=
        FERRY_OK) {
        printf("event=bad-leg\n");
        return EX_IO;
    }
    i = f->slot;
    switch (g.type) {
    case FRAME_PEER_JOINED:
        printf("event=leg-joined slot=%u\n", i);
        leg_join(i);
        break;
    case FRAME_ACK:
        break;
    case FRAME_PEER_GONE:
    case FRAME_CANCEL:
        if (i < FERRY_SLOTS_MAX && legs[i].st == LEG_JOINED) {
            legs[i].st = LEG_GONE;
            legs[i].code = g.code;
        }
        printf("event=leg-gone slot=%u reason=%s\n", i, ferry_errname(g.code));
        break;
    case FRAME_VERIFIED:
        if (i >= FERRY_SLOTS_MAX || legs[i].st != LEG_JOINED)
            break;
        /* Only after END, and only what END sealed for this leg. */
        legs[i].st =
            legs[i].end_sent &&
                    ferry_verified_open(legs[i].a, "test", end_sent.count,
                                        be64_get(end_sent.pt), end_sent.pt + 8,
                                        g.sealed) == FERRY_OK
                ? LEG_VERIFIED
                : LEG_BAD;
        break;
    default:
        printf("event=leg-frame slot=%u type=%s\n", i, frame_name(g.type));
        break;
    }
    fflush(stdout);
    return -1;
}

/* Handles what the relay sent, waiting up to wait_ms for the first frame
 * (0: only what is there). -1 to go on, or an exit code. */
static int fan_events(int fd, struct buf *in, int wait_ms, int *paused)
{
    struct frame f;
    struct pollfd p = {fd, POLLIN, 0};
    size_t used;
    int rc;

    while (frame_decode(buf_ptr(in), buf_len(in), FERRY_FRAME_MAX, &f, &used) ==
               FERRY_OK ||
           (tls != NULL && SSL_pending(tls) > 0) || poll(&p, 1, wait_ms) > 0) {
        if (read_frame(fd, in, &f) < 0)
            return EX_IO;
        rc = fan_event(&f, paused);
        buf_consume(in, FERRY_FRAME_HDR + f.body_len);
        if (rc >= 0)
            return rc;
        wait_ms = 0;
    }
    return -1;
}

/* LEG(i, inner) for every joined leg that is still there. */
static int to_legs(int fd, int kind)
{
    uint8_t nonce[12], ad[FERRY_AD_MAX], k[FERRY_KEY_SEALED_LEN];
    uint8_t endsealed[FERRY_END_SEALED_LEN];
    static uint8_t key[32];
    struct buf *inner = buf_new(128), *out = buf_new(256);
    size_t adl;
    unsigned i;
    int rc = 0;

    if (kind == TC_KIND_KEY)
        ferry_random(key, sizeof(key));
    for (i = 0; i < FERRY_SLOTS_MAX && rc == 0; i++) {
        if (legs[i].st != LEG_JOINED)
            continue;
        buf_reset(inner);
        buf_reset(out);
        if (kind == TC_KIND_KEY) {
            ferry_nonce(FERRY_DIR_TO_RECEIVER, TC_KIND_KEY, 0, nonce);
            adl = ferry_ad(TC_KIND_KEY, 0, "test", ad);
            aead_seal(legs[i].a, nonce, ad, adl, key, 32, k);
            frame_put_key(inner, k);
        } else {
            ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, end_sent.count,
                        nonce);
            adl = ferry_ad(FERRY_KIND_END, end_sent.count, "test", ad);
            aead_seal(legs[i].a, nonce, ad, adl, end_sent.pt, 40, endsealed);
            frame_put_end(inner, end_sent.count, endsealed);
            legs[i].end_sent = 1;
        }
        if (frame_put_leg(out, (uint8_t)i, buf_ptr(inner), buf_len(inner)) !=
                FERRY_OK ||
            write_all(fd, buf_ptr(out), buf_len(out)) < 0)
            rc = -1;
    }
    if (kind == TC_KIND_KEY && rc == 0) {
        aead_free(aead);
        aead = aead_new(FERRY_CIPHER_AES256GCM,
                        key); /* DATA is sealed once, under K */
    }
    buf_free(inner);
    buf_free(out);
    return rc;
}

static int do_fan_send(void)
{
    struct buf *in = buf_new(FERRY_FRAME_HDR + FERRY_FRAME_MAX + 65536);
    uint8_t *frame_buf = malloc(FERRY_FRAME_HDR + 8 + opt.chunk + 16);
    uint8_t nonce[12], ad[FERRY_AD_MAX];
    struct sha256 *h = sha256_new();
    uint64_t num = 0, total = 0;
    FILE *src = fopen(opt.file, "rb");
    int fd, rc = -1, paused = 0, i, all;
    size_t n, adl;
    double t0, deadline;

    if (src == NULL || frame_buf == NULL) {
        perror(opt.file);
        return EX_IO;
    }
    if ((fd = handshake(in, ROLE_SENDER)) < 0) {
        rc = -fd;
        goto out;
    }
    leg_join((unsigned)first_leg);
    deadline = now_s() + opt.join_ms / 1e3;
    while (legs_joined() < opt.legs && now_s() < deadline)
        if ((rc = fan_events(fd, in, (int)((deadline - now_s()) * 1e3) + 1,
                             &paused)) >= 0)
            goto out;
    printf("event=legs joined=%d\n", legs_joined());
    if (to_legs(fd, TC_KIND_KEY) < 0) {
        rc = EX_IO;
        goto out;
    }
    t0 = now_s();
    while ((n = fread(frame_buf + FERRY_FRAME_HDR + 8, 1, opt.chunk, src)) >
           0) {
        uint8_t *body = frame_buf + FERRY_FRAME_HDR;
        uint32_t blen = (uint32_t)(8 + n + 16);
        if (!opt.plain) {
            sha256_update(h, body + 8, n);
            ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, num, nonce);
            adl = ferry_ad(FERRY_KIND_DATA, num, "test", ad);
            aead_seal(aead, nonce, ad, adl, body + 8, n, body + 8);
        } else
            memset(body + 8 + n, 0, 16);
        frame_buf[0] = FRAME_DATA;
        frame_buf[1] = (uint8_t)(blen >> 16);
        frame_buf[2] = (uint8_t)(blen >> 8);
        frame_buf[3] = (uint8_t)blen;
        be64_put(body, num);
        if ((rc = fan_events(fd, in, 0, &paused)) >= 0)
            goto out;
        while (paused)
            if ((rc = fan_events(fd, in, 10000, &paused)) >= 0)
                goto out;
        if (write_all(fd, frame_buf, FERRY_FRAME_HDR + blen) < 0) {
            rc = fan_events(fd, in, 1000, &paused);
            if (rc < 0)
                rc = EX_IO;
            goto out;
        }
        if (num == 0) {
            printf("event=first-data\n");
            fflush(stdout);
        }
        num++;
        total += n;
    }
    be64_put(end_sent.pt, total);
    sha256_final(h, end_sent.pt + 8);
    end_sent.count = num;
    end_sent.sent = 1;
    if (to_legs(fd, FERRY_KIND_END) < 0) {
        rc = EX_IO;
        goto out;
    }
    printf("event=sent bytes=%llu chunks=%llu seconds=%.3f\n",
           (unsigned long long)total, (unsigned long long)num, now_s() - t0);
    fflush(stdout);
    deadline = now_s() + 60;
    rc = -1;
    while (legs_open() > 0 && now_s() < deadline && rc < 0)
        rc = fan_events(fd, in, 1000, &paused);
out:
    all = legs_joined() >= opt.legs;
    for (i = 0; i < FERRY_SLOTS_MAX; i++) {
        const char *o = "gone", *code = "none";
        if (legs[i].st == LEG_NONE && i >= opt.legs)
            continue;
        switch (legs[i].st) {
        case LEG_NONE:
            code = "not-joined";
            break;
        case LEG_JOINED:
            code = "no-answer";
            break;
        case LEG_VERIFIED:
            o = "verified";
            break;
        case LEG_GONE:
            code = ferry_errname(legs[i].code);
            break;
        case LEG_BAD:
            o = "integrity";
            break;
        }
        printf("event=leg slot=%d outcome=%s code=%s\n", i, o, code);
        all = all && legs[i].st == LEG_VERIFIED;
        aead_free(legs[i].a);
    }
    if (rc < 0)
        rc = all ? EX_OK : EX_GONE;
    if (fd >= 0)
        close(fd);
    fclose(src);
    free(frame_buf);
    sha256_free(h);
    buf_free(in);
    return rc;
}

static int do_recv(void)
{
    struct buf *in = buf_new(FERRY_FRAME_HDR + FERRY_FRAME_MAX + 65536);
    /* room for ACK and VERIFIED together */
    struct buf *out =
        buf_new(2 * FERRY_FRAME_HDR + 8 + FERRY_VERIFIED_SEALED_LEN);
    uint8_t *plain = malloc(FERRY_CHUNK_MAX + 16);
    uint8_t nonce[12], ad[FERRY_AD_MAX], hash[32], endpt[40],
        vsealed[FERRY_VERIFIED_SEALED_LEN];
    struct sha256 *h = sha256_new();
    uint64_t next = 0, total = 0;
    FILE *dst = fopen(opt.out, "wb");
    struct frame f;
    int fd, rc = EX_IO, first = 1;
    size_t adl, pl;
    double t0 = now_s();
    struct aead *a_data = aead, *a_ctl = aead;

    if (dst == NULL) {
        perror(opt.out);
        return EX_IO;
    }
    if (opt.direct_listen) {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)opt.direct_listen),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(l, (void *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) {
            perror("listen");
            return EX_IO;
        }
        printf("event=listening\n");
        fflush(stdout);
        fd = accept(l, NULL, NULL);
        close(l);
    } else if ((fd = handshake(in, ROLE_RECEIVER)) < 0) {
        rc = -fd;
        goto done;
    }
    if (opt.slot >= 0) {
        /* Fan-out: KEY comes before any DATA; DATA opens under K, END
         * and VERIFIED under the slot key. */
        uint8_t k[32];
        if (read_frame(fd, in, &f) < 0) {
            printf("event=connection-lost\n");
            rc = EX_IO;
            goto done;
        }
        if (f.type != FRAME_KEY) {
            rc = report(&f);
            if (rc < 0)
                rc = EX_IO;
            goto done;
        }
        ferry_nonce(FERRY_DIR_TO_RECEIVER, TC_KIND_KEY, 0, nonce);
        adl = ferry_ad(TC_KIND_KEY, 0, "test", ad);
        if (aead_open(aead_slot, nonce, ad, adl, f.sealed, f.sealed_len, k) !=
            FERRY_OK) {
            printf("event=integrity key\n");
            rc = EX_INTEGRITY;
            goto done;
        }
        buf_consume(in, FERRY_FRAME_HDR + f.body_len);
        printf("event=key\n");
        a_data = aead_new(FERRY_CIPHER_AES256GCM, k);
        a_ctl = aead_slot;
        OPENSSL_cleanse(k, sizeof(k));
    }
    for (;;) {
        if (opt.read_delay_ms > 0) {
            struct timespec d = {opt.read_delay_ms / 1000,
                                 (long)(opt.read_delay_ms % 1000) * 1000000L};
            nanosleep(&d, NULL);
        }
        if (read_frame(fd, in, &f) < 0) {
            printf("event=connection-lost\n");
            rc = EX_IO;
            break;
        }
        if (f.type == FRAME_DATA) {
            if (first) {
                printf("event=first-byte ms=%.3f\n", (now_s() - t0) * 1e3);
                first = 0;
            }
            if (f.number != next) {
                printf("event=out-of-order got=%llu want=%llu\n",
                       (unsigned long long)f.number, (unsigned long long)next);
                rc = EX_INTEGRITY;
                break;
            }
            pl = f.sealed_len - 16;
            if (!opt.plain) {
                ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_DATA, next,
                            nonce);
                adl = ferry_ad(FERRY_KIND_DATA, next, "test", ad);
                if (aead_open(a_data, nonce, ad, adl, f.sealed, f.sealed_len,
                              plain) != FERRY_OK) {
                    printf("event=integrity chunk=%llu\n",
                           (unsigned long long)next);
                    rc = EX_INTEGRITY;
                    break;
                }
                fwrite(plain, 1, pl, dst);
                sha256_update(h, plain, pl);
            } else /* benchmark mode: no copy, no hash */
                fwrite(f.sealed, 1, pl, dst);
            total += pl;
            next++;
            buf_consume(in, FERRY_FRAME_HDR + f.body_len);
            if (opt.cancel_after > 0 && next == (uint64_t)opt.cancel_after) {
                buf_reset(out);
                frame_put_code(out, FRAME_CANCEL, FERRY_ERR_CANCELLED);
                write_all(fd, buf_ptr(out), buf_len(out));
                printf("event=cancel-sent after=%llu\n",
                       (unsigned long long)next);
                rc = EX_GONE;
                break;
            }
            if (next % 16 == 0) {
                buf_reset(out);
                frame_put_ack(out, next);
                write_all(fd, buf_ptr(out), buf_len(out));
            }
            continue;
        }
        if (f.type == FRAME_END) {
            ferry_nonce(FERRY_DIR_TO_RECEIVER, FERRY_KIND_END, f.number, nonce);
            adl = ferry_ad(FERRY_KIND_END, f.number, "test", ad);
            sha256_final(h, hash);
            if (aead_open(a_ctl, nonce, ad, adl, f.sealed, f.sealed_len,
                          endpt) != FERRY_OK ||
                f.number != next || be64_get(endpt) != total ||
                memcmp(endpt + 8, hash, 32) != 0) {
                printf("event=integrity end\n");
                rc = EX_INTEGRITY;
                break;
            }
            /* The confirmation: END's plaintext, sealed toward the sender
             * (or, with --forge-verified, one the sender must refuse). */
            switch (opt.forge) {
            case FORGE_NONE:
                ferry_verified_seal(a_ctl, "test", f.number, total, hash,
                                    vsealed);
                break;
            case FORGE_RANDOM:
                ferry_random(vsealed, sizeof(vsealed));
                break;
            case FORGE_SIZE:
                ferry_verified_seal(a_ctl, "test", f.number, total + 1, hash,
                                    vsealed);
                break;
            case FORGE_END:
                memcpy(vsealed, f.sealed, sizeof(vsealed));
                break;
            }
            if (opt.forge != FORGE_NONE)
                printf("event=forged-verified\n");
            buf_reset(out);
            if (frame_put_ack(out, next) != FERRY_OK ||
                frame_put_verified(out, vsealed) != FERRY_OK) {
                printf("event=internal verified\n");
                rc = EX_IO;
                break;
            }
            write_all(fd, buf_ptr(out), buf_len(out));
            {
                char hx[65];
                hex_encode(hash, 32, hx);
                printf("event=done bytes=%llu sha256=%s seconds=%.3f\n",
                       (unsigned long long)total, hx, now_s() - t0);
            }
            rc = EX_OK;
            break;
        }
        rc = report(&f);
        if (rc < 0)
            rc = EX_IO;
        break;
    }
done:
    fflush(stdout);
    fclose(dst);
    /* Wait for the relay to close after VERIFIED went out. */
    if (fd >= 0) {
        char junk[256];
        shutdown(fd, SHUT_WR);
        while (tc_read(fd, junk, sizeof(junk)) > 0)
            ;
        close(fd);
    }
    free(plain);
    sha256_free(h);
    buf_free(in);
    buf_free(out);
    if (a_data != aead)
        aead_free(a_data);
    return rc;
}

/* Answers one connection's challenge, then sends that AUTH on a second
 * connection: the relay must refuse it (a fresh challenge each time). */
static int do_replay(void)
{
    struct buf *in = buf_new(FERRY_FRAME_HDR + FERRY_FRAME_MAX + 65536);
    struct buf *out = buf_new(256);
    uint8_t proof[32];
    struct frame f;
    int a = connect_to(opt.host, opt.port), b, rc;

    if (a < 0 || read_frame(a, in, &f) < 0 || f.type != FRAME_HELLO)
        return EX_IO;
    chan_proof(chan_k, f.challenge, ROLE_SENDER, chan_id, proof);
    buf_reset(in);
    frame_put_auth(out, ROLE_SENDER, chan_id, proof);
    if ((b = connect_to(opt.host, opt.port)) < 0 || read_frame(b, in, &f) < 0 ||
        f.type != FRAME_HELLO)
        return EX_IO;
    buf_reset(in);
    write_all(b, buf_ptr(out), buf_len(out));
    if (read_frame(b, in, &f) < 0)
        return EX_IO;
    rc = report(&f);
    close(a);
    close(b);
    buf_free(in);
    buf_free(out);
    return rc < 0 ? EX_IO : rc;
}

static int do_raw(void)
{
    struct buf *in = buf_new(FERRY_FRAME_HDR + FERRY_FRAME_MAX + 65536);
    size_t n = strlen(opt.hex) / 2;
    uint8_t *bytes = malloc(n + 1);
    struct frame f;
    int fd, rc;

    if (hex_decode(opt.hex, bytes, n) != FERRY_OK) {
        fprintf(stderr, "bad --hex\n");
        return EX_USAGE;
    }
    if (opt.role) {
        if ((fd = handshake(in, opt.role)) < 0)
            return -fd;
    } else {
        fd = connect_to(opt.host, opt.port);
        if (fd < 0 || (opt.tls && tls_wrap(fd) != 0) ||
            read_frame(fd, in, &f) < 0 || f.type != FRAME_HELLO)
            return EX_IO;
        buf_consume(in, FERRY_FRAME_HDR + f.body_len);
    }
    write_all(fd, bytes, n);
    for (;;) {
        if (read_frame(fd, in, &f) < 0) {
            printf("event=closed\n");
            return EX_IO;
        }
        /* A fan-out sender hears of its other legs first; a leg may get
         * the sender's first frames before the answer to its bytes. */
        if (f.type != FRAME_LEG && f.type != FRAME_KEY &&
            f.type != FRAME_DATA)
            break;
        buf_consume(in, FERRY_FRAME_HDR + f.body_len);
    }
    rc = report(&f);
    free(bytes);
    buf_free(in);
    close(fd);
    return rc < 0 ? EX_IO : rc;
}

static void sleep_ms(int ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&d, &d) < 0 && errno == EINTR)
        ;
}

/* A TCP connection to host:port that gives up after 2 s (a listener that
 * stopped accepting leaves connects waiting), or -1. */
static int connect_quick(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)opt.port)};
    struct pollfd p;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), err = 0;
    socklen_t el = sizeof(err);

    if (fd < 0 || inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    p.fd = fd;
    p.events = POLLOUT;
    if (poll(&p, 1, 2000) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static int do_hold(void)
{
    int *fds = calloc((size_t)opt.count, sizeof(int)), i, opened = 0, gone = 0;
    struct pollfd *p = calloc((size_t)opt.count, sizeof(*p));
    char junk[4096];
    double end;

    if (fds == NULL || p == NULL)
        return EX_IO;
    for (i = 0; i < opt.count; i++)
        if ((fds[i] = connect_quick()) >= 0)
            opened++;
    printf("event=opened count=%d\n", opened);
    fflush(stdout);
    end = now_s() + opt.hold_ms / 1e3;
    while (now_s() < end) {
        int n = 0, left = (int)((end - now_s()) * 1e3);
        for (i = 0; i < opt.count; i++)
            if (fds[i] >= 0) {
                p[n].fd = fds[i];
                p[n].events = POLLIN;
                p[n++].revents = 0;
            }
        if (n == 0 || poll(p, (nfds_t)n, left > 0 ? left : 0) <= 0)
            break;
        for (i = 0; i < n; i++) {
            ssize_t r;
            int k;
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            r = recv(p[i].fd, junk, sizeof(junk), MSG_DONTWAIT);
            if (r > 0 || (r < 0 && errno == EAGAIN))
                continue; /* an ERROR frame before the close: read on */
            for (k = 0; k < opt.count; k++)
                if (fds[k] == p[i].fd) {
                    close(fds[k]);
                    fds[k] = -1;
                }
            gone++;
        }
    }
    printf("event=held opened=%d closed-by-peer=%d\n", opened, gone);
    for (i = 0; i < opt.count; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    free(p);
    return opened == opt.count ? EX_OK : EX_IO;
}

static int do_http(void)
{
    char *req, resp[65536];
    size_t len, off = 0, got = 0, step;
    const char *head = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       "User-Agent: ferry-testclient\r\n"
                       "Accept: text/plain;version=0.0.4\r\n";
    int fd, status = 0, len_ok = 0, eof = 0;
    ssize_t n;
    char *body, *cl;

    if (opt.hex != NULL) {
        len = strlen(opt.hex) / 2;
        req = malloc(len + 1);
        if (req == NULL || hex_decode(opt.hex, (uint8_t *)req, len) != FERRY_OK)
            return EX_USAGE;
    } else {
        /* head, then "X-Pad: aaa...\r\n" to make --size, then CRLF */
        size_t hl = strlen(head), pad = 0;
        if (opt.size > hl + 11)
            pad = opt.size - hl - 11;
        req = malloc(hl + pad + 12);
        if (req == NULL)
            return EX_IO;
        memcpy(req, head, hl);
        len = hl;
        if (pad > 0) {
            memcpy(req + len, "X-Pad: ", 7);
            memset(req + len + 7, 'a', pad);
            memcpy(req + len + 7 + pad, "\r\n", 2);
            len += 9 + pad;
        }
        memcpy(req + len, "\r\n", 2);
        len += 2;
    }
    if ((fd = connect_quick()) < 0) {
        printf("event=connect-failed\n");
        return EX_IO;
    }
    step = opt.split > 0 ? (size_t)opt.split : len;
    while (off < len) {
        size_t k = len - off < step ? len - off : step;
        if ((n = send(fd, req + off, k, MSG_NOSIGNAL)) <= 0)
            break; /* answered and closed early: read the answer */
        off += (size_t)n;
        if (off < len && opt.delay_ms > 0)
            sleep_ms(opt.delay_ms);
    }
    printf("event=sent bytes=%zu of=%zu\n", off, len);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10000) != 1)
            break;
        n = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
        if (n <= 0) {
            eof = n == 0;
            if (n < 0 && errno == ECONNRESET && got > 0)
                printf("event=reset-after-answer\n");
            break;
        }
        got += (size_t)n;
        if (got == sizeof(resp) - 1)
            break;
    }
    resp[got] = '\0';
    close(fd);
    free(req);
    if (got == 0 || sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
        printf("event=http-no-answer eof=%d\n", eof);
        return EX_IO;
    }
    body = strstr(resp, "\r\n\r\n");
    cl = strstr(resp, "Content-Length: ");
    if (body != NULL && cl != NULL && cl < body)
        len_ok = (size_t)atol(cl + 16) == got - (size_t)(body + 4 - resp);
    printf("event=http status=%d length-ok=%d eof=%d\n", status, len_ok, eof);
    if (body != NULL && status == 200)
        fputs(body + 4, stdout);
    return status == 200 ? EX_OK : EX_ERRFRAME;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"host", 1, 0, 'H'},          {"port", 1, 0, 'p'},
        {"secret-file", 1, 0, 's'},   {"id", 1, 0, 'i'},
        {"file", 1, 0, 'f'},          {"out", 1, 0, 'o'},
        {"chunk", 1, 0, 'c'},         {"plain", 0, 0, 'P'},
        {"wrong-proof", 0, 0, 'w'},   {"ttl", 1, 0, 't'},
        {"hex", 1, 0, 'x'},           {"role", 1, 0, 'r'},
        {"read-delay-ms", 1, 0, 'd'}, {"direct", 0, 0, 'D'},
        {"direct-listen", 1, 0, 'L'}, {"tls", 0, 0, 'S'},
        {"tls-ca", 1, 0, 'C'},        {"forge-verified", 1, 0, 'F'},
        {"count", 1, 0, 'n'},         {"hold-ms", 1, 0, 'h'},
        {"split", 1, 0, 'k'},         {"delay-ms", 1, 0, 'm'},
        {"size", 1, 0, 'z'},          {"slots", 1, 0, 'N'},
        {"legs", 1, 0, 'l'},          {"join-ms", 1, 0, 'j'},
        {"slot", 1, 0, 'I'},          {"slot-key", 1, 0, 'K'},
        {"auth66", 0, 0, '6'},        {"cancel-after", 1, 0, 'Q'},
        {0, 0, 0, 0}};
    const char *cmd;
    uint8_t *secret = NULL;
    size_t slen = 0;
    int ch;

    if (argc < 2) {
        fprintf(stderr, "usage: ferry-testclient mint|send|recv|raw ...\n");
        return EX_USAGE;
    }
    cmd = argv[1];
    optind = 2;
    while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (ch) {
        case 'H':
            opt.host = optarg;
            break;
        case 'p':
            opt.port = atoi(optarg);
            break;
        case 's':
            opt.secret_file = optarg;
            break;
        case 'i':
            opt.id_hex = optarg;
            break;
        case 'f':
            opt.file = optarg;
            break;
        case 'o':
            opt.out = optarg;
            break;
        case 'c':
            opt.chunk = (size_t)atol(optarg);
            break;
        case 'P':
            opt.plain = 1;
            break;
        case 'w':
            opt.wrong_proof = 1;
            break;
        case 't':
            opt.ttl = atol(optarg);
            break;
        case 'x':
            opt.hex = optarg;
            break;
        case 'r':
            opt.role =
                strcmp(optarg, "sender") == 0 ? ROLE_SENDER : ROLE_RECEIVER;
            break;
        case 'd':
            opt.read_delay_ms = atoi(optarg);
            break;
        case 'D':
            opt.direct = 1;
            break;
        case 'L':
            opt.direct_listen = atoi(optarg);
            break;
        case 'S':
            opt.tls = 1;
            break;
        case 'C':
            opt.tls_ca = optarg;
            break;
        case 'n':
            opt.count = atoi(optarg);
            break;
        case 'h':
            opt.hold_ms = atoi(optarg);
            break;
        case 'k':
            opt.split = atoi(optarg);
            break;
        case 'm':
            opt.delay_ms = atoi(optarg);
            break;
        case 'z':
            opt.size = (size_t)atol(optarg);
            break;
        case 'N':
            opt.slots = atoi(optarg);
            break;
        case 'l':
            opt.legs = atoi(optarg);
            break;
        case 'j':
            opt.join_ms = atoi(optarg);
            break;
        case 'I':
            opt.slot = atoi(optarg);
            break;
        case 'K':
            opt.slot_key = atoi(optarg);
            break;
        case '6':
            opt.auth66 = 1;
            break;
        case 'Q':
            opt.cancel_after = atoi(optarg);
            break;
        case 'F':
            if (strcmp(optarg, "random") == 0)
                opt.forge = FORGE_RANDOM;
            else if (strcmp(optarg, "size") == 0)
                opt.forge = FORGE_SIZE;
            else if (strcmp(optarg, "end") == 0)
                opt.forge = FORGE_END;
            else
                return EX_USAGE;
            break;
        default:
            return EX_USAGE;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (opt.chunk < 1 || opt.chunk > FERRY_CHUNK_MAX) {
        fprintf(stderr, "bad --chunk\n");
        return EX_USAGE;
    }
    if (opt.secret_file &&
        conf_read_secret(opt.secret_file, &secret, &slen) != FERRY_OK) {
        fprintf(stderr, "cannot read secret %s\n", opt.secret_file);
        return EX_USAGE;
    }
    if (strcmp(cmd, "mint") == 0) {
        char hx[65];
        if (chan_id_new_slots((uint64_t)((long)time(NULL) + opt.ttl),
                              (unsigned)opt.slots, chan_id) != FERRY_OK) {
            fprintf(stderr, "bad --slots\n");
            return EX_USAGE;
        }
        hex_encode(chan_id, 32, hx);
        printf("%s\n", hx);
        conf_secret_free(secret, slen);
        return EX_OK;
    }
    if (opt.id_hex && hex_decode(opt.id_hex, chan_id, 32) != FERRY_OK) {
        fprintf(stderr, "bad --id\n");
        return EX_USAGE;
    }
    if (secret) {
        chan_key(secret, slen, chan_id, chan_k);
        conf_secret_free(secret, slen);
        secret = NULL;
    }
    aead = aead_new(FERRY_CIPHER_AES256GCM, chan_k);
    if (opt.slot >= 0) {
        if (chan_slot_key(
                chan_k, (unsigned)(opt.slot_key >= 0 ? opt.slot_key : opt.slot),
                slot_k) != FERRY_OK) {
            fprintf(stderr, "bad --slot\n");
            return EX_USAGE;
        }
        aead_slot = aead_new(FERRY_CIPHER_AES256GCM, slot_k);
    }
    if (strcmp(cmd, "send") == 0 && opt.file && opt.legs > 0)
        return do_fan_send();
    if (strcmp(cmd, "send") == 0 && opt.file)
        return do_send();
    if (strcmp(cmd, "recv") == 0 && opt.out)
        return do_recv();
    if (strcmp(cmd, "replay") == 0)
        return do_replay();
    if (strcmp(cmd, "raw") == 0 && opt.hex)
        return do_raw();
    if (strcmp(cmd, "hold") == 0 && opt.count > 0)
        return do_hold();
    if (strcmp(cmd, "http") == 0)
        return do_http();
    fprintf(stderr, "ferry-testclient: bad arguments\n");
    return EX_USAGE;
}
