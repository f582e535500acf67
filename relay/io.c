/* Byte I/O of a relay connection, plain or TLS. Every read and write of
 * relay/ goes through here, so the rest of the relay never asks which.
 * Results follow read(2)/write(2): >0 bytes, 0 end of stream, -1 with errno
 * (EAGAIN when TLS wants the socket again, EIO when TLS failed). */
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "log.h"
#include "relay.h"
#include "tls.h"

/* Loads tls_cert and tls_key into a new context; on success it replaces
 * the current one, on failure the current one stays. */
int tls_setup(struct relay *r)
{
    SSL_CTX *ctx;

    if (r->conf.tls_listen == NULL || r->conf.tls_listen[0] == NULL)
        return FERRY_OK;
    if (r->conf.tls_cert == NULL || r->conf.tls_cert[0] == '\0' ||
        r->conf.tls_key == NULL || r->conf.tls_key[0] == '\0') {
        log_warnx("tls_listen needs tls_cert and tls_key");
        return FERRY_ERR_CONFIG;
    }
    if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
        return FERRY_ERR_CRYPTO;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* The ring hands out whatever the socket took last time, from the same
     * place: partial writes and a moving buffer are both fine. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, r->conf.tls_cert) != 1) {
        log_warnx("tls_cert %s: cannot load the certificate chain",
                  r->conf.tls_cert);
        SSL_CTX_free(ctx);
        return FERRY_ERR_CONFIG;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, r->conf.tls_key, SSL_FILETYPE_PEM) !=
            1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        log_warnx("tls_key %s: cannot load it, or it does not match the "
                  "certificate",
                  r->conf.tls_key);
        SSL_CTX_free(ctx);
        return FERRY_ERR_CONFIG;
    }
    /* Connections already up keep the context they were made with
     * (OpenSSL counts references): a reload only affects new ones. */
    SSL_CTX_free(r->tls_ctx);
    r->tls_ctx = ctx;
    return FERRY_OK;
}

void tls_teardown(struct relay *r)
{
    SSL_CTX_free(r->tls_ctx);
    r->tls_ctx = NULL;
}

int io_tls_begin(struct relay *r, struct conn *c)
{
    if ((c->c_ssl = SSL_new(r->tls_ctx)) == NULL ||
        SSL_set_fd(c->c_ssl, c->c_fd) != 1)
        return -1;
    SSL_set_accept_state(c->c_ssl);
    c->c_tls_hs = 1;
    return 0;
}

static ssize_t tls_result(struct conn *c, int rc)
{
    return tls_io_result(c->c_ssl, rc, &c->c_tls_want_write);
}

int io_tls_handshake(struct conn *c)
{
    int rc;

    c->c_tls_want_write = 0;
    rc = SSL_do_handshake(c->c_ssl);
    if (rc == 1) {
        c->c_tls_hs = 0;
        return 1;
    }
    if (tls_result(c, rc) < 0 && errno == EAGAIN)
        return 0;
    return -1;
}

ssize_t io_read(struct conn *c, void *p, size_t n)
{
    int rc;

    if (c->c_ssl == NULL)
        return read(c->c_fd, p, n);
    if (n == 0)
        return 0;
    c->c_tls_want_write = 0;
    rc = SSL_read(c->c_ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    return rc > 0 ? rc : tls_result(c, rc);
}

ssize_t io_write(struct conn *c, const void *p, size_t n)
{
    int rc;

    if (c->c_ssl == NULL)
        return write(c->c_fd, p, n);
    if (n == 0)
        return 0;
    c->c_tls_want_write = 0;
    rc = SSL_write(c->c_ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    return rc > 0 ? rc : tls_result(c, rc);
}

/* TLS has no readv: fill the parts in turn; stop at the first short read
 * so the caller sees what it got. */
ssize_t io_readv(struct conn *c, const struct iovec *iov, int cnt)
{
    ssize_t total = 0, n;
    int i;

    if (c->c_ssl == NULL)
        return readv(c->c_fd, iov, cnt);
    for (i = 0; i < cnt; i++) {
        n = io_read(c, iov[i].iov_base, iov[i].iov_len);
        if (n <= 0)
            return total > 0 ? total : n;
        total += n;
        if ((size_t)n < iov[i].iov_len)
            break;
    }
    return total;
}

ssize_t io_writev(struct conn *c, const struct iovec *iov, int cnt)
{
    ssize_t total = 0, n;
    int i;

    if (c->c_ssl == NULL)
        return writev(c->c_fd, iov, cnt);
    for (i = 0; i < cnt; i++) {
        n = io_write(c, iov[i].iov_base, iov[i].iov_len);
        if (n <= 0)
            return total > 0 ? total : n;
        total += n;
        if ((size_t)n < iov[i].iov_len)
            break;
    }
    return total;
}

/* 1 if a byte is waiting (TLS: decrypted and buffered, or on the socket),
 * 0 at end of stream, -1 with errno otherwise. Consumes nothing. */
int io_peek(struct conn *c)
{
    uint8_t b;
    int rc;

    if (c->c_ssl == NULL) {
        ssize_t n = recv(c->c_fd, &b, 1, MSG_PEEK);
        return n > 0 ? 1 : (int)n;
    }
    rc = SSL_peek(c->c_ssl, &b, 1);
    return rc > 0 ? 1 : (int)tls_result(c, rc);
}

size_t io_pending(const struct conn *c)
{
    return c->c_ssl != NULL ? (size_t)SSL_pending(c->c_ssl) : 0;
}

void io_shutdown_write(struct conn *c)
{
    if (c->c_ssl != NULL && !c->c_tls_hs)
        (void)SSL_shutdown(c->c_ssl); /* close_notify, best effort */
    shutdown(c->c_fd, SHUT_WR);
}

void io_free(struct conn *c)
{
    SSL_free(c->c_ssl);
    c->c_ssl = NULL;
}
