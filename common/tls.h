/* One mapping of OpenSSL I/O results to read(2)/write(2) ones, for the
 * relay's TLS listener and libferry's TLS connections to relays. */
#ifndef FERRY_TLS_H
#define FERRY_TLS_H

#include <sys/types.h>

struct ssl_st;

/* For an SSL_read/SSL_write/SSL_peek/SSL_do_handshake result rc <= 0:
 * 0 at end of stream (close_notify or a plain EOF), else -1 with errno
 * EAGAIN (TLS wants the socket again; *want_write, if given, is set when
 * it must write first) or EIO (TLS failed; OpenSSL's error queue is
 * cleared). */
ssize_t tls_io_result(struct ssl_st *ssl, int rc, int *want_write);

#endif
