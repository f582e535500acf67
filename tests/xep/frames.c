/* Prints common/'s frame table as "NAME 0xTT MIN MAX" lines, for
 * tests/xep/check-xep.sh to compare with the XEP's frame table (or, with
 * the argument "errors", its error code table). */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "frame.h"

int main(int argc, char **argv)
{
    size_t n, i;
    const struct frame_info *t = frame_table(&n);
    int c;

    /* "errors": the wire error codes as "CODE NAME" lines instead. */
    if (argc > 1 && strcmp(argv[1], "errors") == 0) {
        for (c = 1; c <= FERRY_ERR_WIRE_MAX; c++)
            if (ferry_err_is_wire(c))
                printf("%d %s\n", c, ferry_errname(c));
        return 0;
    }
    for (i = 0; i < n; i++)
        printf("%s 0x%02x %u %u\n", t[i].name, t[i].type, t[i].min_body,
               t[i].max_body);
    return 0;
}
