#include <errno.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

ssize_t tls_io_result(struct ssl_st *ssl, int rc, int *want_write)
{
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        if (want_write != NULL)
            *want_write = 1;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (rc == 0 || errno == 0)
            return 0; /* EOF without close_notify */
        return -1;
    default:
        ERR_clear_error();
        errno = EIO;
        return -1;
    }
}
