/* Fuzz target: the frame decoder (common/frame.c, common/buf.c).
 * Decodes a stream of frames the way a peer reads them, frame after frame,
 * and re-encodes every frame it accepts: the encoder must give back the
 * very bytes decoded (one frame, one spelling). */
#include <string.h>

#include "buf.h"
#include "err.h"
#include "frame.h"
#include "fuzz.h"

static void reencode(const struct frame *f, const uint8_t *p, size_t used)
{
    struct buf *b = buf_new(used);
    int rc;

    FUZZ_ASSERT(b != NULL);
    switch (f->type) {
    case FRAME_HELLO:
        rc = frame_put_hello(b, f->challenge);
        break;
    case FRAME_AUTH:
        rc = f->has_slot ? frame_put_auth_slot(b, f->role, f->chan_id,
                                               f->proof, f->slot)
                         : frame_put_auth(b, f->role, f->chan_id, f->proof);
        break;
    case FRAME_KEY:
        rc = frame_put_key(b, f->sealed);
        break;
    case FRAME_CHECK:
        rc = frame_put_check(b, f->number, f->sealed);
        break;
    case FRAME_LEG:
        rc = frame_put_leg(b, f->slot, f->inner, f->inner_len);
        break;
    case FRAME_ADMITTED:
        rc = frame_put_admitted(b, f->flag);
        break;
    case FRAME_DATA:
        rc = frame_put_data(b, f->number, f->sealed, f->sealed_len);
        break;
    case FRAME_END:
        rc = frame_put_end(b, f->number, f->sealed);
        break;
    case FRAME_ACK:
        rc = frame_put_ack(b, f->number);
        break;
    case FRAME_VERIFIED:
        rc = frame_put_verified(b, f->sealed);
        break;
    case FRAME_CANCEL:
    case FRAME_PEER_GONE:
        rc = frame_put_code(b, f->type, f->code);
        break;
    case FRAME_SLOW_DOWN:
        rc = frame_put_slow_down(b, f->queued);
        break;
    case FRAME_PEER_JOINED:
    case FRAME_RESUME:
        rc = frame_put_empty(b, f->type);
        break;
    default:
        buf_free(b);
        return; /* ERROR: its encoder takes a C string; checked below */
    }
    FUZZ_ASSERT(rc == FERRY_OK);
    FUZZ_ASSERT(buf_len(b) == used);
    FUZZ_ASSERT(memcmp(buf_ptr(b), p, used) == 0);
    buf_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame f;
    size_t used;
    int rc;

    while (size > 0) {
        rc = frame_decode(data, size, FERRY_FRAME_MAX, &f, &used);
        if (rc != FERRY_OK) {
            FUZZ_ASSERT(rc == FERRY_ERR_NEED_MORE || ferry_err_is_wire(rc));
            break;
        }
        FUZZ_ASSERT(used >= FERRY_FRAME_HDR && used <= size);
        FUZZ_ASSERT(frame_check_header(f.type, f.body_len, FERRY_FRAME_MAX) ==
                    FERRY_OK);
        if (f.type == FRAME_ERROR)
            for (size_t i = 0; i < f.text_len; i++)
                FUZZ_ASSERT(f.text[i] >= 0x20 && f.text[i] <= 0x7e);
        reencode(&f, data, used);
        data += used;
        size -= used;
    }
    return 0;
}
