/* The resume state file. Read strictly: a line that does not parse in
 * full, or names an invalid session id or JID, is no state at all, and the
 * transfer starts from chunk 0 (never from a guessed point). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "codec.h"
#include "err.h"
#include "state.h"

int state_save(const char *path, const struct ferry_state *s)
{
    char *tmp = g_strdup_printf("%s.tmp", path);
    FILE *f;
    int ok;

    if ((f = fopen(tmp, "w")) == NULL) {
        g_free(tmp);
        return FERRY_ERR_IO;
    }
    ok = fprintf(f, "%s %llu %llu %llu %s\n", s->sid,
                 (unsigned long long)s->size, (unsigned long long)s->chunk,
                 (unsigned long long)s->next, s->peer) > 0;
    ok = (fclose(f) == 0) && ok;
    ok = ok && rename(tmp, path) == 0;
    if (!ok)
        remove(tmp);
    g_free(tmp);
    return ok ? FERRY_OK : FERRY_ERR_IO;
}

int state_parse(const char *buf, size_t n, struct ferry_state *s)
{
    char line[STATE_LINE_MAX + 1], *field[5], *save = NULL, *p;
    int i;

    /* Exactly one line, ending in a newline, nothing after it. */
    if (n == 0 || n > STATE_LINE_MAX || buf[n - 1] != '\n' ||
        memchr(buf, '\n', n) != buf + n - 1 || memchr(buf, '\0', n) != NULL)
        return FERRY_ERR_MALFORMED;
    memcpy(line, buf, n - 1);
    line[n - 1] = '\0';
    for (i = 0, p = line; i < 5; i++, p = NULL)
        if ((field[i] = strtok_r(p, " ", &save)) == NULL)
            return FERRY_ERR_MALFORMED;
    if (strtok_r(NULL, " ", &save) != NULL || !ferry_valid_sid(field[0]) ||
        strlen(field[0]) >= sizeof(s->sid) || !ferry_valid_jid(field[4]) ||
        strlen(field[4]) >= sizeof(s->peer) ||
        parse_u64(field[1], UINT64_MAX, &s->size) != FERRY_OK ||
        parse_u64(field[2], UINT32_MAX, &s->chunk) != FERRY_OK ||
        parse_u64(field[3], UINT64_MAX, &s->next) != FERRY_OK)
        return FERRY_ERR_MALFORMED;
    strcpy(s->sid, field[0]);
    strcpy(s->peer, field[4]);
    return FERRY_OK;
}

int state_load(const char *path, struct ferry_state *s)
{
    char line[STATE_LINE_MAX + 1];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL)
        return FERRY_ERR_IO;
    n = fread(line, 1, sizeof(line), f);
    fclose(f);
    return state_parse(line, n, s);
}
