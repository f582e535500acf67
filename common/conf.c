#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "chan.h"
#include "conf.h"
#include "crypto.h"
#include "err.h"

#define FIELD(t, o, type) ((type *)(void *)((char *)(t) + (o)))

static int set_value(const struct conf_opt *o, void *target, const char *val,
                     char *why, size_t whylen)
{
    char *end;
    long long v;

    switch (o->type) {
    case CONF_INT:
        errno = 0;
        v = strtoll(val, &end, 10);
        if (errno != 0 || end == val || *end != '\0') {
            snprintf(why, whylen, "%s.%s: not an integer: \"%s\"", o->group,
                     o->key, val);
            return -1;
        }
        if (v < o->min || v > o->max) {
            snprintf(why, whylen, "%s.%s: %lld out of range %lld..%lld",
                     o->group, o->key, v, (long long)o->min, (long long)o->max);
            return -1;
        }
        *FIELD(target, o->offset, int64_t) = v;
        break;
    case CONF_BOOL:
        if (strcmp(val, "true") == 0)
            *FIELD(target, o->offset, int) = 1;
        else if (strcmp(val, "false") == 0)
            *FIELD(target, o->offset, int) = 0;
        else {
            snprintf(why, whylen, "%s.%s: not true or false: \"%s\"", o->group,
                     o->key, val);
            return -1;
        }
        break;
    case CONF_STR:
        g_free(*FIELD(target, o->offset, char *));
        *FIELD(target, o->offset, char *) = g_strdup(val);
        break;
    case CONF_STRLIST: {
        char **list = g_strsplit(val, ";", -1);
        size_t i, j = 0;
        /* Drop empty items, so "a;b;" and "a;b" mean the same. */
        for (i = 0; list[i] != NULL; i++) {
            g_strstrip(list[i]);
            if (list[i][0] == '\0')
                g_free(list[i]);
            else
                list[j++] = list[i];
        }
        list[j] = NULL;
        g_strfreev(*FIELD(target, o->offset, char **));
        *FIELD(target, o->offset, char **) = list;
        break;
    }
    }
    return 0;
}

int conf_defaults(const struct conf_opt *opts, size_t n, void *target)
{
    char why[256];
    size_t i;

    for (i = 0; i < n; i++) {
        if (opts[i].def == NULL)
            continue;
        if (set_value(&opts[i], target, opts[i].def, why, sizeof(why)) != 0)
            return FERRY_ERR_CONFIG; /* a bug in the table */
    }
    return FERRY_OK;
}

/* Line of "key =" inside [group], or of the group header when key is NULL;
 * 0 when not found. GKeyFile does not report lines, so look them up. */
static int find_line(char **lines, const char *group, const char *key)
{
    int i, in = 0;
    size_t kl = key ? strlen(key) : 0;

    for (i = 0; lines[i] != NULL; i++) {
        const char *l = lines[i];
        while (*l == ' ' || *l == '\t')
            l++;
        if (*l == '[') {
            in = strncmp(l + 1, group, strlen(group)) == 0 &&
                 l[1 + strlen(group)] == ']';
            if (in && key == NULL)
                return i + 1;
            continue;
        }
        if (in && key != NULL && strncmp(l, key, kl) == 0 &&
            (l[kl] == '=' || l[kl] == ' ' || l[kl] == '\t'))
            return i + 1;
    }
    return 0;
}

static const struct conf_opt *lookup(const struct conf_opt *opts, size_t n,
                                     const char *group, const char *key)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strcmp(opts[i].group, group) == 0 &&
            (key == NULL || strcmp(opts[i].key, key) == 0))
            return &opts[i];
    return NULL;
}

int conf_load(const struct conf_opt *opts, size_t n, void *target,
              const char *path, FILE *errs)
{
    GKeyFile *kf = g_key_file_new();
    GError *err = NULL;
    gchar *text = NULL, **lines = NULL, **groups = NULL, **keys = NULL;
    gsize len, i, j;
    char why[512];
    int problems = 0;

    if (!g_file_get_contents(path, &text, &len, &err)) {
        fprintf(errs, "%s:0: %s\n", path, err->message);
        problems++;
        goto out;
    }
    lines = g_strsplit(text, "\n", -1);
    if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &err)) {
        fprintf(errs, "%s:0: %s\n", path, err->message);
        problems++;
        goto out;
    }
    groups = g_key_file_get_groups(kf, NULL);
    for (i = 0; groups[i] != NULL; i++) {
        if (lookup(opts, n, groups[i], NULL) == NULL) {
            fprintf(errs, "%s:%d: unknown section [%s]\n", path,
                    find_line(lines, groups[i], NULL), groups[i]);
            problems++;
            continue;
        }
        keys = g_key_file_get_keys(kf, groups[i], NULL, NULL);
        for (j = 0; keys != NULL && keys[j] != NULL; j++) {
            const struct conf_opt *o = lookup(opts, n, groups[i], keys[j]);
            gchar *val;
            int line = find_line(lines, groups[i], keys[j]);
            if (o == NULL) {
                fprintf(errs, "%s:%d: unknown key %s.%s\n", path, line,
                        groups[i], keys[j]);
                problems++;
                continue;
            }
            val = g_key_file_get_string(kf, groups[i], keys[j], NULL);
            if (val == NULL ||
                set_value(o, target, g_strstrip(val), why, sizeof(why)) != 0) {
                fprintf(errs, "%s:%d: %s\n", path, line,
                        val ? why : "unreadable value");
                problems++;
            }
            g_free(val);
        }
        g_strfreev(keys);
        keys = NULL;
    }
out:
    if (err != NULL)
        g_error_free(err);
    g_strfreev(groups);
    g_strfreev(lines);
    g_free(text);
    g_key_file_free(kf);
    return problems;
}

int conf_set(const struct conf_opt *opts, size_t n, void *target,
             const char *assignment, FILE *errs)
{
    const char *eq = strchr(assignment, '='), *dot;
    const struct conf_opt *o;
    char *group = NULL, *key = NULL, *val = NULL, why[512];
    int problems = 0;

    dot = eq ? memchr(assignment, '.', (size_t)(eq - assignment)) : NULL;
    if (eq == NULL || dot == NULL || dot == assignment || dot + 1 == eq) {
        fprintf(errs, "-o %s: expected section.key=value\n", assignment);
        return 1;
    }
    group = g_strndup(assignment, (gsize)(dot - assignment));
    key = g_strstrip(g_strndup(dot + 1, (gsize)(eq - dot - 1)));
    val = g_strstrip(g_strdup(eq + 1));
    if ((o = lookup(opts, n, group, key)) == NULL) {
        fprintf(errs, "-o %s: unknown key %s.%s\n", assignment, group, key);
        problems++;
    } else if (set_value(o, target, val, why, sizeof(why)) != 0) {
        fprintf(errs, "-o %s: %s\n", assignment, why);
        problems++;
    }
    g_free(group);
    g_free(key);
    g_free(val);
    return problems;
}

void conf_dump(const struct conf_opt *opts, size_t n, const void *target,
               FILE *out)
{
    size_t i, k;
    char *const *list;
    const char *s;

    for (i = 0; i < n; i++) {
        const struct conf_opt *o = &opts[i];
        fprintf(out, "%s.%s = ", o->group, o->key);
        switch (o->type) {
        case CONF_INT:
            fprintf(out, "%lld",
                    (long long)*FIELD(target, o->offset, const int64_t));
            break;
        case CONF_BOOL:
            fputs(*FIELD(target, o->offset, const int) ? "true" : "false", out);
            break;
        case CONF_STR:
            s = *FIELD(target, o->offset, char *const);
            fputs(s ? s : "", out);
            break;
        case CONF_STRLIST:
            list = *FIELD(target, o->offset, char **const);
            for (k = 0; list != NULL && list[k] != NULL; k++)
                fprintf(out, "%s%s", k ? ";" : "", list[k]);
            break;
        }
        fputc('\n', out);
    }
}

void conf_free(const struct conf_opt *opts, size_t n, void *target)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (opts[i].type == CONF_STR) {
            g_free(*FIELD(target, opts[i].offset, char *));
            *FIELD(target, opts[i].offset, char *) = NULL;
        } else if (opts[i].type == CONF_STRLIST) {
            g_strfreev(*FIELD(target, opts[i].offset, char **));
            *FIELD(target, opts[i].offset, char **) = NULL;
        }
    }
}

int conf_read_secret(const char *path, uint8_t **out, size_t *len)
{
    uint8_t buf[FERRY_SECRET_MAX + 3]; /* the longest secret, CR LF, 1 more */
    size_t l = 0;
    ssize_t r = 0;
    uint8_t *p;
    int fd, saved, rc = FERRY_OK;

    /* open/read rather than g_file_get_contents(): errno survives, so a
     * caller can say "Permission denied" rather than "I/O error". */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return FERRY_ERR_IO;
    while (l < sizeof(buf)) {
        r = read(fd, buf + l, sizeof(buf) - l);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        l += (size_t)r;
    }
    saved = errno;
    close(fd);
    if (r < 0)
        rc = FERRY_ERR_IO;
    else {
        if (l == sizeof(buf))
            l = FERRY_SECRET_MAX + 1; /* too long, whatever follows */
        while (l > 0 && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
            l--;
        if (l < FERRY_SECRET_MIN || l > FERRY_SECRET_MAX)
            rc = FERRY_ERR_CONFIG;
        else if ((p = malloc(l)) == NULL)
            rc = FERRY_ERR_NOMEM;
        else {
            memcpy(p, buf, l);
            *out = p;
            *len = l;
        }
    }
    ferry_wipe(buf, sizeof(buf));
    errno = saved;
    return rc;
}

const char *conf_secret_why(int rc)
{
    static char why[256];
    int e = errno;

    if (rc == FERRY_ERR_IO)
        snprintf(why, sizeof(why), "%s%s", strerror(e),
                 e == EACCES ? " (not readable by this user; a systemd unit "
                               "with DynamicUser= passes it with "
                               "LoadCredential=, see contrib/)"
                             : "");
    else if (rc == FERRY_ERR_CONFIG)
        snprintf(why, sizeof(why), "a secret must be %d to %d bytes",
                 FERRY_SECRET_MIN, FERRY_SECRET_MAX);
    else
        snprintf(why, sizeof(why), "%s", ferry_strerror(rc));
    errno = e;
    return why;
}

void conf_secret_free(uint8_t *p, size_t len)
{
    if (p == NULL)
        return;
    ferry_wipe(p, len);
    free(p);
}
