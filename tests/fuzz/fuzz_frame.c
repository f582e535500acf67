/* libFuzzer target for the frame decoder (--enable-fuzzing, CC=clang).
 * Decodes a stream of frames the way the relay does, frame after frame. */
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct frame f;
    size_t used;

    while (size > 0) {
        if (frame_decode(data, size, FERRY_FRAME_MAX, &f, &used) != FERRY_OK)
            break;
        if (used == 0 || used > size)
            __builtin_trap();
        data += used;
        size -= used;
    }
    return 0;
}
