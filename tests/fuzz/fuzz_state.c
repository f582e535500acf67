/* Fuzz target: libferry's resume state file parser (plugin/state.c). What
 * it accepts must be a valid session id and JID within their buffers, and
 * the line state_save() would write for it must parse to the same state. */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ferry_state s, t;
    char line[STATE_LINE_MAX + 64];
    int n;

    memset(&s, 0, sizeof(s));
    if (state_parse((const char *)data, size, &s) != FERRY_OK)
        return 0;
    FUZZ_ASSERT(memchr(s.sid, '\0', sizeof(s.sid)) != NULL);
    FUZZ_ASSERT(memchr(s.peer, '\0', sizeof(s.peer)) != NULL);
    FUZZ_ASSERT(ferry_valid_sid(s.sid) && ferry_valid_jid(s.peer));
    FUZZ_ASSERT(s.chunk <= UINT32_MAX);
    n = snprintf(line, sizeof(line), "%s %llu %llu %llu %s\n", s.sid,
                 (unsigned long long)s.size, (unsigned long long)s.chunk,
                 (unsigned long long)s.next, s.peer);
    FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(line));
    memset(&t, 0, sizeof(t));
    FUZZ_ASSERT(state_parse(line, (size_t)n, &t) == FERRY_OK);
    FUZZ_ASSERT(memcmp(&s, &t, sizeof(s)) == 0);
    return 0;
}
