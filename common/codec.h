/* Strict text codecs for values that travel in stanzas. Decoders refuse
 * anything but the canonical form, so one value has one spelling. */
#ifndef FERRY_CODEC_H
#define FERRY_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Lower-case hex. out must hold 2*len+1 bytes. */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Exactly outlen bytes from exactly 2*outlen hex digits; FERRY_OK or
 * FERRY_ERR_BAD_VALUE. */
int hex_decode(const char *in, uint8_t *out, size_t outlen);

/* Standard base64 with padding. out must hold b64_len(len)+1 bytes. */
size_t b64_len(size_t len);
void b64_encode(const uint8_t *in, size_t len, char *out);
/* Decodes padded base64 into at most outmax bytes; *outlen gets the
 * count. FERRY_OK, FERRY_ERR_BAD_VALUE (bad char/padding/length) or
 * FERRY_ERR_TOO_LARGE. No whitespace is allowed. */
int b64_decode(const char *in, uint8_t *out, size_t outmax, size_t *outlen);

/* Decimal u64 without sign, leading zeros or spaces, at most max.
 * FERRY_OK or FERRY_ERR_BAD_VALUE. */
int parse_u64(const char *s, uint64_t max, uint64_t *out);

#endif
